//! Entry points for the fuzz targets in `fuzz/`: the parsers of untrusted answers that are otherwise
//! reached only through a live request. Not part of the supported API.

use std::time::SystemTime;

use http::HeaderMap;

use crate::error::Error;

/// Classifies an answer (status, headers, body) received at `now`, as the client does: this is where
/// `Retry-After` and the `X-RateLimit-*` headers are parsed.
pub fn error_from_response(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
    Error::from_response(status, headers, body, now)
}
