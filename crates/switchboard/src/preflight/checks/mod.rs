//! The checks, one module per concern, and the evidence builder they share.

mod intercom;
mod secrets;
mod service;
mod webhook;

use std::future::Future;
use std::time::Instant;

use super::context::Context;
use super::{CheckId, CheckResult, Evidence, PreflightOptions, Status};

/// Declares the shorthands `pass`, `warn`, `fail` and `skip`: [`Check::add`] with that status.
macro_rules! status_adders {
    ($($name:ident => $status:ident),+) => {
        $(
            pub(crate) fn $name(
                &mut self,
                item: impl Into<String>,
                measured: impl Into<String>,
                expected: impl Into<String>,
            ) {
                self.add(Status::$status, item, measured, expected);
            }
        )+
    };
}

/// Collects the evidence of one check; the verdict is the worst item's.
#[derive(Debug)]
pub(crate) struct Check {
    id: CheckId,
    evidence: Vec<Evidence>,
    message: Option<String>,
    pass_message: Option<String>,
}

impl Check {
    pub(crate) fn new(id: CheckId) -> Self {
        Check { id, evidence: Vec::new(), message: None, pass_message: None }
    }

    pub(crate) fn add(
        &mut self,
        status: Status,
        item: impl Into<String>,
        measured: impl Into<String>,
        expected: impl Into<String>,
    ) {
        self.evidence.push(Evidence {
            item: item.into(),
            status,
            measured: measured.into(),
            expected: expected.into(),
        });
    }

    status_adders!(pass => Pass, warn => Warn, fail => Fail, skip => Skip);

    /// The one-line message, when the worst items' own words are not the best summary.
    pub(crate) fn message(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
    }

    /// The message when the check passes (a summary reads better than every item's words).
    pub(crate) fn pass_message(&mut self, message: impl Into<String>) {
        self.pass_message = Some(message.into());
    }

    pub(crate) fn finish(self) -> CheckResult {
        let status = self.evidence.iter().map(|e| e.status).max_by_key(|s| s.rank()).unwrap_or(Status::Skip);
        // Unless a check words it itself, the message is what its worst items measured: a FAIL row
        // reads as the reason it failed.
        let pass_message = self.pass_message.filter(|_| status == Status::Pass);
        let message = self.message.or(pass_message).unwrap_or_else(|| {
            let worst: Vec<String> = self
                .evidence
                .iter()
                .filter(|e| e.status == status)
                .map(|e| format!("{}: {}", e.item, e.measured))
                .collect();
            if worst.is_empty() { "nothing to check".to_owned() } else { worst.join("; ") }
        });
        CheckResult {
            id: self.id,
            title: self.id.title(),
            status,
            message,
            evidence: self.evidence,
            duration_ms: 0,
        }
    }
}

/// A transport error with its causes: reqwest's own message ("error sending request") alone does
/// not say whether the connection was refused, timed out or failed TLS.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    // reqwest names the URL, which may carry credentials: show it masked.
    match error.url() {
        Some(url) => text.replace(url.as_str(), &crate::config::mask_url(url)),
        None => text,
    }
}

impl CheckResult {
    /// A check that did not run, with the reason.
    pub(crate) fn skipped(id: CheckId, reason: impl Into<String>) -> Self {
        CheckResult {
            id,
            title: id.title(),
            status: Status::Skip,
            message: reason.into(),
            evidence: Vec::new(),
            duration_ms: 0,
        }
    }
}

/// Runs `check` unless the selection leaves it out, and times it.
async fn guarded<F>(id: CheckId, options: &PreflightOptions, check: impl FnOnce() -> F) -> CheckResult
where
    F: Future<Output = CheckResult>,
{
    if let Err(reason) = options.selected(id) {
        return CheckResult::skipped(id, reason);
    }
    let started = Instant::now();
    let mut result = check().await;
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

/// Awaits the named futures concurrently and collects their outputs in the order written.
macro_rules! join_in_order {
    ($($name:ident = $future:expr),+ $(,)?) => {{
        let ($($name,)+) = tokio::join!($($future),+);
        vec![$($name),+]
    }};
}

/// Runs every check concurrently (they are independent, apart from the one shared `GET /me`) and
/// returns them in report order.
pub(super) async fn run_all(ctx: &Context, options: &PreflightOptions) -> Vec<CheckResult> {
    join_in_order!(
        auth = guarded(CheckId::Auth, options, || intercom::auth(ctx)),
        workspace = guarded(CheckId::Workspace, options, || intercom::workspace(ctx)),
        env_separation = guarded(CheckId::EnvSeparation, options, || secrets::env_separation(ctx)),
        secret_storage = guarded(CheckId::SecretStorage, options, || secrets::secret_storage(ctx)),
        rate_headroom = guarded(CheckId::RateHeadroom, options, || intercom::rate_headroom(ctx)),
        status_page = guarded(CheckId::StatusPage, options, || service::status_page(ctx)),
        webhook_endpoint = guarded(CheckId::WebhookEndpoint, options, || webhook::webhook_endpoint(ctx)),
        api_quality = guarded(CheckId::ApiQuality, options, || async { service::api_quality(ctx) }),
        health = guarded(CheckId::Health, options, || service::health(ctx)),
        hardcoded_tokens = guarded(CheckId::HardcodedTokens, options, || secrets::hardcoded_tokens(ctx)),
        data_handling = guarded(CheckId::DataHandling, options, || async { service::data_handling(ctx) }),
        monitoring = guarded(CheckId::Monitoring, options, || async { service::monitoring(ctx) }),
    )
}
