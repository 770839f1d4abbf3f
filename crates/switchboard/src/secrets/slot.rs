//! [`SecretSlot`]: the one place that names each secret of the configuration and knows where it sits.
//!
//! It lives beside the secrets rather than in `config` because the alert engine, which `config`
//! depends on, finds its channels' secrets by the same names.

use std::fmt;

/// A place in the configuration that holds a secret reference.
///
/// Its [`Display`](fmt::Display) is the key as written in messages and used as the key of the
/// loaded [`Secret`](super::Secret) (`webhooks.client_secrets[0]`); [`SecretSlot::path`] is where
/// it sits in the configuration's tables and arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretSlot {
    /// `intercom.token`
    IntercomToken,
    /// `webhooks.client_secrets[i]`
    WebhookClientSecret(usize),
    /// `webhooks.apps[app].client_secrets[secret]`
    AppClientSecret {
        /// The app's position in `[[webhooks.apps]]`.
        app: usize,
        /// The secret's position in the app's `client_secrets`.
        secret: usize,
    },
    /// `admin.key`
    AdminKey,
    /// `destinations[i].secret`
    DestinationSecret(usize),
    /// `alerts.channels[i].secret`
    AlertChannelSecret(usize),
}

/// One step from the configuration's root towards a value: a table key or an array position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStep {
    /// A key of a table.
    Key(&'static str),
    /// A position in an array.
    Index(usize),
}

impl SecretSlot {
    /// Where the slot sits in the configuration, from the root.
    pub fn path(self) -> Vec<PathStep> {
        use PathStep::{Index, Key};
        match self {
            SecretSlot::IntercomToken => vec![Key("intercom"), Key("token")],
            SecretSlot::WebhookClientSecret(i) => vec![Key("webhooks"), Key("client_secrets"), Index(i)],
            SecretSlot::AppClientSecret { app, secret } => {
                vec![Key("webhooks"), Key("apps"), Index(app), Key("client_secrets"), Index(secret)]
            }
            SecretSlot::AdminKey => vec![Key("admin"), Key("key")],
            SecretSlot::DestinationSecret(i) => vec![Key("destinations"), Index(i), Key("secret")],
            SecretSlot::AlertChannelSecret(i) => {
                vec![Key("alerts"), Key("channels"), Index(i), Key("secret")]
            }
        }
    }
}

impl fmt::Display for SecretSlot {
    /// The key as written in the file and in every message: dotted keys, `[i]` for positions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, step) in self.path().into_iter().enumerate() {
            match step {
                PathStep::Key(key) if n == 0 => f.write_str(key)?,
                PathStep::Key(key) => write!(f, ".{key}")?,
                PathStep::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_names_itself_as_the_config_key() {
        let cases = [
            (SecretSlot::IntercomToken, "intercom.token"),
            (SecretSlot::WebhookClientSecret(1), "webhooks.client_secrets[1]"),
            (SecretSlot::AppClientSecret { app: 2, secret: 0 }, "webhooks.apps[2].client_secrets[0]"),
            (SecretSlot::AdminKey, "admin.key"),
            (SecretSlot::DestinationSecret(3), "destinations[3].secret"),
            (SecretSlot::AlertChannelSecret(0), "alerts.channels[0].secret"),
        ];
        for (slot, key) in cases {
            assert_eq!(slot.to_string(), key);
        }
    }
}
