//! The service's one path to Intercom's API: the `intercom-api` client built from the
//! configuration, with its token read live from the secret store, behind the kill switch.
//!
//! Both clients come only from here, and both are [`Unavailable::Disabled`] instead of a client when
//! `intercom.enabled = false` (invariant 3: with the kill switch off, no request reaches Intercom).
//! Today the only calls are the health probe's and preflight's `GET /me`, through
//! [`Intercom::probe_client`]; [`Intercom::client`] (retries, the configured timeout, the pacer) is
//! what the outbound gateway will call.

use std::time::Duration;

use intercom_api::{Client, TokenSource};
use secrecy::SecretString;

use crate::config::Config;
use crate::secrets::Secret;

/// Longest a health probe waits for Intercom.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the Intercom token from a live [`Secret`], so a rotation in the secret manager reaches
/// the client on its next request.
#[derive(Debug, Clone)]
pub struct SecretToken(pub Secret);

impl TokenSource for SecretToken {
    fn token(&self) -> SecretString {
        self.0.value()
    }
}

/// Why there is no client to call Intercom with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The kill switch is off.
    #[error("calls to Intercom are switched off (intercom.enabled = false)")]
    Disabled,
    /// No token is configured.
    #[error("intercom.token is not set; write file:/run/secrets/intercom_token or exec:<command>")]
    NoToken,
    /// The client could not be built.
    #[error("the Intercom client could not be built: {0}")]
    Build(String),
}

/// The Intercom connection of the service.
#[derive(Debug, Clone)]
pub struct Intercom {
    client: Result<Client, Unavailable>,
    probe: Result<Client, Unavailable>,
    /// The app id the token must belong to.
    pub expected_app_id: Option<String>,
    /// The region name configured (`us`, `eu`, `au`), or `custom` for a base URL.
    pub region: String,
}

impl Intercom {
    /// Builds the connection from `config` and the resolved token.
    pub fn new(config: &Config, token: Option<&Secret>) -> Self {
        let region = match &config.intercom.endpoint {
            crate::config::IntercomEndpoint::Region(region) => region.as_str().to_owned(),
            crate::config::IntercomEndpoint::BaseUrl(_) => "custom".to_owned(),
        };
        let builder = || match (config.intercom.enabled, token) {
            (false, _) => Err(Unavailable::Disabled),
            (true, None) => Err(Unavailable::NoToken),
            (true, Some(token)) => Ok(Client::builder()
                .token_source(SecretToken(token.clone()))
                .base_url(config.intercom.endpoint.base_url())
                .version(config.intercom.version.clone())),
        };
        let client = builder().and_then(|b| {
            b.timeout(config.intercom.timeout).build().map_err(|e| Unavailable::Build(e.to_string()))
        });
        let probe = match (&client, builder()) {
            (Ok(_), Ok(b)) => b
                .timeout(config.intercom.timeout.min(PROBE_TIMEOUT))
                .retry(intercom_api::RetryPolicy { max_attempts: 1, ..Default::default() })
                // Unpaced: a probe is one request per interval, and a health check must not wait for a
                // window to reset; it reports a 429 as degraded instead.
                .unpaced()
                .build()
                .map_err(|e| Unavailable::Build(e.to_string())),
            (Err(e), _) => Err(e.clone()),
            (_, Err(e)) => Err(e),
        };
        Intercom { client, probe, expected_app_id: config.intercom.expected_app_id.clone(), region }
    }

    /// The client, unless calls to Intercom are unavailable (kill switch off, no token).
    pub fn client(&self) -> Result<&Client, Unavailable> {
        self.client.as_ref().map_err(Clone::clone)
    }

    /// The client for health probes: the same token and host, but no retries (a probe
    /// reports what it sees) and a short timeout, so a probe never holds a health check for long.
    pub fn probe_client(&self) -> Result<&Client, Unavailable> {
        self.probe.as_ref().map_err(Clone::clone)
    }
}
