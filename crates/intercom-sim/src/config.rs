//! Simulator configuration: workspaces, apps (tokens, id codes, client secrets), limits, faults,
//! webhook timing and the clock. Loadable from TOML (`--config sim.toml`):
//!
//! ```toml
//! seed = 7                     # seed of the data generator
//! default_version = "2.14"     # Intercom-Version applied when a request sends none
//! faults = "503@0.01"          # see the faults module for the syntax
//!
//! [webhooks]
//! timeout = "5s"
//! retry_delay = "60s"
//!
//! [[workspaces]]
//! id = "ws7prod1"
//! name = "Production"
//! region = "US"
//! timezone = "America/Los_Angeles"
//! rate_limit_per_minute = 25000
//! seed_contacts = 1000
//!
//! [[workspaces.apps]]
//! id_code = "a86dr8yl"
//! name = "Backend sync"
//! token = "dG9rOm…"            # generated when absent
//! client_secret = "…"          # generated when absent
//! rate_limit_per_minute = 10000
//! webhook_urls = ["http://127.0.0.1:8080/webhooks/intercom"]
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use rand::Rng;
use serde::Deserialize;

use crate::clock::SharedClock;
use crate::errors::SimError;

/// Default per-app limit, requests per minute.
pub const DEFAULT_APP_LIMIT: u32 = 10_000;
/// Default per-workspace limit, requests per minute.
pub const DEFAULT_WORKSPACE_LIMIT: u32 = 25_000;

/// Everything needed to start a simulator; `Default` gives one workspace with one generated app.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Address to listen on (default 127.0.0.1).
    pub host: IpAddr,
    /// Port to listen on (default 0: an ephemeral port).
    pub port: u16,
    /// Workspaces and their apps; at least one of each.
    pub workspaces: Vec<WorkspaceConfig>,
    /// Seed of the deterministic data generator.
    pub seed: u64,
    /// `Intercom-Version` assumed when a request sends none.
    pub default_version: String,
    /// How long a new contact stays invisible to `POST /contacts/search`, like Intercom's
    /// eventually consistent search ("may not appear for a few minutes"). Default 0: at once.
    #[serde(with = "humantime_serde_compat")]
    pub search_delay: Duration,
    /// Fault spec active from the start (see [`crate::faults`]).
    pub faults: Option<String>,
    /// Webhook delivery timing.
    pub webhooks: WebhookConfig,
    /// Clock to use; `None` means the system clock. Not settable from TOML.
    #[serde(skip)]
    pub clock: Option<SharedClock>,
}

/// One workspace: its data, its limit, and the apps installed in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Workspace id (8 lowercase alphanumerics); generated when absent, equal to the first app's
    /// id code when that is given, as Intercom's workspace id and app id code coincide.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Hosting region reported by `/me` (`US`, `Europe`, `Australia`).
    pub region: String,
    /// IANA timezone reported by `/me`.
    pub timezone: String,
    /// Requests per minute shared by all apps of the workspace.
    pub rate_limit_per_minute: u32,
    /// Number of generated contacts at start.
    pub seed_contacts: usize,
    /// Apps (tokens) with access to this workspace.
    pub apps: Vec<AppConfig>,
}

/// One app: a token bound to a workspace, with its own limit and client secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// App id code (8 lowercase alphanumerics), generated when absent.
    pub id_code: Option<String>,
    /// Display name.
    pub name: String,
    /// Access token, generated in Intercom's format when absent.
    pub token: Option<String>,
    /// Client secret that signs webhooks, generated (hex) when absent.
    pub client_secret: Option<String>,
    /// Requests per minute for this app.
    pub rate_limit_per_minute: u32,
    /// Webhook URLs subscribed to every topic at start.
    pub webhook_urls: Vec<String>,
}

/// Webhook delivery timing; shorten the delays in tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Per-attempt timeout (Intercom: 5 s).
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Delay before the single retry (Intercom: 1 minute).
    #[serde(with = "humantime_serde_compat")]
    pub retry_delay: Duration,
    /// First throttle delay after a 429, doubled on each further 429 (Intercom: 1 minute).
    #[serde(with = "humantime_serde_compat")]
    pub throttle_delay: Duration,
    /// A notification delayed longer than this by throttling is dropped (Intercom: 2 hours).
    #[serde(with = "humantime_serde_compat")]
    pub max_throttle: Duration,
    /// Validate subscription URLs with a HEAD request, as Intercom does.
    pub validate_urls: bool,
}

