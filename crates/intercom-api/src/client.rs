//! The client: construction, the token, and the request pipeline
//! (pacer → send → classify → retry), shared by every resource module.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use bytes::Bytes;
use http::Method;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use parking_lot::RwLock;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::attributes::AttributeSchema;
use crate::cache::{ContactCache, ContactCacheConfig};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, ErrorKind, RateLimit};
use crate::models::{AttributeModel, DataAttribute, ListPage};
use crate::pacer::{Feedback, Pacer, PacerConfig, Unpaced, WindowPacer};
use crate::region::Region;
use crate::retry::{Idempotency, RetryPolicy};
use crate::telemetry;
use crate::token::{StaticToken, TokenSource, fingerprint};

/// The API version sent when none is configured (the official Node SDK's default too).
pub const DEFAULT_VERSION: &str = "2.14";
/// Default time allowed for one attempt, connection and body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default lifetime of a cached data-attribute schema.
pub const DEFAULT_SCHEMA_TTL: Duration = Duration::from_secs(300);
/// A schema younger than this is trusted even when it lacks an attribute (no refetch storm).
const SCHEMA_REFRESH_AFTER: Duration = Duration::from_secs(10);

/// An Intercom API client. Clones share the connection pool, the token, the pacer and the caches.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    version: HeaderValue,
    token: RwLock<Arc<dyn TokenSource>>,
    retry: RetryPolicy,
    pacer: Arc<dyn Pacer>,
    clock: SharedClock,
    default_headers: HeaderMap,
    validate_attributes: bool,
    schemas: moka::future::Cache<String, (Arc<AttributeSchema>, u64)>,
    contacts: Option<ContactCache>,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
}

/// Counters of one client (and its clones) since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Attempts sent.
    pub requests: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// 5xx answers received.
    pub server_errors: u64,
    /// Attempts without an answer (timeouts, connection failures).
    pub transport_errors: u64,
}

/// Problems building a client.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No token or token source was given.
    #[error("no access token: call ClientBuilder::token or ClientBuilder::token_source")]
    MissingToken,
    /// The base URL does not parse.
    #[error("invalid base URL {url:?}: {reason} (expected e.g. https://api.intercom.io)")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The API version is not a valid header value.
    #[error("invalid Intercom-Version {0:?}: use a version such as 2.14")]
    InvalidVersion(String),
    /// A default header is invalid.
    #[error("invalid default header {0:?}")]
    InvalidHeader(String),
    /// The HTTP client could not be built (TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

enum PacerChoice {
    Default(PacerConfig),
    Shared(Arc<dyn Pacer>),
}

/// Builds a [`Client`]; see [`Client::builder`].
pub struct ClientBuilder {
    token: Option<Arc<dyn TokenSource>>,
    base_url: Option<String>,
    region: Region,
    version: String,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    pacer: PacerChoice,
    clock: SharedClock,
    default_headers: Vec<(String, String)>,
    validate_attributes: bool,
    schema_ttl: Duration,
    contact_cache: Option<ContactCacheConfig>,
    http: Option<reqwest::Client>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            token: None,
            base_url: None,
            region: Region::Us,
            version: DEFAULT_VERSION.to_string(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            pacer: PacerChoice::Default(PacerConfig::default()),
            clock: Arc::new(SystemClock),
            default_headers: Vec::new(),
            validate_attributes: true,
            schema_ttl: DEFAULT_SCHEMA_TTL,
            contact_cache: None,
            http: None,
        }
    }
}

