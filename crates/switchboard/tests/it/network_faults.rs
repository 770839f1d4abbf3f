//! Network faults between the service and its destinations: a destination that accepts and never
//! answers, one that resets the connection mid-request, one that closes it mid-answer, and one that
//! answers byte by byte, slower than its timeout. Each faulty attempt ends at its destination's
//! timeout (well within the lease) and is rescheduled with a clear error, never lost and never
//! attempted twice at once; a healthy destination beside them gets its deliveries meanwhile.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{AppDir, Receiver, TestApp, eventually, notification};

/// How a fault server misbehaves once it has read a request's head.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Reads everything and never answers.
    Hang,
    /// Resets the connection (TCP RST) before answering.
    Reset,
    /// Sends the status line and half a header, then closes the connection.
    Cut,
    /// Sends a valid answer one byte every 100 ms, far slower than the timeout allows.
    Drip,
}

/// What a fault server saw of one webhook: attempts started, and how many were open at once.
#[derive(Debug, Default, Clone)]
struct Seen {
    attempts: Vec<String>,
    open: usize,
    most_open: usize,
    /// How long the service kept each finished attempt's connection open.
    held: Vec<Duration>,
}

/// A raw-TCP destination that misbehaves as `fault`; records attempts per `webhook-id`.
#[derive(Clone)]
struct FaultServer {
    addr: SocketAddr,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
}

impl FaultServer {
    async fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = FaultServer { addr: listener.local_addr().unwrap(), seen: Arc::default() };
        let seen = server.seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                tokio::spawn(misbehave(stream, fault, seen.clone()));
            }
        });
        server
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn seen(&self) -> HashMap<String, Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads a request's head; returns its `webhook-id` and `x-switchboard-attempt`.
async fn read_head(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(|v| v.trim().to_owned()))
    };
    Some((header("webhook-id")?, header("x-switchboard-attempt")?))
}

async fn misbehave(mut stream: TcpStream, fault: Fault, seen: Arc<Mutex<HashMap<String, Seen>>>) {
    let Some((id, attempt)) = read_head(&mut stream).await else { return };
    let opened = std::time::Instant::now();
    {
        let mut seen = seen.lock().unwrap();
        let entry = seen.entry(id.clone()).or_default();
        entry.attempts.push(attempt);
        entry.open += 1;
        entry.most_open = entry.most_open.max(entry.open);
    }
    match fault {
        Fault::Hang => {
            // Reads (the body, then nothing) until the service gives up and closes its end.
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        Fault::Reset => {
            // SO_LINGER 0: closing sends RST instead of FIN (and, with a zero linger, never blocks).
            #[expect(
                deprecated,
                reason = "a zero linger is what makes the close a reset, and it does not block"
            )]
            stream.set_linger(Some(Duration::ZERO)).unwrap();
        }
        Fault::Cut => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
            let _ = stream.shutdown().await;
        }
        Fault::Drip => {
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(stream);
    let mut seen = seen.lock().unwrap();
    let entry = seen.get_mut(&id).unwrap();
    entry.open -= 1;
    entry.held.push(opened.elapsed());
}

/// One delivery row as the store holds it, read from the database file.
#[derive(Debug)]
struct Row {
    state: String,
    attempts: u32,
    last_error: Option<String>,
}

