//! One handle per Intercom resource, borrowed from a [`Client`](crate::Client):
//! `client.contacts()`, `client.companies()`, `client.admins()`, `client.tags()`,
//! `client.data_attributes()`, `client.events()`, `client.conversations()`.

/// Declares a resource handle borrowed from a [`Client`](crate::Client), and the `Client` method
/// that hands it out (documented like the handle unless given its own doc).
macro_rules! handle {
    ($(#[$meta:meta])* $name:ident, fn $method:ident) => {
        handle!($(#[$meta])* $name, $(#[$meta])* fn $method);
    };
    ($(#[$meta:meta])* $name:ident, $(#[$method_meta:meta])+ fn $method:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            client: &'a crate::client::Client,
        }

        impl crate::client::Client {
            $(#[$method_meta])*
            pub fn $method(&self) -> $name<'_> {
                $name { client: self }
            }
        }
    };
}

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
