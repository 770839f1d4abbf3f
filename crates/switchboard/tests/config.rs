//! Configuration layering and validation: file < environment < flags, with errors naming the key.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on unexpected errors")]

use std::path::PathBuf;

use switchboard::config::{ConfigError, ConfigLoader, Environment, IntercomEndpoint, Overrides};
use switchboard::logging::LogFormat;
use switchboard::secrets::SecretRef;

fn write_config(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn issues(error: ConfigError) -> Vec<String> {
    match error {
        ConfigError::Invalid(issues) => issues.iter().map(ToString::to_string).collect(),
        other => panic!("expected invalid config, got {other}"),
    }
}

#[test]
fn flags_override_environment_which_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
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
    let file_only =
        ConfigLoader::new(Some(path.clone()), Overrides::default()).with_env(vec![]).load().unwrap();
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
    let vars = env(&[
        ("SWITCHBOARD_WEBHOOKS__CLIENT_SECRETS", "[\"file:/a\", \"file:/b\"]"),
        ("SWITCHBOARD_INTERCOM__BASE_URL", "http://127.0.0.1:4010"),
        ("SWITCHBOARD_ENVIRONMENT", "staging"),
    ]);
    let config = ConfigLoader::new(None, Overrides::default()).with_env(vars).load().unwrap();
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
    let config = ConfigLoader::new(None, Overrides::default()).with_env(vec![]).load().unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        r#"
        environment = "production"
        [intercom]
        token = "file:/run/secrets/intercom_token"
        [webhooks]
        client_secrets = ["env:INTERCOM_CLIENT_SECRET"]
        "#,
    );
    let error =
        ConfigLoader::new(Some(path.clone()), Overrides::default()).with_env(vec![]).load().unwrap_err();
    let issues = issues(error);
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert!(
        issues[0].starts_with(
            "webhooks.client_secrets[0]: env: references are not allowed when environment = \"production\"; use file: or exec:"
        ),
        "{}",
        issues[0]
    );

    // The same file outside production is fine, and so is production with the explicit opt-in.
    let staging = ConfigLoader::new(Some(path.clone()), Overrides::default())
        .with_env(env(&[("SWITCHBOARD_ENVIRONMENT", "staging")]))
        .load();
    assert!(staging.is_ok(), "{staging:?}");
    let opted_in = ConfigLoader::new(Some(path), Overrides::default())
        .with_env(env(&[("SWITCHBOARD_ALLOW_ENV_SECRETS", "true")]))
        .load();
    assert!(opted_in.is_ok(), "{opted_in:?}");
}

#[test]
fn production_requires_secrets_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        r#"
        environment = "production"
        [webhooks]
        public_url = "http://hooks.example.com/webhooks/intercom"
        [[destinations]]
        name = "app"
        url = "https://app.internal/hooks"
        "#,
    );
    let issues =
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap_err());
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
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
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
    let issues =
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap_err());
    let text = issues.join("\n");
    for expected in [
        "server.listen: \"everywhere\" is not an address; write host:port like 0.0.0.0:8080",
        "intercom.base_url: is set together with intercom.region; set only one",
        "intercom.expected_app_id: \"not an id\" is not an app id",
        "intercom.token: is not a secret reference; write file:/path/to/secret, exec:<command> or env:VAR",
        "store.url: \"mysql://db\" is not a store URL",
        "destinations[0].url: \"not a url\" is not a URL",
        "destinations[0].topics[0]: \"contact.*.created\" is not a topic pattern",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("dG9rOjEyMzQ1Njc4X2FiY2Q6MTow"), "a pasted secret must not be echoed:\n{text}");
}

#[test]
fn type_errors_and_unknown_keys_name_the_key_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let load = |text: &str, vars: &[(&str, &str)]| {
        let path = write_config(&dir, text);
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(env(vars)).load().unwrap_err())
            .join("\n")
    };

    let text = load("[intercom]\nregoin = \"eu\"\n", &[]);
    assert!(text.contains("intercom.regoin: unknown field"), "{text}");
    assert!(text.contains("remove it or fix its spelling"), "{text}");
    assert!(text.contains("switchboard.toml"), "the file is named:\n{text}");

    let text = load("", &[("SWITCHBOARD_INTERCOM__REGION", "mars")]);
    assert!(text.contains("intercom.region: unknown variant"), "{text}");
    assert!(
        text.contains("environment variable SWITCHBOARD_INTERCOM__REGION"),
        "the variable is named:\n{text}"
    );

    let text = load("[secrets]\nrefresh_interval = \"5 parsecs\"\n", &[]);
    assert!(text.contains("secrets.refresh_interval"), "{text}");
    assert!(text.contains("write one like \"30s\" or \"5m\""), "{text}");

    let text = load("", &[("SWITCHBOARD_ALLOW_ENV_SECRETS", "maybe")]);
    assert!(text.contains("allow_env_secrets"), "{text}");
}

