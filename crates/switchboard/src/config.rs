//! Layered configuration: defaults < TOML file < `SWITCHBOARD_<SECTION>__<KEY>` variables < flags.
//!
//! Loading happens in two steps. [`ConfigLoader::load`] merges the layers and validates every
//! value into a typed [`Config`] (secret *references* only), collecting every problem with the key
//! it belongs to. [`Config::load_secrets`] then resolves the references into live [`Secret`]s.
//! Either step failing is a [`ConfigError`], which the CLI turns into exit code 2.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::Format;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use intercom_api::Region;
use serde::{Deserialize, Serialize};

use crate::alerts::AlertSettings;
use crate::delivery::TopicPattern;
use crate::logging::LogFormat;
use crate::secrets::{Fingerprint, Secret, SecretKind, SecretRef};

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "switchboard.toml";
/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";
/// Environment variables with the prefix that are not config keys (they configure the CLI itself).
const ENV_NOT_CONFIG: &[&str] = &["SWITCHBOARD_CONFIG", "SWITCHBOARD_LOG"];

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

/// A duration written as text (`"30s"`, `"5m"`, `"1h 30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map(HumanDuration).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}); write one like \"30s\" or \"5m\""
            ))
        })
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// A size in bytes, written as a number or with a unit (`"1MiB"`, `"512KiB"`, `"2MB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl ByteSize {
    fn parse(text: &str) -> Option<usize> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: usize = digits.parse().ok()?;
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            _ => return None,
        };
        number.checked_mul(factor)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        let bad = |shown: String| {
            serde::de::Error::custom(format!("{shown} is not a size; write one like 1048576 or \"1MiB\""))
        };
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => usize::try_from(n).map(ByteSize).map_err(|_| bad(n.to_string())),
            Raw::Text(text) => ByteSize::parse(&text).map(ByteSize).ok_or_else(|| bad(format!("{text:?}"))),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0 as u64)
    }
}

