//! One handle per Intercom resource, borrowed from a [`Client`](crate::Client):
//! `client.contacts()`, `client.companies()`, `client.admins()`, `client.tags()`,
//! `client.data_attributes()`, `client.events()`, `client.conversations()`.

pub mod admins;
pub mod companies;
pub mod contacts;
pub mod conversations;
pub mod data_attributes;
pub mod events;
pub mod tags;

pub use admins::Admins;
pub use companies::Companies;
pub use contacts::Contacts;
pub use conversations::Conversations;
pub use data_attributes::DataAttributes;
pub use events::Events;
pub use tags::Tags;
