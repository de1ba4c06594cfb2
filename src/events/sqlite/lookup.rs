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
//! stops working at the next request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use super::record::{columns_of, full, COLUMNS};
use crate::accounts::{Guest, Principal, User};
use crate::events::error::StoreError;
use crate::events::query::{RowState, RunRow};
use crate::events::types::GuestRights;
use crate::ids::{GuestId, RunId, ScriptName, UserId};

/// The columns `user_from_row` reads, in its order (a macro, so that the
/// statements are built at compile time: the key check runs per request).
macro_rules! user_columns {
    () => {
        "id, name, guests, created"
    };
}

/// The columns `guest_from_row` reads, in its order (`g` is `guests`).
macro_rules! guest_columns {
    () => {
        "g.id, g.user_id, g.script, g.can_run, g.can_cancel, g.can_status, \
         g.can_monitor, g.created, g.expires"
    };
}

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
            let user = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE key_hash = ?"
                ))?
                .query_row(params![key_hash], user_from_row)
                .optional()?;
            if let Some(user) = user {
                return Ok(Some(Principal::User(user)));
            }
            let guest = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    guest_columns!(),
                    " FROM guests g JOIN users u ON u.id = g.user_id
                     WHERE g.key_hash = ? AND g.expires > ?"
                ))?
                .query_row(params![key_hash, now], guest_from_row)
                .optional()?;
            Ok(guest.flatten().map(Principal::Guest))
        })
    }

    /// One run of a user from the read model.
    pub fn run(&self, user: UserId, run: RunId) -> Result<Option<RunRow>, StoreError> {
        self.with(|conn| {
            // `info` holds the RunQueued event until the run is done, and
            // its record (less the columns) after: only the record is read.
            let sql = format!(
                "SELECT r.name, r.state, r.forgotten, {COLUMNS} FROM runs r
                 WHERE r.id = ? AND r.user_id = ?"
            );
            let row = conn
                .prepare_cached(&sql)?
                .query_row(params![run.to_string(), user.0], |row| {
                    let state: String = row.get(1)?;
                    let record = match state.as_str() {
                        "done" => Some((row.get::<_, String>(3)?, columns_of(row, 4)?)),
                        _ => None,
                    };
                    Ok((
                        row.get::<_, String>(0)?,
                        state,
                        row.get::<_, bool>(2)?,
                        record,
                    ))
                })
                .optional()?;
            let Some((name, state, forgotten, record)) = row else {
                return Ok(None);
            };
            let record = match record {
                Some((info, columns)) => Some(full(&info, columns)?),
                None => None,
            };
            let Some(name) = ScriptName::parse(&name) else {
                return Ok(None);
            };
            let state = match state.as_str() {
                "queued" => RowState::Queued,
                "running" => RowState::Running,
                _ => RowState::Done,
            };
            Ok(Some(RunRow {
                id: run,
                name,
                state,
                forgotten,
                record,
            }))
        })
    }
}

/// The (id, name) rows of a runs query, skipping what does not parse.
fn run_ids(
    statement: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<(RunId, ScriptName)>> {
    let rows = statement.query_map(params, |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut runs = Vec::new();
    for row in rows {
        let (id, name) = row?;
        if let (Some(id), Some(name)) = (RunId::parse(&id), ScriptName::parse(&name)) {
            runs.push((id, name));
        }
    }
    Ok(runs)
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
            let mut statement = conn.prepare_cached(
                "SELECT id, name FROM runs WHERE id >= ? AND id < ? AND user_id = ? \
                 AND forgotten = 0 ORDER BY id LIMIT ?",
            )?;
            Ok(run_ids(
                &mut statement,
                params![prefix, end, user.0, limit],
            )?)
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
            let mut statement = conn.prepare_cached(
                "SELECT id, name FROM runs WHERE user_id = ? AND forgotten = 0 \
                 AND id LIKE ? ORDER BY id LIMIT ?",
            )?;
            Ok(run_ids(&mut statement, params![user.0, pattern, limit])?)
        })
    }

    /// A user by name.
    pub fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.with(|conn| {
            let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE name = ?");
            Ok(conn
                .prepare_cached(sql)?
                .query_row(params![name], user_from_row)
                .optional()?)
        })
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with(|conn| {
            let sql = concat!("SELECT ", user_columns!(), " FROM users ORDER BY id");
            let mut select = conn.prepare_cached(sql)?;
            let users = select.query_map([], user_from_row)?;
            Ok(users.collect::<Result<_, _>>()?)
        })
    }

    /// The id the next new user gets. Ids are never reused, so the folder
    /// of a removed user cannot be inherited by a new one.
    pub fn next_user_id(&self) -> Result<UserId, StoreError> {
        self.with(|conn| {
            let max: Option<i64> = conn
                .prepare_cached("SELECT MAX(user_id) FROM events WHERE kind = 'UserCreated'")?
                .query_row([], |row| row.get(0))?;
            Ok(UserId(max.unwrap_or(0) + 1))
        })
    }

    /// A user's guests, newest first (expired ones included until deleted).
    pub fn guests(&self, user: UserId) -> Result<Vec<Guest>, StoreError> {
        self.with(|conn| {
            let sql = concat!(
                "SELECT ",
                guest_columns!(),
                " FROM guests g WHERE g.user_id = ? ORDER BY g.created DESC, g.id DESC"
            );
            let mut select = conn.prepare_cached(sql)?;
            let guests = select.query_map(params![user.0], guest_from_row)?;
            let mut out = Vec::new();
            for guest in guests {
                out.extend(guest?);
            }
            Ok(out)
        })
    }

    /// One guest of a user.
    pub fn guest(&self, user: UserId, guest: GuestId) -> Result<Option<Guest>, StoreError> {
        self.with(|conn| {
            let sql = concat!(
                "SELECT ",
                guest_columns!(),
                " FROM guests g WHERE g.user_id = ? AND g.id = ?"
            );
            Ok(conn
                .prepare_cached(sql)?
                .query_row(params![user.0, guest.to_string()], guest_from_row)
                .optional()?
                .flatten())
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

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(0)?),
        name: row.get(1)?,
        guests: row.get(2)?,
        created: row.get(3)?,
    })
}

/// `None` for a row whose ids do not parse (never written by scriptd).
fn guest_from_row(row: &Row<'_>) -> rusqlite::Result<Option<Guest>> {
    let id: String = row.get(0)?;
    let script: String = row.get(2)?;
    let (Some(id), Some(script)) = (GuestId::parse(&id), ScriptName::parse(&script)) else {
        return Ok(None);
    };
    Ok(Some(Guest {
        id,
        user: UserId(row.get(1)?),
        script,
        rights: GuestRights {
            run: row.get(3)?,
            cancel: row.get(4)?,
            status: row.get(5)?,
            monitor: row.get(6)?,
        },
        created: row.get(7)?,
        expires: row.get(8)?,
    }))
}
