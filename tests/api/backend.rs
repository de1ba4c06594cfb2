//! The backend every server of a test run uses: SQLite (the default) or,
//! with `SCRIPTD_TEST_DATABASE=postgres`, PostgreSQL. On PostgreSQL each
//! storage directory a test uses gets a database of its own,
//! `scriptd_t_<uuid>`, made on the server of `SCRIPTD_TEST_PG_URL`
//! (default `postgres://127.0.0.1:5432/postgres`) and dropped once the
//! storage directory is gone (or when the test binary exits). Servers in
//! this process and child processes alike get its URL.
//!
//! Tests about SQLite itself are listed in `sqlite_only.txt`, the one
//! place that says so: `scripts/test` leaves them out of the PostgreSQL
//! pass, and run by hand under PostgreSQL they use SQLite and say so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// The tests that are about SQLite only, one `module::test` per line.
pub const SQLITE_ONLY: &str = include_str!("sqlite_only.txt");

/// The database server the PostgreSQL pass uses by default.
const DEFAULT_PG_URL: &str = "postgres://127.0.0.1:5432/postgres";

/// How to get a PostgreSQL server, for the failure message.
const HOW_TO_GET_ONE: &str = "start one on 127.0.0.1:5432 that the current user may create \
databases on (as root on Debian, `scripts/test` installs and starts it: apt-get install \
postgresql; pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), or point \
SCRIPTD_TEST_PG_URL at one; or run without SCRIPTD_TEST_DATABASE for SQLite only";

/// Which database the servers of this run use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend of this test run, from `SCRIPTD_TEST_DATABASE`.
pub fn backend() -> Backend {
    match std::env::var("SCRIPTD_TEST_DATABASE").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("SCRIPTD_TEST_DATABASE={other:?}: use sqlite or postgres"),
    }
}

/// Whether the running test is listed in `sqlite_only.txt`.
fn sqlite_only() -> bool {
    let thread = std::thread::current();
    let Some(test) = thread.name() else {
        return false;
    };
    SQLITE_ONLY
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .any(|entry| !entry.is_empty() && test == entry)
}

/// The backend the running test's servers use: this run's, except that a
/// SQLite-only test always uses SQLite (and says so under PostgreSQL).
pub fn backend_here() -> Backend {
    let backend = backend();
    if backend == Backend::Postgres && sqlite_only() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "NOTE {}: about SQLite only (tests/api/sqlite_only.txt): runs on SQLite",
            std::thread::current().name().unwrap_or("?")
        );
        return Backend::Sqlite;
    }
    backend
}

/// A database made for a storage directory.
struct Made {
    name: String,
    /// The directory has existed: once it is gone, the test is over.
    seen: bool,
}

/// Databases made for storage directories, by directory.
static DATABASES: Mutex<Option<HashMap<PathBuf, Made>>> = Mutex::new(None);

/// The `--database` URL of the servers on `storage`: `None` on SQLite; on
/// PostgreSQL a database of its own, made on first use.
pub fn database_url(storage: &Path) -> Option<String> {
    if backend_here() == Backend::Sqlite {
        return None;
    }
    Some(fresh_postgres_database(storage))
}

/// A PostgreSQL database of `storage`'s own whatever this run's backend
/// (tests about PostgreSQL itself), made on first use, dropped as above.
pub fn fresh_postgres_database(storage: &Path) -> String {
    let mut databases = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    let databases = databases.get_or_insert_with(HashMap::new);
    if let Some(made) = databases.get(storage) {
        return url_of(&made.name);
    }
    // Databases of tests that are over (their storage came and went) go
    // now; a storage not made yet keeps its database.
    let mut gone = Vec::new();
    for (path, made) in databases.iter_mut() {
        match path.exists() {
            true => made.seen = true,
            false if made.seen => gone.push(path.clone()),
            false => {}
        }
    }
    for path in gone {
        if let Some(made) = databases.remove(&path) {
            admin(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                made.name
            ));
        }
    }
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registering a plain extern "C" function with atexit.
        unsafe { libc::atexit(drop_all) };
    });
    let name = format!("scriptd_t_{}", uuid::Uuid::now_v7().simple());
    admin(format!("CREATE DATABASE {name}"));
    let seen = storage.exists();
    let made = Made {
        name: name.clone(),
        seen,
    };
    databases.insert(storage.to_path_buf(), made);
    url_of(&name)
}

