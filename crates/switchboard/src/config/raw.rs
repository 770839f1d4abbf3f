//! The file's shape: what serde reads from the merged layers, before validation.
//!
//! Every section rejects unknown keys and falls back to its defaults, which are the documented
//! defaults of `switchboard.example.toml`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use intercom_api::Region;
use serde::{Deserialize, Serialize};

use super::Environment;
use super::units::{ByteSize, HumanDuration};
use crate::alerts::AlertSettings;
use crate::logging::LogFormat;

/// Every section's defaults are its own `Default`; the top level adds none of its own.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    pub(super) environment: Environment,
    pub(super) allow_env_secrets: bool,
    pub(super) server: RawServer,
    pub(super) intercom: RawIntercom,
    pub(super) webhooks: RawWebhooks,
    pub(super) store: RawStore,
    pub(super) destinations: Vec<RawDestination>,
    pub(super) delivery: RawDelivery,
    pub(super) health: RawHealth,
    pub(super) status_page: RawStatusPage,
    pub(super) alerts: AlertSettings,
    pub(super) admin: RawAdmin,
    pub(super) secrets: RawSecrets,
    pub(super) logging: RawLogging,
    pub(super) preflight: RawPreflight,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    pub(super) listen: String,
    pub(super) internal_listen: Option<String>,
    pub(super) header_timeout: HumanDuration,
    pub(super) body_timeout: HumanDuration,
    pub(super) write_timeout: HumanDuration,
    pub(super) request_timeout: HumanDuration,
    pub(super) max_connections: usize,
    pub(super) max_inflight_body: ByteSize,
    pub(super) shutdown_timeout: HumanDuration,
    pub(super) shutdown_delay: HumanDuration,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) behind_tls_proxy: bool,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            internal_listen: None,
            header_timeout: HumanDuration(Duration::from_secs(10)),
            body_timeout: HumanDuration(Duration::from_secs(30)),
            write_timeout: HumanDuration(Duration::from_secs(30)),
            request_timeout: HumanDuration(Duration::from_secs(60)),
            max_connections: 256,
            max_inflight_body: ByteSize(32 * 1024 * 1024),
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
pub(super) struct RawIntercom {
    pub(super) enabled: bool,
    pub(super) token: Option<String>,
    pub(super) region: Option<Region>,
    pub(super) base_url: Option<String>,
    pub(super) expected_app_id: Option<String>,
    pub(super) version: String,
    pub(super) timeout: HumanDuration,
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
pub(super) struct RawWebhooks {
    pub(super) path: String,
    pub(super) client_secrets: Vec<String>,
    pub(super) public_url: Option<String>,
    pub(super) max_body: ByteSize,
    pub(super) max_event_age: HumanDuration,
    pub(super) max_clock_skew: HumanDuration,
    pub(super) ack_deadline: HumanDuration,
    pub(super) apps: Vec<RawWebhookApp>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhookApp {
    pub(super) name: String,
    pub(super) client_secrets: Vec<String>,
}

impl Default for RawWebhooks {
    fn default() -> Self {
        RawWebhooks {
            path: "/webhooks/intercom".into(),
            client_secrets: Vec::new(),
            public_url: None,
            max_body: ByteSize(1024 * 1024),
            max_event_age: HumanDuration(Duration::from_secs(24 * 3600)),
            max_clock_skew: HumanDuration(Duration::from_secs(5 * 60)),
            ack_deadline: HumanDuration(Duration::from_secs(3)),
            apps: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStore {
    pub(super) url: String,
    pub(super) retention: HumanDuration,
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
pub(super) struct RawHealth {
    pub(super) probe_interval: HumanDuration,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth { probe_interval: HumanDuration(Duration::from_secs(15)) }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStatusPage {
    pub(super) enabled: bool,
    pub(super) url: String,
    pub(super) interval: HumanDuration,
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
pub(super) struct RawDelivery {
    pub(super) retry_schedule: Vec<HumanDuration>,
    pub(super) lease: HumanDuration,
    pub(super) concurrency: usize,
    pub(super) poll_interval: HumanDuration,
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
pub(super) struct RawDestination {
    pub(super) name: String,
    pub(super) url: String,
    #[serde(default = "all_topics")]
    pub(super) topics: Vec<String>,
    pub(super) secret: Option<String>,
    #[serde(default = "destination_timeout")]
    pub(super) timeout: HumanDuration,
    #[serde(default)]
    pub(super) allow_plain_http: bool,
}

fn destination_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

fn all_topics() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAdmin {
    pub(super) key: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSecrets {
    pub(super) refresh_interval: HumanDuration,
    pub(super) exec_timeout: HumanDuration,
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
pub(super) struct RawLogging {
    pub(super) format: Option<LogFormat>,
    pub(super) level: String,
    pub(super) redact_keys: Vec<String>,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging { format: None, level: "info".into(), redact_keys: Vec::new() }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPreflight {
    pub(super) environments: BTreeMap<String, String>,
    pub(super) min_headroom: f64,
    pub(super) health_url: Option<String>,
    pub(super) ca_cert: Option<PathBuf>,
}

impl Default for RawPreflight {
    fn default() -> Self {
        RawPreflight { environments: BTreeMap::new(), min_headroom: 0.2, health_url: None, ca_cert: None }
    }
}