// ---- the file's shape (what serde reads) -------------------------------------------------------

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    environment: Environment,
    allow_env_secrets: bool,
    server: RawServer,
    intercom: RawIntercom,
    webhooks: RawWebhooks,
    store: RawStore,
    destinations: Vec<RawDestination>,
    delivery: RawDelivery,
    health: RawHealth,
    status_page: RawStatusPage,
    alerts: AlertSettings,
    admin: RawAdmin,
    secrets: RawSecrets,
    logging: RawLogging,
    preflight: RawPreflight,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            environment: Environment::Development,
            allow_env_secrets: false,
            server: RawServer::default(),
            intercom: RawIntercom::default(),
            webhooks: RawWebhooks::default(),
            store: RawStore::default(),
            destinations: Vec::new(),
            delivery: RawDelivery::default(),
            health: RawHealth::default(),
            status_page: RawStatusPage::default(),
            alerts: AlertSettings::default(),
            admin: RawAdmin::default(),
            secrets: RawSecrets::default(),
            logging: RawLogging::default(),
            preflight: RawPreflight::default(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    shutdown_timeout: HumanDuration,
    shutdown_delay: HumanDuration,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    behind_tls_proxy: bool,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            shutdown_timeout: HumanDuration(Duration::from_secs(30)),
            shutdown_delay: HumanDuration(Duration::ZERO),
            tls_cert: None,
            tls_key: None,
            behind_tls_proxy: false,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawIntercom {
    enabled: bool,
    token: Option<String>,
    region: Option<Region>,
    base_url: Option<String>,
    expected_app_id: Option<String>,
    version: String,
    timeout: HumanDuration,
}

impl Default for RawIntercom {
    fn default() -> Self {
        RawIntercom {
            enabled: true,
            token: None,
            region: None,
            base_url: None,
            expected_app_id: None,
            version: "2.14".into(),
            timeout: HumanDuration(Duration::from_secs(30)),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawWebhooks {
    path: String,
    client_secrets: Vec<String>,
    public_url: Option<String>,
    max_body: ByteSize,
    max_event_age: HumanDuration,
    ack_deadline: HumanDuration,
    apps: Vec<RawWebhookApp>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawWebhookApp {
    name: String,
    client_secrets: Vec<String>,
}

impl Default for RawWebhooks {
    fn default() -> Self {
        RawWebhooks {
            path: "/webhooks/intercom".into(),
            client_secrets: Vec::new(),
            public_url: None,
            max_body: ByteSize(1024 * 1024),
            max_event_age: HumanDuration(Duration::from_secs(24 * 3600)),
            ack_deadline: HumanDuration(Duration::from_secs(3)),
            apps: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    url: String,
    retention: HumanDuration,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            url: "sqlite://./switchboard-data/switchboard.db".into(),
            retention: HumanDuration(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawHealth {
    probe_interval: HumanDuration,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth { probe_interval: HumanDuration(Duration::from_secs(15)) }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawStatusPage {
    enabled: bool,
    url: String,
    interval: HumanDuration,
}

impl Default for RawStatusPage {
    fn default() -> Self {
        RawStatusPage {
            enabled: true,
            url: "https://www.intercomstatus.com/api/v2/status.json".into(),
            interval: HumanDuration(Duration::from_secs(60)),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawDelivery {
    retry_schedule: Vec<HumanDuration>,
    lease: HumanDuration,
    concurrency: usize,
    poll_interval: HumanDuration,
}

impl Default for RawDelivery {
    fn default() -> Self {
        let schedule = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800];
        RawDelivery {
            retry_schedule: schedule.iter().map(|s| HumanDuration(Duration::from_secs(*s))).collect(),
            lease: HumanDuration(Duration::from_secs(60)),
            concurrency: 32,
            poll_interval: HumanDuration(Duration::from_secs(1)),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    name: String,
    url: String,
    #[serde(default = "all_topics")]
    topics: Vec<String>,
    secret: Option<String>,
    #[serde(default = "destination_timeout")]
    timeout: HumanDuration,
}

fn destination_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

fn all_topics() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawAdmin {
    key: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawSecrets {
    refresh_interval: HumanDuration,
    exec_timeout: HumanDuration,
}

impl Default for RawSecrets {
    fn default() -> Self {
        RawSecrets {
            refresh_interval: HumanDuration(Duration::from_secs(300)),
            exec_timeout: HumanDuration(crate::secrets::DEFAULT_EXEC_TIMEOUT),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawLogging {
    format: Option<LogFormat>,
    level: String,
    redact_keys: Vec<String>,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging { format: None, level: "info".into(), redact_keys: Vec::new() }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct RawPreflight {
    environments: std::collections::BTreeMap<String, String>,
    min_headroom: f64,
    health_url: Option<String>,
    ca_cert: Option<PathBuf>,
}

impl Default for RawPreflight {
    fn default() -> Self {
        RawPreflight {
            environments: std::collections::BTreeMap::new(),
            min_headroom: 0.2,
            health_url: None,
            ca_cert: None,
        }
    }
}

// ---- the validated configuration ---------------------------------------------------------------

/// The validated configuration. Secrets are references; see [`Config::load_secrets`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The deployment stage.
    pub environment: Environment,
    /// Allows `env:` secret references in production (off by default, as the checklist asks).
    pub allow_env_secrets: bool,
    /// The HTTP server.
    pub server: ServerConfig,
    /// Intercom's API.
    pub intercom: IntercomConfig,
    /// Webhook ingress.
    pub webhooks: WebhooksConfig,
    /// Where events are stored.
    pub store: StoreConfig,
    /// Services that receive webhooks.
    pub destinations: Vec<DestinationConfig>,
    /// Delivery to destinations.
    pub delivery: DeliveryConfig,
    /// `/health`.
    pub health: HealthConfig,
    /// Intercom's status page monitor.
    pub status_page: StatusPageConfig,
    /// Built-in alerts and where they are sent.
    pub alerts: AlertSettings,
    /// The alert channels' secret references, by channel index.
    pub alert_channel_secrets: Vec<(usize, SecretRef)>,
    /// The admin API.
    pub admin: AdminConfig,
    /// Secret refresh.
    pub secrets: SecretsConfig,
    /// Logging.
    pub logging: LoggingConfig,
    /// `switchboard preflight`.
    pub preflight: PreflightConfig,
    /// The config file that was read, if any.
    pub source_file: Option<PathBuf>,
}

/// `[server]`
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_timeout: Duration,
    /// How long `/readyz` reports shutting down before the listener closes (load-balancer drain).
    pub shutdown_delay: Duration,
    /// Certificate and key to terminate HTTPS with, if `serve` terminates TLS itself.
    pub tls: Option<TlsFiles>,
    /// A proxy in front terminates TLS (allows plain HTTP on a public address in production).
    pub behind_tls_proxy: bool,
}

/// PEM files for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Which Intercom API host to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntercomEndpoint {
    /// One of Intercom's regional hosts.
    Region(Region),
    /// Any other base URL: the simulator, a proxy.
    BaseUrl(url::Url),
}

impl IntercomEndpoint {
    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        match self {
            IntercomEndpoint::Region(region) => region.base_url().to_owned(),
            IntercomEndpoint::BaseUrl(url) => url.as_str().trim_end_matches('/').to_owned(),
        }
    }
}

/// `[intercom]`
#[derive(Debug, Clone)]
pub struct IntercomConfig {
    /// The kill switch: with `false`, no request reaches Intercom.
    pub enabled: bool,
    /// The access token.
    pub token: Option<SecretRef>,
    /// The API host.
    pub endpoint: IntercomEndpoint,
    /// The app (workspace) id the token must belong to.
    pub expected_app_id: Option<String>,
    /// The `Intercom-Version` header sent.
    pub version: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// `[webhooks]`
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// The ingress path.
    pub path: String,
    /// Client secrets accepted for signatures (two during a rotation).
    pub client_secrets: Vec<SecretRef>,
    /// The URL Intercom is configured to call.
    pub public_url: Option<url::Url>,
    /// Largest body accepted (413 beyond).
    pub max_body: usize,
    /// Notifications created longer ago than this are refused (replay protection).
    pub max_event_age: Duration,
    /// Longest wait for the store's commit before answering 503.
    pub ack_deadline: Duration,
    /// Further Intercom apps, each at `{path}/{name}` with its own secrets.
    pub apps: Vec<WebhookApp>,
}

/// Another Intercom app whose webhooks arrive at `{webhooks.path}/{name}`.
#[derive(Debug, Clone)]
pub struct WebhookApp {
    /// The path segment and the app's name in the store.
    pub name: String,
    /// Its client secrets.
    pub client_secrets: Vec<SecretRef>,
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file.
    Sqlite(PathBuf),
}

/// `[store]`
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store's location.
    pub url: StoreUrl,
    /// How long delivered events (and their deduplication keys) are kept.
    pub retention: Duration,
}

/// `[delivery]`
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Delays between attempts; after the last one fails the delivery is dead-lettered.
    pub retry_schedule: Vec<Duration>,
    /// How long a claimed delivery stays with its worker before others may take it.
    pub lease: Duration,
    /// Deliveries attempted at once.
    pub concurrency: usize,
    /// How often due retries are looked for when nothing new arrives.
    pub poll_interval: Duration,
}

/// `[[destinations]]`
#[derive(Debug, Clone)]
pub struct DestinationConfig {
    /// A unique name (used in metrics and the CLI).
    pub name: String,
    /// Where events are POSTed.
    pub url: url::Url,
    /// Which topics it receives.
    pub topics: Vec<TopicPattern>,
    /// The signing secret.
    pub secret: Option<SecretRef>,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// `[health]`
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// How long a `GET /me` probe result is reused, so frequent health checks cost one call.
    pub probe_interval: Duration,
}

/// `[status_page]`
#[derive(Debug, Clone)]
pub struct StatusPageConfig {
    /// Whether the status page is polled.
    pub enabled: bool,
    /// The Statuspage `status.json` URL.
    pub url: url::Url,
    /// How often it is polled.
    pub interval: Duration,
}

/// `[admin]`
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The bearer key of the admin API.
    pub key: Option<SecretRef>,
}

/// `[secrets]`
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    /// How often secrets are re-read.
    pub refresh_interval: Duration,
    /// How long an `exec:` command may run.
    pub exec_timeout: Duration,
}

/// `[logging]`
#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directive (`info`, `switchboard=debug,info`).
    pub level: String,
    /// Field names whose values are always masked, besides the built-in ones.
    pub redact_keys: Vec<String>,
}

/// `[preflight]`
#[derive(Debug, Clone)]
pub struct PreflightConfig {
    /// Each deployment's config file by environment name, resolved against the config file's folder.
    pub environments: Vec<(String, PathBuf)>,
    /// Least share of the rate-limit window that must be left (`X-RateLimit-Remaining / Limit`).
    pub min_headroom: f64,
    /// The deployed service's `/health`; derived from `server.listen` when absent.
    pub health_url: Option<url::Url>,
    /// A PEM CA certificate trusted besides the system's, for endpoints behind a private CA.
    pub ca_cert: Option<PathBuf>,
}

impl Default for Config {
    /// The configuration with every default and no secrets (what the sandbox starts from).
    fn default() -> Self {
        // The defaults are valid by construction; validating them keeps one source of truth.
        validate(RawConfig::default(), None)
            .unwrap_or_else(|issues| unreachable!("built-in defaults are invalid: {issues:?}"))
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

/// Values given on the command line, the highest layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `serve --listen`
    pub listen: Option<String>,
    /// `--log-format`
    pub log_format: Option<LogFormat>,
}

/// Finds and merges the configuration layers.
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
    overrides: Overrides,
}

impl ConfigLoader {
    /// A loader reading `file` (or `./switchboard.toml` if present), the process environment and `overrides`.
    pub fn new(file: Option<PathBuf>, overrides: Overrides) -> Self {
        ConfigLoader { file, env: std::env::vars().collect(), overrides }
    }

    /// Replaces the environment variables considered (tests use this to stay isolated).
    pub fn with_env(mut self, env: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = env.into_iter().collect();
        self
    }

    /// Merges and validates every layer.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let file = match &self.file {
            Some(path) if !path.is_file() => return Err(ConfigError::FileNotFound(path.clone())),
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::new();
        if let Some(path) = &file {
            figment = figment.merge(figment::providers::Toml::file_exact(path));
        }
        let env_entries = self
            .env
            .iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !ENV_NOT_CONFIG.contains(&name.as_str()))
            .map(|(name, value)| {
                let key = name[ENV_PREFIX.len()..].to_ascii_lowercase().replace("__", ".");
                // Scalars stay text (a version "2.14" must not become a float); lossy extraction below
                // turns "true" or "8" into a bool or number where the key wants one. Arrays and tables
                // are parsed, so SWITCHBOARD_WEBHOOKS__CLIENT_SECRETS='["file:/a","file:/b"]' works.
                let trimmed = value.trim_start();
                let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                    value.parse::<Value>().unwrap_or_else(|never| match never {})
                } else {
                    Value::from(value.clone())
                };
                (key, value, name.clone())
            })
            .collect();
        figment = figment.merge(Layer { name: "environment variable", entries: env_entries });
        let mut flags = Vec::new();
        if let Some(listen) = &self.overrides.listen {
            flags.push(("server.listen".to_owned(), Value::from(listen.clone()), "--listen".to_owned()));
        }
        if let Some(format) = self.overrides.log_format {
            flags.push((
                "logging.format".to_owned(),
                Value::from(format.as_str()),
                "--log-format".to_owned(),
            ));
        }
        figment = figment.merge(Layer { name: "command-line flag", entries: flags });

        let raw: RawConfig = figment.extract_lossy().map_err(|e| ConfigError::Invalid(figment_issues(e)))?;
        validate(raw, file).map_err(ConfigError::Invalid)
    }
}

/// A config layer of `(dotted key, value, where it came from)` entries: environment variables or flags.
struct Layer {
    name: &'static str,
    entries: Vec<(String, Value, String)>,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let origins: Vec<(String, String)> =
            self.entries.iter().map(|(key, _, origin)| (key.clone(), origin.clone())).collect();
        let name = self.name;
        Metadata::named(name).interpolater(move |_: &Profile, path: &[&str]| {
            let key = path.join(".");
            // Errors deep inside a value (an array element) still point at the variable that set it.
            origins
                .iter()
                .filter(|(k, _)| key == *k || key.starts_with(&format!("{k}.")))
                .map(|(_, origin)| format!("{name} {origin}"))
                .next()
                .unwrap_or_else(|| format!("{name} for {key}"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, value, _) in &self.entries {
            if let Some(nested) = figment::util::nest(key, value.clone()).into_dict() {
                dict = merge_dicts(dict, nested);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge_dicts(mut base: Dict, other: Dict) -> Dict {
    for (key, value) in other {
        match (base.remove(&key), value) {
            (Some(Value::Dict(_, a)), Value::Dict(tag, b)) => {
                base.insert(key, Value::Dict(tag, merge_dicts(a, b)));
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    base
}

fn figment_issues(error: figment::Error) -> Vec<ConfigIssue> {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { "(top level)".to_owned() } else { e.path.join(".") };
            let origin = e.metadata.as_ref().map(|md| {
                let profile = e.profile.clone().unwrap_or(Profile::Default);
                match &md.source {
                    Some(figment::Source::File(path)) => format!("in {}", path.display()),
                    _ => format!("from {}", md.interpolate(&profile, &e.path)),
                }
            });
            // Never figment's own wording for type and value errors: it quotes the value, which may be
            // a secret pasted where a reference belongs (client_secrets = "the secret itself").
            let mut message = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("invalid type: found {}, expected {expected}", value_kind(actual))
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("invalid value: found {}, expected {expected}", value_kind(actual))
                }
                // TOML syntax errors quote the offending line, which may hold a pasted secret: keep
                // the position and the reason, drop the excerpt.
                other => other
                    .to_string()
                    .lines()
                    .filter(|line| {
                        let t = line.trim_start();
                        !(t.starts_with('|')
                            || t.split_once('|').is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok()))
                    })
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            };
            if let figment::error::Kind::UnknownField(..) = e.kind {
                message.push_str("; remove it or fix its spelling (see switchboard.example.toml)");
            }
            if let Some(origin) = origin {
                message = format!("{message} ({origin})");
            }
            ConfigIssue { key, message }
        })
        .collect()
}

/// What kind of value was found, without the value itself.
fn value_kind(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "a value of another type",
    }
}

fn validate(raw: RawConfig, source_file: Option<PathBuf>) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut issue = |key: &str, message: String| issues.push(ConfigIssue { key: key.to_owned(), message });
    let production = raw.environment == Environment::Production;

    let listen = raw.server.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
        issue(
            "server.listen",
            format!("{:?} is not an address; write host:port like 0.0.0.0:8080", raw.server.listen),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });

    let endpoint = match (&raw.intercom.region, &raw.intercom.base_url) {
        (Some(_), Some(_)) => {
            issue(
                "intercom.base_url",
                "is set together with intercom.region; set only one (base_url is for the simulator or a proxy)"
                    .into(),
            );
            IntercomEndpoint::Region(Region::Us)
        }
        (_, Some(text)) => match parse_http_url(text) {
            Ok(url) => {
                if production && url.scheme() != "https" && !is_loopback(&url) {
                    issue("intercom.base_url", format!("{text:?} uses plain http in production; use https"));
                }
                IntercomEndpoint::BaseUrl(url)
            }
            Err(problem) => {
                issue("intercom.base_url", problem);
                IntercomEndpoint::Region(Region::Us)
            }
        },
        (region, None) => IntercomEndpoint::Region(region.unwrap_or_default()),
    };
    if let Some(app_id) = &raw.intercom.expected_app_id
        && (app_id.is_empty() || !app_id.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        issue(
            "intercom.expected_app_id",
            format!(
                "{app_id:?} is not an app id; copy the workspace id (like a86dr8yl) from Intercom's settings"
            ),
        );
    }
    if !is_api_version(&raw.intercom.version) {
        issue(
            "intercom.version",
            format!("{:?} is not an Intercom API version; write one like \"2.14\"", raw.intercom.version),
        );
    }
    if raw.intercom.timeout.0.is_zero() {
        issue("intercom.timeout", "must be more than zero; the checklist recommends \"30s\"".into());
    }

    let mut secret = |key: &str, text: &str| -> Option<SecretRef> {
        match SecretRef::parse(text) {
            Ok(reference) => {
                if production && reference.kind() == SecretKind::Env && !raw.allow_env_secrets {
                    issues.push(ConfigIssue {
                        key: key.to_owned(),
                        message: "env: references are not allowed when environment = \"production\"; use file: or exec: \
                                  (or set allow_env_secrets = true to accept the risk)"
                            .into(),
                    });
                }
                Some(reference)
            }
            Err(e) => {
                issues.push(ConfigIssue { key: key.to_owned(), message: e.to_string() });
                None
            }
        }
    };
    let token = raw.intercom.token.as_deref().and_then(|t| secret("intercom.token", t));
    let client_secrets: Vec<SecretRef> = raw
        .webhooks
        .client_secrets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| secret(&format!("webhooks.client_secrets[{i}]"), s))
        .collect();
    let apps: Vec<WebhookApp> = raw
        .webhooks
        .apps
        .iter()
        .enumerate()
        .map(|(i, app)| WebhookApp {
            name: app.name.clone(),
            client_secrets: app
                .client_secrets
                .iter()
                .enumerate()
                .filter_map(|(j, s)| secret(&format!("webhooks.apps[{i}].client_secrets[{j}]"), s))
                .collect(),
        })
        .collect();
    let admin_key = raw.admin.key.as_deref().and_then(|k| secret("admin.key", k));
    let alert_channel_secrets: Vec<(usize, SecretRef)> = raw
        .alerts
        .channels
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, secret(&crate::alerts::channel_secret_key(i), c.secret.as_deref()?)?)))
        .collect();
    let destination_secrets: Vec<Option<SecretRef>> = raw
        .destinations
        .iter()
        .enumerate()
        .map(|(i, d)| d.secret.as_deref().and_then(|s| secret(&format!("destinations[{i}].secret"), s)))
        .collect();

    let mut issue = |key: &str, message: String| issues.push(ConfigIssue { key: key.to_owned(), message });
    if production {
        if raw.intercom.token.is_none() {
            issue(
                "intercom.token",
                "is required in production; write file:/run/secrets/intercom_token or exec:<command>".into(),
            );
        }
        if raw.webhooks.client_secrets.is_empty() {
            issue(
                "webhooks.client_secrets",
                "is required in production: webhooks cannot be verified without the app's client secret; \
                 write [\"file:/run/secrets/intercom_client_secret\"]"
                    .into(),
            );
        }
    }
    if raw.webhooks.client_secrets.len() > 2 {
        issue(
            "webhooks.client_secrets",
            format!(
                "has {} entries; at most two may be active (the current one and, during a rotation, the next)",
                raw.webhooks.client_secrets.len()
            ),
        );
    }
    if !raw.webhooks.path.starts_with('/') || raw.webhooks.path.contains(['?', '#', ' ']) {
        issue(
            "webhooks.path",
            format!("{:?} is not a URL path; write one like \"/webhooks/intercom\"", raw.webhooks.path),
        );
    }
    let public_url = raw.webhooks.public_url.as_deref().and_then(|text| match parse_http_url(text) {
        Ok(url) => {
            if production && url.scheme() != "https" {
                issue(
                    "webhooks.public_url",
                    format!(
                        "{text:?} is plain http; Intercom only delivers webhooks over HTTPS, so use https://"
                    ),
                );
            }
            Some(url)
        }
        Err(problem) => {
            issue("webhooks.public_url", problem);
            None
        }
    });

    let store_url = match raw.store.url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => StoreUrl::Sqlite(PathBuf::from(path)),
        _ if raw.store.url.starts_with("postgres://") || raw.store.url.starts_with("postgresql://") => {
            issue(
                "store.url",
                "PostgreSQL is not supported yet; use sqlite://PATH (PostgreSQL comes with multi-replica support)"
                    .into(),
            );
            StoreUrl::Sqlite(PathBuf::from("./switchboard-data/switchboard.db"))
        }
        _ => {
            issue(
                "store.url",
                format!(
                    "{:?} is not a store URL; write sqlite://./switchboard-data/switchboard.db",
                    raw.store.url
                ),
            );
            StoreUrl::Sqlite(PathBuf::from("./switchboard-data/switchboard.db"))
        }
    };

    let mut destinations = Vec::new();
    for (i, (d, secret)) in raw.destinations.iter().zip(destination_secrets).enumerate() {
        if d.name.is_empty() || !d.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            issue(
                &format!("destinations[{i}].name"),
                format!(
                    "{:?} must be letters, digits, '-' or '_' (it appears in metrics and the CLI)",
                    d.name
                ),
            );
        }
        if raw.destinations[..i].iter().any(|other| other.name == d.name) {
            issue(
                &format!("destinations[{i}].name"),
                format!("{:?} is used by another destination; names must be unique", d.name),
            );
        }
        let url = match parse_http_url(&d.url) {
            Ok(url) => Some(url),
            Err(problem) => {
                issue(&format!("destinations[{i}].url"), problem);
                None
            }
        };
        if d.topics.is_empty() {
            issue(
                &format!("destinations[{i}].topics"),
                "is empty; list topics like [\"contact.*\"] or [\"*\"] for all".into(),
            );
        }
        let mut topics = Vec::new();
        for (j, topic) in d.topics.iter().enumerate() {
            match TopicPattern::parse(topic) {
                Ok(pattern) => topics.push(pattern),
                Err(e) => issue(&format!("destinations[{i}].topics[{j}]"), e.to_string()),
            }
        }
        if production && d.secret.is_none() {
            issue(
                &format!("destinations[{i}].secret"),
                "is required in production so the destination can verify that events come from Switchboard; \
                 write file:/run/secrets/<name>"
                    .into(),
            );
        }
        if let Some(url) = url {
            destinations.push(DestinationConfig {
                name: d.name.clone(),
                url,
                topics,
                secret,
                timeout: d.timeout.0,
            });
        }
    }

    for (i, app) in raw.webhooks.apps.iter().enumerate() {
        let valid = !app.name.is_empty()
            && app.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && app.name != "default";
        if !valid {
            issue(
                &format!("webhooks.apps[{i}].name"),
                format!(
                    "{:?} must be letters, digits, '-' or '_' and not \"default\" (it becomes the path {}/{{name}})",
                    app.name, raw.webhooks.path
                ),
            );
        }
        if raw.webhooks.apps[..i].iter().any(|other| other.name == app.name) {
            issue(
                &format!("webhooks.apps[{i}].name"),
                format!("{:?} is used twice; names must be unique", app.name),
            );
        }
        if app.client_secrets.is_empty() || app.client_secrets.len() > 2 {
            issue(
                &format!("webhooks.apps[{i}].client_secrets"),
                "needs one client secret (two during a rotation)".into(),
            );
        }
    }
    if raw.webhooks.max_body.0 < 1024 {
        issue("webhooks.max_body", "must be at least 1KiB; the default is \"1MiB\"".into());
    }
    if raw.webhooks.ack_deadline.0.is_zero() || raw.webhooks.ack_deadline.0 >= Duration::from_secs(5) {
        issue(
            "webhooks.ack_deadline",
            "must be more than zero and under 5s (Intercom gives up after 5 s); the default is \"3s\"".into(),
        );
    }
    if raw.webhooks.max_event_age.0 >= raw.store.retention.0 {
        issue(
            "webhooks.max_event_age",
            "must be shorter than store.retention: deduplication keys live as long as the events, so an older \
             notification could be replayed after its key is gone"
                .into(),
        );
    }
    if raw.delivery.retry_schedule.iter().any(|d| d.0 > Duration::from_secs(7 * 24 * 3600)) {
        issue(
            "delivery.retry_schedule",
            "has a delay over 7 days; keep each delay at 7 days or less (the default ends at \"8h\")".into(),
        );
    }
    if raw.delivery.retry_schedule.is_empty() || raw.delivery.retry_schedule.iter().any(|d| d.0.is_zero()) {
        issue(
            "delivery.retry_schedule",
            "must list one or more delays above zero, like [\"5s\", \"30s\", \"2m\"]".into(),
        );
    }
    if raw.delivery.concurrency == 0 {
        issue("delivery.concurrency", "must be at least 1; the default is 32".into());
    }
    if raw.delivery.poll_interval.0.is_zero() {
        issue("delivery.poll_interval", "must be more than zero; the default is \"1s\"".into());
    }
    for (i, d) in raw.destinations.iter().enumerate() {
        if d.timeout.0.is_zero() {
            issue(
                &format!("destinations[{i}].timeout"),
                "must be more than zero; the default is \"10s\"".into(),
            );
        } else if raw.delivery.lease.0 <= d.timeout.0 * 2 {
            issue(
                "delivery.lease",
                format!(
                    "must be more than twice destinations[{i}].timeout ({}), or another worker could take a \
                     delivery over while it is still being attempted",
                    humantime::format_duration(d.timeout.0)
                ),
            );
        }
    }
    let tls = match (&raw.server.tls_cert, &raw.server.tls_key) {
        (Some(cert), Some(key)) => {
            for (key_name, path) in [("server.tls_cert", cert), ("server.tls_key", key)] {
                if !path.is_file() {
                    issue(key_name, format!("{} does not exist or is not a file", path.display()));
                }
            }
            Some(TlsFiles { cert: cert.clone(), key: key.clone() })
        }
        (None, None) => None,
        _ => {
            issue(
                "server.tls_cert",
                "and server.tls_key must be set together (PEM certificate chain and key)".into(),
            );
            None
        }
    };
    if production && tls.is_none() && !raw.server.behind_tls_proxy && !listen.ip().is_loopback() {
        issue(
            "server.listen",
            format!(
                "{listen} would serve plain HTTP on a public address in production; set server.tls_cert and \
                 server.tls_key, or server.behind_tls_proxy = true when a proxy in front terminates TLS"
            ),
        );
    }

    for (key, message) in raw.alerts.validate() {
        issue(&key, message);
    }
    if raw.health.probe_interval.0.is_zero() {
        issue("health.probe_interval", "must be more than zero; the default is \"15s\"".into());
    }
    if raw.status_page.interval.0 < Duration::from_secs(1) {
        issue("status_page.interval", "must be at least \"1s\"; the default is \"60s\"".into());
    }
    let status_page_url = match parse_http_url(&raw.status_page.url) {
        Ok(url) => Some(url),
        Err(problem) => {
            issue("status_page.url", problem);
            None
        }
    };

    if raw.secrets.refresh_interval.0 < Duration::from_secs(1) {
        issue("secrets.refresh_interval", "must be at least \"1s\"; the default is \"5m\"".into());
    }
    if raw.secrets.exec_timeout.0.is_zero() {
        issue("secrets.exec_timeout", "must be more than zero; the default is \"10s\"".into());
    }
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&raw.logging.level) {
        issue(
            "logging.level",
            format!(
                "{:?} is not a log filter ({e}); write one like \"info\" or \"switchboard=debug,info\"",
                raw.logging.level
            ),
        );
    }
    for (i, key) in raw.logging.redact_keys.iter().enumerate() {
        if key.trim().is_empty() {
            issue(
                &format!("logging.redact_keys[{i}]"),
                "is empty; write a field name like \"address\"".into(),
            );
        }
    }

    let base_dir = source_file.as_deref().and_then(Path::parent).unwrap_or(Path::new(""));
    let mut environments = Vec::new();
    for (name, path) in &raw.preflight.environments {
        let key = format!("preflight.environments.{name}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            issue(&key, format!("{name:?} must be letters, digits, '-' or '_' (it is the value of --env)"));
        }
        if path.trim().is_empty() {
            issue(
                &key,
                "is empty; write the environment's config file, like \"switchboard.staging.toml\"".into(),
            );
        } else {
            environments.push((name.clone(), base_dir.join(path.trim())));
        }
    }
    let min_headroom = raw.preflight.min_headroom;
    if !min_headroom.is_finite() || !(0.0..=1.0).contains(&min_headroom) {
        issue(
            "preflight.min_headroom",
            format!("must be a share between 0 and 1, e.g. 0.2 for 20% (got {min_headroom})"),
        );
    }
    let health_url = raw.preflight.health_url.as_deref().and_then(|text| match parse_http_url(text) {
        Ok(url) => Some(url),
        Err(problem) => {
            issue("preflight.health_url", problem);
            None
        }
    });
    if let Some(path) = &raw.preflight.ca_cert
        && !path.is_file()
    {
        issue("preflight.ca_cert", format!("{} does not exist or is not a file", path.display()));
    }

    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Config {
        environment: raw.environment,
        allow_env_secrets: raw.allow_env_secrets,
        server: ServerConfig {
            listen,
            shutdown_timeout: raw.server.shutdown_timeout.0,
            shutdown_delay: raw.server.shutdown_delay.0,
            tls,
            behind_tls_proxy: raw.server.behind_tls_proxy,
        },
        intercom: IntercomConfig {
            enabled: raw.intercom.enabled,
            token,
            endpoint,
            expected_app_id: raw.intercom.expected_app_id,
            version: raw.intercom.version,
            timeout: raw.intercom.timeout.0,
        },
        webhooks: WebhooksConfig {
            path: raw.webhooks.path,
            client_secrets,
            public_url,
            max_body: raw.webhooks.max_body.0,
            max_event_age: raw.webhooks.max_event_age.0,
            ack_deadline: raw.webhooks.ack_deadline.0,
            apps,
        },
        store: StoreConfig { url: store_url, retention: raw.store.retention.0 },
        destinations,
        health: HealthConfig { probe_interval: raw.health.probe_interval.0 },
        alerts: raw.alerts,
        alert_channel_secrets,
        status_page: StatusPageConfig {
            enabled: raw.status_page.enabled,
            // Checked above: the issues list is non-empty (and we returned) when it did not parse.
            url: status_page_url.unwrap_or_else(|| unreachable!("status_page.url was validated")),
            interval: raw.status_page.interval.0,
        },
        delivery: DeliveryConfig {
            retry_schedule: raw.delivery.retry_schedule.iter().map(|d| d.0).collect(),
            lease: raw.delivery.lease.0,
            concurrency: raw.delivery.concurrency,
            poll_interval: raw.delivery.poll_interval.0,
        },
        admin: AdminConfig { key: admin_key },
        secrets: SecretsConfig {
            refresh_interval: raw.secrets.refresh_interval.0,
            exec_timeout: raw.secrets.exec_timeout.0,
        },
        logging: LoggingConfig {
            format: raw.logging.format.unwrap_or(if production { LogFormat::Json } else { LogFormat::Text }),
            level: raw.logging.level,
            redact_keys: raw.logging.redact_keys,
        },
        preflight: PreflightConfig { environments, min_headroom, health_url, ca_cert: raw.preflight.ca_cert },
        source_file,
    })
}

