//! ebill: the backend of an electricity utility's WeChat and Alipay mini-programs. This file builds the application
//! from its settings; the modules hold everything else.

pub mod api;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod feed;
pub mod import;
pub mod jobs;
pub mod metrics;
pub mod payments;
pub mod platform;
pub mod push;
pub mod sandbox;
pub mod sessions;
pub mod state;
pub mod telemetry;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Mode, Settings};
use crate::db::{Database, PoolOptions};
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("database: {0}")]
    Database(#[from] db::DbError),
    #[error("cache: {0}")]
    Cache(#[from] cache::CacheError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("sandbox: {0}")]
    Sandbox(String),
}

/// The database, connected and migrated: all that `ebill migrate` and `ebill import` need.
pub async fn open_storage(settings: &Settings) -> Result<Database, StartError> {
    let db = Database::connect(
        &settings.database_url(),
        PoolOptions {
            max_connections: settings.database.max_connections,
            acquire_timeout: Duration::from_secs(settings.database.acquire_timeout_secs),
        },
    )
    .await?;
    db.migrate().await?;
    Ok(db)
}

/// Storage, cache and secrets, ready for the HTTP server, the workers and the command line. `self_base_url` is where
/// this instance answers (the sandbox's platforms live there).
pub async fn build_state(settings: Settings, clock: SharedClock, self_base_url: &str) -> Result<AppState, StartError> {
    let mode = settings.mode();
    settings.check_credential_files()?;
    let db = open_storage(&settings).await?;
    let cache = cache::connect(settings.redis_url.as_deref(), &settings.cache.key_prefix).await?;
    let feed_secret = match (settings.feed_hmac_secret()?, mode) {
        (Some(secret), _) => Some(secret),
        (None, Mode::Sandbox) => Some(sandbox::keys::feed_secret(&settings.data_dir).map_err(StartError::Sandbox)?),
        (None, Mode::Production) => None,
    };
    let sandbox_keys = match mode {
        Mode::Sandbox => {
            Some(sandbox::keys::SandboxKeys::load_or_create(&settings.data_dir).map_err(StartError::Sandbox)?)
        }
        Mode::Production => None,
    };
    let credentials = platform::credentials::resolve(&settings, mode, self_base_url, sandbox_keys.as_ref())?;
    let customer_tokens = token_keys(
        sessions::tokens::CUSTOMER_AUDIENCE,
        "customer JWT key",
        &settings.sessions.customer_keys,
        sandbox_keys.as_ref().map(|k| (&k.jwt_customer_key_id, &k.jwt_customer_key)),
    )?;
    let staff_tokens = token_keys(
        sessions::tokens::STAFF_AUDIENCE,
        "staff JWT key",
        &settings.staff.token_keys,
        sandbox_keys.as_ref().map(|k| (&k.jwt_staff_key_id, &k.jwt_staff_key)),
    )?;
    let sandbox = sandbox_keys.map(|keys| Arc::new(sandbox::platforms::SandboxPlatforms::new(keys, self_base_url)));
    let http = reqwest::Client::builder()
        .user_agent(concat!("ebill/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        // Platform calls carry secrets in their query strings: never follow them elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| StartError::Sandbox(format!("HTTP client: {e}")))?;
    let late_fee_rules = Arc::new(settings.late_fees.rules());
    Ok(AppState {
        db,
        cache,
        clock,
        settings: Arc::new(settings),
        mode,
        metrics: Arc::default(),
        feed_secret,
        credentials: Arc::new(credentials),
        http,
        sandbox,
        bill_links: Arc::new(sessions::links::BillLinks::derive(customer_tokens.signing_key())),
        late_fee_rules,
        customer_tokens: Arc::new(customer_tokens),
        staff_tokens: Arc::new(staff_tokens),
    })
}

/// The keys of one token audience: the configured files, or else the sandbox's generated key.
fn token_keys(
    audience: &'static str,
    what: &'static str,
    configured: &[config::KeyFile],
    sandbox_key: Option<(&String, &config::Secret)>,
) -> Result<sessions::tokens::TokenKeys, StartError> {
    let mut keys = Vec::new();
    for key in configured {
        keys.push((key.id.clone(), config::Secret::from_file(what, &key.file)?));
    }
    if let (true, Some((id, key))) = (keys.is_empty(), sandbox_key) {
        keys.push((id.clone(), key.clone()));
    }
    sessions::tokens::TokenKeys::new(audience, keys)
        .map_err(|e| StartError::Config(config::ConfigError::Invalid(e.to_string())))
}

/// The HTTP server, bound and ready to run, with the background loops when they run in this process.
pub struct Application {
    port: u16,
    state: AppState,
    server: Server,
    background: Option<jobs::runner::Background>,
}

impl Application {
    /// Connects, migrates, seeds the sandbox's demo data when asked, and binds (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        Application::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> Result<Application, StartError> {
        let listener = TcpListener::bind(&settings.bind).map_err(|e| StartError::Bind(settings.bind.clone(), e))?;
        let port = listener.local_addr().map_err(|e| StartError::Bind(settings.bind.clone(), e))?.port();
        let state = build_state(settings, clock, &format!("http://127.0.0.1:{port}")).await?;
        if state.mode == Mode::Sandbox && state.settings.demo.seed {
            sandbox::demo_data::seed_if_empty(&state).await.map_err(|e| StartError::Sandbox(e.to_string()))?;
            sandbox::demo_staff::seed_if_none(&state).await.map_err(StartError::Sandbox)?;
        }
        let server =
            http_server(state.clone(), listener).map_err(|e| StartError::Bind(state.settings.bind.clone(), e))?;
        let background = state.settings.jobs.run_in_serve.then(|| jobs::runner::start(&state));
        Ok(Application { port, state, server, background })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests and the background loops finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(background) = self.background {
            background.stop().await;
        }
        served
    }
}

fn http_server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let http = state.settings.http.clone();
    let mode = state.mode;
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(api::errors::json_config(http.max_json_bytes))
            .app_data(api::errors::query_config())
            .app_data(api::errors::path_config())
            .wrap(ErrorHandlers::new().default_handler(api::errors::ensure_json_body))
            .wrap(from_fn(api::middleware::observe))
            .configure(|cfg| api::routes(cfg, mode))
            .default_service(web::to(api::errors::not_found))
    })
    .shutdown_timeout(http.shutdown_timeout_secs)
    .listen(listener)?;
    if http.workers > 0 {
        server = server.workers(http.workers);
    }
    Ok(server.run())
}
