//! Point reads of the read model: the key check every request and
//! WebSocket message makes, one run's row, and the users and guests (also
//! for the `user` commands). Each is an in-place read on a read-only
//! connection of the calling thread.
//!
//! Through the sqlx pool, the check cost a round trip to a worker thread
//! per query, a large share of accepting a run (BENCHMARKS.md §
//! Profile-driven fixes, 12). The read itself is two indexed point lookups
//! in pages the OS already caches; WAL readers never wait for the writer. Results are not
//! cached: a key rotated or removed by `scriptd user …` in another process
//! stops working at the next request. The statements and their rows are
//! shared with PostgreSQL (`events::row`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, Params, Row};

use crate::accounts::{Guest, Principal, User};
use crate::events::error::StoreError;
use crate::events::query::RunRow;
use crate::events::row::{account, run, RowGet, SQLITE};
use crate::ids::{GuestId, RunId, ScriptName, UserId};

thread_local! {
    /// One connection per database and thread (tests run many servers).
    static CONNECTIONS: RefCell<HashMap<PathBuf, Connection>> = RefCell::new(HashMap::new());
}

/// Handle for lookups in the database at one path.
#[derive(Clone)]
pub struct Lookup {
    path: Arc<Path>,
}

impl Lookup {
    /// Lookups in the database at `path` (opened on first use per thread).
    pub fn new(path: &Path) -> Self {
        Lookup { path: path.into() }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        CONNECTIONS.with(|cell| {
            let mut connections = cell.borrow_mut();
            if let Some(conn) = connections.get(&*self.path) {
                return read(conn);
            }
            let conn = open(&self.path)?;
            read(connections.entry(self.path.to_path_buf()).or_insert(conn))
        })
    }

    /// Who the key with this hash belongs to, if it is valid at `now`.
    pub fn principal(&self, key_hash: &str, now: i64) -> Result<Option<Principal>, StoreError> {
        self.with(|conn| {
            if let Some(user) = first(conn, account::USER_BY_KEY, params![key_hash], |row| {
                account::user(row)
            })? {
                return Ok(Some(Principal::User(user)));
            }
            let guest = first(conn, account::GUEST_BY_KEY, params![key_hash, now], |row| {
                account::guest(row)
            })?;
            Ok(guest.flatten().map(Principal::Guest))
        })
    }

    /// One run of a user from the read model.
    pub fn run(&self, user: UserId, id: RunId) -> Result<Option<RunRow>, StoreError> {
        self.with(|conn| {
            let sql = run::run_sql(SQLITE.record);
            let row = first(conn, sql, params![id.to_string(), user.0], |row| {
                run::run(row, id, SQLITE.record)
            })?;
            Ok(row.flatten())
        })
    }
}

/// The first row of `sql` with `params`, mapped; `None` when there is none.
pub(super) fn first<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    match rows.next()? {
        Some(row) => Ok(Some(map(row)?)),
        None => Ok(None),
    }
}

/// Every row of `sql` with `params`, mapped.
pub(super) fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

impl Lookup {
    /// The ids of a user's runs that start with `prefix` (lowercase hex
    /// and '-'), with their script names; forgotten runs are left out. At
    /// most `limit`, so an ambiguous prefix costs little.
    pub fn runs_with_prefix(
        &self,
        user: UserId,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
        // A range on the primary key: every id with the prefix sorts
        // between it and the prefix followed by a character above 'f'.
        let end = format!("{prefix}~");
        self.with(|conn| {
            let sql = run::prefix_sql(SQLITE);
            let runs = all(conn, &sql, params![prefix, end, user.0, limit], |row| {
                run::run_id(row)
            })?;
            Ok(runs.into_iter().flatten().collect())
        })
    }

    /// The ids of a user's runs that end with `suffix` (lowercase hex and
    /// '-', so no LIKE wildcard), with their script names; forgotten runs
    /// are left out. At most `limit`. A scan of the user's runs: the short
    /// form is typed by a person, not by a loop.
    pub fn runs_with_suffix(
        &self,
        user: UserId,
        suffix: &str,
        limit: u32,
    ) -> Result<Vec<(RunId, ScriptName)>, StoreError> {
        let pattern = format!("%{suffix}");
        self.with(|conn| {
            let sql = run::suffix_sql(SQLITE);
            let runs = all(conn, &sql, params![user.0, pattern, limit], |row| {
                run::run_id(row)
            })?;
            Ok(runs.into_iter().flatten().collect())
        })
    }

    /// A user by name.
    pub fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.with(|conn| {
            first(conn, account::USER_BY_NAME, params![name], |row| {
                account::user(row)
            })
        })
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with(|conn| all(conn, account::USERS, [], |row| account::user(row)))
    }

    /// The id the next new user gets. Ids are never reused, so the folder
    /// of a removed user cannot be inherited by a new one.
    pub fn next_user_id(&self) -> Result<UserId, StoreError> {
        self.with(|conn| {
            let max = first(conn, account::MAX_USER_ID, [], |row| row.opt_int(0))?;
            Ok(UserId(max.flatten().unwrap_or(0) + 1))
        })
    }

    /// A user's guests, newest first (expired ones included until deleted).
    pub fn guests(&self, user: UserId) -> Result<Vec<Guest>, StoreError> {
        self.with(|conn| {
            let guests = all(conn, account::GUESTS_OF, params![user.0], |row| {
                account::guest(row)
            })?;
            Ok(guests.into_iter().flatten().collect())
        })
    }

    /// One guest of a user.
    pub fn guest(&self, user: UserId, guest: GuestId) -> Result<Option<Guest>, StoreError> {
        self.with(|conn| {
            let params = params![user.0, guest.to_string()];
            Ok(first(conn, account::GUEST, params, |row| account::guest(row))?.flatten())
        })
    }
}

/// A read-only connection with the store's busy timeout.
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}
