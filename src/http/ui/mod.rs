//! The dashboard: a plain HTML/CSS/JavaScript page embedded in the binary
//! at compile time (no build step, nothing fetched from elsewhere), served
//! at `/` and `/ui/...` with a Content-Security-Policy that allows only
//! this server's own scripts, styles and connections. The page talks to
//! the same `/scripts/v1` API as every other client.

pub mod access;
pub mod subprotocol;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;

/// No inline script or style, no other origin, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/style.css"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/api.js"),
    },
    Asset {
        name: "views.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/views.js"),
    },
    Asset {
        name: "hooks.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/hooks.js"),
    },
    Asset {
        name: "detail.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/detail.js"),
    },
    Asset {
        name: "schedules.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/schedules.js"),
    },
    Asset {
        name: "charts.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/charts.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
];

/// Registers `/` (GET and HEAD, as a probe sends), `/ui`, `/ui/` and
/// `/ui/...`; call before the catch-all default service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/", web::head().to(index))
        .route("/ui", web::get().to(index))
        .route("/ui/", web::get().to(index))
        .route("/ui/{file}", web::get().to(asset));
}

async fn index() -> HttpResponse {
    serve("index.html").unwrap_or_else(|| HttpResponse::InternalServerError().finish())
}

async fn asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let file = req.match_info().get("file").unwrap_or("");
    let file = if file.is_empty() { "index.html" } else { file };
    serve(file).ok_or(ApiError::BadServerExtension)
}

fn serve(name: &str) -> Option<HttpResponse> {
    let asset = ASSETS.iter().find(|a| a.name == name)?;
    Some(
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, asset.content_type))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(asset.body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_that_are_embedded() {
        let index = ASSETS[0].body;
        for asset in &ASSETS[1..] {
            assert!(
                index.contains(&format!("/ui/{}", asset.name)),
                "index.html links {}",
                asset.name
            );
        }
        for (pos, _) in index.match_indices("/ui/") {
            let rest = &index[pos + 4..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            // The sign-in link is a route (`http::oidc`), not a file.
            if name == "oidc/login" {
                continue;
            }
            assert!(ASSETS.iter().any(|a| a.name == name), "{name} is embedded");
        }
        assert!(!index.contains("<script>"), "no inline script");
        assert!(!index.contains("style="), "no inline style");
    }
}
