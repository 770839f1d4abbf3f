//! List envelopes and their `pages` object.
//!
//! Real list responses carry items under `data` (contacts, companies), `conversations`, `admins`
//! or `tags`; `pages.next` is `{page, starting_after}` (not the spec's `{per_page,
//! starting_after}`), absent or `null` on the last page, `{page, per_page}` on page-numbered lists,
//! and a URL string on legacy endpoints such as `GET /events`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{Extra, de};

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct ListPage<T> {
    /// `list`, `conversation.list`, `admin.list`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The items.
    #[serde(
        default = "Vec::new",
        alias = "conversations",
        alias = "admins",
        alias = "tags",
        alias = "companies",
        alias = "contacts",
        alias = "segments"
    )]
    pub data: Vec<T>,
    /// Items in the whole result, when Intercom says.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub total_count: Option<i64>,
    /// Where the next page is.
    #[serde(default)]
    pub pages: Option<Pages>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `pages` object of a list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Pages {
    /// This page's number (1-based).
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub page: Option<i64>,
    /// Page size.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub per_page: Option<i64>,
    /// Number of pages.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub total_pages: Option<i64>,
    /// The next page; `None` on the last one.
    #[serde(default, deserialize_with = "next_page")]
    pub next: Option<NextPage>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How to ask for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum NextPage {
    /// Cursor pagination: send `starting_after`.
    Cursor {
        /// The opaque cursor.
        starting_after: String,
        /// The number of the next page, when given.
        page: Option<i64>,
    },
    /// Page-numbered lists (`POST /companies/list`): ask for this page.
    Page(i64),
    /// Legacy endpoints give the next page as a URL.
    Url(String),
}

impl NextPage {
    /// The cursor to send, if this is cursor pagination (or a URL carrying one).
    pub fn starting_after(&self) -> Option<String> {
        match self {
            NextPage::Cursor { starting_after, .. } => Some(starting_after.clone()),
            NextPage::Page(_) => None,
            NextPage::Url(url) => url::Url::parse(url).ok().and_then(|u| {
                u.query_pairs().find(|(k, _)| k == "starting_after").map(|(_, v)| v.into_owned())
            }),
        }
    }
}

fn next_page<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NextPage>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(url)) if !url.is_empty() => Some(NextPage::Url(url)),
        Some(Value::Object(map)) => {
            let page = map.get("page").and_then(Value::as_i64);
            match map.get("starting_after").and_then(Value::as_str) {
                Some(cursor) if !cursor.is_empty() => {
                    Some(NextPage::Cursor { starting_after: cursor.to_string(), page })
                }
                _ => page.map(NextPage::Page),
            }
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_next_shape() {
        let cursor: ListPage<Value> = serde_json::from_value(serde_json::json!({
            "type": "list", "data": [1, 2],
            "pages": {"type": "pages", "page": 1, "per_page": 2, "next": {"page": 2, "starting_after": "WzE="}}
        }))
        .expect("decodes");
        assert_eq!(
            cursor.pages.and_then(|p| p.next).and_then(|n| n.starting_after()).as_deref(),
            Some("WzE=")
        );

        let last: ListPage<Value> =
            serde_json::from_value(serde_json::json!({"type": "list", "data": [], "pages": {"next": null}}))
                .expect("decodes");
        assert_eq!(last.pages.and_then(|p| p.next), None);

        let legacy: ListPage<Value> = serde_json::from_value(serde_json::json!({
            "type": "event.list", "events": [],
            "pages": {"next": "https://api.intercom.io/events?per_page=2&starting_after=abc"}
        }))
        .expect("decodes");
        let next = legacy.pages.and_then(|p| p.next).expect("a next page");
        assert_eq!(next.starting_after().as_deref(), Some("abc"));

        let convs: ListPage<Value> = serde_json::from_value(serde_json::json!({
            "type": "conversation.list", "conversations": [{"id": "1"}], "pages": {"next": {"page": 3, "per_page": 5}}
        }))
        .expect("decodes");
        assert_eq!(convs.data.len(), 1);
        assert_eq!(convs.pages.and_then(|p| p.next), Some(NextPage::Page(3)));
    }
}
