//! The real `switchboard` binary, as an operator runs it.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

/// The binary with `args`; it does not see a `SWITCHBOARD_CONFIG` the test's own environment may
/// hold (nor the marker of [`super::in_own_process`]), so only what the test gives it counts.
pub fn cli(args: &[&str]) -> Cli {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(args).env_remove("SWITCHBOARD_CONFIG").env_remove(super::process::CHILD);
    Cli(command)
}

/// A run of the binary being set up.
pub struct Cli(Command);

impl Cli {
    /// One more argument (a path, say).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.0.arg(arg);
        self
    }

    /// Runs it in `dir`.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.0.current_dir(dir);
        self
    }

    /// Sets the variable `key`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.0.env(key, value);
        self
    }

    /// Sets the variables `vars`.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        self.0.envs(vars.iter().copied());
        self
    }

    /// Runs it with `vars` as its whole environment.
    pub fn only_env(mut self, vars: &[(&str, &str)]) -> Self {
        self.0.env_clear();
        self.envs(vars)
    }

    /// Runs it to the end, blocking this thread: for tests with no service on their own runtime.
    pub fn run(mut self) -> Ran {
        Ran::from(self.0.output().unwrap())
    }

    /// Runs it to the end without blocking the runtime, which keeps serving the test's in-process
    /// services meanwhile.
    pub async fn run_async(self) -> Ran {
        Ran::from(tokio::process::Command::from(self.0).output().await.unwrap())
    }

    /// The command, for a test that starts it and talks to it while it runs.
    pub fn command(self) -> Command {
        self.0
    }
}

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Ran {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Self {
        // Never quote the bytes: they may hold a secret the binary should not have printed.
        let text = |bytes: Vec<u8>, stream: &str| {
            String::from_utf8(bytes).unwrap_or_else(|_| panic!("{stream} is not UTF-8"))
        };
        Ran {
            code: output.status.code(),
            stdout: text(output.stdout, "stdout"),
            stderr: text(output.stderr, "stderr"),
        }
    }
}
