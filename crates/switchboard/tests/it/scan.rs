//! `switchboard scan`: a corpus of true positives and true negatives (built here, in a temporary git
//! repository, so no realistic token is ever committed), the real binary's exit codes and formats,
//! `--history`, suppression, and the repository itself scanning clean.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchboard::scan::{self, Finding, RuleId, ScanOptions};
use switchboard::secrets::Fingerprint;

use crate::harness::{Ran, cli, repo_root};

// ---------------------------------------------------------------------------------------------
// Credential-shaped values, derived at run time from fixed seeds: deterministic, never in the source.

fn digest_hex(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

/// An access token in Intercom's shape: base64 of `tok:<uuid with _>:1:0`.
fn token(seed: &str) -> String {
    let h = digest_hex(seed);
    let id = format!("{}_{}_4{}_a{}_{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]);
    STANDARD.encode(format!("tok:{id}:1:0"))
}

/// A client secret like Intercom's: 64 lowercase hex digits.
fn client_secret(seed: &str) -> String {
    digest_hex(seed)
}

/// An opaque bearer token: 40 characters of URL-safe base64.
fn opaque(seed: &str) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(seed.as_bytes()));
    format!("{}9", &encoded[..39])
}

/// Everything secret in the corpus, to prove none of it is ever printed.
struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    fn check(&self, output: &str) {
        for value in &self.values {
            // The assertion message names the value's fingerprint only.
            assert!(!output.contains(value.as_str()), "a secret ({}) was printed", Fingerprint::of(value));
            if let Ok(decoded) = STANDARD.decode(value)
                && let Ok(decoded) = String::from_utf8(decoded)
                && let Some(id) = decoded.strip_prefix("tok:").and_then(|r| r.split(':').next())
            {
                assert!(!output.contains(id), "a token's id ({}) was printed", Fingerprint::of(value));
            }
        }
    }

    /// Output made safe to show in an assertion message.
    fn redact(&self, output: &str) -> String {
        self.values.iter().fold(output.to_owned(), |text, v| text.replace(v.as_str(), "<SECRET>"))
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus.

fn git(dir: &Path, args: &[&str], date: &str) {
    let status = Command::new("git")
        .args(["-c", "user.name=Corpus", "-c", "user.email=corpus@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// What the corpus must produce: path, rule, line; and the fingerprint of the value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    path: String,
    rule: &'static str,
    line: usize,
    fingerprint: String,
}

struct Corpus {
    _dir: tempfile::TempDir,
    root: PathBuf,
    secrets: Secrets,
    /// Findings in the working tree.
    tree: Vec<Expected>,
    /// The finding only in the git history (a deleted file), and its commit.
    history: Expected,
    old_commit: String,
    /// A token suppressed by `switchboard:allow`.
    allowed: usize,
}

fn line_of(content: &str, needle: &str) -> usize {
    let at = content.find(needle).unwrap_or_else(|| panic!("needle not in content"));
    content[..at].matches('\n').count() + 1
}

fn write(root: &Path, path: &str, content: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, content).unwrap();
}

fn expect(list: &mut Vec<Expected>, path: &str, rule: RuleId, content: &str, value: &str, needle: &str) {
    list.push(Expected {
        path: path.to_owned(),
        rule: rule.id(),
        line: line_of(content, needle),
        fingerprint: Fingerprint::of(value).to_string(),
    });
}

fn build_corpus() -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let mut values = Vec::new();
    let mut tree = Vec::new();
    git(&root, &["init", "-q", "-b", "main"], "2024-01-01T00:00:00Z");

    // An old commit holding a token, deleted a year later: only --history finds it.
    let old_token = token("old-commit");
    values.push(old_token.clone());
    let old = format!("Intercom.configure do |config|\n  config.token = \"{old_token}\"\nend\n");
    write(&root, "legacy/intercom.rb", &old);
    git(&root, &["add", "."], "2024-01-01T00:00:00Z");
    git(&root, &["commit", "-q", "-m", "legacy client"], "2024-01-01T00:00:00Z");
    let old_commit = String::from_utf8(
        Command::new("git").args(["rev-parse", "HEAD"]).current_dir(&root).output().unwrap().stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    // The same token edited into a later version of the file: still one finding, at the oldest commit.
    write(&root, "legacy/intercom.rb", &format!("# v2\n{old}"));
    git(&root, &["commit", "-q", "-am", "legacy client v2"], "2024-02-01T00:00:00Z");
    git(&root, &["rm", "-q", "-r", "legacy"], "2025-01-01T00:00:00Z");
    git(&root, &["commit", "-q", "-m", "remove the legacy client"], "2025-01-01T00:00:00Z");
    let history = Expected {
        path: "legacy/intercom.rb".to_owned(),
        rule: RuleId::AccessToken.id(),
        line: 2,
        fingerprint: Fingerprint::of(&old_token).to_string(),
    };

    // --- True positives -------------------------------------------------------------------------

    // Code.
    let t = token("python");
    let content = format!("import intercom\n\nclient = intercom.Client(token=\"{t}\")\n");
    write(&root, "app/client.py", &content);
    expect(&mut tree, "app/client.py", RuleId::AccessToken, &content, &t, &t);
    values.push(t);

    // Config (TOML), with the token under [intercom].
    let t = token("toml");
    let content = format!("[server]\nlisten = \"0.0.0.0:8080\"\n\n[intercom]\naccess_token = \"{t}\"\n");
    write(&root, "config/app.toml", &content);
    expect(&mut tree, "config/app.toml", RuleId::AccessToken, &content, &t, &t);
    values.push(t);

    // YAML: a token and a client secret in an intercom block; the secret's sibling block has one too
    // (not near intercom, so not reported: another service's secret is not ours to judge).
    let t = token("yaml");
    let s = client_secret("yaml-secret");
    let other = client_secret("other-service");
    let content = format!(
        "service: web\nintercom:\n  region: eu\n  token: {t}\n  client_secret: \"{s}\"\nstripe:\n  secret: {other}\n"
    );
    write(&root, "deploy/values.yaml", &content);
    expect(&mut tree, "deploy/values.yaml", RuleId::AccessToken, &content, &t, &t);
    expect(&mut tree, "deploy/values.yaml", RuleId::ClientSecret, &content, &s, &s);
    values.extend([t, s, other]);

    // A Jupyter notebook: the token inside a JSON-encoded source line, next to a base64 PNG output.
    let t = token("notebook");
    let png =
        STANDARD.encode((0..6000u32).flat_map(|i| Sha256::digest(i.to_le_bytes())).collect::<Vec<u8>>());
    let content = format!(
        r#"{{
 "cells": [
  {{
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {{}},
   "outputs": [
    {{ "data": {{ "image/png": "{png}" }}, "metadata": {{}}, "output_type": "display_data" }}
   ],
   "source": [
    "import os\n",
    "from intercom.client import Client\n",
    "intercom = Client(token=\"{t}\")\n"
   ]
  }}
 ],
 "metadata": {{ "kernelspec": {{ "name": "python3" }} }},
 "nbformat": 4,
 "nbformat_minor": 5
}}
"#
    );
    write(&root, "notebooks/explore.ipynb", &content);
    expect(&mut tree, "notebooks/explore.ipynb", RuleId::AccessToken, &content, &t, &t);
    values.push(t);

    // A minified bundle: one long line, the token deep inside.
    let t = token("minified");
    let filler: String = (0..3000).map(|i| format!("function a{i}(b){{return b*{i}+c[{i}]}};")).collect();
    let content = format!(
        "!function(){{var c=[];{filler}var e={{intercom:{{appId:\"abc12345\",token:\"{t}\"}}}};\
         fetch(\"https://api.intercom.io/me\",{{headers:{{Authorization:\"Bearer \"+e.intercom.token}}}})}}();\n"
    );
    write(&root, "web/dist/app.min.js", &content);
    expect(&mut tree, "web/dist/app.min.js", RuleId::AccessToken, &content, &t, &t);
    values.push(t);

    // A dotenv file (hidden): a client secret.
    let s = client_secret("dotenv");
    let content = format!("# Intercom app\nINTERCOM_APP_ID=abc12345\nINTERCOM_CLIENT_SECRET={s}\n");
    write(&root, ".env", &content);
    expect(&mut tree, ".env", RuleId::ClientSecret, &content, &s, &s);
    values.push(s);

    // A shell script sending an opaque bearer token to Intercom.
    let b = opaque("curl");
    let content = format!(
        "#!/bin/sh\ncurl -s https://api.intercom.io/contacts \\\n  -H \"Authorization: Bearer {b}\" \\\n  -H 'Accept: application/json'\n"
    );
    write(&root, "scripts/contacts.sh", &content);
    expect(&mut tree, "scripts/contacts.sh", RuleId::BearerToken, &content, &b, &b);
    values.push(b);

    // JSON settings: a client secret under "intercom".
    let s = client_secret("json-settings");
    let content = format!(
        "{{\n  \"intercom\": {{\n    \"appId\": \"abc12345\",\n    \"clientSecret\": \"{s}\"\n  }}\n}}\n"
    );
    write(&root, "config/settings.json", &content);
    expect(&mut tree, "config/settings.json", RuleId::ClientSecret, &content, &s, &s);
    values.push(s);

    // Split tokens: Python implicit concatenation, shell line continuation, JS `+`.
    let t = token("split-python");
    let (a, b) = t.split_at(30);
    let content = format!("TOKEN = (\n    \"{a}\"\n    \"{b}\"\n)\n");
    write(&root, "app/split.py", &content);
    expect(&mut tree, "app/split.py", RuleId::AccessToken, &content, &t, a);
    values.push(t.clone());
    let t = token("split-shell");
    let (a, b) = t.split_at(21);
    let content = format!("export INTERCOM_ACCESS_TOKEN=\"{a}\\\n{b}\"\n");
    write(&root, "scripts/env.sh", &content);
    expect(&mut tree, "scripts/env.sh", RuleId::AccessToken, &content, &t, a);
    values.push(t.clone());
    let t = token("split-js");
    let (a, b) = t.split_at(17);
    let content = format!("const token = '{a}' +\n  '{b}';\n");
    write(&root, "web/src/split.js", &content);
    expect(&mut tree, "web/src/split.js", RuleId::AccessToken, &content, &t, a);
    values.push(t);

    // A JSON log line with the token in an escaped header value, and a URL with URL-encoded padding.
    let t = token("json-log");
    let content = format!(
        "{{\"level\":\"debug\",\"msg\":\"request\",\"headers\":{{\"authorization\":\"Bearer {t}\"}}}}\n"
    );
    write(&root, "storage/debug.log", &content);
    expect(&mut tree, "storage/debug.log", RuleId::AccessToken, &content, &t, &t);
    values.push(t);
    let t = token("url-encoded");
    let url = format!("{}%3D", t.trim_end_matches('='));
    let content = format!("GET /callback?code=1&access_token={url} 200\n");
    write(&root, "logs/access.log", &content);
    expect(&mut tree, "logs/access.log", RuleId::AccessToken, &content, &t, &url);
    values.push(t);

    // A Kubernetes Secret: the token base64-encoded once more.
    let t = token("kubernetes");
    let twice = STANDARD.encode(&t);
    let content = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\ntype: Opaque\ndata:\n  access-token: {twice}\n"
    );
    write(&root, "k8s/secret.yaml", &content);
    expect(&mut tree, "k8s/secret.yaml", RuleId::AccessToken, &content, &t, &twice);
    values.push(t);

    // --- True negatives -------------------------------------------------------------------------

    // UUIDs, including Intercom ids near an intercom mention.
    let uuids: Vec<String> = (0..20)
        .map(|i| {
            let h = digest_hex(&format!("uuid-{i}"));
            format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
        })
        .collect();
    write(
        &root,
        "data/ids.txt",
        &format!(
            "intercom_workspace_id = \"{}\"\nrequest_id: {}\n{}\n",
            uuids[0],
            uuids[1],
            uuids.join("\n")
        ),
    );

    // Hashes: sha1 and sha256 hex, commit ids, checksums beside the word intercom.
    let sha1s: Vec<String> = (0..10).map(|i| digest_hex(&format!("sha1-{i}"))[..40].to_owned()).collect();
    let sha256s: Vec<String> = (0..10).map(|i| digest_hex(&format!("sha256-{i}"))).collect();
    write(
        &root,
        "data/hashes.txt",
        &format!(
            "intercom payload checksums\ncommit {}\nsha256: {}\n{}\n{}\n",
            sha1s[0],
            sha256s[0],
            sha1s.join("\n"),
            sha256s.join("\n")
        ),
    );

    // A base64 image with `dG9r` inside it by chance, in CSS and in HTML (wrapped at 76 columns).
    let image = STANDARD
        .encode((0..2000u32).flat_map(|i| Sha256::digest((i * 7).to_le_bytes())).collect::<Vec<u8>>());
    let image = format!("{}dG9r{}", &image[..1000], &image[1000..]);
    write(&root, "web/logo.css", &format!(".logo {{ background: url(data:image/png;base64,{image}); }}\n"));
    let wrapped: Vec<&str> = image.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    write(&root, "web/mail.eml", &format!("Content-Transfer-Encoding: base64\n\n{}\n", wrapped.join("\n")));

    // Lock files: hashes and integrity strings beside package names containing "intercom".
    write(
        &root,
        "Cargo.lock",
        &format!(
            "version = 4\n\n[[package]]\nname = \"intercom-api\"\nversion = \"0.3.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n",
            sha256s[1]
        ),
    );
    let integrity = STANDARD.encode((0..64u8).map(|i| i.wrapping_mul(37)).collect::<Vec<u8>>());
    write(
        &root,
        "package-lock.json",
        &format!(
            "{{\n  \"packages\": {{\n    \"node_modules/intercom-client\": {{\n      \"version\": \"6.0.0\",\n      \"resolved\": \"https://registry.npmjs.org/intercom-client/-/intercom-client-6.0.0.tgz\",\n      \"integrity\": \"sha512-{integrity}\"\n    }}\n  }}\n}}\n"
        ),
    );

    // JWTs unrelated to Intercom.
    let jwt = |seed: &str| {
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            url.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            url.encode(format!(r#"{{"sub":"{seed}","iat":1700000000}}"#)),
            url.encode(Sha256::digest(seed.as_bytes()))
        )
    };
    write(
        &root,
        "auth/session.http",
        &format!("GET /api/me\nAuthorization: Bearer {}\n\nid_token = \"{}\"\n", jwt("alice"), jwt("bob")),
    );

    // Base64 that starts `dG9r` but is no token: "tokenizer…", `tok` + binary, short test tokens,
    // an all-zero placeholder.
    let mut binary_tok = b"tok\x99".to_vec();
    binary_tok.extend(Sha256::digest(b"binary"));
    binary_tok.extend(Sha256::digest(b"binary2"));
    write(
        &root,
        "data/random.txt",
        &format!(
            "a = \"{}\"\nb = \"{}\"\nc = \"{}\"\nd = \"{}\"\ne = \"{}\"\n",
            STANDARD.encode("tokenizer_config_v2_9f8e7d6c5b4a3f2e1d0c"),
            STANDARD.encode(&binary_tok),
            STANDARD.encode("tok:fake_token_for_tests:1:0"),
            STANDARD.encode("tok:00000000_0000_0000_0000_000000000000:1:0"),
            STANDARD.encode("tok:abcdef_1234:1:0"),
        ),
    );

    // References and placeholders where a secret would go.
    write(
        &root,
        "switchboard.toml",
        "[intercom]\ntoken = \"file:/run/secrets/intercom_token\"\n[webhooks]\nclient_secrets = [\"env:INTERCOM_CLIENT_SECRET\"]\n",
    );
    write(
        &root,
        ".env.example",
        "INTERCOM_TOKEN=your-intercom-access-token\nINTERCOM_CLIENT_SECRET=${INTERCOM_CLIENT_SECRET}\n",
    );
    write(
        &root,
        "README.md",
        "Call Intercom:\n\n    curl https://api.intercom.io/me -H \"Authorization: Bearer $INTERCOM_TOKEN\"\n\n\
         Set `intercom.token` to a `file:` reference.\n",
    );
    write(
        &root,
        "web/src/intercom.ts",
        "export const intercom = new IntercomClient({ token: process.env.INTERCOM_TOKEN_V2 });\n",
    );

    // --- Present but suppressed or skipped -----------------------------------------------------

    // Allowed inline, on the line before.
    let t = token("allowed");
    write(&root, "app/fixtures.py", &format!("# switchboard:allow (revoked sample)\nSAMPLE = \"{t}\"\n"));
    values.push(t);
    // Ignored by .gitignore (the repository's own rules), scanned with --no-ignore.
    let t = token("ignored");
    write(&root, ".gitignore", "/secrets.local\n");
    write(&root, "secrets.local", &format!("token={t}\n"));
    values.push(t);
    // A binary file: skipped and counted, like grep and git do.
    let t = token("binary");
    let mut binary = b"\x00\x01\x02ELF".to_vec();
    binary.extend(t.as_bytes());
    std::fs::write(root.join("bin.dat"), binary).unwrap();
    values.push(t);

    git(&root, &["add", "."], "2025-06-01T00:00:00Z");
    git(&root, &["commit", "-q", "-m", "the app"], "2025-06-01T00:00:00Z");

    tree.sort();
    Corpus { _dir: dir, root, secrets: Secrets { values }, tree, history, old_commit, allowed: 1 }
}

