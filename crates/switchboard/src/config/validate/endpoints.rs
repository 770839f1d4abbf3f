//! Where the service listens, whom it calls and where it stores: `[server]`, `[intercom]`,
//! `[webhooks]` and `[store]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use intercom_api::Region;

use super::{Issues, is_plain_name};
use crate::config::raw::{RawIntercom, RawServer, RawStore, RawWebhooks};
use crate::config::{IntercomEndpoint, ServerConfig, TlsFiles, mask_url};
use crate::store::{StoreConfig, StoreUrl};

/// `server.listen`.
pub(super) fn server_listen(issues: &mut Issues, raw: &RawServer) -> SocketAddr {
    raw.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
        issues.push(
            "server.listen",
            format!("{:?} is not an address; write host:port like 0.0.0.0:8080", raw.listen),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    })
}

/// The rest of `[server]`: TLS files, and no plain HTTP on a public address in production.
pub(super) fn server(issues: &mut Issues, raw: &RawServer, listen: SocketAddr) -> ServerConfig {
    let tls = match (&raw.tls_cert, &raw.tls_key) {
        (Some(cert), Some(key)) => {
            for (key_name, path) in [("server.tls_cert", cert), ("server.tls_key", key)] {
                if !path.is_file() {
                    issues.push(key_name, format!("{} does not exist or is not a file", path.display()));
                }
            }
            Some(TlsFiles { cert: cert.clone(), key: key.clone() })
        }
        (None, None) => None,
        _ => {
            issues.push(
                "server.tls_cert",
                "and server.tls_key must be set together (PEM certificate chain and key)",
            );
            None
        }
    };
    if issues.production() && tls.is_none() && !raw.behind_tls_proxy && !listen.ip().is_loopback() {
        issues.push(
            "server.listen",
            format!(
                "{listen} would serve plain HTTP on a public address in production; set server.tls_cert and \
                 server.tls_key, or server.behind_tls_proxy = true when a proxy in front terminates TLS"
            ),
        );
    }
    let hour = Duration::from_secs(3600);
    issues.at_most("server.shutdown_timeout", raw.shutdown_timeout.0, hour, "1h", "30s");
    issues.at_most("server.shutdown_delay", raw.shutdown_delay.0, hour, "1h", "0s");
    let internal_listen = internal_listen(issues, raw, listen);
    if let Some(internal) = internal_listen
        && issues.production()
        && tls.is_none()
        && is_public(internal.ip())
    {
        // A TLS proxy in front covers the webhooks, not the operators' listener.
        issues.push(
            "server.internal_listen",
            format!(
                "{internal} would serve the admin API (and its bearer key) in plain HTTP on a public address in \
                 production; bind it to a loopback or private address (127.0.0.1, a pod or VPC address), or set \
                 server.tls_cert and server.tls_key"
            ),
        );
    }
    connection_limits(issues, raw);
    ServerConfig {
        listen,
        internal_listen,
        header_timeout: raw.header_timeout.0,
        body_timeout: raw.body_timeout.0,
        write_timeout: raw.write_timeout.0,
        request_timeout: raw.request_timeout.0,
        max_connections: raw.max_connections,
        max_inflight_body: raw.max_inflight_body.0,
        shutdown_timeout: raw.shutdown_timeout.0,
        shutdown_delay: raw.shutdown_delay.0,
        tls,
        behind_tls_proxy: raw.behind_tls_proxy,
    }
}

/// Every interface (`0.0.0.0`, `::`) or an address routed on the internet: not loopback, private
/// (RFC 1918, IPv6 unique local) or link-local.
fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_private() || v4.is_link_local()),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(std::net::IpAddr::V4(v4)),
            None => !(v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local()),
        },
    }
}

/// `server.internal_listen`: an address, and not the one `server.listen` already takes.
fn internal_listen(issues: &mut Issues, raw: &RawServer, listen: SocketAddr) -> Option<SocketAddr> {
    let text = raw.internal_listen.as_deref()?;
    let Ok(addr) = text.parse::<SocketAddr>() else {
        issues.push(
            "server.internal_listen",
            format!("{text:?} is not an address; write host:port like 127.0.0.1:9090"),
        );
        return None;
    };
    if addr == listen && addr.port() != 0 {
        issues.push(
            "server.internal_listen",
            format!(
                "{addr} is server.listen too; give the internal listener its own port (like 127.0.0.1:9090)"
            ),
        );
    }
    Some(addr)
}

/// The most connections on one listener: beyond this a typo, not a limit (each one costs a task and
/// buffers).
const MAX_CONNECTIONS_CEILING: usize = 1_000_000;

/// The largest body budget: beyond this a typo, not a limit (it is memory the process may hold).
const MAX_INFLIGHT_BODY_CEILING: usize = 16 * 1024 * 1024 * 1024;

