//! Cursor pagination as Intercom does it: opaque base64 cursors (`Wz…`, i.e. a JSON array) and a
//! `pages` object whose `next` is `{page, starting_after}` and is absent on the last page.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::errors::ApiError;

/// Encodes a position and the page number it leads to; base64 of `[position,page]` starts `Wz`.
pub fn encode_cursor(position: u64, next_page: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("[{position},{next_page}]"))
}

/// Decodes a cursor produced by [`encode_cursor`] into (position, page).
pub fn decode_cursor(cursor: &str) -> Result<(u64, u32), ApiError> {
    let bad = || ApiError::invalid("starting_after is not a valid cursor").with_field("starting_after");
    let bytes = base64::engine::general_purpose::STANDARD.decode(cursor.trim()).map_err(|_| bad())?;
    let parsed: (u64, u32) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(parsed)
}

/// One page cut from an ordered sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// 1-based page number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// Items in the whole result.
    pub total_count: usize,
    /// Cursor to the next page, when there is one.
    pub next: Option<String>,
}

impl PageInfo {
    /// The `pages` object.
    pub fn pages_json(&self) -> Value {
        let total_pages = self.total_count.div_ceil(self.per_page.max(1) as usize);
        let mut pages = json!({
            "type": "pages",
            "page": self.page,
            "per_page": self.per_page,
            "total_pages": total_pages,
        });
        if let Some(cursor) = &self.next {
            pages["next"] = json!({ "page": self.page + 1, "starting_after": cursor });
        }
        pages
    }
}

/// Pages through items keyed by an increasing position (e.g. insertion sequence).
///
/// `items` must be in ascending key order and already filtered; `after` is the decoded cursor.
pub fn page_by_key<T>(
    items: impl Iterator<Item = (u64, T)>,
    total_count: usize,
    per_page: u32,
    after: Option<(u64, u32)>,
) -> (Vec<T>, PageInfo) {
    let (after_key, page) = match after {
        Some((key, page)) => (Some(key), page.max(1)),
        None => (None, 1),
    };
    let mut out = Vec::with_capacity(per_page as usize);
    let mut last_key = 0;
    let mut has_more = false;
    for (key, item) in items.filter(|(k, _)| after_key.is_none_or(|a| *k > a)) {
        if out.len() == per_page as usize {
            has_more = true;
            break;
        }
        last_key = key;
        out.push(item);
    }
    let next = has_more.then(|| encode_cursor(last_key, page + 1));
    (out, PageInfo { page, per_page, total_count, next })
}

/// Pages through an already sorted result by offset (search results).
pub fn page_by_offset<T>(items: Vec<T>, per_page: u32, after: Option<(u64, u32)>) -> (Vec<T>, PageInfo) {
    let total_count = items.len();
    let (offset, page) = match after {
        Some((offset, page)) => (offset as usize, page.max(1)),
        None => (0, 1),
    };
    let end = (offset + per_page as usize).min(total_count);
    let next = (end < total_count).then(|| encode_cursor(end as u64, page + 1));
    let data = items.into_iter().skip(offset).take(per_page as usize).collect();
    (data, PageInfo { page, per_page, total_count, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_look_like_intercoms() {
        let c = encode_cursor(1_747_000, 2);
        assert!(c.starts_with("Wz"), "{c}");
        assert_eq!(decode_cursor(&c).expect("round trip"), (1_747_000, 2));
        assert_eq!(decode_cursor("nope").unwrap_err().code, "parameter_invalid");
    }

    #[test]
    fn next_is_absent_on_the_last_page() {
        let items = (1..=5u64).map(|k| (k, k));
        let (first, info) = page_by_key(items.clone(), 5, 2, None);
        assert_eq!(first, vec![1, 2]);
        let after = decode_cursor(info.next.as_deref().expect("more pages")).expect("valid");
        let (_, info2) = page_by_key(items.clone(), 5, 2, Some(after));
        let (last, info3) =
            page_by_key(items, 5, 2, Some(decode_cursor(info2.next.as_deref().expect("more")).expect("ok")));
        assert_eq!(last, vec![5]);
        assert_eq!(info3.page, 3);
        assert!(info3.pages_json().get("next").is_none());
        assert_eq!(info3.pages_json()["total_pages"], 3);
    }
}
