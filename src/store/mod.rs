//! The store: SQLite or MariaDB behind one API. Every query is written once and run on either
//! backend through [`on_pool!`]; migrations live in `migrations/{sqlite,mysql}` with the same
//! numbering and run at start-up.

pub mod accounts;
pub mod audit;
pub mod audit_chain;
pub mod auth;
pub mod chat;
pub mod docs;
pub mod factors;
pub mod guests;
pub mod hardware;
pub mod notifications;
pub mod oidc;
pub mod passkeys;
pub mod pools;
pub mod settings;
pub mod uploads;
pub mod whiteboard;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{MySqlPool, SqlitePool};

use crate::config::DatabaseConfig;

/// Runs `$body` with `$pool` bound to the concrete pool of either backend. The body is compiled
/// once per backend, so one query text serves both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::MySql($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Like [`on_pool!`] for statements: runs `$body` (an `execute`) on either backend and yields
/// `Result<u64, sqlx::Error>`, the number of rows affected.
macro_rules! exec {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($pool) => $body.map(|r| r.rows_affected()),
            $crate::store::Pool::MySql($pool) => $body.map(|r| r.rows_affected()),
        }
    };
}
pub(crate) use exec;

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub enum Pool {
    /// SQLite (embedded default).
    Sqlite(SqlitePool),
    /// MariaDB / MySQL.
    MySql(MySqlPool),
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// MariaDB / MySQL.
    MySql,
}

/// Errors of the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (e.g. a username that exists).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A foreign key refused the write (the referenced row does not exist).
    #[error("refers to a missing row: {0}")]
    MissingReference(String),
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return Self::Conflict(db.message().to_owned());
            }
            if db.is_foreign_key_violation() {
                return Self::MissingReference(db.message().to_owned());
            }
        }
        if matches!(err, sqlx::Error::RowNotFound) {
            return Self::NotFound;
        }
        Self::Database(err)
    }
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database handle: cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    /// Keys the audit chain's hashes and checkpoints ([`Store::with_audit_key`]).
    audit_key: [u8; 32],
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

impl Store {
    /// This handle with the deployment's audit key: the chain's row hashes and checkpoints are
    /// HMACs under it, so someone who can write to the database alone can't forge them.
    pub fn with_audit_key(mut self, key: [u8; 32]) -> Self {
        self.audit_key = key;
        self
    }

    /// The audit key.
    pub(crate) fn audit_key(&self) -> &[u8; 32] {
        &self.audit_key
    }

    /// Connects to the configured database (creating the SQLite file and its folder if needed).
    /// Does not run migrations.
    pub async fn connect(config: &DatabaseConfig) -> StoreResult<Store> {
        match config {
            DatabaseConfig::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                            e.kind(),
                            format!("cannot create {}: {e}", dir.display()),
                        )))
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await?;
                Ok(Store {
                    audit_key: [0; 32],
                    pool: Pool::Sqlite(pool),
                })
            }
            DatabaseConfig::MySql(url) => {
                let options = MySqlConnectOptions::from_str(url.expose())?.charset("utf8mb4");
                let pool = MySqlPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("SET time_zone = '+00:00'")
                                .execute(conn)
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect_with(options)
                    .await?;
                Ok(Store {
                    audit_key: [0; 32],
                    pool: Pool::MySql(pool),
                })
            }
        }
    }

    /// Runs pending migrations of this backend.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Pool::MySql(p) => MYSQL_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match &self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::MySql(_) => Backend::MySql,
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        exec!(self, |p| sqlx::query("SELECT 1").execute(p).await)?;
        Ok(())
    }

    /// Names of the tables that exist (migration bookkeeping excluded), sorted.
    pub async fn table_names(&self) -> StoreResult<Vec<String>> {
        let mut names: Vec<String> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(
                    // The full-text index (`docs_fts` and its shadow tables) is not part of the
                    // schema both backends share: MariaDB keeps it inside `docs`.
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'docs_fts%'",
                )
                .fetch_all(p)
                .await?
            }
            Pool::MySql(p) => {
                sqlx::query_scalar(
                    "SELECT CONVERT(table_name USING utf8mb4) FROM information_schema.tables WHERE table_schema = DATABASE()",
                )
                .fetch_all(p)
                .await?
            }
        };
        names.retain(|n| n != "_sqlx_migrations");
        names.sort();
        Ok(names)
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await);
    }
}

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// A new row id: a UUIDv7 in its simple form (time-ordered, 32 hex digits).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Turns "no row changed" into [`StoreError::NotFound`].
pub(crate) fn expect_one(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// How a store failure reaches a client.
impl From<StoreError> for crate::error::AppError {
    fn from(err: StoreError) -> Self {
        use crate::error::ErrorCode;
        match err {
            StoreError::NotFound => Self::new(ErrorCode::NotFound),
            StoreError::Conflict(_) => Self::with_message(ErrorCode::Conflict, "It already exists"),
            StoreError::MissingReference(_) => Self::with_message(
                ErrorCode::InvalidInput,
                "It refers to something that does not exist",
            ),
            other @ (StoreError::Database(_) | StoreError::Migrate(_)) => Self {
                source: Some(other.into()),
                ..Self::with_message(ErrorCode::Unavailable, "The database is unavailable")
            },
        }
    }
}
