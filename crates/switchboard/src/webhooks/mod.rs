//! Intercom webhook ingress: signature verification and topic routing, and the notification
//! envelope for everything that sends one.

pub mod ingress;
pub mod notification;
pub mod signature;
pub mod topic;

pub use notification::{Notification, SignedNotification};
pub use signature::{SignatureError, sign, verify};
pub use topic::{TopicPattern, TopicPatternError};
