//! The detection rules: what an Intercom credential looks like in a text, and what merely resembles one.
//!
//! A first pass over every byte looks for `dG9r` (the prefix of every access token), `ZEc5ck9` (the
//! same token base64-encoded again, as in a Kubernetes Secret) and the spellings of intercom. Only
//! those places are looked at again, and only files that mention intercom get the second pass for
//! the words that name a credential; that is what keeps the scanner faster than `grep` while it
//! checks more.

use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Serialize, Serializer};

/// Lowest Shannon entropy (bits per character) of a value the keyword rules report.
pub const DEFAULT_MIN_ENTROPY: f64 = 3.0;
/// Shortest value the keyword rules report.
pub const DEFAULT_MIN_LENGTH: usize = 16;

/// The marker that suppresses findings on its line and on the line after it.
pub const ALLOW_MARKER: &str = "switchboard:allow";

// Longest run of base64 accepted as one token candidate: real tokens are 60 characters; a longer run
// is part of some other blob (an image, a key) in which `dG9r` occurs by chance.
const MAX_TOKEN_CANDIDATE: usize = 200;
// How many pieces a token split across lines or string concatenations may have.
const MAX_SEGMENTS: usize = 8;
// An access token's id (a UUID in every token seen so far) has at least this many letters and digits;
// shorter `tok:` strings are hand-made test values, not issued tokens.
const MIN_TOKEN_ID_ALNUM: usize = 24;
// Below this the id is a placeholder such as all zeros.
const MIN_TOKEN_ID_ENTROPY: f64 = 2.5;
// Lines above a keyword searched for an `intercom` mention (a YAML or TOML block, a JS object).
const CONTEXT_LINES: usize = 6;
// How far up the scanner follows less-indented parent lines or looks for a `[section]` header.
const PARENT_LINES: usize = 200;

/// A detection rule, identified by a stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// An Intercom access token: base64 that decodes to `tok:<id>:1:0`.
    AccessToken,
    /// A client secret assigned near an `intercom` keyword.
    ClientSecret,
    /// A bearer token or API token assigned or sent near an `intercom` keyword.
    BearerToken,
}

impl RuleId {
    /// Every rule, in the order they are documented.
    pub const ALL: [RuleId; 3] = [RuleId::AccessToken, RuleId::ClientSecret, RuleId::BearerToken];

    /// The stable id, as in output and baselines (`intercom-access-token`).
    pub fn id(self) -> &'static str {
        match self {
            RuleId::AccessToken => "intercom-access-token",
            RuleId::ClientSecret => "intercom-client-secret",
            RuleId::BearerToken => "intercom-bearer-token",
        }
    }

    /// Parses a stable id.
    pub fn from_id(id: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|rule| rule.id() == id)
    }

    /// A CamelCase name (SARIF `rules[].name`).
    pub fn name(self) -> &'static str {
        match self {
            RuleId::AccessToken => "IntercomAccessToken",
            RuleId::ClientSecret => "IntercomClientSecret",
            RuleId::BearerToken => "IntercomBearerToken",
        }
    }

    /// One line saying what was found.
    pub fn title(self) -> &'static str {
        match self {
            RuleId::AccessToken => "Intercom access token",
            RuleId::ClientSecret => "Intercom client secret",
            RuleId::BearerToken => "Intercom bearer/API token",
        }
    }

    /// How the rule decides, for `--help`-like documentation and SARIF `fullDescription`.
    pub fn description(self) -> &'static str {
        match self {
            RuleId::AccessToken => {
                "A base64 string starting dG9r that decodes to tok:<id>:<n>:<n> with an id of at least 24 \
                 letters and digits (Intercom's access and OAuth token shape), also when split across \
                 lines or string concatenations, JSON-escaped, or base64-encoded again."
            }
            RuleId::ClientSecret => {
                "A value assigned to a key containing 'secret' (client_secret, INTERCOM_CLIENT_SECRET, \
                 hmac_secret) where the key, the line or its enclosing block mentions intercom; at least \
                 16 characters, letters and digits, Shannon entropy of at least 3 bits per character."
            }
            RuleId::BearerToken => {
                "'Bearer <value>' in a file mentioning intercom, or a value assigned to a key containing \
                 'token' or 'api_key' near an intercom mention; same length and entropy filter as the \
                 client-secret rule."
            }
        }
    }

    /// What to do about a finding.
    pub fn help(self) -> &'static str {
        "Revoke or rotate the credential in Intercom's Developer Hub first (it stays in the git history \
         and in every clone), then remove it and load it from a secret manager or a file: reference. \
         Mark a known false positive with a switchboard:allow comment or a baseline file."
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// A credential found in a text: where it starts and its value, before it is fingerprinted.
///
/// The value is only ever handed to [`crate::secrets::Fingerprint::of`] and cut to its first four
/// characters; `Debug` shows neither.
pub(crate) struct Hit {
    /// The rule that matched.
    pub rule: RuleId,
    /// Byte offset of the value's first character in the text.
    pub start: usize,
    /// The credential itself (the inner token for a doubly encoded one).
    pub value: String,
    /// Extra context for the message, e.g. that the token was split across lines.
    pub note: Option<&'static str>,
}

