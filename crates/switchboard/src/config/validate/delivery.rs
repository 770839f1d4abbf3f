//! Where webhooks go and how hard delivery tries: `[[destinations]]` and `[delivery]`.

use std::time::Duration;

use super::{Issues, is_plain_name};
use crate::config::raw::{RawDelivery, RawDestination};
use crate::config::{DeliveryConfig, DestinationConfig};
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
            });
        }
    }
    destinations
}

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
    if raw.concurrency == 0 {
        issues.push("delivery.concurrency", "must be at least 1; the default is 32");
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
    for (i, d) in destinations.iter().enumerate() {
        if d.timeout.0.is_zero() {
            issues
                .push(format!("destinations[{i}].timeout"), "must be more than zero; the default is \"10s\"");
        }
    }
    DeliveryConfig {
        retry_schedule: raw.retry_schedule.iter().map(|d| d.0).collect(),
        lease: raw.lease.0,
        concurrency: raw.concurrency,
        poll_interval: raw.poll_interval.0,
    }
}
