//! `webhook-endpoint`: the public webhook URL behaves as Intercom needs it to.
//!
//! Steps, in order: https (required in production); `HEAD` answers 2xx (Intercom validates the URL
//! with it); a correctly signed `ping` gets a 2xx within 5 s; an unsigned one and a wrongly signed one
//! are both refused with 401; the signed one sent again is accepted again (Intercom delivers at least
//! once) and, when the endpoint is Switchboard, reported as a duplicate.

use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;
use switchboard_clock::Clock;

use super::{Check, describe};
use crate::config::Environment;
use crate::preflight::context::Context;
use crate::preflight::{CheckId, CheckResult};
use crate::webhooks::{Notification, sign};

/// Intercom gives up on a webhook after 5 s.
const INTERCOM_TIMEOUT: Duration = Duration::from_secs(5);
/// The User-Agent Intercom's deliveries carry.
const USER_AGENT: &str = "intercom-parrot-service-client/1.0";

/// A `ping` notification as Intercom sends it, with a fresh id and `created_at` now on `clock`.
fn ping(app_id: &str, clock: &dyn Clock) -> String {
    Notification::new(app_id, "ping", clock)
        .item(json!({ "type": "ping", "message": "switchboard preflight: checking the webhook endpoint" }))
        .to_json()
}

/// What one POST got.
struct Answer {
    status: u16,
    latency: Duration,
    /// Switchboard's `{"status": "stored" | "duplicate"}`, when the endpoint is Switchboard.
    switchboard: Option<String>,
}

async fn post(ctx: &Context, url: &url::Url, body: &str, signature: Option<&str>) -> Result<Answer, String> {
    let mut request = ctx
        .http
        .post(url.clone())
        .timeout(INTERCOM_TIMEOUT)
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature", signature);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} s (Intercom's timeout)", INTERCOM_TIMEOUT.as_secs())
        } else {
            format!("unreachable: {}", describe(&e))
        }
    })?;
    let status = response.status().as_u16();
    let latency = started.elapsed();
    let switchboard = response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|body| body["status"].as_str().map(str::to_owned))
        .filter(|s| s == "stored" || s == "duplicate");
    Ok(Answer { status, latency, switchboard })
}

fn rejection(check: &mut Check, item: &str, answer: Result<Answer, String>) {
    let expected = "401 (the endpoint verifies X-Hub-Signature)";
    match answer {
        Ok(a) if a.status == 401 => check.pass(item, "401", expected),
        Ok(a) if (200..300).contains(&a.status) => check.fail(
            item,
            format!(
                "accepted with {}: the endpoint does not verify X-Hub-Signature, so anyone can forge \
                 Intercom notifications",
                a.status
            ),
            expected,
        ),
        Ok(a) => check.warn(item, format!("refused with {} rather than 401", a.status), expected),
        Err(e) => check.fail(item, e, expected),
    }
}

