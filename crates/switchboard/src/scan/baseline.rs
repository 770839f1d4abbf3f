//! Baseline files: findings already known and accepted, matched by fingerprint and path.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Finding, ScanError};

/// Known findings to suppress: pairs of fingerprint and path (`None`: the fingerprint anywhere).
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    entries: HashSet<(String, Option<String>)>,
}

#[derive(Deserialize)]
struct FileIn {
    findings: Vec<EntryIn>,
}

#[derive(Deserialize)]
struct EntryIn {
    fingerprint: String,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    findings: Vec<EntryOut<'a>>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct EntryOut<'a> {
    path: &'a str,
    rule: &'a str,
    fingerprint: &'a str,
    redacted: &'a str,
}

impl Baseline {
    /// Reads a baseline file (or a `--format json` report).
    pub fn load(path: &Path) -> Result<Self, ScanError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScanError::BaselineUnreadable { path: path.to_path_buf(), source })?;
        Self::parse(&text).map_err(|reason| ScanError::BaselineInvalid { path: path.to_path_buf(), reason })
    }

    /// Parses baseline JSON; the error says where and what, never quoting the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: FileIn = serde_json::from_str(text).map_err(|e| {
            // serde_json's own message can quote the offending value, which could be a pasted secret.
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
                serde_json::error::Category::Data => "valid JSON of another shape",
                serde_json::error::Category::Io => "unreadable",
            };
            format!("{what} at line {}, column {}", e.line(), e.column())
        })?;
        let mut entries = HashSet::new();
        for (index, entry) in file.findings.into_iter().enumerate() {
            if !is_fingerprint(&entry.fingerprint) {
                return Err(format!(
                    "findings[{index}].fingerprint is not of the form sha256:<8 lowercase hex digits>"
                ));
            }
            entries.insert((entry.fingerprint, entry.path.as_deref().map(normalize)));
        }
        Ok(Baseline { entries })
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the finding is a known one.
    pub fn contains(&self, finding: &Finding) -> bool {
        let fingerprint = finding.fingerprint.clone();
        self.entries.contains(&(fingerprint.clone(), Some(normalize(&finding.path))))
            || self.entries.contains(&(fingerprint, None))
    }

    /// Writes `findings` as a baseline file, sorted and without duplicates so it diffs well.
    pub fn write(path: &Path, findings: &[&Finding]) -> Result<(), ScanError> {
        let mut entries: Vec<EntryOut<'_>> = findings
            .iter()
            .map(|f| EntryOut {
                path: &f.path,
                rule: f.rule.id(),
                fingerprint: &f.fingerprint,
                redacted: &f.redacted,
            })
            .collect();
        entries.sort();
        entries.dedup();
        let file = FileOut { version: 1, findings: entries };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| ScanError::BaselineWrite { path: path.to_path_buf(), source: e.into() })?;
        text.push('\n');
        std::fs::write(path, text)
            .map_err(|source| ScanError::BaselineWrite { path: path.to_path_buf(), source })
    }
}

fn normalize(path: &str) -> String {
    let mut rest = path;
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    rest.replace('\\', "/")
}

fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::RuleId;

    fn finding(path: &str, fingerprint: &str) -> Finding {
        Finding {
            rule: RuleId::AccessToken,
            path: path.to_owned(),
            line: 1,
            column: 1,
            commit: None,
            redacted: "dG9r…".to_owned(),
            fingerprint: fingerprint.to_owned(),
            message: String::new(),
        }
    }

    #[test]
    fn matches_by_fingerprint_and_path() {
        let baseline = Baseline::parse(
            r#"{"findings": [{"fingerprint": "sha256:0123abcd", "path": "./a/b.env"},
                             {"fingerprint": "sha256:ffff0000"}]}"#,
        )
        .unwrap();
        assert!(baseline.contains(&finding("a/b.env", "sha256:0123abcd")));
        assert!(!baseline.contains(&finding("a/c.env", "sha256:0123abcd")));
        assert!(baseline.contains(&finding("anywhere", "sha256:ffff0000")));
    }

    #[test]
    fn errors_never_quote_the_file() {
        let pasted = "dG9rOmEx";
        let err = Baseline::parse(&format!(r#"{{"findings": [{{"fingerprint": 5, "path": "{pasted}"}}]}}"#))
            .unwrap_err();
        assert!(!err.contains(pasted), "{err}");
        let err =
            Baseline::parse(&format!(r#"{{"findings": [{{"fingerprint": "{pasted}"}}]}}"#)).unwrap_err();
        assert!(!err.contains(pasted), "{err}");
        assert!(err.contains("findings[0].fingerprint"), "{err}");
    }
}
