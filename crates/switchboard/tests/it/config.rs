//! Configuration layering and validation: file < environment < flags, with errors naming the key.

use std::path::{Path, PathBuf};

use switchboard::config::{Config, ConfigError, ConfigLoader, Environment, IntercomEndpoint, Overrides};
use switchboard::logging::LogFormat;
use switchboard::secrets::SecretRef;

use crate::harness::{repo_root, write_secrets};

/// A production config with an `env:` secret, refused by the loader and by `config check` alike.
pub const ENV_SECRET_IN_PRODUCTION: &str = r#"
    environment = "production"
    [intercom]
    token = "file:/run/secrets/intercom_token"
    [webhooks]
    client_secrets = ["env:INTERCOM_CLIENT_SECRET"]
    "#;
/// Why [`ENV_SECRET_IN_PRODUCTION`] is refused.
pub const ENV_SECRET_REFUSED: &str = "webhooks.client_secrets[0]: env: references are not allowed when \
                                      environment = \"production\"; use file: or exec:";

fn write_config(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `text` as `switchboard.toml` in a folder of its own.
fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, text);
    (dir, path)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Loads `path` (or no file) with `vars` as the whole environment, and no flags.
fn load(path: Option<&Path>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    ConfigLoader::new(path.map(Path::to_path_buf), Overrides::default()).with_env(env(vars)).load()
}

fn issues(error: ConfigError) -> Vec<String> {
    match error {
        ConfigError::Invalid(issues) => issues.iter().map(ToString::to_string).collect(),
        other => panic!("expected invalid config, got {other}"),
    }
}

/// What loading `path` reports; it must be invalid.
fn invalid(path: &Path) -> Vec<String> {
    issues(load(Some(path), &[]).unwrap_err())
}

#[test]
fn flags_override_environment_which_overrides_the_file() {
    let (_dir, path) = config_file(
        r#"
        [server]
        listen = "127.0.0.1:1111"
        [intercom]
        region = "eu"
        version = "2.15"
        [logging]
        level = "debug"
        "#,
    );
    let file_only = load(Some(&path), &[]).unwrap();
    assert_eq!(file_only.server.listen.to_string(), "127.0.0.1:1111");
    assert_eq!(file_only.intercom.endpoint.base_url(), "https://api.eu.intercom.io");
    assert_eq!(file_only.intercom.version, "2.15");
    assert_eq!(file_only.logging.level, "debug");

    let vars = env(&[
        ("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:2222"),
        ("SWITCHBOARD_INTERCOM__VERSION", "2.14"),
        ("UNRELATED", "ignored"),
    ]);
    let with_env =
        ConfigLoader::new(Some(path.clone()), Overrides::default()).with_env(vars.clone()).load().unwrap();
    assert_eq!(with_env.server.listen.to_string(), "127.0.0.1:2222");
    assert_eq!(with_env.intercom.version, "2.14");
    assert_eq!(
        with_env.intercom.endpoint.base_url(),
        "https://api.eu.intercom.io",
        "untouched keys keep the file's value"
    );

    let flags = Overrides { listen: Some("127.0.0.1:3333".into()), log_format: Some(LogFormat::Json) };
    let with_flags = ConfigLoader::new(Some(path), flags).with_env(vars).load().unwrap();
    assert_eq!(with_flags.server.listen.to_string(), "127.0.0.1:3333");
    assert_eq!(with_flags.logging.format, LogFormat::Json);
    assert_eq!(with_flags.intercom.version, "2.14");
}

#[test]
fn environment_variables_can_set_arrays_and_nested_keys() {
    let vars = [
        ("SWITCHBOARD_WEBHOOKS__CLIENT_SECRETS", "[\"file:/a\", \"file:/b\"]"),
        ("SWITCHBOARD_INTERCOM__BASE_URL", "http://127.0.0.1:4010"),
        ("SWITCHBOARD_ENVIRONMENT", "staging"),
    ];
    let config = load(None, &vars).unwrap();
    assert_eq!(config.environment, Environment::Staging);
    assert_eq!(
        config.webhooks.client_secrets,
        vec![SecretRef::File("/a".into()), SecretRef::File("/b".into())]
    );
    assert!(matches!(config.intercom.endpoint, IntercomEndpoint::BaseUrl(_)));
    assert_eq!(config.intercom.endpoint.base_url(), "http://127.0.0.1:4010");
}

#[test]
fn defaults_are_safe_for_development() {
    let config = load(None, &[]).unwrap();
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(
        config.server.listen.to_string(),
        "127.0.0.1:8080",
        "not exposed on all interfaces by default"
    );
    assert_eq!(config.intercom.timeout.as_secs(), 30, "the checklist's 30 s timeout");
    assert_eq!(config.secrets.refresh_interval.as_secs(), 300);
    assert_eq!(config.logging.format, LogFormat::Text);
    assert_eq!(config.webhooks.path, "/webhooks/intercom");
}

#[test]
fn env_secrets_are_refused_in_production_with_the_key_and_the_fix() {
    let (_dir, path) = config_file(ENV_SECRET_IN_PRODUCTION);
    let issues = invalid(&path);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert!(issues[0].starts_with(ENV_SECRET_REFUSED), "{}", issues[0]);

    // The same file outside production is fine, and so is production with the explicit opt-in.
    let staging = load(Some(&path), &[("SWITCHBOARD_ENVIRONMENT", "staging")]);
    assert!(staging.is_ok(), "{staging:?}");
    let opted_in = load(Some(&path), &[("SWITCHBOARD_ALLOW_ENV_SECRETS", "true")]);
    assert!(opted_in.is_ok(), "{opted_in:?}");
}

