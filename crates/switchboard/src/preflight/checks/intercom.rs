//! `auth`, `workspace` and `rate-headroom`: all three read the one `GET /me` of the context.

use intercom_api::{ErrorKind, RateLimit, Region};

use super::Check;
use crate::config::IntercomEndpoint;
use crate::intercom::Unavailable;
use crate::preflight::context::{Context, MeProbe};
use crate::preflight::{CheckId, CheckResult};

fn token_fingerprint(ctx: &Context) -> String {
    ctx.secrets.intercom_token.as_ref().map(|t| t.fingerprint().to_string()).unwrap_or_else(|| "none".into())
}

/// A check that cannot run without a request to Intercom: SKIP behind the kill switch; without a
/// token `auth` fails (a deployment that cannot work) and the checks that need its answer skip.
fn not_sent(id: CheckId, why: &Unavailable) -> CheckResult {
    let mut check = Check::new(id);
    match why {
        Unavailable::Disabled => check.skip(
            "intercom.enabled",
            "false: the kill switch is off, so preflight sends nothing to Intercom",
            "true for a deployment that calls Intercom",
        ),
        other if id == CheckId::Auth => {
            check.fail("intercom.token", other.to_string(), "a configured, working access token")
        }
        _ => return CheckResult::skipped(id, "needs a GET /me, which could not be sent (see auth)"),
    }
    check.finish()
}

/// `auth`: `GET /me` answers 200.
pub(super) async fn auth(ctx: &Context) -> CheckResult {
    let fingerprint = token_fingerprint(ctx);
    let mut check = Check::new(CheckId::Auth);
    match ctx.me().await {
        MeProbe::NotSent(why) => return not_sent(CheckId::Auth, why),
        MeProbe::Answered { latency, me, version, .. } => {
            let app = me.as_ref().and_then(|m| m.app.as_ref());
            let name = app.and_then(|a| a.name.clone()).unwrap_or_else(|| "(unnamed)".into());
            let id = app.and_then(|a| a.id_code.clone()).unwrap_or_else(|| "(no id)".into());
            let region = app.and_then(|a| a.region.clone()).unwrap_or_else(|| "(not reported)".into());
            let ms = latency.as_millis();
            check.pass("GET /me", format!("200 in {ms} ms"), "200");
            check.pass("app", format!("{name} ({id})"), "the app the token was issued by");
            check.pass("region", region.clone(), "reported by /me");
            check.pass("token", fingerprint.clone(), "accepted by Intercom");
            check.pass("API version", version.clone(), "accepted (Intercom-Version)");
            // The admin behind the token is PII (name, e-mail): only the app is shown.
            check.message(format!(
                "GET /me answered 200 in {ms} ms: app {name} ({id}), region {region}, token {fingerprint}, \
                 API {version}"
            ));
        }
        MeProbe::Failed { latency, error } => {
            let measured = format!("{error} after {} ms", latency.as_millis());
            check.fail("GET /me", measured, "200");
            let advice = match error.kind() {
                ErrorKind::Unauthorized => format!(
                    "Intercom refused the token {fingerprint} (HTTP 401): check intercom.token or rotate it in \
                     the Developer Hub"
                ),
                ErrorKind::Forbidden => format!("the token {fingerprint} may not call /me (HTTP 403)"),
                ErrorKind::Timeout | ErrorKind::Transport => {
                    format!("Intercom did not answer at {}: {error}", ctx.config.intercom.endpoint.base_url())
                }
                _ => format!("GET /me failed: {error}"),
            };
            check.message(advice);
        }
    }
    check.finish()
}

/// The region an endpoint's host belongs to, or `None` for a simulator or proxy.
fn endpoint_region(endpoint: &IntercomEndpoint) -> Option<Region> {
    match endpoint {
        IntercomEndpoint::Region(region) => Some(*region),
        IntercomEndpoint::BaseUrl(url) => Region::ALL.into_iter().find(|r| {
            url::Url::parse(r.base_url()).ok().and_then(|u| u.host_str().map(str::to_owned)).as_deref()
                == url.host_str()
        }),
    }
}

