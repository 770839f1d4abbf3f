//! `switchboard bench webhooks`: an open-loop load generator of signed Intercom notifications.
//!
//! Open loop: request *i* is due at `start + i / rate` whatever happened to earlier ones, and its
//! latency is measured from that due time. A slow server therefore shows up as latency instead of
//! silently lowering the rate (coordinated omission). Users can point it at their own endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rand::Rng;
use serde_json::value::RawValue;
use switchboard_clock::Clock;
use tokio::sync::{Mutex, Semaphore};

use crate::webhooks::{Notification, SignedNotification};

/// `switchboard bench webhooks`
#[derive(Debug, Clone, Args)]
pub struct WebhooksBenchArgs {
    /// The webhook endpoint to load, e.g. http://127.0.0.1:8080/webhooks/intercom.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The client secret to sign with (X-Hub-Signature): a reference (file:PATH, exec:CMD, env:VAR),
    /// which keeps it out of the process list, or the value itself. It is never printed.
    #[arg(long, value_name = "S")]
    pub secret: String,
    /// Notifications per second to send (open loop: the rate does not drop when the server slows).
    #[arg(long, value_name = "R")]
    pub rate: u32,
    /// How long to send, e.g. 60s.
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Most requests in flight at once; a request due while all are busy waits, and the wait counts
    /// in its latency.
    #[arg(long, value_name = "C", default_value_t = 256)]
    pub concurrency: usize,
    /// Fraction (0 to 1) of sends that repeat an earlier notification, as Intercom's retries do.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub duplicates: f64,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhooksReport {
    /// Requests sent.
    pub sent: u64,
    /// 2xx answers.
    pub acked: u64,
    /// 2xx answers that said `duplicate`.
    pub duplicates: u64,
    /// Non-2xx answers and transport failures.
    pub errors: u64,
    /// Acknowledgements per second over the run.
    pub rate_per_s: f64,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst latency.
    pub max_ms: f64,
    /// Errors by status (`transport` for failures without a status).
    pub errors_by_status: BTreeMap<String, u64>,
}

