//! Logging with PII and secret redaction built in.
//!
//! Every event goes through [`RedactingLayer`], which formats it itself (JSON lines or readable
//! text) so that nothing reaches the output unmasked: values of sensitive fields (`email`, `name`,
//! `phone`, secrets, plus `logging.redact_keys`) are replaced whole, and every other string (the
//! message included) is scanned for e-mail addresses, phone numbers, Intercom access tokens and
//! `Authorization`/`Bearer` values. Panics are routed through the same path.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::{self, Write as _};
use std::hash::Hash;
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use switchboard_clock::Clock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (the production default).
    Json,
    /// Human-readable lines (the default elsewhere).
    Text,
}

impl LogFormat {
    /// The name as written in config and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

/// Field names whose values are always masked: PII from the checklist and secrets. Preflight's
/// `data-handling` check reports these by name.
pub(crate) const BUILTIN_KEYS: &[&str] = &[
    "email",
    "name",
    "phone",
    "token",
    "access_token",
    "authorization",
    "password",
    "secret",
    "client_secret",
    "api_key",
];
/// Other spellings of `api_key` (headers, other tools' configs), always masked too.
const API_KEY_SPELLINGS: &[&str] = &["api-key", "apikey", "x-api-key"];
/// Keys masked also as the suffix of a longer name (`user_email`, `contact.phone`).
const SUFFIX_KEYS: &[&str] = &["email", "phone", "token", "secret", "password"];
/// What a masked value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Masks PII and secrets in field values and free text.
#[derive(Debug, Clone)]
pub struct Redactor {
    keys: Vec<String>,
    patterns: Regex,
}

impl Redactor {
    /// A redactor masking the built-in keys and `extra_keys`.
    pub fn new(extra_keys: &[String]) -> Self {
        let mut keys: Vec<String> =
            BUILTIN_KEYS.iter().chain(API_KEY_SPELLINGS).map(|k| (*k).to_owned()).collect();
        keys.extend(extra_keys.iter().map(|k| k.trim().to_ascii_lowercase()).filter(|k| !k.is_empty()));
        keys.sort();
        keys.dedup();
        let key_alternation = keys.iter().map(|k| regex::escape(k)).collect::<Vec<_>>().join("|");
        // One pass over the text with named alternatives; the order matters where they overlap
        // (an Authorization value may itself be a Bearer token or an Intercom token).
        let pattern = format!(
            r#"(?ix)
            (?P<auth>\bauthorization["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token)\s+)?[^\s"',;}}]+
            | (?P<bearer>\bbearer\s+)[A-Za-z0-9._~+/=-]+
            | (?P<kvs>\b(?:{key_alternation}):[\ \t]+)   # YAML-like "name: Jane Doe": every word to the next delimiter
              [^\s,;&}}\]"'\\]+(?:[\ \t]+[^\s,;&}}\]"'\\=:]+)+(?:[,;}}\]\n]|$)
            | (?P<kv>\\?["']?\b(?:{key_alternation})\b\\?["']?\s*[:=]\s*)
              (?:\\"(?:[^"\\]|\\[^"])*\\"          # a value in escaped quotes (JSON inside a Debug string)
                |"(?:[^"\\]|\\.)*"                   # a quoted value
                |'[^']*'
                |[^\s,;&}}\]"'\\]+                   # an unquoted word
              )
            | (?P<token>\bdG9r[A-Za-z0-9+/_-]{{6,}}={{0,2}})
            | (?P<email>[\p{{L}}\p{{N}}._%+-]+@[\p{{L}}\p{{N}}-]+(?:\.[\p{{L}}\p{{N}}-]+)*\.\p{{L}}{{2,}})
            | (?P<phone>\+\d[\d\s().-]{{6,}}\d
                |\(?\b\d{{3}}\)?[\s.-]\d{{3}}[\s.-]\d{{4}}\b
                |\b0\d{{1,4}}(?:[\s.-]\d{{2,4}}){{2,4}}\b)
            "#
        );
        #[expect(
            clippy::expect_used,
            reason = "the pattern is built from escaped keys around a fixed template, so it always compiles"
        )]
        let patterns = Regex::new(&pattern).expect("redaction pattern compiles");
        Redactor { keys, patterns }
    }

    /// Whether values of the field `key` are masked whole.
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.keys.contains(&key)
            || SUFFIX_KEYS
                .iter()
                .any(|suffix| key.strip_suffix(suffix).is_some_and(|rest| rest.ends_with(['_', '.', '-'])))
    }

    /// Masks PII and secrets found in free text.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.patterns.replace_all(text, |caps: &Captures<'_>| {
            if let Some(prefix) = caps.name("kvs") {
                // Keep the delimiter that ended the value.
                let end = caps[0].chars().last().filter(|c| matches!(c, ',' | ';' | '}' | ']' | '\n'));
                return format!("{}{REDACTED}{}", prefix.as_str(), end.map(String::from).unwrap_or_default());
            }
            if let Some(prefix) =
                caps.name("auth").or_else(|| caps.name("bearer")).or_else(|| caps.name("kv"))
            {
                let value = &caps[0][prefix.as_str().len()..];
                if value.starts_with("\\\"") {
                    format!("{}\\\"{REDACTED}\\\"", prefix.as_str())
                } else if value.starts_with('"') {
                    format!("{}\"{REDACTED}\"", prefix.as_str())
                } else {
                    format!("{}{REDACTED}", prefix.as_str())
                }
            } else if caps.name("token").is_some() {
                "[token]".to_owned()
            } else if caps.name("email").is_some() {
                "[email]".to_owned()
            } else {
                "[phone]".to_owned()
            }
        })
    }
}

