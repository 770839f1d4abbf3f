//! Units written as text in the configuration: durations (`"30s"`) and sizes (`"1MiB"`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration written as text (`"30s"`, `"5m"`, `"1h 30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map(HumanDuration).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}); write one like \"30s\" or \"5m\""
            ))
        })
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// A size in bytes, written as a number or with a unit (`"1MiB"`, `"512KiB"`, `"2MB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl ByteSize {
    fn parse(text: &str) -> Option<usize> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let number: usize = digits.parse().ok()?;
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            _ => return None,
        };
        number.checked_mul(factor)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            // Only so that a negative number gets the message below, not serde's "did not match".
            Negative(i64),
            Text(String),
        }
        let bad = |shown: String| {
            serde::de::Error::custom(format!("{shown} is not a size; write one like 1048576 or \"1MiB\""))
        };
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => usize::try_from(n).map(ByteSize).map_err(|_| bad(n.to_string())),
            Raw::Negative(n) => Err(bad(n.to_string())),
            Raw::Text(text) => ByteSize::parse(&text).map(ByteSize).ok_or_else(|| bad(format!("{text:?}"))),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0 as u64)
    }
}

/// Serializes durations as a list of humantime texts.
pub(super) fn durations_text<S: serde::Serializer>(
    durations: &[Duration],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(durations.iter().map(|d| humantime::format_duration(*d).to_string()))
}
