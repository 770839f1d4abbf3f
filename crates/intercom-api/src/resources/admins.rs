//! `GET /me`, `GET /admins`, `GET /admins/{id}`.

use crate::client::{Client, Request, encode_segment};
use crate::error::Error;
use crate::models::{Admin, AdminList, Me};

handle!(
    /// Admins (teammates).
    Admins,
    /// Admins and `/me`.
    fn admins
);

impl Client {
    /// `GET /me`: who the token belongs to, and the workspace.
    pub async fn me(&self) -> Result<Me, Error> {
        self.call(Request::get("/me").template("/me")).await
    }
}

impl Admins<'_> {
    /// Every admin of the workspace.
    pub async fn list(&self) -> Result<Vec<Admin>, Error> {
        let list: AdminList = self.client.call(Request::get("/admins").template("/admins")).await?;
        Ok(list.admins)
    }

    /// One admin.
    pub async fn get(&self, id: &str) -> Result<Admin, Error> {
        self.client
            .call(Request::get(format!("/admins/{}", encode_segment(id))).template("/admins/{id}"))
            .await
    }
}
