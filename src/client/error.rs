//! Why a client command failed, worded as the one line the CLI prints.
//! Server errors keep their stable `errorcode` so callers can branch on it.

/// A failed client call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the URL.
    #[error("cannot connect to {url}: {reason} — is `scriptd serve` running?")]
    Connect { url: String, reason: String },
    /// An `https://` server that cannot be verified (or no CA to verify it).
    #[error("cannot connect securely to {url}: {reason}")]
    Tls { url: String, reason: String },
    /// The server refused the key (`invalid_missing_apikey`).
    #[error("the server refused the API key (invalid_missing_apikey) — check --api-key or SCRIPTD_API_KEY")]
    BadKey,
    /// No key was given and no `admin.key` was found.
    #[error("no API key: pass --api-key, set SCRIPTD_API_KEY, or run on the server's host where {path} exists")]
    NoKey { path: String },
    /// The script name is unknown to the server (`invalid_name`).
    #[error("unknown script '{name}' (invalid_name)")]
    UnknownScript { name: String },
    /// The run id is unknown or malformed (`invalid_id`).
    #[error("unknown run id '{id}' (invalid_id)")]
    UnknownId { id: String },
    /// Any other API error reply.
    #[error("{message} ({code})")]
    Api { code: String, message: String },
    /// The request could not be completed after connecting.
    #[error("request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The reply was not the JSON the contract promises.
    #[error("unexpected reply from {url}: {reason}")]
    Decode { url: String, reason: String },
    /// A `--at` / `--expires` value that is not a time.
    #[error("invalid time '{0}': use UNIX seconds, RFC 3339 (2030-01-02T03:04:05Z) or +30s / +5m / +2h / +1d")]
    Time(String),
    /// The monitor WebSocket closed while a reply or push was awaited.
    #[error("the server closed the monitor connection")]
    Closed,
    /// A local file (key, stdin) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