/// The environment a child `scriptd` on `storage` needs.
pub fn database_env(storage: &Path) -> Vec<(&'static str, String)> {
    database_url(storage)
        .map(|url| vec![("SCRIPTD_DATABASE", url)])
        .unwrap_or_default()
}

extern "C" fn drop_all() {
    let names: Vec<String> = match DATABASES.lock() {
        Ok(mut databases) => databases
            .take()
            .map(|d| d.into_values().map(|made| made.name).collect())
            .unwrap_or_default(),
        Err(_) => return,
    };
    for name in names {
        admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

fn server_url() -> String {
    std::env::var("SCRIPTD_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// The URL of database `name` on the test server.
fn url_of(name: &str) -> String {
    let mut url = url::Url::parse(&server_url()).expect("SCRIPTD_TEST_PG_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Runs one statement on the test server's maintenance database, on a
/// thread of its own (callers may be inside a runtime or not); fails the
/// test, saying how to get a server, when none answers.
fn admin(sql: String) {
    let url = server_url();
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL at {url}: {e}"))?;
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            let _ = conn.close().await;
            Ok::<(), String>(())
        })
    })
    .join()
    .expect("admin thread");
    if let Err(why) = done {
        panic!("PostgreSQL test database: {why}\nTo run the PostgreSQL tests, {HOW_TO_GET_ONE}");
    }
}

/// [`database_env`] for a command line that names its storage with
/// `--storage DIR` (none when it names none, or names its `--database`).
pub fn database_env_for_args<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<(&'static str, String)> {
    if args.iter().any(|arg| arg.as_ref() == "--database") {
        return Vec::new();
    }
    let mut args = args.iter().map(AsRef::as_ref);
    while let Some(arg) = args.next() {
        if arg == "--storage" {
            if let Some(dir) = args.next() {
                return database_env(Path::new(dir));
            }
        }
    }
    Vec::new()
}

/// Runs `work` with a connection to `storage`'s PostgreSQL database, on a
/// thread and runtime of its own, so sync test code can call it.
fn on_postgres<T: Send + 'static>(
    storage: &Path,
    work: impl for<'c> FnOnce(
            &'c mut sqlx::PgConnection,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'c>>
        + Send
        + 'static,
) -> T {
    let url = database_url(storage).expect("a PostgreSQL run");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            work(&mut conn).await
        })
    })
    .join()
    .expect("query thread")
}

/// One integer a query (with `?` for `param`) answers, from `storage`'s
/// database, whichever backend holds it.
pub fn count(storage: &Path, sql: &str, param: &str) -> i64 {
    if database_url(storage).is_none() {
        let conn = rusqlite::Connection::open_with_flags(
            storage.join("scriptd.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the database");
        return conn
            .query_row(sql, [param], |row| row.get(0))
            .expect("count");
    }
    let (sql, param) = (sql.replace('?', "$1"), param.to_owned());
    on_postgres(storage, move |conn| {
        Box::pin(async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(param)
                .fetch_one(conn)
                .await
                .expect("count")
        })
    })
}

/// Every `runs` row of `storage`'s PostgreSQL database as JSON text, by id.
pub fn postgres_runs(storage: &Path) -> Vec<String> {
    on_postgres(storage, |conn| {
        Box::pin(async move {
            sqlx::query_scalar::<_, String>("SELECT row_to_json(r)::text FROM runs r ORDER BY id")
                .fetch_all(conn)
                .await
                .expect("runs")
        })
    })
}

/// The kinds of a run's events, in log order.
pub fn event_kinds(storage: &Path, run: &str) -> Vec<String> {
    if database_url(storage).is_none() {
        let conn = rusqlite::Connection::open_with_flags(
            storage.join("scriptd.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the database");
        let mut select = conn
            .prepare("SELECT kind FROM events WHERE stream = ? ORDER BY seq")
            .expect("prepare");
        let kinds = select
            .query_map([run], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("kinds");
        return kinds;
    }
    let run = run.to_owned();
    on_postgres(storage, move |conn| {
        Box::pin(async move {
            sqlx::query_scalar::<_, String>(
                "SELECT kind FROM events WHERE stream = $1 ORDER BY seq",
            )
            .bind(run)
            .fetch_all(conn)
            .await
            .expect("kinds")
        })
    })
}
