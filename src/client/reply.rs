//! Turning what the server answered (or why it could not be reached) into
//! a typed [`ClientError`]: the JSON envelope, unknown names and ids,
//! connection failures.

use actix_http::error::ParseError;
use awc::error::{ConnectError, SendRequestError, WsClientError};
use awc::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ClientError;

/// Decodes the JSON envelope: the reply on success, the typed error else.
pub(super) fn envelope<T: DeserializeOwned>(
    url: &str,
    status: StatusCode,
    bytes: &[u8],
) -> Result<T, ClientError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| ClientError::Decode {
        url: url.to_owned(),
        reason: format!("HTTP {status} with a body that is not JSON"),
    })?;
    check_success(url, value)
}

/// The reply as `T` when it says `success`, else the typed error.
pub(super) fn check_success<T: DeserializeOwned>(
    url: &str,
    value: Value,
) -> Result<T, ClientError> {
    if value.get("success") == Some(&Value::Bool(true)) {
        return serde_json::from_value(value).map_err(|err| ClientError::Decode {
            url: url.to_owned(),
            reason: err.to_string(),
        });
    }
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    match (field("errorcode"), field("error")) {
        (Some(code), _) if code == "invalid_missing_apikey" => Err(ClientError::BadKey),
        (Some(code), message) => Err(ClientError::Api {
            message: message.unwrap_or_else(|| code.clone()),
            code,
            hint: None,
        }),
        (None, _) => Err(ClientError::Decode {
            url: url.to_owned(),
            reason: format!("no success or errorcode in {}", compact(&value)),
        }),
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    text.chars().take(200).collect()
}

pub(super) fn name_error(err: ClientError, name: &str) -> ClientError {
    match err {
        // A skipped exectab line says more than "unknown": keep the server's words.
        ClientError::Api { code, message, .. }
            if code == "invalid_name" && message.contains("was skipped") =>
        {
            ClientError::Api {
                code,
                message,
                hint: Some("fix that line; `scriptd exectab check` lists every bad line".into()),
            }
        }
        ClientError::Api { code, message, .. } if code == "invalid_name" => {
            ClientError::UnknownScript {
                name: name.to_owned(),
                server: Some(message),
            }
        }
        other => other,
    }
}

pub(super) fn id_error(err: ClientError, id: &str) -> ClientError {
    match err {
        ClientError::Api { code, message, .. } if code == "invalid_id" => ClientError::UnknownId {
            id: id.to_owned(),
            server: Some(message),
        },
        other => other,
    }
}

pub(super) fn send_error(url: &str, err: SendRequestError) -> ClientError {
    if let Some(speaks) = other_scheme(url, &err) {
        return ClientError::WrongScheme {
            url: url.to_owned(),
            from: String::new(),
            tried: if speaks == "https" { "http" } else { "https" },
            speaks,
        };
    }
    match err {
        SendRequestError::Connect(ConnectError::Io(io)) if super::tls::describe(&io).is_some() => {
            ClientError::Tls {
                url: url.to_owned(),
                reason: super::tls::describe(&io).unwrap_or_default(),
            }
        }
        SendRequestError::Connect(connect) => ClientError::Connect {
            url: url.to_owned(),
            from: String::new(),
            reason: connect_reason(&connect),
        },
        other => ClientError::Http {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// The scheme the server speaks when `err` shows it answered the other
/// one: a TLS server's alert read as an HTTP reply, or a plain server's
/// HTTP reply read as a TLS record.
fn other_scheme(url: &str, err: &SendRequestError) -> Option<&'static str> {
    let https = url.to_ascii_lowercase().starts_with("https://");
    match err {
        SendRequestError::Response(ParseError::Version) if !https => Some("https"),
        SendRequestError::Connect(ConnectError::Io(io)) if https => {
            let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
            matches!(tls, rustls::Error::InvalidMessage(_)).then_some("http")
        }
        _ => None,
    }
}

fn connect_reason(err: &ConnectError) -> String {
    match err {
        ConnectError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        other => other.to_string(),
    }
}

pub(super) fn ws_error(url: &str, err: WsClientError) -> ClientError {
    match err {
        WsClientError::SendRequest(send) => send_error(url, send),
        WsClientError::InvalidResponseStatus(StatusCode::FORBIDDEN) => ClientError::BadKey,
        other => ClientError::Http {
            url: url.to_owned(),
            reason: format!("WebSocket upgrade failed: {other}"),
        },
    }
}
