//! Measures the simulator's `GET /contacts/{id}` throughput with the load generator beside it.
//!
//! `cargo run --release -p intercom-sim --example bench_sim -- [contacts] [connections] [seconds]`
//! (defaults: 10000 contacts, 64 connections, 10 s).

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let contacts = args.first().copied().unwrap_or(10_000) as usize;
    let connections = args.get(1).copied().unwrap_or(64) as usize;
    let seconds = args.get(2).copied().unwrap_or(10);
    let report =
        intercom_sim::bench::run_self_contained(contacts, connections, Duration::from_secs(seconds)).await?;
    println!("{report}");
    Ok(())
}
