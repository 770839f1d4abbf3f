//! Secret references (crates/switchboard/src/secrets.rs): `file:`, `exec:` and `env:` parsing only;
//! nothing is resolved, read or run here.
//!
//! Checks: parsing never panics; the kind follows the prefix; a `file:` or `env:` reference
//! round-trips through its display; an `exec:` command line has a program, re-splits to the same
//! argv, and its display shows the program but never the arguments (they may carry credentials);
//! `Debug` shows no more than `Display`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::secrets::{SecretKind, SecretRef, SecretRefError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = SecretRef::parse(text);
    let trimmed = text.trim();
    let Ok(reference) = parsed else {
        let expected = if trimmed.starts_with("file:") {
            SecretRefError::EmptyPath
        } else if trimmed.starts_with("exec:") {
            SecretRefError::BadCommand
        } else if trimmed.starts_with("env:") {
            SecretRefError::BadEnvName
        } else {
            SecretRefError::NotAReference
        };
        assert_eq!(parsed.err(), Some(expected), "{text:?}");
        return;
    };
    let shown = reference.to_string();
    assert_eq!(format!("{reference:?}"), shown, "Debug shows what Display shows");
    match &reference {
        SecretRef::File(path) => {
            assert!(trimmed.starts_with("file:"));
            assert_eq!(reference.kind(), SecretKind::File);
            assert!(!path.as_os_str().is_empty());
            assert_eq!(SecretRef::parse(&shown).as_ref(), Ok(&reference), "{shown:?} round-trips");
        }
        SecretRef::Env(var) => {
            assert!(trimmed.starts_with("env:"));
            assert_eq!(reference.kind(), SecretKind::Env);
            assert!(var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !var.is_empty());
            assert_eq!(SecretRef::parse(&shown).as_ref(), Ok(&reference), "{shown:?} round-trips");
        }
        SecretRef::Exec { command, argv } => {
            assert!(trimmed.starts_with("exec:"));
            assert_eq!(reference.kind(), SecretKind::Exec);
            assert!(!argv.is_empty(), "an exec: reference has a program");
            assert_eq!(shlex::split(command).as_ref(), Some(argv), "the command line re-splits the same");
            let joined = shlex::try_join(argv.iter().map(String::as_str));
            if let Ok(joined) = joined {
                let again = SecretRef::parse(&format!("exec:{joined}"));
                assert_eq!(again.as_ref(), Ok(&reference), "{joined:?}");
            }
            let expected =
                if argv.len() > 1 { format!("exec:{} …", argv[0]) } else { format!("exec:{}", argv[0]) };
            assert_eq!(shown, expected, "the display shows the program only");
        }
        SecretRef::Generated(_) => panic!("a config string parsed to a generated secret"),
    }
});
