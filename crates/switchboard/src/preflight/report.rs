//! The report's three forms: a text table, the stable JSON document and JUnit XML.

use std::fmt::Write as _;

use super::{CheckResult, Report, Status};

const RESET: &str = "\x1b[0m";

fn colour(status: Status) -> &'static str {
    match status {
        Status::Pass => "\x1b[32m",
        Status::Warn => "\x1b[33m",
        Status::Fail => "\x1b[1;31m",
        Status::Skip => "\x1b[2m",
    }
}

fn painted(status: Status, on: bool) -> String {
    // Pad before colouring so the escape codes do not break the column.
    let text = format!("{:<6}", status.as_str());
    if on { format!("{}{text}{RESET}", colour(status)) } else { text }
}

/// The readable table; `colour` adds ANSI colours to the verdicts (a terminal only).
pub fn render_text(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    let env = report.env.as_deref().map(|e| format!(" (--env {e})")).unwrap_or_default();
    let config = report.config.as_deref().unwrap_or("no file (defaults and environment only)");
    let _ = writeln!(out, "switchboard preflight: environment {}{env}, config {config}", report.environment);
    for issue in &report.config_issues {
        let _ =
            writeln!(out, "note: config validation refuses {}: {}; reported below", issue.key, issue.message);
    }
    let width = report.checks.iter().map(|c| c.id.as_str().len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<width$}  {:<6}  RESULT", "CHECK", "STATUS");
    for check in &report.checks {
        let _ = writeln!(
            out,
            "{:<width$}  {}  {}",
            check.id.as_str(),
            painted(check.status, colour),
            check.message
        );
        // A single item that the message already states is not repeated underneath.
        let repeated = matches!(check.evidence.as_slice(), [e] if check.message == format!("{}: {}", e.item, e.measured));
        for e in check.evidence.iter().filter(|_| !repeated) {
            let expected =
                if e.expected.is_empty() { String::new() } else { format!(" (expected {})", e.expected) };
            let _ = writeln!(
                out,
                "{:<width$}  {:<6}    {} {}: {}{expected}",
                "",
                "",
                e.status.as_str().to_ascii_lowercase(),
                e.item,
                e.measured
            );
        }
    }
    let s = &report.summary;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} checks: {} PASS, {} WARN, {} FAIL, {} SKIP in {} ms: {} (exit {})",
        report.checks.len(),
        s.pass,
        s.warn,
        s.fail,
        s.skip,
        report.duration_ms,
        painted(report.status, colour).trim_end(),
        report.exit_code
    );
    out
}

/// The JSON document (docs/preflight.md), pretty-printed, with a final newline.
pub fn render_json(report: &Report) -> String {
    // Serializing plain structs of strings and numbers cannot fail; keep a JSON answer regardless.
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"version\": {}, \"error\": {:?}}}", report.version, e.to_string()));
    text.push('\n');
    text
}

/// Escapes text for XML content and attribute values; drops characters XML 1.0 cannot carry.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn evidence_lines(check: &CheckResult) -> String {
    check
        .evidence
        .iter()
        .map(|e| format!("{} {}: {} (expected {})", e.status.as_str(), e.item, e.measured, e.expected))
        .collect::<Vec<_>>()
        .join("\n")
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// JUnit XML: one `<testcase>` per check; FAIL as `<failure>`, SKIP as `<skipped/>`, WARN passes
/// with the warning in `<system-out>`.
pub fn render_junit(report: &Report) -> String {
    let suite = format!("switchboard.preflight.{}", report.env.as_deref().unwrap_or(&report.environment));
    let s = &report.summary;
    let tests = report.checks.len();
    let time = seconds(report.duration_ms);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"switchboard preflight\" tests=\"{tests}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time}\">",
        s.fail, s.skip
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time}\">",
        xml(&suite),
        s.fail,
        s.skip
    );
    let _ = writeln!(out, "    <properties>");
    let _ = writeln!(out, "      <property name=\"environment\" value=\"{}\"/>", xml(&report.environment));
    if let Some(config) = &report.config {
        let _ = writeln!(out, "      <property name=\"config\" value=\"{}\"/>", xml(config));
    }
    let _ = writeln!(out, "    </properties>");
    for check in &report.checks {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            xml(&suite),
            check.id.as_str(),
            seconds(check.duration_ms)
        );
        let evidence = evidence_lines(check);
        match check.status {
            Status::Pass if evidence.is_empty() => out.push_str("/>\n"),
            Status::Pass => {
                let _ =
                    writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", xml(&evidence));
            }
            Status::Warn => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(&format!("WARN: {}\n{evidence}", check.message))
                );
            }
            Status::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"FAIL\">{}</failure>\n    </testcase>",
                    xml(&check.message),
                    xml(&evidence)
                );
            }
            Status::Skip => {
                let _ =
                    writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&check.message));
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(xml("a<b>&\"c\"'\u{1}\nd"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;d");
    }
}
