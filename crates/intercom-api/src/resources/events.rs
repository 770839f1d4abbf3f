//! Data events: `POST /events` (202, empty body).

use crate::client::{Client, Request};
use crate::error::Error;
use crate::models::NewEvent;

/// Data events.
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    client: &'a Client,
}

impl Client {
    /// Data events.
    pub fn events(&self) -> Events<'_> {
        Events { client: self }
    }
}

impl Events<'_> {
    /// Records an event. Not idempotent: it is resent only when provably not applied, otherwise
    /// the error is [`crate::ErrorKind::OutcomeUnknown`].
    pub async fn create(&self, event: &NewEvent) -> Result<(), Error> {
        self.client.execute(Request::post("/events").template("/events").json(event)).await.map(|_| ())
    }
}
