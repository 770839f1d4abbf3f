//! `intercom-sim`: a stateful Intercom API simulator.
