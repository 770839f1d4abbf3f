//! Conversations: list, get, search, start, reply.

use crate::client::{Request, encode_segment};
use crate::error::Error;
use crate::models::{Conversation, NewConversation, Reply};
use crate::pagination::{ItemStream, cursor_pages};
use crate::resources::contacts::search_stream;
use crate::retry::Idempotency;
use crate::search::{Search, SearchModel};

handle!(
    /// Conversations.
    Conversations,
    fn conversations
);

impl Conversations<'_> {
    /// Every conversation, newest first, 150 per page.
    pub fn list(&self) -> ItemStream<Conversation> {
        cursor_pages(self.client.clone(), |after| {
            let req = Request::get("/conversations").template("/conversations").query("per_page", 150);
            match after {
                Some(c) => req.query("starting_after", c),
                None => req,
            }
        })
    }

    /// One conversation with its parts.
    pub async fn get(&self, id: &str) -> Result<Conversation, Error> {
        self.client
            .call(
                Request::get(format!("/conversations/{}", encode_segment(id)))
                    .template("/conversations/{id}"),
            )
            .await
    }

    /// Conversations matching a query (validated before sending).
    pub fn search(&self, search: impl Into<Search>) -> ItemStream<Conversation> {
        search_stream(self.client.clone(), SearchModel::Conversations, search.into())
    }

    /// A contact starts a conversation. Not idempotent.
    pub async fn create(&self, conversation: &NewConversation) -> Result<serde_json::Value, Error> {
        self.client.call(Request::post("/conversations").template("/conversations").json(conversation)).await
    }

    /// Replies to a conversation. Not idempotent: a reply is resent only when provably not applied.
    pub async fn reply(&self, id: &str, reply: &Reply) -> Result<Conversation, Error> {
        let req = Request::post(format!("/conversations/{}/reply", encode_segment(id)))
            .template("/conversations/{id}/reply")
            .json(reply)
            .idempotency(Idempotency::NonIdempotent);
        self.client.call(req).await
    }
}
