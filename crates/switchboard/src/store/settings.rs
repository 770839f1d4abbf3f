//! Where the store lives (`[store]`): its settings belong to the store, so that opening one needs
//! nothing from `config` (which sits above the store in the layering).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Serialize, Serializer};

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file.
    Sqlite(PathBuf),
}

impl StoreUrl {
    /// The directory the data files go in (the SQLite file's folder).
    pub fn data_dir(&self) -> &Path {
        match self {
            StoreUrl::Sqlite(path) => path.parent().unwrap_or(Path::new(".")),
        }
    }
}

impl fmt::Display for StoreUrl {
    /// The URL as written in `store.url` (`sqlite://PATH`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

impl Serialize for StoreUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `[store]`
#[derive(Debug, Clone, Serialize)]
pub struct StoreConfig {
    /// The store's location.
    pub url: StoreUrl,
    /// How long delivered events (and their deduplication keys) are kept.
    #[serde(serialize_with = "humantime_serde::serialize")]
    pub retention: Duration,
}
