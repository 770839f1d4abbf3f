//! Validation: the raw layers become a typed [`Config`], or every problem with its key.
//!
//! One function per section pushes into one [`Issues`] collector, so a file with several mistakes
//! gets them all reported at once.

mod delivery;
mod endpoints;
mod operations;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawConfig, RawWebhooks};
use super::{
    AdminConfig, Config, ConfigIssue, Environment, IntercomConfig, WebhookApp, WebhooksConfig, mask_url,
    mask_url_text,
};
use crate::secrets::{SecretKind, SecretRef, SecretSlot};

/// The issues found so far, and what every section's rules depend on.
pub(super) struct Issues {
    list: Vec<ConfigIssue>,
    production: bool,
    allow_env_secrets: bool,
}

impl Issues {
    fn new(raw: &RawConfig) -> Self {
        Issues {
            list: Vec::new(),
            production: raw.environment == Environment::Production,
            allow_env_secrets: raw.allow_env_secrets,
        }
    }

    /// Records a problem with `key`; `message` says what is wrong and what to do.
    fn push(&mut self, key: impl fmt::Display, message: impl Into<String>) {
        self.list.push(ConfigIssue { key: key.to_string(), message: message.into() });
    }

    /// Whether the production rules apply.
    fn production(&self) -> bool {
        self.production
    }

    /// Parses the secret reference written at `slot`.
    fn secret(&mut self, slot: SecretSlot, text: &str) -> Option<SecretRef> {
        match SecretRef::parse(text) {
            Ok(reference) => {
                if self.production && reference.kind() == SecretKind::Env && !self.allow_env_secrets {
                    self.push(
                        slot,
                        "env: references are not allowed when environment = \"production\"; use file: or exec: \
                         (or set allow_env_secrets = true to accept the risk)",
                    );
                }
                Some(reference)
            }
            Err(e) => {
                self.push(slot, e.to_string());
                None
            }
        }
    }

    /// Parses an http(s) URL written at `key`.
    fn url(&mut self, key: &str, text: &str) -> Option<url::Url> {
        match parse_http_url(text) {
            Ok(url) => Some(url),
            Err(problem) => {
                self.push(key, problem);
                None
            }
        }
    }

    /// Records an issue when the duration at `key` is above `max` (written `max_text`): far larger
    /// values overflow the clocks, timers and counters they feed, and none is meant.
    fn at_most(
        &mut self,
        key: impl fmt::Display,
        value: Duration,
        max: Duration,
        max_text: &str,
        default: &str,
    ) {
        if value > max {
            self.push(key, format!("must be at most \"{max_text}\"; the default is \"{default}\""));
        }
    }

    fn finish(self) -> Result<(), Vec<ConfigIssue>> {
        if self.list.is_empty() { Ok(()) } else { Err(self.list) }
    }
}

/// Checks every value and builds the typed configuration.
pub(super) fn validate(raw: RawConfig, source_file: Option<PathBuf>) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Issues::new(&raw);
    // Sections are checked in this order so that issues are listed in the order they always were.
    let listen = endpoints::server_listen(&mut issues, &raw.server);
    let endpoint = endpoints::intercom(&mut issues, &raw.intercom);
    let secrets = SecretRefs::parse(&mut issues, &raw);
    required_in_production(&mut issues, &raw);
    let public_url = endpoints::webhooks(&mut issues, &raw.webhooks);
    let store = endpoints::store(&mut issues, &raw.store);
    let destinations = delivery::destinations(&mut issues, &raw.destinations, secrets.destinations);
    endpoints::webhook_apps(&mut issues, &raw.webhooks);
    endpoints::webhook_limits(&mut issues, &raw.webhooks, &raw.store);
    let delivery = delivery::delivery(&mut issues, &raw.delivery, &raw.destinations);
    let server = endpoints::server(&mut issues, &raw.server, listen);
    for (key, message) in raw.alerts.validate() {
        issues.push(key, message);
    }
    let health = operations::health(&mut issues, &raw.health);
    let status_page = operations::status_page(&mut issues, &raw.status_page);
    let secrets_section = operations::secrets(&mut issues, &raw.secrets);
    let logging = operations::logging(&mut issues, raw.logging);
    let preflight = operations::preflight(&mut issues, raw.preflight, source_file.as_deref());
    issues.finish()?;
    // Checked above: a status page URL that did not parse is an issue, and we returned.
    let status_page = status_page.unwrap_or_else(|| unreachable!("status_page.url was validated"));
    Ok(Config {
        environment: raw.environment,
        allow_env_secrets: raw.allow_env_secrets,
        server,
        intercom: IntercomConfig {
            enabled: raw.intercom.enabled,
            token: secrets.token,
            endpoint,
            expected_app_id: raw.intercom.expected_app_id,
            version: raw.intercom.version,
            timeout: raw.intercom.timeout.0,
        },
        webhooks: webhooks_config(raw.webhooks, secrets.client_secrets, secrets.apps, public_url),
        store,
        destinations,
        delivery,
        health,
        status_page,
        alerts: raw.alerts,
        alert_channel_secrets: secrets.alert_channels,
        admin: AdminConfig { key: secrets.admin_key },
        secrets: secrets_section,
        logging,
        preflight,
        source_file,
    })
}