#[test]
fn a_missing_explicit_config_file_is_an_error() {
    let error = ConfigLoader::new(Some("/nonexistent/switchboard.toml".into()), Overrides::default())
        .with_env(vec![])
        .load()
        .unwrap_err();
    assert!(matches!(error, ConfigError::FileNotFound(_)));
    assert!(error.to_string().contains("/nonexistent/switchboard.toml"), "{error}");
}

#[test]
fn the_example_config_is_valid() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../switchboard.example.toml");
    let config = ConfigLoader::new(Some(example), Overrides::default()).with_env(vec![]).load();
    let config = config.unwrap_or_else(|e| panic!("switchboard.example.toml must stay valid: {e}"));
    assert_eq!(config.environment, Environment::Production);
    assert_eq!(
        config.secret_refs().len(),
        5,
        "token, client secret, admin key, destination secret, Slack URL"
    );
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
    let found =
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap_err());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].starts_with("server.listen: 0.0.0.0:8080 would serve plain HTTP"), "{}", found[0]);
    assert!(found[0].contains("server.behind_tls_proxy = true"), "{}", found[0]);

    let path = write_config(&dir, &format!("{base}behind_tls_proxy = true\n"));
    assert!(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().is_ok());
    let loopback = Overrides { listen: Some("127.0.0.1:8080".into()), log_format: None };
    let path = write_config(&dir, base);
    assert!(
        ConfigLoader::new(Some(path.clone()), loopback).with_env(vec![]).load().is_ok(),
        "loopback is fine"
    );
    let half_tls = write_config(&dir, &format!("{base}tls_cert = \"/etc/cert.pem\"\n"));
    let text =
        issues(ConfigLoader::new(Some(half_tls), Overrides::default()).with_env(vec![]).load().unwrap_err())
            .join("\n");
    assert!(text.contains("server.tls_cert: and server.tls_key must be set together"), "{text}");
}

#[test]
fn delivery_and_webhook_limits_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        r#"
        [webhooks]
        ack_deadline = "6s"
        max_event_age = "40d"
        max_body = "12 parsecs"
        "#,
    );
    let text =
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap_err())
            .join("\n");
    assert!(text.contains("webhooks.max_body") && text.contains("1MiB"), "{text}");
    let path = write_config(
        &dir,
        r#"
        [webhooks]
        ack_deadline = "6s"
        max_event_age = "40d"
        [delivery]
        retry_schedule = []
        lease = "10s"
        [[destinations]]
        name = "app"
        url = "https://app.internal/hooks"
        timeout = "10s"
        "#,
    );
    let text =
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap_err())
            .join("\n");
    for expected in [
        "webhooks.ack_deadline: must be more than zero and under 5s",
        "webhooks.max_event_age: must be shorter than store.retention",
        "delivery.retry_schedule: must list one or more delays",
        "delivery.lease: must be more than twice destinations[0].timeout",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn type_errors_never_quote_the_value_which_may_be_a_pasted_secret() {
    let dir = tempfile::tempdir().unwrap();
    let pasted = "9f8e7d6c5b4a-raw-client-secret";
    let from_env = issues(
        ConfigLoader::new(None, Overrides::default())
            .with_env(env(&[("SWITCHBOARD_WEBHOOKS__CLIENT_SECRETS", pasted)]))
            .load()
            .unwrap_err(),
    )
    .join("\n");
    assert!(
        from_env.contains("webhooks.client_secrets: invalid type: found a string, expected a sequence"),
        "{from_env}"
    );
    assert!(!from_env.contains(pasted), "{from_env}");
    let path = write_config(
        &dir,
        &format!("[intercom]\ntoken = 12345678901234567890\n[webhooks]\nclient_secrets = \"{pasted}\"\n"),
    );
    let from_file =
        issues(ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap_err())
            .join("\n");
    assert!(!from_file.contains(pasted) && !from_file.contains("12345678901234567890"), "{from_file}");
}
