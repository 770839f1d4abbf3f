//! `switchboard preflight` against the in-process simulator and an in-process `serve` (HTTPS, as in
//! production): every check passes on a correct deployment, then each checklist failure is provoked
//! and must come out as a FAIL row with a clear message. The CLI tests run the real binary without
//! blocking the runtime, which keeps serving the in-process services meanwhile.

use std::path::{Path, PathBuf};

use intercom_sim::{AppConfig, Indicator, SimConfig, SimHandle, Simulator, WorkspaceConfig};
use serde_json::Value;
use switchboard::exit::Exit;
use switchboard::preflight::{self, CheckId, PreflightOptions, Report, Status};

use crate::harness::{AppDir, Ran, Receiver, TestApp, cli};

/// Credentials of the simulator's two workspaces.
struct Sim {
    handle: SimHandle,
    prod_token: String,
    prod_secret: String,
    prod_app: String,
    staging_token: String,
    staging_secret: String,
    staging_app: String,
}

async fn start_sim() -> Sim {
    let staging = WorkspaceConfig {
        name: "Staging".into(),
        apps: vec![AppConfig { name: "Acme staging".into(), ..AppConfig::default() }],
        ..WorkspaceConfig::default()
    };
    let handle = Simulator::start(SimConfig::default().add_workspace(staging)).await.unwrap();
    let prod = handle.apps()[0].clone();
    let staging = handle.apps()[1].clone();
    Sim {
        prod_token: prod.token,
        prod_secret: prod.client_secret,
        prod_app: prod.app_id,
        staging_token: staging.token,
        staging_secret: staging.client_secret,
        staging_app: staging.app_id,
        handle,
    }
}

/// What goes into one environment's config file.
struct Env<'a> {
    environment: &'a str,
    token: String,
    client_secret: String,
    app_id: &'a str,
    public_url: Option<String>,
    health_url: Option<String>,
    tls: bool,
    /// Serve the admin API, /metrics and /health on a loopback `server.internal_listen`.
    internal: bool,
    extra: &'a str,
}

/// Writes `name` into `dir`: secrets as files next to it, the simulator as Intercom and its status page.
fn write_env(dir: &Path, name: &str, sim: &Sim, env: &Env<'_>) -> PathBuf {
    let d = dir.display();
    let token_file = dir.join(format!("{name}.token"));
    let secret_file = dir.join(format!("{name}.client_secret"));
    std::fs::write(&token_file, format!("{}\n", env.token)).unwrap();
    std::fs::write(&secret_file, format!("{}\n", env.client_secret)).unwrap();
    let base = sim.handle.base_url();
    let mut text = format!(
        r#"
        environment = "{environment}"
        [server]
        listen = "127.0.0.1:0"
        shutdown_timeout = "5s"
        {tls}
        [intercom]
        token = "{token}"
        base_url = "{base}"
        expected_app_id = "{app_id}"
        [webhooks]
        client_secrets = ["file:{secret}"]
        {public_url}
        [store]
        url = "sqlite://{d}/data-{name}/switchboard.db"
        [status_page]
        url = "{base}/_sim/statuspage/api/v2/status.json"
        [[alerts.channels]]
        kind = "webhook"
        url = "http://127.0.0.1:9/alerts"
        [preflight]
        environments = {{ staging = "staging.toml", production = "production.toml" }}
        {health_url}
        {ca_cert}
        "#,
        environment = env.environment,
        tls = if env.tls {
            format!("tls_cert = \"{d}/cert.pem\"\ntls_key = \"{d}/key.pem\"")
        } else {
            String::new()
        } + if env.internal { "\ninternal_listen = \"127.0.0.1:0\"" } else { "" },
        token = if env.token.starts_with("env:") {
            env.token.clone()
        } else {
            format!("file:{}", token_file.display())
        },
        app_id = env.app_id,
        secret = secret_file.display(),
        public_url = env.public_url.as_ref().map(|u| format!("public_url = \"{u}\"")).unwrap_or_default(),
        health_url = env.health_url.as_ref().map(|u| format!("health_url = \"{u}\"")).unwrap_or_default(),
        ca_cert = if env.tls { format!("ca_cert = \"{d}/cert.pem\"") } else { String::new() },
    );
    text.push_str(env.extra);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn production<'a>(sim: &'a Sim) -> Env<'a> {
    Env {
        environment: "production",
        token: sim.prod_token.clone(),
        client_secret: sim.prod_secret.clone(),
        app_id: &sim.prod_app,
        public_url: None,
        health_url: None,
        tls: true,
        internal: true,
        extra: "",
    }
}

