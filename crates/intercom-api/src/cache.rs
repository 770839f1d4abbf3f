//! The optional read-through contact cache: TTL (default 5 minutes), bounded size, single-flight
//! loads (concurrent misses for one id share one request), and explicit invalidation by id for
//! the webhook path (`contact.*.updated`, `contact.deleted`, `contact.merged`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::Error;
use crate::models::Contact;
use crate::telemetry;

/// Settings of the contact cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCacheConfig {
    /// How long an entry is served (default 5 minutes).
    pub ttl: Duration,
    /// Most entries kept (default 10,000); the least useful are evicted first.
    pub max_entries: u64,
}

impl Default for ContactCacheConfig {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(300), max_entries: 10_000 }
    }
}

/// Hit, miss and load counts of the contact cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to wait for a load (their own or a concurrent one).
    pub misses: u64,
    /// Loads actually sent to Intercom.
    pub loads: u64,
}

/// The contact cache; shared by every clone of a client.
#[derive(Debug, Clone)]
pub(crate) struct ContactCache {
    entries: moka::future::Cache<String, Arc<Contact>>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
    loads: Arc<AtomicU64>,
}

impl ContactCache {
    pub(crate) fn new(config: ContactCacheConfig) -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl)
                .build(),
            hits: Arc::default(),
            misses: Arc::default(),
            loads: Arc::default(),
        }
    }

    /// The cached contact, or the result of `load` shared with every concurrent caller.
    pub(crate) async fn get_or_load<F>(&self, id: &str, load: F) -> Result<Arc<Contact>, Error>
    where
        F: Future<Output = Result<Contact, Error>>,
    {
        if let Some(hit) = self.entries.get(id).await {
            self.hits.fetch_add(1, Ordering::Relaxed);
            telemetry::cache("contacts", true);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        telemetry::cache("contacts", false);
        let loads = self.loads.clone();
        self.entries
            .try_get_with(id.to_string(), async move {
                loads.fetch_add(1, Ordering::Relaxed);
                load.await.map(Arc::new)
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())
    }

    pub(crate) async fn invalidate(&self, id: &str) {
        self.entries.invalidate(id).await;
    }

    pub(crate) fn invalidate_all(&self) {
        self.entries.invalidate_all();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            loads: self.loads.load(Ordering::Relaxed),
        }
    }
}