fn rows(app: &TestApp, destination: &str) -> Vec<Row> {
    let conn = rusqlite::Connection::open(app.dir.path().join("data/switchboard.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut statement = conn
        .prepare("SELECT state, attempts, last_error FROM deliveries WHERE destination = ?1 ORDER BY id")
        .unwrap();
    statement
        .query_map([destination], |r| {
            Ok(Row { state: r.get(0)?, attempts: r.get(1)?, last_error: r.get(2)? })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Enough events that, before the fix, the hanging and dripping destinations' attempts filled all
/// ten slots while healthy deliveries still waited.
const EVENTS: usize = 5;
/// The faulty destinations' timeout: long enough that the healthy destination's deliveries all
/// arrive before any faulty attempt could have ended, on a loaded machine too.
const TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test]
async fn faulty_destinations_neither_stall_the_others_nor_outlive_their_timeout() {
    // About 4 s: a first round of faulty attempts must run into its 2 s timeout, and stopping the
    // service waits for the round in flight.
    let faults = [("hang", Fault::Hang), ("reset", Fault::Reset), ("cut", Fault::Cut), ("drip", Fault::Drip)];
    let mut servers = Vec::new();
    let mut config = String::new();
    for (name, fault) in faults {
        let server = FaultServer::start(fault).await;
        config.push_str(&format!(
            "[[destinations]]\nname = \"{name}\"\nurl = \"{}\"\ntimeout = \"{}\"\n",
            server.url(),
            humantime::format_duration(TIMEOUT)
        ));
        servers.push((name, server));
    }
    let (healthy, healthy_url) = Receiver::start().await;
    config.push_str(&format!("[[destinations]]\nname = \"healthy\"\nurl = \"{healthy_url}\"\n"));
    let dir = AppDir::new(&config);
    // Ten slots for five destinations, so that before the fix the hanging ones could fill them all;
    // retries far enough apart that a fault server sees each attempt's connection close first.
    dir.edit("poll_interval = \"20ms\"", "poll_interval = \"20ms\"\nconcurrency = 10");
    dir.edit("[\"50ms\", \"100ms\", \"150ms\"]", "[\"400ms\", \"400ms\"]");
    let app = dir.spawn().await;

    for i in 0..EVENTS {
        assert_eq!(app.notify(&notification(&format!("notif_{i}"), "ping")).await.status(), 200);
    }
    let got = healthy.wait_for(EVENTS).await;
    // Every healthy delivery arrived while the first attempts at the hanging and dripping
    // destinations were still running: no result of theirs recorded yet.
    for name in ["hang", "drip"] {
        let finished: Vec<_> = rows(&app, name).into_iter().filter(|r| r.attempts > 0).collect();
        assert!(finished.is_empty(), "the healthy destination waited for {name}: {finished:?}");
    }
    let mut ids: Vec<_> = got.iter().map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "each event once");

    // Faulty attempts end with a clear error and are rescheduled (or, once the short schedule is
    // spent, dead-lettered): none is lost. Each destination has two slots (ten for five), so the
    // first two attempts at the hanging and dripping ones are the round that must end at the timeout.
    let expected_error = |name: &str| match name {
        "hang" | "drip" => format!("no answer within {}", humantime::format_duration(TIMEOUT)),
        "reset" => "the destination reset the connection before answering".to_owned(),
        _ => "the destination closed the connection before answering".to_owned(),
    };
    for (name, server) in &servers {
        let rows = eventually(&format!("a first round of attempts at {name} has ended"), || async {
            let rows = rows(&app, name);
            (rows.iter().filter(|r| r.attempts > 0).count() >= 2).then_some(rows)
        })
        .await;
        assert_eq!(rows.len(), EVENTS, "{name}: none lost");
        for row in &rows {
            assert!(row.state == "pending" || row.state == "dead", "{name}: {row:?}");
            if row.attempts > 0 {
                let error = row.last_error.as_deref().unwrap_or_default();
                assert_eq!(error, expected_error(name), "{name}: {row:?}");
            }
        }
        for (id, seen) in server.seen() {
            assert_eq!(seen.most_open, 1, "{name}: {id} attempted twice at once: {seen:?}");
            let numbers: Vec<String> = (1..=seen.attempts.len()).map(|n| n.to_string()).collect();
            assert_eq!(seen.attempts, numbers, "{name}: {id}: one attempt per number, in order");
            // A faulty attempt lasts about its timeout, far short of the 30 s lease.
            let lease = app.config.delivery.lease;
            assert!(seen.held.iter().all(|held| *held < lease), "{name}: {id}: {seen:?}");
        }
    }
    app.stop().await;
}
