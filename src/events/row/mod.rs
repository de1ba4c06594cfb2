//! One mapping of rows for both backends (issue 29 item 5). The SQLite
//! store reads through rusqlite (point reads, the writer) and sqlx (the
//! pool); the PostgreSQL store through sqlx. Each of those row types
//! implements [`RowGet`], typed reads by place, and each row type the
//! store answers with (a user, a guest, a run, a history row, a stored
//! event) is mapped by one function here over any [`RowGet`]. Statements
//! that both databases run as they are live here too, written with
//! `$n` parameters, which SQLite reads as numbered ones (see `tests`).
//!
//! What stays in the backends: the execution (pool, cached statement,
//! error context), and what really differs, held in a [`Dialect`]: how
//! `forgotten` is tested where a partial index must match, how a done
//! run's record is kept (whole in `info` on PostgreSQL; `info` less the
//! columns on SQLite, `sqlite::record`) and an event's stored form (full
//! `jsonb` on PostgreSQL; the compact text of `compact` on SQLite).
//!
//! A new column: add it to its row type's column list here, once for
//! both databases (`user_columns!` / `guest_columns!` in [`account`];
//! `select_run!` and `history_select` in [`run`]; `event_columns!` in
//! [`event`]), and read it by its place in that row type's function
//! ([`account::user`], [`run::run`], [`event::stored_event`] …). A column
//! that is part of a done run's record goes to `sqlite::record`'s
//! `IN_COLUMNS` and `split_columns!` on SQLite, and stays in `info` on
//! PostgreSQL. A column only one backend has (PostgreSQL's `node`) stays
//! in that backend's own statement.

pub mod account;
pub mod change;
mod driver;
pub mod event;
pub mod run;

use super::error::StoreError;

/// Typed reads of one result row by column place, whichever driver
/// produced it. Text is borrowed from the row, never copied.
pub trait RowGet {
    /// A `TEXT` column that is never `NULL`.
    fn text(&self, i: usize) -> Result<&str, StoreError>;
    /// A `TEXT` column that may be `NULL`.
    fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError>;
    /// An integer column (`INTEGER` on SQLite, `BIGINT` on PostgreSQL).
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// An integer column that may be `NULL`.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A `REAL` / `DOUBLE PRECISION` column.
    fn real(&self, i: usize) -> Result<f64, StoreError>;
    /// A real column that may be `NULL`.
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    /// A flag (`INTEGER` 0/1 on SQLite, `BOOLEAN` on PostgreSQL).
    fn flag(&self, i: usize) -> Result<bool, StoreError>;
}

/// How a done run's record is kept in `runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordForm {
    /// The whole record's JSON in `info` (PostgreSQL).
    Whole,
    /// `info` less the columns of `sqlite::record::IN_COLUMNS` (SQLite).
    Split,
}

/// How an event's `data` is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventForm {
    /// The full serde form (PostgreSQL's `jsonb`, read as text).
    Full = 0,
    /// The compact form of [`crate::events::compact`], which needs the
    /// row's `stream` back (SQLite).
    Compact = 1,
}

/// What differs between the two databases' statements and rows.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// "not forgotten", spelled as the history indexes' predicate is, so
    /// that the planner matches them.
    pub not_forgotten: &'static str,
    pub record: RecordForm,
    pub events: EventForm,
}

/// PostgreSQL's statements and rows.
pub const POSTGRES: Dialect = Dialect {
    not_forgotten: "NOT forgotten",
    record: RecordForm::Whole,
    events: EventForm::Full,
};

/// SQLite's statements and rows.
pub const SQLITE: Dialect = Dialect {
    not_forgotten: "forgotten = 0",
    record: RecordForm::Split,
    events: EventForm::Compact,
};

#[cfg(test)]
mod tests;
