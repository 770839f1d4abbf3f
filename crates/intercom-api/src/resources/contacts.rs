//! Contacts: create, get (cached when enabled), update, delete, archive, merge, list, search, tags,
//! and an upsert that reconciles conflicts and unknown outcomes.

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;

use crate::cache::CacheStats;
use crate::client::{Client, Request, encode_segment};
use crate::error::{Error, ErrorKind};
use crate::models::{AppliedTag, AttributeModel, Contact, ContactReference, ContactUpdate, NewContact};
use crate::pagination::{ItemStream, cursor_pages};
use crate::retry::Idempotency;
use crate::search::{Search, SearchModel};

/// Largest page size of the contacts list.
pub const MAX_PER_PAGE: u32 = 150;

handle!(
    /// Contacts.
    Contacts,
    fn contacts
);

fn contact_path(id: &str) -> String {
    format!("/contacts/{}", encode_segment(id))
}

impl<'a> Contacts<'a> {
    /// Creates a contact after checking its custom attributes. Not idempotent: a create is resent
    /// only when provably not applied; otherwise the error is `OutcomeUnknown` (reconcile by
    /// `external_id`, or use [`Contacts::upsert`]). A duplicate is `Conflict` with
    /// [`Error::existing_id`].
    pub async fn create(&self, contact: &NewContact) -> Result<Contact, Error> {
        self.client.check_attributes(AttributeModel::Contact, &contact.custom_attributes).await?;
        self.client.call(Request::post("/contacts").template("/contacts").json(contact)).await
    }

