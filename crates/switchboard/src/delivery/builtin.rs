//! Built-in handlers run on every `contact.*` event before anything else sees it: invalidate the
//! local contact cache, and record `contact.deleted` for the GDPR purge of local copies.

use std::sync::Arc;

use serde::Deserialize;

use crate::store::{ClaimedDelivery, ErasureRequest, Store};

/// A local cache of Intercom contacts that webhooks keep fresh.
pub trait ContactCache: Send + Sync + std::fmt::Debug {
    /// Drops the cached copy of contact `id`.
    fn invalidate(&self, id: &str);
}

/// The built-in handlers.
#[derive(Debug, Clone)]
pub struct Builtin {
    store: Arc<dyn Store>,
    cache: Option<Arc<dyn ContactCache>>,
}

#[derive(Deserialize)]
struct Notification {
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    item: Option<Item>,
}

#[derive(Deserialize)]
struct Item {
    id: Option<String>,
    external_id: Option<String>,
    merged_from: Option<MergedFrom>,
}

#[derive(Deserialize)]
struct MergedFrom {
    id: Option<String>,
}

impl Builtin {
    /// Handlers recording into `store` and invalidating `cache` when there is one.
    pub fn new(store: Arc<dyn Store>, cache: Option<Arc<dyn ContactCache>>) -> Self {
        Builtin { store, cache }
    }

    /// Runs the handlers for one event; an error means "try again later".
    pub async fn handle(&self, delivery: &ClaimedDelivery) -> Result<(), String> {
        let notification: Notification =
            serde_json::from_slice(&delivery.body).map_err(|e| format!("unreadable notification: {e}"))?;
        let Some(item) = notification.data.and_then(|d| d.item) else { return Ok(()) };
        if let Some(cache) = &self.cache {
            if let Some(id) = &item.id {
                cache.invalidate(id);
            }
            // A merge removes the lead that was merged away as well.
            if let Some(from) = item.merged_from.as_ref().and_then(|m| m.id.as_deref()) {
                cache.invalidate(from);
            }
            metrics::counter!("contact_cache_invalidations_total").increment(1);
        }
        if delivery.topic == "contact.deleted"
            && let Some(contact_id) = item.id
        {
            self.store
                .record_erasure(ErasureRequest {
                    app: delivery.app.clone(),
                    contact_id,
                    external_id: item.external_id,
                    notification_id: delivery.notification_id.clone(),
                    recorded_at: delivery.received_at,
                })
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
