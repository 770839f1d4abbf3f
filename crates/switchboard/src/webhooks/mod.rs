//! Intercom webhook ingress: signature verification, then the durable insert of each event with
//! the destinations `delivery::Routing` names for its topic; and the notification envelope for
//! everything that sends one.

pub mod ingress;
pub mod notification;
pub mod signature;

pub use notification::{Notification, SignedNotification};
pub use signature::{SignatureError, sign, verify};