/// `workspace`: the token's app is `intercom.expected_app_id`, hosted in the configured region.
pub(super) async fn workspace(ctx: &Context) -> CheckResult {
    let mut check = Check::new(CheckId::Workspace);
    let me = match ctx.me().await {
        MeProbe::NotSent(why) => return not_sent(CheckId::Workspace, why),
        MeProbe::Failed { .. } => {
            return CheckResult::skipped(
                CheckId::Workspace,
                "needs a successful GET /me, which failed (see auth)",
            );
        }
        MeProbe::Answered { me, .. } => me,
    };
    let app = me.as_ref().and_then(|m| m.app.as_ref());
    let actual = app.and_then(|a| a.id_code.clone());
    let name = app.and_then(|a| a.name.clone()).map(|n| format!(" ({n})")).unwrap_or_default();
    match (&ctx.config.intercom.expected_app_id, &actual) {
        (Some(expected), Some(actual)) if expected == actual => {
            check.pass("app id", format!("{actual}{name}"), format!("intercom.expected_app_id = {expected}"));
        }
        (Some(expected), Some(actual)) => check.fail(
            "app id",
            format!(
                "the token belongs to workspace {actual}{name}, not {expected}: a token of another workspace \
                 (staging?) is configured"
            ),
            format!("intercom.expected_app_id = {expected}"),
        ),
        (Some(expected), None) => check.fail(
            "app id",
            "/me did not say which workspace answered",
            format!("intercom.expected_app_id = {expected}"),
        ),
        (None, actual) => check.warn(
            "app id",
            format!(
                "intercom.expected_app_id is not set (the token's workspace is {}{name}): a token of another \
                 workspace would go unnoticed",
                actual.as_deref().unwrap_or("not reported")
            ),
            "intercom.expected_app_id set to this environment's workspace id",
        ),
    }
    let reported = app.and_then(|a| a.region.clone());
    let base_url = ctx.config.intercom.endpoint.base_url();
    match (endpoint_region(&ctx.config.intercom.endpoint), reported) {
        (None, reported) => check.skip(
            "region",
            format!(
                "{base_url} is not one of Intercom's regional hosts (a simulator or proxy); /me reports {}",
                reported.as_deref().unwrap_or("no region")
            ),
            "compared only for Intercom's own hosts",
        ),
        (Some(_), None) => check.warn("region", "/me reported no region", format!("the region of {base_url}")),
        (Some(configured), Some(reported)) => match reported.parse::<Region>() {
            Ok(actual) if actual == configured => {
                check.pass("region", format!("{reported} (served by {base_url})"), format!("{configured}"));
            }
            Ok(actual) => check.fail(
                "region",
                format!(
                    "the workspace is hosted in {reported} but the API host is {base_url}; set intercom.region = \
                     \"{actual}\""
                ),
                format!("{configured}"),
            ),
            Err(_) => check.warn(
                "region",
                format!("/me reports region {reported:?}, which is not a known Intercom region"),
                format!("{configured}"),
            ),
        },
    }
    check.finish()
}

fn headroom(check: &mut Check, limit: &RateLimit, min: f64) {
    let expected = format!("≥ {:.0}% left (preflight.min_headroom = {min})", min * 100.0);
    if limit.limit == 0 {
        check.warn("X-RateLimit", "X-RateLimit-Limit is 0", expected);
        return;
    }
    let share = f64::from(limit.remaining) / f64::from(limit.limit);
    let measured = format!("{} of {} left ({:.0}%)", limit.remaining, limit.limit, share * 100.0);
    if share >= min {
        check.pass("X-RateLimit-Remaining / Limit", measured, expected);
    } else {
        check.fail(
            "X-RateLimit-Remaining / Limit",
            format!("{measured}: something else is already using the rate limit of this app"),
            expected,
        );
    }
}

/// `rate-headroom`: `X-RateLimit-Remaining / X-RateLimit-Limit` of the `/me` answer.
pub(super) async fn rate_headroom(ctx: &Context) -> CheckResult {
    let min = ctx.config.preflight.min_headroom;
    let mut check = Check::new(CheckId::RateHeadroom);
    match ctx.me().await {
        MeProbe::NotSent(why) => return not_sent(CheckId::RateHeadroom, why),
        MeProbe::Answered { rate_limit: Some(limit), .. } => headroom(&mut check, limit, min),
        MeProbe::Answered { rate_limit: None, .. } => check.warn(
            "X-RateLimit headers",
            "absent from the /me answer",
            "X-RateLimit-Limit, -Remaining and -Reset on every authenticated answer",
        ),
        MeProbe::Failed { error, .. } => match error.rate_limit() {
            Some(limit) => headroom(&mut check, &limit, min),
            None => {
                return CheckResult::skipped(
                    CheckId::RateHeadroom,
                    "needs the rate-limit headers of a successful GET /me, which failed (see auth)",
                );
            }
        },
    }
    check.finish()
}
