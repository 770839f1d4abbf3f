//! What every check reads: the checked configuration (loaded leniently, see the module docs of
//! [`crate::preflight`]), its resolved secrets, the listed environments, one shared `GET /me`, and
//! an HTTP client for the endpoints preflight probes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use intercom_api::RateLimit;
use intercom_api::models::admin::Me;
use switchboard_clock::{SharedClock, SystemClock};
use tokio::sync::OnceCell;

use super::{PreflightError, PreflightOptions};
use crate::config::{Config, ConfigError, ConfigIssue, ConfigLoader, Environment, LoadedSecrets, Overrides};
use crate::intercom::{Intercom, Unavailable};
use crate::secrets::SecretKind;

/// How long preflight waits for any endpoint it probes (the webhook POSTs have their own 5 s).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The variable that overrides `environment` in the loader's environment layer.
const ENVIRONMENT_VAR: &str = "SWITCHBOARD_ENVIRONMENT";

/// A configuration as preflight sees it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The validated configuration (its `environment` is the file's, production included).
    pub config: Config,
    /// Production rules the file breaks that the checks report (empty when it validated as is).
    pub waived: Vec<ConfigIssue>,
}

/// Loads `file` like `serve` does; when the only issues are production rules that preflight checks
/// itself (`env:` secrets, a plain-http `webhooks.public_url`), loads it with those rules relaxed
/// and returns them as `waived`. Any other issue is returned as the error it is.
pub fn load_lenient(file: Option<&Path>, env: &[(String, String)]) -> Result<LoadedConfig, ConfigError> {
    let loader = |env: Vec<(String, String)>| {
        ConfigLoader::new(file.map(Path::to_path_buf), Overrides::default()).with_env(env)
    };
    let issues = match loader(env.to_vec()).load() {
        Ok(config) => return Ok(LoadedConfig { config, waived: Vec::new() }),
        Err(ConfigError::Invalid(issues)) => issues,
        Err(other) => return Err(other),
    };
    // Same layers, one more on top: `environment` as staging, the stage with every rule but these two.
    let mut relaxed_env: Vec<(String, String)> =
        env.iter().filter(|(k, _)| k != ENVIRONMENT_VAR).cloned().collect();
    relaxed_env.push((ENVIRONMENT_VAR.to_owned(), Environment::Staging.as_str().to_owned()));
    let Ok(mut config) = loader(relaxed_env).load() else {
        return Err(ConfigError::Invalid(issues));
    };
    let explained = production_rule_keys(&config);
    // Those two rules exist only in production, so when they explain every issue the file is a
    // production file; anything unexplained means the file is invalid for another reason.
    if issues.iter().all(|issue| explained.contains(&issue.key)) {
        config.environment = Environment::Production;
        Ok(LoadedConfig { config, waived: issues })
    } else {
        Err(ConfigError::Invalid(issues))
    }
}

/// Keys that production's validation refuses for reasons a check reports.
fn production_rule_keys(config: &Config) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    if !config.allow_env_secrets {
        keys.extend(
            config
                .secret_refs()
                .into_iter()
                .filter(|(_, r)| r.kind() == SecretKind::Env)
                .map(|(slot, _)| slot.to_string()),
        );
    }
    if config.webhooks.public_url.as_ref().is_some_and(|url| url.scheme() == "http") {
        keys.push("webhooks.public_url".to_owned());
    }
    keys
}

/// What `GET /me` gave, shared by `auth`, `workspace` and `rate-headroom`.
#[derive(Debug)]
pub(crate) enum MeProbe {
    /// No request was sent.
    NotSent(Unavailable),
    /// 200.
    Answered {
        /// Round trip.
        latency: Duration,
        /// The body, when it parsed.
        me: Option<Box<Me>>,
        /// The rate-limit headers.
        rate_limit: Option<RateLimit>,
        /// The `Intercom-Version` the answer was given under.
        version: String,
    },
    /// Anything but a 2xx, or no answer.
    Failed {
        /// Round trip.
        latency: Duration,
        /// What went wrong (its Display never holds the token or a body).
        error: intercom_api::Error,
    },
}

