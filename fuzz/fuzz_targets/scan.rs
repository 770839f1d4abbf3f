//! The scan tokenizer (crates/switchboard/src/scan/rules.rs, through `scan::scan_bytes`).
//!
//! Input: the first byte picks the file name (the rules differ for code, config and lock files),
//! the rest is the file. `@TOKEN@` in the input becomes a real-shaped access token made at run time,
//! so seeds stay clean under the repository's own scan.
//!
//! Checks: nothing panics on any bytes; every finding's line and column lie inside the file, its
//! redacted form is at most four characters and `…`, its fingerprint `sha256:` and 8 hex digits;
//! findings come in file order; and a token on a line of its own appended to any text is found.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use switchboard::scan::{RuleId, scan_bytes};

const NAMES: [&str; 8] = [
    "config.toml",
    "app.js",
    "values.yaml",
    ".env",
    "main.rs",
    "package-lock.json",
    "notes.txt",
    "secret.yaml",
];

/// A token in Intercom's shape: base64 of `tok:<uuid with _>:1:0`, built here, never written down.
fn token() -> String {
    let id = ["3f2a9c1e", "7b4d", "4e8a", "9f06", "c2d5b8e1a7f3"].join("_");
    base64::engine::general_purpose::STANDARD.encode(format!("tok:{id}:1:0"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let token = token();
    let text = replace(text, b"@TOKEN@", token.as_bytes());

    let findings = scan_bytes(name, &text);
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut last = (0, 0);
    for (finding, _allowed) in &findings {
        assert!(finding.line >= 1 && finding.line <= lines, "{finding:?}");
        assert!(finding.column >= 1 && finding.column <= text.len() + 1, "{finding:?}");
        assert!(finding.redacted.ends_with('…') && finding.redacted.chars().count() <= 5, "{finding:?}");
        let hex = finding.fingerprint.strip_prefix("sha256:").expect("fingerprint prefix");
        assert!(hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{finding:?}");
        assert!((finding.line, finding.column) >= last, "findings out of order");
        last = (finding.line, finding.column);
    }
    assert_eq!(scan_bytes(name, &text), findings, "scanning is deterministic");

    // A token alone on the line after any text is found (a binary file is skipped as a whole).
    if memchr_nul(&text[..text.len().min(8 * 1024)]) {
        return;
    }
    let mut with_token = text.clone();
    with_token.extend_from_slice(b"\n");
    with_token.extend_from_slice(token.as_bytes());
    with_token.extend_from_slice(b"\n");
    let line = lines + 1;
    let found = scan_bytes(name, &with_token);
    assert!(
        found.iter().any(|(f, _)| f.rule == RuleId::AccessToken && f.line == line && f.column == 1),
        "a token alone on line {line} was missed: {found:?}"
    );
});

fn memchr_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0)
}

fn replace(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
