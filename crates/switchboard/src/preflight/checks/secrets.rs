//! `env-separation`, `secret-storage` and `hardcoded-tokens`: where secrets live and whether they
//! leak. Secrets are compared and shown by fingerprint only.

use std::path::{Path, PathBuf};

use super::Check;
use crate::config::Environment;
use crate::preflight::context::{Context, load_lenient};
use crate::preflight::{CheckId, CheckResult};
use crate::scan::{self, ScanOptions};
use crate::secrets::{Fingerprint, SecretKind};

/// Findings listed one by one before the rest are counted.
const MAX_LISTED: usize = 20;

struct EnvSecrets {
    name: String,
    token: Option<Fingerprint>,
    client_secrets: Vec<Fingerprint>,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `env-separation`: no two listed environments share a token or a client secret.
pub(super) async fn env_separation(ctx: &Context) -> CheckResult {
    if ctx.environments.len() < 2 {
        let listed = ctx.environments.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        return CheckResult::skipped(
            CheckId::EnvSeparation,
            format!(
                "fewer than two environments in [preflight.environments] (listed: {}): nothing to compare",
                if listed.is_empty() { "none" } else { &listed }
            ),
        );
    }
    let mut check = Check::new(CheckId::EnvSeparation);
    let mut envs = Vec::new();
    for (name, path) in &ctx.environments {
        let checked = ctx.config.source_file.as_deref().is_some_and(|file| same_file(file, path));
        let secrets = if checked {
            Ok(ctx.secrets.clone())
        } else {
            match load_lenient(Some(path), &ctx.env_vars) {
                Ok(loaded) => loaded.config.load_secrets().await,
                Err(e) => Err(e),
            }
        };
        match secrets {
            Ok(secrets) => {
                let mut client_secrets: Vec<Fingerprint> =
                    secrets.client_secrets.iter().map(|s| s.fingerprint()).collect();
                client_secrets
                    .extend(secrets.app_secrets.iter().flat_map(|(_, s)| s.iter().map(|s| s.fingerprint())));
                envs.push(EnvSecrets {
                    name: name.clone(),
                    token: secrets.intercom_token.as_ref().map(|t| t.fingerprint()),
                    client_secrets,
                });
            }
            // Other environments' secrets are often not readable from one CI job: that leaves the
            // comparison incomplete (WARN), it does not show a shared secret.
            Err(e) => check.warn(
                format!("{name} ({})", path.display()),
                format!("cannot be compared: {}", e.to_string().replace('\n', " ")),
                "its config loads and its secrets resolve",
            ),
        }
    }
    let mut shared = false;
    for (i, a) in envs.iter().enumerate() {
        for b in &envs[i + 1..] {
            if let (Some(ta), Some(tb)) = (&a.token, &b.token)
                && ta == tb
            {
                shared = true;
                check.fail(
                    "intercom.token",
                    format!("{} and {} use the same token ({ta})", a.name, b.name),
                    "a separate token (and workspace) per environment",
                );
            }
            for secret in a.client_secrets.iter().filter(|s| b.client_secrets.contains(s)) {
                shared = true;
                check.fail(
                    "webhooks.client_secrets",
                    format!("{} and {} share a client secret ({secret})", a.name, b.name),
                    "a separate Intercom app, so a separate client secret, per environment",
                );
            }
        }
    }
    for env in &envs {
        let token = env.token.as_ref().map(Fingerprint::to_string).unwrap_or_else(|| "none".into());
        let secrets = env.client_secrets.iter().map(Fingerprint::to_string).collect::<Vec<_>>().join(", ");
        check.pass(
            env.name.clone(),
            format!("token {token}; client secrets [{secrets}]"),
            "different from every other environment's",
        );
    }
    if !shared && envs.len() >= 2 {
        let names = envs.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ");
        check.message(format!("{names}: no token or client secret is shared (compared by fingerprint)"));
    }
    check.finish()
}

/// `.env`, `.env.production`, but not the templates committed on purpose.
fn is_env_file(name: &str) -> bool {
    let template = [".example", ".sample", ".template", ".dist"].iter().any(|suffix| name.ends_with(suffix));
    (name == ".env" || name.starts_with(".env.")) && !template
}

fn env_files_in(dir: &Path, walk: bool) -> Vec<PathBuf> {
    let mut walker = ignore::WalkBuilder::new(dir);
    if walk {
        // Walked like `scan` walks: .gitignore'd files are not part of the tree that ships.
        walker.hidden(false).filter_entry(|e| e.file_name() != ".git");
    } else {
        // Next to the config every file counts, ignored or not: it sits where the service runs.
        walker.standard_filters(false).max_depth(Some(1));
    }
    let mut found: Vec<PathBuf> = walker
        .build()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter(|e| is_env_file(&e.file_name().to_string_lossy()))
        .map(|e| e.into_path())
        .collect();
    found.sort();
    found
}

/// `secret-storage`: in production every secret is a `file:` or `exec:` reference, and no `.env`
/// file sits next to the config or in `--source`.
pub(super) async fn secret_storage(ctx: &Context) -> CheckResult {
    let production = ctx.config.environment == Environment::Production;
    let mut check = Check::new(CheckId::SecretStorage);
    let expected = "a file: or exec: reference (a secret manager) in production";
    let refs = ctx.config.secret_refs();
    check.pass_message(format!(
        "{} secret(s), each a {} reference; no .env file next to the config{}",
        refs.len(),
        if production { "file: or exec:" } else { "valid" },
        if ctx.source.is_some() { " or in --source" } else { "" }
    ));
    if refs.is_empty() {
        check.skip("secrets", "none configured", expected);
    }
    for (slot, reference) in refs {
        let key = slot.to_string();
        match reference.kind() {
            SecretKind::File | SecretKind::Exec | SecretKind::Generated => {
                check.pass(key, reference.to_string(), expected);
            }
            SecretKind::Env if !production => {
                check.pass(key, format!("{reference} (allowed outside production)"), expected);
            }
            SecretKind::Env => {
                let accepted = if ctx.config.allow_env_secrets {
                    " (allow_env_secrets = true accepts it, the checklist does not)"
                } else {
                    " (config validation refuses it too: serve would exit 2)"
                };
                check.fail(
                    key,
                    format!(
                        "{reference} reads the secret from an environment variable in production{accepted}; \
                         store it in a secret manager and write file:/run/secrets/<name> or exec:<command>"
                    ),
                    expected,
                );
            }
        }
    }
    let report_env_files = |check: &mut Check, item: &str, found: Vec<PathBuf>| {
        let expected = "no .env file (secrets belong in a secret manager, not env files)";
        if found.is_empty() {
            check.pass(item, "no .env file", expected);
            return;
        }
        let list = found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let measured = format!("found {list}");
        if production { check.fail(item, measured, expected) } else { check.warn(item, measured, expected) }
    };
    match ctx.config.source_file.as_deref().and_then(Path::parent) {
        Some(dir) => {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            report_env_files(&mut check, "next to the config", env_files_in(dir, false));
        }
        None => check.skip("next to the config", "no config file was read", "no .env file"),
    }
    match &ctx.source {
        Some(source) => {
            let dir = source.clone();
            let found =
                tokio::task::spawn_blocking(move || env_files_in(&dir, true)).await.unwrap_or_default();
            report_env_files(&mut check, "--source", found);
        }
        None => check.skip("--source", "not given", "no .env file in the source tree"),
    }
    check.finish()
}

/// `hardcoded-tokens`: the `scan` engine over `--source` finds nothing.
pub(super) async fn hardcoded_tokens(ctx: &Context) -> CheckResult {
    let Some(source) = ctx.source.clone() else {
        return CheckResult::skipped(
            CheckId::HardcodedTokens,
            "no --source given: pass --source DIR to scan the source tree for Intercom tokens",
        );
    };
    let mut check = Check::new(CheckId::HardcodedTokens);
    let expected = "no Intercom token or client secret in the source (switchboard scan)";
    let paths = vec![source.clone()];
    let scanned = tokio::task::spawn_blocking(move || scan::scan(&paths, &ScanOptions::default())).await;
    match scanned {
        Ok(Ok(report)) if report.findings.is_empty() => {
            check.pass(
                source.display().to_string(),
                format!("{} files ({} bytes) scanned: no findings", report.stats.files, report.stats.bytes),
                expected,
            );
        }
        Ok(Ok(report)) => {
            let total = report.findings.len();
            for finding in report.findings.iter().take(MAX_LISTED) {
                // The scanner's redacted form and fingerprint only: never the value.
                check.fail(
                    format!("{}:{}", finding.path, finding.line),
                    format!(
                        "{} ({}): {} {}",
                        finding.message, finding.rule, finding.redacted, finding.fingerprint
                    ),
                    "none; remove it, rotate it, and load it from a secret manager",
                );
            }
            if total > MAX_LISTED {
                check.fail("more", format!("{} more findings", total - MAX_LISTED), "none");
            }
            check.message(format!(
                "{total} credential(s) in {}: first at {}:{}; run `switchboard scan {}` for all",
                source.display(),
                report.findings[0].path,
                report.findings[0].line,
                source.display()
            ));
        }
        Ok(Err(e)) => {
            check.fail(source.display().to_string(), format!("the scan could not run: {e}"), expected)
        }
        Err(e) => check.fail(source.display().to_string(), format!("the scan stopped: {e}"), expected),
    }
    check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_next_to_the_config_count_even_if_ignored_and_a_walk_follows_gitignore() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        std::fs::write(root.join(".gitignore"), ".env\n").unwrap();
        for name in [".env", ".env.example", "deploy/.env.staging", "deploy/.env.dist", ".git/.env"] {
            std::fs::write(root.join(name), "INTERCOM_TOKEN=x\n").unwrap();
        }
        assert_eq!(env_files_in(root, false), [root.join(".env")]);
        assert_eq!(env_files_in(root, true), [root.join("deploy/.env.staging")]);
    }
}
