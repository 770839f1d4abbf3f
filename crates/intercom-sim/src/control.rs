//! The simulator's control surface, shared by [`crate::SimHandle`] methods and the `/_sim/*` HTTP
//! routes (which never pass through auth, rate limits or faults):
//!
//! | route | what it does |
//! |---|---|
//! | `GET /_sim/stats`, `POST /_sim/stats/reset` | request/429/webhook counters |
//! | `GET|POST|DELETE /_sim/faults` | read, set (`{"spec": "503:30s", "mode": "replace"|"append"}`), clear faults |
//! | `POST /_sim/webhooks/emit` | `{"topic", "app_id"?, "item"?}`: send a notification now |
//! | `GET|POST /_sim/webhooks/subscriptions`, `DELETE …/{id}` | `{"url", "topics"?, "app_id"?}` (HEAD-validated) |
//! | `GET /_sim/statuspage/api/v2/status.json`, `POST /_sim/statuspage` | `{"indicator": "major", "description"?}` |
//! | `POST /_sim/clock/advance` | `{"seconds": 60}` or `{"millis": 500}` (manual clock only) |
//! | `POST /_sim/conversations` | `{"contact_id", "body", "app_id"?}`: a contact starts a conversation |
//! | `GET /_sim/apps` | apps with their tokens and secrets (test values) |

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::SimError;
use crate::faults::{FaultRuleView, FaultSpec};
use crate::state::{App, SimState};
use crate::stats::StatsSnapshot;
use crate::statuspage::Indicator;
use crate::webhooks::{self, SubscriptionView};

/// Control operations over a running simulator.
#[derive(Debug, Clone)]
pub struct Control {
    /// The state.
    pub sim: Arc<SimState>,
    /// Base URL of the simulator.
    pub base_url: String,
}

impl Control {
    fn app(&self, app_id: Option<&str>) -> Result<&Arc<App>, SimError> {
        match app_id {
            None => Ok(self.sim.default_app()),
            Some(id) => self.sim.app(id).ok_or_else(|| SimError::UnknownApp(id.to_string())),
        }
    }

    /// Replaces (or extends) the fault rules with a spec; windows start now.
    pub fn set_faults(&self, spec: &str, append: bool) -> Result<Vec<FaultRuleView>, SimError> {
        let rules = FaultSpec::parse(spec)?.rules_at(self.sim.clock.now_millis());
        if append {
            self.sim.faults.extend(rules);
        } else {
            self.sim.faults.replace(rules);
        }
        Ok(self.sim.faults.view())
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.sim.faults.clear();
    }

    /// Sends a notification for `topic` to the subscriptions of one app (or of the default app's
    /// workspace), with `item` or a plausible sample. Returns how many notifications were created.
    pub fn emit(&self, topic: &str, app_id: Option<&str>, item: Option<Value>) -> Result<usize, SimError> {
        if topic.trim().is_empty() {
            return Err(SimError::Control("topic must not be empty".into()));
        }
        let app = self.app(app_id)?;
        let ws = app.workspace.id.clone();
        let item = item.unwrap_or_else(|| {
            webhooks::sample_item(&self.sim, &ws, topic, self.sim.clock.now_secs() as i64)
        });
        Ok(webhooks::dispatch(&self.sim, &ws, app_id, topic, item))
    }

    /// Adds a webhook subscription for an app after validating the URL with HEAD.
    pub async fn add_subscription(
        &self,
        app_id: Option<&str>,
        url: &str,
        topics: Vec<String>,
    ) -> Result<SubscriptionView, SimError> {
        let app = self.app(app_id)?;
        self.sim.webhooks.add(&app.creds.app_id, &app.workspace.id, url, topics).await
    }

    /// Sets the statuspage indicator.
    pub fn set_indicator(&self, indicator: Indicator, description: Option<String>) {
        self.sim.statuspage.set(indicator, description, self.sim.clock.now_secs());
    }

    /// Moves the manual clock forward.
    pub fn advance_clock(&self, by: Duration) -> Result<(), SimError> {
        let manual = self.sim.clock.as_manual().ok_or(SimError::NotManualClock)?;
        manual.advance(by);
        Ok(())
    }

    /// Starts a conversation from a contact, emitting `conversation.user.created`.
    pub fn create_conversation(
        &self,
        app_id: Option<&str>,
        contact_id: &str,
        body: &str,
    ) -> Result<Value, SimError> {
        let app = self.app(app_id)?;
        let now = self.sim.clock.now_secs() as i64;
        let mut data = app.workspace.data.write();
        let (id, json) = crate::conversations::start_conversation(&mut data, contact_id, body, now)
            .map_err(|e| SimError::Control(format!("cannot start a conversation: {}", e.message)))?;
        let full = data
            .conversations
            .get(id)
            .map(|c| c.to_json(&data, Some(&c.parts)))
            .unwrap_or_else(|| json.clone());
        drop(data);
        webhooks::dispatch(&self.sim, &app.workspace.id, None, "conversation.user.created", json);
        Ok(full)
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.sim.stats.snapshot()
    }
}

struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<SimError> for ControlError {
    fn from(e: SimError) -> Self {
        let status = match e {
            SimError::UnknownApp(_) => StatusCode::NOT_FOUND,
            SimError::WebhookValidation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            SimError::NotManualClock => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ControlError(status, e.to_string())
    }
}

/// Builds the `/_sim` router.
pub fn router(control: Control) -> Router {
    Router::new()
        .route("/_sim/stats", get(stats))
        .route("/_sim/stats/reset", post(reset_stats))
        .route("/_sim/faults", get(get_faults).post(set_faults).delete(clear_faults))
        .route("/_sim/webhooks/emit", post(emit))
        .route("/_sim/webhooks/subscriptions", get(list_subscriptions).post(add_subscription))
        .route("/_sim/webhooks/subscriptions/{id}", delete(remove_subscription))
        .route("/_sim/statuspage/api/v2/status.json", get(status_json))
        .route("/_sim/statuspage", post(set_status))
        .route("/_sim/clock/advance", post(advance_clock))
        .route("/_sim/conversations", post(create_conversation))
        .route("/_sim/apps", get(apps))
        .fallback(|| async { ControlError(StatusCode::NOT_FOUND, "no such control route".into()) })
        .with_state(control)
}

async fn stats(State(c): State<Control>) -> Json<StatsSnapshot> {
    Json(c.stats())
}

async fn reset_stats(State(c): State<Control>) -> StatusCode {
    c.sim.stats.reset();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(c): State<Control>) -> Json<Value> {
    Json(json!({ "rules": c.sim.faults.view() }))
}

#[derive(Deserialize)]
struct FaultsBody {
    spec: String,
    #[serde(default)]
    mode: Option<String>,
}

async fn set_faults(
    State(c): State<Control>,
    Json(body): Json<FaultsBody>,
) -> Result<Json<Value>, ControlError> {
    let append = match body.mode.as_deref() {
        None | Some("replace") => false,
        Some("append") => true,
        Some(other) => {
            return Err(ControlError(
                StatusCode::BAD_REQUEST,
                format!("mode must be replace or append, got {other:?}"),
            ));
        }
    };
    let rules = c.set_faults(&body.spec, append)?;
    Ok(Json(json!({ "rules": rules })))
}

async fn clear_faults(State(c): State<Control>) -> StatusCode {
    c.clear_faults();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct EmitBody {
    topic: String,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    item: Option<Value>,
}

async fn emit(
    State(c): State<Control>,
    Json(body): Json<EmitBody>,
) -> Result<(StatusCode, Json<Value>), ControlError> {
    let n = c.emit(&body.topic, body.app_id.as_deref(), body.item)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "topic": body.topic, "notifications": n }))))
}

async fn list_subscriptions(State(c): State<Control>) -> Json<Value> {
    Json(json!({ "subscriptions": c.sim.webhooks.list() }))
}

#[derive(Deserialize)]
struct SubscriptionBody {
    url: String,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    app_id: Option<String>,
}

async fn add_subscription(
    State(c): State<Control>,
    Json(body): Json<SubscriptionBody>,
) -> Result<(StatusCode, Json<SubscriptionView>), ControlError> {
    let sub = c.add_subscription(body.app_id.as_deref(), &body.url, body.topics).await?;
    Ok((StatusCode::CREATED, Json(sub)))
}

async fn remove_subscription(
    State(c): State<Control>,
    Path(id): Path<String>,
) -> Result<StatusCode, ControlError> {
    if c.sim.webhooks.remove(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError(StatusCode::NOT_FOUND, format!("no subscription {id}")))
    }
}

async fn status_json(State(c): State<Control>) -> Json<Value> {
    Json(c.sim.statuspage.status_json(&c.base_url))
}

#[derive(Deserialize)]
struct StatusBody {
    indicator: String,
    #[serde(default)]
    description: Option<String>,
}

async fn set_status(
    State(c): State<Control>,
    Json(body): Json<StatusBody>,
) -> Result<Json<Value>, ControlError> {
    let indicator: Indicator =
        body.indicator.parse().map_err(|e| ControlError(StatusCode::BAD_REQUEST, e))?;
    c.set_indicator(indicator, body.description);
    Ok(Json(c.sim.statuspage.status_json(&c.base_url)))
}

#[derive(Deserialize)]
struct AdvanceBody {
    #[serde(default)]
    seconds: Option<u64>,
    #[serde(default)]
    millis: Option<u64>,
}

async fn advance_clock(
    State(c): State<Control>,
    Json(body): Json<AdvanceBody>,
) -> Result<Json<Value>, ControlError> {
    let by = Duration::from_secs(body.seconds.unwrap_or(0)) + Duration::from_millis(body.millis.unwrap_or(0));
    c.advance_clock(by)?;
    Ok(Json(json!({ "now_ms": c.sim.clock.now_millis() })))
}

#[derive(Deserialize)]
struct ConversationBody {
    contact_id: String,
    body: String,
    #[serde(default)]
    app_id: Option<String>,
}

async fn create_conversation(
    State(c): State<Control>,
    Json(body): Json<ConversationBody>,
) -> Result<(StatusCode, Json<Value>), ControlError> {
    let conv = c.create_conversation(body.app_id.as_deref(), &body.contact_id, &body.body)?;
    Ok((StatusCode::CREATED, Json(conv)))
}

async fn apps(State(c): State<Control>) -> Json<Value> {
    let apps: Vec<_> = c.sim.apps.iter().map(|a| &a.creds).collect();
    Json(json!({ "apps": apps }))
}
