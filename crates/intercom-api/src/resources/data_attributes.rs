//! Data attributes: list by model, create.

use crate::client::Request;
use crate::error::Error;
use crate::models::{AttributeModel, DataAttribute, ListPage, NewDataAttribute};

handle!(
    /// Data attributes.
    DataAttributes,
    fn data_attributes
);

impl DataAttributes<'_> {
    /// Every attribute (built-in and custom) of a model, fresh from Intercom.
    pub async fn list(&self, model: AttributeModel) -> Result<Vec<DataAttribute>, Error> {
        let req = Request::get("/data_attributes").template("/data_attributes").query("model", model);
        let page: ListPage<DataAttribute> = self.client.call(req).await?;
        Ok(page.data)
    }

    /// Creates a custom attribute and forgets the cached schemas so writes can use it at once.
    pub async fn create(&self, attribute: &NewDataAttribute) -> Result<DataAttribute, Error> {
        let req = Request::post("/data_attributes").template("/data_attributes").json(attribute);
        let created = self.client.call(req).await;
        self.client.invalidate_attribute_schemas();
        created
    }
}
