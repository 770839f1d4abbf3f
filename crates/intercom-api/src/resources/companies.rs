//! Companies: upsert, get, update, delete, scroll, attach to a contact.

use serde_json::{Value, json};

use crate::client::{Request, encode_segment};
use crate::error::Error;
use crate::models::{AttributeModel, Company, CompanyUpdate, NewCompany};
use crate::pagination::{ItemStream, company_scroll};
use crate::retry::Idempotency;

handle!(
    /// Companies.
    Companies,
    fn companies
);

fn company_path(id: &str) -> String {
    format!("/companies/{}", encode_segment(id))
}

impl Companies<'_> {
    /// Creates the company or updates the one with the same `company_id` (keyed by your id, so
    /// resending is safe).
    pub async fn upsert(&self, company: &NewCompany) -> Result<Company, Error> {
        self.client.check_attributes(AttributeModel::Company, &company.custom_attributes).await?;
        let req = Request::post("/companies")
            .template("/companies")
            .json(company)
            .idempotency(Idempotency::Idempotent);
        self.client.call(req).await
    }

    /// One company by Intercom id.
    pub async fn get(&self, id: &str) -> Result<Company, Error> {
        self.client.call(Request::get(company_path(id)).template("/companies/{id}")).await
    }

    /// Updates a company.
    pub async fn update(&self, id: &str, update: &CompanyUpdate) -> Result<Company, Error> {
        self.client.check_attributes(AttributeModel::Company, &update.custom_attributes).await?;
        self.client.call(Request::put(company_path(id)).template("/companies/{id}").json(update)).await
    }

    /// Deletes (archives) a company; contacts are detached, not deleted.
    pub async fn delete(&self, id: &str) -> Result<Value, Error> {
        self.client.call(Request::delete(company_path(id)).template("/companies/{id}")).await
    }

    /// Every company through the scroll API (one scroll per app; restarted if it expires).
    pub fn scroll(&self) -> ItemStream<Company> {
        company_scroll(self.client.clone())
    }

    /// Attaches a contact to a company (by Intercom company id).
    pub async fn attach_contact(&self, contact_id: &str, company_id: &str) -> Result<Company, Error> {
        let req = Request::post(format!("/contacts/{}/companies", encode_segment(contact_id)))
            .template("/contacts/{id}/companies")
            .json(&json!({ "id": company_id }))
            .idempotency(Idempotency::Idempotent);
        self.client.call(req).await
    }
}
