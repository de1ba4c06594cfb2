//! `ApiError`: every error a client can see, with its stable `errorcode`,
//! its HTTP status and the JSON envelope of the wire contract.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::actors::{Denial, RunError};
use crate::events::StoreError;

/// An error reply of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Invalid API call.")]
    InvalidApiCall,
    #[error("POST request required for: {0}")]
    UsePost(String),
    #[error("GET request required for: {0}")]
    UseGet(String),
    #[error("DELETE request required for: {0}")]
    UseDelete(String),
    #[error("WebSocket connection required for: {0}")]
    UseWebsocket(String),
    #[error("Invalid data: {0}")]
    InvalidData(&'static str),
    #[error("Invalid or missing 'apikey'.")]
    InvalidApiKey,
    #[error("Invalid server extension.")]
    BadServerExtension,
    #[error("Request body too large.")]
    RequestTooLarge,
    #[error("Missing or invalid 'api_method'.")]
    MissingApiMethod,
    #[error("Missing or invalid 'api_path'.")]
    MissingApiPath,
    #[error("Missing or invalid 'api_sequence'.")]
    MissingApiSequence,
    #[error("Missing '{0}'.")]
    Missing(&'static str),
    #[error("Invalid '{0}'.")]
    Invalid(&'static str),
    #[error("Access denied.")]
    AccessDenied,
    /// A session cookie on an API call without `X-Requested-With: scriptd`.
    #[error("Access denied: a call signed in with the session cookie needs the header X-Requested-With: scriptd.")]
    CookieWithoutHeader,
    /// A cookie-authenticated WebSocket from another origin.
    #[error("Access denied: this WebSocket's Origin is not this server's public URL.")]
    ForeignOrigin,
    /// Access denied, saying what is missing.
    #[error("Access denied: {0}.")]
    Denied(Denial),
    #[error(transparent)]
    Run(RunError),
    #[error("A database error occurred.")]
    Database(#[source] StoreError),
    #[error("An internal error occurred.")]
    Internal,
    #[error("The request URL is too long.")]
    UriTooLong,
    #[error("The request was not received in time.")]
    RequestTimeout,
    #[error("Refused: {0}.")]
    TooManyConnections(&'static str),
    #[error("Too many WebSocket sessions for this key.")]
    TooManyWebsockets,
    #[error("The server is short of resources; try again shortly.")]
    Unavailable,
    /// A hook's URL that may not be used (SSRF policy, scheme, form).
    #[error("Invalid 'url': {0}.")]
    HookTarget(crate::hook::target::TargetError),
    /// The database cannot be reached (being restarted); nothing was done.
    #[error("The database is unavailable; try again shortly.")]
    DatabaseUnavailable,
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error.cause_chain = ?err, "database error");
        if err.is_resource_shortage() {
            return ApiError::Unavailable;
        }
        if err.is_unavailable() {
            return ApiError::DatabaseUnavailable;
        }
        ApiError::Database(err)
    }
}

impl From<RunError> for ApiError {
    fn from(err: RunError) -> Self {
        match err {
            // A commit that failed because the database is away is the
            // same 503 whichever actor met it.
            RunError::Store(err) if err.is_unavailable() => err.into(),
            RunError::DatabaseUnavailable => ApiError::DatabaseUnavailable,
            other => ApiError::Run(other),
        }
    }
}

impl From<Denial> for ApiError {
    fn from(denial: Denial) -> Self {
        ApiError::Denied(denial)
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(err: actix::MailboxError) -> Self {
        tracing::error!(error = %err, "actor unavailable");
        ApiError::Internal
    }
}

impl ApiError {
    /// The stable code clients branch on.
    pub fn code(&self) -> String {
        let code = match self {
            ApiError::InvalidApiCall => "invalid_api_call",
            ApiError::UsePost(_) => "use_post_request",
            ApiError::UseGet(_) => "use_get_request",
            ApiError::UseDelete(_) => "use_delete_request",
            ApiError::UseWebsocket(_) => "use_websocket",
            ApiError::InvalidData(_) => "invalid_data",
            ApiError::InvalidApiKey => "invalid_missing_apikey",
            ApiError::BadServerExtension => "bad_server_extension",
            ApiError::RequestTooLarge => "request_too_large",
            ApiError::MissingApiMethod => "missing_invalid_api_method",
            ApiError::MissingApiPath => "missing_invalid_api_path",
            ApiError::MissingApiSequence => "missing_invalid_api_sequence",
            ApiError::Missing(field) => return format!("missing_{field}"),
            ApiError::Invalid(field) => return format!("invalid_{field}"),
            ApiError::AccessDenied
            | ApiError::Denied(_)
            | ApiError::CookieWithoutHeader
            | ApiError::ForeignOrigin => "access_denied",
            ApiError::Run(err) => err.code(),
            ApiError::Database(_) => "db_query_error",
            ApiError::Internal => "internal_error",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::UriTooLong => "uri_too_long",
            ApiError::TooManyConnections(_) => "too_many_connections",
            ApiError::TooManyWebsockets => "too_many_websockets",
            ApiError::Unavailable => "temporarily_unavailable",
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::HookTarget(_) => "invalid_url",
        };
        code.to_owned()
    }

    /// The JSON envelope body.
    pub fn body(&self) -> crate::wire::ErrorReply {
        crate::wire::ErrorReply {
            error: self.to_string(),
            errorcode: self.code(),
            success: crate::wire::Failure,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidApiKey
            | ApiError::BadServerExtension
            | ApiError::CookieWithoutHeader
            | ApiError::ForeignOrigin => StatusCode::FORBIDDEN,
            ApiError::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Database(_) | ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Run(RunError::Store(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyConnections(_)
            | ApiError::Unavailable
            | ApiError::DatabaseUnavailable
            | ApiError::Run(RunError::Unavailable | RunError::DatabaseUnavailable) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::TooManyWebsockets => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InvalidApiCall
            | ApiError::UsePost(_)
            | ApiError::UseGet(_)
            | ApiError::UseDelete(_)
            | ApiError::UseWebsocket(_)
            | ApiError::InvalidData(_)
            | ApiError::MissingApiMethod
            | ApiError::MissingApiPath
            | ApiError::MissingApiSequence
            | ApiError::Missing(_)
            | ApiError::Invalid(_)
            | ApiError::AccessDenied
            | ApiError::UriTooLong
            | ApiError::Denied(_)
            | ApiError::HookTarget(_)
            | ApiError::Run(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.body())
    }
}