/// `webhook-endpoint`
pub(super) async fn webhook_endpoint(ctx: &Context) -> CheckResult {
    let Some(url) = ctx.config.webhooks.public_url.clone() else {
        return CheckResult::skipped(
            CheckId::WebhookEndpoint,
            "webhooks.public_url is not set: set it to the URL Intercom delivers to, to check the endpoint",
        );
    };
    let production = ctx.config.environment == Environment::Production;
    let mut check = Check::new(CheckId::WebhookEndpoint);
    // The URL may carry credentials (`https://user:pass@host/?token=`): reports show it masked.
    let shown = crate::config::mask_url(&url);
    let expected = "https (Intercom only delivers webhooks over HTTPS)";
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => check.pass("scheme", shown.clone(), expected),
        _ if production => check.fail(
            "scheme",
            format!(
                "{shown} is plain http in production: Intercom refuses it, and notifications would travel \
                 unencrypted; serve it over https"
            ),
            expected,
        ),
        // Only a local simulator can deliver to a loopback address, and it speaks plain http.
        _ if loopback => {
            check.pass("scheme", format!("{shown} (plain http on loopback: a local simulator)"), expected)
        }
        _ => check.warn("scheme", format!("{shown} is plain http: Intercom will refuse it"), expected),
    }

    let started = Instant::now();
    match ctx.http.head(url.clone()).header("user-agent", USER_AGENT).send().await {
        Ok(r) if r.status().is_success() => {
            check.pass(
                "HEAD",
                format!("{} in {} ms", r.status().as_u16(), started.elapsed().as_millis()),
                "2xx",
            );
        }
        Ok(r) => check.fail(
            "HEAD",
            format!("{}: Intercom validates the URL with HEAD and will not save it", r.status().as_u16()),
            "2xx",
        ),
        Err(e) => check.fail("HEAD", format!("{shown} is unreachable: {}", describe(&e)), "2xx"),
    }

    let Some(secret) = ctx.secrets.client_secrets.first() else {
        check.skip(
            "signed ping",
            "webhooks.client_secrets is empty: nothing to sign with",
            "a 2xx for a correctly signed ping",
        );
        return check.finish();
    };
    let app_id = ctx.config.intercom.expected_app_id.clone().unwrap_or_else(|| "preflight".into());
    let body = ping(&app_id, ctx.clock.as_ref());
    let signature = secret.with_value(|key| sign(key.as_bytes(), body.as_bytes()));
    let within = format!("2xx within {} s", INTERCOM_TIMEOUT.as_secs());
    let first = post(ctx, &url, &body, Some(&signature)).await;
    if let Ok(a) = &first {
        check.pass_message(format!(
            "{} answers HEAD, acks a signed ping in {} ms, refuses unsigned and wrongly signed ones with 401, \
             acks a redelivery",
            url.scheme(),
            a.latency.as_millis()
        ));
    }
    let mut first_switchboard = None;
    match &first {
        Ok(a) if (200..300).contains(&a.status) => {
            first_switchboard = a.switchboard.clone();
            check.pass(
                "signed ping",
                format!(
                    "{} in {} ms (signed with {})",
                    a.status,
                    a.latency.as_millis(),
                    secret.fingerprint()
                ),
                within.clone(),
            );
        }
        Ok(a) if a.status == 401 => check.fail(
            "signed ping",
            format!(
                "refused with 401: the endpoint does not accept the signature of webhooks.client_secrets[0] \
                 ({}); is it the app's current client secret?",
                secret.fingerprint()
            ),
            within.clone(),
        ),
        Ok(a) => check.fail("signed ping", format!("answered {}", a.status), within.clone()),
        Err(e) => check.fail("signed ping", e.clone(), within.clone()),
    }

    let unsigned = post(ctx, &url, &ping(&app_id, ctx.clock.as_ref()), None).await;
    rejection(&mut check, "unsigned", unsigned);
    let mut wrong_key = [0u8; 32];
    rand::rng().fill(&mut wrong_key);
    let forged = ping(&app_id, ctx.clock.as_ref());
    let wrong_signature = sign(&wrong_key, forged.as_bytes());
    let wrongly_signed = post(ctx, &url, &forged, Some(&wrong_signature)).await;
    rejection(&mut check, "wrongly signed", wrongly_signed);

    let expected = "2xx again (Intercom delivers at least once), reported as a duplicate by Switchboard";
    if !first.as_ref().is_ok_and(|a| (200..300).contains(&a.status)) {
        check.skip("duplicate", "needs the signed ping to be accepted first", expected);
        return check.finish();
    }
    match post(ctx, &url, &body, Some(&signature)).await {
        Ok(a) if (200..300).contains(&a.status) => {
            match (first_switchboard.as_deref(), a.switchboard.as_deref()) {
                (Some(_), Some("duplicate")) => {
                    check.pass(
                        "duplicate",
                        format!("{}, Switchboard reported it as a duplicate", a.status),
                        expected,
                    );
                }
                (Some(_), other) => check.fail(
                    "duplicate",
                    format!(
                        "{} but Switchboard reported {:?}, not \"duplicate\": the same notification would be \
                     processed twice",
                        a.status,
                        other.unwrap_or("nothing")
                    ),
                    expected,
                ),
                (None, _) => check.pass(
                    "duplicate",
                    format!(
                        "{} again (not Switchboard: whether it was deduplicated cannot be seen)",
                        a.status
                    ),
                    expected,
                ),
            }
        }
        Ok(a) => check.fail(
            "duplicate",
            format!(
                "the same notification sent again got {}: a redelivery would be treated as a failure",
                a.status
            ),
            expected,
        ),
        Err(e) => check.fail("duplicate", e, expected),
    }
    check.finish()
}
