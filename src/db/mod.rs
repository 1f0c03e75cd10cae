//! Storage: one sqlx `Any` pool over SQLite (the default, a file in the data directory) or PostgreSQL, the
//! migrations, and one repository file per aggregate. SQL lives here and nowhere else.

pub mod accounts;
pub mod audit;
pub mod bill_reads;
pub mod bills;
pub mod bindings;
pub mod feed_requests;
pub mod ids;
pub mod jobs;
pub mod messages;
pub mod notifies;
pub mod orders;
pub mod payments;
pub mod refresh_tokens;
pub mod refunds;
mod sql;
pub mod staff;
pub mod users;

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The pool and which backend is behind it.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

pub struct PoolOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Database {
    /// Connects; for SQLite the file and its directory are created on first use, with WAL, a busy timeout and foreign keys.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Database, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or(DbError::UnsupportedUrl)?;
        if backend == Backend::Sqlite {
            create_sqlite_dir(url)?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Database { pool, backend })
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.pool).await?;
        audit::install_guard(&self.pool, self.backend).await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so that two
    /// writers queue on the busy timeout instead of one failing when it upgrades from reading to writing.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_: AnyQueryResult| ())
    }

    /// Connections open and idle, for metrics.
    pub fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_sqlite_dir(url: &str) -> Result<(), DbError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DbError::DataDir(dir.display().to_string(), e))?;
    }
    Ok(())
}
