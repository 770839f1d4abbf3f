//! Teammates: `GET /me`, `GET /admins`, `GET /admins/{id}`.

use serde::Serialize;
use serde_json::json;

use crate::api::{ApiResult, Ctx, Reply};
use crate::errors::ApiError;

/// A teammate of a workspace.
#[derive(Debug, Clone, Serialize)]
pub struct Admin {
    /// Always `admin`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Numeric id as a string.
    pub id: String,
    /// Full name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Job title; left out when unknown (the schema has no null for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Away mode.
    pub away_mode_enabled: bool,
    /// Reassign while away.
    pub away_mode_reassign: bool,
    /// Away reason.
    pub away_status_reason_id: Option<i64>,
    /// Has a paid inbox seat.
    pub has_inbox_seat: bool,
    /// Teams.
    pub team_ids: Vec<i64>,
    /// Avatar image URL.
    pub avatar: Option<String>,
}

impl Admin {
    /// A teammate with the given id, name and e-mail.
    pub fn new(id: String, name: String, email: String) -> Self {
        Self {
            kind: "admin",
            id,
            name,
            email,
            job_title: None,
            away_mode_enabled: false,
            away_mode_reassign: false,
            away_status_reason_id: None,
            has_inbox_seat: true,
            team_ids: Vec::new(),
            avatar: None,
        }
    }
}

/// `GET /me`: the token's admin with the embedded app.
pub fn me(ctx: &mut Ctx<'_>) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let admin =
        data.admins.first().ok_or_else(|| ApiError::not_found("admin_not_found", "Admin not found"))?;
    let ws = &ctx.app.workspace;
    Reply::json(&json!({
        "type": "admin",
        "id": admin.id,
        "email": admin.email,
        "name": admin.name,
        "email_verified": true,
        "app": {
            "type": "app",
            "id_code": ctx.app.creds.app_id,
            "name": ctx.app.creds.name,
            "created_at": ctx.app.created_at,
            "secure": false,
            "identity_verification": false,
            "timezone": ws.timezone,
            "region": ws.region,
        },
        "avatar": {
            "type": "avatar",
            "image_url": "https://static.intercomassets.com/assets/default-avatars/admins/128.png",
        },
        "has_inbox_seat": admin.has_inbox_seat,
    }))
}

/// `GET /admins`.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    Reply::json(&json!({ "type": "admin.list", "admins": data.admins }))
}

/// `GET /admins/{id}`.
pub fn get(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    match data.admins.iter().find(|a| a.id == id) {
        Some(admin) => Reply::json(admin),
        None => Err(ApiError::not_found("admin_not_found", "Admin not found")),
    }
}
