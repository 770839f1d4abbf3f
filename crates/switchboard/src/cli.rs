//! The `switchboard` command line: parsing, dispatch to the library, and each command's outcome as
//! an [`Exit`] code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use switchboard_clock::SystemClock;

use url::Url;

use crate::bench::{self, webhooks::WebhooksBenchArgs};
use crate::config::{Config, ConfigError, ConfigLoader, Overrides};
use crate::dlq::{self, DestinationsCommand, DlqCommand};
use crate::exit::Exit;
use crate::logging::{self, LogFormat};
use crate::sandbox;
use crate::startup::{self, ServeError};

/// Switchboard: a production gateway and toolkit for Intercom integrations.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Config file (TOML). Default: ./switchboard.toml if it exists. Every key can be overridden by
    /// an environment variable SWITCHBOARD_<SECTION>__<KEY> (e.g. SWITCHBOARD_SERVER__LISTEN), and
    /// some by flags; flags win over variables, variables over the file.
    #[arg(long, global = true, value_name = "PATH", env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format: json (one object per line, the production default) or text (readable, the
    /// default elsewhere). Overrides logging.format. The filter is logging.level, or SWITCHBOARD_LOG.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: webhook ingress and delivery, health probes, metrics and alerts.
    Serve(ServeArgs),
    /// Run the Intercom simulator: a stateful fake Intercom API with rate limits, faults and signed webhooks.
    Sim(intercom_sim::cli::SimArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Dead letters: deliveries that failed every attempt. List them, replay them.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Destinations disabled after answering 410 Gone: list them, enable them again.
    #[command(subcommand)]
    Destinations(DestinationsCommand),
    /// Load generators and benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Probe a running instance's /health: print its JSON, exit 0 when healthy and 1 otherwise
    /// (for exec probes and deploy scripts).
    Health(HealthArgs),
    /// Built-in alert rules: export them for Prometheus.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Find Intercom tokens and secrets committed to a tree or its git history.
    Scan(crate::scan::ScanArgs),
    /// Check a deployment against Intercom's production checklist: PASS/WARN/FAIL per item, for CI/CD gates.
    Preflight(crate::preflight::PreflightArgs),
}

/// `switchboard alerts ...`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Print the built-in alert rules, with the [alerts] thresholds of the configuration (the
    /// defaults without one), as a Prometheus rules file on stdout; deploy/prometheus/switchboard-alerts.yml
    /// is the output for the defaults.
    Export {
        /// The output format.
        #[arg(long, value_enum, default_value = "prometheus")]
        format: AlertsExportFormat,
    },
}

/// Formats of `switchboard alerts export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AlertsExportFormat {
    /// A Prometheus rules file (YAML) for `rule_files`.
    Prometheus,
}

/// `switchboard bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send signed Intercom notifications at a fixed rate (open loop) and report acks/s and latency.
    Webhooks(WebhooksBenchArgs),
    /// Upsert contacts through the paced client and compare the achieved rate with the allowed one.
    Pacing(bench::pacing::PacingArgs),
    /// A destination that accepts every delivery and counts them, for load tests of delivery; it can
    /// fail a share of deliveries and stall some, as real destinations do.
    Sink(bench::sink::SinkArgs),
}

/// `switchboard health`
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The health URL, like https://switchboard.internal/health; a base URL without a path
    /// (http://host:8080) probes its /health. Default: /health on server.listen of the configuration
    /// (127.0.0.1 when it listens on all interfaces; https when it terminates TLS).
    #[arg(long, value_name = "URL")]
    pub url: Option<Url>,
}

/// `switchboard serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, like 0.0.0.0:8080 (port 0 picks a free port). Overrides server.listen.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Try Switchboard with nothing installed: starts the Intercom simulator in-process, generates
    /// its token and client secret, keeps data in ./switchboard-data/, and prints the URLs and a
    /// command that sends a signed test webhook. Ignores the config file's secrets.
    #[arg(long)]
    pub sandbox: bool,
}

/// `switchboard config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and resolve every secret; print the effective configuration with
    /// each secret shown only as its reference and fingerprint (sha256:1a2b3c4d). Exits 2 when invalid.
    Check,
}

