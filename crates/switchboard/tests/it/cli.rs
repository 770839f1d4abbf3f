//! The `switchboard` binary: `config check`, exit codes, `--help` and `--version`.

use switchboard::secrets::Fingerprint;

use crate::config::{ENV_SECRET_IN_PRODUCTION, ENV_SECRET_REFUSED};
use crate::harness::{cli, write_secrets};

#[test]
fn config_check_rejects_a_bad_config_with_exit_code_2_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), ENV_SECRET_IN_PRODUCTION).unwrap();
    let output = cli(&["config", "check", "--config", "bad.toml"]).dir(dir.path()).run();
    assert_eq!(output.code, Some(2), "{}", output.stderr);
    assert!(output.stderr.contains(ENV_SECRET_REFUSED), "{}", output.stderr);
    assert!(output.stdout.is_empty(), "nothing is printed as if valid");
}

#[test]
fn config_check_reports_unreadable_secrets_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[intercom]\ntoken = \"file:./missing_token\"\n").unwrap();
    let output = cli(&["config", "check", "--config", "c.toml"]).dir(dir.path()).run();
    assert_eq!(output.code, Some(2));
    let stderr = output.stderr;
    assert!(stderr.contains("intercom.token: file:./missing_token: cannot read"), "{stderr}");
}

#[test]
fn config_check_prints_the_resolved_config_with_fingerprints_only() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        ("intercom_token", "dG9rOjk5OTlfYWJjZGVmXzEyMzQ6MTow"),
        ("client_secret", "cs-0123456789abcdef"),
        ("admin_key", "admin-key-value-42-0123456789abcdef"),
        ("dest_secret", "whsec-destination-value"),
    ];
    write_secrets(dir.path(), &secrets);
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("switchboard.toml"),
        format!(
            r#"
            environment = "production"
            [server]
            listen = "0.0.0.0:9090"
            behind_tls_proxy = true
            [intercom]
            token = "file:{d}/intercom_token"
            region = "eu"
            expected_app_id = "a86dr8yl"
            [webhooks]
            client_secrets = ["file:{d}/client_secret"]
            public_url = "https://hooks.example.com/webhooks/intercom"
            [[destinations]]
            name = "app"
            url = "https://app.internal/hooks"
            topics = ["contact.*"]
            secret = "exec:cat {d}/dest_secret"
            [admin]
            key = "file:{d}/admin_key"
            "#
        ),
    )
    .unwrap();
    // No --config: ./switchboard.toml is picked up.
    let output = cli(&["config", "check"]).dir(dir.path()).run();
    let stdout = output.stdout;
    assert_eq!(output.code, Some(0), "{stdout}\n{}", output.stderr);
    for (_, value) in secrets {
        assert!(!stdout.contains(value), "secret value printed:\n{stdout}");
        assert!(
            stdout.contains(Fingerprint::of(value).as_str()),
            "fingerprint of a secret missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("environment = \"production\""), "{stdout}");
    assert!(stdout.contains("listen = \"0.0.0.0:9090\""), "{stdout}");
    assert!(stdout.contains("api_base_url = \"https://api.eu.intercom.io\""), "{stdout}");
    assert!(stdout.contains("secret = \"exec:cat … (sha256:"), "exec arguments are not echoed:\n{stdout}");
    // The printed configuration is itself valid TOML.
    let body: String = stdout.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    body.parse::<toml::Table>().unwrap_or_else(|e| panic!("{e}\n{stdout}"));
}

#[test]
fn every_command_explains_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--help"], &["serve", "sim", "config", "--config", "--log-format"]),
        (&["serve", "--help"], &["--listen", "--sandbox", "--config", "--log-format"]),
        (&["config", "check", "--help"], &["fingerprint", "--config"]),
        (
            &["sim", "--help"],
            &[
                "--port",
                "--token",
                "--app-id",
                "--client-secret",
                "--seed-contacts",
                "--rate-limit-per-minute",
                "--workspace-limit-per-minute",
                "--webhook-url",
                "--faults",
                "--config",
            ],
        ),
    ];
    for (args, expected) in cases {
        let output = cli(args).dir(dir.path()).run();
        assert_eq!(output.code, Some(0), "{args:?}");
        let help = output.stdout;
        for flag in *expected {
            assert!(help.contains(flag), "{args:?} help lacks {flag}:\n{help}");
        }
    }
    let version = cli(&["--version"]).dir(dir.path()).run();
    assert_eq!(version.stdout.trim(), format!("switchboard {}", env!("CARGO_PKG_VERSION")));
}
