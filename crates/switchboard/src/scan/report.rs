//! Rendering a scan: readable text, the documented JSON, and SARIF 2.1.0 for code-scanning tools.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::history::short;
use super::{Finding, RuleId, ScanOptions, ScanReport};

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// One line per finding: `path:line:column  rule  redacted (fingerprint)  message`.
pub(crate) fn write_text(out: &mut impl Write, report: &ScanReport, color: bool) -> io::Result<()> {
    let paint = |code: &str, text: &str| if color { format!("{code}{text}{RESET}") } else { text.to_owned() };
    for finding in &report.findings {
        let location = format!("{}:{}:{}", finding.path, finding.line, finding.column);
        let commit = match &finding.commit {
            Some(commit) => format!(" in commit {}", short(commit)),
            None => String::new(),
        };
        writeln!(
            out,
            "{}{commit}  {}  {} {}  {}",
            paint(BOLD, &location),
            paint(YELLOW, finding.rule.id()),
            paint(RED, &finding.redacted),
            paint(DIM, &format!("({})", finding.fingerprint)),
            finding.message,
        )?;
    }
    Ok(())
}

/// The summary: what was covered, what was skipped and why, what was suppressed.
pub(crate) fn summary(report: &ScanReport, options: &ScanOptions) -> String {
    let stats = &report.stats;
    let count = report.findings.len();
    let mut text = format!(
        "switchboard scan: {count} finding{} in {} file{} ({})",
        plural(count as u64),
        stats.files,
        plural(stats.files),
        human_bytes(stats.bytes)
    );
    if let Some(history) = &stats.history {
        text.push_str(&format!(
            " and {} commit{} ({} distinct blob{})",
            history.commits,
            plural(history.commits),
            history.blobs,
            plural(history.blobs)
        ));
    }
    text.push_str(&format!(" in {:.2} s", report.elapsed.as_secs_f64()));
    let mut notes = Vec::new();
    if report.suppressed_inline > 0 || !report.baselined.is_empty() {
        notes.push(format!(
            "suppressed {} by {} and {} by the baseline",
            report.suppressed_inline,
            super::ALLOW_MARKER,
            report.baselined.len()
        ));
    }
    if stats.skipped_binary > 0 {
        notes.push(format!("skipped {} binary file{}", stats.skipped_binary, plural(stats.skipped_binary)));
    }
    if stats.skipped_large > 0 {
        let examples = stats.skipped_large_paths.join(", ");
        let more = if stats.skipped_large as usize > stats.skipped_large_paths.len() { ", …" } else { "" };
        notes.push(format!(
            "skipped {} file{} larger than {} ({examples}{more}): raise --max-file-size to scan them",
            stats.skipped_large,
            plural(stats.skipped_large),
            human_bytes(options.max_file_size)
        ));
    }
    if stats.unreadable > 0 {
        notes.push(format!(
            "{} path{} could not be read (see the warnings above)",
            stats.unreadable,
            plural(stats.unreadable)
        ));
    }
    for note in notes {
        text.push_str("\n  ");
        text.push_str(&note);
    }
    text
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The JSON document (version 1) documented in the module.
pub(crate) fn json_document(report: &ScanReport) -> Value {
    json!({
        "version": 1,
        "findings": report.findings,
        "suppressed": { "inline": report.suppressed_inline, "baseline": report.baselined.len() },
        "stats": report.stats,
    })
}

pub(crate) fn write_json(out: &mut impl Write, report: &ScanReport) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &json_document(report))?;
    writeln!(out)
}

/// SARIF 2.1.0: one run, the rules in `tool.driver.rules`, one result per finding.
pub(crate) fn sarif_document(report: &ScanReport) -> Value {
    let rules: Vec<Value> = RuleId::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "name": rule.name(),
                "shortDescription": { "text": rule.title() },
                "fullDescription": { "text": rule.description() },
                "help": { "text": rule.help() },
                "defaultConfiguration": { "level": "error" },
                "properties": { "tags": ["security", "secret", "intercom"], "precision": "high",
                                "security-severity": "9.0" },
            })
        })
        .collect();
    let results: Vec<Value> = report.findings.iter().map(sarif_result).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "switchboard",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/switchboard-dev/switchboard/blob/main/docs/scan.md",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn sarif_result(finding: &Finding) -> Value {
    let rule_index = RuleId::ALL.iter().position(|r| *r == finding.rule).unwrap_or_default();
    let mut text = format!("{}: {} ({})", finding.message, finding.redacted, finding.fingerprint);
    if let Some(commit) = &finding.commit {
        text.push_str(&format!(", in commit {commit} of the git history"));
    }
    let mut result = json!({
        "ruleId": finding.rule.id(),
        "ruleIndex": rule_index,
        "level": "error",
        "message": { "text": text },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&finding.path) },
                "region": { "startLine": finding.line, "startColumn": finding.column },
            }
        }],
        // Stable across line moves: the same secret in the same file is the same alert.
        "partialFingerprints": { "secretFingerprint/v1": format!("{}:{}", finding.fingerprint, finding.path) },
    });
    if let Some(commit) = &finding.commit {
        result["properties"] = json!({ "commit": commit });
    }
    result
}

/// A relative URI reference for a path: `/` separators, everything but unreserved characters escaped.
fn uri(path: &str) -> String {
    // Absolute paths (files outside the current directory) become file: URIs.
    let mut out =
        if path.starts_with('/') { "file://".to_owned() } else { String::with_capacity(path.len()) };
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn write_sarif(out: &mut impl Write, report: &ScanReport) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &sarif_document(report))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_what_uris_cannot_hold() {
        assert_eq!(uri("src/a b/ç.env"), "src/a%20b/%C3%A7.env");
        assert_eq!(uri("config/app.yaml"), "config/app.yaml");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(20 * 1024 * 1024), "20 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