fn parse_http_url(text: &str) -> Result<url::Url, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        Ok(_) => Err(format!("{text:?} is not an http(s) URL; write one like https://host/path")),
        Err(e) => Err(format!("{text:?} is not a URL ({e}); write one like https://host/path")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn is_api_version(version: &str) -> bool {
    version == "Preview"
        || version.split_once('.').is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
        })
}

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
}

impl Config {
    /// Every secret reference with its key, in file order.
    pub fn secret_refs(&self) -> Vec<(String, &SecretRef)> {
        let mut refs = Vec::new();
        if let Some(token) = &self.intercom.token {
            refs.push(("intercom.token".to_owned(), token));
        }
        for (i, s) in self.webhooks.client_secrets.iter().enumerate() {
            refs.push((format!("webhooks.client_secrets[{i}]"), s));
        }
        for (i, app) in self.webhooks.apps.iter().enumerate() {
            for (j, s) in app.client_secrets.iter().enumerate() {
                refs.push((format!("webhooks.apps[{i}].client_secrets[{j}]"), s));
            }
        }
        if let Some(key) = &self.admin.key {
            refs.push(("admin.key".to_owned(), key));
        }
        for (i, d) in self.destinations.iter().enumerate() {
            if let Some(secret) = &d.secret {
                refs.push((format!("destinations[{i}].secret"), secret));
            }
        }
        for (i, secret) in &self.alert_channel_secrets {
            refs.push((crate::alerts::channel_secret_key(*i), secret));
        }
        refs
    }