/// Declares builder setters that store their argument as given.
macro_rules! setters {
    ($($(#[$meta:meta])* $name:ident($param:ident: $ty:ty) => $field:ident;)+) => {
        $(
            $(#[$meta])*
            pub fn $name(mut self, $param: $ty) -> Self {
                self.$field = $param;
                self
            }
        )+
    };
}

impl ClientBuilder {
    /// A fixed access token (it can still be replaced later with [`Client::set_token`]).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Arc::new(StaticToken::new(token)));
        self
    }

    /// A token source consulted on every request (live rotation from a secret store).
    pub fn token_source(mut self, source: impl TokenSource) -> Self {
        self.token = Some(Arc::new(source));
        self
    }

    setters! {
        /// The hosting region (default US); ignored when [`ClientBuilder::base_url`] is set.
        region(region: Region) => region;
    }

    /// A base URL other than the region's: the simulator, a gateway or a proxy.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The `Intercom-Version` header (default 2.14).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    setters! {
        /// Time allowed for one attempt, body included (default 30 s).
        timeout(timeout: Duration) => timeout;
        /// Time allowed to connect (default 10 s).
        connect_timeout(timeout: Duration) => connect_timeout;
        /// The retry policy (default: 4 attempts, 500 ms base, 60 s cap, full jitter).
        retry(policy: RetryPolicy) => retry;
    }

    /// Share of each rate-limit window this client's own pacer may use (default 0.9).
    pub fn budget_fraction(mut self, fraction: f64) -> Self {
        let mut config = match self.pacer {
            PacerChoice::Default(config) => config,
            PacerChoice::Shared(_) => PacerConfig::default(),
        };
        config.budget_fraction = fraction;
        self.pacer = PacerChoice::Default(config);
        self
    }

    /// Settings of this client's own pacer.
    pub fn pacer_config(mut self, config: PacerConfig) -> Self {
        self.pacer = PacerChoice::Default(config);
        self
    }

    /// A pacer shared with other clients (several clients of one token in one process, or a
    /// budget coordinated across replicas).
    pub fn pacer(mut self, pacer: Arc<dyn Pacer>) -> Self {
        self.pacer = PacerChoice::Shared(pacer);
        self
    }

    /// No proactive pacing: requests go out at once and 429s are handled by retries only.
    pub fn unpaced(self) -> Self {
        self.pacer(Arc::new(Unpaced))
    }

    /// The clock for pacing and retry waits (tests pass a manual clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// A header sent with every request (e.g. a tracing header for a gateway).
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.default_headers.push((name.into(), value.into()));
        self
    }

    setters! {
        /// Whether to check custom attributes against the workspace schema before writes (default on).
        validate_attributes(on: bool) => validate_attributes;
        /// How long a fetched data-attribute schema is trusted (default 5 minutes).
        attribute_schema_ttl(ttl: Duration) => schema_ttl;
    }

    /// Enables the read-through contact cache.
    pub fn contact_cache(mut self, config: ContactCacheConfig) -> Self {
        self.contact_cache = Some(config);
        self
    }

    /// Uses an existing connection pool (several clients, one pool). Its own timeouts apply.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, BuildError> {
        let token = self.token.ok_or(BuildError::MissingToken)?;
        let raw_base = self.base_url.unwrap_or_else(|| self.region.base_url().to_string());
        let parsed = url::Url::parse(&raw_base)
            .map_err(|e| BuildError::InvalidBaseUrl { url: raw_base.clone(), reason: e.to_string() })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(BuildError::InvalidBaseUrl {
                url: raw_base,
                reason: "must be an http(s) URL with a host".into(),
            });
        }
        let version = HeaderValue::from_str(&self.version)
            .map_err(|_| BuildError::InvalidVersion(self.version.clone()))?;
        let mut default_headers = HeaderMap::new();
        for (name, value) in &self.default_headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| BuildError::InvalidHeader(name.clone()))?;
            let v = HeaderValue::from_str(value).map_err(|_| BuildError::InvalidHeader(name.clone()))?;
            default_headers.append(n, v);
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .user_agent(concat!("switchboard-intercom-api/", env!("CARGO_PKG_VERSION")))
                .pool_idle_timeout(Duration::from_secs(90))
                .build()?,
        };
        let pacer: Arc<dyn Pacer> = match self.pacer {
            PacerChoice::Default(config) => Arc::new(WindowPacer::with_clock(config, self.clock.clone())),
            PacerChoice::Shared(pacer) => pacer,
        };
        let schemas = moka::future::Cache::builder().max_capacity(8).time_to_live(self.schema_ttl).build();
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url: raw_base.trim_end_matches('/').to_string(),
                version,
                token: RwLock::new(token),
                retry: self.retry,
                pacer,
                clock: self.clock,
                default_headers,
                validate_attributes: self.validate_attributes,
                schemas,
                contacts: self.contact_cache.map(ContactCache::new),
                stats: Counters::default(),
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("token", &self.token)
            .field("base_url", &self.base_url)
            .field("region", &self.region)
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// One API request: method, path, query, JSON body and whether it may be resent.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    template: Cow<'static, str>,
    query: Vec<(String, String)>,
    body: Option<Bytes>,
    idempotency: Idempotency,
}