fn actual(root: &Path, findings: &[Finding]) -> Vec<Expected> {
    let prefix = format!("{}/", root.display());
    let mut list: Vec<Expected> = findings
        .iter()
        .map(|f| Expected {
            path: f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_owned(),
            rule: f.rule.id(),
            line: f.line,
            fingerprint: f.fingerprint.clone(),
        })
        .collect();
    list.sort();
    list
}

fn show(list: &[Expected]) -> String {
    list.iter().map(|e| format!("  {}:{} {} {}\n", e.path, e.line, e.rule, e.fingerprint)).collect()
}

// ---------------------------------------------------------------------------------------------
// The corpus through the library.

#[test]
fn the_corpus_has_no_miss_and_no_false_positive() {
    let corpus = build_corpus();
    let report = scan::scan(std::slice::from_ref(&corpus.root), &ScanOptions::default()).unwrap();
    let found = actual(&corpus.root, &report.findings);
    let missed: Vec<Expected> = corpus.tree.iter().filter(|e| !found.contains(e)).cloned().collect();
    let extra: Vec<Expected> = found.iter().filter(|e| !corpus.tree.contains(e)).cloned().collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed:\n{}false positives:\n{}",
        show(&missed),
        show(&extra)
    );
    assert_eq!(report.suppressed_inline, corpus.allowed as u64);
    assert_eq!(report.stats.skipped_binary, 1, "bin.dat is skipped as binary and counted");
    assert!(report.findings.iter().all(|f| f.commit.is_none()));
    let debug = format!("{report:?}");
    corpus.secrets.check(&debug);
}

