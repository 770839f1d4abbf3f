//! `config check`'s view of the configuration: the typed [`Config`] as TOML, each secret shown as
//! its reference and the fingerprint of its current value.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

use super::{Config, LoadedSecrets};
use crate::alerts::AlertSettings;
use crate::secrets::PathStep;

impl Config {
    /// The effective configuration as TOML, each secret shown as its reference and fingerprint.
    pub fn render(&self, secrets: &LoadedSecrets) -> String {
        let cannot = |e: &dyn fmt::Display| format!("# cannot render the configuration: {e}\n");
        let mut root = match toml::Table::try_from(self) {
            Ok(root) => root,
            Err(e) => return cannot(&e),
        };
        for (slot, reference) in self.secret_refs() {
            let shown = match secrets.get(slot) {
                Some(secret) => format!("{reference} ({})", secret.fingerprint()),
                None => reference.to_string(),
            };
            place(&mut root, &slot.path(), shown.into());
        }
        toml::to_string_pretty(&root).unwrap_or_else(|e| cannot(&e))
    }
}

/// Puts `value` at `path`, if the tables and arrays leading there exist.
fn place(root: &mut toml::Table, path: &[PathStep], value: toml::Value) {
    let Some((PathStep::Key(first), rest)) = path.split_first() else { return };
    let Some((last, between)) = rest.split_last() else {
        root.insert((*first).into(), value);
        return;
    };
    let mut at = root.get_mut(*first);
    for step in between {
        at = match step {
            PathStep::Key(key) => at.and_then(toml::Value::as_table_mut).and_then(|t| t.get_mut(*key)),
            PathStep::Index(i) => at.and_then(toml::Value::as_array_mut).and_then(|a| a.get_mut(*i)),
        };
    }
    match (at, last) {
        (Some(toml::Value::Table(table)), PathStep::Key(key)) => {
            table.insert((*key).into(), value);
        }
        (Some(toml::Value::Array(array)), PathStep::Index(i)) => {
            if let Some(slot) = array.get_mut(*i) {
                *slot = value;
            }
        }
        _ => {}
    }
}

/// Serializes a value as its `Display` text (addresses, URLs, secret references, topic patterns).
pub(super) fn display<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// A URL as `config check` shows it: its userinfo, query values and fragment, which often carry
/// credentials (`https://user:pass@host`, `?token=...`), masked as `***`.
pub fn mask_url(url: &url::Url) -> String {
    use url::Position;
    let mut shown = url[..Position::BeforeUsername].to_owned();
    if !url.username().is_empty() || url.password().is_some() {
        shown.push_str("***@");
    }
    shown.push_str(&url[Position::BeforeHost..Position::AfterPath]);
    if let Some(query) = url.query() {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=***"),
                // A bare item (`?abc123`) may be the token itself.
                None => "***".to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&masked.join("&"));
    }
    if url.fragment().is_some() {
        shown.push_str("#***");
    }
    shown
}

/// Text meant as a URL, as messages show it: masked by [`mask_url`] when it parses; otherwise
/// only a fingerprint, as in alert channels (`(not a URL) (sha256:…)`), since credentials may sit
/// anywhere in text that no parser could split.
pub fn mask_url_text(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(url) => mask_url(&url),
        Err(_) => format!("(not a URL) ({})", crate::secrets::Fingerprint::of(text)),
    }
}

/// Serializes a URL masked by [`mask_url`].
pub(super) fn masked_url<S: Serializer>(url: &url::Url, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&mask_url(url))
}

/// [`masked_url`] for an optional URL (with `skip_serializing_if = "Option::is_none"`).
pub(super) fn masked_url_some<S: Serializer>(
    url: &Option<url::Url>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => masked_url(url, serializer),
        None => serializer.serialize_none(),
    }
}

/// [`display`] for an optional value (with `skip_serializing_if = "Option::is_none"`).
pub(super) fn display_some<T: fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// [`display`] for each element of a list.
pub(super) fn display_each<T: fmt::Display, S: Serializer>(
    values: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(ToString::to_string))
}

/// Serializes a path as it displays (lossy for a path that is not UTF-8, where serde's would fail).
pub(super) fn path<S: Serializer>(value: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&value.display())
}

/// [`path`] for an optional path (with `skip_serializing_if = "Option::is_none"`).
pub(super) fn path_some<S: Serializer>(value: &Option<PathBuf>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => path(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// `preflight.environments` as the table it is written as: name = config file.
pub(super) fn environments<S: Serializer>(
    environments: &[(String, PathBuf)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(environments.iter().map(|(name, file)| (name, file.display().to_string())))
}

/// The alert settings, or a note saying why they cannot be shown (the rest still renders).
pub(super) fn alerts_or_note<S: Serializer>(
    alerts: &AlertSettings,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match toml::Value::try_from(alerts) {
        Ok(value) => value.serialize(serializer),
        Err(e) => serializer.collect_str(&format_args!("(cannot be shown: {e})")),
    }
}