impl fmt::Debug for Hit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hit").field("rule", &self.rule).field("start", &self.start).finish_non_exhaustive()
    }
}

// Needle ids in `NEEDLES` and `KEYWORDS`, so matches can be told apart without comparing text again.
const N_TOKEN: usize = 0;
const N_DOUBLE: usize = 1;
const K_BEARER: usize = 0;

// The first pass, over every byte of every file. Case-sensitive needles keep the search on its SIMD
// (Teddy) path, twice as fast as a case-insensitive one; the three usual spellings of intercom cover
// code, prose and environment variables.
#[expect(
    clippy::expect_used,
    reason = "constant patterns far below the size limit, the only way building can fail; a unit test builds them"
)]
static NEEDLES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(["dG9r", "ZEc5ck9", "intercom", "Intercom", "INTERCOM"])
        .expect("constant needles build")
});

// The second pass, only over files that mention intercom: words that name a credential.
#[expect(
    clippy::expect_used,
    reason = "constant patterns far below the size limit, the only way building can fail; a unit test builds them"
)]
static KEYWORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(["bearer", "secret", "token", "apikey", "api_key", "api-key"])
        .expect("constant keywords build")
});

// Token candidates are decoded with padding optional, since people strip `=`.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The thresholds of the keyword rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    pub min_entropy: f64,
    pub min_length: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { min_entropy: DEFAULT_MIN_ENTROPY, min_length: DEFAULT_MIN_LENGTH }
    }
}

/// Finds every rule's hits in one file's bytes. `path` decides file-type dependent behaviour (lock
/// files, whether unquoted values count).
pub(crate) fn detect(path: &Path, text: &[u8], thresholds: Thresholds) -> Vec<Hit> {
    let mut token_starts = Vec::new();
    let mut double_starts = Vec::new();
    let mut mentions_intercom = false;
    for m in NEEDLES.find_iter(text) {
        let start = m.start();
        match m.pattern().as_usize() {
            N_TOKEN => token_starts.push(start),
            N_DOUBLE => double_starts.push(start),
            _ => mentions_intercom = true,
        }
    }
    let mut hits = Vec::new();
    let mut token_spans: Vec<(usize, usize)> = Vec::new();
    for start in token_starts {
        if let Some((value, end, split)) = access_token_at(text, start) {
            token_spans.push((start, end));
            hits.push(Hit {
                rule: RuleId::AccessToken,
                start,
                value,
                note: split.then_some("split across lines or string pieces"),
            });
        }
    }
    for start in double_starts {
        if let Some(value) = double_encoded_token_at(text, start) {
            hits.push(Hit {
                rule: RuleId::AccessToken,
                start,
                value,
                note: Some("base64-encoded again, as in a Kubernetes Secret"),
            });
        }
    }
    if mentions_intercom && !is_lock_file(path) {
        let context = Context::new(text);
        let quoted_only = is_code_file(path);
        let mut seen_values: Vec<usize> = Vec::new();
        for m in KEYWORDS.find_iter(text) {
            let (start, end) = (m.start(), m.end());
            let found = if m.pattern().as_usize() == K_BEARER {
                bearer_at(text, start, end, thresholds).map(|(s, v)| (RuleId::BearerToken, s, v))
            } else {
                assignment_at(text, start, end, quoted_only, thresholds, &context)
            };
            let Some((rule, value_start, value)) = found else { continue };
            // Several keywords can lead to the same value (`intercom_secret_token = ...`); the value
            // is also reported by the access-token rule when it is one.
            let inside_token = token_spans.iter().any(|&(s, e)| value_start >= s && value_start < e);
            if inside_token || seen_values.contains(&value_start) || decodes_to_tok(&value) {
                continue;
            }
            seen_values.push(value_start);
            hits.push(Hit { rule, start: value_start, value, note: None });
        }
    }
    hits.sort_by_key(|hit| (hit.start, hit.rule));
    hits
}