impl Request {
    /// A request for `path` (already percent-encoded, starting with `/`). POST defaults to
    /// non-idempotent, every other method to idempotent.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let path = path.into();
        let idempotency =
            if method == Method::POST { Idempotency::NonIdempotent } else { Idempotency::Idempotent };
        let template = Cow::Owned(telemetry::endpoint_template(&path));
        Self { method, path, template, query: Vec::new(), body: None, idempotency }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST path` (non-idempotent unless marked otherwise).
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Self {
        // Serialising our own request types (strings, numbers, maps) cannot fail.
        self.body = Some(Bytes::from(serde_json::to_vec(body).unwrap_or_default()));
        self
    }

    /// Sets a raw JSON body.
    pub fn raw_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Declares whether resending is safe.
    pub fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// Overrides the endpoint template used in metrics and errors.
    pub fn template(mut self, template: &'static str) -> Self {
        self.template = Cow::Borrowed(template);
        self
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The endpoint template, e.g. `/contacts/{id}`.
    pub fn endpoint(&self) -> &str {
        &self.template
    }
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl RawResponse {
    /// The rate-limit headers.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        RateLimit::from_headers(&self.headers)
    }
}

/// Percent-encodes one path segment (ids and external ids may contain `/`, spaces, `@`).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Replaces the token for every clone, effective from the next request.
    pub fn set_token(&self, token: impl Into<String>) {
        *self.inner.token.write() = Arc::new(StaticToken::new(token));
    }

    /// Replaces the token source for every clone.
    pub fn set_token_source(&self, source: impl TokenSource) {
        *self.inner.token.write() = Arc::new(source);
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// This client's pacer.
    pub fn pacer(&self) -> Arc<dyn Pacer> {
        self.inner.pacer.clone()
    }

    /// Counters since the client was built.
    pub fn stats(&self) -> ClientStats {
        let s = &self.inner.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            requests: load(&s.requests),
            retries: load(&s.retries),
            rate_limited: load(&s.rate_limited),
            server_errors: load(&s.server_errors),
            transport_errors: load(&s.transport_errors),
        }
    }

    pub(crate) fn contact_cache(&self) -> Option<&ContactCache> {
        self.inner.contacts.as_ref()
    }

    /// Sends a request through the pacer with retries; non-2xx answers become errors.
    pub fn execute(&self, req: Request) -> futures::future::BoxFuture<'_, Result<RawResponse, Error>> {
        // Boxed here so the retry machinery's closure types do not leak into callers' futures,
        // where the compiler cannot prove them `Send` inside higher-ranked contexts (streams).
        Box::pin(self.execute_inner(req))
    }

    async fn execute_inner(&self, req: Request) -> Result<RawResponse, Error> {
        let req = Arc::new(req);
        let policy = &self.inner.retry;
        let span = tracing::debug_span!("intercom.request", method = %req.method, endpoint = %req.template);
        async move {
            let method = req.method.as_str();
            // backon supplies the exponential ceilings; the policy turns each into a full-jitter
            // or rate-limit-reset wait, which backon's own jitter cannot express.
            let mut ceilings = policy.schedule().build();
            let mut attempt = 0;
            let last_error = loop {
                attempt += 1;
                let error = match self.attempt(req.clone(), attempt).await {
                    Ok(response) => return Ok(response),
                    Err(e) => e,
                };
                if !policy.should_retry(&error, req.idempotency) {
                    break error;
                }
                let Some(wait) = policy.delay(&error, ceilings.next(), self.inner.clock.now_millis()) else {
                    break error;
                };
                self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                let reason = error
                    .status()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| error.kind().as_str().to_string());
                telemetry::retry(&req.template, method, &reason);
                tracing::warn!(
                    method,
                    endpoint = %req.template,
                    attempt,
                    reason,
                    wait_ms = wait.as_millis() as u64,
                    request_id = error.request_id().unwrap_or(""),
                    "retrying Intercom request"
                );
                self.inner.clock.sleep(wait).await;
            };
            let e = last_error.with_request(method, &req.template, attempt);
            if req.idempotency == Idempotency::NonIdempotent && e.is_transient() && !e.provably_not_applied()
            {
                Err(e.into_outcome_unknown())
            } else {
                Err(e)
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt: wait for the pacer, send, read, classify, report to the pacer and metrics.
    async fn attempt(&self, req: Arc<Request>, attempt: u32) -> Result<RawResponse, Error> {
        let permit = self.inner.pacer.acquire().await;
        let started = Instant::now();
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        let (result, feedback) = self.send(req.clone()).await;
        permit.complete(&feedback);
        let status_label = match (&result, feedback.status) {
            (_, Some(status)) => status.to_string(),
            (Err(e), None) => e.kind().as_str().to_string(),
            (Ok(_), None) => "unknown".to_string(),
        };
        let s = &self.inner.stats;
        match feedback.status {
            Some(429) => _ = s.rate_limited.fetch_add(1, Ordering::Relaxed),
            Some(500..=599) => _ = s.server_errors.fetch_add(1, Ordering::Relaxed),
            None => _ = s.transport_errors.fetch_add(1, Ordering::Relaxed),
            _ => {}
        }
        telemetry::attempt(
            &req.template,
            req.method.as_str(),
            &status_label,
            started.elapsed(),
            feedback.rate_limit.map(|r| r.remaining),
        );
        tracing::debug!(attempt, status = %status_label, latency_ms = started.elapsed().as_millis() as u64, "intercom attempt");
        result
    }

    async fn send(&self, req: Arc<Request>) -> (Result<RawResponse, Error>, Feedback) {
        let token = self.inner.token.read().token();
        let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) else {
            let e = Error::local(
                ErrorKind::Unauthorized,
                "the access token contains characters not allowed in a header",
            );
            return (Err(e), Feedback::default());
        };
        // Marks the header so HTTP libraries never print it.
        auth.set_sensitive(true);
        let mut url = format!("{}{}", self.inner.base_url, req.path);
        if !req.query.is_empty() {
            let encoded: String =
                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&req.query).finish();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encoded);
        }
        let builder = self
            .inner
            .http
            .request(req.method.clone(), url)
            .headers(self.inner.default_headers.clone())
            .header(AUTHORIZATION, auth)
            .header("Intercom-Version", self.inner.version.clone())
            .header(ACCEPT, "application/json");
        let builder = match &req.body {
            Some(body) => builder.header(CONTENT_TYPE, "application/json").body(body.clone()),
            None => builder,
        };
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return (Err(Error::from_transport(e)), Feedback::default()),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // An HTTP-date Retry-After counts from when the answer arrived, on the client's clock.
        let answered_at = self.inner.clock.now();
        let error_for_retry_after =
            |headers: &HeaderMap| Error::from_response(status, headers, b"", answered_at).retry_after();
        let feedback = Feedback {
            status: Some(status),
            rate_limit: RateLimit::from_headers(&headers),
            retry_after: if status == 429 { error_for_retry_after(&headers) } else { None },
        };
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return (Err(Error::from_transport(e)), feedback),
        };
        if (200..300).contains(&status) {
            (Ok(RawResponse { status, headers, body }), feedback)
        } else {
            (Err(Error::from_response(status, &headers, &body, answered_at)), feedback)
        }
    }

    /// Sends a request and decodes a 2xx JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T, Error> {
        let (method, template) = (req.method.clone(), req.template.clone());
        let response = self.execute(req).await?;
        serde_json::from_slice(&response.body)
            .map_err(|e| Error::decode(e, response.status).with_request(method.as_str(), &template, 1))
    }

    /// The custom-attribute schema of a model, from `GET /data_attributes` (cached with a TTL;
    /// concurrent misses share one request).
    pub async fn attribute_schema(&self, model: AttributeModel) -> Result<Arc<AttributeSchema>, Error> {
        self.schema_entry(model).await.map(|(schema, _)| schema)
    }

    async fn schema_entry(&self, model: AttributeModel) -> Result<(Arc<AttributeSchema>, u64), Error> {
        let key = model.to_string();
        self.inner
            .schemas
            .try_get_with(key.clone(), async {
                let page: ListPage<DataAttribute> = self
                    .call(Request::get("/data_attributes").query("model", &key).template("/data_attributes"))
                    .await?;
                Ok::<_, Error>((
                    Arc::new(AttributeSchema::new(model, &page.data)),
                    self.inner.clock.now_millis(),
                ))
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())
    }

    /// Forgets the cached attribute schemas (after creating an attribute, for example).
    pub fn invalidate_attribute_schemas(&self) {
        self.inner.schemas.invalidate_all();
    }

    /// Checks custom attributes before a write; nothing is sent when they are wrong.
    pub(crate) async fn check_attributes(
        &self,
        model: AttributeModel,
        attributes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Error> {
        if !self.inner.validate_attributes || attributes.is_empty() {
            return Ok(());
        }
        let (schema, fetched_at) = self.schema_entry(model.clone()).await?;
        match schema.validate(attributes) {
            Ok(()) => Ok(()),
            Err(errors) => {
                let age = self.inner.clock.now_millis().saturating_sub(fetched_at);
                // An attribute created since the schema was fetched looks undefined: refetch once,
                // but not for a schema so fresh that refetching would only repeat the answer.
                if AttributeSchema::has_undefined(&errors) && age >= SCHEMA_REFRESH_AFTER.as_millis() as u64 {
                    self.inner.schemas.invalidate(&model.to_string()).await;
                    let (fresh, _) = self.schema_entry(model).await?;
                    return fresh.validate(attributes).map_err(Error::invalid_attributes);
                }
                Err(Error::invalid_attributes(errors))
            }
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = self.inner.token.read().token();
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("version", &self.inner.version)
            .field("token", &fingerprint(token.expose_secret()))
            .field("retry", &self.inner.retry)
            .field("pacer", &self.inner.pacer)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_segment("user/1 a@b"), "user%2F1%20a%40b");
        assert_eq!(encode_segment("65f0aa-_.~"), "65f0aa-_.~");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = Client::builder().token("dG9rOnNlY3JldHRva2Vu").build().expect("builds");
        let shown = format!("{client:?}");
        assert!(!shown.contains("dG9rOnNlY3JldHRva2Vu"), "{shown}");
        assert!(shown.contains("sha256:"), "{shown}");
    }

    #[test]
    fn builder_rejects_bad_settings() {
        assert!(matches!(Client::builder().build(), Err(BuildError::MissingToken)));
        assert!(matches!(
            Client::builder().token("t").base_url("not a url").build(),
            Err(BuildError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            Client::builder().token("t").version("2.14\n").build(),
            Err(BuildError::InvalidVersion(_))
        ));
        let eu = Client::builder().token("t").region(Region::Eu).build().expect("builds");
        assert_eq!(eu.base_url(), "https://api.eu.intercom.io");
        let sim = Client::builder().token("t").base_url("http://127.0.0.1:4010/").build().expect("builds");
        assert_eq!(sim.base_url(), "http://127.0.0.1:4010");
    }
}