#[test]
fn production_requires_secrets_and_https() {
    let (_dir, path) = config_file(
        r#"
        environment = "production"
        [webhooks]
        public_url = "http://hooks.example.com/webhooks/intercom"
        [[destinations]]
        name = "app"
        url = "https://app.internal/hooks"
        "#,
    );
    let issues = invalid(&path);
    let keys: Vec<&str> = issues.iter().map(|i| i.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        ["intercom.token", "webhooks.client_secrets", "webhooks.public_url", "destinations[0].secret"],
        "{issues:#?}"
    );
    assert!(issues[2].contains("use https://"), "{}", issues[2]);
}

#[test]
fn every_bad_value_is_reported_with_its_key_and_a_fix() {
    let (_dir, path) = config_file(
        r#"
        [server]
        listen = "everywhere"
        [intercom]
        token = "dG9rOjEyMzQ1Njc4X2FiY2Q6MTow"
        region = "us"
        base_url = "http://127.0.0.1:4010"
        expected_app_id = "not an id"
        [store]
        url = "mysql://db"
        [[destinations]]
        name = "app"
        url = "not a url"
        topics = ["contact.*.created"]
        "#,
    );
    let issues = invalid(&path);
    let text = issues.join("\n");
    for expected in [
        "server.listen: \"everywhere\" is not an address; write host:port like 0.0.0.0:8080",
        "intercom.base_url: is set together with intercom.region; set only one",
        "intercom.expected_app_id: \"not an id\" is not an app id",
        "intercom.token: is not a secret reference; write file:/path/to/secret, exec:<command> or env:VAR",
        "store.url: \"mysql://db\" is not a store URL",
        // Text that is not a URL may be a pasted secret: only its fingerprint is shown.
        "destinations[0].url: (not a URL) (sha256:",
        "destinations[0].topics[0]: \"contact.*.created\" is not a topic pattern",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("dG9rOjEyMzQ1Njc4X2FiY2Q6MTow"), "a pasted secret must not be echoed:\n{text}");
}

#[test]
fn type_errors_and_unknown_keys_name_the_key_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let report = |text: &str, vars: &[(&str, &str)]| {
        let path = write_config(&dir, text);
        issues(load(Some(&path), vars).unwrap_err()).join("\n")
    };

    let text = report("[intercom]\nregoin = \"eu\"\n", &[]);
    assert!(text.contains("intercom.regoin: unknown field"), "{text}");
    assert!(text.contains("remove it or fix its spelling"), "{text}");
    assert!(text.contains("switchboard.toml"), "the file is named:\n{text}");

    let text = report("", &[("SWITCHBOARD_INTERCOM__REGION", "mars")]);
    assert!(text.contains("intercom.region: unknown variant"), "{text}");
    assert!(
        text.contains("environment variable SWITCHBOARD_INTERCOM__REGION"),
        "the variable is named:\n{text}"
    );

    let text = report("[secrets]\nrefresh_interval = \"5 parsecs\"\n", &[]);
    assert!(text.contains("secrets.refresh_interval"), "{text}");
    assert!(text.contains("write one like \"30s\" or \"5m\""), "{text}");

    let text = report("", &[("SWITCHBOARD_ALLOW_ENV_SECRETS", "maybe")]);
    assert!(text.contains("allow_env_secrets"), "{text}");
}

#[test]
fn a_missing_explicit_config_file_is_an_error() {
    let error = load(Some(Path::new("/nonexistent/switchboard.toml")), &[]).unwrap_err();
    assert!(matches!(error, ConfigError::FileNotFound(_)));
    assert!(error.to_string().contains("/nonexistent/switchboard.toml"), "{error}");
}

#[test]
fn the_example_config_is_valid() {
    let example = repo_root().join("switchboard.example.toml");
    let config = load(Some(&example), &[]);
    let config = config.unwrap_or_else(|e| panic!("switchboard.example.toml must stay valid: {e}"));
    assert_eq!(config.environment, Environment::Production);
    assert_eq!(
        config.secret_refs().len(),
        5,
        "token, client secret, admin key, destination secret, Slack URL"
    );
}

#[test]
fn production_refuses_a_plain_http_internal_listener_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let base = r#"
        environment = "production"
        [intercom]
        token = "file:/run/secrets/intercom_token"
        [webhooks]
        client_secrets = ["file:/run/secrets/intercom_client_secret"]
        [server]
        listen = "0.0.0.0:8080"
        behind_tls_proxy = true
        "#;
    // The proxy terminates TLS for the webhooks only: the admin key would cross the network in clear.
    let path = write_config(&dir, &format!("{base}internal_listen = \"0.0.0.0:9090\"\n"));
    let found = invalid(&path);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("server.internal_listen: 0.0.0.0:9090 would serve"), "{}", found[0]);
    // Loopback and private addresses are the ones production wants, and pass.
    for internal in ["127.0.0.1:9090", "10.1.2.3:9090"] {
        let path = write_config(&dir, &format!("{base}internal_listen = \"{internal}\"\n"));
        assert!(load(Some(&path), &[]).is_ok(), "{internal}");
    }
}

