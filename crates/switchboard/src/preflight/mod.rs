//! `switchboard preflight`: the production checklist as an executable gate for CI/CD.
//!
//! Twelve checks (see [`CheckId`]) each end PASS, WARN, FAIL or SKIP with evidence: what was
//! measured and what was expected. A check that needs something absent (no webhook URL, no
//! `--source`) is SKIP with the reason, never a silent PASS. Exit codes: 0 when nothing failed, 1
//! when a check failed, 2 on usage or configuration errors. Output formats and the JSON shape are
//! documented in `docs/preflight.md`.
//!
//! # Which configuration is checked
//!
//! Without `--env`, the `--config` file. With `--env NAME`, the file that `[preflight.environments]`
//! of the `--config` file lists under NAME (paths relative to the `--config` file's folder). The
//! per-deployment settings (`preflight.health_url`, `preflight.min_headroom`, `preflight.ca_cert`)
//! are read from the checked file.
//!
//! # Production rules that `serve` refuses
//!
//! A production config with an `env:` secret or a plain-http `webhooks.public_url` fails
//! validation, so `serve` exits 2. Preflight must report those as FAIL rows rather than stop, so
//! when the only validation issues are those two production rules, it loads the file again with
//! the production rules relaxed (the same layers, `environment` overridden), puts `production`
//! back, and evaluates the two rules itself in `secret-storage` and `webhook-endpoint`. Every
//! other validation issue is still a configuration error (exit 2).

mod checks;
mod context;
mod report;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;

pub use context::{LoadedConfig, load_lenient};
pub use report::{render_json, render_junit, render_text};

use crate::config::{ConfigError, ConfigIssue};
use crate::exit::Exit;

/// Version of the JSON report; it changes only when a field changes meaning or disappears.
pub const JSON_VERSION: u32 = 1;

/// `switchboard preflight`
#[derive(Debug, Clone, Args)]
pub struct PreflightArgs {
    /// Check the config file that [preflight.environments] of --config lists under NAME (e.g.
    /// production). Without it, the --config file itself is checked.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,

    /// Output format: text (a table; colour on a terminal only), json (stable, see docs/preflight.md)
    /// or junit (JUnit XML, one testcase per check, for CI test reports).
    #[arg(long, value_enum, default_value_t = PreflightFormat::Text, value_name = "FORMAT")]
    pub format: PreflightFormat,

    /// Run only these checks (comma-separated ids); the others are reported as SKIP.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "IDS")]
    pub only: Vec<CheckId>,

    /// Do not run these checks (comma-separated ids); they are reported as SKIP.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "IDS")]
    pub skip: Vec<CheckId>,

    /// The source tree to scan for hard-coded tokens and .env files (hardcoded-tokens is SKIP
    /// without it).
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
}

/// Output format of `switchboard preflight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PreflightFormat {
    /// A readable table; colour only on a terminal.
    #[default]
    Text,
    /// The stable JSON document described in docs/preflight.md.
    Json,
    /// JUnit XML: one testcase per check, FAIL as `<failure>`, SKIP as `<skipped/>`.
    Junit,
}

