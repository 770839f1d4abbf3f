//! Which destinations an event goes to: the configured destinations whose topic patterns match it,
//! plus the built-in handlers when they have work for it. The ingress asks this table at ingest, so
//! an event's deliveries are queued in the same commit as the event.

use super::builtin::{self, BUILTIN_DESTINATION};
use super::topic::TopicPattern;

/// A configured destination's topic filter.
#[derive(Debug, Clone)]
pub struct Route {
    /// The destination's name.
    pub destination: String,
    /// The topics it receives.
    pub topics: Vec<TopicPattern>,
}

/// The routing table: the configured routes and the built-in rule.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    routes: Vec<Route>,
}

impl Routing {
    /// A table over the configured `routes` (the built-in rule is always part of it).
    pub fn new(routes: Vec<Route>) -> Self {
        Routing { routes }
    }

    /// The destinations an event of `topic` goes to, configured ones first, in configuration order.
    pub fn destinations_for(&self, topic: &str) -> Vec<String> {
        let mut destinations: Vec<String> = self
            .routes
            .iter()
            .filter(|r| r.topics.iter().any(|p| p.matches(topic)))
            .map(|r| r.destination.clone())
            .collect();
        if builtin::handles(topic) {
            destinations.push(BUILTIN_DESTINATION.to_owned());
        }
        destinations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_patterns_then_the_builtin_rule() {
        let route = |name: &str, patterns: &[&str]| Route {
            destination: name.into(),
            topics: patterns.iter().map(|p| TopicPattern::parse(p).unwrap()).collect(),
        };
        let routing = Routing::new(vec![route("crm", &["contact.*"]), route("audit", &["contact.deleted"])]);
        assert_eq!(routing.destinations_for("contact.user.created"), ["crm"]);
        assert_eq!(routing.destinations_for("contact.deleted"), ["crm", "audit", BUILTIN_DESTINATION]);
        assert!(routing.destinations_for("conversation.user.replied").is_empty());
        assert_eq!(Routing::default().destinations_for("contact.deleted"), [BUILTIN_DESTINATION]);
    }
}