#[test]
fn production_refuses_plain_http_on_a_public_address_unless_behind_a_tls_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let base = r#"
        environment = "production"
        [intercom]
        token = "file:/run/secrets/intercom_token"
        [webhooks]
        client_secrets = ["file:/run/secrets/intercom_client_secret"]
        [server]
        listen = "0.0.0.0:8080"
        "#;
    let path = write_config(&dir, base);
    let found = invalid(&path);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("server.listen: 0.0.0.0:8080 would serve plain HTTP"), "{}", found[0]);
    assert!(found[0].contains("server.behind_tls_proxy = true"), "{}", found[0]);

    let path = write_config(&dir, &format!("{base}behind_tls_proxy = true\n"));
    assert!(load(Some(&path), &[]).is_ok());
    let loopback = Overrides { listen: Some("127.0.0.1:8080".into()), log_format: None };
    let path = write_config(&dir, base);
    assert!(
        ConfigLoader::new(Some(path.clone()), loopback).with_env(vec![]).load().is_ok(),
        "loopback is fine"
    );
    let half_tls = write_config(&dir, &format!("{base}tls_cert = \"/etc/cert.pem\"\n"));
    let text = invalid(&half_tls).join("\n");
    assert!(text.contains("server.tls_cert: and server.tls_key must be set together"), "{text}");
}

