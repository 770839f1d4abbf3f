//! Layered configuration: defaults < TOML file < `SWITCHBOARD_<SECTION>__<KEY>` variables < flags.
//!
//! Loading happens in two steps. [`ConfigLoader::load`] merges the layers and validates every
//! value into a typed [`Config`] (secret *references* only), collecting every problem with the key
//! it belongs to. [`Config::load_secrets`] then resolves the references into live [`Secret`]s.
//! Either step failing is a [`ConfigError`], which the CLI turns into exit code 2.
//!
//! - `units`: durations and sizes as written in the file.
//! - `raw`: the file's shape, what serde reads; `loader`: the layers and their errors.
//! - `typed`: the validated [`Config`] and its sections; `validate`: one function per section.
//! - `slots`: the secrets by [`SecretSlot`]; `render`: `config check`'s TOML.
//!
//! Some sections' types belong to the module they configure: `[store]` is [`StoreConfig`]
//! (re-exported here; the store opens itself from it), `[alerts]` is `alerts::AlertSettings`.
//!
//! [`Secret`]: crate::secrets::Secret

mod loader;
mod raw;
mod render;
mod slots;
mod typed;
mod units;
mod validate;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::secrets::SecretSlot;
pub use crate::store::{StoreConfig, StoreUrl};
pub use loader::{ConfigLoader, DEFAULT_CONFIG_FILE, ENV_PREFIX, Overrides};
pub use render::{mask_url, mask_url_text};
pub use slots::LoadedSecrets;
pub use typed::{
    AdminConfig, Config, DeliveryConfig, DestinationConfig, HealthConfig, IntercomConfig, IntercomEndpoint,
    LoggingConfig, PreflightConfig, SecretsConfig, ServerConfig, StatusPageConfig, TlsFiles, WebhookApp,
    WebhooksConfig,
};
pub use units::{ByteSize, HumanDuration};

/// The deployment stage; production enforces the checklist's stricter rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine (the default).
    #[default]
    Development,
    /// A pre-production deployment.
    Staging,
    /// Production: secrets must come from a secret manager, webhooks must use HTTPS.
    Production,
}

impl Environment {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key, as written in the file (`webhooks.client_secrets[0]`).
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why the configuration cannot be used. The CLI exits with code 2 on any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` names a file that does not exist.
    #[error("config file {} not found; check the --config path", .0.display())]
    FileNotFound(PathBuf),
    /// One or more keys are invalid.
    #[error("invalid configuration:\n{}", list(.0))]
    Invalid(Vec<ConfigIssue>),
}

fn list(issues: &[ConfigIssue]) -> String {
    issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n")
}
