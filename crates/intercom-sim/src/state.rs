//! The simulator's state: apps (tokens) bound to workspaces, and each workspace's data behind one
//! short-held lock. Built once at start from a [`SimConfig`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::admins::Admin;
use crate::clock::SharedClock;
use crate::companies::{CompanyStore, ScrollState};
use crate::config::{self, SimConfig};
use crate::contacts::ContactStore;
use crate::conversations::ConversationStore;
use crate::data_attributes::AttributeStore;
use crate::errors::SimError;
use crate::events::EventStore;
use crate::faults::{FaultSpec, FaultState};
use crate::ratelimit::Bucket;
use crate::stats::Stats;
use crate::statuspage::StatusPage;
use crate::tags::TagStore;
use crate::webhooks::Webhooks;

/// The credentials of one app, as a test needs them to call the simulator and verify webhooks.
#[derive(Clone, Serialize, PartialEq, Eq)]
pub struct AppCredentials {
    /// Bearer token.
    pub token: String,
    /// App id code (what webhooks carry as `app_id`).
    pub app_id: String,
    /// Client secret that signs webhooks.
    pub client_secret: String,
    /// Workspace the app belongs to.
    pub workspace_id: String,
    /// App name.
    pub name: String,
}

impl fmt::Debug for AppCredentials {
    // Tokens and secrets stay out of Debug output so they never land in logs by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("workspace_id", &self.workspace_id)
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// One app: a token with its own rate limit, bound to a workspace.
#[derive(Debug)]
pub struct App {
    /// Credentials.
    pub creds: AppCredentials,
    /// Creation time (epoch seconds), reported by `/me`.
    pub created_at: u64,
    /// The app's rate-limit bucket.
    pub bucket: Bucket,
    /// The workspace whose data the token reaches.
    pub workspace: Arc<Workspace>,
    /// The app's open companies scroll (Intercom allows one per app).
    pub scroll: Mutex<Option<ScrollState>>,
}

/// One workspace: settings, shared rate-limit bucket, and data.
#[derive(Debug)]
pub struct Workspace {
    /// Workspace id, carried by contacts as `workspace_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Region reported by `/me`.
    pub region: String,
    /// Timezone reported by `/me`.
    pub timezone: String,
    /// Shared bucket of all the workspace's apps.
    pub bucket: Bucket,
    /// The data; held only for the synchronous part of a request, never across an await.
    pub data: RwLock<WorkspaceData>,
}

/// Everything stored in a workspace.
#[derive(Debug)]
pub struct WorkspaceData {
    /// Source of ids, seeded for determinism.
    pub rng: StdRng,
    /// Contacts.
    pub contacts: ContactStore,
    /// Companies.
    pub companies: CompanyStore,
    /// Tags.
    pub tags: TagStore,
    /// Custom data attributes.
    pub attributes: AttributeStore,
    /// Teammates.
    pub admins: Vec<Admin>,
    /// Conversations.
    pub conversations: ConversationStore,
    /// Data events.
    pub events: EventStore,
}

impl WorkspaceData {
    /// Empty data with a seeded id generator.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            contacts: ContactStore::default(),
            companies: CompanyStore::default(),
            tags: TagStore::default(),
            attributes: AttributeStore::default(),
            admins: Vec::new(),
            conversations: ConversationStore::default(),
            events: EventStore::default(),
        }
    }

    /// A new 24-hex object id like Intercom's (creation seconds, then random).
    pub fn object_id(&mut self, now_secs: i64) -> String {
        format!("{:08x}{:016x}", now_secs as u32, self.rng.random::<u64>())
    }
}

/// The whole simulator state shared by every connection.
#[derive(Debug)]
pub struct SimState {
    /// Clock for every time-dependent behaviour.
    pub clock: SharedClock,
    /// Apps by bearer token, for a single hash lookup per request.
    pub apps_by_token: HashMap<String, Arc<App>>,
    /// Apps in configuration order (the first is the default app).
    pub apps: Vec<Arc<App>>,
    /// Workspaces in configuration order.
    pub workspaces: Vec<Arc<Workspace>>,
    /// `Intercom-Version` assumed when none is sent.
    pub default_version: String,
    /// How long new contacts stay out of search results.
    pub search_delay: std::time::Duration,
    /// Live fault rules.
    pub faults: FaultState,
    /// Request and webhook counters.
    pub stats: Stats,
    /// Statuspage indicator.
    pub statuspage: StatusPage,
    /// Webhook subscriptions and delivery.
    pub webhooks: Webhooks,
}

