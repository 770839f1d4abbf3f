//! Admins (teammates), `GET /me` and the app it reports.

use serde::{Deserialize, Serialize};

use super::{Extra, de};

/// An admin (teammate).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Admin {
    /// `admin`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Admin id (a numeric string).
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Job title.
    #[serde(default)]
    pub job_title: Option<String>,
    /// Whether away mode is on.
    #[serde(default)]
    pub away_mode_enabled: Option<bool>,
    /// Whether new conversations are reassigned while away.
    #[serde(default)]
    pub away_mode_reassign: Option<bool>,
    /// Whether the admin has a paid inbox seat.
    #[serde(default)]
    pub has_inbox_seat: Option<bool>,
    /// Teams the admin belongs to.
    #[serde(default, deserialize_with = "de::id_list")]
    pub team_ids: Vec<String>,
    /// Avatar.
    #[serde(default)]
    pub avatar: Option<Avatar>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An avatar image.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Avatar {
    /// `avatar`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Image URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /me`: the admin behind the token and the app (workspace) it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Me {
    /// The admin fields.
    #[serde(flatten)]
    pub admin: Admin,
    /// Whether the e-mail is verified (do not trust unverified e-mails for SSO).
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// The workspace.
    #[serde(default)]
    pub app: Option<App>,
}

/// The app (workspace) reported by `/me`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct App {
    /// Workspace id, the `app_id` webhooks carry.
    #[serde(default)]
    pub id_code: Option<String>,
    /// Workspace name.
    #[serde(default)]
    pub name: Option<String>,
    /// Hosting region as Intercom words it (`US`, `Europe`, …).
    #[serde(default)]
    pub region: Option<String>,
    /// IANA timezone of the workspace.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    /// Whether identity verification is enforced.
    #[serde(default)]
    pub identity_verification: Option<bool>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /admins`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct AdminList {
    /// `admin.list`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The admins.
    #[serde(default)]
    pub admins: Vec<Admin>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
