//! `intercom-api`: a typed async client for Intercom's REST API that stays under the rate limit,
//! retries only what is safe, and streams pages.
//!
//! - **Pacing** ([`pacer`]): requests are spread evenly over Intercom's 10-second rate-limit
//!   windows, within a share of the limit (`budget_fraction`, default 0.9), learned from the
//!   `X-RateLimit-*` headers. One pacer is shared by every clone of a client.
//! - **Retries** ([`retry`]): 429 waits for `X-RateLimit-Reset` (or `Retry-After`); 408/5xx,
//!   timeouts and connection failures back off exponentially with full jitter. Creates, events,
//!   replies and merges are resent only when provably not applied; otherwise the error kind is
//!   [`ErrorKind::OutcomeUnknown`].
//! - **Errors** ([`error`]): one [`Error`] whose [`ErrorKind`] says what to do, with status,
//!   Intercom codes, `request_id` and rate-limit headers. The token never appears in any output.
//! - **Pagination** ([`pagination`]): list, search and scroll endpoints are `futures::Stream`s.
//! - **Search** ([`search`]) and **custom attributes** ([`attributes`]) are validated before
//!   sending; an invalid request sends nothing.
//! - **Caches** ([`cache`]): an optional read-through contact cache; the data-attribute schema is
//!   cached with a TTL.
//! - **Observability** ([`telemetry`]): metrics through the `metrics` facade (endpoint templates,
//!   never ids) and `tracing` spans.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use futures::TryStreamExt;
//! use intercom_api::search::{Filter, Search};
//! use intercom_api::{Client, ErrorKind, NewContact, Region};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .token(std::env::var("INTERCOM_TOKEN")?)
//!     .region(Region::Eu)
//!     .version("2.14")
//!     .timeout(Duration::from_secs(30))
//!     .build()?;
//!
//! // Create a contact; custom attributes are checked against the workspace schema first.
//! let new = NewContact::user("user-42").email("ada@example.com").attribute("plan", "pro");
//! let contact = match client.contacts().create(&new).await {
//!     Ok(contact) => contact,
//!     // It already exists: Intercom names the existing contact.
//!     Err(e) if e.kind() == ErrorKind::Conflict => {
//!         let id = e.existing_id().ok_or("conflict without an id")?;
//!         client.contacts().get(id).await?
//!     }
//!     // The create may or may not have happened (e.g. a 500): reconcile, do not blindly resend.
//!     Err(e) if e.kind() == ErrorKind::OutcomeUnknown => client.contacts().find_by_external_id("user-42").await?,
//!     Err(e) => return Err(e.into()),
//! };
//! println!("contact {:?}", contact.id);
//!
//! // Search (validated before sending) and stream every match, page by page.
//! let query = Filter::and([Filter::eq("role", "user"), Filter::gt("created_at", 1_700_000_000)]);
//! let mut found = client.contacts().search(Search::new(query).per_page(150));
//! while let Some(contact) = found.try_next().await? {
//!     println!("{:?}", contact.email);
//! }
//!
//! // Paginate through every contact.
//! let mut all = client.contacts().list();
//! let mut count = 0;
//! while let Some(_contact) = all.try_next().await? {
//!     count += 1;
//! }
//! println!("{count} contacts");
//! # Ok(()) }
//! ```

pub mod attributes;
pub mod cache;
pub mod client;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod models;
pub mod pacer;
pub mod pagination;
pub mod region;
pub mod resources;
pub mod retry;
pub mod search;
pub mod telemetry;
pub mod token;

pub use cache::{CacheStats, ContactCacheConfig};
pub use client::{BuildError, Client, ClientBuilder, ClientStats, RawResponse, Request};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{Error, ErrorKind, RateLimit};
pub use models::{Contact, ContactUpdate, NewCompany, NewContact, NewEvent};
pub use pacer::{Pacer, PacerConfig, Permit, WindowPacer};
pub use pagination::ItemStream;
pub use region::Region;
pub use retry::{Idempotency, RetryPolicy};
/// Time for the pacer and the retry loop: the workspace's one clock, so tests drive time by hand.
pub use switchboard_clock as clock;
pub use token::{StaticToken, TokenSource};