impl SimState {
    /// Looks up an app by its id code.
    pub fn app(&self, app_id: &str) -> Option<&Arc<App>> {
        self.apps.iter().find(|a| a.creds.app_id == app_id)
    }

    /// The default (first) app.
    pub fn default_app(&self) -> &Arc<App> {
        // `build` refuses a configuration without apps, so index 0 always exists.
        &self.apps[0]
    }

    /// Apps of a workspace.
    pub fn apps_of(&self, workspace_id: &str) -> impl Iterator<Item = &Arc<App>> {
        self.apps.iter().filter(move |a| a.workspace.id == workspace_id)
    }

    /// Builds the state from a configuration: generates missing credentials, checks uniqueness,
    /// seeds data. Webhook subscriptions from the config are added by the caller (they need I/O).
    pub fn build(config: &SimConfig, clock: SharedClock, webhooks: Webhooks) -> Result<Self, SimError> {
        if config.workspaces.is_empty() || config.workspaces.iter().all(|w| w.apps.is_empty()) {
            return Err(SimError::Config("at least one workspace with one app is required".into()));
        }
        let now = clock.now_secs();
        let mut apps = Vec::new();
        let mut workspaces = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut apps_by_token = HashMap::new();
        for (wi, wc) in config.workspaces.iter().enumerate() {
            if wc.apps.is_empty() {
                return Err(SimError::Config(format!("workspace #{} has no apps", wi + 1)));
            }
            let ws_id =
                wc.id.clone().or_else(|| wc.apps[0].id_code.clone()).unwrap_or_else(config::generate_id_code);
            if wc.rate_limit_per_minute == 0 {
                return Err(SimError::Config(format!(
                    "workspace {ws_id}: rate_limit_per_minute must be > 0"
                )));
            }
            let seed = config.seed.wrapping_add(wi as u64);
            let mut data = WorkspaceData::new(seed);
            crate::seed::seed_workspace(&mut data, seed, wc.seed_contacts);
            let workspace = Arc::new(Workspace {
                id: ws_id.clone(),
                name: wc.name.clone(),
                region: wc.region.clone(),
                timezone: wc.timezone.clone(),
                bucket: Bucket::new(wc.rate_limit_per_minute),
                data: RwLock::new(data),
            });
            for (ai, ac) in wc.apps.iter().enumerate() {
                let app_id = match &ac.id_code {
                    Some(id) => id.clone(),
                    None if ai == 0 && wc.id.is_none() => ws_id.clone(),
                    None => config::generate_id_code(),
                };
                if !seen_ids.insert(app_id.clone()) {
                    return Err(SimError::Config(format!("app id {app_id} is used twice")));
                }
                if ac.rate_limit_per_minute == 0 {
                    return Err(SimError::Config(format!("app {app_id}: rate_limit_per_minute must be > 0")));
                }
                let token = ac.token.clone().unwrap_or_else(config::generate_token);
                if token.is_empty() {
                    return Err(SimError::Config(format!("app {app_id}: the token must not be empty")));
                }
                let creds = AppCredentials {
                    token: token.clone(),
                    app_id: app_id.clone(),
                    client_secret: ac.client_secret.clone().unwrap_or_else(config::generate_client_secret),
                    workspace_id: ws_id.clone(),
                    name: ac.name.clone(),
                };
                let app = Arc::new(App {
                    creds,
                    created_at: now,
                    bucket: Bucket::new(ac.rate_limit_per_minute),
                    workspace: workspace.clone(),
                    scroll: Mutex::new(None),
                });
                if apps_by_token.insert(token, app.clone()).is_some() {
                    return Err(SimError::Config(format!(
                        "app {app_id}: its token is also used by another app"
                    )));
                }
                apps.push(app);
            }
            workspaces.push(workspace);
        }
        let faults = FaultState::default();
        if let Some(spec) = &config.faults {
            faults.replace(FaultSpec::parse(spec)?.rules_at(clock.now_millis()));
        }
        Ok(Self {
            clock,
            apps_by_token,
            apps,
            workspaces,
            default_version: config.default_version.clone(),
            search_delay: config.search_delay,
            faults,
            stats: Stats::default(),
            statuspage: StatusPage::default(),
            webhooks,
        })
    }
}