/// The checks, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// `GET /me` answers 200.
    Auth,
    /// The token's workspace and region are the configured ones.
    Workspace,
    /// The configured environments use different tokens and client secrets.
    EnvSeparation,
    /// Production secrets come from a secret manager; no `.env` files.
    SecretStorage,
    /// Enough of the rate-limit window is left.
    RateHeadroom,
    /// Intercom's status page.
    StatusPage,
    /// The public webhook URL: https, HEAD, signed ping, signature enforcement, duplicates.
    WebhookEndpoint,
    /// Client timeout, retries and pacing.
    ApiQuality,
    /// The deployed service's `/health`.
    Health,
    /// No tokens in the source tree.
    HardcodedTokens,
    /// Log redaction, cache TTL, `contact.deleted` handling, attribute validation.
    DataHandling,
    /// Alert rules and notification channels.
    Monitoring,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 12] = [
        CheckId::Auth,
        CheckId::Workspace,
        CheckId::EnvSeparation,
        CheckId::SecretStorage,
        CheckId::RateHeadroom,
        CheckId::StatusPage,
        CheckId::WebhookEndpoint,
        CheckId::ApiQuality,
        CheckId::Health,
        CheckId::HardcodedTokens,
        CheckId::DataHandling,
        CheckId::Monitoring,
    ];

    /// The id as written on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Auth => "auth",
            CheckId::Workspace => "workspace",
            CheckId::EnvSeparation => "env-separation",
            CheckId::SecretStorage => "secret-storage",
            CheckId::RateHeadroom => "rate-headroom",
            CheckId::StatusPage => "status-page",
            CheckId::WebhookEndpoint => "webhook-endpoint",
            CheckId::ApiQuality => "api-quality",
            CheckId::Health => "health",
            CheckId::HardcodedTokens => "hardcoded-tokens",
            CheckId::DataHandling => "data-handling",
            CheckId::Monitoring => "monitoring",
        }
    }

    /// What the check establishes, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::Auth => "GET /me authenticates with the configured token",
            CheckId::Workspace => "the token belongs to the expected workspace and region",
            CheckId::EnvSeparation => "environments use different tokens and client secrets",
            CheckId::SecretStorage => "secrets come from a secret manager, no .env files",
            CheckId::RateHeadroom => "rate-limit headroom is at least preflight.min_headroom",
            CheckId::StatusPage => "Intercom's status page reports no outage",
            CheckId::WebhookEndpoint => "the webhook endpoint is https, verifies signatures, acks in 5 s",
            CheckId::ApiQuality => "client timeout at most 30 s, retries and pacing on",
            CheckId::Health => "the deployed /health answers 200 with Intercom healthy",
            CheckId::HardcodedTokens => "no Intercom token in the source tree",
            CheckId::DataHandling => "PII redaction, cache TTL, GDPR deletion, attribute validation",
            CheckId::Monitoring => "alert rules on with a notification channel",
        }
    }
}

/// A check's (or one piece of evidence's) verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The item holds.
    Pass,
    /// Holds, but with something to look at; does not fail the run.
    Warn,
    /// Does not hold; the run exits 1.
    Fail,
    /// Not checked, for the reason given.
    Skip,
}

impl Status {
    /// The name as printed (`PASS`, `WARN`, `FAIL`, `SKIP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }

    // FAIL outranks WARN outranks PASS outranks SKIP: a check is SKIP only when nothing in it ran.
    fn rank(self) -> u8 {
        match self {
            Status::Skip => 0,
            Status::Pass => 1,
            Status::Warn => 2,
            Status::Fail => 3,
        }
    }
}

/// One measurement behind a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// What was looked at (`GET /me`, `intercom.token`, `HEAD`).
    pub item: String,
    /// This item's verdict.
    pub status: Status,
    /// What was measured.
    pub measured: String,
    /// What was expected.
    pub expected: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check.
    pub id: CheckId,
    /// What it establishes.
    pub title: &'static str,
    /// The verdict: the worst of its evidence.
    pub status: Status,
    /// One line saying why.
    pub message: String,
    /// What was measured, item by item.
    pub evidence: Vec<Evidence>,
    /// How long the check took.
    pub duration_ms: u64,
}

/// Counts of verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks that passed.
    pub pass: usize,
    /// Checks that warned.
    pub warn: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Checks skipped.
    pub skip: usize,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`JSON_VERSION`].
    pub version: u32,
    /// `--env`, if given.
    pub env: Option<String>,
    /// The checked config's `environment`.
    pub environment: String,
    /// The checked config file.
    pub config: Option<String>,
    /// FAIL when any check failed, else WARN when any warned, else PASS.
    pub status: Status,
    /// The process exit code: success (0) unless a check failed (1); WARN and SKIP do not fail.
    pub exit_code: Exit,
    /// Counts of verdicts.
    pub summary: Summary,
    /// Production rules that config validation refuses and that the checks report instead.
    pub config_issues: Vec<ConfigIssueView>,
    /// Every check, in [`CheckId::ALL`] order.
    pub checks: Vec<CheckResult>,
    /// Wall time of the run.
    pub duration_ms: u64,
}

/// A configuration issue as shown in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssueView {
    /// The key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl From<&ConfigIssue> for ConfigIssueView {
    fn from(issue: &ConfigIssue) -> Self {
        ConfigIssueView { key: issue.key.clone(), message: issue.message.clone() }
    }
}

