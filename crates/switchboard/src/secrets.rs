//! Secret references (`file:`, `exec:`, `env:`), their resolution, fingerprints and live refresh.
//!
//! Configuration never holds a secret value, only a reference to where it lives. Values are kept in
//! [`secrecy`] types and re-resolved periodically and on SIGHUP, so rotating a token in the secret
//! manager needs no restart. Whatever is shown to people (logs, errors, `config check`) is the
//! [`Fingerprint`], never the value.

use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

mod slot;

pub use slot::{PathStep, SecretSlot};

/// Default time an `exec:` secret command may run before it is killed.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a secret lives. Parsed from `file:PATH`, `exec:COMMAND` or `env:VAR`.
#[derive(Clone)]
pub enum SecretRef {
    /// A file whose content is the secret (Kubernetes/Docker secrets); a trailing newline is trimmed.
    File(PathBuf),
    /// A command whose standard output is the secret (any secret-manager CLI), run without a shell.
    Exec {
        /// The command line as configured.
        command: String,
        /// The command line split into program and arguments.
        argv: Vec<String>,
    },
    /// An environment variable; refused in production unless `allow_env_secrets = true`.
    Env(String),
    /// A value generated in-process (sandbox, tests); it cannot be written in a config file.
    Generated(SecretString),
}

/// The kind of a [`SecretRef`], for policy checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `file:`
    File,
    /// `exec:`
    Exec,
    /// `env:`
    Env,
    /// Generated in-process.
    Generated,
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKind::File => "file:",
            SecretKind::Exec => "exec:",
            SecretKind::Env => "env:",
            SecretKind::Generated => "generated",
        })
    }
}

/// Why a secret reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    /// The string has no known `kind:` prefix (it may be a pasted secret value).
    #[error(
        "is not a secret reference; write file:/path/to/secret, exec:<command> or env:VAR \
         (secret values never go in the config itself)"
    )]
    NotAReference,
    /// `file:` without a path.
    #[error("file: reference has no path; write file:/run/secrets/<name>")]
    EmptyPath,
    /// `exec:` without a command, or with unbalanced quotes.
    #[error(
        "exec: reference has no valid command line (empty, or unbalanced quotes); write exec:<program> <args>"
    )]
    BadCommand,
    /// `env:` without a valid variable name.
    #[error(
        "env: reference needs a variable name of letters, digits and underscores; write env:INTERCOM_TOKEN"
    )]
    BadEnvName,
}

impl SecretRef {
    /// Parses `file:PATH`, `exec:COMMAND` or `env:VAR`.
    pub fn parse(s: &str) -> Result<Self, SecretRefError> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("file:") {
            if path.trim().is_empty() {
                return Err(SecretRefError::EmptyPath);
            }
            Ok(SecretRef::File(PathBuf::from(path.trim())))
        } else if let Some(command) = s.strip_prefix("exec:") {
            let argv = shlex::split(command).ok_or(SecretRefError::BadCommand)?;
            if argv.is_empty() {
                return Err(SecretRefError::BadCommand);
            }
            Ok(SecretRef::Exec { command: command.trim().to_owned(), argv })
        } else if let Some(var) = s.strip_prefix("env:") {
            let valid = !var.is_empty()
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !var.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(SecretRefError::BadEnvName);
            }
            Ok(SecretRef::Env(var.to_owned()))
        } else {
            Err(SecretRefError::NotAReference)
        }
    }

    /// The reference's kind.
    pub fn kind(&self) -> SecretKind {
        match self {
            SecretRef::File(_) => SecretKind::File,
            SecretRef::Exec { .. } => SecretKind::Exec,
            SecretRef::Env(_) => SecretKind::Env,
            SecretRef::Generated(_) => SecretKind::Generated,
        }
    }

    /// Reads the secret value now.
    pub async fn resolve(&self, exec_timeout: Duration) -> Result<SecretString, SecretError> {
        let raw = match self {
            SecretRef::File(path) => tokio::fs::read_to_string(path).await.map_err(|e| {
                let hint = match e.kind() {
                    std::io::ErrorKind::NotFound => "create it or fix the path",
                    std::io::ErrorKind::PermissionDenied => "grant this process read access",
                    _ => "check that it is a readable UTF-8 text file",
                };
                SecretError::new(self, format!("cannot read {}: {e}; {hint}", path.display()))
            })?,
            SecretRef::Exec { argv, .. } => run_exec(self, argv, exec_timeout).await?,
            SecretRef::Env(var) => std::env::var(var).map_err(|e| {
                let problem = match e {
                    std::env::VarError::NotPresent => "is not set",
                    std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
                };
                SecretError::new(self, format!("environment variable {var} {problem}"))
            })?,
            SecretRef::Generated(value) => return Ok(value.clone()),
        };
        let value = raw.trim_end_matches(['\n', '\r']);
        if value.trim().is_empty() {
            return Err(SecretError::new(self, "is empty; write the secret value there".to_owned()));
        }
        Ok(SecretString::from(value))
    }
}

