//! Domain outcomes of run commands that a client can branch on.

use crate::events::StoreError;

pub use crate::rights::Denial;

/// Why a run command was refused.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("Invalid 'name'.  Script not found.")]
    UnknownScript,
    /// The name is on a line of the exectab that was skipped as malformed.
    #[error("Invalid 'name'.  Script not found: exectab.txt line {line} names it but was skipped ({why}).")]
    SkippedScript { line: usize, why: String },
    #[error("Invalid 'args'.  Expected an array of strings, numbers or booleans.")]
    InvalidArgs,
    #[error("Missing an entry in 'args'.  Expected at least {expected} entries.")]
    MissingArgs { expected: usize },
    #[error("Invalid 'stdin'.  Expected a string.")]
    InvalidStdin,
    #[error("Invalid 'queue'.  Expected an integer UNIX timestamp.")]
    InvalidQueue,
    #[error("Access denied: {0}.")]
    AccessDenied(Denial),
    #[error("This script does not accept 'stdin'.")]
    StdinNotAllowed,
    #[error("'stdin' is too large: {len} bytes, the limit is {limit} bytes.")]
    StdinTooLarge { len: usize, limit: usize },
    #[error("The queue for this script is full: it holds {limit} queued and running runs (-m={limit}); wait for one to finish.")]
    QueueFull { limit: u32 },
    #[error("The script is not queued or running.")]
    NotQueuedOrRunning,
    #[error("The script is already running.")]
    Running,
    #[error("The script is not running.")]
    NotRunning,
    #[error("Invalid 'id'.")]
    InvalidId,
    #[error("The server is shutting down.")]
    ShuttingDown,
    #[error("A database error occurred.")]
    Store(#[from] StoreError),
    #[error("'args' is too large.")]
    ArgsTooLarge,
    #[error("Too many queued runs for this user; wait for some to start.")]
    UserQueueFull,
    #[error("The server is short of resources; try again shortly.")]
    Unavailable,
    /// A read this command needs could not reach the database.
    #[error("The database is unavailable; try again shortly.")]
    DatabaseUnavailable,
}

impl RunError {
    /// The wire errorcode.
    pub fn code(&self) -> &'static str {
        match self {
            RunError::UnknownScript | RunError::SkippedScript { .. } => "invalid_name",
            RunError::InvalidArgs | RunError::MissingArgs { .. } => "invalid_args",
            RunError::InvalidStdin => "invalid_stdin",
            RunError::InvalidQueue => "invalid_queue",
            RunError::AccessDenied(_) => "access_denied",
            RunError::StdinNotAllowed => "stdin_not_allowed",
            RunError::StdinTooLarge { .. } => "stdin_too_large",
            RunError::QueueFull { .. } => "queue_full",
            RunError::NotQueuedOrRunning => "script_not_queued_running",
            RunError::Running => "script_running",
            RunError::NotRunning => "script_not_running",
            RunError::InvalidId => "invalid_id",
            RunError::ShuttingDown => "shutting_down",
            RunError::Store(_) => "db_query_error",
            RunError::ArgsTooLarge => "args_too_large",
            RunError::UserQueueFull => "user_queue_full",
            RunError::Unavailable => "temporarily_unavailable",
            RunError::DatabaseUnavailable => "database_unavailable",
        }
    }
}
