//! `X-Hub-Signature` verification (crates/switchboard/src/webhooks/signature.rs).
//!
//! Input: the header value, a newline, then the body. Checks that `verify` classifies every header
//! exactly as its contract says (malformed unless `sha1=` and 40 hex digits; otherwise accepted iff
//! it is the HMAC under one of the secrets), and that `sign` round-trips and detects tampering.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::secrets::Secret;
use switchboard::webhooks::{SignatureError, sign, verify};

const SECRETS: [&str; 2] = ["old-client-secret", "client-secret-42"];

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(header) = std::str::from_utf8(header) else { return };
    let secrets: Vec<Secret> = SECRETS
        .iter()
        .enumerate()
        .map(|(i, s)| Secret::generated(&format!("webhooks.client_secrets[{i}]"), s))
        .collect();

    assert_eq!(verify(None, body, &secrets), Err(SignatureError::Missing));

    // The contract, restated independently of the implementation.
    let digits = header.trim().strip_prefix("sha1=");
    let well_formed = digits.is_some_and(|d| d.len() == 40 && d.bytes().all(|b| b.is_ascii_hexdigit()));
    let result = verify(Some(header), body, &secrets);
    if !well_formed {
        assert_eq!(result, Err(SignatureError::Malformed), "{header:?}");
    } else {
        let digits = digits.unwrap_or_default().to_ascii_lowercase();
        let matches = SECRETS.iter().any(|s| sign(s.as_bytes(), body)[5..] == digits);
        let expected = if matches { Ok(()) } else { Err(SignatureError::Mismatch) };
        assert_eq!(result, expected, "{header:?}");
    }

    // What `sign` produces is always well formed, lowercase, and accepted under its own secret only.
    for (i, s) in SECRETS.iter().enumerate() {
        let signed = sign(s.as_bytes(), body);
        assert_eq!(signed.len(), 45, "{signed}");
        assert!(signed.starts_with("sha1="));
        assert!(signed[5..].bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{signed}");
        assert_eq!(verify(Some(&signed), body, &secrets), Ok(()));
        assert_eq!(verify(Some(&signed), body, &secrets[1 - i..2 - i]), Err(SignatureError::Mismatch));
        // Any change to the body invalidates the signature.
        let mut tampered = body.to_vec();
        match tampered.last_mut() {
            Some(last) => *last ^= 1,
            None => tampered.push(b' '),
        }
        assert_eq!(verify(Some(&signed), &tampered, &secrets), Err(SignatureError::Mismatch));
    }
});
