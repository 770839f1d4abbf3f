//! Intercom's `X-Hub-Signature`: `sha1=` and the lowercase hex HMAC-SHA1 of the raw body, keyed by
//! the app's client secret.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::secrets::Secret;

type HmacSha1 = Hmac<Sha1>;

/// Why a webhook signature was refused; the variant names are the metric/response reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature` header.
    #[error("the X-Hub-Signature header is missing")]
    Missing,
    /// The header is not `sha1=` followed by 40 hex digits.
    #[error("the X-Hub-Signature header is not sha1=<40 hex digits>")]
    Malformed,
    /// Well-formed, but no configured client secret produces it.
    #[error("the X-Hub-Signature does not match the body under any configured client secret")]
    Mismatch,
    /// More than one `X-Hub-Signature` header (Intercom sends exactly one).
    #[error("the request has more than one X-Hub-Signature header; send exactly one")]
    Repeated,
}

impl SignatureError {
    /// A stable, low-cardinality name for metrics and responses.
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::Mismatch => "mismatch",
            SignatureError::Repeated => "repeated",
        }
    }
}

/// The `X-Hub-Signature` value Intercom would send for `body` under `client_secret`.
pub fn sign(client_secret: &[u8], body: &[u8]) -> String {
    format!("sha1={}", hex::encode(mac(client_secret, body).finalize().into_bytes()))
}

fn mac(key: &[u8], body: &[u8]) -> HmacSha1 {
    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length, so this cannot fail")]
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

/// Checks `header` against `body` under each secret (two during a rotation), in constant time.
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[Secret]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digits = header.trim().strip_prefix("sha1=").ok_or(SignatureError::Malformed)?;
    if hex_digits.len() != 40 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digits).map_err(|_| SignatureError::Malformed)?;
    let mut matched = false;
    for secret in secrets {
        // verify_slice compares in constant time; every secret is tried so timing does not reveal which matched.
        matched |= secret.with_value(|key| mac(key.as_bytes(), body).verify_slice(&expected).is_ok());
    }
    if matched { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_intercom_and_verifies_rotated_secrets() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"), RFC 2104 test value.
        let body = b"The quick brown fox jumps over the lazy dog";
        let header = sign(b"key", body);
        assert_eq!(header, "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
        let old = Secret::generated("webhooks.client_secrets[0]", "old");
        let current = Secret::generated("webhooks.client_secrets[1]", "key");
        assert_eq!(verify(Some(&header), body, &[old.clone(), current]), Ok(()));
        assert_eq!(verify(Some(&header), body, std::slice::from_ref(&old)), Err(SignatureError::Mismatch));
        let old: &[Secret] = std::slice::from_ref(&old);
        assert_eq!(verify(None, body, old), Err(SignatureError::Missing));
        assert_eq!(verify(Some(&header[5..]), body, old), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&header[..30]), body, old), Err(SignatureError::Malformed));
    }
}
