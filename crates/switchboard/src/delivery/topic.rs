//! Topic patterns that select which webhook topics a destination receives.

use std::fmt;

/// A topic filter: an exact topic (`contact.user.created`), a prefix (`contact.*`,
/// `conversation.user.*`) or everything (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPattern {
    /// Every topic.
    All,
    /// Every topic under a dotted prefix (stored without the trailing `.*`).
    Prefix(String),
    /// One topic.
    Exact(String),
}

/// Why a topic pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a topic pattern; write an exact topic (contact.user.created), a prefix ending in .* \
     (contact.*) or * for all"
)]
pub struct TopicPatternError(String);

impl TopicPattern {
    /// Parses a pattern; `*` may only stand alone or as the last segment.
    pub fn parse(text: &str) -> Result<Self, TopicPatternError> {
        let bad = || TopicPatternError(text.to_owned());
        if text == "*" {
            return Ok(TopicPattern::All);
        }
        let (body, prefix) = match text.strip_suffix(".*") {
            Some(body) => (body, true),
            None => (text, false),
        };
        let valid_segment =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !body.split('.').all(valid_segment) {
            return Err(bad());
        }
        Ok(if prefix { TopicPattern::Prefix(body.to_owned()) } else { TopicPattern::Exact(body.to_owned()) })
    }

    /// Whether `topic` is selected by this pattern.
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            TopicPattern::All => true,
            TopicPattern::Exact(exact) => topic == exact,
            TopicPattern::Prefix(prefix) => {
                topic.len() > prefix.len() + 1
                    && topic.starts_with(prefix.as_str())
                    && topic.as_bytes()[prefix.len()] == b'.'
            }
        }
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicPattern::All => f.write_str("*"),
            TopicPattern::Prefix(prefix) => write!(f, "{prefix}.*"),
            TopicPattern::Exact(exact) => f.write_str(exact),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_whole_segments_only() {
        let contacts = TopicPattern::parse("contact.*").unwrap();
        assert!(contacts.matches("contact.user.created"));
        assert!(contacts.matches("contact.deleted"));
        assert!(!contacts.matches("contacts.deleted"));
        assert!(!contacts.matches("contact"));
        assert!(!contacts.matches("conversation.user.created"));
        let exact = TopicPattern::parse("conversation.user.replied").unwrap();
        assert!(exact.matches("conversation.user.replied"));
        assert!(!exact.matches("conversation.user.replied.translated"));
        assert!(TopicPattern::parse("*").unwrap().matches("ping"));
        assert_eq!(TopicPattern::parse("conversation.user.*").unwrap().to_string(), "conversation.user.*");
    }

    #[test]
    fn refuses_malformed_patterns() {
        for bad in ["", "contact.", "*.created", "contact..user", "contact.*.created", "contact user"] {
            assert!(TopicPattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