/// A recorded field value, kept typed so JSON output stays typed.
#[derive(Debug, Clone)]
enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

impl FieldValue {
    fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Str(s) => serde_json::Value::String(s.clone()),
            FieldValue::I64(v) => (*v).into(),
            FieldValue::U64(v) => (*v).into(),
            FieldValue::F64(v) => {
                serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, Into::into)
            }
            FieldValue::Bool(v) => (*v).into(),
        }
    }
}

/// Collects fields, masking as it goes, so unmasked values are never stored.
struct Collector<'r> {
    redactor: &'r Redactor,
    fields: Vec<(&'static str, FieldValue)>,
}

impl Collector<'_> {
    fn push(&mut self, field: &Field, value: FieldValue) {
        let value = if field.name() != "message" && self.redactor.is_sensitive_key(field.name()) {
            FieldValue::Str(REDACTED.to_owned())
        } else if let FieldValue::Str(s) = value {
            FieldValue::Str(self.redactor.redact(&s).into_owned())
        } else {
            value
        };
        self.fields.push((field.name(), value));
    }
}

impl Visit for Collector<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(value.to_string()));
    }
}

/// The masked fields of a span, kept in its extensions.
struct SpanFields(Vec<(&'static str, FieldValue)>);

/// A formatting layer that masks PII and secrets in everything it writes.
#[derive(Debug)]
pub struct RedactingLayer<W> {
    redactor: Redactor,
    format: LogFormat,
    writer: W,
}

impl<W> RedactingLayer<W> {
    /// A layer writing `format` lines to `writer`.
    pub fn new(redactor: Redactor, format: LogFormat, writer: W) -> Self {
        RedactingLayer { redactor, format, writer }
    }
}

impl<S, W> Layer<S> for RedactingLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut collector = Collector { redactor: &self.redactor, fields: Vec::new() };
        attrs.record(&mut collector);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collector.fields));
        }
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        let mut collector = Collector { redactor: &self.redactor, fields: Vec::new() };
        values.record(&mut collector);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            match extensions.get_mut::<SpanFields>() {
                Some(existing) => existing.0.extend(collector.fields),
                None => extensions.insert(SpanFields(collector.fields)),
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut collector = Collector { redactor: &self.redactor, fields: Vec::new() };
        event.record(&mut collector);
        let mut spans: Vec<(&'static str, Vec<(&'static str, FieldValue)>)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let fields = span.extensions().get::<SpanFields>().map(|f| f.0.clone()).unwrap_or_default();
                spans.push((span.name(), fields));
            }
        }
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let meta = event.metadata();
        let mut line = match self.format {
            LogFormat::Json => json_line(&timestamp, meta, &collector.fields, &spans),
            LogFormat::Text => text_line(&timestamp, meta, &collector.fields, &spans),
        };
        line.push('\n');
        // A failed write of a log line has nowhere better to be reported; dropping it is the only option.
        let _ = self.writer.make_writer_for(meta).write_all(line.as_bytes());
    }
}