/// Whether a line (or the line before it) carries the allow marker.
pub(crate) fn allowed(text: &[u8], offset: usize) -> bool {
    let line_start = memchr::memrchr(b'\n', &text[..offset]).map_or(0, |i| i + 1);
    let line_end = memchr::memchr(b'\n', &text[offset..]).map_or(text.len(), |i| offset + i);
    if contains(&text[line_start..line_end], ALLOW_MARKER.as_bytes()) {
        return true;
    }
    if line_start == 0 {
        return false;
    }
    let prev_end = line_start - 1;
    let prev_start = memchr::memrchr(b'\n', &text[..prev_end]).map_or(0, |i| i + 1);
    contains(&text[prev_start..prev_end], ALLOW_MARKER.as_bytes())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-')
}

// Characters that, right before `dG9r`, mean it is the middle of a longer base64 string.
fn continues_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')
}

/// Reads the token candidate starting at `start` (which holds `dG9r`), following joins, and returns
/// the longest reading that decodes to an access token: its value, end offset, and whether it was split.
fn access_token_at(text: &[u8], start: usize) -> Option<(String, usize, bool)> {
    if start > 0 && continues_base64(text[start - 1]) {
        return None;
    }
    // Each entry: the candidate so far and the offset where it ends in the text.
    let mut readings: Vec<(String, usize)> = Vec::new();
    let mut value = String::new();
    let mut i = start;
    loop {
        let mut padded = false;
        while i < text.len() && value.len() <= MAX_TOKEN_CANDIDATE {
            let b = text[i];
            if is_b64(b) {
                value.push(char::from(b));
                i += 1;
            } else if b == b'\\' && text.get(i + 1) == Some(&b'/') {
                // JSON may escape '/' as '\/'.
                value.push('/');
                i += 2;
            } else {
                break;
            }
        }
        // Padding ends a token; accept `=` and its URL-encoded form.
        while i < text.len() {
            if text[i] == b'=' {
                value.push('=');
                i += 1;
                padded = true;
            } else if text[i..].len() >= 3 && text[i..i + 3].eq_ignore_ascii_case(b"%3D") {
                value.push('=');
                i += 3;
                padded = true;
            } else {
                break;
            }
        }
        if value.len() > MAX_TOKEN_CANDIDATE {
            // The middle of a longer blob: whatever it is, it is not one token.
            if readings.is_empty() {
                return None;
            }
            break;
        }
        readings.push((value.clone(), i));
        if padded || readings.len() >= MAX_SEGMENTS {
            break;
        }
        match join_after(text, i) {
            Some(next) => i = next,
            None => break,
        }
    }
    for (n, (candidate, end)) in readings.into_iter().enumerate().rev() {
        if confirm_access_token(&candidate) {
            return Some((candidate, end, n > 0));
        }
    }
    None
}

/// If a token that ended at `i` continues after a join (line continuation, string concatenation or a
/// wrapped line), the offset where it continues.
fn join_after(text: &[u8], i: usize) -> Option<usize> {
    let b = *text.get(i)?;
    let skip_ws = |mut j: usize, newlines: bool| {
        while let Some(&c) = text.get(j) {
            if c == b' ' || c == b'\t' || (newlines && (c == b'\n' || c == b'\r')) {
                j += 1;
            } else {
                break;
            }
        }
        j
    };
    let continues = |j: usize| text.get(j).is_some_and(|&c| is_b64(c));
    // A line break (LF or CRLF) at `j`: the string goes on after the next line's indentation.
    let next_line = |mut j: usize| {
        if text.get(j) == Some(&b'\r') {
            j += 1;
        }
        if text.get(j) != Some(&b'\n') {
            return None;
        }
        let j = skip_ws(j + 1, false);
        continues(j).then_some(j)
    };
    match b {
        // Backslash-newline: shell, C, Python line continuation.
        b'\\' => next_line(i + 1),
        // A quote closing one string piece, then another piece opened with the same quote, joined by
        // nothing (Python, C), `+` (JS, Java, Python), `.` (PHP) or `..` (Lua), across lines too.
        b'"' | b'\'' | b'`' => {
            let mut j = skip_ws(i + 1, true);
            for op in [&b".."[..], b"+", b".", b"&"] {
                if text[j..].starts_with(op) {
                    j = skip_ws(j + op.len(), true);
                    break;
                }
            }
            if text.get(j) != Some(&b) {
                return None;
            }
            continues(j + 1).then_some(j + 1)
        }
        // A wrapped line (YAML folded scalars, base64 wrapped at a fixed width): the next line
        // continues after its indentation. Wrongly joined text fails to decode and is dropped.
        b'\r' | b'\n' => next_line(i),
        _ => None,
    }
}