/// Serde adapter for humantime strings ("5s", "1m").
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            retry_delay: Duration::from_secs(60),
            throttle_delay: Duration::from_secs(60),
            max_throttle: Duration::from_secs(2 * 3600),
            validate_urls: true,
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            id_code: None,
            name: "Switchboard Sim App".into(),
            token: None,
            client_secret: None,
            rate_limit_per_minute: DEFAULT_APP_LIMIT,
            webhook_urls: Vec::new(),
        }
    }
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            id: None,
            name: "Sim Workspace".into(),
            region: "US".into(),
            timezone: "America/Los_Angeles".into(),
            rate_limit_per_minute: DEFAULT_WORKSPACE_LIMIT,
            seed_contacts: 0,
            apps: vec![AppConfig::default()],
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            workspaces: vec![WorkspaceConfig::default()],
            seed: 42,
            default_version: "2.14".into(),
            search_delay: Duration::ZERO,
            faults: None,
            webhooks: WebhookConfig::default(),
            clock: None,
        }
    }
}

impl SimConfig {
    /// Reads a TOML config file.
    pub fn from_toml_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::ConfigRead { path: path.to_path_buf(), source })?;
        Self::from_toml_str(&text)
            .map_err(|e| SimError::ConfigParse { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Parses a TOML config.
    pub fn from_toml_str(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    fn first_app(&mut self) -> &mut AppConfig {
        if self.workspaces.is_empty() {
            self.workspaces.push(WorkspaceConfig::default());
        }
        let ws = &mut self.workspaces[0];
        if ws.apps.is_empty() {
            ws.apps.push(AppConfig::default());
        }
        &mut ws.apps[0]
    }

    /// Sets the listening port (0: ephemeral).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Uses a clock other than the system clock, e.g. a [`crate::clock::ManualClock`].
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets the default app's token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.first_app().token = Some(token.into());
        self
    }

    /// Sets the default app's id code.
    pub fn app_id(mut self, id_code: impl Into<String>) -> Self {
        self.first_app().id_code = Some(id_code.into());
        self
    }

    /// Sets the default app's client secret.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.first_app().client_secret = Some(secret.into());
        self
    }

    /// Sets the default app's per-minute limit.
    pub fn rate_limit_per_minute(mut self, limit: u32) -> Self {
        self.first_app().rate_limit_per_minute = limit;
        self
    }

    /// Sets the default workspace's per-minute limit.
    pub fn workspace_limit_per_minute(mut self, limit: u32) -> Self {
        self.first_app();
        self.workspaces[0].rate_limit_per_minute = limit;
        self
    }

    /// Seeds the default workspace with `n` generated contacts.
    pub fn seed_contacts(mut self, n: usize) -> Self {
        self.first_app();
        self.workspaces[0].seed_contacts = n;
        self
    }

    /// Sets the fault spec active from the start.
    pub fn faults(mut self, spec: impl Into<String>) -> Self {
        self.faults = Some(spec.into());
        self
    }

    /// Sets the delay before a failed webhook delivery is retried.
    pub fn webhook_retry_delay(mut self, delay: Duration) -> Self {
        self.webhooks.retry_delay = delay;
        self
    }

    /// Hides new contacts from search for this long (Intercom's search is eventually consistent).
    pub fn search_delay(mut self, delay: Duration) -> Self {
        self.search_delay = delay;
        self
    }

    /// Subscribes the default app's webhooks to `url` for every topic at start.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.first_app().webhook_urls.push(url.into());
        self
    }

    /// Adds another workspace.
    pub fn add_workspace(mut self, workspace: WorkspaceConfig) -> Self {
        self.workspaces.push(workspace);
        self
    }
}

/// Generates an access token in Intercom's observed format: base64 of `tok:<uuid with _>:1:0`.
pub fn generate_token() -> String {
    let uuid = uuid::Uuid::new_v4().to_string().replace('-', "_");
    base64::engine::general_purpose::STANDARD.encode(format!("tok:{uuid}:1:0"))
}

/// Generates a client secret: 32 random bytes as lowercase hex.
pub fn generate_client_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// Generates an app id code or workspace id: 8 lowercase alphanumerics like `a86dr8yl`.
pub fn generate_id_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_look_real() {
        let token = generate_token();
        assert!(token.starts_with("dG9r"), "{token}");
        assert_eq!(token.len(), 60);
        let secret = generate_client_secret();
        assert_eq!(secret.len(), 64);
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
        let id = generate_id_code();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn toml_describes_several_workspaces() {
        let cfg = SimConfig::from_toml_str(
            r#"
            seed = 9
            [webhooks]
            retry_delay = "2s"
            [[workspaces]]
            id = "wsone111"
            [[workspaces.apps]]
            id_code = "appone11"
            token = "t1"
            [[workspaces.apps]]
            id_code = "apptwo22"
            token = "t2"
            rate_limit_per_minute = 60
            [[workspaces]]
            name = "Staging"
            "#,
        )
        .expect("valid TOML");
        assert_eq!(cfg.seed, 9);
        assert_eq!(cfg.webhooks.retry_delay, Duration::from_secs(2));
        assert_eq!(cfg.workspaces.len(), 2);
        assert_eq!(cfg.workspaces[0].apps[1].rate_limit_per_minute, 60);
        assert_eq!(cfg.workspaces[1].apps.len(), 1, "a workspace without apps gets a default app");
    }
}