impl Report {
    fn new(
        env: Option<String>,
        environment: String,
        config: Option<String>,
        config_issues: Vec<ConfigIssueView>,
        checks: Vec<CheckResult>,
        started: Instant,
    ) -> Self {
        let mut summary = Summary::default();
        for check in &checks {
            match check.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Skip => summary.skip += 1,
            }
        }
        let status = if summary.fail > 0 {
            Status::Fail
        } else if summary.warn > 0 {
            Status::Warn
        } else {
            Status::Pass
        };
        Report {
            version: JSON_VERSION,
            env,
            environment,
            config,
            status,
            exit_code: if summary.fail > 0 { Exit::Failure } else { Exit::Success },
            summary,
            config_issues,
            checks,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// The result of check `id`.
    pub fn check(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// What to check; the library form of the command line.
#[derive(Debug, Clone, Default)]
pub struct PreflightOptions {
    /// `--config` (default: ./switchboard.toml when it exists).
    pub config: Option<PathBuf>,
    /// `--env`.
    pub env: Option<String>,
    /// `--only` (empty: all).
    pub only: Vec<CheckId>,
    /// `--skip`.
    pub skip: Vec<CheckId>,
    /// `--source`.
    pub source: Option<PathBuf>,
    /// The `SWITCHBOARD_*` variables to apply; `None` reads the process environment.
    pub env_vars: Option<Vec<(String, String)>>,
    /// The clock the probes read "now" from; `None` is the system clock.
    pub clock: Option<switchboard_clock::SharedClock>,
}

impl PreflightOptions {
    fn selected(&self, id: CheckId) -> Result<(), String> {
        if !self.only.is_empty() && !self.only.contains(&id) {
            return Err("not selected (--only)".to_owned());
        }
        if self.skip.contains(&id) {
            return Err("skipped on request (--skip)".to_owned());
        }
        Ok(())
    }
}

/// Why preflight could not run at all (exit 2). Messages say what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// A configuration file is invalid or a secret cannot be resolved.
    #[error("{context}: {source}")]
    Config {
        /// Which file.
        context: String,
        /// What is wrong.
        source: ConfigError,
    },
    /// `--env` names an environment that `[preflight.environments]` does not list.
    #[error(
        "--env {name}: no such environment in [preflight.environments] of {config} (listed: {listed}); \
         add `{name} = \"switchboard.{name}.toml\"` there or pick a listed one"
    )]
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The file read.
        config: String,
        /// The names listed.
        listed: String,
    },
    /// `--source` is not a directory.
    #[error("--source {}: {reason}; pass the directory of the source tree", path.display())]
    Source {
        /// The path given.
        path: PathBuf,
        /// What the file system said.
        reason: String,
    },
    /// `preflight.ca_cert` is not a PEM certificate.
    #[error("preflight.ca_cert {}: {reason}; give a PEM certificate file", path.display())]
    CaCert {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build an HTTP client: {0}")]
    Http(String),
}

/// Runs every selected check and returns the report (a failed check is a result, not an error).
pub async fn preflight(options: &PreflightOptions) -> Result<Report, PreflightError> {
    let started = Instant::now();
    let ctx = context::Context::build(options).await?;
    let checks = checks::run_all(&ctx, options).await;
    Ok(Report::new(
        options.env.clone(),
        ctx.config.environment.to_string(),
        ctx.config.source_file.as_ref().map(|p| p.display().to_string()),
        ctx.waived.iter().map(ConfigIssueView::from).collect(),
        checks,
        started,
    ))
}

/// Runs `switchboard preflight` and prints the report; returns the exit code.
pub async fn run(config: Option<PathBuf>, args: PreflightArgs) -> Exit {
    let options = PreflightOptions {
        config,
        env: args.env,
        only: args.only,
        skip: args.skip,
        source: args.source,
        env_vars: None,
        clock: None,
    };
    match preflight(&options).await {
        Ok(report) => {
            let out = match args.format {
                PreflightFormat::Text => {
                    use std::io::IsTerminal;
                    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                    render_text(&report, colour)
                }
                PreflightFormat::Json => render_json(&report),
                PreflightFormat::Junit => render_junit(&report),
            };
            print!("{out}");
            report.exit_code
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
    }
}
