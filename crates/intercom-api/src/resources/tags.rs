//! Tags: list, create (or rename), get, delete.

use serde_json::{Value, json};

use crate::client::{Request, encode_segment};
use crate::error::Error;
use crate::models::{Tag, TagList};
use crate::retry::Idempotency;

handle!(
    /// Tags.
    Tags,
    fn tags
);

impl Tags<'_> {
    /// Every tag.
    pub async fn list(&self) -> Result<Vec<Tag>, Error> {
        let list: TagList = self.client.call(Request::get("/tags").template("/tags")).await?;
        Ok(list.data)
    }

    /// Creates a tag, or returns the existing one of that name (names are unique, so resending is safe).
    pub async fn create(&self, name: &str) -> Result<Tag, Error> {
        let req = Request::post("/tags")
            .template("/tags")
            .json(&json!({ "name": name }))
            .idempotency(Idempotency::Idempotent);
        self.client.call(req).await
    }

    /// One tag.
    pub async fn get(&self, id: &str) -> Result<Tag, Error> {
        self.client.call(Request::get(format!("/tags/{}", encode_segment(id))).template("/tags/{id}")).await
    }

    /// Deletes a tag (400 `tag_has_dependent_objects` while segments use it).
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let req = Request::delete(format!("/tags/{}", encode_segment(id))).template("/tags/{id}");
        self.client.execute(req).await.map(|_| ())
    }

    /// Untyped access for tag operations not modelled here (tagging companies in bulk).
    pub async fn raw(&self, body: &Value) -> Result<Value, Error> {
        let req = Request::post("/tags").template("/tags").json(body).idempotency(Idempotency::Idempotent);
        self.client.call(req).await
    }
}