impl PartialEq for SecretRef {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SecretRef::File(a), SecretRef::File(b)) => a == b,
            (SecretRef::Exec { argv: a, .. }, SecretRef::Exec { argv: b, .. }) => a == b,
            (SecretRef::Env(a), SecretRef::Env(b)) => a == b,
            (SecretRef::Generated(a), SecretRef::Generated(b)) => a.expose_secret() == b.expose_secret(),
            _ => false,
        }
    }
}

impl Eq for SecretRef {}

impl fmt::Display for SecretRef {
    /// Shows where the secret lives, never its value. An `exec:` command shows only its program,
    /// since arguments sometimes carry credentials of their own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Exec { argv, .. } => {
                let program = argv.first().map(String::as_str).unwrap_or("");
                if argv.len() > 1 { write!(f, "exec:{program} …") } else { write!(f, "exec:{program}") }
            }
            SecretRef::Env(var) => write!(f, "env:{var}"),
            SecretRef::Generated(_) => f.write_str("generated"),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

async fn run_exec(reference: &SecretRef, argv: &[String], timeout: Duration) -> Result<String, SecretError> {
    let program = &argv[0];
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // stderr is dropped rather than relayed: secret-manager CLIs sometimes echo values there.
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // Its own process group, so that a timeout can stop whatever it started too (a shell's children,
    // a CLI's helpers), not only the command itself.
    #[cfg(unix)]
    command.process_group(0);
    let child = command.spawn().map_err(|e| {
        SecretError::new(reference, format!("cannot start `{program}`: {e}; install it or fix the command"))
    })?;
    let mut running = Running::new(child);
    let mut stdout =
        running.child.stdout.take().ok_or_else(|| {
            SecretError::new(reference, format!("`{program}` has no standard output to read"))
        })?;
    let work = async {
        let mut out = Vec::new();
        // One byte more than allowed tells "exactly the cap" from "too much" without reading on.
        (&mut stdout).take(MAX_EXEC_OUTPUT as u64 + 1).read_to_end(&mut out).await?;
        if out.len() > MAX_EXEC_OUTPUT {
            return Ok(None);
        }
        let status = running.child.wait().await?;
        Ok::<_, std::io::Error>(Some((status, out)))
    };
    // Whatever ends early (the timeout, too much output, an error, or this future being dropped)
    // leaves `running` armed, and its drop kills the whole group.
    let (status, out) = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(Some(done))) => done,
        Ok(Ok(None)) => {
            return Err(SecretError::new(
                reference,
                format!(
                    "`{program}` printed more than 64 KiB, which is not a secret; it was stopped and its output \
                     is not shown. Make the command print only the secret value"
                ),
            ));
        }
        Ok(Err(e)) => {
            return Err(SecretError::new(
                reference,
                format!("reading the output of `{program}` failed: {e}"),
            ));
        }
        Err(_) => {
            return Err(SecretError::new(
                reference,
                format!(
                    "`{program}` did not finish within {}; it was killed with the processes it started. Check \
                     that it does not wait for input (a login prompt) and that the secret manager is reachable",
                    humantime::format_duration(timeout)
                ),
            ));
        }
    };
    // The command exited and was reaped: its group id may now be reused, so it must not be signalled.
    running.disarm();
    if !status.success() {
        return Err(SecretError::new(
            reference,
            format!(
                "`{program}` failed ({status}); its output is not shown because it may hold the secret. \
                 Run the command by hand to see why"
            ),
        ));
    }
    String::from_utf8(out).map_err(|_| {
        SecretError::new(reference, format!("`{program}` printed something that is not UTF-8 text"))
    })
}

/// The most an `exec:` command may print: far more than any secret, little enough to hold in memory.
const MAX_EXEC_OUTPUT: usize = 64 * 1024;

