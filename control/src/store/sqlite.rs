//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`, so a
//! transaction that returned is on disk (a power cut or `kill -9` loses nothing
//! acknowledged). Schema changes are numbered migrations recorded in `user_version`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;

use super::{Entry, Op, Result, Store, StoreError, Txn};

/// Migrations, in order; `user_version` counts those applied.
const MIGRATIONS: &[&str] = &["CREATE TABLE kv (
        key TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL,
        version INTEGER NOT NULL
    ) WITHOUT ROWID;"];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    notify: Arc<Notify>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// An in-memory database, for tests and `--storage memory`.
    pub fn memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            notify: Arc::new(Notify::new()),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Backend("the database lock is poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(backend)?
    }
}

/// Applies the migrations `user_version` says are missing, each in its transaction.
fn migrate(conn: &mut Connection) -> Result<()> {
    let applied: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(backend)?
        .try_into()
        .map_err(backend)?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {applied}; this build knows {}",
            MIGRATIONS.len()
        )));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", n + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn version_of(conn: &Connection, key: &str) -> Result<u64> {
    let v: Option<i64> = conn
        .query_row("SELECT version FROM kv WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    Ok(v.unwrap_or(0).try_into().unwrap_or(0))
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Entry>> {
        let key = key.to_string();
        self.with(move |conn| {
            conn.query_row("SELECT value, version FROM kv WHERE key = ?1", [key], |r| {
                Ok(Entry {
                    value: r.get(0)?,
                    version: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                })
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn range(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Entry)>> {
        let start = prefix.to_string();
        let end = String::from_utf8_lossy(&super::prefix_end(prefix)).into_owned();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT key, value, version FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![start, end, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Entry {
                            value: r.get(1)?,
                            version: r.get::<_, i64>(2)?.try_into().unwrap_or(0),
                        },
                    ))
                })
                .map_err(backend)?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .map_err(backend)
        })
        .await
    }

    async fn txn(&self, txn: Txn) -> Result<bool> {
        let loud = txn.ops.iter().any(|op| match op {
            Op::Put { key, .. } | Op::Delete { key } => super::wakes(key),
        });
        let applied = self
            .with(move |conn| {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(backend)?;
                for c in &txn.compares {
                    if version_of(&tx, &c.key)? != c.version {
                        return Ok(false);
                    }
                }
                for op in &txn.ops {
                    match op {
                        Op::Put { key, value } => tx
                            .execute(
                                "INSERT INTO kv (key, value, version) VALUES (?1, ?2, 1)
                                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = version + 1",
                                params![key, value],
                            )
                            .map_err(backend)?,
                        Op::Delete { key } => tx
                            .execute("DELETE FROM kv WHERE key = ?1", [key])
                            .map_err(backend)?,
                    };
                }
                tx.commit().map_err(backend)?;
                Ok(true)
            })
            .await?;
        if applied && loud {
            self.notify.notify_waiters();
        }
        Ok(applied)
    }

    async fn changed(&self, _prefix: &str, timeout: Duration) {
        // One process owns the file: every write goes through `txn` above.
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
