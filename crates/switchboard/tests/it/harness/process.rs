//! One test alone in a process of its own: for the few whose assertions read process-wide state,
//! above all the global metrics recorder, which every in-process service records into (gauges such
//! as `dead_letter_depth`, set by each running service's background task; counters such as
//! `webhook_verification_failures_total`, bumped by webhook tests) and whose values `/alerts` reads.

use std::future::Future;
use std::process::Command;

/// Set in the child to the name of the test it runs.
const CHILD: &str = "SWITCHBOARD_IT_ALONE";

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
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .unwrap();
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
