//! Builds the HTTP application, binds it and runs it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::config::{Config, LoadedSecrets};
use crate::health::{self, Readiness};
use crate::secrets::Secrets;
use crate::webhooks::ingress::{self, IngressState};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; free the port or choose another with --listen (port 0 picks a free one)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A bound, ready-to-run service.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    readiness: Readiness,
    secrets: Secrets,
    refresh_interval: Duration,
    shutdown_timeout: Duration,
}

impl Application {
    /// Binds `config.server.listen` and assembles the routes.
    pub async fn build(config: &Config, secrets: LoadedSecrets) -> Result<Self, StartupError> {
        let data_dir = config.data_dir();
        std::fs::create_dir_all(data_dir).map_err(|source| StartupError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let readiness = Readiness::default();
        let ingress_state = IngressState {
            client_secrets: secrets.client_secrets.clone(),
        };
        let webhooks = Router::new()
            .route(&config.webhooks.path, post(ingress::receive).head(ingress::head))
            .with_state(ingress_state);
        let router = Router::new()
            .route("/livez", get(health::livez))
            .route("/readyz", get(health::readyz))
            .with_state(readiness.clone())
            .merge(webhooks)
            .layer(TraceLayer::new_for_http());
        Ok(Application {
            listener,
            router,
            readiness,
            secrets: Secrets::new(secrets.all()),
            refresh_interval: config.secrets.refresh_interval,
            shutdown_timeout: config.server.shutdown_timeout,
        })
    }

    /// The address actually bound (the port is real even when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has a local address; fall back to the unspecified one defensively.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// (up to `server.shutdown_timeout`) and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let secrets = self.secrets.clone();
        let interval = self.refresh_interval;
        let mut refresh_stop = stop_rx.clone();
        let refresher = tokio::spawn(async move {
            secrets
                .refresh_until(interval, async move {
                    let _ = refresh_stop.wait_for(|s| *s).await;
                })
                .await;
        });

        let readiness = self.readiness.clone();
        let mut drain_started = stop_rx.clone();
        let signal = async move {
            shutdown.await;
            readiness.begin_shutdown();
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            let _ = stop_tx.send(true);
        };
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(signal);
        let drain_timeout = self.shutdown_timeout;
        let drained = async move {
            let _ = drain_started.wait_for(|s| *s).await;
            tokio::time::sleep(drain_timeout).await;
        };
        tokio::select! {
            result = server => result.map_err(StartupError::Serve)?,
            () = drained => tracing::warn!(
                timeout = %humantime::format_duration(drain_timeout),
                "in-flight requests did not finish in time; closing them"
            ),
        }
        refresher.abort();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