    /// Creates the contact, or updates the one that already exists: on `Conflict` the existing id
    /// is updated; on `OutcomeUnknown` the contact is looked up by `external_id` first.
    pub async fn upsert(&self, contact: &NewContact) -> Result<Contact, Error> {
        let update = ContactUpdate {
            role: contact.role.clone(),
            external_id: contact.external_id.clone(),
            email: contact.email.clone(),
            phone: contact.phone.clone(),
            name: contact.name.clone(),
            last_seen_at: contact.last_seen_at,
            unsubscribed_from_emails: contact.unsubscribed_from_emails,
            custom_attributes: contact.custom_attributes.clone(),
        };
        match self.create(contact).await {
            Ok(created) => Ok(created),
            Err(e) if e.kind() == ErrorKind::Conflict => match e.existing_id() {
                Some(id) => self.update(id, &update).await,
                None => Err(e),
            },
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                let Some(external_id) = &contact.external_id else { return Err(e) };
                match self.find_by_external_id(external_id).await {
                    Ok(found) => match &found.id {
                        Some(id) => self.update(id, &update).await,
                        None => Ok(found),
                    },
                    // Provably absent: the create did not apply, so creating again is safe.
                    Err(lookup) if lookup.kind() == ErrorKind::NotFound => self.create(contact).await,
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// One contact; served from the contact cache when it is enabled (concurrent misses share
    /// one request).
    pub async fn get(&self, id: &str) -> Result<Contact, Error> {
        match self.client.contact_cache() {
            None => self.fetch(id).await,
            Some(cache) => cache.get_or_load(id, self.fetch(id)).await.map(|c| (*c).clone()),
        }
    }

    /// One contact, always from Intercom (the cache is bypassed, not updated).
    pub async fn fetch(&self, id: &str) -> Result<Contact, Error> {
        self.client.call(Request::get(contact_path(id)).template("/contacts/{id}")).await
    }

    /// The user with your `external_id`.
    pub async fn find_by_external_id(&self, external_id: &str) -> Result<Contact, Error> {
        let path = format!("/contacts/find_by_external_id/{}", encode_segment(external_id));
        self.client.call(Request::get(path).template("/contacts/find_by_external_id/{external_id}")).await
    }

    /// Updates the fields set in `update` (custom attributes checked first).
    pub async fn update(&self, id: &str, update: &ContactUpdate) -> Result<Contact, Error> {
        self.client.check_attributes(AttributeModel::Contact, &update.custom_attributes).await?;
        self.write(id, Request::put(contact_path(id)).template("/contacts/{id}").json(update)).await
    }

    /// Deletes a contact for good.
    pub async fn delete(&self, id: &str) -> Result<ContactReference, Error> {
        self.write(id, Request::delete(contact_path(id)).template("/contacts/{id}")).await
    }

    /// Archives a contact (reversible).
    pub async fn archive(&self, id: &str) -> Result<ContactReference, Error> {
        let req = Request::post(format!("{}/archive", contact_path(id)))
            .template("/contacts/{id}/archive")
            .idempotency(Idempotency::Idempotent);
        self.write(id, req).await
    }

    /// Unarchives a contact.
    pub async fn unarchive(&self, id: &str) -> Result<ContactReference, Error> {
        let req = Request::post(format!("{}/unarchive", contact_path(id)))
            .template("/contacts/{id}/unarchive")
            .idempotency(Idempotency::Idempotent);
        self.write(id, req).await
    }

    /// Merges lead `from` into user `into`. Not idempotent.
    pub async fn merge(&self, from: &str, into: &str) -> Result<Contact, Error> {
        let req = Request::post("/contacts/merge")
            .template("/contacts/merge")
            .json(&json!({ "from": from, "into": into }));
        let result = self.client.call(req).await;
        self.invalidate(from).await;
        self.invalidate(into).await;
        result
    }

    /// Applies a tag (applying it twice is harmless, so this is resent freely).
    pub async fn attach_tag(&self, contact_id: &str, tag_id: &str) -> Result<AppliedTag, Error> {
        let req = Request::post(format!("{}/tags", contact_path(contact_id)))
            .template("/contacts/{id}/tags")
            .json(&json!({ "id": tag_id }))
            .idempotency(Idempotency::Idempotent);
        self.write(contact_id, req).await
    }

    /// Removes a tag.
    pub async fn detach_tag(&self, contact_id: &str, tag_id: &str) -> Result<AppliedTag, Error> {
        let path = format!("{}/tags/{}", contact_path(contact_id), encode_segment(tag_id));
        self.write(contact_id, Request::delete(path).template("/contacts/{id}/tags/{tag_id}")).await
    }

    /// Sends a write to contact `id` and drops it from the cache whatever the outcome: a failed
    /// write may still have applied.
    async fn write<T: serde::de::DeserializeOwned>(&self, id: &str, req: Request) -> Result<T, Error> {
        let result = self.client.call(req).await;
        self.invalidate(id).await;
        result
    }

    /// Every contact, 150 per page.
    pub fn list(&self) -> ItemStream<Contact> {
        self.list_with(MAX_PER_PAGE)
    }

    /// Every contact, `per_page` per page (1..=150).
    pub fn list_with(&self, per_page: u32) -> ItemStream<Contact> {
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        cursor_pages(self.client.clone(), move |after| {
            let req = Request::get("/contacts").template("/contacts").query("per_page", per_page);
            match after {
                Some(cursor) => req.query("starting_after", cursor),
                None => req,
            }
        })
    }

    /// Contacts matching a query. The query is validated first (custom attribute types come from
    /// the cached schema); an invalid one yields one `InvalidQuery` error and sends nothing.
    pub fn search(&self, search: impl Into<Search>) -> ItemStream<Contact> {
        search_stream(self.client.clone(), SearchModel::Contacts, search.into())
    }

    /// Drops one contact from the cache (the webhook path calls this on `contact.*` topics).
    pub async fn invalidate(&self, id: &str) {
        if let Some(cache) = self.client.contact_cache() {
            cache.invalidate(id).await;
        }
    }

    /// Drops every cached contact.
    pub fn invalidate_all(&self) {
        if let Some(cache) = self.client.contact_cache() {
            cache.invalidate_all();
        }
    }

    /// Hit, miss and load counts, when the cache is enabled.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.client.contact_cache().map(|c| c.stats())
    }
}

/// A validated, paginated search over contacts or conversations.
pub(crate) fn search_stream<T>(client: Client, model: SearchModel, search: Search) -> ItemStream<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let start = async move {
        let custom = search.query.custom_attributes();
        let schema = if model == SearchModel::Contacts && !custom.is_empty() {
            Some(client.attribute_schema(AttributeModel::Contact).await?)
        } else {
            None
        };
        search
            .query
            .validate(model, |name| schema.as_ref().and_then(|s| s.field_type(name)))
            .map_err(Error::invalid_query)?;
        let (path, template) = match model {
            SearchModel::Contacts => ("/contacts/search", "/contacts/search"),
            SearchModel::Conversations => ("/conversations/search", "/conversations/search"),
        };
        Ok::<_, Error>(cursor_pages(client, move |after| {
            Request::post(path)
                .template(template)
                .json(&search.body(after))
                .idempotency(Idempotency::Idempotent)
        }))
    };
    stream::once(start).try_flatten().boxed()
}
