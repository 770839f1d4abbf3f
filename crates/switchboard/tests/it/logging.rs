//! The redaction layer: events carrying PII and secrets produce output holding none of them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use switchboard::logging::{LogFormat, RedactingLayer, Redactor};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const PII: &[&str] = &[
    "jane.doe@example.com",
    "Jane Doe",
    "+1 415 555 0132",
    "(415) 555-0132",
    "dG9rOmQ0ZTVmNmE3X2I4YzlfNDBkMV84ZTJmXzNhNGI1YzZkN2U4ZjoxOjA=", // switchboard:allow (made up, never issued)
    "s3cr3t-bearer-value",
    "12 Privet Drive",
    "client-secret-value",
];

fn emit_pii_events() {
    let span = tracing::info_span!("webhook", email = "jane.doe@example.com", topic = "contact.user.created");
    let _entered = span.enter();
    tracing::info!(
        email = "jane.doe@example.com",
        name = "Jane Doe",
        phone = "+1 415 555 0132",
        "contact created"
    );
    tracing::warn!("lookup failed for jane.doe@example.com, call (415) 555-0132");
    tracing::info!(
        authorization = "Bearer s3cr3t-bearer-value",
        // switchboard:allow (the made-up token above, which the redactor must mask)
        "calling Intercom with token dG9rOmQ0ZTVmNmE3X2I4YzlfNDBkMV84ZTJmXzNhNGI1YzZkN2U4ZjoxOjA="
    );
    tracing::info!(header = "Authorization: Bearer s3cr3t-bearer-value", "outbound request");
    tracing::info!(address = "12 Privet Drive", client_secret = "client-secret-value", "configured keys");
    let body =
        r#"{"type":"contact","email":"jane.doe@example.com","name":"Jane Doe","phone":"+1 415 555 0132"}"#;
    tracing::error!(body, "Intercom rejected the request");
    // A struct logged with its derived Debug: field names inside the text are still recognised.
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Contact {
        id: &'static str,
        name: &'static str,
        email: &'static str,
    }
    let contact = Contact { id: "42", name: "Jane Doe", email: "jane.doe@example.com" };
    tracing::debug!(?contact, "debug-formatted value");
    tracing::info!(topic = "contact.user.created", contact_id = "65f642bf674b9af4e9e46dd1", "not PII");
}

fn capture(format: LogFormat) -> String {
    let capture = Capture::default();
    let layer = RedactingLayer::new(Redactor::new(&["address".to_owned()]), format, capture.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, emit_pii_events);
    String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn text_output_holds_no_pii_or_secrets() {
    let output = capture(LogFormat::Text);
    assert_eq!(output.lines().count(), 8, "{output}");
    for value in PII {
        assert!(!output.contains(value), "{value:?} leaked into:\n{output}");
    }
    // What is not PII stays readable, so the logs remain useful.
    assert!(output.contains("contact_id=65f642bf674b9af4e9e46dd1"), "{output}");
    assert!(output.contains("webhook{email=[redacted] topic=contact.user.created}"), "{output}");
    assert!(output.contains("lookup failed for [email], call [phone]"), "{output}");
    assert!(
        output.contains(r#"contact=Contact { id: "42", name: "[redacted]", email: "[redacted]" }"#),
        "{output}"
    );
}

#[test]
fn json_output_holds_no_pii_or_secrets_and_stays_valid_json() {
    let output = capture(LogFormat::Json);
    for value in PII {
        assert!(!output.contains(value), "{value:?} leaked into:\n{output}");
    }
    let lines: Vec<serde_json::Value> =
        output.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["email"], "[redacted]");
    assert_eq!(lines[0]["message"], "contact created");
    assert_eq!(lines[0]["spans"][0]["name"], "webhook");
    assert_eq!(lines[0]["spans"][0]["email"], "[redacted]");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[7]["contact_id"], "65f642bf674b9af4e9e46dd1");
}