type Fields = [(&'static str, FieldValue)];

fn json_line(
    timestamp: &str,
    meta: &tracing::Metadata<'_>,
    fields: &Fields,
    spans: &[(&'static str, Vec<(&'static str, FieldValue)>)],
) -> String {
    let mut object = serde_json::Map::new();
    object.insert("timestamp".into(), timestamp.into());
    object.insert("level".into(), meta.level().as_str().into());
    object.insert("target".into(), meta.target().into());
    for (name, value) in fields {
        let key = if matches!(*name, "timestamp" | "level" | "target" | "spans") {
            format!("field.{name}")
        } else {
            (*name).to_owned()
        };
        object.insert(key, value.to_json());
    }
    if !spans.is_empty() {
        let spans = spans
            .iter()
            .map(|(name, fields)| {
                let mut span = serde_json::Map::new();
                span.insert("name".into(), (*name).into());
                for (key, value) in fields {
                    span.insert((*key).into(), value.to_json());
                }
                serde_json::Value::Object(span)
            })
            .collect();
        object.insert("spans".into(), serde_json::Value::Array(spans));
    }
    serde_json::Value::Object(object).to_string()
}

fn text_line(
    timestamp: &str,
    meta: &tracing::Metadata<'_>,
    fields: &Fields,
    spans: &[(&'static str, Vec<(&'static str, FieldValue)>)],
) -> String {
    let mut line = format!("{timestamp} {:>5} ", meta.level().as_str());
    for (name, fields) in spans {
        line.push_str(name);
        if !fields.is_empty() {
            line.push('{');
            let joined: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&joined.join(" "));
            line.push('}');
        }
        line.push(':');
    }
    let _ = write!(line, "{}:", meta.target());
    if let Some((_, message)) = fields.iter().find(|(name, _)| *name == "message") {
        let _ = write!(line, " {message}");
    }
    for (name, value) in fields.iter().filter(|(name, _)| *name != "message") {
        let _ = write!(line, " {name}={value}");
    }
    line
}

/// Installs the global subscriber: filter `level` (overridden by `SWITCHBOARD_LOG`), redaction,
/// and output to standard error. Also routes panics through the redacting logger.
pub fn init(format: LogFormat, level: &str, redact_keys: &[String]) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = std::env::var("SWITCHBOARD_LOG")
        .ok()
        .and_then(|directive| EnvFilter::builder().parse(directive).ok())
        .unwrap_or_else(|| EnvFilter::builder().parse_lossy(level));
    let layer = RedactingLayer::new(Redactor::new(redact_keys), format, std::io::stderr);
    // A second init (tests starting several services in one process) keeps the first subscriber.
    if tracing_subscriber::registry().with(filter).with(layer).try_init().is_ok() {
        std::panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic.location = %location, "panic: {payload}");
        }));
    }
}

/// Lets one log line per key through every `every`, and counts those it held back, so that an
/// event anyone can trigger (a bad signature, a wrong admin key) cannot flood the log. Callers
/// keep the keys bounded (configured app names and fixed reasons, or one key for everything).
#[derive(Debug)]
pub struct WarnSampler<K> {
    every: Duration,
    /// Per key: when a line was last let through (Unix ms), and how many were held back since.
    last: Mutex<HashMap<K, (u64, u64)>>,
}

impl<K: Eq + Hash> WarnSampler<K> {
    /// A sampler that lets one line per key through every `every`.
    pub fn new(every: Duration) -> Self {
        WarnSampler { every, last: Mutex::new(HashMap::new()) }
    }