/// Whether a base64 string decodes to an Intercom access token: `tok:<id>` followed by `:<digits>`
/// parts, the id having at least 24 letters and digits and not being a placeholder.
pub(crate) fn confirm_access_token(candidate: &str) -> bool {
    if !candidate.starts_with("dG9r") {
        return false;
    }
    let unpadded = candidate.trim_end_matches('=');
    let engine = if unpadded.contains(['-', '_']) { &URL_SAFE_LENIENT } else { &STANDARD_LENIENT };
    let Ok(decoded) = engine.decode(unpadded) else { return false };
    let Ok(decoded) = std::str::from_utf8(&decoded) else { return false };
    let Some(rest) = decoded.strip_prefix("tok:") else { return false };
    let mut parts = rest.split(':');
    let id = parts.next().unwrap_or_default();
    if !parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return false;
    }
    let alnum: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    alnum.len() >= MIN_TOKEN_ID_ALNUM && shannon_entropy(&alnum) >= MIN_TOKEN_ID_ENTROPY
}

/// Whether a value is base64 of `tok:…`: the access-token rule alone decides about those (a real
/// token is reported once; a hand-made test token with a short id is not reported at all).
fn decodes_to_tok(value: &str) -> bool {
    if !value.starts_with("dG9r") {
        return false;
    }
    let unpadded = value.trim_end_matches('=');
    let engine = if unpadded.contains(['-', '_']) { &URL_SAFE_LENIENT } else { &STANDARD_LENIENT };
    // Decoding the first 8 characters (6 bytes) is enough to see `tok:`.
    unpadded.get(..8).and_then(|head| engine.decode(head).ok()).is_some_and(|d| d.starts_with(b"tok:"))
}

/// A token base64-encoded again (Kubernetes Secret `data:`, `echo $TOKEN | base64`): returns the
/// inner token.
fn double_encoded_token_at(text: &[u8], start: usize) -> Option<String> {
    if start > 0 && continues_base64(text[start - 1]) {
        return None;
    }
    let run = text[start..].iter().take_while(|&&b| is_b64(b) || b == b'=').count();
    if run > 4 * MAX_TOKEN_CANDIDATE {
        return None;
    }
    let encoded = std::str::from_utf8(&text[start..start + run]).ok()?.trim_end_matches('=');
    let decoded = STANDARD_LENIENT.decode(encoded).or_else(|_| URL_SAFE_LENIENT.decode(encoded)).ok()?;
    let inner = std::str::from_utf8(&decoded).ok()?.trim_end();
    confirm_access_token(inner).then(|| inner.to_owned())
}