#[test]
fn history_finds_a_token_deleted_long_ago_once_at_its_oldest_commit() {
    let corpus = build_corpus();
    let options = ScanOptions { history: true, ..ScanOptions::default() };
    let report = scan::scan(std::slice::from_ref(&corpus.root), &options).unwrap();
    let found = actual(&corpus.root, &report.findings);
    let mut expected = corpus.tree.clone();
    expected.push(corpus.history.clone());
    expected.sort();
    assert_eq!(found, expected, "found:\n{}expected:\n{}", show(&found), show(&expected));
    let old: Vec<&Finding> = report.findings.iter().filter(|f| f.commit.is_some()).collect();
    assert_eq!(old.len(), 1, "findings still in the tree are reported there only");
    assert_eq!(old[0].commit.as_deref(), Some(corpus.old_commit.as_str()));
    let history = report.stats.history.unwrap();
    assert_eq!(history.commits, 4);
    assert!(history.blobs >= 30, "{history:?}");
}

#[test]
fn gitignored_files_are_scanned_with_no_ignore() {
    let corpus = build_corpus();
    let options = ScanOptions { respect_gitignore: false, ..ScanOptions::default() };
    let report = scan::scan(std::slice::from_ref(&corpus.root), &options).unwrap();
    let found = actual(&corpus.root, &report.findings);
    let extra: Vec<&Expected> = found.iter().filter(|e| !corpus.tree.contains(e)).collect();
    assert_eq!(extra.len(), 1, "{extra:?}");
    assert_eq!(extra[0].path, "secrets.local");
}

