//! The real service started in-process on an ephemeral port, from a folder holding its config,
//! secrets and SQLite store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchboard::clock::SharedClock;
use switchboard::config::{Config, ConfigLoader, Overrides};
use switchboard::startup::Application;
use switchboard::store::Store;
use tokio::sync::oneshot;

use super::{ADMIN_KEY, CLIENT_SECRET, DESTINATION_SECRET, ROTATED_SECRET, post_signed, write_secrets};

/// A service's folder: the test secrets as files, its config and its store. It outlives the service,
/// so a test can start it again on the same data.
pub struct AppDir {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl AppDir {
    /// A temporary folder with a config that listens on an ephemeral port, stores in `data/` and
    /// retries deliveries within milliseconds; `extra` is appended, with `{dir}` replaced by the
    /// folder's path. The files `client_secret`, `rotated_secret`, `dest_secret` and `admin_key` hold
    /// [`CLIENT_SECRET`], [`ROTATED_SECRET`], [`DESTINATION_SECRET`] and [`ADMIN_KEY`].
    pub fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_secrets(
            dir.path(),
            &[
                ("client_secret", CLIENT_SECRET),
                ("rotated_secret", ROTATED_SECRET),
                ("dest_secret", DESTINATION_SECRET),
                ("admin_key", ADMIN_KEY),
            ],
        );
        let d = dir.path().display().to_string();
        let extra = extra.replace("{dir}", &d);
        let text = format!(
            r#"
            [server]
            listen = "127.0.0.1:0"
            shutdown_timeout = "5s"
            [webhooks]
            client_secrets = ["file:{d}/client_secret"]
            [store]
            url = "sqlite://{d}/data/switchboard.db"
            [admin]
            key = "file:{d}/admin_key"
            [delivery]
            retry_schedule = ["50ms", "100ms", "150ms"]
            lease = "30s"
            poll_interval = "20ms"
            {extra}
            "#
        );
        let config = dir.path().join("switchboard.toml");
        std::fs::write(&config, text).unwrap();
        AppDir { dir, config }
    }

    /// `dir` with a config the test wrote itself at `config`.
    pub fn with_config(dir: tempfile::TempDir, config: PathBuf) -> Self {
        AppDir { dir, config }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The config file.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// Writes the file `name` in the folder (a secret, a certificate).
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.path().join(name), contents).unwrap();
    }

    /// Replaces `from` with `to` in the config; `from` must be in it.
    pub fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(from), "the config has no {from:?}:\n{text}");
        std::fs::write(&self.config, text.replace(from, to)).unwrap();
    }

    /// Starts the service on the system clock.
    pub async fn spawn(self) -> TestApp {
        self.start(None, None).await
    }

    /// Starts the service with every time-dependent part on `clock`.
    pub async fn spawn_on(self, clock: SharedClock) -> TestApp {
        self.start(Some(clock), None).await
    }

    /// Starts the service on `store`, which the test opened itself (on the config's `store.url`)
    /// to keep a handle of its concrete type.
    pub async fn spawn_on_store(self, store: Arc<dyn Store>) -> TestApp {
        self.start(None, Some(store)).await
    }

    async fn start(self, clock: Option<SharedClock>, store: Option<Arc<dyn Store>>) -> TestApp {
        let config = ConfigLoader::new(Some(self.config.clone()), Overrides::default())
            .with_env(vec![])
            .load()
            .unwrap();
        let secrets = config.load_secrets().await.unwrap();
        let app = match (clock, store) {
            (_, Some(store)) => Application::build_on(&config, secrets, store).await.unwrap(),
            (Some(clock), None) => Application::build_with(&config, secrets, clock).await.unwrap(),
            (None, None) => Application::build(&config, secrets).await.unwrap(),
        };
        let addr = app.local_addr();
        let internal_addr = app.internal_addr();
        let store = app.store();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            addr,
            internal_addr,
            store,
            dir: self,
            config,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// Starts the service with the config of [`AppDir::new`] plus `extra`.
pub async fn spawn_app(extra: &str) -> TestApp {
    AppDir::new(extra).spawn().await
}

/// [`spawn_app`] with every time-dependent part on `clock`.
pub async fn spawn_app_on(extra: &str, clock: SharedClock) -> TestApp {
    AppDir::new(extra).spawn_on(clock).await
}

/// A running service.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its internal listener listens, when `server.internal_listen` is set.
    pub internal_addr: Option<SocketAddr>,
    /// Its store, to look at what it recorded.
    pub store: Arc<dyn Store>,
    /// Its folder.
    pub dir: AppDir,
    /// The configuration it was started with.
    pub config: Config,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// The URL of `path` on the service.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts `body` to the default app's webhook path, signed with [`CLIENT_SECRET`].
    pub async fn notify(&self, body: &str) -> reqwest::Response {
        post_signed(&self.http, &self.url("/webhooks/intercom"), CLIENT_SECRET, body).await
    }

    /// GETs `path` with the admin key; the answer must be 200 with a JSON body, which is returned.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let response = self.http.get(self.url(path)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        json_ok(response).await
    }

    /// POSTs `body` (JSON, or nothing) to `path` with the admin key; the answer must be 200 with a
    /// JSON body, which is returned.
    pub async fn admin_post(&self, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let mut request = self.http.post(self.url(path)).bearer_auth(ADMIN_KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_ok(request.send().await.unwrap()).await
    }

    /// Stops the service gracefully and waits for it; returns its folder so that a test can start it
    /// again on the same config and data.
    pub async fn stop(mut self) -> AppDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.dir
    }
}

async fn json_ok(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