fn staging<'a>(sim: &'a Sim) -> Env<'a> {
    Env {
        environment: "staging",
        token: sim.staging_token.clone(),
        client_secret: sim.staging_secret.clone(),
        app_id: &sim.staging_app,
        public_url: None,
        health_url: None,
        tls: false,
        internal: false,
        extra: "",
    }
}

/// A production deployment: the simulator, `serve` over HTTPS with the production config, and
/// `production.toml` + `staging.toml` describing it for preflight, plus a clean source tree.
struct Deployment {
    sim: Sim,
    app: TestApp,
    production: PathBuf,
    source: PathBuf,
}

impl Deployment {
    fn dir(&self) -> &Path {
        self.app.dir.path()
    }

    /// The production env as deployed: its public URL and /health on the running service.
    fn production_env(&self) -> Env<'_> {
        let port = self.app.addr.port();
        let internal = self.app.internal_addr.expect("production serves on an internal listener").port();
        Env {
            public_url: Some(format!("https://localhost:{port}/webhooks/intercom")),
            health_url: Some(format!("https://localhost:{internal}/health")),
            ..production(&self.sim)
        }
    }
}

async fn deploy() -> Deployment {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    // The service reads the same production file preflight checks, minus what needs its port.
    let serve_config = write_env(dir.path(), "production", &sim, &production(&sim));
    let app = AppDir::with_config(dir, serve_config).spawn().await;
    let mut deployment = Deployment { sim, app, production: PathBuf::new(), source: PathBuf::new() };
    let env = deployment.production_env();
    deployment.production = write_env(deployment.dir(), "production", &deployment.sim, &env);
    write_env(deployment.dir(), "staging", &deployment.sim, &staging(&deployment.sim));
    let source = deployment.dir().join("src");
    std::fs::create_dir_all(source.join("app")).unwrap();
    std::fs::write(
        source.join("app/client.py"),
        "import os\nTOKEN = open('/run/secrets/intercom_token').read().strip()\nUUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'\n",
    )
    .unwrap();
    std::fs::write(source.join(".env.example"), "INTERCOM_TOKEN=\n").unwrap();
    deployment.source = source;
    deployment
}

fn options(config: &Path) -> PreflightOptions {
    PreflightOptions {
        config: Some(config.to_path_buf()),
        env_vars: Some(Vec::new()),
        ..PreflightOptions::default()
    }
}

fn only(config: &Path, ids: &[CheckId]) -> PreflightOptions {
    PreflightOptions { only: ids.to_vec(), ..options(config) }
}

fn result(report: &Report, id: CheckId) -> &preflight::CheckResult {
    report.check(id).unwrap()
}

fn assert_status(report: &Report, id: CheckId, status: Status) {
    let check = result(report, id);
    assert_eq!(check.status, status, "{}: {}\n{:#?}", id.as_str(), check.message, check.evidence);
}

/// The binary with `args` and `vars` as its whole environment.
async fn switchboard(args: &[&str], vars: &[(&str, &str)]) -> Ran {
    cli(args).only_env(vars).run_async().await
}