// ---------------------------------------------------------------------------------------------
// The binary.

fn switchboard(dir: &Path, args: &[&str]) -> Ran {
    cli(args).dir(dir).env("NO_COLOR", "1").run()
}

/// Runs the binary and checks that nothing it printed holds a secret.
fn run(corpus: &Corpus, args: &[&str]) -> (i32, String, String) {
    let out = switchboard(&corpus.root, args);
    corpus.secrets.check(&out.stdout);
    corpus.secrets.check(&out.stderr);
    (out.code.unwrap_or(-1), out.stdout, out.stderr)
}

#[test]
fn text_output_lists_findings_redacted_and_exits_1() {
    let corpus = build_corpus();
    let (code, stdout, stderr) = run(&corpus, &["scan"]);
    assert_eq!(code, 1, "{}{}", corpus.secrets.redact(&stdout), corpus.secrets.redact(&stderr));
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("  intercom-")).collect();
    assert_eq!(lines.len(), corpus.tree.len(), "{stdout}");
    let first = &corpus.tree[0];
    let line = lines.iter().find(|l| l.starts_with(&format!("{}:{}:", first.path, first.line))).unwrap();
    assert!(line.contains(&first.fingerprint) && line.contains(first.rule), "{line}");
    assert!(!stdout.contains("\x1b["), "no colour when not on a terminal");
    // The summary says what was skipped and suppressed.
    assert!(stdout.contains(&format!("{} findings", corpus.tree.len())), "{stdout}");
    assert!(stdout.contains("skipped 1 binary file"), "{stdout}");
    assert!(stdout.contains("suppressed 1 by switchboard:allow"), "{stdout}");
}

