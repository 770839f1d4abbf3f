//! Pagination as `futures::Stream`s of items, so callers write
//! `while let Some(item) = stream.try_next().await? { … }`.
//!
//! - List endpoints: the cursor goes in the query (`starting_after`).
//! - Search: the cursor goes in the body's `pagination` object.
//! - Companies scroll: one scroll per app; the parameter expires after a minute unused, so an
//!   expired scroll is restarted and companies already yielded are skipped (no duplicates).
//!
//! Pages are fetched lazily, one at a time, each through the client's pacer and retries.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use crate::client::{Client, Request};
use crate::error::{Error, ErrorKind};
use crate::models::{Company, CompanyScrollPage, ListPage};

/// A stream of items, each fetched page by page.
pub type ItemStream<T> = BoxStream<'static, Result<T, Error>>;

/// How many times an expired companies scroll is restarted before giving up.
pub const MAX_SCROLL_RESTARTS: u32 = 3;

enum Cursor {
    Start,
    After(String),
    Done,
}

/// Pages through a cursor-paginated endpoint; `request` builds the request for a cursor.
pub(crate) fn cursor_pages<T, F>(client: Client, request: F) -> ItemStream<T>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Option<&str>) -> Request + Send + Sync + 'static,
{
    let request = Arc::new(request);
    stream::try_unfold(Cursor::Start, move |cursor| {
        let (client, request) = (client.clone(), request.clone());
        async move {
            let after = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Start => None,
                Cursor::After(c) => Some(c),
            };
            let page: ListPage<T> = client.call(request(after.as_deref())).await?;
            let next = page.pages.as_ref().and_then(|p| p.next.as_ref()).and_then(|n| n.starting_after());
            let state = match next {
                // A cursor that does not move would loop forever: stop with an error instead.
                Some(c) if after.as_deref() == Some(c.as_str()) => {
                    return Err(Error::local(
                        ErrorKind::Decode,
                        "pagination did not advance (same cursor twice)",
                    ));
                }
                Some(c) if !page.data.is_empty() => Cursor::After(c),
                _ => Cursor::Done,
            };
            Ok(Some((page.data, state)))
        }
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

struct Scroll {
    param: Option<String>,
    seen: HashSet<String>,
    restarts: u32,
}

/// `GET /companies/scroll`, restarted on expiry, without duplicates.
pub(crate) fn company_scroll(client: Client) -> ItemStream<Company> {
    let start = Scroll { param: None, seen: HashSet::new(), restarts: 0 };
    stream::try_unfold(Some(start), move |state| {
        let client = client.clone();
        async move {
            let Some(mut state) = state else { return Ok(None) };
            loop {
                let mut req = Request::get("/companies/scroll").template("/companies/scroll");
                if let Some(param) = &state.param {
                    req = req.query("scroll_param", param);
                }
                match client.call::<CompanyScrollPage>(req).await {
                    Ok(page) if page.data.is_empty() => return Ok(None),
                    Ok(page) => {
                        let seen = &mut state.seen;
                        let fresh: Vec<Company> = page
                            .data
                            .into_iter()
                            .filter(|c| c.id.as_ref().is_none_or(|id| seen.insert(id.clone())))
                            .collect();
                        if page.scroll_param.is_some() {
                            state.param = page.scroll_param;
                        }
                        return Ok(Some((fresh, Some(state))));
                    }
                    Err(e)
                        if e.kind() == ErrorKind::NotFound
                            && state.param.is_some()
                            && state.restarts < MAX_SCROLL_RESTARTS =>
                    {
                        tracing::warn!(
                            restarts = state.restarts + 1,
                            "companies scroll expired; restarting it and skipping companies already seen"
                        );
                        state.param = None;
                        state.restarts += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}