fn webhooks_config(
    raw: RawWebhooks,
    client_secrets: Vec<SecretRef>,
    app_secrets: Vec<Vec<SecretRef>>,
    public_url: Option<url::Url>,
) -> WebhooksConfig {
    let apps = raw
        .apps
        .into_iter()
        .zip(app_secrets)
        .map(|(app, client_secrets)| WebhookApp { name: app.name, client_secrets })
        .collect();
    WebhooksConfig {
        path: raw.path,
        client_secrets,
        public_url,
        max_body: raw.max_body.0,
        max_event_age: raw.max_event_age.0,
        max_clock_skew: raw.max_clock_skew.0,
        ack_deadline: raw.ack_deadline.0,
        apps,
    }
}

/// Every secret reference of the file, parsed; a reference that does not parse is an issue and
/// left out.
struct SecretRefs {
    token: Option<SecretRef>,
    client_secrets: Vec<SecretRef>,
    apps: Vec<Vec<SecretRef>>,
    admin_key: Option<SecretRef>,
    alert_channels: Vec<(usize, SecretRef)>,
    destinations: Vec<Option<SecretRef>>,
}

impl SecretRefs {
    /// Parses them in the order their issues were always listed: alert channels before destinations.
    fn parse(issues: &mut Issues, raw: &RawConfig) -> Self {
        let token = raw.intercom.token.as_deref().and_then(|t| issues.secret(SecretSlot::IntercomToken, t));
        let client_secrets = (raw.webhooks.client_secrets.iter().enumerate())
            .filter_map(|(i, s)| issues.secret(SecretSlot::WebhookClientSecret(i), s))
            .collect();
        let apps = (raw.webhooks.apps.iter().enumerate())
            .map(|(app, settings)| {
                (settings.client_secrets.iter().enumerate())
                    .filter_map(|(secret, s)| issues.secret(SecretSlot::AppClientSecret { app, secret }, s))
                    .collect()
            })
            .collect();
        let admin_key = raw.admin.key.as_deref().and_then(|k| issues.secret(SecretSlot::AdminKey, k));
        let alert_channels = (raw.alerts.channels.iter().enumerate())
            .filter_map(|(i, c)| {
                Some((i, issues.secret(SecretSlot::AlertChannelSecret(i), c.secret.as_deref()?)?))
            })
            .collect();
        let destinations = (raw.destinations.iter().enumerate())
            .map(|(i, d)| {
                d.secret.as_deref().and_then(|s| issues.secret(SecretSlot::DestinationSecret(i), s))
            })
            .collect();
        SecretRefs { token, client_secrets, apps, admin_key, alert_channels, destinations }
    }
}

/// The secrets production cannot run without (a destination's is checked with the destination).
fn required_in_production(issues: &mut Issues, raw: &RawConfig) {
    if !issues.production() {
        return;
    }
    if raw.intercom.token.is_none() {
        issues.push(
            SecretSlot::IntercomToken,
            "is required in production; write file:/run/secrets/intercom_token or exec:<command>",
        );
    }
    if raw.webhooks.client_secrets.is_empty() {
        issues.push(
            "webhooks.client_secrets",
            "is required in production: webhooks cannot be verified without the app's client secret; \
             write [\"file:/run/secrets/intercom_client_secret\"]",
        );
    }
}

/// Parses an http(s) URL with a host, or says what is wrong with it.
fn parse_http_url(text: &str) -> Result<url::Url, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        Ok(url) => Err(format!("{} is not an http(s) URL; write one like https://host/path", mask_url(&url))),
        Err(e) => {
            Err(format!("{} is not a URL ({e}); write one like https://host/path", mask_url_text(text)))
        }
    }
}

/// A name that appears in paths, metrics or flags: letters, digits, '-' and '_'.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
