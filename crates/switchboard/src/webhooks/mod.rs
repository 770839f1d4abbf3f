//! Intercom webhook ingress: signature verification and topic routing.

pub mod ingress;
pub mod signature;
pub mod topic;

pub use signature::{SignatureError, sign, verify};
pub use topic::{TopicPattern, TopicPatternError};