    /// How long it holds lines back after one it let through.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// `Some(held back since the last line)` when a line for `key` may be written now.
    pub fn admit(&self, key: K, clock: &dyn Clock) -> Option<u64> {
        let now = clock.now_millis();
        let every = u64::try_from(self.every.as_millis()).unwrap_or(u64::MAX);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match last.entry(key) {
            // A clock stepped backwards counts as a window that has passed rather than one that never ends.
            Entry::Occupied(mut seen) => {
                let (at, held) = seen.get_mut();
                if now >= *at && now - *at < every {
                    *held += 1;
                    None
                } else {
                    *at = now;
                    Some(std::mem::take(held))
                }
            }
            Entry::Vacant(first) => {
                first.insert((now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_sampled_per_key_and_report_what_they_held_back() {
        let clock = switchboard_clock::ManualClock::at_secs(1_800_000_000);
        let sampler = WarnSampler::new(Duration::from_secs(10));
        assert_eq!(sampler.admit("default", &clock), Some(0), "the first line goes out");
        for _ in 0..41 {
            assert_eq!(sampler.admit("default", &clock), None);
        }
        assert_eq!(sampler.admit("eu", &clock), Some(0), "each key has its own allowance");
        clock.advance(Duration::from_secs(9));
        assert_eq!(sampler.admit("default", &clock), None);
        clock.advance(Duration::from_secs(1));
        assert_eq!(sampler.admit("default", &clock), Some(42), "the next line says how many were held back");
        assert_eq!(sampler.admit("default", &clock), None);
        // A clock stepped backwards does not silence the key for good.
        clock.set_millis(1_000);
        assert_eq!(sampler.admit("default", &clock), Some(1));
    }

    #[test]
    fn masks_patterns_in_text() {
        let r = Redactor::new(&[]);
        let cases = [
            ("mail jane.doe+x@example.co.uk now", "mail [email] now"),
            ("call +44 20 7946 0958 today", "call [phone] today"),
            ("us (415) 555-0132 or 415.555.0132", "us [phone] or [phone]"),
            ("token dG9rOmFiY2RlZl8xMjM0OjE6MA== used", "token [token] used"),
            ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
            ("sent bearer xyz123 upstream", "sent bearer [redacted] upstream"),
            (
                r#"{"email":"a@b.io","name":"Jane Doe","id":"42"}"#,
                r#"{"email":"[redacted]","name":"[redacted]","id":"42"}"#,
            ),
            ("user name=Jane phone=5551234", "user name=[redacted] phone=[redacted]"),
        ];
        for (input, expected) in cases {
            assert_eq!(r.redact(input), expected, "input: {input}");
        }
    }

    #[test]
    fn masks_what_a_review_found_leaking() {
        let r = Redactor::new(&[]);
        let cases = [
            ("from josé@exemple.fr and 山田@example.jp", "from [email] and [email]"),
            ("user@bücher.de wrote", "[email] wrote"),
            ("name: Jane Doe, plan: pro", "name: [redacted], plan: pro"),
            (
                r#"body="{\"name\":\"Jane Doe\",\"id\":\"7\"}""#,
                r#"body="{\"name\":\"[redacted]\",\"id\":\"7\"}""#,
            ),
            ("call 020 7946 0958 or 06 12 34 56 78", "call [phone] or [phone]"),
            ("x-api-key: sk_live_51abcdef", "x-api-key: [redacted]"),
        ];
        for (input, expected) in cases {
            assert_eq!(r.redact(input), expected, "input: {input}");
        }
        // Package versions and timestamps are not e-mails or phone numbers.
        for text in ["intercom-client@7.0.3 is pinned", "took 1392731392 ms", "at 2026-11-27T14:00:00Z"] {
            assert_eq!(r.redact(text), text);
        }
    }

    #[test]
    fn leaves_ordinary_values_alone() {
        let r = Redactor::new(&[]);
        for text in [
            "created_at=1392731392 id=65f642bf674b9af4e9e46dd1",
            "topic=contact.user.created app_id=a86dr8yl",
            "event_name=signed-up hostname=web-1",
            "request_id=f93ecfa8-d08a-4325-8694-89aeb89c8f85 latency_ms=12.5",
        ] {
            assert_eq!(r.redact(text), text);
        }
    }

    #[test]
    fn sensitive_keys_include_configured_and_suffixes() {
        let r = Redactor::new(&["Address".to_owned()]);
        for key in
            ["email", "Name", "user_email", "contact.phone", "address", "client_secret", "intercom_token"]
        {
            assert!(r.is_sensitive_key(key), "{key}");
        }
        for key in ["topic", "app_name", "latency_ms", "emails_sent"] {
            assert!(!r.is_sensitive_key(key), "{key}");
        }
    }
}
