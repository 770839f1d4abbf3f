//! Data events: `POST /events` (202, empty body).

use crate::client::Request;
use crate::error::Error;
use crate::models::NewEvent;

handle!(
    /// Data events.
    Events,
    fn events
);

impl Events<'_> {
    /// Records an event. Not idempotent: it is resent only when provably not applied, otherwise
    /// the error is [`crate::ErrorKind::OutcomeUnknown`].
    pub async fn create(&self, event: &NewEvent) -> Result<(), Error> {
        self.client.execute(Request::post("/events").template("/events").json(event)).await.map(|_| ())
    }
}
