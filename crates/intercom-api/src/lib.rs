//! `intercom-api`: a typed async client for Intercom's REST API.

pub mod region;

pub use region::Region;
