//! Intercom's hosting regions and their API base URLs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A region Intercom hosts workspaces in; each has its own API host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// United States: `https://api.intercom.io`.
    #[default]
    Us,
    /// Europe: `https://api.eu.intercom.io`.
    Eu,
    /// Australia: `https://api.au.intercom.io`.
    Au,
}

impl Region {
    /// Every region, in the order Intercom lists them.
    pub const ALL: [Region; 3] = [Region::Us, Region::Eu, Region::Au];

    /// The REST API base URL for this region, without a trailing slash.
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Us => "https://api.intercom.io",
            Region::Eu => "https://api.eu.intercom.io",
            Region::Au => "https://api.au.intercom.io",
        }
    }

    /// The lowercase name used in configuration (`us`, `eu`, `au`).
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::Au => "au",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a region name is not one of `us`, `eu`, `au`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Intercom region {0:?}; expected one of: us, eu, au")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" | "europe" => Ok(Region::Eu),
            "au" | "australia" => Ok(Region::Au),
            _ => Err(UnknownRegion(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_maps_to_hosts() {
        assert_eq!("EU".parse::<Region>(), Ok(Region::Eu));
        assert_eq!("Europe".parse::<Region>(), Ok(Region::Eu));
        assert_eq!(Region::Au.base_url(), "https://api.au.intercom.io");
        let err = "mars".parse::<Region>().unwrap_err();
        assert!(err.to_string().contains("us, eu, au"), "{err}");
    }
}