    /// Resolves every secret reference; every failure is reported with its key.
    pub async fn load_secrets(&self) -> Result<LoadedSecrets, ConfigError> {
        let mut loaded: HashMap<String, Secret> = HashMap::new();
        let mut issues = Vec::new();
        for (key, reference) in self.secret_refs() {
            match Secret::load(&key, reference.clone(), self.secrets.exec_timeout).await {
                Ok(secret) => {
                    loaded.insert(key, secret);
                }
                Err(e) => issues.push(ConfigIssue { key, message: e.to_string() }),
            }
        }
        if !issues.is_empty() {
            return Err(ConfigError::Invalid(issues));
        }
        let mut take = |key: String| loaded.remove(&key);
        Ok(LoadedSecrets {
            intercom_token: take("intercom.token".into()),
            client_secrets: (0..self.webhooks.client_secrets.len())
                .filter_map(|i| take(format!("webhooks.client_secrets[{i}]")))
                .collect(),
            app_secrets: self
                .webhooks
                .apps
                .iter()
                .enumerate()
                .map(|(i, app)| {
                    let secrets = (0..app.client_secrets.len())
                        .filter_map(|j| take(format!("webhooks.apps[{i}].client_secrets[{j}]")))
                        .collect();
                    (app.name.clone(), secrets)
                })
                .collect(),
            admin_key: take("admin.key".into()),
            destination_secrets: self
                .destinations
                .iter()
                .enumerate()
                .filter_map(|(i, d)| take(format!("destinations[{i}].secret")).map(|s| (d.name.clone(), s)))
                .collect(),
            alert_secrets: self
                .alert_channel_secrets
                .iter()
                .filter_map(|(i, _)| take(crate::alerts::channel_secret_key(*i)))
                .collect(),
        })
    }

