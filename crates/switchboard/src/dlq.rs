//! `switchboard dlq` and `switchboard destinations`: dead letters and disabled destinations, from
//! the command line, straight on the store (a running service picks changes up within
//! `delivery.poll_interval`).

use clap::{Args, Subcommand, ValueEnum};
use switchboard_clock::SystemClock;

use crate::config::Config;
use crate::store::{self, DeadLetterFilter, Millis, StoreError, now_millis};

/// `switchboard dlq ...`
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (deliveries that failed every attempt), oldest first.
    List(ListArgs),
    /// Put dead letters back in the queue for a fresh round of attempts.
    Replay(ReplayArgs),
}

/// Output format of listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Text,
    /// One JSON document.
    Json,
}

/// `switchboard dlq list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only dead letters of this destination.
    #[arg(long, value_name = "NAME")]
    pub destination: Option<String>,
    /// Only those dead-lettered since T: an RFC 3339 time (2026-11-27T10:00:00Z) or a duration ago (2h).
    #[arg(long, value_name = "T", value_parser = parse_since)]
    pub since: Option<Millis>,
    /// At most this many.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// text (a table) or json.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// `switchboard dlq replay`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "all"]))]
pub struct ReplayArgs {
    /// Replay the dead letter with this id (see `dlq list`).
    #[arg(long, value_name = "ID")]
    pub id: Option<i64>,
    /// Replay every dead letter (narrowed by --since and --destination).
    #[arg(long)]
    pub all: bool,
    /// With --all: only those dead-lettered since T (RFC 3339 time or a duration ago, like 2h).
    #[arg(long, value_name = "T", value_parser = parse_since, requires = "all")]
    pub since: Option<Millis>,
    /// With --all: only this destination's.
    #[arg(long, value_name = "NAME", requires = "all")]
    pub destination: Option<String>,
}

/// `switchboard destinations ...`
#[derive(Debug, Subcommand)]
pub enum DestinationsCommand {
    /// List destinations disabled after a 410 Gone.
    Disabled,
    /// Enable a destination again; its queued deliveries resume.
    Enable {
        /// The destination's name.
        name: String,
    },
}

/// Parses `--since`: RFC 3339, or a duration meaning "that long ago".
pub fn parse_since(text: &str) -> Result<Millis, String> {
    if let Ok(at) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok((at.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    match humantime::parse_duration(text) {
        // A command line's "now" is the moment it runs: the system clock.
        Ok(ago) => Ok(now_millis(&SystemClock) - ago.as_millis() as i64),
        Err(_) => {
            Err(format!("{text:?} is neither an RFC 3339 time (2026-11-27T10:00:00Z) nor a duration (2h)"))
        }
    }
}

fn format_time(millis: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| millis.to_string())
}

/// Runs a `dlq` command; returns what to print.
pub async fn run_dlq(config: &Config, command: DlqCommand) -> Result<String, StoreError> {
    let store = store::open_existing(&config.store)?;
    let result = match command {
        DlqCommand::List(args) => {
            let filter = DeadLetterFilter {
                destination: args.destination,
                since: args.since,
                id: None,
                limit: args.limit,
            };
            let dead = store.dead_letters(filter).await?;
            match args.format {
                Format::Json => serde_json::to_string_pretty(&serde_json::json!({ "dead_letters": dead }))
                    .unwrap_or_default(),
                Format::Text if dead.is_empty() => "no dead letters".to_owned(),
                Format::Text => {
                    let mut out = format!(
                        "{:>8}  {:<16}  {:<44}  {:<28}  {:>8}  {:<20}  {}\n",
                        "ID", "DESTINATION", "NOTIFICATION", "TOPIC", "ATTEMPTS", "DEAD SINCE", "LAST ERROR"
                    );
                    for d in &dead {
                        out.push_str(&format!(
                            "{:>8}  {:<16}  {:<44}  {:<28}  {:>8}  {:<20}  {}\n",
                            d.id,
                            d.destination,
                            d.notification_id,
                            d.topic,
                            d.attempts,
                            format_time(d.dead_at),
                            d.last_error.as_deref().unwrap_or("")
                        ));
                    }
                    out.push_str(&format!("{} dead letter(s)", dead.len()));
                    out
                }
            }
        }
        DlqCommand::Replay(args) => {
            let filter = DeadLetterFilter {
                destination: args.destination,
                since: args.since,
                id: args.id,
                limit: None,
            };
            // The service shares this store and reads the system clock too: replayed means due now.
            let replayed = store.replay(now_millis(&SystemClock), filter).await?;
            match (args.id, replayed) {
                (Some(id), 0) => format!("no dead letter with id {id}; see `switchboard dlq list`"),
                _ => format!("{replayed} dead letter(s) queued for delivery again"),
            }
        }
    };
    store.close().await;
    Ok(result)
}

/// Runs a `destinations` command; returns what to print.
pub async fn run_destinations(config: &Config, command: DestinationsCommand) -> Result<String, StoreError> {
    let store = store::open_existing(&config.store)?;
    let result = match command {
        DestinationsCommand::Disabled => {
            let disabled = store.disabled_destinations().await?;
            if disabled.is_empty() {
                "no disabled destinations".to_owned()
            } else {
                disabled
                    .iter()
                    .map(|d| format!("{}  disabled {}  ({})", d.name, format_time(d.disabled_at), d.reason))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        DestinationsCommand::Enable { name } => {
            if !config.destinations.iter().any(|d| d.name == name) {
                store.close().await;
                return Ok(format!("warning: {name:?} is not a configured destination; nothing to enable"));
            }
            store.set_destination_disabled(&name, None).await?;
            format!("{name} enabled; its queued deliveries resume")
        }
    };
    store.close().await;
    Ok(result)
}
