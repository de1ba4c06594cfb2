//! What `scriptd admin migrate-to` copies from a SQLite storage into
//! PostgreSQL: the event log, the accounts, the side table of queued
//! runs' stdin, and the runs rows (which PostgreSQL then refolds from the
//! events, keeping only the rows whose events `admin prune` removed).
//! Rows travel as JSON objects keyed by column name; both schemas name
//! their columns alike. The SQL is in `sqlite::export` and
//! `postgres::import`.

/// A table copied by `migrate-to`, in the order it is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    Guests,
    Events,
    Runs,
    RunStdin,
}

impl Table {
    /// Every copied table, in copy order.
    pub const ALL: [Table; 5] = [
        Table::Users,
        Table::Guests,
        Table::Events,
        Table::Runs,
        Table::RunStdin,
    ];

    /// Its name in both schemas.
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Guests => "guests",
            Table::Events => "events",
            Table::Runs => "runs",
            Table::RunStdin => "run_stdin",
        }
    }
}

/// Rows read per page: bounded memory for any size of log.
pub const PAGE: usize = 5000;
