//! The shared statements run on SQLite as written: `$n` parameters are
//! bound by number through sqlx and, through rusqlite, by the order SQLite
//! numbers them in (a new `$name` gets the next number), so each must
//! first appear in ascending order.

use super::{account, change, event, run, EventForm, RecordForm, POSTGRES, SQLITE};

/// Every shared statement, with what it is.
fn statements() -> Vec<(&'static str, String)> {
    let mut all: Vec<(&'static str, String)> = vec![
        ("user by key", account::USER_BY_KEY.into()),
        ("guest by key", account::GUEST_BY_KEY.into()),
        ("user by name", account::USER_BY_NAME.into()),
        ("users", account::USERS.into()),
        ("guests of", account::GUESTS_OF.into()),
        ("guest", account::GUEST.into()),
        ("max user id", account::MAX_USER_ID.into()),
        ("account changes", account::ACCOUNT_CHANGES_AFTER.into()),
        (
            "removed users",
            account::REMOVED_USERS_WITH_LIVE_RUNS.into(),
        ),
        ("open sessions", event::OPEN_SESSIONS_SQLITE.into()),
        ("stdin", event::STDIN.into()),
        ("add user", change::ADD_USER.into()),
        ("rotate key", change::ROTATE_KEY.into()),
        ("add guest", change::ADD_GUEST.into()),
        ("delete guest", change::DELETE_GUEST.into()),
        ("add hook", change::ADD_HOOK.into()),
        ("pause hook", change::PAUSE_HOOK.into()),
    ];
    for form in [EventForm::Full, EventForm::Compact] {
        let i = form as usize;
        all.push(("events after", event::EVENTS_AFTER[i].into()));
        all.push(("run events after", event::RUN_EVENTS_AFTER[i].into()));
        all.push(("unfinished of", event::UNFINISHED_OF[i].into()));
    }
    for form in [RecordForm::Whole, RecordForm::Split] {
        all.push(("run", run::run_sql(form).into()));
    }
    for d in [POSTGRES, SQLITE] {
        all.push(("prefix", run::prefix_sql(d)));
        all.push(("suffix", run::suffix_sql(d)));
    }
    all
}

/// The `$n` of `sql` in the order they first appear.
fn first_appearances(sql: &str) -> Vec<usize> {
    let mut seen = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<usize>() {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
    }
    seen
}

#[test]
fn every_shared_statement_numbers_its_parameters_in_order_of_appearance() {
    for (what, sql) in statements() {
        let seen = first_appearances(&sql);
        let expected: Vec<usize> = (1..=seen.len()).collect();
        assert_eq!(seen, expected, "{what}: {sql}");
    }
}

#[tokio::test]
async fn every_shared_statement_prepares_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("scriptd.db");
    let (_writer, _readers) = crate::events::sqlite::open(&path).await.expect("migrates");
    let conn = rusqlite::Connection::open(&path).expect("open");
    for (what, sql) in statements() {
        if sql.contains("::") {
            continue; // PostgreSQL's casts: its tests run them
        }
        let statement = conn.prepare(&sql).unwrap_or_else(|e| panic!("{what}: {e}"));
        let numbered = first_appearances(&sql).len();
        assert_eq!(statement.parameter_count(), numbered, "{what}");
    }
}

#[tokio::test]
async fn dollar_parameters_bind_by_number_through_both_sqlite_drivers() {
    let sql = "SELECT $1 || '-' || $2, $1";
    let conn = rusqlite::Connection::open_in_memory().expect("open");
    let (joined, first): (String, String) = conn
        .query_row(sql, rusqlite::params!["a", "b"], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .expect("rusqlite");
    assert_eq!((joined.as_str(), first.as_str()), ("a-b", "a"));

    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("open");
    // Out of their textual order: sqlx binds `$n` by n, not by place.
    let (joined, first): (String, String) = sqlx::query_as("SELECT $2 || '-' || $1, $2")
        .bind("b")
        .bind("a")
        .fetch_one(&mut conn)
        .await
        .expect("sqlx");
    assert_eq!((joined.as_str(), first.as_str()), ("a-b", "a"));
}

#[test]
fn the_split_columns_are_the_records_columns_in_order() {
    let listed: Vec<&str> = run::SPLIT_COLUMNS
        .trim_start_matches(", ")
        .split(", ")
        .collect();
    assert_eq!(listed, crate::events::sqlite::record::IN_COLUMNS);
}