/// An `exec:` command running in its own process group; dropped before [`Running::disarm`], it kills
/// the whole group. The group is signalled while its leader is not yet reaped, so its id cannot have
/// been reused by an unrelated process.
struct Running {
    child: tokio::process::Child,
    #[cfg(unix)]
    group: Option<rustix::process::Pid>,
}

impl Running {
    fn new(child: tokio::process::Child) -> Self {
        #[cfg(unix)]
        let group = child.id().and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?));
        Running {
            child,
            #[cfg(unix)]
            group,
        }
    }

    /// The command has been reaped: nothing is left to kill.
    fn disarm(&mut self) {
        #[cfg(unix)]
        {
            self.group = None;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(group) = self.group.take() {
            // ESRCH (the group is already gone) is fine; the child itself goes with kill_on_drop.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

/// Why a secret could not be resolved. Never contains the value or the command's output.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reference}: {problem}")]
pub struct SecretError {
    reference: String,
    problem: String,
}

impl SecretError {
    fn new(reference: &SecretRef, problem: String) -> Self {
        SecretError { reference: reference.to_string(), problem }
    }
}

/// A short, non-reversible identifier of a secret value: `sha256:` and the first 8 hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Computes the fingerprint of a value.
    pub fn of(value: &str) -> Self {
        // The client's definition, so a token shows the same in the client's Debug, logs and config check.
        Fingerprint(intercom_api::token::fingerprint(value))
    }

    /// The fingerprint as text (`sha256:1a2b3c4d`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct Resolved {
    value: SecretString,
    fingerprint: Fingerprint,
}

/// A rule a secret's value must follow (a signing key's format); its message says what is wrong
/// and what to do, and never quotes the value.
pub type SecretCheck = fn(&str) -> Result<(), String>;

struct SecretInner {
    key: String,
    reference: SecretRef,
    exec_timeout: Duration,
    check: Option<SecretCheck>,
    current: ArcSwap<Resolved>,
    // Bumped on every change of value, so dependants (the API client's token) can follow rotations.
    version: watch::Sender<u64>,
}

/// A live secret: its config key, its reference and its current value, shared by cheap clones.
#[derive(Clone)]
pub struct Secret {
    inner: Arc<SecretInner>,
}

impl Secret {
    /// Resolves `reference` for the config key `key` (used in messages, e.g. `intercom.token`).
    pub async fn load(key: &str, reference: SecretRef, exec_timeout: Duration) -> Result<Self, SecretError> {
        Self::load_checked(key, reference, exec_timeout, None).await
    }

    /// [`Secret::load`] with a rule the value must follow, now and at every refresh (a rotated value
    /// that breaks it is refused and the previous one stays in use).
    pub async fn load_checked(
        key: &str,
        reference: SecretRef,
        exec_timeout: Duration,
        check: Option<SecretCheck>,
    ) -> Result<Self, SecretError> {
        let value = resolve_checked(&reference, exec_timeout, check).await?;
        let fingerprint = Fingerprint::of(value.expose_secret());
        Ok(Secret {
            inner: Arc::new(SecretInner {
                key: key.to_owned(),
                reference,
                exec_timeout,
                check,
                current: ArcSwap::from_pointee(Resolved { value, fingerprint }),
                version: watch::Sender::new(0),
            }),
        })
    }

    /// Wraps an in-process value (sandbox, tests) as a secret that never changes on refresh.
    pub fn generated(key: &str, value: &str) -> Self {
        let value = SecretString::from(value);
        let fingerprint = Fingerprint::of(value.expose_secret());
        Secret {
            inner: Arc::new(SecretInner {
                key: key.to_owned(),
                reference: SecretRef::Generated(value.clone()),
                exec_timeout: DEFAULT_EXEC_TIMEOUT,
                check: None,
                current: ArcSwap::from_pointee(Resolved { value, fingerprint }),
                version: watch::Sender::new(0),
            }),
        }
    }

    /// The config key this secret was configured under.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// Where the secret lives.
    pub fn reference(&self) -> &SecretRef {
        &self.inner.reference
    }

    /// The fingerprint of the current value.
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.current.load().fingerprint.clone()
    }

    /// The current value. Keep the exposure short: pass it straight to where it is used.
    pub fn value(&self) -> SecretString {
        self.inner.current.load().value.clone()
    }

    /// Runs `f` with the current value without copying it.
    pub fn with_value<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        f(self.inner.current.load().value.expose_secret())
    }

    /// A receiver that changes whenever the value is rotated.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    /// Re-reads the secret; returns whether the value changed. On error the old value stays in use.
    pub async fn refresh(&self) -> Result<bool, SecretError> {
        let value = resolve_checked(&self.inner.reference, self.inner.exec_timeout, self.inner.check).await?;
        let fingerprint = Fingerprint::of(value.expose_secret());
        if fingerprint == self.inner.current.load().fingerprint {
            return Ok(false);
        }
        self.inner.current.store(Arc::new(Resolved { value, fingerprint }));
        self.inner.version.send_modify(|v| *v += 1);
        Ok(true)
    }
}