/// Everything the checks share.
#[derive(Debug)]
pub(crate) struct Context {
    /// The checked configuration.
    pub config: Config,
    /// Production rules it breaks that checks report.
    pub waived: Vec<ConfigIssue>,
    /// Its resolved secrets.
    pub secrets: LoadedSecrets,
    /// `[preflight.environments]` of the `--config` file.
    pub environments: Vec<(String, PathBuf)>,
    /// The configuration variables to load other environments' files with.
    pub env_vars: Vec<(String, String)>,
    /// `--source`.
    pub source: Option<PathBuf>,
    /// For status page, webhook and health probes: no redirects followed (a redirect is a finding),
    /// `preflight.ca_cert` trusted.
    pub http: reqwest::Client,
    /// What "now" is for the probes (a ping's `created_at`).
    pub clock: SharedClock,
    intercom: Intercom,
    me: OnceCell<MeProbe>,
}

impl Context {
    /// Loads the configuration to check and its secrets.
    pub async fn build(options: &PreflightOptions) -> Result<Context, PreflightError> {
        let env_vars = options.env_vars.clone().unwrap_or_else(|| std::env::vars().collect());
        let shown = |file: Option<&Path>| match file {
            Some(path) => path.display().to_string(),
            None => "the default configuration (./switchboard.toml if present)".to_owned(),
        };
        let root = load_lenient(options.config.as_deref(), &env_vars)
            .map_err(|source| PreflightError::Config { context: shown(options.config.as_deref()), source })?;
        let environments = root.config.preflight.environments.clone();
        let checked = match &options.env {
            None => root,
            Some(name) => {
                let Some((_, path)) = environments.iter().find(|(n, _)| n == name) else {
                    let listed = environments.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
                    return Err(PreflightError::UnknownEnvironment {
                        name: name.clone(),
                        config: shown(root.config.source_file.as_deref()),
                        listed: if listed.is_empty() { "none".to_owned() } else { listed },
                    });
                };
                load_lenient(Some(path), &env_vars).map_err(|source| PreflightError::Config {
                    context: format!("--env {name} ({})", path.display()),
                    source,
                })?
            }
        };
        if let Some(source) = &options.source
            && !source.is_dir()
        {
            let reason = if source.exists() { "is not a directory" } else { "does not exist" };
            return Err(PreflightError::Source { path: source.clone(), reason: reason.to_owned() });
        }
        let config = checked.config;
        let secrets = config.load_secrets().await.map_err(|source| PreflightError::Config {
            context: format!("the secrets of {}", shown(config.source_file.as_deref())),
            source,
        })?;
        let mut http =
            reqwest::Client::builder().timeout(HTTP_TIMEOUT).redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &config.preflight.ca_cert {
            let ca_error = |reason: String| PreflightError::CaCert { path: path.clone(), reason };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| PreflightError::Http(e.to_string()))?;
        let intercom = Intercom::new(&config, secrets.intercom_token.as_ref());
        Ok(Context {
            config,
            waived: checked.waived,
            secrets,
            environments,
            env_vars,
            source: options.source.clone(),
            http,
            clock: options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
            intercom,
            me: OnceCell::new(),
        })
    }

    /// `GET /me` through the service's own probe client (one attempt, short timeout), sent once.
    pub async fn me(&self) -> &MeProbe {
        self.me
            .get_or_init(|| async {
                let client = match self.intercom.probe_client() {
                    Ok(client) => client,
                    Err(why) => return MeProbe::NotSent(why),
                };
                let started = Instant::now();
                let answer = client.execute(intercom_api::Request::get("/me").template("/me")).await;
                let latency = started.elapsed();
                match answer {
                    Ok(response) => MeProbe::Answered {
                        latency,
                        me: serde_json::from_slice::<Me>(&response.body).ok().map(Box::new),
                        rate_limit: response.rate_limit(),
                        // Intercom does not echo the version; an unsupported one is refused with 400,
                        // so a 200 was answered under the version sent unless a header says otherwise.
                        version: response
                            .headers
                            .get("intercom-version")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                            .unwrap_or_else(|| self.config.intercom.version.clone()),
                    },
                    Err(error) => MeProbe::Failed { latency, error },
                }
            })
            .await
    }
}