#[test]
fn json_output_has_the_documented_shape() {
    let corpus = build_corpus();
    let (code, stdout, stderr) = run(&corpus, &["scan", "--format", "json", "--history"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("switchboard scan:"), "the summary goes to stderr: {stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["version"], 1);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), corpus.tree.len() + 1);
    for finding in findings {
        let keys: BTreeSet<&str> = finding.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "rule",
                "path",
                "line",
                "column",
                "commit",
                "redacted",
                "fingerprint",
                "message"
            ])
        );
        assert!(RuleId::from_id(finding["rule"].as_str().unwrap()).is_some());
        assert!(finding["line"].as_u64().unwrap() >= 1 && finding["column"].as_u64().unwrap() >= 1);
        let redacted = finding["redacted"].as_str().unwrap();
        assert_eq!(redacted.chars().count(), 5, "four characters and an ellipsis: {redacted}");
        let fingerprint = finding["fingerprint"].as_str().unwrap();
        assert!(fingerprint.starts_with("sha256:") && fingerprint.len() == 15, "{fingerprint}");
    }
    let old = findings.iter().find(|f| !f["commit"].is_null()).unwrap();
    assert_eq!(old["commit"], corpus.old_commit.as_str());
    assert_eq!(old["path"], "legacy/intercom.rb");
    assert_eq!(doc["suppressed"]["inline"], 1);
    assert_eq!(doc["suppressed"]["baseline"], 0);
    let stats = &doc["stats"];
    for key in ["files", "bytes", "skipped_binary", "skipped_large", "unreadable"] {
        assert!(stats[key].is_u64(), "stats.{key}");
    }
    assert_eq!(stats["history"]["commits"], 4);
    // Relative paths: the binary ran in the corpus root.
    assert!(findings.iter().all(|f| !f["path"].as_str().unwrap().starts_with('/')));
}

