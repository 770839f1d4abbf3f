//! `status-page`, `health`, `api-quality`, `data-handling` and `monitoring`: the deployment around
//! the Intercom calls.

use std::net::IpAddr;
use std::time::Instant;

use super::{Check, describe};
use crate::config::{Environment, ServerConfig};
use crate::health;
use crate::logging::{BUILTIN_KEYS, Redactor};
use crate::preflight::context::Context;
use crate::preflight::{CheckId, CheckResult};

/// `status-page`: none → PASS, minor → WARN, major or critical → FAIL, unreadable → WARN.
pub(super) async fn status_page(ctx: &Context) -> CheckResult {
    let url = &ctx.config.status_page.url;
    let mut check = Check::new(CheckId::StatusPage);
    // A status page behind a proxy may carry credentials in its URL: reports show it masked.
    let shown = crate::config::mask_url(url);
    let reading = crate::health::read_status_page(&ctx.http, url).await;
    let description = reading.description.clone().map(|d| format!(" ({d})")).unwrap_or_default();
    let measured = format!("indicator {}{description}", reading.indicator);
    let expected = "indicator none";
    match reading.indicator.as_str() {
        "none" => check.pass(&shown, measured, expected),
        "minor" => check.warn(&shown, format!("{measured}: a minor incident; deploy with care"), expected),
        "major" | "critical" => check.fail(
            &shown,
            format!("{measured}: Intercom has an outage; hold the deploy until it is resolved"),
            expected,
        ),
        _ => check.warn(
            &shown,
            format!("cannot be read: {}", reading.error.as_deref().unwrap_or("unknown indicator")),
            expected,
        ),
    }
    check.finish()
}

/// The deployed `/health`: `preflight.health_url` (a bare base URL means its `/health`), else
/// `/health` on `server.listen`, as `switchboard health` derives it.
fn health_url(ctx: &Context) -> Result<url::Url, String> {
    match &ctx.config.preflight.health_url {
        Some(url) => Ok(health::health_url_of(url.clone())),
        None => health::derived_health_url(&ctx.config.server)
            .map_err(|e| format!("{e}; set preflight.health_url")),
    }
}