/// `server.header_timeout`, `server.body_timeout`, `server.write_timeout`, `server.request_timeout`
/// `server.max_connections` and `server.max_inflight_body`: the slow-client limits, each above zero (zero would turn the limit
/// into an outage, not off).
fn connection_limits(issues: &mut Issues, raw: &RawServer) {
    for (key, value, default) in [
        ("server.header_timeout", raw.header_timeout.0, "10s"),
        ("server.body_timeout", raw.body_timeout.0, "30s"),
        ("server.write_timeout", raw.write_timeout.0, "30s"),
        ("server.request_timeout", raw.request_timeout.0, "60s"),
    ] {
        if value.is_zero() {
            issues.push(key, format!("must be more than zero; the default is \"{default}\""));
        } else if value > Duration::from_secs(3600) {
            issues.push(
                key,
                format!(
                    "{} would let a stalled client hold a connection for over an hour; at most \"1h\" (the default is \"{default}\")",
                    humantime::format_duration(value)
                ),
            );
        }
    }
    if !(1024 * 1024..=MAX_INFLIGHT_BODY_CEILING).contains(&raw.max_inflight_body.0) {
        issues.push(
            "server.max_inflight_body",
            format!(
                "{} bytes is out of range; write 1MiB to 16GiB (the default is \"32MiB\")",
                raw.max_inflight_body.0
            ),
        );
    }
    if !(1..=MAX_CONNECTIONS_CEILING).contains(&raw.max_connections) {
        issues.push(
            "server.max_connections",
            format!(
                "{} is out of range; write 1 to {MAX_CONNECTIONS_CEILING} (the default is 256)",
                raw.max_connections
            ),
        );
    }
}

/// `[intercom]` except the token (a secret reference, parsed with the others).
pub(super) fn intercom(issues: &mut Issues, raw: &RawIntercom) -> IntercomEndpoint {
    let endpoint = match (&raw.region, &raw.base_url) {
        (Some(_), Some(_)) => {
            issues.push(
                "intercom.base_url",
                "is set together with intercom.region; set only one (base_url is for the simulator or a proxy)",
            );
            IntercomEndpoint::Region(Region::Us)
        }
        (_, Some(text)) => match issues.url("intercom.base_url", text) {
            Some(url) => {
                if issues.production() && url.scheme() != "https" && !is_loopback(&url) {
                    issues.push(
                        "intercom.base_url",
                        format!("{} uses plain http in production; use https", mask_url(&url)),
                    );
                }
                IntercomEndpoint::BaseUrl(url)
            }
            None => IntercomEndpoint::Region(Region::Us),
        },
        (region, None) => IntercomEndpoint::Region(region.unwrap_or_default()),
    };
    if let Some(app_id) = &raw.expected_app_id
        && (app_id.is_empty() || !app_id.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        issues.push(
            "intercom.expected_app_id",
            format!(
                "{app_id:?} is not an app id; copy the workspace id (like a86dr8yl) from Intercom's settings"
            ),
        );
    }
    if !is_api_version(&raw.version) {
        issues.push(
            "intercom.version",
            format!("{:?} is not an Intercom API version; write one like \"2.14\"", raw.version),
        );
    }
    if raw.timeout.0.is_zero() {
        issues.push("intercom.timeout", "must be more than zero; the checklist recommends \"30s\"");
    }
    issues.at_most("intercom.timeout", raw.timeout.0, Duration::from_secs(600), "10m", "30s");
    endpoint
}

/// `[webhooks]`: how many client secrets, the path and the public URL.
pub(super) fn webhooks(issues: &mut Issues, raw: &RawWebhooks) -> Option<url::Url> {
    if raw.client_secrets.len() > 2 {
        issues.push(
            "webhooks.client_secrets",
            format!(
                "has {} entries; at most two may be active (the current one and, during a rotation, the next)",
                raw.client_secrets.len()
            ),
        );
    }
    if let Some(problem) = webhook_path_problem(&raw.path) {
        issues.push("webhooks.path", format!("{problem}; write one like \"/webhooks/intercom\""));
    }
    let text = raw.public_url.as_deref()?;
    let url = issues.url("webhooks.public_url", text)?;
    if issues.production() && url.scheme() != "https" {
        issues.push(
            "webhooks.public_url",
            format!(
                "{} is plain http; Intercom only delivers webhooks over HTTPS, so use https://",
                mask_url(&url)
            ),
        );
    }
    Some(url)
}

/// First path segments the service routes itself (`/livez`, `/admin/...`), plus `intercom`, the
/// outbound gateway's prefix: webhook routes under them would clash at start.
const RESERVED_SEGMENTS: &[&str] = &["livez", "readyz", "health", "metrics", "alerts", "admin", "intercom"];