impl WebhooksReport {
    /// The one-line summary tooling reads.
    pub fn line(&self) -> String {
        format!(
            "webhooks: sent={} acked={} duplicates={} errors={} rate_per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
            self.sent,
            self.acked,
            self.duplicates,
            self.errors,
            self.rate_per_s,
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    acked: u64,
    duplicates: u64,
    errors: BTreeMap<String, u64>,
}

/// The app id the benchmark's notifications claim to come from.
const SAMPLE_APP_ID: &str = "a86dr8yl";

/// The notification the benchmark sends about contact `n`: `contact.user.created` with a realistic
/// contact (about 1.5 KB in all). Every notification of a run carries the run's `created_at`, so a
/// repeat is byte-identical, as Intercom's retries are.
pub fn sample_notification(id: &str, n: u64, created_at: u64) -> Notification {
    Notification::created(SAMPLE_APP_ID, "contact.user.created", created_at)
        .id(id)
        .raw_item(sample_contact(n, created_at))
}

/// Contact `n` as Intercom's webhooks show it. Built from a template rather than a JSON value so the
/// generator spends its CPU on sending, not formatting.
fn sample_contact(n: u64, created_at: u64) -> Box<RawValue> {
    let contact_id = format!("{:024x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u128);
    let text = format!(
        concat!(
            r#"{{"type":"contact","id":"{cid}","#,
            r#""workspace_id":"{app}","external_id":"user-{n}","role":"user","#,
            r#""email":"load.test.{n}@example.com","phone":null,"name":"Load Test {n}","avatar":null,"#,
            r#""owner_id":null,"social_profiles":{{"type":"list","data":[]}},"has_hard_bounced":false,"#,
            r#""marked_email_as_spam":false,"unsubscribed_from_emails":false,"created_at":{t},"#,
            r#""updated_at":{t},"signed_up_at":{t},"last_seen_at":null,"browser":"chrome","#,
            r#""browser_version":"131.0.0.0","browser_language":"en","os":"OS X 15.1","#,
            r#""location":{{"type":"location","country":"Ireland","region":"Dublin","city":"Dublin","#,
            r#""country_code":"IRL","continent_code":"EU"}},"#,
            r#""custom_attributes":{{"plan":"pro","seats":12,"trial":false}},"#,
            r#""tags":{{"type":"list","data":[],"url":"/contacts/{cid}/tags","total_count":0,"has_more":false}},"#,
            r#""notes":{{"type":"list","data":[],"url":"/contacts/{cid}/notes","total_count":0,"has_more":false}},"#,
            r#""companies":{{"type":"list","data":[],"url":"/contacts/{cid}/companies","total_count":0,"#,
            r#""has_more":false}}}}"#
        ),
        app = SAMPLE_APP_ID,
        cid = contact_id,
        n = n,
        t = created_at,
    );
    #[expect(
        clippy::expect_used,
        reason = "the template above is JSON whatever the numbers in it (the tests parse it)"
    )]
    RawValue::from_string(text).expect("the contact template is JSON")
}

/// Runs the load and returns what was measured; notifications are created at `clock`'s now.
pub async fn run(args: &WebhooksBenchArgs, clock: &dyn Clock) -> Result<WebhooksReport, BenchError> {
    if args.rate == 0 || args.concurrency == 0 || args.duration.is_zero() {
        return Err(BenchError::Usage("--rate, --concurrency and --duration must be more than zero".into()));
    }
    if !(0.0..=1.0).contains(&args.duplicates) {
        return Err(BenchError::Usage("--duplicates is a fraction between 0 and 1".into()));
    }
    let secret = match crate::secrets::SecretRef::parse(&args.secret) {
        Ok(reference) => reference
            .resolve(crate::secrets::DEFAULT_EXEC_TIMEOUT)
            .await
            .map(|value| secrecy::ExposeSecret::expose_secret(&value).as_bytes().to_vec())
            .map_err(|e| BenchError::Usage(format!("--secret: {e}")))?,
        Err(_) => args.secret.clone().into_bytes(),
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let total = (args.rate as f64 * args.duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let slots = Arc::new(Semaphore::new(args.concurrency));
    let tally =
        Arc::new(Mutex::new(Tally { latencies_us: Vec::with_capacity(total as usize), ..Tally::default() }));
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let created_at = clock.now_secs();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut unique = 0u64;
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let repeat = unique > 0 && args.duplicates > 0.0 && rand::rng().random_bool(args.duplicates);
        let n = if repeat { rand::rng().random_range(0..unique) } else { unique };
        if !repeat {
            unique += 1;
        }
        let SignedNotification { body, signature } =
            sample_notification(&format!("notif_{run_id}_{n}"), n, created_at).signed(&secret);
        let permit = slots.clone().acquire_owned().await.map_err(|e| BenchError::Usage(e.to_string()))?;
        let (client, url, tally) = (client.clone(), args.url.clone(), tally.clone());
        tasks.spawn(async move {
            let result = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature", signature)
                .header("user-agent", "intercom-parrot-service-client/1.0")
                .body(body)
                .send()
                .await;
            let (outcome, duplicate) = match result {
                Ok(response) if response.status().is_success() => {
                    let text = response.text().await.unwrap_or_default();
                    (Ok(()), text.contains("\"duplicate\""))
                }
                Ok(response) => (Err(response.status().as_u16().to_string()), false),
                Err(_) => (Err("transport".to_owned()), false),
            };
            let latency = due.elapsed().as_micros().min(u32::MAX as u128) as u32;
            drop(permit);
            let mut tally = tally.lock().await;
            tally.latencies_us.push(latency);
            match outcome {
                Ok(()) => {
                    tally.acked += 1;
                    tally.duplicates += u64::from(duplicate);
                }
                Err(status) => *tally.errors.entry(status).or_default() += 1,
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let mut tally = std::mem::take(&mut *tally.lock().await);
    tally.latencies_us.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if tally.latencies_us.is_empty() {
            return 0.0;
        }
        let index =
            ((tally.latencies_us.len() as f64 * p).ceil() as usize).clamp(1, tally.latencies_us.len()) - 1;
        tally.latencies_us[index] as f64 / 1000.0
    };
    Ok(WebhooksReport {
        sent: total,
        acked: tally.acked,
        duplicates: tally.duplicates,
        errors: tally.errors.values().sum(),
        rate_per_s: tally.acked as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(0.50),
        p90_ms: percentile(0.90),
        p99_ms: percentile(0.99),
        max_ms: tally.latencies_us.last().map(|v| *v as f64 / 1000.0).unwrap_or(0.0),
        errors_by_status: tally.errors,
    })
}

/// Prints the full report, then the summary line.
pub fn print(report: &WebhooksReport) {
    println!(
        "latency ms: p50={:.2} p90={:.2} p99={:.2} max={:.2}",
        report.p50_ms, report.p90_ms, report.p99_ms, report.max_ms
    );
    for (status, count) in &report.errors_by_status {
        println!("errors: status {status}: {count}");
    }
    println!("{}", report.line());
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_is_valid_json_with_its_id_and_the_runs_time() {
        for n in [0, 7, u64::MAX] {
            let body = super::sample_notification("notif_x", n, 1_700_000_000).to_json();
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(value["id"], "notif_x");
            assert_eq!(value["topic"], "contact.user.created");
            assert_eq!(value["created_at"], 1_700_000_000);
            assert_eq!(value["data"]["item"]["external_id"], format!("user-{n}"));
            assert!(body.len() > 1000, "realistic size: {}", body.len());
        }
    }
}
