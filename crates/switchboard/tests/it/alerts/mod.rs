//! Built-in alerts: the rules on a manual clock, what is exported about them, and `serve`'s alerts end
//! to end.

mod exports;
mod rules;
mod serve;