/// `health`: the deployed service's `/health` answers 200 with `services.intercom.status` healthy.
pub(super) async fn health(ctx: &Context) -> CheckResult {
    let mut check = Check::new(CheckId::Health);
    let expected = "200 with services.intercom.status = healthy";
    let url = match health_url(ctx) {
        Ok(url) => url,
        Err(e) => {
            check.fail("/health", e, expected);
            return check.finish();
        }
    };
    let item = url.to_string();
    let started = Instant::now();
    let response = match ctx.http.get(url.clone()).send().await {
        Ok(response) => response,
        Err(e) => {
            let hint = if ctx.config.preflight.health_url.is_none() {
                " (derived from server.listen; set preflight.health_url to the deployed service's /health)"
            } else {
                ""
            };
            check.fail(item, format!("unreachable: {}{hint}", describe(&e)), expected);
            return check.finish();
        }
    };
    let code = response.status().as_u16();
    let ms = started.elapsed().as_millis();
    let body: serde_json::Value = match response.json().await {
        Ok(body) => body,
        Err(e) => {
            check.fail(
                item,
                format!("{code} in {ms} ms, but not JSON: {e}; is this Switchboard's /health?"),
                expected,
            );
            return check.finish();
        }
    };
    let intercom = &body["services"]["intercom"];
    let status = intercom["status"].as_str().unwrap_or("missing");
    let error = intercom["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default();
    let measured = format!(
        "{code} in {ms} ms, status {}, Intercom {status}{error}",
        body["status"].as_str().unwrap_or("?")
    );
    if code == 200 && status == "healthy" {
        check.pass(item, measured, expected);
    } else {
        check.fail(item, measured, expected);
    }
    check.finish()
}

/// `api-quality`: the client the service builds from this config (`crate::intercom::Intercom`):
/// `intercom.timeout`, and the intercom-api defaults it keeps (retry policy, paced client).
pub(super) fn api_quality(ctx: &Context) -> CheckResult {
    let mut check = Check::new(CheckId::ApiQuality);
    let timeout = ctx.config.intercom.timeout;
    let shown = humantime::format_duration(timeout).to_string();
    if timeout <= std::time::Duration::from_secs(30) {
        check.pass("intercom.timeout", shown.clone(), "≤ 30s (the checklist's recommendation)");
    } else {
        check.fail(
            "intercom.timeout",
            format!("{shown}: a hung request holds a worker and the caller longer than Intercom would"),
            "≤ 30s (the checklist's recommendation)",
        );
    }
    let retry = intercom_api::RetryPolicy::default();
    let retries = format!(
        "{} attempts: 429 waits for X-RateLimit-Reset, 408/5xx/timeouts back off exponentially (up to {})",
        retry.max_attempts,
        humantime::format_duration(retry.max_delay)
    );
    if retry.max_attempts > 1 {
        check.pass("retries", retries, "on for 429 and 5xx");
    } else {
        check.fail("retries", retries, "on for 429 and 5xx");
    }
    let pacer = intercom_api::PacerConfig::default();
    check.pass_message(format!(
        "timeout {shown}, {} attempts on 429/5xx, paced within {:.0}% of each rate-limit window",
        retry.max_attempts,
        pacer.budget_fraction * 100.0
    ));
    check.pass(
        "pacer",
        format!(
            "on: requests spread over each {} s rate-limit window within {:.0}% of the limit",
            pacer.window.as_secs(),
            pacer.budget_fraction * 100.0
        ),
        "on (stays under the rate limit instead of hitting 429s)",
    );
    check.finish()
}

/// `data-handling`: log redaction, contact cache TTL, `contact.deleted`, attribute validation.
pub(super) fn data_handling(ctx: &Context) -> CheckResult {
    let mut check = Check::new(CheckId::DataHandling);
    let extra = &ctx.config.logging.redact_keys;
    let redactor = Redactor::new(extra);
    // Probed rather than listed: this is what the service's logger will actually mask.
    let masked: Vec<&str> = BUILTIN_KEYS.iter().copied().filter(|k| redactor.is_sensitive_key(k)).collect();
    let free_text =
        redactor.redact("jane.doe@example.com +1 415 555 0100") != "jane.doe@example.com +1 415 555 0100";
    let pii_masked = ["email", "name", "phone"].iter().all(|k| redactor.is_sensitive_key(k));
    let extra_masked = extra.iter().all(|k| redactor.is_sensitive_key(k.trim()));
    let measured = format!(
        "always on: fields {} masked{}; e-mails, phone numbers, tokens and Bearer values masked in free text",
        masked.join(", "),
        if extra.is_empty() {
            String::new()
        } else {
            format!(", plus logging.redact_keys [{}]", extra.join(", "))
        }
    );
    if pii_masked && extra_masked && free_text {
        check.pass("log redaction", measured, "PII (e-mails, names, phone numbers) redacted from logs");
    } else {
        check.fail("log redaction", measured, "PII (e-mails, names, phone numbers) redacted from logs");
    }
    check.pass_message(
        "logs redact PII, contact.deleted is handled for GDPR, custom attributes are validated; no contact \
         cache, so no TTL to check",
    );
    check.skip(
        "contact cache TTL",
        "the service keeps no contact cache: every contact read goes to Intercom, so nothing can go stale \
         (the TTL is checked once the gateway's cache lands)",
        "a TTL on cached contact data",
    );
    check.pass(
        "contact.deleted handler",
        "built in: every contact.deleted notification is recorded for the GDPR purge, whatever the destinations",
        "a GDPR deletion handler for contact data",
    );
    check.pass(
        "custom attribute validation",
        "on: the intercom-api client checks custom attributes against the workspace's data attributes \
         before every write, and the service does not turn it off",
        "custom attributes validated before sending",
    );
    check.finish()
}

/// `monitoring`: alert rules on, at least one channel, the status page monitored, and in production
/// the operations endpoints (`/admin`, `/metrics`, `/alerts`, `/health`) off the public listener.
pub(super) fn monitoring(ctx: &Context) -> CheckResult {
    let mut check = Check::new(CheckId::Monitoring);
    let alerts = &ctx.config.alerts;
    let rules = alerts.rules();
    let on = rules.iter().filter(|r| r.enabled).count();
    if alerts.enabled {
        check.pass("alerts.enabled", format!("true: {on} of {} built-in rules on", rules.len()), "true");
    } else {
        check.fail("alerts.enabled", "false: no alert fires, whatever happens", "true");
    }
    if alerts.channels.is_empty() {
        check.fail(
            "alerts.channels",
            "none: alerts fire only on /alerts and /metrics, nobody is notified",
            "at least one [[alerts.channels]] (webhook, slack or alertmanager)",
        );
    } else {
        let kinds = alerts.channels.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>().join(", ");
        check.pass(
            "alerts.channels",
            format!("{} channel(s): {kinds}", alerts.channels.len()),
            "at least one [[alerts.channels]]",
        );
    }
    check.pass_message(format!(
        "alerts on ({on} rules), {} notification channel(s), status page monitored",
        alerts.channels.len()
    ));
    if ctx.config.status_page.enabled {
        check.pass("status_page.enabled", format!("true ({})", ctx.config.status_page.url), "true");
    } else {
        check.warn("status_page.enabled", "false: Intercom incidents are not tracked", "true");
    }
    if ctx.config.environment == Environment::Production {
        operations_exposure(&mut check, &ctx.config.server);
    }
    check.finish()
}

/// Production: `/admin`, `/metrics`, `/alerts` and `/health` answer on a loopback or private
/// address only. `/health` names the app and the destinations, `/metrics` shows the traffic, and
/// the admin API acts on the queue: none of it is for whoever reaches the webhook listener.
fn operations_exposure(check: &mut Check, server: &ServerConfig) {
    let item = "operations endpoints";
    let expected = "/admin, /metrics, /alerts and /health on a loopback or private server.internal_listen";
    match server.internal_listen {
        // A loopback listener that receives Intercom's webhooks sits behind a proxy, which
        // normally forwards every path: the operations endpoints are as public as the webhooks.
        None if server.listen.ip().is_loopback() => check.warn(
            item,
            format!(
                "on server.listen ({}), with the webhooks: the proxy that forwards Intercom's webhooks to this \
                 loopback listener normally forwards the admin API, /metrics, /alerts and /health too; set \
                 server.internal_listen to another loopback or private address the proxy does not reach",
                server.listen
            ),
            expected,
        ),
        None => check.warn(
            item,
            format!(
                "on server.listen ({}), with the webhooks: whoever reaches Intercom's listener reaches the \
                 admin API, /metrics, /alerts and /health; set server.internal_listen to a loopback or \
                 private address",
                server.listen
            ),
            expected,
        ),
        Some(internal) if is_public(internal.ip()) => check.warn(
            item,
            format!(
                "on server.internal_listen ({internal}), a public address; bind it to a loopback or private \
                 address (a pod or VPC address, 127.0.0.1)"
            ),
            expected,
        ),
        Some(internal) => check.pass(
            item,
            format!("on server.internal_listen ({internal}), not a public address"),
            expected,
        ),
    }
}

/// Every interface (`0.0.0.0`, `::`) or an address routed on the internet: not loopback, private
/// (RFC 1918, IPv6 unique local) or link-local.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_private() || v4.is_link_local()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => !(v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()),
        },
    }
}
