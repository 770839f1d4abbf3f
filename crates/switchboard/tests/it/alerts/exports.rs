//! What the alerts and metrics show outside the process, kept consistent with the code: `/metrics`,
//! the exported Prometheus rules (checked by promtool when it is installed), the `alerts export`
//! command, the Grafana dashboard and docs/metrics.md.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;
use switchboard::alerts::{
    AlertSettings, AlertTapLayer, RuleId, RuleOverride, export_prometheus, rule_metrics,
};
use switchboard::telemetry;

use super::rules::intercom_request;
use crate::harness::{Ran, cli, repo_root, serve};

/// Where the exported Prometheus rules are committed.
const RULES: &str = "deploy/prometheus/switchboard-alerts.yml";

#[tokio::test]
async fn metrics_endpoint_serves_prefixed_prometheus_text() {
    let tap = AlertTapLayer::new();
    let (recorder, handle) = telemetry::build_recorder(&tap);
    metrics::with_local_recorder(&recorder, || {
        telemetry::describe_all();
        metrics::counter!("webhooks_refused_total", "reason" => "too_large").increment(1);
        intercom_request("200", 2);
    });
    let addr = serve(telemetry::metrics_router(handle)).await;
    let response = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"switchboard_webhooks_refused_total{reason="too_large"} 1"#), "{text}");
    assert!(text.contains("switchboard_intercom_api_requests_total{"), "{text}");
    assert!(text.contains("# TYPE switchboard_intercom_api_requests_total counter"), "{text}");
}

#[test]
fn installing_twice_returns_the_same_pipeline() {
    // The process-wide recorder, shared with every in-process service: fine, since this looks only for
    // a series it records itself, and nothing else removes series.
    let first = switchboard::startup::install_metrics().unwrap();
    let second = switchboard::startup::install_metrics().unwrap();
    // A name of this test's own, so no service in the process records it too.
    metrics::counter!("installing_twice_probe_total").increment(1);
    for t in [first, second] {
        assert!(t.handle().render().contains("switchboard_installing_twice_probe_total"));
    }
}

#[test]
fn exported_rules_are_in_sync_and_promtool_accepts_them() {
    let path = repo_root().join(RULES);
    let generated = export_prometheus(&AlertSettings::default());
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "deploy/prometheus/switchboard-alerts.yml is stale; regenerate it with \
         `cargo run -p switchboard -- alerts export --format prometheus > deploy/prometheus/switchboard-alerts.yml`"
    );

    let parsed: Value = serde_norway::from_str(&generated).unwrap();
    let rules = parsed["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RuleId::ALL.len());
    let names: HashSet<&str> = rules.iter().map(|r| r["alert"].as_str().unwrap()).collect();
    for id in RuleId::ALL {
        assert!(names.contains(id.alert_name()));
    }
    assert!(
        rules
            .iter()
            .all(|r| ["P1", "P2", "P3", "warning"].contains(&r["labels"]["severity"].as_str().unwrap()))
    );

    match std::process::Command::new("promtool").arg("check").arg("rules").arg(&path).output() {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "promtool check rules failed:\n{stdout}\n{stderr}");
            assert!(stdout.contains(&format!("SUCCESS: {} rules found", RuleId::ALL.len())), "{stdout}");
            println!("promtool: {}", stdout.trim());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "promtool is not on PATH: `promtool check rules` SKIPPED (install Debian's prometheus package)"
            );
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    }
}

/// `switchboard alerts export --format prometheus`, with `config` and the variables `vars`.
fn export(config: Option<&Path>, vars: &[(&str, &str)]) -> Ran {
    let command = cli(&["alerts", "export", "--format", "prometheus"]).envs(vars);
    match config {
        Some(path) => command.arg("--config").arg(path).run(),
        None => command.run(),
    }
}

/// The rules committed for Prometheus.
fn committed_rules() -> String {
    std::fs::read_to_string(repo_root().join(RULES)).unwrap()
}

#[test]
fn the_export_command_prints_the_committed_rules() {
    let output = export(None, &[]);
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(output.stdout, committed_rules());
}

/// Every `switchboard_*` name in `text`.
fn metric_names(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        // The bare prefix is prose ("every name starts with switchboard_"), not a name.
        .filter(|t| t.starts_with("switchboard_") && t.len() > "switchboard_".len())
        .map(str::to_owned)
        .collect()
}

fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_reads_only_exported_metrics_and_covers_the_alerts() {
    let text = std::fs::read_to_string(repo_root().join("deploy/grafana/switchboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert!(dashboard["title"].is_string());
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(!all.is_empty());
    let used: HashSet<String> = all.iter().flat_map(|e| metric_names(e)).collect();
    for name in &used {
        assert!(
            telemetry::find_exported(name).is_some(),
            "the dashboard reads {name}, which is not exported"
        );
    }
    for name in rule_metrics(&AlertSettings::default()) {
        assert!(used.contains(&name), "the dashboard has no panel over {name}, which an alert reads");
    }
    assert!(used.contains("switchboard_alert_active"));
}

#[test]
fn docs_document_every_metric_and_nothing_else() {
    let docs = std::fs::read_to_string(repo_root().join("docs/metrics.md")).unwrap();
    for m in telemetry::METRICS {
        let row = format!("`{}`", m.exported());
        assert!(docs.contains(&row), "docs/metrics.md does not document {row}");
        for label in m.labels {
            assert!(docs.contains(&format!("`{label}`")), "docs/metrics.md does not mention label {label}");
        }
    }
    for name in metric_names(&docs) {
        assert!(
            telemetry::find_exported(&name).is_some(),
            "docs/metrics.md names {name}, which is not exported"
        );
    }
}

#[test]
fn the_export_command_uses_the_configured_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, "[alerts.intercom_unreachable]\nthreshold = 42\n").unwrap();
    let output = export(Some(&path), &[]);
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let rules = output.stdout;
    assert!(rules.contains("> 42"), "{rules}");
    assert_ne!(rules, committed_rules());
}

#[test]
fn rule_tables_from_variables_override_only_their_keys_and_refuse_keys_the_rule_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, "[alerts.intercom_error_rate]\nthreshold = 0.1\n").unwrap();
    // Variables are text; a rule's numbers still read from them, over the file's table.
    let output = export(
        Some(&path),
        &[
            ("SWITCHBOARD_ALERTS__INTERCOM_ERROR_RATE__MIN_REQUESTS", "30"),
            ("SWITCHBOARD_ALERTS__DEAD_LETTERS_PRESENT__ENABLED", "false"),
        ],
    );
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let rules = output.stdout;
    let mut expected = AlertSettings::default();
    *expected.override_mut(RuleId::IntercomErrorRate) =
        RuleOverride { threshold: Some(0.1), min_requests: Some(30), ..RuleOverride::default() };
    expected.override_mut(RuleId::DeadLettersPresent).enabled = Some(false);
    let expected = export_prometheus(&expected);
    assert!(expected.contains(" > 0.1 and sum(increase(") && expected.contains(">= 30\""), "{expected}");
    assert!(!expected.contains("DeadLettersPresent"), "{expected}");
    assert_eq!(rules, expected);

    let output = export(Some(&path), &[("SWITCHBOARD_ALERTS__DEAD_LETTERS_PRESENT__WINDOW", "5m")]);
    assert_eq!(output.code, Some(2));
    let stderr = output.stderr;
    assert!(
        stderr.contains(
            "alerts.dead_letters_present.window: unknown field: found `window`, expected `one of `enabled`, \
             `severity`, `threshold`, `for`, `keep_firing_for``"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