#[test]
fn delivery_and_webhook_limits_are_checked() {
    let (dir, path) = config_file(
        r#"
        [webhooks]
        ack_deadline = "6s"
        max_event_age = "40d"
        max_body = "12 parsecs"
        "#,
    );
    let text = invalid(&path).join("\n");
    assert!(text.contains("webhooks.max_body") && text.contains("1MiB"), "{text}");
    let path = write_config(
        &dir,
        r#"
        [webhooks]
        ack_deadline = "6s"
        max_event_age = "40d"
        max_clock_skew = "2h"
        [delivery]
        retry_schedule = []
        lease = "50ms"
        [[destinations]]
        name = "app"
        url = "https://app.internal/hooks"
        timeout = "10s"
        "#,
    );
    let text = invalid(&path).join("\n");
    for expected in [
        "webhooks.ack_deadline: must be more than zero and under 5s",
        "webhooks.max_event_age: plus webhooks.max_clock_skew (",
        "must be shorter than store.retention (30days)",
        "webhooks.max_clock_skew: must be at most 1h",
        "delivery.retry_schedule: must list one or more delays",
        "delivery.lease: must be at least 100ms",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn the_event_age_plus_the_clock_skew_must_fit_in_the_retention() {
    // A notification dated max_clock_skew ahead stays acceptable for skew + age after it arrives:
    // its deduplication key has to outlive that, or it can be replayed once the key is gone.
    let (dir, path) = config_file(
        r#"
        [webhooks]
        max_event_age = "29d 23h 58m"
        max_clock_skew = "5m"
        [store]
        retention = "30d"
        "#,
    );
    let text = invalid(&path).join("\n");
    for expected in
        ["webhooks.max_event_age: plus webhooks.max_clock_skew", "store.retention (30days)", "30days 3m"]
    {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let fits = write_config(
        &dir,
        r#"
        [webhooks]
        max_event_age = "29d 23h 54m"
        max_clock_skew = "5m"
        [store]
        retention = "30d"
        "#,
    );
    // Other keys may be missing from so short a file; this one must not be among the issues.
    let text = load(Some(&fits), &[]).err().map(|e| issues(e).join("\n")).unwrap_or_default();
    assert!(!text.contains("webhooks.max_event_age"), "29d 23h 59m fits:\n{text}");
}

#[test]
fn type_errors_never_quote_the_value_which_may_be_a_pasted_secret() {
    let dir = tempfile::tempdir().unwrap();
    let pasted = "9f8e7d6c5b4a-raw-client-secret";
    let from_env =
        issues(load(None, &[("SWITCHBOARD_WEBHOOKS__CLIENT_SECRETS", pasted)]).unwrap_err()).join("\n");
    assert!(
        from_env.contains("webhooks.client_secrets: invalid type: found a string, expected a sequence"),
        "{from_env}"
    );
    assert!(!from_env.contains(pasted), "{from_env}");
    let path = write_config(
        &dir,
        &format!("[intercom]\ntoken = 12345678901234567890\n[webhooks]\nclient_secrets = \"{pasted}\"\n"),
    );
    let from_file = invalid(&path).join("\n");
    assert!(!from_file.contains(pasted) && !from_file.contains("12345678901234567890"), "{from_file}");
}

/// A configuration touching every kind of value `config check` shows; `{d}` is its folder.
const RENDERED_CONFIG: &str = r#"
environment = "staging"
[server]
listen = "0.0.0.0:9443"
internal_listen = "127.0.0.1:9090"
tls_cert = "{d}/cert.pem"
tls_key = "{d}/key.pem"
[intercom]
token = "file:{d}/intercom_token"
region = "eu"
expected_app_id = "a86dr8yl"
[webhooks]
client_secrets = ["file:{d}/client_secret", "exec:cat {d}/next_client_secret"]
public_url = "https://hooks.example.com/webhooks/intercom"
[[webhooks.apps]]
name = "eu-workspace"
client_secrets = ["file:{d}/eu_client_secret"]
[store]
url = "sqlite://{d}/data/switchboard.db"
[[destinations]]
name = "app"
url = "https://app.internal/hooks"
topics = ["contact.*", "conversation.*"]
secret = "exec:cat {d}/dest_secret"
[[destinations]]
name = "audit"
url = "http://audit.internal:9000/intercom"
[delivery]
retry_schedule = ["5s", "90s", "1h 30m"]
[[alerts.channels]]
kind = "webhook"
url = "https://alerts.internal/hook"
secret = "file:{d}/alert_secret"
[[alerts.channels]]
kind = "alertmanager"
url = "http://alertmanager:9093"
[admin]
key = "file:{d}/admin_key"
[logging]
redact_keys = ["address"]
[preflight]
environments = { production = "switchboard.production.toml" }
health_url = "https://switchboard.internal/health"
ca_cert = "{d}/ca.pem"
"#;

/// What `config check` prints for [`RENDERED_CONFIG`] after its header lines: secrets by
/// reference and fingerprint only.
const RENDERED: &str = r#"environment = "staging"
allow_env_secrets = false

[server]
listen = "0.0.0.0:9443"
internal_listen = "127.0.0.1:9090"
header_timeout = "10s"
body_timeout = "30s"
write_timeout = "30s"
request_timeout = "1m"
max_connections = 256
max_inflight_body = 33554432
shutdown_timeout = "30s"
shutdown_delay = "0s"
tls_cert = "{d}/cert.pem"
tls_key = "{d}/key.pem"
behind_tls_proxy = false

[intercom]
enabled = true
token = "file:{d}/intercom_token (sha256:e6bf3413)"
region = "eu"
api_base_url = "https://api.eu.intercom.io"
expected_app_id = "a86dr8yl"
version = "2.14"
timeout = "30s"

[webhooks]
path = "/webhooks/intercom"
client_secrets = [
    "file:{d}/client_secret (sha256:93154329)",
    "exec:cat … (sha256:f358b5bf)",
]
public_url = "https://hooks.example.com/webhooks/intercom"
max_body = 1048576
max_event_age = "1day"
max_clock_skew = "5m"
ack_deadline = "3s"

[[webhooks.apps]]
name = "eu-workspace"
client_secrets = ["file:{d}/eu_client_secret (sha256:09c3a22c)"]

[store]
url = "sqlite://{d}/data/switchboard.db"
retention = "30days"

[[destinations]]
name = "app"
url = "https://app.internal/hooks"
topics = [
    "contact.*",
    "conversation.*",
]
secret = "exec:cat … (sha256:81429676)"
timeout = "10s"
allow_plain_http = false

[[destinations]]
name = "audit"
url = "http://audit.internal:9000/intercom"
topics = ["*"]
timeout = "10s"
allow_plain_http = false

[delivery]
retry_schedule = [
    "5s",
    "1m 30s",
    "1h 30m",
]
lease = "1m"
concurrency = 32
poll_interval = "1s"

[health]
probe_interval = "15s"

[status_page]
enabled = true
url = "https://www.intercomstatus.com/api/v2/status.json"
interval = "1m"

[alerts]
enabled = true
evaluation_interval = "5s"
resend_interval = "1m"

[alerts.notify]
timeout = "10s"
backoff = "1s"
max_backoff = "5m"
queue_capacity = 1000

[[alerts.channels]]
kind = "webhook"
url = "https://alerts.internal/… (sha256:8c24bcf1)"
secret = "file:{d}/alert_secret (sha256:69d79695)"

[[alerts.channels]]
kind = "alertmanager"
url = "http://alertmanager/… (sha256:a3714eef)"

[alerts.intercom_unreachable]
enabled = true
severity = "P1"
threshold = 10.0
window = "1m"
for = "1m"
keep_firing_for = "5m"

[alerts.intercom_auth_failure]
enabled = true
severity = "P1"
threshold = 0.0
window = "1m"
for = "0s"
keep_firing_for = "5m"

[alerts.intercom_rate_limited]
enabled = true
severity = "P2"
threshold = 5.0
window = "1m"
for = "1m"
keep_firing_for = "5m"

[alerts.intercom_high_latency]
enabled = true
severity = "P2"
threshold = 3.0
window = "5m"
for = "1m"
keep_firing_for = "5m"

[alerts.intercom_high_latency_warning]
enabled = true
severity = "warning"
threshold = 2.0
window = "5m"
for = "1m"
keep_firing_for = "5m"

[alerts.intercom_error_rate]
enabled = true
severity = "P2"
threshold = 0.05
window = "5m"
min_requests = 20
for = "1m"
keep_firing_for = "5m"

[alerts.rate_limit_budget_high]
enabled = true
severity = "P2"
threshold = 0.8
for = "1m"
keep_firing_for = "5m"

[alerts.webhook_delivery_failures]
enabled = true
severity = "P3"
threshold = 0.0
window = "5m"
for = "0s"
keep_firing_for = "5m"

[alerts.webhook_signature_failures]
enabled = true
severity = "P2"
threshold = 10.0
window = "1m"
for = "1m"
keep_firing_for = "5m"

[alerts.dead_letters_present]
enabled = true
severity = "P3"
threshold = 0.0
for = "0s"
keep_firing_for = "5m"

[alerts.intercom_status_degraded]
enabled = true
severity = "P2"
threshold = 2.0
for = "0s"
keep_firing_for = "5m"

[admin]
key = "file:{d}/admin_key (sha256:96ab5a87)"

[secrets]
refresh_interval = "5m"
exec_timeout = "10s"

[logging]
format = "text"
level = "info"
redact_keys = ["address"]

[preflight]
min_headroom = 0.2
health_url = "https://switchboard.internal/health"
ca_cert = "{d}/ca.pem"

[preflight.environments]
production = "{d}/switchboard.production.toml"
"#;

#[tokio::test]
async fn config_check_renders_every_section_with_fingerprints_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let secrets = [
        ("intercom_token", "dG9rOnJlbmRlcl90ZXN0XzEyMzQ6MTow"),
        ("client_secret", "cs-render-current"),
        ("next_client_secret", "cs-render-next"),
        ("eu_client_secret", "cs-render-eu"),
        ("dest_secret", "whsec-render-destination"),
        ("alert_secret", "alert-render-signing-key"),
        ("admin_key", "admin-render-key"),
    ];
    write_secrets(dir.path(), &secrets);
    for file in ["cert.pem", "key.pem", "ca.pem"] {
        std::fs::write(dir.path().join(file), "not read by config check\n").unwrap();
    }
    let path = write_config(&dir, &RENDERED_CONFIG.replace("{d}", &d));
    let config = load(Some(&path), &[]).unwrap();
    let loaded = config.load_secrets().await.unwrap();

    let rendered = config.render(&loaded);
    for (name, value) in secrets {
        assert!(!rendered.contains(value), "the value of {name} is printed");
    }
    assert_eq!(rendered.replace(&d, "{d}"), RENDERED);
}

#[test]
fn listener_limits_and_the_internal_listener_are_checked() {
    let (dir, path) = config_file(
        r#"
        [server]
        listen = "127.0.0.1:8080"
        internal_listen = "127.0.0.1:8080"
        header_timeout = "0s"
        body_timeout = "2h"
        max_connections = 0
        write_timeout = "0s"
        request_timeout = "2h"
        max_inflight_body = "1KiB"
        "#,
    );
    let text = invalid(&path).join("\n");
    for expected in [
        "server.internal_listen: 127.0.0.1:8080 is server.listen too",
        "server.header_timeout: must be more than zero",
        "server.body_timeout: 2h would let a stalled client hold a connection for over an hour",
        "server.max_connections: 0 is out of range",
        "server.write_timeout: must be more than zero",
        "server.request_timeout: 2h would let a stalled client hold a connection for over an hour",
        "server.max_inflight_body: 1024 bytes is out of range",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    let path = write_config(&dir, "[server]\ninternal_listen = \"localhost:9090\"\n");
    let text = invalid(&path).join("\n");
    assert!(text.contains("server.internal_listen: \"localhost:9090\" is not an address"), "{text}");
}

#[tokio::test]
async fn a_whsec_signing_secret_that_is_not_base64_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let bad = "whsec_not*base64!really";
    write_secrets(dir.path(), &[("dest_secret", bad), ("alert_secret", bad)]);
    let path = write_config(
        &dir,
        &format!(
            r#"
            [[destinations]]
            name = "app"
            url = "https://app.internal/hooks"
            secret = "file:{d}/dest_secret"
            [[alerts.channels]]
            kind = "webhook"
            url = "https://alerts.internal/hook"
            secret = "file:{d}/alert_secret"
            "#
        ),
    );
    let config = load(Some(&path), &[]).unwrap();
    let text = issues(config.load_secrets().await.unwrap_err()).join("\n");
    for key in ["destinations[0].secret", "alerts.channels[0].secret"] {
        assert!(
            text.contains(&format!("{key}: file:{d}/")) && text.contains("whsec_ but the rest is not base64"),
            "{key} is named with what is wrong:\n{text}"
        );
    }
    assert!(text.contains("without the whsec_ prefix"), "what to do:\n{text}");
    assert!(!text.contains("not*base64"), "the value is never shown:\n{text}");

    // A good secret rotated to a bad one keeps the good one in use.
    let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    write_secrets(dir.path(), &[("dest_secret", good), ("alert_secret", good)]);
    let loaded = config.load_secrets().await.unwrap();
    let secret = loaded.destination("app").unwrap();
    write_secrets(dir.path(), &[("dest_secret", bad)]);
    let error = secret.refresh().await.unwrap_err().to_string();
    assert!(error.contains("not base64") && !error.contains("not*base64"), "{error}");
    secret.with_value(|value| assert_eq!(value, good));
}

/// A production configuration that validates, to which a test appends one `[[destinations]]`.
const PRODUCTION_BASE: &str = r#"
    environment = "production"
    [intercom]
    token = "file:/run/secrets/intercom_token"
    [webhooks]
    client_secrets = ["file:/run/secrets/intercom_client_secret"]
    "#;

#[test]
fn production_refuses_plain_http_destinations_unless_the_destination_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let destination = |url: &str, extra: &str| {
        format!(
            "{PRODUCTION_BASE}\n[[destinations]]\nname = \"app\"\nurl = \"{url}\"\n\
             secret = \"file:/run/secrets/app\"\n{extra}\n"
        )
    };
    // Loopback too: "local" is a claim about today's deployment that the config cannot check.
    for url in ["http://app.internal/hooks", "http://127.0.0.1:9000/hooks"] {
        let path = write_config(&dir, &destination(url, ""));
        let found = invalid(&path);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with("destinations[0].url: "), "{}", found[0]);
        assert!(found[0].contains("plain http in production"), "{}", found[0]);
        assert!(found[0].contains("destinations[0].allow_plain_http = true"), "what to do: {}", found[0]);

        let path = write_config(&dir, &destination(url, "allow_plain_http = true"));
        let config = load(Some(&path), &[]).unwrap_or_else(|e| panic!("{url} with the opt-in: {e}"));
        assert!(config.destinations[0].allow_plain_http);

        let path = write_config(&dir, &destination(url, ""));
        let staging = load(Some(&path), &[("SWITCHBOARD_ENVIRONMENT", "staging")]);
        assert!(staging.is_ok_and(|c| !c.destinations[0].allow_plain_http), "only production refuses it");
    }
    let path = write_config(&dir, &destination("https://app.internal/hooks", ""));
    assert!(load(Some(&path), &[]).is_ok());
}

