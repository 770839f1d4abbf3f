//! `switchboard scan`: finds Intercom tokens and secrets committed to a tree or to its git history.
//!
//! The production checklist's `grep -r "dG9r" .`, done properly: a parallel, `.gitignore`-aware walk
//! (the `ignore` crate, as ripgrep uses it) over every file, hidden ones included (`.env`, `.github/`),
//! `.git/` excluded; binary files and files over `--max-file-size` are skipped and counted in the
//! summary. Rules (see [`RuleId`]):
//!
//! - `intercom-access-token`: base64 starting `dG9r` that decodes to `tok:<id>:1:0` (the id a UUID
//!   with `_`), confirmed by decoding, also when split by line continuations or string concatenation,
//!   JSON-escaped (`\/`), URL-encoded padding (`%3D`) or base64-encoded again (Kubernetes Secrets).
//! - `intercom-client-secret`: a value assigned to a `*secret*` key near an `intercom` mention.
//! - `intercom-bearer-token`: `Bearer <value>` in a file mentioning intercom, or a value assigned to a
//!   `*token*`/`*api_key*` key near an `intercom` mention.
//!
//! The keyword rules keep only values of at least 16 characters with letters and digits and a Shannon
//! entropy of at least 3 bits per character, and skip references (`file:`, `env:`, `${VAR}`),
//! placeholders and lock files. A finding shows the first 4 characters of the value and its
//! fingerprint, `sha256:` and the first 8 hex digits of its SHA-256 (the same fingerprint
//! `switchboard config check` shows for a configured secret); the value itself is never printed.
//!
//! Suppression: `switchboard:allow` on the line or the line before; a baseline file.
//!
//! Exit codes: 0 no findings (or `--write-baseline`), 1 findings, 2 the scan could not run (bad path,
//! unreadable baseline, `--history` outside a git repository, git failing).
//!
//! # JSON output (`--format json`), version 1
//!
//! ```json
//! {
//!   "version": 1,
//!   "findings": [
//!     {
//!       "rule": "intercom-access-token",
//!       "path": "config/app.yaml",
//!       "line": 12,
//!       "column": 10,
//!       "commit": null,
//!       "redacted": "dG9r…",
//!       "fingerprint": "sha256:1a2b3c4d",
//!       "message": "Intercom access token"
//!     }
//!   ],
//!   "suppressed": { "inline": 0, "baseline": 0 },
//!   "stats": {
//!     "files": 1234, "bytes": 56789012, "skipped_binary": 3, "skipped_large": 1,
//!     "skipped_large_paths": ["data/dump.sql"], "unreadable": 0,
//!     "history": { "commits": 321, "blobs": 4567 }
//!   }
//! }
//! ```
//!
//! `path` uses `/` and is relative to the current directory when the file is under it. `commit` is
//! the full hash of the earliest commit holding the finding when it comes from `--history` and is no
//! longer in the working tree, else `null`. `line` and `column` are 1-based; `column` counts
//! characters. `stats.history` is `null` without `--history`. Findings are sorted by path, line,
//! column. New fields may be added; existing ones keep their meaning while `version` is 1.
//!
//! # Baseline
//!
//! `--write-baseline FILE` writes `{"version": 1, "findings": [{"rule", "path", "fingerprint",
//! "redacted"}]}`; `--baseline FILE` accepts that file or a `--format json` report. A finding is
//! suppressed when an entry has its fingerprint and its path (an entry without `path` matches the
//! fingerprint anywhere).

mod baseline;
mod history;
mod report;
mod rules;
mod walk;

