//! The loader: built-in defaults < TOML file < `SWITCHBOARD_<SECTION>__<KEY>` variables < flags,
//! merged with figment and turned into [`ConfigIssue`]s that never quote a value.

use std::path::PathBuf;

use figment::providers::Format;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::raw::RawConfig;
use super::validate::validate;
use super::{Config, ConfigError, ConfigIssue};
use crate::logging::LogFormat;

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "switchboard.toml";
/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";
/// Environment variables with the prefix that are not config keys (they configure the CLI itself).
const ENV_NOT_CONFIG: &[&str] = &["SWITCHBOARD_CONFIG", "SWITCHBOARD_LOG"];

/// Values given on the command line, the highest layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `serve --listen`
    pub listen: Option<String>,
    /// `--log-format`
    pub log_format: Option<LogFormat>,
}

/// Finds and merges the configuration layers.
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
    overrides: Overrides,
}

impl ConfigLoader {
    /// A loader reading `file` (or `./switchboard.toml` if present), the process environment and `overrides`.
    pub fn new(file: Option<PathBuf>, overrides: Overrides) -> Self {
        ConfigLoader { file, env: std::env::vars().collect(), overrides }
    }

    /// Replaces the environment variables considered (tests use this to stay isolated).
    pub fn with_env(mut self, env: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = env.into_iter().collect();
        self
    }

    /// Merges and validates every layer.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let file = match &self.file {
            Some(path) if !path.is_file() => return Err(ConfigError::FileNotFound(path.clone())),
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::new();
        if let Some(path) = &file {
            figment = figment.merge(figment::providers::Toml::file_exact(path));
        }
        let env_entries = self
            .env
            .iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !ENV_NOT_CONFIG.contains(&name.as_str()))
            .map(|(name, value)| {
                let key = name[ENV_PREFIX.len()..].to_ascii_lowercase().replace("__", ".");
                // Scalars stay text (a version "2.14" must not become a float); lossy extraction below
                // turns "true" or "8" into a bool or number where the key wants one. Arrays and tables
                // are parsed, so SWITCHBOARD_WEBHOOKS__CLIENT_SECRETS='["file:/a","file:/b"]' works.
                let trimmed = value.trim_start();
                let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                    value.parse::<Value>().unwrap_or_else(|never| match never {})
                } else {
                    Value::from(value.clone())
                };
                (key, value, name.clone())
            })
            .collect();
        figment = figment.merge(Layer { name: "environment variable", entries: env_entries });
        let mut flags = Vec::new();
        if let Some(listen) = &self.overrides.listen {
            flags.push(("server.listen".to_owned(), Value::from(listen.clone()), "--listen".to_owned()));
        }
        if let Some(format) = self.overrides.log_format {
            flags.push((
                "logging.format".to_owned(),
                Value::from(format.as_str()),
                "--log-format".to_owned(),
            ));
        }
        figment = figment.merge(Layer { name: "command-line flag", entries: flags });

        let raw: RawConfig = figment.extract_lossy().map_err(|e| ConfigError::Invalid(figment_issues(e)))?;
        validate(raw, file).map_err(ConfigError::Invalid)
    }
}

/// A config layer of `(dotted key, value, where it came from)` entries: environment variables or flags.
struct Layer {
    name: &'static str,
    entries: Vec<(String, Value, String)>,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let origins: Vec<(String, String)> =
            self.entries.iter().map(|(key, _, origin)| (key.clone(), origin.clone())).collect();
        let name = self.name;
        Metadata::named(name).interpolater(move |_: &Profile, path: &[&str]| {
            let key = path.join(".");
            // Errors deep inside a value (an array element) still point at the variable that set it.
            origins
                .iter()
                .filter(|(k, _)| key == *k || key.starts_with(&format!("{k}.")))
                .map(|(_, origin)| format!("{name} {origin}"))
                .next()
                .unwrap_or_else(|| format!("{name} for {key}"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, value, _) in &self.entries {
            if let Some(nested) = figment::util::nest(key, value.clone()).into_dict() {
                dict = merge_dicts(dict, nested);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge_dicts(mut base: Dict, other: Dict) -> Dict {
    for (key, value) in other {
        match (base.remove(&key), value) {
            (Some(Value::Dict(_, a)), Value::Dict(tag, b)) => {
                base.insert(key, Value::Dict(tag, merge_dicts(a, b)));
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    base
}

fn figment_issues(error: figment::Error) -> Vec<ConfigIssue> {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { "(top level)".to_owned() } else { e.path.join(".") };
            let origin = e.metadata.as_ref().map(|md| {
                let profile = e.profile.clone().unwrap_or(Profile::Default);
                match &md.source {
                    Some(figment::Source::File(path)) => format!("in {}", path.display()),
                    _ => format!("from {}", md.interpolate(&profile, &e.path)),
                }
            });
            // Never figment's own wording for type and value errors: it quotes the value, which may be
            // a secret pasted where a reference belongs (client_secrets = "the secret itself").
            let mut message = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("invalid type: found {}, expected {expected}", value_kind(actual))
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("invalid value: found {}, expected {expected}", value_kind(actual))
                }
                // TOML syntax errors quote the offending line, which may hold a pasted secret: keep
                // the position and the reason, drop the excerpt.
                other => other
                    .to_string()
                    .lines()
                    .filter(|line| {
                        let t = line.trim_start();
                        !(t.starts_with('|')
                            || t.split_once('|').is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok()))
                    })
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect::<Vec<_>>()
                    .join(": "),
            };
            if let figment::error::Kind::UnknownField(..) = e.kind {
                message.push_str("; remove it or fix its spelling (see switchboard.example.toml)");
            }
            if let Some(origin) = origin {
                message = format!("{message} ({origin})");
            }
            ConfigIssue { key, message }
        })
        .collect()
}

/// What kind of value was found, without the value itself.
fn value_kind(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "a value of another type",
    }
}
