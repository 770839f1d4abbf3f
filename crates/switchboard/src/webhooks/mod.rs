//! Intercom webhook ingress: signature verification, then the durable insert of each event with
//! the destinations `delivery::Routing` names for its topic.

pub mod ingress;
pub mod signature;

pub use signature::{SignatureError, sign, verify};