#[tokio::test]
async fn config_check_masks_credentials_in_urls() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        r#"
        [intercom]
        base_url = "http://proxy-user:proxy-pass@127.0.0.1:4010/"
        [webhooks]
        public_url = "https://hooks.example.com/webhooks/intercom?key=pub-key-1"
        [[destinations]]
        name = "app"
        url = "https://hook-user:hook-pass@app.internal:8443/hooks?token=tok-123&v=2&bare-tok-456#frag-789"
        [[destinations]]
        name = "plain"
        url = "https://app.internal/plain"
        [status_page]
        url = "https://status.example.com/api/v2/status.json?api_key=status-key-1"
        [preflight]
        health_url = "https://ops:ops-pass@switchboard.internal/health"
        "#,
    );
    let config = load(Some(&path), &[]).unwrap();
    let rendered = config.render(&config.load_secrets().await.unwrap());
    for shown in [
        "base_url = \"http://***@127.0.0.1:4010\"",
        "public_url = \"https://hooks.example.com/webhooks/intercom?key=***\"",
        "url = \"https://***@app.internal:8443/hooks?token=***&v=***&***#***\"",
        "url = \"https://app.internal/plain\"",
        "url = \"https://status.example.com/api/v2/status.json?api_key=***\"",
        "health_url = \"https://***@switchboard.internal/health\"",
    ] {
        assert!(rendered.contains(shown), "missing {shown:?} in:\n{rendered}");
    }
    for hidden in [
        "proxy-user",
        "proxy-pass",
        "pub-key-1",
        "hook-user",
        "hook-pass",
        "tok-123",
        "bare-tok-456",
        "frag-789",
        "status-key-1",
        "ops-pass",
    ] {
        assert!(!rendered.contains(hidden), "{hidden} is shown:\n{rendered}");
    }
    // The service itself still uses the real URL.
    assert_eq!(config.destinations[0].url.password(), Some("hook-pass"));
}