#[test]
fn sarif_output_is_sarif_2_1_0_for_code_scanning() {
    let corpus = build_corpus();
    let (code, stdout, _) = run(&corpus, &["scan", "--format", "sarif"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "switchboard");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["intercom-access-token", "intercom-client-secret", "intercom-bearer-token"]);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), corpus.tree.len());
    for result in results {
        let rule = result["ruleId"].as_str().unwrap();
        assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize], rule);
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(corpus.tree.iter().any(|e| e.path == uri), "{uri}");
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(location["region"]["startColumn"].as_u64().unwrap() >= 1);
        assert!(result["partialFingerprints"].as_object().unwrap().values().all(Value::is_string));
    }
}

#[test]
fn a_baseline_suppresses_known_findings_and_only_those() {
    let corpus = build_corpus();
    let baseline = corpus.root.join("scan-baseline.json");
    let (code, _, stderr) = run(&corpus, &["scan", "--write-baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 0, "writing a baseline accepts the findings: {stderr}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    assert_eq!(written["findings"].as_array().unwrap().len(), corpus.tree.len());
    corpus.secrets.check(&written.to_string());

    let (code, stdout, _) = run(&corpus, &["scan", "--baseline", "scan-baseline.json"]);
    assert_eq!(code, 0, "{}", corpus.secrets.redact(&stdout));
    assert!(stdout.contains("suppressed 1 by switchboard:allow"), "{stdout}");
    assert!(stdout.contains(&format!("{} by the baseline", corpus.tree.len())), "{stdout}");

    // A new token is not in the baseline.
    let fresh = token("fresh");
    write(&corpus.root, "app/new.py", &format!("T = '{fresh}'\n"));
    let out = switchboard(&corpus.root, &["scan", "--baseline", "scan-baseline.json", "--format", "json"]);
    assert_eq!(out.code, Some(1));
    assert!(!out.stdout.contains(&fresh));
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["path"], "app/new.py");

    // A JSON report is a baseline too.
    std::fs::write(corpus.root.join("report.json"), &out.stdout).unwrap();
    let (code, _, _) = run(&corpus, &["scan", "app/new.py", "--baseline", "report.json"]);
    assert_eq!(code, 0);
    let mut merged: Value = serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    merged["findings"].as_array_mut().unwrap().extend(findings.iter().cloned());
    std::fs::write(&baseline, merged.to_string()).unwrap();
    let (code, _, _) = run(&corpus, &["scan", "--baseline", "scan-baseline.json"]);
    assert_eq!(code, 0);
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let corpus = build_corpus();
    let (code, _, stderr) = run(&corpus, &["scan", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot scan no/such/dir") && stderr.contains("existing file or directory"),
        "{stderr}"
    );

    let (code, _, stderr) = run(&corpus, &["scan", "--baseline", "missing.json"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read the baseline missing.json") && stderr.contains("--write-baseline"),
        "{stderr}"
    );

    // A malformed baseline holding a pasted token: the message points at it without quoting it.
    let pasted = token("pasted");
    write(&corpus.root, "bad.json", &format!("{{\"findings\": [{{\"fingerprint\": \"{pasted}\"}}]}}"));
    let out = switchboard(&corpus.root, &["scan", "--baseline", "bad.json"]);
    assert_eq!(out.code, Some(2));
    let stderr = out.stderr;
    assert!(!stderr.contains(&pasted), "the baseline's content was echoed");
    assert!(stderr.contains("findings[0].fingerprint"), "{stderr}");
    write(&corpus.root, "bad.json", "{\"findings\": [oops]}");
    let (code, _, stderr) = run(&corpus, &["scan", "--baseline", "bad.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not valid JSON at line 1"), "{stderr}");

    let (code, _, stderr) = run(&corpus, &["scan", "--format", "xml"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(&corpus, &["scan", "--max-file-size", "lots"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a size"), "{stderr}");

    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("a.txt"), "nothing here\n").unwrap();
    let out = switchboard(outside.path(), &["scan", "--history"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--history needs a git repository"), "{}", out.stderr);
}

#[test]
fn large_files_are_skipped_and_named_never_silently() {
    let corpus = build_corpus();
    let (code, stdout, _) = run(&corpus, &["scan", "web/dist", "--max-file-size", "1K"]);
    assert_eq!(code, 0, "the only file there is too large to scan");
    assert!(stdout.contains("skipped 1 file larger than 1 KiB (web/dist/app.min.js)"), "{stdout}");
    assert!(stdout.contains("--max-file-size"), "{stdout}");
}

#[test]
fn a_clean_tree_exits_0() {
    let corpus = build_corpus();
    let (code, stdout, _) =
        run(&corpus, &["scan", "data", "auth", "web/logo.css", "README.md", "switchboard.toml"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 findings"), "{stdout}");
}

/// The repository itself scans clean, so a token committed to it fails CI.
#[test]
fn the_repository_scans_clean() {
    let root = repo_root().canonicalize().unwrap();
    let out = switchboard(&root, &["scan"]);
    assert_eq!(
        out.code,
        Some(0),
        "the repository holds credentials (revoke them, then remove them or mark a false positive with \
         switchboard:allow):\n{}{}",
        out.stdout,
        out.stderr
    );
}