/// `Bearer <value>`: the value's start and text when it passes the filters.
fn bearer_at(text: &[u8], start: usize, end: usize, thresholds: Thresholds) -> Option<(usize, String)> {
    if start > 0 && is_ident(text[start - 1]) {
        return None;
    }
    let mut i = end;
    let spaces = text[i..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    if spaces == 0 {
        return None;
    }
    i += spaces;
    let len = text[i..].iter().take_while(|&&b| is_value_char(b)).count();
    let value = std::str::from_utf8(&text[i..i + len]).ok()?;
    // `Bearer ${TOKEN}` and the like stop at once; a value running into `$`, `{` or `:` is a template
    // or a reference, not a literal.
    if text.get(i + len).is_some_and(|&b| matches!(b, b'$' | b'{' | b'}' | b':' | b'(' | b'[')) {
        return None;
    }
    plausible_secret(value, thresholds).then(|| (i, value.to_owned()))
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_value_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
}

/// `key = value` and its relatives (`key: value`, `"key": "value"`, `key => 'value'`, `key := "v"`)
/// where the key holds the keyword at `kw_start..kw_end`.
fn assignment_at(
    text: &[u8],
    kw_start: usize,
    kw_end: usize,
    quoted_only: bool,
    thresholds: Thresholds,
    context: &Context<'_>,
) -> Option<(RuleId, usize, String)> {
    let mut key_start = kw_start;
    while key_start > 0 && is_key_char(text[key_start - 1]) {
        key_start -= 1;
    }
    let mut key_end = kw_end;
    while key_end < text.len() && is_key_char(text[key_end]) {
        key_end += 1;
    }
    let key = std::str::from_utf8(&text[key_start..key_end]).ok()?;
    let rule = classify_key(key)?;

    // After the key: a closing quote (possibly JSON-escaped) or bracket, then the operator.
    let mut i = key_end;
    if text.get(i) == Some(&b'\\') && matches!(text.get(i + 1), Some(b'"' | b'\'')) {
        i += 1;
    }
    if matches!(text.get(i), Some(b'"' | b'\'' | b'`')) {
        i += 1;
    }
    if text.get(i) == Some(&b']') {
        i += 1;
    }
    i = skip_blanks(text, i);
    let op_len = operator_len(&text[i..])?;
    i = skip_blanks(text, i + op_len);
    // TOML/JSON arrays of secrets: report the first element.
    if text.get(i) == Some(&b'[') {
        i = skip_blanks(text, i + 1);
    }
    let mut quote = None;
    if text.get(i) == Some(&b'\\') && matches!(text.get(i + 1), Some(b'"' | b'\'')) {
        i += 1;
    }
    if let Some(&q @ (b'"' | b'\'' | b'`')) = text.get(i) {
        quote = Some(q);
        i += 1;
    }
    let len = text[i..].iter().take_while(|&&b| is_value_char(b)).count();
    let after = text.get(i + len).copied();
    match quote {
        Some(q) => {
            // The whole string must be the value: a closing quote (possibly escaped) right after it.
            let closes = after == Some(q) || (after == Some(b'\\') && text.get(i + len + 1) == Some(&q));
            if !closes {
                return None;
            }
        }
        None => {
            // In code an unquoted value is an expression (a variable, a call), not a literal.
            if quoted_only {
                return None;
            }
            if !matches!(after, None | Some(b'\n' | b'\r' | b' ' | b'\t' | b',' | b';' | b'#' | b'}' | b']'))
            {
                return None;
            }
        }
    }
    let value = std::str::from_utf8(&text[i..i + len]).ok()?;
    if !plausible_secret(value, thresholds) {
        return None;
    }
    let near = key.to_ascii_lowercase().contains("intercom") || context.near_intercom(kw_start);
    near.then(|| (rule, i, value.to_owned()))
}

fn skip_blanks(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

// `=`, `:=`, `=>`, `:`, `?=` but not comparisons (`==`) nor paths (`::`).
fn operator_len(rest: &[u8]) -> Option<usize> {
    match rest {
        [b':', b'=', ..] | [b'=', b'>', ..] | [b'?', b'=', ..] => Some(2),
        [b'=', b'=', ..] | [b':', b':', ..] => None,
        [b'=', ..] | [b':', ..] => Some(1),
        _ => None,
    }
}

/// Which rule a key names, if any: `secret` → client secret; `token`, `api_key` → bearer token.
fn classify_key(key: &str) -> Option<RuleId> {
    let normal: String =
        key.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    // Keys about a credential rather than holding one: where it lives, its type or its fingerprint.
    const NOT_A_VALUE: [&str; 22] = [
        "url",
        "uri",
        "path",
        "file",
        "type",
        "name",
        "env",
        "len",
        "ttl",
        "expir",
        "count",
        "limit",
        "header",
        "size",
        "prefix",
        "pattern",
        "regex",
        "field",
        "fingerprint",
        "hash",
        "checksum",
        "integrity",
    ];
    if NOT_A_VALUE.iter().any(|w| normal.contains(w)) {
        return None;
    }
    if normal.contains("secret") {
        Some(RuleId::ClientSecret)
    } else if normal.contains("token") || normal.contains("apikey") {
        Some(RuleId::BearerToken)
    } else {
        None
    }
}

/// The entropy filter and the placeholder checks shared by the keyword rules.
pub(crate) fn plausible_secret(value: &str, thresholds: Thresholds) -> bool {
    if value.len() < thresholds.min_length || value.len() > 512 {
        return false;
    }
    // Generated secrets mix letters and digits; a value without one of them is a word, an identifier
    // or a number.
    if !value.bytes().any(|b| b.is_ascii_digit()) || !value.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    // Values that describe themselves: generated secrets contain no words.
    const PLACEHOLDERS: [&str; 19] = [
        "example",
        "placeholder",
        "changeme",
        "change_me",
        "your",
        "xxxx",
        "redacted",
        "dummy",
        "secret",
        "s3cr3t",
        "token",
        "password",
        "bearer",
        "value",
        "test",
        "fake",
        "sample",
        "demo",
        "****",
    ];
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return false;
    }
    // Intercom's mobile SDK keys are meant to ship inside apps.
    if lower.starts_with("ios_sdk-") || lower.starts_with("android_sdk-") {
        return false;
    }
    shannon_entropy(value) >= thresholds.min_entropy
}

/// Shannon entropy in bits per character.
pub(crate) fn shannon_entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for b in value.bytes() {
        counts[usize::from(b)] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let total = f64::from(total);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum()
}

/// Lines of a file, for deciding whether a keyword is near an `intercom` mention.
struct Context<'a> {
    text: &'a [u8],
    line_starts: Vec<usize>,
}

