//! Built-in handlers: work the service itself does with some events, queued like a destination's
//! deliveries so it is retried and survives a restart. Today one: `contact.deleted` is recorded for
//! the GDPR purge of local copies.

use std::sync::Arc;

use serde::Deserialize;

use crate::store::{ClaimedDelivery, ErasureRequest, Store};

/// The destination name of built-in handler deliveries (no configured destination can take it:
/// destination names cannot start with `@`).
pub const BUILTIN_DESTINATION: &str = "@builtin";

/// The topic whose events are recorded for erasure.
const CONTACT_DELETED: &str = "contact.deleted";

/// Whether the built-in handlers have work for events of `topic`. Built-in work is queued only
/// where there is some: a delivery that does nothing would still cost a claim and a completion on
/// the store's single writer.
pub fn handles(topic: &str) -> bool {
    topic == CONTACT_DELETED
}

/// The built-in handlers.
#[derive(Debug, Clone)]
pub struct Builtin {
    store: Arc<dyn Store>,
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
}

impl Builtin {
    /// Handlers recording into `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Builtin { store }
    }

    /// Runs the handlers for one event; an error means "try again later".
    pub async fn handle(&self, delivery: &ClaimedDelivery) -> Result<(), String> {
        let notification: Notification =
            serde_json::from_slice(&delivery.body).map_err(|e| format!("unreadable notification: {e}"))?;
        let Some(item) = notification.data.and_then(|d| d.item) else { return Ok(()) };
        if delivery.topic == CONTACT_DELETED
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