use std::io::{self, IsTerminal, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::Serialize;

pub use baseline::Baseline;
pub use rules::{ALLOW_MARKER, RuleId};

use crate::exit::Exit;
use crate::secrets::Fingerprint;

/// Default for `--max-file-size`: larger files are skipped and counted.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// `switchboard scan [PATH...]`
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Files or directories to scan. Default: the current directory. Directories are walked like
    /// ripgrep does: .gitignore'd files are skipped, hidden files (.env) are scanned, .git/ is not.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format: text (readable; colour on a terminal), json (stable, see docs/scan.md) or sarif
    /// (SARIF 2.1.0 for GitHub code scanning).
    #[arg(long, value_enum, default_value_t = ScanFormat::Text, value_name = "FORMAT")]
    pub format: ScanFormat,

    /// Also scan every commit of the git history of each PATH (every branch and tag): a token
    /// deleted long ago is still leaked. Needs git.
    #[arg(long)]
    pub history: bool,

    /// Suppress the findings listed in FILE (written by --write-baseline, or a --format json report):
    /// an entry matches by fingerprint and path.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write every finding (including those already in --baseline) to FILE as a baseline and exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Skip files larger than SIZE (bytes, or with a K, M or G suffix); they are counted in the summary.
    #[arg(long, value_name = "SIZE", default_value = "20M", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Also scan files that .gitignore, .ignore and git's exclude files leave out.
    #[arg(long)]
    pub no_ignore: bool,

    /// Worker threads. Default: one per CPU.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Output format of `switchboard scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ScanFormat {
    /// Readable lines and a summary; colour only on a terminal.
    #[default]
    Text,
    /// The stable JSON document described in docs/scan.md.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
}

/// What to scan and how; [`ScanOptions::default`] is what `switchboard scan` does without flags.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Also scan the git history of each path.
    pub history: bool,
    /// Honour .gitignore, .ignore and git's exclude files.
    pub respect_gitignore: bool,
    /// Files larger than this many bytes are skipped and counted.
    pub max_file_size: u64,
    /// Worker threads; 0 means one per CPU.
    pub threads: usize,
    /// Findings to suppress.
    pub baseline: Option<Baseline>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            history: false,
            respect_gitignore: true,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            threads: 0,
            baseline: None,
        }
    }
}

/// One credential found: where, by which rule, and its redacted form. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule that found it.
    pub rule: RuleId,
    /// The file, with `/` separators, relative to the current directory when under it.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// For a finding only in the git history: the earliest commit holding it.
    pub commit: Option<String>,
    /// The first 4 characters of the value followed by `…`.
    pub redacted: String,
    /// `sha256:` and the first 8 hex digits of the value's SHA-256.
    pub fingerprint: String,
    /// What was found, in words.
    pub message: String,
}

/// Counts that make the scan's coverage visible: nothing is skipped silently.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanStats {
    /// Files read and scanned in the working tree.
    pub files: u64,
    /// Bytes scanned in the working tree and the history.
    pub bytes: u64,
    /// Files and blobs skipped as binary (a NUL byte in their first 8 KiB).
    pub skipped_binary: u64,
    /// Files and blobs skipped as larger than the size limit.
    pub skipped_large: u64,
    /// A few of the large files skipped, to name in the summary.
    pub skipped_large_paths: Vec<String>,
    /// Files and directories that could not be read (each reported on stderr).
    pub unreadable: u64,
    /// History coverage, with `--history`.
    pub history: Option<HistoryStats>,
}

/// How much of the git history was scanned.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HistoryStats {
    /// Commits walked (every ref).
    pub commits: u64,
    /// Distinct file contents (blobs) scanned; a blob kept unchanged across commits is scanned once.
    pub blobs: u64,
}

/// The result of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Findings left after suppression, sorted.
    pub findings: Vec<Finding>,
    /// Findings suppressed by the baseline (kept for `--write-baseline`).
    pub baselined: Vec<Finding>,
    /// Findings suppressed by `switchboard:allow`.
    pub suppressed_inline: u64,
    /// Coverage counts.
    pub stats: ScanStats,
    /// Problems that did not stop the scan (unreadable files), one line each.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// What `switchboard scan` ended with.
#[derive(Debug, Clone)]
pub struct ScanOutcome {
    /// Findings reported (after suppression).
    pub findings: usize,
    /// Where a baseline was written, with `--write-baseline`.
    pub baseline_written: Option<PathBuf>,
}

impl ScanOutcome {
    /// The process exit code: success when clean or a baseline was written, failure on findings.
    /// A scan that could not run (usage error, unreadable baseline, git failure) is [`Exit::Usage`].
    pub fn exit_code(&self) -> Exit {
        if self.findings == 0 || self.baseline_written.is_some() { Exit::Success } else { Exit::Failure }
    }
}