#[test]
fn webhook_paths_that_cannot_be_served_are_refused_in_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path_of = |path: &str| write_config(&dir, &format!("[webhooks]\npath = \"{path}\"\n"));
    for (path, reason) in [
        ("/", "the root"),
        ("//", "the root"),
        ("/livez", "/livez"),
        ("/readyz/intercom", "/readyz"),
        ("/health", "/health"),
        ("/metrics", "/metrics"),
        ("/alerts/hooks", "/alerts"),
        ("/admin", "/admin"),
        ("/admin/webhooks", "/admin"),
        ("/hooks/{app}", "letters"),
        ("/hooks/:app", "letters"),
        ("/hooks/*rest", "letters"),
        ("/hooks//intercom", "letters"),
        ("/hooks/%41", "letters"),
        ("webhooks", "URL path"),
    ] {
        let found = invalid(&path_of(path));
        assert_eq!(found.len(), 1, "{path}: {found:#?}");
        assert!(found[0].starts_with("webhooks.path: "), "{path}: {}", found[0]);
        assert!(found[0].contains(reason), "{path}: {}", found[0]);
        assert!(found[0].contains("\"/webhooks/intercom\""), "{path}: what to write: {}", found[0]);
    }
    for path in ["/webhooks/intercom", "/hooks.v2/intercom-eu_1/", "/healthz-hooks", "/administration"] {
        let config = load(Some(&path_of(path)), &[]);
        assert!(config.is_ok(), "{path}: {config:?}");
    }
}

