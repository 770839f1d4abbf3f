//! Where the access token comes from: a [`TokenSource`] consulted on every request, so a rotated
//! token takes effect without rebuilding the client. Tokens only ever show as a fingerprint.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Supplies the current Intercom access token; implement it over a secret store to rotate live.
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// The token to send with the next request.
    fn token(&self) -> SecretString;
}

/// A fixed token.
#[derive(Clone)]
pub struct StaticToken(SecretString);

impl StaticToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }
}

impl From<SecretString> for StaticToken {
    fn from(token: SecretString) -> Self {
        Self(token)
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StaticToken({})", fingerprint(self.0.expose_secret()))
    }
}

impl TokenSource for StaticToken {
    fn token(&self) -> SecretString {
        self.0.clone()
    }
}

/// A short, stable, non-reversible label for a secret: `sha256:` and the first 8 hex digits.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_a_fingerprint_only() {
        let token = StaticToken::new("dG9rOnNlY3JldA==");
        let shown = format!("{token:?}");
        assert!(!shown.contains("dG9rOnNlY3JldA"), "{shown}");
        assert!(shown.contains("sha256:"), "{shown}");
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("a").len(), "sha256:".len() + 8);
    }
}
