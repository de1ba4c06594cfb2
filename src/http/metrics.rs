//! `GET /metrics`: Prometheus text exposition (key of any user required).

use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::request::{self, Transport};
use super::{api, AppState};
use crate::metrics::Histogram;

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bound, count) in h.bounds.iter().zip(&h.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", h.sum, h.count);
}

/// Renders the counters.
pub async fn get_metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let probe = request::from_head(&req, Transport::Http);
    let principal = api::authenticate(&state, &probe).await?;
    if principal.guest().is_some() {
        return Err(ApiError::AccessDenied);
    }
    let m = &state.metrics;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP scriptd_monitors_connected Open monitor sockets.\n# TYPE scriptd_monitors_connected gauge\nscriptd_monitors_connected {}",
        m.monitors()
    );
    histogram(
        &mut out,
        "scriptd_commit_seconds",
        "Group commit latency.",
        &m.commit_latency(),
    );
    histogram(
        &mut out,
        "scriptd_commit_batch_size",
        "Appends per group commit.",
        &m.commit_batches(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out))
}