#[test]
fn extreme_values_are_refused_with_the_key_its_limit_and_the_default() {
    let (_dir, path) = config_file(
        r#"
        [server]
        shutdown_timeout = "18446744073709551615s"
        shutdown_delay = "1000years"
        [intercom]
        timeout = "9223372036854775808s"
        [webhooks]
        max_body = "99999999MiB"
        max_event_age = "9223372036854775808s"
        [store]
        retention = "18446744073709551615s"
        [delivery]
        concurrency = 2305843009213693952
        lease = "1000years"
        poll_interval = "18446744073709551615s"
        [[destinations]]
        name = "app"
        url = "https://app.internal/hooks"
        timeout = "18446744073709551615s"
        [health]
        probe_interval = "18446744073709551615s"
        [status_page]
        interval = "18446744073709551615s"
        [secrets]
        refresh_interval = "18446744073709551615s"
        exec_timeout = "1000years"
        [alerts]
        resend_interval = "18446744073709551615s"
        [alerts.notify]
        timeout = "1000years"
        backoff = "18446744073709551615s"
        max_backoff = "18446744073709551615s"
        "#,
    );
    let text = invalid(&path).join("\n");
    for expected in [
        "server.shutdown_timeout: must be at most \"1h\"; the default is \"30s\"",
        "server.shutdown_delay: must be at most \"1h\"; the default is \"0s\"",
        "intercom.timeout: must be at most \"10m\"; the default is \"30s\"",
        "webhooks.max_body: must be at most \"64MiB\"; the default is \"1MiB\"",
        "webhooks.max_event_age: must be at most \"365d\"; the default is \"24h\"",
        "store.retention: must be at most \"3650d\"; the default is \"30d\"",
        "delivery.concurrency: must be between 1 and 1024; the default is 32",
        "delivery.lease: must be at most \"24h\"; the default is \"60s\"",
        "delivery.poll_interval: must be at most \"1h\"; the default is \"1s\"",
        "destinations[0].timeout: must be at most \"1h\"; the default is \"10s\"",
        "health.probe_interval: must be at most \"24h\"; the default is \"15s\"",
        "status_page.interval: must be at most \"24h\"; the default is \"60s\"",
        "secrets.refresh_interval: must be at most \"24h\"; the default is \"5m\"",
        "secrets.exec_timeout: must be at most \"10m\"; the default is \"10s\"",
        "alerts.resend_interval: must be at most \"24h\"; the default is \"1m\"",
        "alerts.notify.timeout: must be at most \"10m\"; the default is \"10s\"",
        "alerts.notify.backoff: must be at most \"1h\"; the default is \"1s\"",
        "alerts.notify.max_backoff: must be at most \"24h\"; the default is \"5m\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let (_dir, path) = config_file("[webhooks]\nmax_body = -1\n");
    let text = invalid(&path).join("\n");
    assert!(text.contains("webhooks.max_body: -1 is not a size; write one like 1048576"), "{text}");
}

/// Arbitrary values for the configuration's numbers, durations, sizes and strings, as TOML: mostly
/// ordinary ones (so that many documents are valid and the service starts on them), often extreme
/// ones, sometimes nonsense.
mod arbitrary {
    use proptest::prelude::*;
    use proptest::sample::select;
    use toml::Value;

    /// One of `ordinary`, any number of seconds or nanoseconds up to `u64::MAX`, an extreme, or not
    /// a duration at all.
    pub fn duration(ordinary: &'static [&'static str]) -> BoxedStrategy<Value> {
        prop_oneof![
            12 => select(ordinary).prop_map(str::to_owned),
            1 => any::<u64>().prop_map(|n| format!("{n}s")),
            1 => any::<u64>().prop_map(|n| format!("{n}ns")),
            1 => select(&["0s", "1ns", "365d", "3650d", "1000years", "9223372036854775808s"][..])
                .prop_map(str::to_owned),
            1 => "\\PC{0,12}",
        ]
        .prop_map(Value::String)
        .boxed()
    }

    /// Sizes as numbers of any sign and as text with any number and unit.
    pub fn size() -> BoxedStrategy<Value> {
        prop_oneof![
            12 => (1024i64..4_000_000).prop_map(Value::Integer),
            1 => any::<i64>().prop_map(Value::Integer),
            1 => (any::<u64>(), select(&["", "b", "k", "KiB", "MiB", "MB"][..]))
                .prop_map(|(n, unit)| Value::String(format!("{n}{unit}"))),
            1 => "\\PC{0,10}".prop_map(Value::String),
        ]
        .boxed()
    }

    /// Counts, around the limits and the semaphore's maximum too.
    pub fn count() -> BoxedStrategy<Value> {
        prop_oneof![
            12 => 1i64..100,
            1 => any::<i64>(),
            1 => select(&[0, 1024, 1025, 2_305_843_009_213_693_951, 2_305_843_009_213_693_952, i64::MAX][..]),
        ]
        .prop_map(Value::Integer)
        .boxed()
    }

    /// One of `ordinary` or any text.
    pub fn text(ordinary: &'static [&'static str]) -> BoxedStrategy<Value> {
        prop_oneof![6 => select(ordinary).prop_map(str::to_owned), 1 => "\\PC{0,16}"]
            .prop_map(Value::String)
            .boxed()
    }

    /// Any float, NaN and the infinities included.
    pub fn float() -> BoxedStrategy<Value> {
        prop_oneof![6 => 0.0f64..1.0, 1 => any::<f64>()].prop_map(Value::Float).boxed()
    }

    /// `(dotted key, value strategy)` for every key a document may set; `destination.` keys go to its
    /// one `[[destinations]]`.
    pub fn keys() -> Vec<(&'static str, BoxedStrategy<Value>)> {
        vec![
            ("environment", text(&["development", "staging", "production"])),
            ("server.shutdown_timeout", duration(&["1s", "30s", "1h"])),
            ("server.shutdown_delay", duration(&["0s", "5s", "1h"])),
            ("intercom.version", text(&["2.14", "Preview", "3.0"])),
            ("intercom.expected_app_id", text(&["a86dr8yl", "abc123"])),
            ("intercom.timeout", duration(&["1ms", "30s", "10m"])),
            (
                "webhooks.path",
                text(&[
                    "/webhooks/intercom/",
                    "/hooks.v2/eu_1",
                    "/",
                    "/admin",
                    "/{app}",
                    "/a/:b",
                    "/livez/x",
                    "/x*",
                ]),
            ),
            ("webhooks.max_body", size()),
            ("webhooks.max_event_age", duration(&["1s", "24h", "29d"])),
            ("webhooks.ack_deadline", duration(&["1ms", "3s", "4999ms"])),
            ("store.retention", duration(&["30d", "365d", "3650d"])),
            ("delivery.lease", duration(&["21s", "60s", "24h"])),
            ("delivery.concurrency", count()),
            ("delivery.poll_interval", duration(&["1ms", "1s", "1h"])),
            ("health.probe_interval", duration(&["1ms", "15s", "24h"])),
            ("status_page.interval", duration(&["1s", "60s", "24h"])),
            ("secrets.refresh_interval", duration(&["1s", "5m", "24h"])),
            ("secrets.exec_timeout", duration(&["1ms", "10s", "10m"])),
            ("logging.level", text(&["info", "switchboard=debug,info", "warn"])),
            ("preflight.min_headroom", float()),
            ("destination.url", text(&["https://app.internal/hooks", "https://u:p@127.0.0.1:9/h?t=1#f"])),
            ("destination.timeout", duration(&["1ms", "10s", "10s"])),
            ("destination.allow_plain_http", any::<bool>().prop_map(Value::Boolean).boxed()),
        ]
    }
}