/// Why a scan could not run. Messages name what is wrong and what to do; none contains a scanned value.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A path to scan does not exist or cannot be read.
    #[error("cannot scan {}: {reason}; pass an existing file or directory", path.display())]
    BadPath {
        /// The path as given.
        path: PathBuf,
        /// What the file system said.
        reason: String,
    },
    /// The baseline file cannot be read.
    #[error(
        "cannot read the baseline {}: {source}; pass a file written by `switchboard scan --write-baseline FILE` \
         or a `--format json` report",
        path.display()
    )]
    BaselineUnreadable {
        /// The baseline path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The baseline file is not a baseline.
    #[error(
        "the baseline {} is not a scan baseline: {reason}; expected {{\"findings\": [{{\"fingerprint\": \
         \"sha256:…\", \"path\": \"…\"}}]}} as written by `switchboard scan --write-baseline FILE`",
        path.display()
    )]
    BaselineInvalid {
        /// The baseline path.
        path: PathBuf,
        /// Where and what (never the offending text, which could be a secret).
        reason: String,
    },
    /// The baseline could not be written.
    #[error("cannot write the baseline {}: {source}; check that its directory exists and is writable", path.display())]
    BaselineWrite {
        /// The baseline path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// `--history` on a path outside any git repository.
    #[error(
        "--history needs a git repository, and {} is not inside one; drop --history or scan a git checkout",
        path.display()
    )]
    NotARepository {
        /// The path as given.
        path: PathBuf,
    },
    /// git could not be started.
    #[error("cannot run git ({source}); install git or drop --history")]
    GitMissing {
        /// Why it could not start.
        source: io::Error,
    },
    /// A git command failed.
    #[error("`git {command}` failed in {}: {detail}", repo.display())]
    Git {
        /// The git subcommand and arguments.
        command: String,
        /// The repository.
        repo: PathBuf,
        /// git's message or the I/O error.
        detail: String,
    },
    /// The report could not be written to standard output.
    #[error("cannot write the report: {0}")]
    Output(#[source] io::Error),
}

/// Scans one file's bytes as `display` and returns each finding with whether `switchboard:allow`
/// suppresses it: the narrow entry point of the fuzz target (`fuzz/`), no walk and no baseline.
#[doc(hidden)]
pub fn scan_bytes(display: &str, text: &[u8]) -> Vec<(Finding, bool)> {
    scan_content(text, display, Path::new(display), None, &Counters::default())
        .into_iter()
        .map(|located| (located.finding, located.allowed))
        .collect()
}

/// Scans `paths` and returns the findings left after suppression: the entry point for `preflight`.
pub fn scan_paths(paths: &[PathBuf], options: &ScanOptions) -> Result<Vec<Finding>, ScanError> {
    scan(paths, options).map(|report| report.findings)
}

/// Scans `paths` (the current directory when empty) and returns findings with coverage counts.
pub fn scan(paths: &[PathBuf], options: &ScanOptions) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let paths: Vec<PathBuf> = if paths.is_empty() { vec![PathBuf::from(".")] } else { paths.to_vec() };
    for path in &paths {
        if let Err(e) = std::fs::metadata(path) {
            return Err(ScanError::BadPath { path: path.clone(), reason: io_reason(&e) });
        }
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let counters = Counters::default();
    let mut located = walk::scan_tree(&paths, options, &cwd, &counters);
    let mut history_stats = None;
    if options.history {
        let (history, stats) = history::scan_history(&paths, options, &cwd, &counters)?;
        // A finding still in the working tree is reported there, where it can be fixed; the history
        // adds what is no longer visible.
        for item in history {
            let duplicate = located
                .iter()
                .any(|l| l.finding.fingerprint == item.finding.fingerprint && l.key == item.key);
            if !duplicate {
                located.push(item);
            }
        }
        history_stats = Some(stats);
    }
    let mut findings = Vec::new();
    let mut baselined = Vec::new();
    let mut suppressed_inline = 0;
    for Located { finding, allowed, .. } in located {
        if allowed {
            suppressed_inline += 1;
        } else if options.baseline.as_ref().is_some_and(|b| b.contains(&finding)) {
            baselined.push(finding);
        } else {
            findings.push(finding);
        }
    }
    let order = |a: &Finding, b: &Finding| {
        (a.commit.is_some(), &a.path, a.line, a.column, a.rule).cmp(&(
            b.commit.is_some(),
            &b.path,
            b.line,
            b.column,
            b.rule,
        ))
    };
    findings.sort_by(order);
    baselined.sort_by(order);
    let (stats, warnings) = counters.finish(history_stats);
    Ok(ScanReport { findings, baselined, suppressed_inline, stats, warnings, elapsed: started.elapsed() })
}