/// Nothing secret may reach the output, whatever the format.
fn assert_no_secrets(output: &Ran, sim: &Sim) {
    let all = format!("{}{}", output.stdout, output.stderr);
    for secret in [&sim.prod_token, &sim.prod_secret, &sim.staging_token, &sim.staging_secret] {
        assert!(!all.contains(secret.as_str()), "a secret was printed:\n{all}");
    }
    // The admin behind the token (PII) is not shown either.
    assert!(!all.contains("@"), "an e-mail address was printed:\n{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_on_a_correct_production_deployment() {
    let d = deploy().await;
    let options = PreflightOptions {
        env: Some("production".into()),
        source: Some(d.source.clone()),
        ..options(&d.production)
    };
    let report = preflight::preflight(&options).await.unwrap();
    for id in CheckId::ALL {
        assert_status(&report, id, Status::Pass);
    }
    assert_eq!(report.exit_code, Exit::Success);
    assert_eq!(report.environment, "production");
    assert!(report.config_issues.is_empty(), "{:?}", report.config_issues);

    let auth = &result(&report, CheckId::Auth).message;
    assert!(auth.contains(&d.sim.prod_app) && auth.contains("sha256:") && auth.contains("2.14"), "{auth}");
    let webhook = result(&report, CheckId::WebhookEndpoint);
    let item = |name: &str| webhook.evidence.iter().find(|e| e.item == name).unwrap().clone();
    assert!(item("signed ping").measured.contains(" ms"), "{:?}", item("signed ping"));
    assert_eq!(item("unsigned").measured, "401");
    assert_eq!(item("wrongly signed").measured, "401");
    assert!(item("duplicate").measured.contains("duplicate"), "{:?}", item("duplicate"));
    // The service has no contact cache: that item is SKIP with its reason, not a made-up PASS.
    let data = result(&report, CheckId::DataHandling);
    let cache = data.evidence.iter().find(|e| e.item == "contact cache TTL").unwrap();
    assert_eq!(cache.status, Status::Skip);
    let redaction = data.evidence.iter().find(|e| e.item == "log redaction").unwrap();
    assert!(
        redaction.measured.starts_with(
            "always on: fields email, name, phone, token, access_token, authorization, password, secret, \
             client_secret, api_key masked"
        ),
        "{}",
        redaction.measured
    );
    let separation = &result(&report, CheckId::EnvSeparation).message;
    assert!(separation.contains("production") && separation.contains("staging"), "{separation}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_prints_documented_json_and_junit_and_exits_0() {
    let d = deploy().await;
    let config = d.production.display().to_string();
    let source = d.source.display().to_string();
    let base = ["preflight", "--config", &config, "--env", "production", "--source", &source];

    let json = switchboard(&[&base[..], &["--format", "json"]].concat(), &[]).await;
    assert_no_secrets(&json, &d.sim);
    assert_eq!(json.code, Some(0), "{}{}", json.stdout, json.stderr);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["env"], "production");
    assert_eq!(doc["environment"], "production");
    assert_eq!(doc["status"], "PASS");
    assert_eq!(doc["exit_code"], 0);
    assert!(doc["duration_ms"].is_u64());
    assert!(doc["config_issues"].as_array().unwrap().is_empty());
    let checks = doc["checks"].as_array().unwrap();
    let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, CheckId::ALL.map(CheckId::as_str));
    for check in checks {
        for key in ["title", "message"] {
            assert!(check[key].is_string(), "{key} in {check}");
        }
        assert!(check["duration_ms"].is_u64(), "{check}");
        assert_eq!(check["status"], "PASS", "{check}");
        for evidence in check["evidence"].as_array().unwrap() {
            let mut keys: Vec<&String> = evidence.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(keys, ["expected", "item", "measured", "status"], "{evidence}");
            assert!(["PASS", "WARN", "FAIL", "SKIP"].contains(&evidence["status"].as_str().unwrap()));
        }
    }
    let summary = &doc["summary"];
    assert_eq!((summary["pass"].as_u64(), summary["fail"].as_u64()), (Some(12), Some(0)));

    let junit = switchboard(&[&base[..], &["--format", "junit"]].concat(), &[]).await;
    assert_no_secrets(&junit, &d.sim);
    assert_eq!(junit.code, Some(0));
    let xml = &junit.stdout;
    let parsed = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let root = parsed.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("12"));
    assert_eq!(root.attribute("failures"), Some("0"));
    let cases: Vec<_> = root.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
    assert_eq!(names, CheckId::ALL.map(CheckId::as_str));
    assert!(
        cases.iter().all(|c| c.children().all(|n| !n.has_tag_name("failure") && !n.has_tag_name("skipped")))
    );

    let text = switchboard(&base, &[]).await;
    assert_eq!(text.code, Some(0));
    let table = &text.stdout;
    assert!(!table.contains('\x1b'), "colour is for terminals only:\n{table}");
    assert!(table.contains("CHECK") && table.contains("webhook-endpoint  PASS"), "{table}");
    assert!(table.contains("12 checks: 12 PASS, 0 WARN, 0 FAIL, 0 SKIP"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_fails_auth() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env { token: "dG9rOm5vdC1hLXJlYWwtdG9rZW46MTow".into(), ..staging(&sim) };
    let config = write_env(dir.path(), "staging", &sim, &env);
    let ids = [CheckId::Auth, CheckId::Workspace, CheckId::RateHeadroom];
    let report = preflight::preflight(&only(&config, &ids)).await.unwrap();
    assert_status(&report, CheckId::Auth, Status::Fail);
    let message = &result(&report, CheckId::Auth).message;
    assert!(message.contains("refused the token") && message.contains("401"), "{message}");
    // Both need /me's answer: skipped with the reason, not failed a second time or passed.
    assert_status(&report, CheckId::Workspace, Status::Skip);
    assert_status(&report, CheckId::RateHeadroom, Status::Skip);
    assert_eq!(report.exit_code, Exit::Failure);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_of_another_workspace_fails_workspace() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    // Production's expected app, staging's token: the checklist's "staging token in production".
    let env = Env { token: sim.staging_token.clone(), tls: false, ..production(&sim) };
    let config = write_env(dir.path(), "production", &sim, &env);
    let report = preflight::preflight(&only(&config, &[CheckId::Auth, CheckId::Workspace])).await.unwrap();
    assert_status(&report, CheckId::Auth, Status::Pass);
    assert_status(&report, CheckId::Workspace, Status::Fail);
    let message = &result(&report, CheckId::Workspace).message;
    assert!(message.contains(&format!("belongs to workspace {}", sim.staging_app)), "{message}");
    assert!(message.contains(&format!("not {}", sim.prod_app)), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_webhook_url_in_production_is_a_fail_row_not_a_config_error() {
    let d = deploy().await;
    let port = d.app.addr.port();
    let env =
        Env { public_url: Some(format!("http://localhost:{port}/webhooks/intercom")), ..d.production_env() };
    let config = write_env(d.dir(), "production", &d.sim, &env);
    let path = config.display().to_string();
    let output =
        switchboard(&["preflight", "--config", &path, "--only", "webhook-endpoint", "--format", "json"], &[])
            .await;
    assert_no_secrets(&output, &d.sim);
    assert_eq!(output.code, Some(1), "{}", output.stderr);
    let doc: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(doc["environment"], "production");
    assert_eq!(doc["config_issues"][0]["key"], "webhooks.public_url");
    let check = &doc["checks"][6];
    assert_eq!(check["id"], "webhook-endpoint");
    assert_eq!(check["status"], "FAIL");
    let scheme = &check["evidence"][0];
    assert_eq!((scheme["item"].as_str(), scheme["status"].as_str()), (Some("scheme"), Some("FAIL")));
    assert!(scheme["measured"].as_str().unwrap().contains("plain http in production"), "{scheme}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_accepts_unsigned_webhooks_fails() {
    // A receiver that answers 200 to anything, signed or not.
    let (_receiver, url) = Receiver::start().await;

    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env { public_url: Some(url), ..staging(&sim) };
    let config = write_env(dir.path(), "staging", &sim, &env);
    let report = preflight::preflight(&only(&config, &[CheckId::WebhookEndpoint])).await.unwrap();
    assert_status(&report, CheckId::WebhookEndpoint, Status::Fail);
    let check = result(&report, CheckId::WebhookEndpoint);
    let status = |item: &str| check.evidence.iter().find(|e| e.item == item).unwrap().status;
    assert_eq!((status("HEAD"), status("signed ping")), (Status::Pass, Status::Pass));
    assert_eq!((status("unsigned"), status("wrongly signed")), (Status::Fail, Status::Fail));
    assert!(check.message.contains("does not verify X-Hub-Signature"), "{}", check.message);
    // Not Switchboard: accepted twice, and that is all that can be told.
    assert_eq!(status("duplicate"), Status::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_maps_indicators_to_verdicts() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_env(dir.path(), "staging", &sim, &staging(&sim));
    for (indicator, expected) in [
        (Indicator::Major, Status::Fail),
        (Indicator::Critical, Status::Fail),
        (Indicator::Minor, Status::Warn),
        (Indicator::None, Status::Pass),
    ] {
        sim.handle.set_status_indicator(indicator);
        let report = preflight::preflight(&only(&config, &[CheckId::StatusPage])).await.unwrap();
        assert_status(&report, CheckId::StatusPage, expected);
        if expected == Status::Fail {
            let message = &result(&report, CheckId::StatusPage).message;
            assert!(
                message.contains(&format!("indicator {}", indicator.as_str())) && message.contains("outage")
            );
            assert_eq!(report.exit_code, Exit::Failure);
        }
    }
    // Unreachable: a warning, not a failure of the deployment.
    let env = Env { extra: "", ..staging(&sim) };
    let unreachable = write_env(dir.path(), "unreachable", &sim, &env);
    let text =
        std::fs::read_to_string(&unreachable).unwrap().replace(&sim.handle.base_url(), "http://127.0.0.1:9");
    std::fs::write(&unreachable, text).unwrap();
    let report = preflight::preflight(&only(&unreachable, &[CheckId::StatusPage])).await.unwrap();
    assert_status(&report, CheckId::StatusPage, Status::Warn);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_env_secret_in_production_fails_secret_storage_with_exit_1() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env { token: "env:PREFLIGHT_TEST_TOKEN".into(), tls: false, ..production(&sim) };
    let config = write_env(dir.path(), "production", &sim, &env);
    let path = config.display().to_string();
    let vars = [("PREFLIGHT_TEST_TOKEN", sim.prod_token.as_str())];

    // serve refuses this file (exit 2)...
    let check = switchboard(&["config", "check", "--config", &path], &vars).await;
    assert_eq!(check.code, Some(2));
    // ...preflight reports why, as a check.
    let output = switchboard(&["preflight", "--config", &path, "--only", "secret-storage,auth"], &vars).await;
    assert_no_secrets(&output, &sim);
    let table = &output.stdout;
    assert_eq!(output.code, Some(1), "{table}{}", output.stderr);
    let row = table.lines().find(|l| l.starts_with("secret-storage")).unwrap();
    assert!(
        row.contains("FAIL") && row.contains("intercom.token") && row.contains("env:PREFLIGHT_TEST_TOKEN"),
        "{row}"
    );
    assert!(row.contains("production"), "{row}");
    assert!(table.lines().any(|l| l.starts_with("auth") && l.contains("PASS")), "{table}");
    assert!(table.contains("note: config validation refuses intercom.token"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_in_the_source_fails_hardcoded_tokens_and_is_never_printed() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_env(dir.path(), "staging", &sim, &staging(&sim));
    let source = dir.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("intercom.js"),
        format!("const client = new Client({{ token: \"{}\" }});\n", sim.prod_token),
    )
    .unwrap();
    let (path, source) = (config.display().to_string(), source.display().to_string());
    let args = [
        "preflight",
        "--config",
        &path,
        "--only",
        "hardcoded-tokens",
        "--source",
        &source,
        "--format",
        "json",
    ];
    let output = switchboard(&args, &[]).await;
    assert_no_secrets(&output, &sim);
    assert_eq!(output.code, Some(1));
    let doc: Value = serde_json::from_str(&output.stdout).unwrap();
    let check = &doc["checks"][9];
    assert_eq!((check["id"].as_str(), check["status"].as_str()), (Some("hardcoded-tokens"), Some("FAIL")));
    let message = check["message"].as_str().unwrap();
    assert!(message.contains("intercom.js:1") && message.contains("1 credential"), "{message}");
    assert!(check["evidence"][0]["measured"].as_str().unwrap().contains("sha256:"), "{check}");

    // Without --source the check says what it needs.
    let report = preflight::preflight(&only(&config, &[CheckId::HardcodedTokens])).await.unwrap();
    assert_status(&report, CheckId::HardcodedTokens, Status::Skip);
    assert!(result(&report, CheckId::HardcodedTokens).message.contains("--source"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_shared_between_environments_fails_env_separation() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_env(dir.path(), "production", &sim, &Env { tls: false, ..production(&sim) });
    let env = Env { token: sim.prod_token.clone(), ..staging(&sim) };
    write_env(dir.path(), "staging", &sim, &env);
    let report = preflight::preflight(&only(&config, &[CheckId::EnvSeparation])).await.unwrap();
    assert_status(&report, CheckId::EnvSeparation, Status::Fail);
    let message = &result(&report, CheckId::EnvSeparation).message;
    assert!(message.contains("production and staging use the same token (sha256:"), "{message}");

    // One environment: nothing to compare.
    let alone = dir.path().join("alone.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("staging = \"staging.toml\", ", "");
    std::fs::write(&alone, text).unwrap();
    let report = preflight::preflight(&only(&alone, &[CheckId::EnvSeparation])).await.unwrap();
    assert_status(&report, CheckId::EnvSeparation, Status::Skip);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_and_config_errors_exit_2() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_env(dir.path(), "staging", &sim, &staging(&sim));
    let path = config.display().to_string();

    let unknown_env = switchboard(&["preflight", "--config", &path, "--env", "qa"], &[]).await;
    assert_eq!(unknown_env.code, Some(2));
    let stderr = unknown_env.stderr;
    assert!(stderr.contains("--env qa") && stderr.contains("production, staging"), "{stderr}");

    let unknown_check = switchboard(&["preflight", "--config", &path, "--only", "auth,bogus"], &[]).await;
    assert_eq!(unknown_check.code, Some(2));

    let missing_source =
        switchboard(&["preflight", "--config", &path, "--source", "/nonexistent/src"], &[]).await;
    assert_eq!(missing_source.code, Some(2));
    assert!(missing_source.stderr.contains("--source /nonexistent/src"));

    let env = Env { extra: "min_headroom = 2\n", ..staging(&sim) };
    let bad = write_env(dir.path(), "bad", &sim, &env).display().to_string();
    let invalid = switchboard(&["preflight", "--config", &bad], &[]).await;
    assert_eq!(invalid.code, Some(2));
    assert!(invalid.stderr.contains("preflight.min_headroom"));

    // A production file invalid for another reason than the checked rules stays a config error.
    let env = Env { tls: false, extra: "[delivery]\nconcurrency = 0\n", ..production(&sim) };
    let env = Env { token: "env:PREFLIGHT_TEST_TOKEN".into(), ..env };
    let other = write_env(dir.path(), "other", &sim, &env).display().to_string();
    let output = switchboard(&["preflight", "--config", &other], &[("PREFLIGHT_TEST_TOKEN", "x")]).await;
    assert_eq!(output.code, Some(2));
    assert!(output.stderr.contains("delivery.concurrency"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_used_up_by_others_fails_rate_headroom() {
    // 60 a minute is 10 a 10-second window; the manual clock keeps the test inside one window.
    let clock = std::sync::Arc::new(intercom_sim::ManualClock::at_secs(1_800_000_000));
    let handle = Simulator::start(SimConfig::default().rate_limit_per_minute(60).clock(clock)).await.unwrap();
    let app = handle.default_app().clone();
    let http = reqwest::Client::new();
    for _ in 0..8 {
        let me = http.get(format!("{}/me", handle.base_url())).bearer_auth(&app.token).send().await.unwrap();
        assert_eq!(me.status(), 200);
    }
    let sim = Sim {
        prod_token: app.token.clone(),
        prod_secret: app.client_secret.clone(),
        prod_app: app.app_id.clone(),
        staging_token: app.token,
        staging_secret: app.client_secret,
        staging_app: app.app_id,
        handle,
    };
    let dir = tempfile::tempdir().unwrap();
    let config = write_env(dir.path(), "production", &sim, &Env { tls: false, ..production(&sim) });
    let report = preflight::preflight(&only(&config, &[CheckId::RateHeadroom])).await.unwrap();
    assert_status(&report, CheckId::RateHeadroom, Status::Fail);
    let message = &result(&report, CheckId::RateHeadroom).message;
    assert!(message.contains("1 of 10 left (10%)"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dotenv_file_fails_secret_storage_in_production_and_warns_elsewhere() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let production = write_env(dir.path(), "production", &sim, &Env { tls: false, ..production(&sim) });
    let staging = write_env(dir.path(), "staging", &sim, &staging(&sim));
    let source = dir.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join(".env.example"), "INTERCOM_TOKEN=\n").unwrap();
    let with_source = |config: &Path| PreflightOptions {
        source: Some(source.clone()),
        ..only(config, &[CheckId::SecretStorage])
    };
    let report = preflight::preflight(&with_source(&production)).await.unwrap();
    assert_status(&report, CheckId::SecretStorage, Status::Pass);

    std::fs::write(dir.path().join(".env"), "INTERCOM_TOKEN=x\n").unwrap();
    std::fs::write(source.join(".env.production"), "INTERCOM_TOKEN=x\n").unwrap();
    let report = preflight::preflight(&with_source(&production)).await.unwrap();
    assert_status(&report, CheckId::SecretStorage, Status::Fail);
    let message = &result(&report, CheckId::SecretStorage).message;
    assert!(
        message.contains("next to the config: found") && message.contains(".env.production"),
        "{message}"
    );
    let report = preflight::preflight(&with_source(&staging)).await.unwrap();
    assert_status(&report, CheckId::SecretStorage, Status::Warn);
}

#[tokio::test(flavor = "multi_thread")]
async fn production_warns_when_admin_or_metrics_answer_on_a_public_address() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    // No internal listener in the file: each case sets its own.
    let production_file =
        write_env(dir.path(), "production", &sim, &Env { internal: false, ..production(&sim) });
    let staging_file = write_env(dir.path(), "staging", &sim, &staging(&sim));
    // The listeners are set through the environment layer, as a deployment manifest would.
    let exposure = async |config: &Path, listen: &str, internal: Option<&str>| {
        let mut vars = vec![("SWITCHBOARD_SERVER__LISTEN".to_owned(), listen.to_owned())];
        if let Some(internal) = internal {
            vars.push(("SWITCHBOARD_SERVER__INTERNAL_LISTEN".to_owned(), internal.to_owned()));
        }
        let options = PreflightOptions { env_vars: Some(vars), ..only(config, &[CheckId::Monitoring]) };
        let report = preflight::preflight(&options).await.unwrap();
        let check = result(&report, CheckId::Monitoring).clone();
        let item = check.evidence.iter().find(|e| e.item == "operations endpoints").cloned();
        (check.status, item)
    };

    // One listener on every interface: Intercom's listener also answers /admin and /metrics.
    let (status, item) = exposure(&production_file, "0.0.0.0:8443", None).await;
    let item = item.expect("an operations endpoints row in production");
    assert_eq!((status, item.status), (Status::Warn, Status::Warn));
    assert!(item.measured.contains("set server.internal_listen"), "{}", item.measured);
    // An internal listener, but on every interface again.
    let (status, item) = exposure(&production_file, "0.0.0.0:8443", Some("0.0.0.0:9090")).await;
    assert_eq!((status, item.unwrap().status), (Status::Warn, Status::Warn));
    // A private or loopback internal listener is what production wants.
    for internal in ["10.1.2.3:9090", "127.0.0.1:9090"] {
        let (status, item) = exposure(&production_file, "0.0.0.0:8443", Some(internal)).await;
        assert_eq!((status, item.unwrap().status), (Status::Pass, Status::Pass), "{internal}");
    }
    // One loopback listener still exposes them: the proxy in front that forwards Intercom's webhooks
    // normally forwards /admin, /metrics and /health as well.
    let (status, item) = exposure(&production_file, "127.0.0.1:8443", None).await;
    let item = item.unwrap();
    assert_eq!((status, item.status), (Status::Warn, Status::Warn));
    assert!(item.measured.contains("set server.internal_listen"), "{}", item.measured);
    // Outside production the row is not there.
    let (_, item) = exposure(&staging_file, "0.0.0.0:8443", None).await;
    assert!(item.is_none(), "{item:?}");
}
