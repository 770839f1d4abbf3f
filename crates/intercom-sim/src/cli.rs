//! The `switchboard sim` command: flags, start-up banner, run until Ctrl-C, graceful stop.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::config::{AppConfig, SimConfig, WorkspaceConfig};
use crate::errors::SimError;
use crate::{SimHandle, Simulator};

const FAULTS_HELP: &str = "Faults active from the start, as a comma-separated spec of \
ACTION[@PROBABILITY][:WINDOW] items. ACTION is 500, 502, 503, 504 (answer with that status), drop \
(close the connection without answering), truncate (send half the body, then close) or \
latency=DURATION[~JITTER]. PROBABILITY is 0..1 (default 1: every request). WINDOW is DURATION (from \
start, for that long) or START-END. Examples: '503:30s' (every request gets 503 for 30 s), \
'500@0.05,502@0.05', 'latency=50ms~20ms', 'drop@0.01:10s-40s'. At run time use POST /_sim/faults \
{\"spec\": \"...\"}, or the X-Sim-Fault request header (e.g. 'X-Sim-Fault: 503', 'drop', 'truncate', \
'latency=200ms') for a single request.";

/// Flags of `switchboard sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Port to listen on; 0 picks a free port (printed at start).
    #[arg(long, default_value_t = 4010, value_name = "P")]
    pub port: u16,
    /// Address to listen on; use 0.0.0.0 to accept connections from other machines.
    #[arg(long, default_value = "127.0.0.1", value_name = "H")]
    pub host: IpAddr,
    /// Access token of the default app; generated in Intercom's format (base64 of tok:…, starting
    /// dG9r) when omitted.
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
    /// App id code of the default app (8 lowercase letters/digits, e.g. a86dr8yl); generated when omitted.
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// Client secret that signs webhooks (X-Hub-Signature); generated when omitted.
    #[arg(long, value_name = "S")]
    pub client_secret: Option<String>,
    /// Number of deterministic fake contacts (with companies and conversations) to create at start.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed_contacts: usize,
    /// Per-app rate limit in requests per minute, enforced per 10-second window (limit/6) like Intercom.
    #[arg(long, value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Per-workspace rate limit in requests per minute, shared by all apps of the workspace.
    #[arg(long, value_name = "N")]
    pub workspace_limit_per_minute: Option<u32>,
    /// Webhook URL subscribed to every topic for the default app; must answer HEAD with 2xx.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Vec<String>,
    #[arg(long, value_name = "SPEC", help = "Faults active from the start (see --help for the syntax)", long_help = FAULTS_HELP)]
    /// Fault spec.
    pub faults: Option<String>,
    /// TOML file describing several workspaces and apps (tokens, id codes, secrets, limits); the
    /// other flags then adjust its first app and workspace.
    #[arg(long, value_name = "sim.toml")]
    pub config: Option<PathBuf>,
}

impl SimArgs {
    /// The simulator configuration these flags describe.
    pub fn to_config(&self) -> Result<SimConfig, SimError> {
        let mut config = match &self.config {
            Some(path) => SimConfig::from_toml_file(path)?,
            None => SimConfig::default(),
        };
        config.host = self.host;
        config.port = self.port;
        if config.workspaces.is_empty() {
            config.workspaces.push(WorkspaceConfig::default());
        }
        let ws = &mut config.workspaces[0];
        if ws.apps.is_empty() {
            ws.apps.push(AppConfig::default());
        }
        if let Some(limit) = self.workspace_limit_per_minute {
            ws.rate_limit_per_minute = limit;
        }
        if self.seed_contacts > 0 {
            ws.seed_contacts = self.seed_contacts;
        }
        let app = &mut ws.apps[0];
        if let Some(t) = &self.token {
            app.token = Some(t.clone());
        }
        if let Some(id) = &self.app_id {
            app.id_code = Some(id.clone());
        }
        if let Some(s) = &self.client_secret {
            app.client_secret = Some(s.clone());
        }
        if let Some(limit) = self.rate_limit_per_minute {
            app.rate_limit_per_minute = limit;
        }
        app.webhook_urls.extend(self.webhook_url.iter().cloned());
        if let Some(f) = &self.faults {
            crate::faults::FaultSpec::parse(f)?;
            config.faults = Some(f.clone());
        }
        Ok(config)
    }
}

/// The start-up banner: where the simulator listens and the credentials of every app.
pub fn banner(handle: &SimHandle) -> String {
    let mut out = format!("intercom-sim listening on {}\n", handle.base_url());
    for app in handle.apps() {
        out.push_str(&format!(
            "  app {} ({}) workspace {}\n    token:         {}\n    client secret: {}\n",
            app.app_id, app.name, app.workspace_id, app.token, app.client_secret
        ));
    }
    out.push_str(&format!(
        "  control: {0}/_sim/stats  {0}/_sim/faults  {0}/_sim/webhooks/emit  {0}/_sim/statuspage/api/v2/status.json\n",
        handle.base_url()
    ));
    out
}

/// Starts the simulator, prints its address and test credentials, and serves until Ctrl-C.
pub async fn run(args: SimArgs) -> Result<(), SimError> {
    let config = args.to_config()?;
    let handle = Simulator::start(config).await?;
    // Printing credentials is deliberate: they are throwaway test values for this simulator.
    print!("{}", banner(&handle));
    tokio::signal::ctrl_c().await?;
    println!("shutting down");
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn flags_override_the_default_app() {
        let cli = Cli::parse_from([
            "sim",
            "--port",
            "0",
            "--token",
            "tok",
            "--app-id",
            "abcd1234",
            "--client-secret",
            "s3cret",
            "--rate-limit-per-minute",
            "60",
            "--workspace-limit-per-minute",
            "120",
            "--seed-contacts",
            "5",
            "--faults",
            "503@0.1",
        ]);
        let cfg = cli.sim.to_config().expect("valid flags");
        let ws = &cfg.workspaces[0];
        assert_eq!(ws.rate_limit_per_minute, 120);
        assert_eq!(ws.seed_contacts, 5);
        assert_eq!(ws.apps[0].token.as_deref(), Some("tok"));
        assert_eq!(ws.apps[0].id_code.as_deref(), Some("abcd1234"));
        assert_eq!(ws.apps[0].rate_limit_per_minute, 60);
        assert_eq!(cfg.faults.as_deref(), Some("503@0.1"));
    }

    #[test]
    fn bad_fault_spec_is_rejected_before_start() {
        let cli = Cli::parse_from(["sim", "--faults", "teapot"]);
        assert!(matches!(cli.sim.to_config(), Err(SimError::Faults(_))));
    }
}