/// Runs `switchboard scan`: scans, prints the report on standard output in the chosen format (with
/// a summary on standard output for text, on standard error otherwise) and writes the baseline if asked.
pub fn run(args: ScanArgs) -> Result<ScanOutcome, ScanError> {
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let options = ScanOptions {
        history: args.history,
        respect_gitignore: !args.no_ignore,
        max_file_size: args.max_file_size,
        threads: args.threads.unwrap_or(0),
        baseline,
    };
    let report = scan(&args.paths, &options)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let stdout = io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    let written = match args.format {
        ScanFormat::Text => report::write_text(&mut out, &report, color)
            .and_then(|()| writeln!(out, "{}", report::summary(&report, &options))),
        ScanFormat::Json => report::write_json(&mut out, &report),
        ScanFormat::Sarif => report::write_sarif(&mut out, &report),
    };
    match written.and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not a failure of the scan.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(ScanError::Output(e)),
        _ => {}
    }
    if args.format != ScanFormat::Text {
        eprintln!("{}", report::summary(&report, &options));
    }
    let mut baseline_written = None;
    if let Some(path) = &args.write_baseline {
        let all: Vec<&Finding> = report.findings.iter().chain(&report.baselined).collect();
        Baseline::write(path, &all)?;
        eprintln!("wrote {} finding(s) to the baseline {}", all.len(), path.display());
        baseline_written = Some(path.clone());
    }
    Ok(ScanOutcome { findings: report.findings.len(), baseline_written })
}

/// Parses `--max-file-size`: bytes, or a number with a K, M or G suffix (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (digits, unit) = match trimmed.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => trimmed.split_at(i),
        None => (trimmed, ""),
    };
    let factor: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("'{text}' is not a size: write bytes or a number with K, M or G, like 20M")),
    };
    let number: u64 =
        digits.parse().map_err(|_| format!("'{text}' is not a size: write a number like 20M or 1048576"))?;
    number.checked_mul(factor).ok_or_else(|| format!("'{text}' is too large"))
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// A finding with the absolute path it was found at, to tell the same place apart from another one
/// whatever the path looked like on the command line.
#[derive(Debug)]
pub(crate) struct Located {
    pub finding: Finding,
    pub key: PathBuf,
    /// Suppressed by `switchboard:allow`: kept until the end so that the working tree and the history
    /// count one suppression once.
    pub allowed: bool,
}

/// Shared counters, updated by the walk and history workers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    large: AtomicU64,
    unreadable: AtomicU64,
    large_paths: Mutex<Vec<String>>,
    warnings: Mutex<Vec<String>>,
}

// Large files named in the summary; the count covers the rest.
const LARGE_PATHS_SHOWN: usize = 5;

impl Counters {
    pub(crate) fn file(&self) {
        self.files.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn large(&self, path: &str) {
        self.large.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut paths) = self.large_paths.lock()
            && paths.len() < LARGE_PATHS_SHOWN
        {
            paths.push(path.to_owned());
        }
    }

    pub(crate) fn unreadable(&self, warning: String) {
        self.unreadable.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.push(warning);
        }
    }

    fn finish(self, history: Option<HistoryStats>) -> (ScanStats, Vec<String>) {
        let mut large_paths = self.large_paths.into_inner().unwrap_or_default();
        large_paths.sort();
        let stats = ScanStats {
            files: self.files.into_inner(),
            bytes: self.bytes.into_inner(),
            skipped_binary: self.binary.into_inner(),
            skipped_large: self.large.into_inner(),
            skipped_large_paths: large_paths,
            unreadable: self.unreadable.into_inner(),
            history,
        };
        (stats, self.warnings.into_inner().unwrap_or_default())
    }
}

