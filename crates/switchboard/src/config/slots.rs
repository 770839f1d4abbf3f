//! The configuration's secrets by [`SecretSlot`]: which references it holds, and their resolution
//! into live [`Secret`]s.

use crate::alerts::ChannelKind;
use crate::delivery::signing;
use crate::secrets::{Secret, SecretCheck, SecretRef, SecretSlot};

use super::{Config, ConfigError, ConfigIssue, DestinationConfig, Environment};

/// The shortest admin key production accepts, in bytes of its text: 32, so that even a hex key (4
/// bits per character, the weakest common encoding) holds 128 bits. 16 bytes would let a 16-character
/// hex key (64 bits) through; 32 random bytes written as hex (64 characters) pass with room.
pub const MIN_ADMIN_KEY_BYTES: usize = 32;

/// The secrets of a configuration, resolved and live.
#[derive(Debug, Clone, Default)]
pub struct LoadedSecrets {
    /// `intercom.token`
    pub intercom_token: Option<Secret>,
    /// `webhooks.client_secrets`
    pub client_secrets: Vec<Secret>,
    /// `webhooks.apps[i].client_secrets`, by app name.
    pub app_secrets: Vec<(String, Vec<Secret>)>,
    /// `admin.key`
    pub admin_key: Option<Secret>,
    /// `destinations[i].secret`, by destination name.
    pub destination_secrets: Vec<(String, Secret)>,
    /// `alerts.channels[i].secret` (each keyed so the alert engine finds its own).
    pub alert_secrets: Vec<Secret>,
}

impl LoadedSecrets {
    /// Every secret, for the refresher.
    pub fn all(&self) -> Vec<Secret> {
        let mut all: Vec<Secret> = self.intercom_token.iter().cloned().collect();
        all.extend(self.client_secrets.iter().cloned());
        all.extend(self.app_secrets.iter().flat_map(|(_, s)| s.iter().cloned()));
        all.extend(self.admin_key.iter().cloned());
        all.extend(self.destination_secrets.iter().map(|(_, s)| s.clone()));
        all.extend(self.alert_secrets.iter().cloned());
        all
    }

    /// The signing secret of destination `name`.
    pub fn destination(&self, name: &str) -> Option<Secret> {
        self.destination_secrets.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone())
    }

    /// The secret loaded for `slot`, if any.
    pub fn get(&self, slot: SecretSlot) -> Option<Secret> {
        // Every secret is loaded under its slot's name, which is also how the alert engine finds
        // its channels' secrets; destinations and channels without a secret leave no gap to index.
        let key = slot.to_string();
        self.all().into_iter().find(|secret| secret.key() == key)
    }

    /// Files `secret` where `slot` belongs; slots must come in file order (as `secret_refs` gives them).
    fn put(&mut self, slot: SecretSlot, secret: Secret, destinations: &[DestinationConfig]) {
        match slot {
            SecretSlot::IntercomToken => self.intercom_token = Some(secret),
            SecretSlot::WebhookClientSecret(_) => self.client_secrets.push(secret),
            SecretSlot::AppClientSecret { app, .. } => {
                if let Some((_, secrets)) = self.app_secrets.get_mut(app) {
                    secrets.push(secret);
                }
            }
            SecretSlot::AdminKey => self.admin_key = Some(secret),
            SecretSlot::DestinationSecret(i) => {
                if let Some(destination) = destinations.get(i) {
                    self.destination_secrets.push((destination.name.clone(), secret));
                }
            }
            SecretSlot::AlertChannelSecret(_) => self.alert_secrets.push(secret),
        }
    }
}

impl Config {
    /// Every secret reference with its slot, in file order.
    pub fn secret_refs(&self) -> Vec<(SecretSlot, &SecretRef)> {
        let mut refs = Vec::new();
        if let Some(token) = &self.intercom.token {
            refs.push((SecretSlot::IntercomToken, token));
        }
        for (i, s) in self.webhooks.client_secrets.iter().enumerate() {
            refs.push((SecretSlot::WebhookClientSecret(i), s));
        }
        for (app, settings) in self.webhooks.apps.iter().enumerate() {
            for (secret, s) in settings.client_secrets.iter().enumerate() {
                refs.push((SecretSlot::AppClientSecret { app, secret }, s));
            }
        }
        if let Some(key) = &self.admin.key {
            refs.push((SecretSlot::AdminKey, key));
        }
        for (i, d) in self.destinations.iter().enumerate() {
            if let Some(secret) = &d.secret {
                refs.push((SecretSlot::DestinationSecret(i), secret));
            }
        }
        for (i, secret) in &self.alert_channel_secrets {
            refs.push((SecretSlot::AlertChannelSecret(*i), secret));
        }
        refs
    }

    /// The rule the value at `slot` must follow: signing keys (a destination's, a webhook alert
    /// channel's) must be usable as one.
    fn secret_check(&self, slot: SecretSlot) -> Option<SecretCheck> {
        let signs = match slot {
            SecretSlot::DestinationSecret(_) => true,
            SecretSlot::AlertChannelSecret(i) => {
                self.alerts.channels.get(i).is_some_and(|channel| channel.kind == ChannelKind::Webhook)
            }
            _ => false,
        };
        signs.then_some(signing::check_signing_secret as SecretCheck)
    }

    /// Resolves every secret reference; every failure is reported with its key.
    pub async fn load_secrets(&self) -> Result<LoadedSecrets, ConfigError> {
        let mut loaded = LoadedSecrets {
            app_secrets: self.webhooks.apps.iter().map(|app| (app.name.clone(), Vec::new())).collect(),
            ..LoadedSecrets::default()
        };
        let mut issues = Vec::new();
        for (slot, reference) in self.secret_refs() {
            let check = self.secret_check(slot);
            match Secret::load_checked(&slot.to_string(), reference.clone(), self.secrets.exec_timeout, check)
                .await
            {
                Ok(secret) => loaded.put(slot, secret, &self.destinations),
                Err(e) => issues.push(ConfigIssue { key: slot.to_string(), message: e.to_string() }),
            }
        }
        if self.environment == Environment::Production
            && let Some(key) = &loaded.admin_key
        {
            let bytes = key.with_value(str::len);
            if bytes < MIN_ADMIN_KEY_BYTES {
                issues.push(ConfigIssue {
                    key: SecretSlot::AdminKey.to_string(),
                    message: format!(
                        "the key is {bytes} characters; production needs at least {MIN_ADMIN_KEY_BYTES} \
                         characters (128 bits even when written as hex) so that it cannot be guessed; \
                         generate one with `openssl rand -hex 32` (32 random bytes as 64 hex characters) \
                         and store it where the reference points"
                    ),
                });
            }
        }
        if !issues.is_empty() {
            return Err(ConfigError::Invalid(issues));
        }
        Ok(loaded)
    }
}
