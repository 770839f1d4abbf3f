//! `intercom-sim`: a stateful Intercom API simulator with real rate limits, faults on demand and
//! signed webhooks, usable in-process from any test or as `switchboard sim`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), intercom_sim::SimError> {
//! use intercom_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default().seed_contacts(100)).await?;
//! let client = reqwest::Client::new();
//! let me = client
//!     .get(format!("{}/me", sim.base_url()))
//!     .bearer_auth(&sim.default_app().token)
//!     .send()
//!     .await;
//! sim.shutdown().await;
//! # let _ = me; Ok(()) }
//! ```
//!
//! Modules: [`server`] (HTTP pipeline), [`state`], [`config`], [`clock`], [`ratelimit`],
//! [`faults`], [`webhooks`], [`stats`], [`statuspage`], [`seed`], [`control`], the endpoint
//! modules ([`admins`], [`contacts`], [`companies`], [`data_attributes`], [`tags`], [`events`],
//! [`conversations`]), [`search`] (the query language), [`cli`] and [`bench`].

pub mod admins;
pub mod api;
pub mod bench;
pub mod cli;
pub mod companies;
pub mod config;
pub mod contacts;
pub mod control;
pub mod conversations;
pub mod data_attributes;
pub mod errors;
pub mod events;
pub mod faults;
pub mod input;
pub mod pagination;
pub mod ratelimit;
pub mod routes;
pub mod search;
pub mod seed;
pub mod server;
pub mod state;
pub mod stats;
pub mod statuspage;
pub mod tags;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::{AppConfig, SimConfig, WebhookConfig, WorkspaceConfig};
pub use errors::{ApiError, SimError};
pub use faults::FaultSpec;
pub use state::AppCredentials;
pub use stats::StatsSnapshot;
pub use statuspage::Indicator;
/// Time for everything time-dependent in the simulator (rate-limit windows, scroll expiry,
/// timestamps, webhook retry timing): the workspace's one clock, shared with the client without
/// either crate depending on the other.
pub use switchboard_clock as clock;
pub use webhooks::{DeliveryEvent, DeliveryOutcome, SubscriptionView};

use control::Control;
use state::SimState;

/// Entry point: starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds the configured address (127.0.0.1 on an ephemeral port by default), builds and seeds
    /// the state, subscribes configured webhook URLs (HEAD-validated) and starts serving.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| SimError::Bind { addr, source })?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let clock: SharedClock = config.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        let webhooks = webhooks::Webhooks::new(config.webhooks.clone())?;
        let sim = Arc::new(SimState::build(&config, clock, webhooks)?);
        let control = Control { sim: sim.clone(), base_url: base_url.clone() };
        // `SimState::build` creates apps in configuration order, so the two sequences line up.
        let configured = config.workspaces.iter().flat_map(|w| w.apps.iter());
        for (ac, app) in configured.zip(sim.apps.iter()) {
            for url in &ac.webhook_urls {
                control.add_subscription(Some(&app.creds.app_id), url, Vec::new()).await?;
            }
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let router = control::router(control.clone());
        let task = tokio::spawn(server::serve(listener, sim.clone(), router, shutdown_rx));
        let apps = sim.apps.iter().map(|a| a.creds.clone()).collect();
        Ok(SimHandle { addr, base_url, apps, control, shutdown: shutdown_tx, task })
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime stops; call
/// [`SimHandle::shutdown`] for a graceful stop.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    base_url: String,
    apps: Vec<AppCredentials>,
    control: Control,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SimHandle {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Credentials of the first app of the first workspace.
    pub fn default_app(&self) -> &AppCredentials {
        // `SimState::build` refuses configurations without apps, so there is always a first one.
        &self.apps[0]
    }

    /// Credentials of every app.
    pub fn apps(&self) -> &[AppCredentials] {
        &self.apps
    }

    /// Replaces the fault rules with a spec (see [`faults`]); windows start now.
    pub fn set_faults(&self, spec: &str) -> Result<(), SimError> {
        self.control.set_faults(spec, false).map(|_| ())
    }

    /// Adds fault rules to the existing ones.
    pub fn add_faults(&self, spec: &str) -> Result<(), SimError> {
        self.control.set_faults(spec, true).map(|_| ())
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.control.clear_faults();
    }

    /// Sends a webhook notification for `topic` to the default app's workspace subscriptions, with
    /// `item` or a sample item. Returns the number of notifications created.
    pub fn emit_webhook(&self, topic: &str, item: Option<Value>) -> Result<usize, SimError> {
        self.control.emit(topic, None, item)
    }

    /// Like [`SimHandle::emit_webhook`], for one app's subscriptions only.
    pub fn emit_webhook_for(
        &self,
        app_id: &str,
        topic: &str,
        item: Option<Value>,
    ) -> Result<usize, SimError> {
        self.control.emit(topic, Some(app_id), item)
    }

    /// Subscribes the default app (or `app_id`) to `topics` (empty: all) at `url`, validating the
    /// URL with a HEAD request first.
    pub async fn add_webhook_subscription(
        &self,
        app_id: Option<&str>,
        url: &str,
        topics: &[&str],
    ) -> Result<SubscriptionView, SimError> {
        self.control.add_subscription(app_id, url, topics.iter().map(|t| t.to_string()).collect()).await
    }

    /// Current webhook subscriptions.
    pub fn webhook_subscriptions(&self) -> Vec<SubscriptionView> {
        self.control.sim.webhooks.list()
    }

    /// A stream of webhook delivery events from now on (await them instead of sleeping).
    pub fn webhook_events(&self) -> broadcast::Receiver<DeliveryEvent> {
        self.control.sim.webhooks.subscribe_events()
    }

    /// Request, 429 and webhook counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.control.stats()
    }

    /// Sets the statuspage indicator.
    pub fn set_status_indicator(&self, indicator: Indicator) {
        self.control.set_indicator(indicator, None);
    }

    /// Moves the manual clock forward (fails on the system clock).
    pub fn advance_clock(&self, by: Duration) -> Result<(), SimError> {
        self.control.advance_clock(by)
    }

    /// A contact of the default app's workspace starts a conversation; returns it as JSON.
    pub fn create_conversation(&self, contact_id: &str, body: &str) -> Result<Value, SimError> {
        self.control.create_conversation(None, contact_id, body)
    }

    /// Ids of live contacts in the default app's workspace (handy for benchmarks).
    pub fn contact_ids(&self, limit: usize) -> Vec<String> {
        let data = self.control.sim.default_app().workspace.data.read();
        data.contacts.iter_live().take(limit).map(|(_, c)| c.id.clone()).collect()
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits for the server.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
