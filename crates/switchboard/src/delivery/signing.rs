//! Standard Webhooks signatures on deliveries (<https://www.standardwebhooks.com>): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
//! so destinations can verify deliveries with any Standard Webhooks library.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A `whsec_` secret whose rest is not base64: using its text as the key instead would sign with a
/// key the destination does not have, and every delivery would fail verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "starts with whsec_ but the rest is not base64; write whsec_ followed by the base64 key exactly as the \
     destination shows it, or the secret without the whsec_ prefix to use it as a raw key"
)]
pub struct InvalidSigningSecret;

/// The signing key from a destination secret: a `whsec_` secret is base64 (the Standard Webhooks
/// convention); anything else is used as raw bytes.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, InvalidSigningSecret> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => STANDARD.decode(b64).map_err(|_| InvalidSigningSecret),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// Checks a signing secret as loaded or rotated, so a bad one is refused where it is configured.
pub fn check_signing_secret(secret: &str) -> Result<(), String> {
    signing_key(secret).map(drop).map_err(|e| e.to_string())
}

/// The `webhook-signature` header value for a message.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length, so this cannot fail")]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification's verification section.
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(signing_key("plain-secret").unwrap(), b"plain-secret");
    }

    #[test]
    fn a_whsec_secret_that_is_not_base64_is_refused_not_used_raw() {
        assert_eq!(signing_key("whsec_not*base64!"), Err(InvalidSigningSecret));
        let message = check_signing_secret("whsec_not*base64!").unwrap_err();
        assert!(!message.contains("not*base64"), "{message}");
    }
}
