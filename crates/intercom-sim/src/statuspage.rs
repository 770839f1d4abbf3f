//! A fake Atlassian Statuspage (`GET /_sim/statuspage/api/v2/status.json`) whose indicator tests set,
//! so health checks and preflight can be exercised against every status.

use std::str::FromStr;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Statuspage's overall indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    /// All systems operational.
    #[default]
    None,
    /// Minor outage.
    Minor,
    /// Partial outage.
    Major,
    /// Major outage.
    Critical,
}

impl Indicator {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::None => "none",
            Indicator::Minor => "minor",
            Indicator::Major => "major",
            Indicator::Critical => "critical",
        }
    }

    /// Statuspage's stock description for the indicator.
    pub fn description(self) -> &'static str {
        match self {
            Indicator::None => "All Systems Operational",
            Indicator::Minor => "Minor Service Outage",
            Indicator::Major => "Partial System Outage",
            Indicator::Critical => "Major Service Outage",
        }
    }
}

impl FromStr for Indicator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Indicator::None),
            "minor" => Ok(Indicator::Minor),
            "major" => Ok(Indicator::Major),
            "critical" => Ok(Indicator::Critical),
            other => Err(format!("unknown indicator {other:?}: use none, minor, major or critical")),
        }
    }
}

/// The page's state.
#[derive(Debug, Default)]
pub struct StatusPage {
    state: RwLock<(Indicator, Option<String>, u64)>,
}

impl StatusPage {
    /// Sets the indicator, with an optional custom description, at `now_secs`.
    pub fn set(&self, indicator: Indicator, description: Option<String>, now_secs: u64) {
        *self.state.write() = (indicator, description, now_secs);
    }

    /// The current indicator.
    pub fn indicator(&self) -> Indicator {
        self.state.read().0
    }

    /// The `status.json` document.
    pub fn status_json(&self, base_url: &str) -> Value {
        let (indicator, description, updated) = self.state.read().clone();
        let updated_at = time::OffsetDateTime::from_unix_timestamp(updated as i64)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
        json!({
            "page": {
                "id": "intercomsim",
                "name": "Intercom",
                "url": format!("{base_url}/_sim/statuspage"),
                "time_zone": "Etc/UTC",
                "updated_at": updated_at,
            },
            "status": {
                "indicator": indicator.as_str(),
                "description": description.unwrap_or_else(|| indicator.description().to_string()),
            },
        })
    }
}
