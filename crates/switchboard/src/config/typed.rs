//! The validated, typed configuration: what the rest of the service reads.
//!
//! Its `Serialize` is what `config check` shows: secret references as their reference text,
//! durations as humantime text, URLs and paths as written. Secret *values* are not in here at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use intercom_api::Region;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::Environment;
use super::raw::RawConfig;
use super::render::{
    alerts_or_note, display, display_each, display_some, environments, mask_url, masked_url, masked_url_some,
    path, path_some,
};
use super::units::durations_text;
use super::validate::validate;
use crate::alerts::AlertSettings;
use crate::delivery::TopicPattern;
use crate::logging::LogFormat;
use crate::secrets::SecretRef;
use crate::store::StoreConfig;

/// The validated configuration. Secrets are references; see [`Config::load_secrets`].
#[derive(Debug, Clone, Serialize)]
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
    #[serde(serialize_with = "alerts_or_note")]
    pub alerts: AlertSettings,
    /// The alert channels' secret references, by channel index.
    #[serde(skip)]
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
    #[serde(skip)]
    pub source_file: Option<PathBuf>,
}

/// `[server]`
#[derive(Debug, Clone, Serialize)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(serialize_with = "display")]
    pub listen: SocketAddr,
    /// A second address for everything but the webhooks and probes (admin API, `/metrics`,
    /// `/alerts`, `/health`); unset, `listen` serves everything.
    #[serde(serialize_with = "display_some", skip_serializing_if = "Option::is_none")]
    pub internal_listen: Option<SocketAddr>,
    /// How long a client may take to send a request's headers (and a TLS handshake) before its
    /// connection is closed; also how long an idle keep-alive connection stays open.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub header_timeout: Duration,
    /// How long a client may take to send a request's whole body once its headers arrived.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub body_timeout: Duration,
    /// How long a connection's writes may make no progress (a client that stops reading) before
    /// the connection is closed.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub write_timeout: Duration,
    /// How long a request may take from its headers to its answer (body included) before it is
    /// answered 503 `timeout`.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub request_timeout: Duration,
    /// Most connections open at once on each listener; beyond, clients get 503 with `Retry-After`.
    pub max_connections: usize,
    /// Most request-body bytes in flight at once in the whole process (both listeners); beyond,
    /// a request with a body gets 503 with `Retry-After`.
    pub max_inflight_body: usize,
    /// How long in-flight requests may take to finish at shutdown.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub shutdown_timeout: Duration,
    /// How long `/readyz` reports shutting down before the listener closes (load-balancer drain).
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub shutdown_delay: Duration,
    /// Certificate and key to terminate HTTPS with, if `serve` terminates TLS itself.
    #[serde(flatten)]
    pub tls: Option<TlsFiles>,
    /// A proxy in front terminates TLS (allows plain HTTP on a public address in production).
    pub behind_tls_proxy: bool,
}

/// PEM files for HTTPS.
#[derive(Debug, Clone, Serialize)]
pub struct TlsFiles {
    /// The certificate chain.
    #[serde(rename = "tls_cert", serialize_with = "path")]
    pub cert: PathBuf,
    /// The private key.
    #[serde(rename = "tls_key", serialize_with = "path")]
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

impl Serialize for IntercomEndpoint {
    /// A region shows with the base URL it stands for; any other base URL as itself.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            IntercomEndpoint::Region(region) => {
                map.serialize_entry("region", region.as_str())?;
                map.serialize_entry("api_base_url", &self.base_url())?;
            }
            IntercomEndpoint::BaseUrl(url) => {
                let shown = mask_url(url);
                map.serialize_entry("base_url", shown.trim_end_matches('/'))?;
            }
        }
        map.end()
    }
}

/// `[intercom]`
#[derive(Debug, Clone, Serialize)]
pub struct IntercomConfig {
    /// The kill switch: with `false`, no request reaches Intercom.
    pub enabled: bool,
    /// The access token.
    #[serde(serialize_with = "display_some", skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretRef>,
    /// The API host.
    #[serde(flatten)]
    pub endpoint: IntercomEndpoint,
    /// The app (workspace) id the token must belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_app_id: Option<String>,
    /// The `Intercom-Version` header sent.
    pub version: String,
    /// Per-request timeout.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub timeout: Duration,
}

