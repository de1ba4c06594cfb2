//! The key of a browser's WebSocket. Browsers cannot set headers on a
//! WebSocket and a key in the URL ends up in logs and history, so the page
//! offers two subprotocols: [`PROTOCOL`] and `scriptd.apikey.<key>` (keys
//! are hex, a valid protocol token). The server takes the key from the
//! second and echoes only the first, so the key is never sent back. This
//! is how Kubernetes carries bearer tokens on browser WebSockets.

use actix_web::http::header::SEC_WEBSOCKET_PROTOCOL;
use actix_web::HttpRequest;

/// The subprotocol the server selects and echoes.
pub const PROTOCOL: &str = "scriptd.v1";
/// The prefix of the subprotocol that carries the key.
pub const KEY_PREFIX: &str = "scriptd.apikey.";
/// What the upgrade may answer in `Sec-WebSocket-Protocol`.
pub const ACCEPTED: &[&str] = &[PROTOCOL];

/// The key offered as a subprotocol, if any.
pub fn key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|token| token.trim().strip_prefix(KEY_PREFIX))
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_key_is_read_from_the_offered_subprotocols() {
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            (
                "one header",
                &["scriptd.v1, scriptd.apikey.abc"],
                Some("abc"),
            ),
            (
                "two headers",
                &["scriptd.v1", "scriptd.apikey.def"],
                Some("def"),
            ),
            ("no key offered", &["scriptd.v1"], None),
            ("empty key", &["scriptd.v1, scriptd.apikey."], None),
            ("no header", &[], None),
        ];
        for (what, headers, want) in cases {
            let mut req = TestRequest::default();
            for value in *headers {
                req = req.append_header((SEC_WEBSOCKET_PROTOCOL, *value));
            }
            let got = key(&req.to_http_request());
            assert_eq!(got.as_deref(), *want, "{what}");
        }
    }
}
