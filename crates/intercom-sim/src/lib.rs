//! `intercom-sim`: a stateful Intercom API simulator.

pub mod search;