// Like git and grep: a NUL byte near the start means binary.
const BINARY_PROBE: usize = 8 * 1024;

/// Scans one file's or blob's content and returns its findings, inline-allowed ones marked.
/// `display` is the path shown; `key` its absolute form.
pub(crate) fn scan_content(
    text: &[u8],
    display: &str,
    key: &Path,
    commit: Option<&str>,
    counters: &Counters,
) -> Vec<Located> {
    if memchr::memchr(0, &text[..text.len().min(BINARY_PROBE)]).is_some() {
        counters.binary.fetch_add(1, Ordering::Relaxed);
        return Vec::new();
    }
    counters.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
    let hits = rules::detect(Path::new(display), text, rules::Thresholds::default());
    let mut found = Vec::new();
    let mut locator = Locator::new(text);
    for hit in hits {
        let (line, column) = locator.locate(hit.start);
        let prefix: String = hit.value.chars().take(4).collect();
        let message = match hit.note {
            Some(note) => format!("{} ({note})", hit.rule.title()),
            None => hit.rule.title().to_owned(),
        };
        found.push(Located {
            finding: Finding {
                rule: hit.rule,
                path: display.to_owned(),
                line,
                column,
                commit: commit.map(str::to_owned),
                redacted: format!("{prefix}…"),
                fingerprint: Fingerprint::of(&hit.value).to_string(),
                message,
            },
            key: key.to_path_buf(),
            allowed: rules::allowed(text, hit.start),
        });
    }
    found
}

/// 1-based line and column (in characters) of byte offsets, asked in increasing order: each byte is
/// counted once, so a file with many findings (a dump, a minified bundle) stays linear.
struct Locator<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
    line_start: usize,
    column: usize,
}

impl<'a> Locator<'a> {
    fn new(text: &'a [u8]) -> Self {
        Locator { text, offset: 0, line: 1, line_start: 0, column: 1 }
    }

    fn locate(&mut self, offset: usize) -> (usize, usize) {
        if offset < self.offset {
            // Out of order: start over (hits are sorted, so this does not happen in practice).
            *self = Locator::new(self.text);
        }
        let between = &self.text[self.offset..offset];
        let newlines = memchr::memchr_iter(b'\n', between).count();
        if newlines > 0 {
            self.line += newlines;
            self.line_start =
                memchr::memrchr(b'\n', between).map_or(self.line_start, |i| self.offset + i + 1);
            self.column = 1;
            self.offset = self.line_start;
        }
        self.column += String::from_utf8_lossy(&self.text[self.offset..offset]).chars().count();
        self.offset = offset;
        (self.line, self.column)
    }
}

/// How a path is shown: `/` separators, no leading `./`.
pub(crate) fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = if std::path::MAIN_SEPARATOR == '\\' { text.replace('\\', "/") } else { text.into_owned() };
    let mut rest = text.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    if rest.is_empty() { ".".to_owned() } else { rest.to_owned() }
}

/// `cwd.join(path)` without `.` and `..` components, without touching the file system.
pub(crate) fn absolute_key(path: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("20M"), Ok(20 * 1024 * 1024));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5T").is_err());
    }

    #[test]
    fn paths_show_without_dot_slash() {
        assert_eq!(display_path(Path::new("./src/a.rs")), "src/a.rs");
        assert_eq!(display_path(Path::new(".")), ".");
        assert_eq!(absolute_key(Path::new("./a/../b"), Path::new("/w")), PathBuf::from("/w/b"));
    }

    #[test]
    fn locate_counts_lines_and_characters_incrementally() {
        let text = "ab\nçé x y\n\nz".as_bytes();
        let at = |c: u8| text.iter().position(|&b| b == c).unwrap_or_default();
        let mut locator = Locator::new(text);
        assert_eq!(locator.locate(at(b'b')), (1, 2));
        assert_eq!(locator.locate(at(b'x')), (2, 4));
        assert_eq!(locator.locate(at(b'y')), (2, 6));
        assert_eq!(locator.locate(at(b'z')), (4, 1));
        assert_eq!(locator.locate(at(b'x')), (2, 4), "out of order starts over");
    }
}
