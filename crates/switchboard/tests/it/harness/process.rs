//! One test alone in a process of its own: for the few whose assertions read process-wide state,
//! above all the global metrics recorder, which every in-process service records into (gauges such
//! as `dead_letter_depth`, set by each running service's background task; counters such as
//! `webhook_verification_failures_total`, bumped by webhook tests) and whose values `/alerts` reads.

use std::future::Future;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Set in the child to the name of the test it runs (and kept from the binary [`super::cli`] runs,
/// whose configuration loader would read it as a `SWITCHBOARD_` setting).
pub(super) const CHILD: &str = "SWITCHBOARD_IT_ALONE";
/// How long a child may run: far beyond the slowest such test (about 30 s here).
const CHILD_PATIENCE: Duration = Duration::from_secs(300);

/// Runs `body` in a child process of this test binary that runs nothing but the calling test, and
/// checks there that it passed, showing its output if not. In that child, runs `body`.
pub fn in_own_process(body: impl FnOnce()) {
    // libtest runs each test on a thread named after it: the path `--exact` selects.
    let current = std::thread::current();
    let test = current.name().filter(|name| *name != "main").expect("called from a test's own thread");
    if std::env::var(CHILD).is_ok_and(|running| running == test) {
        body();
        return;
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    // A hung child would otherwise hang this test silently, with its output out of sight.
    let output = match finished.recv_timeout(CHILD_PATIENCE) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{test} did not finish within {CHILD_PATIENCE:?} in its own process; it was killed");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let shown = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{test} failed in its own process ({}):\n{shown}", output.status);
    // A renamed or filtered-out test would pass vacuously: the child must have run exactly this one.
    assert!(stdout.contains("test result: ok. 1 passed;"), "{test} did not run in its own process:\n{shown}");
}

/// Runs `future` to completion on a multi-threaded runtime with two workers, as
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` would.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `switchboard serve` as a child process on a port of its own, logging JSON lines into a file: for
/// tests that read a service's log or `/metrics` with no other service's lines or counts in them.
/// Killed when dropped, so that a failed assertion cannot leave a service running.
pub struct ServeProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: std::path::PathBuf,
}

impl ServeProcess {
    /// Starts `serve` on `dir`'s configuration (its `listen` moved to a free port) and waits until
    /// it is ready.
    pub async fn start(dir: &super::AppDir) -> Self {
        let port = super::free_port();
        dir.edit("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""));
        let log = dir.path().join("switchboard.log");
        let child = super::cli(&["serve", "--log-format", "json", "--config"])
            .arg(dir.config())
            .env("SWITCHBOARD_LOG", "info")
            .command()
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let serving = ServeProcess { child, base: format!("http://127.0.0.1:{port}"), log };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let readyz = format!("{}/readyz", serving.base);
        super::wait_until("the service is ready", || async {
            http.get(&readyz).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        serving
    }

    /// The text of its `/metrics`.
    pub async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base);
        reqwest::get(url).await.unwrap().text().await.unwrap()
    }

    /// Stops it with SIGTERM, checks that it exited 0, and returns its log's JSON lines.
    pub fn stop(mut self) -> Vec<serde_json::Value> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(self.child.wait().unwrap().success(), "serve exits 0 on SIGTERM");
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The real binary serving `config` in a child process, quiet (errors only, output discarded); the
/// caller kills it.
pub fn start_serve(config: &std::path::Path) -> std::process::Child {
    super::cli(&["serve", "--config"])
        .arg(config)
        .env("SWITCHBOARD_LOG", "error")
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}
