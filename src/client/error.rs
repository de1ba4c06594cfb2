//! Why a client command failed, worded as the one line the CLI prints.
//! Server errors keep their stable `errorcode` so callers can branch on it;
//! with `--json` every error is printed as [`ClientError::envelope`].

/// A failed client call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the URL; `from` says where the URL came from.
    #[error(
        "cannot connect to {url}{}: {reason} — is `scriptd serve` running?",
        from_note(from)
    )]
    Connect {
        url: String,
        from: String,
        reason: String,
    },
    /// The server speaks the other scheme (`https` to a plain server, or
    /// `http` to a TLS one).
    #[error(
        "{url} did not answer as {tried}{}: this server speaks {speaks} (try --url {speaks}://…)",
        from_note(from)
    )]
    WrongScheme {
        url: String,
        from: String,
        tried: &'static str,
        speaks: &'static str,
    },
    /// An `https://` server that cannot be verified (or no CA to verify it).
    #[error("cannot connect securely to {url}: {reason}")]
    Tls { url: String, reason: String },
    /// The server refused the key (`invalid_missing_apikey`), before the
    /// client says which server and which key.
    #[error("the server refused the API key (invalid_missing_apikey) — check --api-key or SCRIPTD_API_KEY")]
    BadKey,
    /// The server at `url` refused the key; `key_from` says where the key
    /// came from, `url_from` where the URL did.
    #[error("the server at {url}{} refused the API key {key_from} (invalid_missing_apikey) — the key was rotated or belongs to another server; pass --api-key, or --url to reach the right server", from_note(url_from))]
    KeyRefused {
        url: String,
        url_from: String,
        key_from: String,
    },
    /// No key was given and no `admin.key` was found.
    #[error("no API key: pass --api-key, set SCRIPTD_API_KEY, or run on the server's host where {path} exists")]
    NoKey { path: String },
    /// No server address can be derived (e.g. `--listen` with port 0).
    #[error("no server address: {0} — pass --url or set SCRIPTD_URL")]
    NoUrl(String),
    /// The script name is unknown to the server (`invalid_name`); `server`
    /// is the server's own message, when it said so.
    #[error("unknown script '{name}' (invalid_name) — `scriptd scripts` lists the scripts; `scriptd exectab check` shows lines the server skipped")]
    UnknownScript {
        name: String,
        server: Option<String>,
    },
    /// The run id is unknown or malformed (`invalid_id`).
    #[error("unknown run id '{id}' (invalid_id)")]
    UnknownId { id: String, server: Option<String> },
    /// A run id prefix that matches more than one run.
    #[error("run id prefix '{prefix}' is ambiguous: it matches {matches} — give more characters")]
    AmbiguousId { prefix: String, matches: String },
    /// The guest id is unknown (`invalid_id` of `guest delete`).
    #[error("unknown guest '{id}' (invalid_id) — `scriptd guest list` shows the guests")]
    UnknownGuest { id: String, server: Option<String> },
    /// Any other API error reply; `hint` says what to do instead.
    #[error("{message} ({code}){}", hint.as_deref().map(|h| format!(" — {h}")).unwrap_or_default())]
    Api {
        code: String,
        message: String,
        hint: Option<String>,
    },
    /// A request the client refuses before asking the server.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// The request could not be completed after connecting.
    #[error("request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The reply was not the JSON the contract promises.
    #[error("unexpected reply from {url}: {reason}")]
    Decode { url: String, reason: String },
    /// A time option that is not a time.
    #[error("invalid time '{0}': use RFC 3339 (2030-01-02T03:04:05Z), a date (2030-01-02), UNIX seconds, or a relative time (+30s, -5m, +2h, -1d)")]
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
    /// The output could not be written.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// ` (from …)` when the origin is known.
fn from_note(from: &str) -> String {
    match from {
        "" => String::new(),
        from => format!(" (from {from})"),
    }
}

impl ClientError {
    /// The stable code: the server's `errorcode`, or a client-side one.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Connect { .. } => "connect_failed",
            ClientError::Tls { .. } => "tls_failed",
            ClientError::WrongScheme { .. } => "wrong_scheme",
            ClientError::BadKey | ClientError::KeyRefused { .. } => "invalid_missing_apikey",
            ClientError::NoKey { .. } => "no_api_key",
            ClientError::NoUrl(_) => "no_url",
            ClientError::UnknownScript { .. } => "invalid_name",
            ClientError::UnknownId { .. } | ClientError::UnknownGuest { .. } => "invalid_id",
            ClientError::AmbiguousId { .. } => "ambiguous_id",
            ClientError::Api { code, .. } => code,
            ClientError::Refused { code, .. } => code,
            ClientError::Http { .. } => "request_failed",
            ClientError::Decode { .. } => "bad_reply",
            ClientError::Time(_) => "invalid_time",
            ClientError::Closed => "connection_closed",
            ClientError::Read { .. } => "read_failed",
            ClientError::Output(_) => "write_failed",
        }
    }

    /// The JSON envelope `--json` prints: the server's own message for an
    /// API error, this error's line for anything else.
    pub fn envelope(&self) -> crate::wire::ErrorReply {
        let message = match self {
            ClientError::Api { message, .. } => message.clone(),
            ClientError::UnknownScript {
                server: Some(message),
                ..
            }
            | ClientError::UnknownId {
                server: Some(message),
                ..
            }
            | ClientError::UnknownGuest {
                server: Some(message),
                ..
            } => message.clone(),
            other => other.to_string(),
        };
        crate::wire::ErrorReply {
            error: message,
            errorcode: self.code().to_owned(),
            success: crate::wire::Failure,
        }
    }

    /// The same error with a hint of what to do instead.
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        match self {
            ClientError::Api { code, message, .. } => ClientError::Api {
                code,
                message,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }

    /// True for an API error with this `errorcode`.
    pub fn is(&self, wanted: &str) -> bool {
        matches!(self, ClientError::Api { code, .. } if code == wanted)
    }
}