impl<'a> Context<'a> {
    fn new(text: &'a [u8]) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text).map(|i| i + 1));
        Context { text, line_starts }
    }

    fn line(&self, n: usize) -> &'a [u8] {
        let start = self.line_starts[n];
        let end = self.line_starts.get(n + 1).map_or(self.text.len(), |&e| e.saturating_sub(1));
        &self.text[start..end.max(start)]
    }

    fn mentions(line: &[u8]) -> bool {
        line.windows(8).any(|w| w.eq_ignore_ascii_case(b"intercom"))
    }

    fn indent(line: &[u8]) -> Option<usize> {
        let n = line.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        (n < line.len() && !matches!(line[n], b'\r')).then_some(n)
    }

    /// The keyword's line, the few lines above it in the same block, its less-indented parents (YAML,
    /// JSON, JS objects) and its `[section]` header (TOML, INI).
    fn near_intercom(&self, offset: usize) -> bool {
        let line_no = self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        if Self::mentions(self.line(line_no)) {
            return true;
        }
        let mut indent = Self::indent(self.line(line_no)).unwrap_or(0);
        // Lines of the same block count within a short window; once a parent is passed, the lines
        // above belong to other blocks and only further parents count.
        let mut in_block = true;
        for n in (line_no.saturating_sub(PARENT_LINES)..line_no).rev() {
            let line = self.line(n);
            let Some(this_indent) = Self::indent(line) else { continue };
            if this_indent < indent {
                if Self::mentions(line) {
                    return true;
                }
                indent = this_indent;
                in_block = false;
            } else if in_block && line_no - n <= CONTEXT_LINES && Self::mentions(line) {
                return true;
            }
            if this_indent == 0 && line.first() == Some(&b'[') {
                // The enclosing section header: nothing above it applies.
                return Self::mentions(line);
            }
        }
        false
    }
}

/// Lock files hold thousands of hashes next to package names that may contain "intercom"; only the
/// access-token rule, which decodes what it finds, runs on them.
fn is_lock_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    const LOCK_FILES: [&str; 17] = [
        "Cargo.lock",
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lock",
        "poetry.lock",
        "Pipfile.lock",
        "uv.lock",
        "Gemfile.lock",
        "composer.lock",
        "go.sum",
        "mix.lock",
        "pubspec.lock",
        "packages.lock.json",
        "flake.lock",
        "Podfile.lock",
    ];
    LOCK_FILES.contains(&name)
}