/// Loads `document` as a configuration from `dir` (with its own store, an ephemeral port and valid
/// secret files) and, if it is valid, renders it, builds the service and has it answer `/livez`.
/// Returns whether the service started.
async fn load_and_start(mut document: toml::Table, dir: &Path) -> bool {
    use switchboard::startup::Application;
    let d = dir.display();
    let fixed: toml::Table = toml::from_str(&format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        [intercom]
        token = "file:{d}/intercom_token"
        [webhooks]
        client_secrets = ["file:{d}/client_secret"]
        [store]
        url = "sqlite://{d}/data/switchboard.db"
        [status_page]
        url = "http://127.0.0.1:9/status.json"
        [admin]
        key = "file:{d}/admin_key"
        "#
    ))
    .unwrap();
    for (section, values) in fixed {
        let table = document.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let (Some(table), toml::Value::Table(values)) = (table.as_table_mut(), values) {
            table.extend(values);
        }
    }
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, toml::to_string(&document).unwrap()).unwrap();
    let Ok(config) = load(Some(&path), &[]) else { return false };
    let secrets = config.load_secrets().await.unwrap();
    let _ = config.render(&secrets);
    let Ok(app) = Application::build(&config, secrets).await else { return false };
    let livez = format!("http://{}/livez", app.local_addr());
    // Never told to stop: dropping the runtime at the end of the case stops the service.
    tokio::spawn(app.run_until(std::future::pending()));
    let answer = reqwest::get(&livez).await.unwrap();
    assert_eq!(answer.status(), 200);
    true
}

#[test]
fn arbitrary_configuration_values_never_panic_loading_validation_or_startup() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::prelude::*;

    // Its own process: it installs a panic hook, which counts panics on every thread, the service's
    // spawned tasks included (tokio catches those; they would otherwise go unnoticed).
    crate::harness::in_own_process(|| {
        let panics = Arc::new(AtomicUsize::new(0));
        let started = AtomicUsize::new(0);
        let counted = panics.clone();
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            counted.fetch_add(1, Ordering::SeqCst);
            report(info);
        }));
        let (names, strategies): (Vec<_>, Vec<_>) = arbitrary::keys().into_iter().unzip();
        // Each key is set in one document out of five, so that most documents are valid as a whole.
        let values: Vec<_> = strategies.into_iter().map(|s| proptest::option::weighted(0.2, s)).collect();
        // Modest: each valid case opens a store and starts the service (a few seconds in all).
        let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
        proptest!(config, |(values in values)| {
            let mut document = toml::Table::new();
            let mut destination: toml::Table = toml::from_str(
                "name = \"app\"\nurl = \"https://app.internal/hooks\"\nsecret = \"file:{d}/dest_secret\"",
            )
            .unwrap();
            for (name, value) in names.iter().zip(values) {
                let Some(value) = value else { continue };
                match name.split_once('.') {
                    Some(("destination", key)) => {
                        destination.insert(key.into(), value);
                    }
                    Some((section, key)) => {
                        let table = document.entry(section).or_insert_with(|| toml::Table::new().into());
                        table.as_table_mut().unwrap().insert(key.into(), value);
                    }
                    None => {
                        document.insert((*name).into(), value);
                    }
                }
            }
            let dir = tempfile::tempdir().unwrap();
            write_secrets(
                dir.path(),
                &[
                    ("intercom_token", "dG9rOnByb3BlcnR5XzEyMzQ6MTow"),
                    ("client_secret", "property-client-secret"),
                    ("admin_key", "property-admin-key-0123456789abcdef"),
                    ("dest_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
                ],
            );
            let secret = destination["secret"].as_str().unwrap().replace("{d}", &dir.path().display().to_string());
            destination.insert("secret".into(), secret.into());
            document.insert("destinations".into(), toml::Value::Array(vec![destination.into()]));
            let before = panics.load(Ordering::SeqCst);
            if crate::harness::block_on(load_and_start(document.clone(), dir.path())) {
                started.fetch_add(1, Ordering::SeqCst);
            }
            prop_assert_eq!(panics.load(Ordering::SeqCst), before, "a panic with:\n{}", toml::to_string(&document).unwrap());
        });
        // Not vacuous: a good share of the documents are valid and the service starts on them.
        let started = started.load(Ordering::SeqCst);
        println!("{started} of 48 arbitrary configurations were valid and started");
        assert!(started >= 3, "only {started} of 48 arbitrary configurations started (about 14 usually do)");
    });
}

#[test]
fn validation_errors_never_show_url_credentials() {
    let dir = tempfile::tempdir().unwrap();
    // Each bad URL carries a password and a token; the error names the key but shows neither.
    let cases = [
        // Parses, but is not http(s).
        (
            "development",
            "[intercom]\nbase_url = \"ftp://user:hunter2@host/?token=tok3n\"\n",
            "intercom.base_url",
        ),
        // Does not parse at all: only a fingerprint may be shown.
        (
            "development",
            "[intercom]\nbase_url = \"https://user:hunter2@[bad/?token=tok3n\"\n",
            "intercom.base_url",
        ),
        (
            "production",
            "[intercom]\nbase_url = \"http://user:hunter2@intercom-proxy.internal/?token=tok3n\"\n",
            "intercom.base_url",
        ),
        (
            "production",
            "[webhooks]\npublic_url = \"http://user:hunter2@hooks.example.com/in?token=tok3n\"\n",
            "webhooks.public_url",
        ),
        (
            "development",
            "[webhooks]\npublic_url = \"ftp://user:hunter2@hooks.example.com/in?token=tok3n\"\n",
            "webhooks.public_url",
        ),
    ];
    for (environment, section, key) in cases {
        let text = format!("environment = \"{environment}\"\n{section}");
        let path = write_config(&dir, &text);
        let found = invalid(&path);
        let mine: Vec<&String> =
            found.iter().filter(|issue| issue.starts_with(&format!("{key}: "))).collect();
        assert!(!mine.is_empty(), "{key} is reported for {section}: {found:#?}");
        for issue in found {
            assert!(!issue.contains("hunter2") && !issue.contains("tok3n"), "{issue}");
        }
    }
}
