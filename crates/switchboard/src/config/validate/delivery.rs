//! Where webhooks go and how hard delivery tries: `[[destinations]]` and `[delivery]`.

use std::time::Duration;

use super::{Issues, is_plain_name};
use crate::config::raw::{RawDelivery, RawDestination};
use crate::config::{DeliveryConfig, DestinationConfig, mask_url};
use crate::delivery::TopicPattern;
use crate::secrets::{SecretRef, SecretSlot};

/// `[[destinations]]`: unique plain names, http(s) URLs, topic patterns, a secret in production.
/// `secrets` are the destinations' parsed secret references, by position.
pub(super) fn destinations(
    issues: &mut Issues,
    raw: &[RawDestination],
    secrets: Vec<Option<SecretRef>>,
) -> Vec<DestinationConfig> {
    let mut destinations = Vec::new();
    for (i, (d, secret)) in raw.iter().zip(secrets).enumerate() {
        if !is_plain_name(&d.name) {
            issues.push(
                format!("destinations[{i}].name"),
                format!(
                    "{:?} must be letters, digits, '-' or '_' (it appears in metrics and the CLI)",
                    d.name
                ),
            );
        }
        if raw[..i].iter().any(|other| other.name == d.name) {
            issues.push(
                format!("destinations[{i}].name"),
                format!("{:?} is used by another destination; names must be unique", d.name),
            );
        }
        let url = issues.url(&format!("destinations[{i}].url"), &d.url);
        // Loopback too: that the receiver shares the host is a claim about today's deployment the
        // configuration cannot check, so it takes the same explicit opt-in.
        if let Some(url) = &url
            && issues.production()
            && url.scheme() == "http"
            && !d.allow_plain_http
        {
            issues.push(
                format!("destinations[{i}].url"),
                format!(
                    "{} is plain http in production: event bodies, with personal data, would cross the network \
                     in clear; use https://, or set destinations[{i}].allow_plain_http = true if the network \
                     between is trusted",
                    mask_url(url)
                ),
            );
        }
        if d.topics.is_empty() {
            issues.push(
                format!("destinations[{i}].topics"),
                "is empty; list topics like [\"contact.*\"] or [\"*\"] for all",
            );
        }
        let mut topics = Vec::new();
        for (j, topic) in d.topics.iter().enumerate() {
            match TopicPattern::parse(topic) {
                Ok(pattern) => topics.push(pattern),
                Err(e) => issues.push(format!("destinations[{i}].topics[{j}]"), e.to_string()),
            }
        }
        if issues.production() && d.secret.is_none() {
            issues.push(
                SecretSlot::DestinationSecret(i),
                "is required in production so the destination can verify that events come from Switchboard; \
                 write file:/run/secrets/<name>",
            );
        }
        if let Some(url) = url {
            destinations.push(DestinationConfig {
                name: d.name.clone(),
                url,
                topics,
                secret,
                timeout: d.timeout.0,
                allow_plain_http: d.allow_plain_http,
            });
        }
    }
    destinations
}

/// The largest `delivery.concurrency`: far beyond what one process can usefully keep in flight, and
/// far below what its semaphore can count.
const MAX_CONCURRENCY: usize = 1024;

/// The shortest `delivery.lease`: renewals every third of it must reach the store in time.
const MIN_LEASE: Duration = Duration::from_millis(100);

/// `[delivery]`, and every destination's timeout.
pub(super) fn delivery(
    issues: &mut Issues,
    raw: &RawDelivery,
    destinations: &[RawDestination],
) -> DeliveryConfig {
    if raw.retry_schedule.iter().any(|d| d.0 > Duration::from_secs(7 * 24 * 3600)) {
        issues.push(
            "delivery.retry_schedule",
            "has a delay over 7 days; keep each delay at 7 days or less (the default ends at \"8h\")",
        );
    }
    if raw.retry_schedule.is_empty() || raw.retry_schedule.iter().any(|d| d.0.is_zero()) {
        issues.push(
            "delivery.retry_schedule",
            "must list one or more delays above zero, like [\"5s\", \"30s\", \"2m\"]",
        );
    }
    if raw.concurrency == 0 || raw.concurrency > MAX_CONCURRENCY {
        issues.push("delivery.concurrency", "must be between 1 and 1024; the default is 32");
    }
    if raw.poll_interval.0.is_zero() {
        issues.push("delivery.poll_interval", "must be more than zero; the default is \"1s\"");
    }
    // A running attempt renews its lease every third of it, so the lease need not outlast the
    // slowest destination; it only bounds how long a crashed worker's claims wait to be taken over.
    if raw.lease.0 < MIN_LEASE {
        issues.push(
            "delivery.lease",
            "must be at least 100ms (attempts renew it every third of it); the default is \"60s\"",
        );
    }
    let hour = Duration::from_secs(3600);
    issues.at_most("delivery.poll_interval", raw.poll_interval.0, hour, "1h", "1s");
    issues.at_most("delivery.lease", raw.lease.0, hour * 24, "24h", "60s");
    for (i, d) in destinations.iter().enumerate() {
        if d.timeout.0.is_zero() {
            issues
                .push(format!("destinations[{i}].timeout"), "must be more than zero; the default is \"10s\"");
        } else if d.timeout.0 > hour {
            issues
                .push(format!("destinations[{i}].timeout"), "must be at most \"1h\"; the default is \"10s\"");
        }
    }
    DeliveryConfig {
        retry_schedule: raw.retry_schedule.iter().map(|d| d.0).collect(),
        lease: raw.lease.0,
        concurrency: raw.concurrency,
        poll_interval: raw.poll_interval.0,
    }
}