/// Source files, where an unquoted value is an expression rather than a literal.
fn is_code_file(path: &Path) -> bool {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else { return false };
    const CODE: [&str; 34] = [
        "rs", "js", "mjs", "cjs", "jsx", "ts", "tsx", "mts", "cts", "py", "rb", "go", "java", "kt", "kts",
        "scala", "cs", "fs", "php", "swift", "c", "h", "cc", "cpp", "hpp", "m", "mm", "dart", "lua", "ex",
        "exs", "vue", "svelte", "ipynb",
    ];
    CODE.contains(&ext.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Token-shaped strings are built here rather than written down, so this file stays clean under
    // its own scanner.
    fn token(id: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("tok:{id}:1:0"))
    }

    const ID: &str = "3f2a9c1e_7b4d_4e8a_9f06_c2d5b8e1a7f3";

    fn rules(path: &str, text: &str) -> Vec<RuleId> {
        detect(Path::new(path), text.as_bytes(), Thresholds::default()).into_iter().map(|h| h.rule).collect()
    }

    #[test]
    fn confirms_real_shaped_tokens_and_rejects_look_alikes() {
        let t = token(ID);
        assert_eq!(t.len(), 60);
        assert!(confirm_access_token(&t));
        assert!(confirm_access_token(t.trim_end_matches('=')), "padding is optional");
        assert!(!confirm_access_token(&token("00000000_0000_0000_0000_000000000000")), "placeholder");
        assert!(!confirm_access_token(&token("fake_token_for_tests")), "too short an id");
        let tokenizer = base64::engine::general_purpose::STANDARD.encode("tokenizer_config_9f8e7d6c5b4a3");
        assert!(tokenizer.starts_with("dG9r"));
        assert!(!confirm_access_token(&tokenizer));
    }

    #[test]
    fn a_token_in_the_middle_of_a_base64_blob_is_not_one() {
        let t = token(ID);
        assert_eq!(rules("a.txt", &format!("x = \"{t}\"")), vec![RuleId::AccessToken]);
        assert!(rules("a.txt", &format!("x = \"AAAA{t}\"")).is_empty());
    }

    #[test]
    fn joins_pieces_of_a_split_token() {
        let t = token(ID);
        let (a, b) = t.split_at(23);
        for text in [
            format!("TOKEN=\"{a}\\\n    {b}\""),
            format!("token = (\"{a}\"\n         \"{b}\")"),
            format!("const t = '{a}' +\n  '{b}';"),
            format!("$t = \"{a}\" . \"{b}\";"),
        ] {
            let hits = detect(Path::new("x"), text.as_bytes(), Thresholds::default());
            assert_eq!(hits.len(), 1, "{text}");
            assert_eq!(hits[0].value, t);
            assert!(hits[0].note.is_some());
        }
    }

    #[test]
    fn keyword_rules_need_an_intercom_mention_nearby() {
        // switchboard:allow (a made-up secret in a function whose name mentions intercom)
        let secret = "9c1e7b4d4e8a9f06c2d5b8e1a7f33f2a";
        assert_eq!(rules(".env", &format!("INTERCOM_CLIENT_SECRET={secret}\n")), vec![RuleId::ClientSecret]);
        assert!(rules(".env", &format!("STRIPE_SECRET={secret}\n")).is_empty());
        let yaml =
            format!("intercom:\n  app_id: abc\n  client_secret: \"{secret}\"\nother:\n  secret: {secret}\n");
        assert_eq!(rules("c.yaml", &yaml), vec![RuleId::ClientSecret]);
        let toml = format!(
            "[intercom]\nregion = \"us\"\n\n\n\n\n\n\n\ntoken = \"{secret}\"\n[github]\ntoken = \"{secret}\"\n"
        );
        assert_eq!(rules("c.toml", &toml), vec![RuleId::BearerToken]);
    }

    #[test]
    fn references_placeholders_and_expressions_are_not_secrets() {
        for text in [
            "[intercom]\ntoken = \"file:/run/secrets/intercom_token\"\n",
            "INTERCOM_TOKEN=${INTERCOM_TOKEN}\n",
            "intercom_secret = \"your-intercom-client-secret-1\"\n",
            "curl https://api.intercom.io/me -H \"Authorization: Bearer $INTERCOM_TOKEN\"\n",
            "intercom_token = \"aaaaaaaaaaaaaaaaaaaaaaa1\"\n",
        ] {
            assert!(rules("x.sh", text).is_empty(), "{text}");
        }
        assert!(rules("app.js", "const intercom = { token: intercomTokenFromVault2024 };").is_empty());
        assert_eq!(
            rules("app.yml", "intercom:\n  token: 9c1e7b4d4e8a9f06c2d5b8e1a7f3\n"),
            vec![RuleId::BearerToken]
        );
    }

    #[test]
    fn allow_marker_covers_its_line_and_the_next() {
        let text = b"a\n# switchboard:allow\nb\nc";
        assert!(allowed(text, 2));
        assert!(allowed(text, 22));
        assert!(!allowed(text, 24));
        assert!(!allowed(text, 0));
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn debug_never_shows_the_value() {
        let hit = Hit { rule: RuleId::AccessToken, start: 0, value: token(ID), note: None };
        assert!(!format!("{hit:?}").contains("dG9r"));
    }
}