    /// The effective configuration as TOML, each secret shown as its reference and fingerprint.
    pub fn render(&self, fingerprint_of: impl Fn(&str) -> Option<Fingerprint>) -> String {
        let secret = |key: &str, reference: &Option<SecretRef>| -> toml::Value {
            match reference {
                Some(r) => toml::Value::String(match fingerprint_of(key) {
                    Some(fp) => format!("{r} ({fp})"),
                    None => r.to_string(),
                }),
                None => toml::Value::String(String::new()),
            }
        };
        let put_secret = |table: &mut toml::Table, name: &str, key: &str, reference: &Option<SecretRef>| {
            if reference.is_some() {
                table.insert(name.into(), secret(key, reference));
            }
        };
        let mut root = toml::Table::new();
        root.insert("environment".into(), self.environment.as_str().into());
        root.insert("allow_env_secrets".into(), self.allow_env_secrets.into());
        let mut server = toml::Table::new();
        server.insert("listen".into(), self.server.listen.to_string().into());
        server.insert("shutdown_timeout".into(), duration(self.server.shutdown_timeout));
        server.insert("shutdown_delay".into(), duration(self.server.shutdown_delay));
        if let Some(tls) = &self.server.tls {
            server.insert("tls_cert".into(), tls.cert.display().to_string().into());
            server.insert("tls_key".into(), tls.key.display().to_string().into());
        }
        server.insert("behind_tls_proxy".into(), self.server.behind_tls_proxy.into());
        root.insert("server".into(), server.into());
        let mut intercom = toml::Table::new();
        intercom.insert("enabled".into(), self.intercom.enabled.into());
        put_secret(&mut intercom, "token", "intercom.token", &self.intercom.token);
        match &self.intercom.endpoint {
            IntercomEndpoint::Region(region) => {
                intercom.insert("region".into(), region.as_str().into());
                intercom.insert("api_base_url".into(), self.intercom.endpoint.base_url().into());
            }
            IntercomEndpoint::BaseUrl(_) => {
                intercom.insert("base_url".into(), self.intercom.endpoint.base_url().into());
            }
        }
        if let Some(app_id) = &self.intercom.expected_app_id {
            intercom.insert("expected_app_id".into(), app_id.clone().into());
        }
        intercom.insert("version".into(), self.intercom.version.clone().into());
        intercom.insert("timeout".into(), duration(self.intercom.timeout));
        root.insert("intercom".into(), intercom.into());
        let mut webhooks = toml::Table::new();
        webhooks.insert("path".into(), self.webhooks.path.clone().into());
        let secrets: Vec<toml::Value> = self
            .webhooks
            .client_secrets
            .iter()
            .enumerate()
            .map(|(i, r)| secret(&format!("webhooks.client_secrets[{i}]"), &Some(r.clone())))
            .collect();
        webhooks.insert("client_secrets".into(), secrets.into());
        if let Some(url) = &self.webhooks.public_url {
            webhooks.insert("public_url".into(), url.as_str().into());
        }
        webhooks.insert("max_body".into(), (self.webhooks.max_body as i64).into());
        webhooks.insert("max_event_age".into(), duration(self.webhooks.max_event_age));
        webhooks.insert("ack_deadline".into(), duration(self.webhooks.ack_deadline));
        let apps: Vec<toml::Value> = self
            .webhooks
            .apps
            .iter()
            .enumerate()
            .map(|(i, app)| {
                let mut t = toml::Table::new();
                t.insert("name".into(), app.name.clone().into());
                let secrets: Vec<toml::Value> = app
                    .client_secrets
                    .iter()
                    .enumerate()
                    .map(|(j, r)| {
                        secret(&format!("webhooks.apps[{i}].client_secrets[{j}]"), &Some(r.clone()))
                    })
                    .collect();
                t.insert("client_secrets".into(), secrets.into());
                t.into()
            })
            .collect();
        if !apps.is_empty() {
            webhooks.insert("apps".into(), apps.into());
        }
        root.insert("webhooks".into(), webhooks.into());
        let mut store = toml::Table::new();
        let StoreUrl::Sqlite(path) = &self.store.url;
        store.insert("url".into(), format!("sqlite://{}", path.display()).into());
        store.insert("retention".into(), duration(self.store.retention));
        root.insert("store".into(), store.into());
        let destinations: Vec<toml::Value> = self
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut t = toml::Table::new();
                t.insert("name".into(), d.name.clone().into());
                t.insert("url".into(), d.url.as_str().into());
                t.insert("topics".into(), d.topics.iter().map(|p| p.to_string()).collect::<Vec<_>>().into());
                put_secret(&mut t, "secret", &format!("destinations[{i}].secret"), &d.secret);
                t.insert("timeout".into(), duration(d.timeout));
                t.into()
            })
            .collect();
        root.insert("destinations".into(), destinations.into());
        let mut delivery = toml::Table::new();
        delivery.insert(
            "retry_schedule".into(),
            self.delivery.retry_schedule.iter().map(|d| duration(*d)).collect::<Vec<_>>().into(),
        );
        delivery.insert("lease".into(), duration(self.delivery.lease));
        delivery.insert("concurrency".into(), (self.delivery.concurrency as i64).into());
        delivery.insert("poll_interval".into(), duration(self.delivery.poll_interval));
        root.insert("delivery".into(), delivery.into());
        let mut health = toml::Table::new();
        health.insert("probe_interval".into(), duration(self.health.probe_interval));
        root.insert("health".into(), health.into());
        let mut status_page = toml::Table::new();
        status_page.insert("enabled".into(), self.status_page.enabled.into());
        status_page.insert("url".into(), self.status_page.url.as_str().into());
        status_page.insert("interval".into(), duration(self.status_page.interval));
        root.insert("status_page".into(), status_page.into());
        match toml::Value::try_from(&self.alerts) {
            Ok(mut alerts) => {
                // Channel secrets are references; show each with its fingerprint like every other secret.
                if let Some(channels) = alerts.get_mut("channels").and_then(toml::Value::as_array_mut) {
                    for (i, channel) in channels.iter_mut().enumerate() {
                        let reference =
                            self.alert_channel_secrets.iter().find(|(j, _)| *j == i).map(|(_, r)| r.clone());
                        if let (Some(table), Some(_)) = (channel.as_table_mut(), &reference) {
                            table.insert(
                                "secret".into(),
                                secret(&crate::alerts::channel_secret_key(i), &reference),
                            );
                        }
                    }
                }
                root.insert("alerts".into(), alerts);
            }
            Err(e) => {
                root.insert("alerts".into(), format!("(cannot be shown: {e})").into());
            }
        }
        let mut admin = toml::Table::new();
        put_secret(&mut admin, "key", "admin.key", &self.admin.key);
        root.insert("admin".into(), admin.into());
        let mut secrets_section = toml::Table::new();
        secrets_section.insert("refresh_interval".into(), duration(self.secrets.refresh_interval));
        secrets_section.insert("exec_timeout".into(), duration(self.secrets.exec_timeout));
        root.insert("secrets".into(), secrets_section.into());
        let mut logging = toml::Table::new();
        logging.insert("format".into(), self.logging.format.as_str().into());
        logging.insert("level".into(), self.logging.level.clone().into());
        logging.insert("redact_keys".into(), self.logging.redact_keys.clone().into());
        root.insert("logging".into(), logging.into());
        let mut preflight = toml::Table::new();
        let environments: toml::Table = self
            .preflight
            .environments
            .iter()
            .map(|(name, path)| (name.clone(), path.display().to_string().into()))
            .collect();
        preflight.insert("environments".into(), environments.into());
        preflight.insert("min_headroom".into(), self.preflight.min_headroom.into());
        if let Some(url) = &self.preflight.health_url {
            preflight.insert("health_url".into(), url.as_str().into());
        }
        if let Some(path) = &self.preflight.ca_cert {
            preflight.insert("ca_cert".into(), path.display().to_string().into());
        }
        root.insert("preflight".into(), preflight.into());
        toml::to_string_pretty(&root).unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
    }

    /// Settings that are valid but probably not what a deployment wants, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.intercom.enabled {
            warnings.push(
                "intercom.enabled = false: the kill switch is off, no request reaches Intercom".to_owned(),
            );
        }
        if self.intercom.token.is_none() {
            warnings.push("intercom.token is not set: calls to Intercom's API will fail".to_owned());
        }
        if self.webhooks.client_secrets.is_empty() {
            warnings.push("webhooks.client_secrets is empty: every webhook will be refused (401)".to_owned());
        }
        if self.destinations.is_empty() {
            warnings.push("no [[destinations]]: webhooks are stored but not delivered anywhere".to_owned());
        }
        if self.environment == Environment::Production && self.intercom.expected_app_id.is_none() {
            warnings.push(
                "intercom.expected_app_id is not set: a token of another workspace would go unnoticed"
                    .to_owned(),
            );
        }
        warnings
    }

    /// The directory the data files go in (the SQLite file's folder).
    pub fn data_dir(&self) -> &Path {
        let StoreUrl::Sqlite(path) = &self.store.url;
        path.parent().unwrap_or(Path::new("."))
    }
}

fn duration(d: Duration) -> toml::Value {
    humantime::format_duration(d).to_string().into()
}