/// Why `path` cannot be the webhook path: the router needs a literal, non-root path (it adds
/// `{path}/{app}` for further apps), and one that clashes with no route of the service's own.
fn webhook_path_problem(path: &str) -> Option<String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Some(format!("{path:?} is not a URL path"));
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Some(format!(
            "{path:?} would put webhooks at the root, beside /livez, /readyz, /health, /metrics, /alerts and \
             /admin"
        ));
    }
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
    };
    if !rest.split('/').all(plain) {
        return Some(format!(
            "{path:?} must be segments of letters, digits, '-', '_', '.' and '~' between single '/'s \
             (no route parameters, wildcards or escapes)"
        ));
    }
    let first = rest.split('/').next().unwrap_or_default();
    RESERVED_SEGMENTS
        .contains(&first)
        .then(|| format!("{path:?} is under /{first}, which the service keeps for its own routes"))
}

/// `[[webhooks.apps]]`: unique plain names other than `default`, one or two client secrets each.
pub(super) fn webhook_apps(issues: &mut Issues, raw: &RawWebhooks) {
    for (i, app) in raw.apps.iter().enumerate() {
        if !is_plain_name(&app.name) || app.name == "default" {
            issues.push(
                format!("webhooks.apps[{i}].name"),
                format!(
                    "{:?} must be letters, digits, '-' or '_' and not \"default\" (it becomes the path {}/{{name}})",
                    app.name, raw.path
                ),
            );
        }
        if raw.apps[..i].iter().any(|other| other.name == app.name) {
            issues.push(
                format!("webhooks.apps[{i}].name"),
                format!("{:?} is used twice; names must be unique", app.name),
            );
        }
        if app.client_secrets.is_empty() || app.client_secrets.len() > 2 {
            issues.push(
                format!("webhooks.apps[{i}].client_secrets"),
                "needs one client secret (two during a rotation)",
            );
        }
    }
}

/// The webhook limits: body size, acknowledgement deadline, and an event age the store outlives.
pub(super) fn webhook_limits(issues: &mut Issues, raw: &RawWebhooks, store: &RawStore) {
    if raw.max_body.0 < 1024 {
        issues.push("webhooks.max_body", "must be at least 1KiB; the default is \"1MiB\"");
    } else if raw.max_body.0 > MAX_BODY_LIMIT {
        // Intercom's notifications are a few KiB; each body in flight is held in memory.
        issues.push("webhooks.max_body", "must be at most \"64MiB\"; the default is \"1MiB\"");
    }
    if raw.ack_deadline.0.is_zero() || raw.ack_deadline.0 >= Duration::from_secs(5) {
        issues.push(
            "webhooks.ack_deadline",
            "must be more than zero and under 5s (Intercom gives up after 5 s); the default is \"3s\"",
        );
    }
    // Ages are compared in signed seconds and timestamps in signed milliseconds: these bounds keep
    // both far from wrapping.
    let day = Duration::from_secs(24 * 3600);
    issues.at_most("webhooks.max_event_age", raw.max_event_age.0, day * 365, "365d", "24h");
    issues.at_most("store.retention", store.retention.0, day * 3650, "3650d", "30d");
    // A notification dated max_clock_skew ahead is still young max_event_age after that date: it is
    // acceptable until arrival + skew + age, and its deduplication key must outlive all of it.
    let acceptable_for = raw.max_event_age.0.saturating_add(raw.max_clock_skew.0);
    if acceptable_for >= store.retention.0 {
        issues.push(
            "webhooks.max_event_age",
            format!(
                "plus webhooks.max_clock_skew ({}) must be shorter than store.retention ({}): a notification \
                 dated max_clock_skew ahead stays acceptable that long after it arrives, and deduplication \
                 keys live only as long as the events, so it could be replayed after its key is gone; \
                 shorten webhooks.max_event_age or webhooks.max_clock_skew, or lengthen store.retention",
                humantime::format_duration(acceptable_for),
                humantime::format_duration(store.retention.0)
            ),
        );
    }
    // Beyond an hour no clock is merely skewed, and every extra second is replay window.
    if raw.max_clock_skew.0 > Duration::from_secs(3600) {
        issues.push(
            "webhooks.max_clock_skew",
            "must be at most 1h: a notification dated that far ahead is not a skewed clock, and the allowance \
             lengthens the replay window; the default is \"5m\" (keep the server's clock in sync with NTP)",
        );
    }
}

/// The largest `webhooks.max_body` accepted.
const MAX_BODY_LIMIT: usize = 64 << 20;

/// `[store]`: only SQLite for now.
pub(super) fn store(issues: &mut Issues, raw: &RawStore) -> StoreConfig {
    let fallback = || StoreUrl::Sqlite(PathBuf::from("./switchboard-data/switchboard.db"));
    let url = match raw.url.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => StoreUrl::Sqlite(PathBuf::from(path)),
        _ if raw.url.starts_with("postgres://") || raw.url.starts_with("postgresql://") => {
            issues.push(
                "store.url",
                "PostgreSQL is not supported yet; use sqlite://PATH (PostgreSQL comes with multi-replica support)",
            );
            fallback()
        }
        _ => {
            issues.push(
                "store.url",
                format!("{:?} is not a store URL; write sqlite://./switchboard-data/switchboard.db", raw.url),
            );
            fallback()
        }
    };
    StoreConfig { url, retention: raw.retention.0 }
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