/// Resolves `reference` and applies `check` to the value.
async fn resolve_checked(
    reference: &SecretRef,
    exec_timeout: Duration,
    check: Option<SecretCheck>,
) -> Result<SecretString, SecretError> {
    let value = reference.resolve(exec_timeout).await?;
    if let Some(check) = check {
        check(value.expose_secret()).map_err(|problem| SecretError::new(reference, problem))?;
    }
    Ok(value)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} = {} {})", self.inner.key, self.inner.reference, self.fingerprint())
    }
}

/// Every live secret of the service, refreshed together.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    all: Vec<Secret>,
}

impl Secrets {
    /// Creates a registry of the given secrets.
    pub fn new(all: Vec<Secret>) -> Self {
        Secrets { all }
    }

    /// The registered secrets.
    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.all.iter()
    }

    /// Re-resolves every secret, logging rotations and failures (by key and fingerprint only).
    /// Returns how many changed.
    pub async fn refresh_all(&self) -> usize {
        let mut changed = 0;
        for secret in &self.all {
            match secret.refresh().await {
                Ok(true) => {
                    changed += 1;
                    tracing::info!(
                        key = secret.key(),
                        fingerprint = %secret.fingerprint(),
                        "secret rotated; the new value is in use"
                    );
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(
                    key = secret.key(),
                    %error,
                    "secret refresh failed; the previous value stays in use"
                ),
            }
        }
        changed
    }

    /// Refreshes every `interval` and on SIGHUP until `shutdown` resolves.
    pub async fn refresh_until(&self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate; secrets were just loaded
        let mut hangup = hangup_signal();
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {}
                Some(()) = next_hangup(&mut hangup) => {
                    tracing::info!("SIGHUP received: re-reading secrets");
                }
            }
            self.refresh_all().await;
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; secrets refresh on the interval only");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

#[cfg(unix)]
async fn next_hangup(signal: &mut Hangup) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) -> Option<()> {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_rejects_values() {
        assert_eq!(
            SecretRef::parse("file:/run/secrets/x").unwrap(),
            SecretRef::File("/run/secrets/x".into())
        );
        let exec = SecretRef::parse("exec:vault kv get -field=token 'secret/intercom app'").unwrap();
        match &exec {
            SecretRef::Exec { argv, .. } => {
                assert_eq!(argv, &["vault", "kv", "get", "-field=token", "secret/intercom app"]);
            }
            other => panic!("expected exec, got {other}"),
        }
        assert_eq!(exec.to_string(), "exec:vault …");
        assert_eq!(SecretRef::parse("env:INTERCOM_TOKEN").unwrap(), SecretRef::Env("INTERCOM_TOKEN".into()));
        assert_eq!(SecretRef::parse("dG9rOjEyMzQ="), Err(SecretRefError::NotAReference));
        assert_eq!(SecretRef::parse("file:"), Err(SecretRefError::EmptyPath));
        assert_eq!(SecretRef::parse("exec:"), Err(SecretRefError::BadCommand));
        assert_eq!(SecretRef::parse("exec:vault 'unbalanced"), Err(SecretRefError::BadCommand));
        assert_eq!(SecretRef::parse("env:1BAD"), Err(SecretRefError::BadEnvName));
        assert_eq!(SecretRef::parse("env:WITH-DASH"), Err(SecretRefError::BadEnvName));
    }

    #[test]
    fn fingerprint_is_sha256_prefix() {
        // sha256("abc") = ba7816bf...
        assert_eq!(Fingerprint::of("abc").as_str(), "sha256:ba7816bf");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::generated("intercom.token", "dG9rOnN1cGVyLXNlY3JldA==");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("dG9r"), "{shown}");
        assert!(shown.contains("sha256:"), "{shown}");
    }
}