/// Parses the command line and runs it; the whole of `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure.into();
        }
    };
    runtime.block_on(run(cli))
}

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(cli.config, cli.log_format, args).await,
        Command::Sim(args) => {
            logging::init(cli.log_format.unwrap_or(LogFormat::Text), "info", &[]);
            match intercom_sim::cli::run(args).await {
                Ok(()) => Exit::Success.into(),
                Err(e) => {
                    eprintln!("error: {e}");
                    Exit::Failure.into()
                }
            }
        }
        Command::Config(ConfigCommand::Check) => config_check(cli.config, cli.log_format).await,
        Command::Bench(BenchCommand::Webhooks(args)) => match bench::webhooks::run(&args, &SystemClock).await
        {
            Ok(report) => {
                bench::webhooks::print(&report);
                Exit::Success.into()
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Usage.into()
            }
        },
        Command::Bench(BenchCommand::Sink(args)) => match bench::sink::run(args).await {
            Ok(()) => Exit::Success.into(),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                eprintln!("error: {e}");
                Exit::Usage.into()
            }
            Err(e) => {
                eprintln!("error: the sink cannot listen: {e}");
                Exit::Failure.into()
            }
        },
        Command::Bench(BenchCommand::Pacing(args)) => match bench::pacing::run(args).await {
            Ok(_) => Exit::Success.into(),
            Err(e @ bench::pacing::PacingError::Args(_)) => {
                eprintln!("error: {e}");
                Exit::Usage.into()
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Failure.into()
            }
        },
        Command::Health(args) => health_command(cli.config, args).await,
        Command::Alerts(AlertsCommand::Export { format: AlertsExportFormat::Prometheus }) => {
            // The rules as configured ([alerts] thresholds and windows); the defaults without a config.
            let config = match load(cli.config, Overrides::default()) {
                Ok(config) => config,
                Err(code) => return code,
            };
            print!("{}", crate::alerts::export_prometheus(&config.alerts));
            Exit::Success.into()
        }
        Command::Dlq(command) => {
            store_command(cli.config, |config| async move { dlq::run_dlq(&config, command).await }).await
        }
        // The scan walks files on its own threads; keep it off the async workers.
        Command::Scan(args) => match tokio::task::spawn_blocking(move || crate::scan::run(args)).await {
            Ok(Ok(outcome)) => outcome.exit_code().into(),
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                Exit::Usage.into()
            }
            Err(e) => {
                eprintln!("error: the scan stopped unexpectedly: {e}");
                Exit::Failure.into()
            }
        },
        Command::Preflight(args) => crate::preflight::run(cli.config, args).await.into(),
        Command::Destinations(command) => {
            store_command(cli.config, |config| async move { dlq::run_destinations(&config, command).await })
                .await
        }
    }
}

/// The URL `switchboard health` probes: `--url` (its `/health` when it is a bare base URL), else
/// `/health` on `server.listen` of the configuration.
fn health_url(url: Option<Url>, file: Option<PathBuf>) -> Result<String, ExitCode> {
    if let Some(url) = url {
        return Ok(crate::health::health_url_of(url).into());
    }
    let config = load(file, Overrides::default())?;
    crate::health::derived_health_url(&config.server).map(Into::into).map_err(|e| {
        eprintln!("error: {e}; give it with --url");
        Exit::Failure.into()
    })
}

async fn health_command(file: Option<PathBuf>, args: HealthArgs) -> ExitCode {
    let url = match health_url(args.url, file) {
        Ok(url) => url,
        Err(code) => return code,
    };
    let http = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build() {
        Ok(http) => http,
        Err(e) => {
            eprintln!("error: cannot build an HTTP client: {e}");
            return Exit::Failure.into();
        }
    };
    match http.get(&url).send().await {
        Ok(response) => {
            let healthy = response.status().is_success();
            match response.json::<serde_json::Value>().await {
                Ok(body) => println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default()),
                Err(e) => eprintln!("error: {url} did not answer JSON: {e}"),
            }
            if healthy { Exit::Success.into() } else { Exit::Failure.into() }
        }
        Err(e) => {
            eprintln!("error: cannot reach {url}: {e}; is switchboard serve running there?");
            Exit::Failure.into()
        }
    }
}

async fn store_command<F, Fut>(file: Option<PathBuf>, run: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = Result<String, crate::store::StoreError>>,
{
    let config = match load(file, Overrides::default()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    match run(config).await {
        Ok(output) => {
            println!("{output}");
            Exit::Success.into()
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure.into()
        }
    }
}

fn load(file: Option<PathBuf>, overrides: Overrides) -> Result<Config, ExitCode> {
    ConfigLoader::new(file, overrides).load().map_err(|e| config_failure(&e))
}

fn config_failure(error: &ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    Exit::Usage.into()
}

async fn config_check(file: Option<PathBuf>, log_format: Option<LogFormat>) -> ExitCode {
    let config = match load(file, Overrides { listen: None, log_format }) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let secrets = match config.load_secrets().await {
        Ok(secrets) => secrets,
        Err(e) => return config_failure(&e),
    };
    let source = match &config.source_file {
        Some(path) => path.display().to_string(),
        None => "no file (defaults and environment only)".to_owned(),
    };
    println!("# configuration OK: environment = {}, source = {source}", config.environment);
    for warning in config.warnings() {
        println!("# warning: {warning}");
    }
    print!("{}", config.render(&secrets));
    Exit::Success.into()
}

async fn serve(file: Option<PathBuf>, log_format: Option<LogFormat>, args: ServeArgs) -> ExitCode {
    let overrides = Overrides { listen: args.listen.clone(), log_format };
    let config = match load(file, overrides) {
        Ok(config) => config,
        Err(code) => return code,
    };
    logging::init(config.logging.format, &config.logging.level, &config.logging.redact_keys);
    let result = if args.sandbox { sandbox::run(config).await } else { startup::serve(config).await };
    match result {
        Ok(()) => Exit::Success.into(),
        Err(ServeError::Config(e)) => config_failure(&e),
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            Exit::Failure.into()
        }
    }
}
