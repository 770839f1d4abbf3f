//! Metrics (through the `metrics` facade; the service installs an exporter) and endpoint templates.
//!
//! The name constants are the one definition of what this crate records: code here records by
//! them, and a service that alerts or documents these metrics refers to them.
//!
//! Labels are low-cardinality and never carry ids: `endpoint` is a template such as
//! `/contacts/{id}`, `method` the HTTP method, `status` the HTTP status or `timeout`/`transport`.

use std::time::Duration;

/// Every request attempt: `intercom_api_requests_total{endpoint, method, status}`.
pub const REQUESTS: &str = "intercom_api_requests_total";
/// Attempt latency: `intercom_api_request_duration_seconds{endpoint, method}`.
pub const DURATION: &str = "intercom_api_request_duration_seconds";
/// Retries scheduled: `intercom_api_retries_total{endpoint, method, reason}`.
pub const RETRIES: &str = "intercom_api_retries_total";
/// `X-RateLimit-Remaining` of the last answer: `intercom_api_rate_limit_remaining`.
pub const RATE_LIMIT_REMAINING: &str = "intercom_api_rate_limit_remaining";
/// Cache lookups: `intercom_api_cache_total{cache, result}` (`hit`, `miss`).
pub const CACHE: &str = "intercom_api_cache_total";
/// Time a request waited for the pacer: `intercom_api_pacer_wait_seconds`.
pub const PACER_WAIT: &str = "intercom_api_pacer_wait_seconds";

/// Records one attempt.
pub(crate) fn attempt(endpoint: &str, method: &str, status: &str, latency: Duration, remaining: Option<u32>) {
    let (endpoint, method, status) = (endpoint.to_string(), method.to_string(), status.to_string());
    metrics::counter!(REQUESTS, "endpoint" => endpoint.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "endpoint" => endpoint, "method" => method).record(latency.as_secs_f64());
    if let Some(remaining) = remaining {
        metrics::gauge!(RATE_LIMIT_REMAINING).set(f64::from(remaining));
    }
}

/// Records one scheduled retry.
pub(crate) fn retry(endpoint: &str, method: &str, reason: &str) {
    metrics::counter!(
        RETRIES,
        "endpoint" => endpoint.to_string(),
        "method" => method.to_string(),
        "reason" => reason.to_string()
    )
    .increment(1);
}

/// Records a cache lookup.
pub(crate) fn cache(cache: &'static str, hit: bool) {
    metrics::counter!(CACHE, "cache" => cache, "result" => if hit { "hit" } else { "miss" }).increment(1);
}

/// Path segments that are part of Intercom's vocabulary; every other segment is an id.
const WORDS: &[&str] = &[
    "admins",
    "me",
    "away",
    "activity_logs",
    "contacts",
    "search",
    "merge",
    "find_by_external_id",
    "archive",
    "unarchive",
    "block",
    "tags",
    "notes",
    "companies",
    "segments",
    "subscriptions",
    "scroll",
    "list",
    "data_attributes",
    "events",
    "summaries",
    "conversations",
    "reply",
    "parts",
    "customers",
    "redact",
    "convert",
    "tickets",
    "teams",
    "articles",
    "messages",
    "visitors",
    "bulk",
    "export",
    "jobs",
    "help_center",
    "news",
    "data_exports",
    "content",
    "data",
    "reporting_data",
    "enqueue",
    "ticket_types",
    "attributes",
    "phone_call_redirects",
];

/// The template of a concrete path: `/contacts/65f0aa/tags/7` → `/contacts/{id}/tags/{id}`.
pub fn endpoint_template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut out = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if WORDS.contains(&segment) { out.push_str(segment) } else { out.push_str("{id}") }
    }
    if out.is_empty() { "/".to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_never_carry_ids() {
        assert_eq!(endpoint_template("/contacts/65f0aa/tags/81"), "/contacts/{id}/tags/{id}");
        assert_eq!(
            endpoint_template("/contacts/find_by_external_id/user%2F1?x=1"),
            "/contacts/find_by_external_id/{id}"
        );
        assert_eq!(endpoint_template("/companies/scroll"), "/companies/scroll");
        assert_eq!(endpoint_template("/me"), "/me");
        assert_eq!(endpoint_template("/jane@example.com"), "/{id}");
    }
}