/// `[webhooks]`
#[derive(Debug, Clone, Serialize)]
pub struct WebhooksConfig {
    /// The ingress path.
    pub path: String,
    /// Client secrets accepted for signatures (two during a rotation).
    #[serde(serialize_with = "display_each")]
    pub client_secrets: Vec<SecretRef>,
    /// The URL Intercom is configured to call.
    #[serde(serialize_with = "masked_url_some", skip_serializing_if = "Option::is_none")]
    pub public_url: Option<url::Url>,
    /// Largest body accepted (413 beyond).
    pub max_body: usize,
    /// Notifications created longer ago than this are refused (replay protection).
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub max_event_age: Duration,
    /// Notifications created further in the future than this are refused (a sender's clock ahead).
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub max_clock_skew: Duration,
    /// Longest wait for the store's commit before answering 503.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub ack_deadline: Duration,
    /// Further Intercom apps, each at `{path}/{name}` with its own secrets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<WebhookApp>,
}

/// Another Intercom app whose webhooks arrive at `{webhooks.path}/{name}`.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookApp {
    /// The path segment and the app's name in the store.
    pub name: String,
    /// Its client secrets.
    #[serde(serialize_with = "display_each")]
    pub client_secrets: Vec<SecretRef>,
}

/// `[delivery]`
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryConfig {
    /// Delays between attempts; after the last one fails the delivery is dead-lettered.
    #[serde(serialize_with = "durations_text")]
    pub retry_schedule: Vec<Duration>,
    /// How long a claimed delivery stays with its worker before others may take it.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub lease: Duration,
    /// Deliveries attempted at once.
    pub concurrency: usize,
    /// How often due retries are looked for when nothing new arrives.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub poll_interval: Duration,
}

/// `[[destinations]]`
#[derive(Debug, Clone, Serialize)]
pub struct DestinationConfig {
    /// A unique name (used in metrics and the CLI).
    pub name: String,
    /// Where events are POSTed.
    #[serde(serialize_with = "masked_url")]
    pub url: url::Url,
    /// Which topics it receives.
    #[serde(serialize_with = "display_each")]
    pub topics: Vec<TopicPattern>,
    /// The signing secret.
    #[serde(serialize_with = "display_some", skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
    /// How long one attempt may take.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub timeout: Duration,
    /// Accepts an `http://` URL in production, where event bodies would cross the network in clear.
    pub allow_plain_http: bool,
}

/// `[health]`
#[derive(Debug, Clone, Serialize)]
pub struct HealthConfig {
    /// How long a `GET /me` probe result is reused, so frequent health checks cost one call.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub probe_interval: Duration,
}

/// `[status_page]`
#[derive(Debug, Clone, Serialize)]
pub struct StatusPageConfig {
    /// Whether the status page is polled.
    pub enabled: bool,
    /// The Statuspage `status.json` URL.
    #[serde(serialize_with = "masked_url")]
    pub url: url::Url,
    /// How often it is polled.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub interval: Duration,
}

/// `[admin]`
#[derive(Debug, Clone, Serialize)]
pub struct AdminConfig {
    /// The bearer key of the admin API.
    #[serde(serialize_with = "display_some", skip_serializing_if = "Option::is_none")]
    pub key: Option<SecretRef>,
}

/// `[secrets]`
#[derive(Debug, Clone, Serialize)]
pub struct SecretsConfig {
    /// How often secrets are re-read.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub refresh_interval: Duration,
    /// How long an `exec:` command may run.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub exec_timeout: Duration,
}

/// `[logging]`
#[derive(Debug, Clone, Serialize)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directive (`info`, `switchboard=debug,info`).
    pub level: String,
    /// Field names whose values are always masked, besides the built-in ones.
    pub redact_keys: Vec<String>,
}

/// `[preflight]`
#[derive(Debug, Clone, Serialize)]
pub struct PreflightConfig {
    /// Each deployment's config file by environment name, resolved against the config file's folder.
    #[serde(serialize_with = "environments")]
    pub environments: Vec<(String, PathBuf)>,
    /// Least share of the rate-limit window that must be left (`X-RateLimit-Remaining / Limit`).
    pub min_headroom: f64,
    /// The deployed service's `/health`; derived from `server.listen` when absent.
    #[serde(serialize_with = "masked_url_some", skip_serializing_if = "Option::is_none")]
    pub health_url: Option<url::Url>,
    /// A PEM CA certificate trusted besides the system's, for endpoints behind a private CA.
    #[serde(serialize_with = "path_some", skip_serializing_if = "Option::is_none")]
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

impl Config {
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
        self.store.url.data_dir()
    }
}
