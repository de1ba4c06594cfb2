//! Turns an HTTP request (query string plus a JSON or form body) into the
//! transport-neutral [`ApiRequest`] that WebSocket messages also produce.

use std::collections::HashSet;

use actix_web::{web, HttpRequest};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The HTTP method of an API call, whichever transport carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
    Other,
}

impl Method {
    /// Parses a method name, case-insensitively as the original does.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }
}

/// Which transport a call arrived on; a few endpoints differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    WebSocket,
}

/// One API call: method, path, fields and key.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub fields: Map<String, Value>,
    pub key: Option<String>,
    pub peer: Option<String>,
    pub transport: Transport,
    /// Fields that arrived as text (query string, form body): strings by
    /// nature, so a decimal integer is accepted there; JSON fields are typed.
    pub text_fields: HashSet<String>,
    /// The key this request's connection presented earlier, if any.
    pub connection: Option<super::connection::ConnectionKey>,
    /// The dashboard's session cookie, if the request carries one.
    pub session: Option<SessionCookie>,
}

/// A `scriptd_session` cookie and whether its request may use it.
#[derive(Clone)]
pub struct SessionCookie {
    pub token: String,
    /// The request carries `X-Requested-With: scriptd` (or is a WebSocket
    /// whose `Origin` was checked at the upgrade).
    pub requested_with: bool,
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookie")
            .field("token", &"hidden")
            .field("requested_with", &self.requested_with)
            .finish()
    }
}

/// The request's session cookie, if any.
pub fn session_cookie(req: &HttpRequest) -> Option<SessionCookie> {
    Some(SessionCookie {
        token: super::oidc::cookie::read(req, super::oidc::cookie::SESSION)?,
        requested_with: super::oidc::cookie::requested_with(req),
    })
}

/// Adds a urlencoded pair; `a[]` and `a[N]` build arrays, as PHP clients send them.
fn add_pair(fields: &mut Map<String, Value>, key: String, value: String) {
    let (base, is_array) = match key.find('[') {
        Some(pos) if key.ends_with(']') => (key[..pos].to_owned(), true),
        _ => (key, false),
    };
    if !is_array {
        fields.insert(base, Value::String(value));
        return;
    }
    match fields
        .entry(base)
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(items) => items.push(Value::String(value)),
        other => *other = Value::Array(vec![Value::String(value)]),
    }
}

fn parse_pairs(fields: &mut Map<String, Value>, text: &[u8]) -> Result<(), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(text)
        .map_err(|_| ApiError::InvalidData("malformed form data"))?;
    for (key, value) in pairs {
        add_pair(fields, key, value);
    }
    Ok(())
}

/// An [`ApiRequest`] from the request line and headers only (query fields,
/// key from `X-APIKey` or `?apikey=`): WebSocket upgrades and `/metrics`.
pub fn from_head(req: &HttpRequest, transport: Transport) -> ApiRequest {
    let mut fields = Map::new();
    // A malformed query string simply yields no fields here; the key check
    // that follows refuses the request if the key was in it.
    let _ = parse_pairs(&mut fields, req.query_string().as_bytes());
    ApiRequest {
        method: Method::parse(req.method().as_str()),
        path: req.path().to_owned(),
        key: header_key(req),
        peer: req.peer_addr().map(|a| a.ip().to_string()),
        transport,
        text_fields: fields_names(&fields),
        connection: super::connection::of(req),
        session: session_cookie(req),
        fields,
    }
}

fn fields_names(fields: &Map<String, Value>) -> HashSet<String> {
    fields.keys().cloned().collect()
}

fn header_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("X-APIKey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Builds an [`ApiRequest`] from an HTTP request, reading the body within `rules`.
pub async fn from_http(
    req: &HttpRequest,
    payload: web::Payload,
    rules: super::guard::BodyRules,
) -> Result<ApiRequest, ApiError> {
    let cap = rules.cap;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > cap) {
        return Err(ApiError::RequestTooLarge);
    }
    let mut fields = Map::new();
    parse_pairs(&mut fields, req.query_string().as_bytes())?;
    let body = super::guard::read_body(payload, rules).await?;
    let mut json_names = HashSet::new();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // curl -d labels any body as a form; a body that opens like a JSON
        // object is read as JSON whatever its label says.
        let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if content_type.starts_with("application/x-www-form-urlencoded") && !looks_json {
            parse_pairs(&mut fields, &body)?;
        } else {
            // JSON is the default: the PHP SDK and most clients send it, some
            // without a Content-Type.
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => {
                    json_names = fields_names(&map);
                    fields.extend(map);
                    super::raw_args::keep_number_text(&body, &mut fields);
                }
                // The PHP SDK sends `[]` for calls without fields.
                Ok(Value::Array(items)) if items.is_empty() => {}
                _ => {
                    return Err(ApiError::InvalidData(
                        "the body must be a JSON object or form data",
                    ))
                }
            }
        }
    }
    let text_fields = fields_names(&fields)
        .difference(&json_names)
        .cloned()
        .collect();
    Ok(ApiRequest {
        fields,
        text_fields,
        ..from_head(req, Transport::Http)
    })
}

impl ApiRequest {
    /// The key from the header, else from the `apikey` field.
    pub fn api_key(&self) -> Option<&str> {
        self.key
            .as_deref()
            .or_else(|| self.fields.get("apikey").and_then(Value::as_str))
    }

    /// An integer field: a JSON integer, or a decimal string when the field
    /// arrived as text. `None` when it is neither.
    pub fn integer(&self, name: &str, value: &Value) -> Option<i64> {
        match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) if self.text_fields.contains(name) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A field, with JSON `null` counted as absent.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }
}

/// Reads a boolean the way the original accepts them: `true`/`false`, `0`/`1`, `"0"`/`"1"`.
pub fn parse_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.as_str() {
            "0" | "false" => Some(false),
            "1" | "true" => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// Reads an integer given as a JSON number or a numeric string.
pub fn parse_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_arrays_build_json_arrays() {
        let mut fields = Map::new();
        parse_pairs(&mut fields, b"name=x&args[]=a&args[]=b%20c&args[2]=d").unwrap();
        assert_eq!(fields["name"], "x");
        assert_eq!(fields["args"], serde_json::json!(["a", "b c", "d"]));
    }

    #[test]
    fn booleans_accept_the_original_spellings() {
        use serde_json::json;
        for (value, want) in [
            (json!(true), Some(true)),
            (json!(0), Some(false)),
            (json!("1"), Some(true)),
            (json!("yes"), None),
            (json!(2), None),
        ] {
            assert_eq!(parse_bool(&value), want, "{value}");
        }
    }
}
