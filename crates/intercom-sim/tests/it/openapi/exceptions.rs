//! Where Intercom's real responses differ from its OpenAPI description, the simulator follows the real
//! API. Each difference is listed here with its source; the harness checks the real shape strictly
//! at that place and the description everywhere else. Nothing goes in this list without a fact in
//! ../shared/reference/intercom-api-facts.md behind it.

use serde_json::{Value, json};

/// One documented difference between the description and real responses.
#[derive(Debug)]
pub struct Exception {
    /// `operationId`s it applies to.
    pub operations: &'static [&'static str],
    /// JSON pointer into the response body; `*` matches every array element or object member.
    pub pointer: &'static str,
    /// Why: the real behaviour and its source.
    pub reason: &'static str,
    /// JSON Schema of what real responses carry at `pointer`, checked instead of the description.
    pub real_schema: fn() -> Value,
}

impl Exception {
    /// Whether the exception covers this operation.
    pub fn applies_to(&self, operation: &str) -> bool {
        self.operations.contains(&operation)
    }
}

/// `pages.next` as real cursor-paginated responses carry it.
fn cursor_next() -> Value {
    json!({
        "type": ["object", "null"],
        "required": ["page", "starting_after"],
        "additionalProperties": false,
        "properties": {
            "page": {"type": "integer", "minimum": 2},
            "starting_after": {"type": "string", "minLength": 1}
        }
    })
}

const PAGES_NEXT: &str = "Facts sheet §4.1: the description types pages.next as starting_after_paging \
{per_page, starting_after}, but real responses carry {\"page\": N, \"starting_after\": \"…\"} and leave it \
out (or null) on the last page (intercom/intercom-node#489, webhookdb's recorded payloads). Checked here as \
exactly {page ≥ 2, starting_after} instead.";

/// The exceptions, each with its reason.
pub static EXCEPTIONS: &[Exception] = &[Exception {
    operations: &["ListContacts", "SearchContacts", "listConversations", "searchConversations"],
    pointer: "/pages/next",
    reason: PAGES_NEXT,
    real_schema: cursor_next,
}];

/// The one rule that is not about a single place in a body: an error status the operation does not
/// document is validated against the description's `error` schema instead of failing as undocumented.
pub const UNDOCUMENTED_ERROR_STATUS: &str = "Facts sheet §3.3: \"4xx and 5xx responses may be returned for any request\" \
(Intercom's HTTP responses page), always as the error.list envelope of §3.1 (components.schemas.error). The \
description lists only some per operation: it has no 400 for SearchContacts although Intercom's reference shows \
its search errors, no 409 for CreateContact although duplicates get one (§5.1, Intercom-OpenAPI PR #543), and no \
429 outside one export endpoint although every endpoint is rate limited (§2).";
