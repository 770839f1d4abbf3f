//! Running the service: `[health]`, `[status_page]`, `[secrets]`, `[logging]` and `[preflight]`.

use std::path::Path;
use std::time::Duration;

use super::{Issues, is_plain_name};
use crate::config::raw::{RawHealth, RawLogging, RawPreflight, RawSecrets, RawStatusPage};
use crate::config::{HealthConfig, LoggingConfig, PreflightConfig, SecretsConfig, StatusPageConfig};
use crate::logging::LogFormat;

/// The longest interval of a periodic task: timers overflow far beyond it, and a longer one is a typo.
const DAY: Duration = Duration::from_secs(24 * 3600);

/// `[health]`
pub(super) fn health(issues: &mut Issues, raw: &RawHealth) -> HealthConfig {
    if raw.probe_interval.0.is_zero() {
        issues.push("health.probe_interval", "must be more than zero; the default is \"15s\"");
    }
    issues.at_most("health.probe_interval", raw.probe_interval.0, DAY, "24h", "15s");
    HealthConfig { probe_interval: raw.probe_interval.0 }
}

/// `[status_page]`; `None` when its URL is invalid (which is an issue).
pub(super) fn status_page(issues: &mut Issues, raw: &RawStatusPage) -> Option<StatusPageConfig> {
    if raw.interval.0 < Duration::from_secs(1) {
        issues.push("status_page.interval", "must be at least \"1s\"; the default is \"60s\"");
    }
    issues.at_most("status_page.interval", raw.interval.0, DAY, "24h", "60s");
    let url = issues.url("status_page.url", &raw.url)?;
    Some(StatusPageConfig { enabled: raw.enabled, url, interval: raw.interval.0 })
}

/// `[secrets]`
pub(super) fn secrets(issues: &mut Issues, raw: &RawSecrets) -> SecretsConfig {
    if raw.refresh_interval.0 < Duration::from_secs(1) {
        issues.push("secrets.refresh_interval", "must be at least \"1s\"; the default is \"5m\"");
    }
    if raw.exec_timeout.0.is_zero() {
        issues.push("secrets.exec_timeout", "must be more than zero; the default is \"10s\"");
    }
    issues.at_most("secrets.refresh_interval", raw.refresh_interval.0, DAY, "24h", "5m");
    issues.at_most("secrets.exec_timeout", raw.exec_timeout.0, Duration::from_secs(600), "10m", "10s");
    SecretsConfig { refresh_interval: raw.refresh_interval.0, exec_timeout: raw.exec_timeout.0 }
}

/// `[logging]`; the format defaults to JSON in production and text elsewhere.
pub(super) fn logging(issues: &mut Issues, raw: RawLogging) -> LoggingConfig {
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&raw.level) {
        issues.push(
            "logging.level",
            format!(
                "{:?} is not a log filter ({e}); write one like \"info\" or \"switchboard=debug,info\"",
                raw.level
            ),
        );
    }
    for (i, key) in raw.redact_keys.iter().enumerate() {
        if key.trim().is_empty() {
            issues.push(format!("logging.redact_keys[{i}]"), "is empty; write a field name like \"address\"");
        }
    }
    let default_format = if issues.production() { LogFormat::Json } else { LogFormat::Text };
    LoggingConfig {
        format: raw.format.unwrap_or(default_format),
        level: raw.level,
        redact_keys: raw.redact_keys,
    }
}

/// `[preflight]`; environment files are resolved against the folder of the config file.
pub(super) fn preflight(
    issues: &mut Issues,
    raw: RawPreflight,
    source_file: Option<&Path>,
) -> PreflightConfig {
    let base_dir = source_file.and_then(Path::parent).unwrap_or(Path::new(""));
    let mut environments = Vec::new();
    for (name, path) in &raw.environments {
        let key = format!("preflight.environments.{name}");
        if !is_plain_name(name) {
            issues.push(
                &key,
                format!("{name:?} must be letters, digits, '-' or '_' (it is the value of --env)"),
            );
        }
        if path.trim().is_empty() {
            issues.push(
                &key,
                "is empty; write the environment's config file, like \"switchboard.staging.toml\"",
            );
        } else {
            environments.push((name.clone(), base_dir.join(path.trim())));
        }
    }
    let min_headroom = raw.min_headroom;
    if !min_headroom.is_finite() || !(0.0..=1.0).contains(&min_headroom) {
        issues.push(
            "preflight.min_headroom",
            format!("must be a share between 0 and 1, e.g. 0.2 for 20% (got {min_headroom})"),
        );
    }
    let health_url = raw.health_url.as_deref().and_then(|text| issues.url("preflight.health_url", text));
    if let Some(path) = &raw.ca_cert
        && !path.is_file()
    {
        issues.push("preflight.ca_cert", format!("{} does not exist or is not a file", path.display()));
    }
    PreflightConfig { environments, min_headroom, health_url, ca_cert: raw.ca_cert }
}
