//! `GET /metrics`: Prometheus text exposition (key of any user required).

use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::request::{self, Transport};
use super::{api, AppState};
use crate::metrics::{Histogram, Metrics};

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bound, count) in h.bounds.iter().zip(&h.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", h.sum, h.count);
}

/// A label value with backslashes, quotes and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn runs(out: &mut String, m: &Metrics) {
    let _ = writeln!(
        out,
        "# HELP scriptd_runs_total Runs that reached a final state, by outcome.\n# TYPE scriptd_runs_total counter"
    );
    for (outcome, count) in m.runs_by_outcome() {
        let _ = writeln!(
            out,
            "scriptd_runs_total{{outcome=\"{}\"}} {count}",
            outcome.as_str()
        );
    }
}

fn queues(out: &mut String, m: &Metrics) {
    let gauges = m.queue_gauges();
    let series = [
        ("scriptd_queue_depth", "Accepted runs waiting to start."),
        ("scriptd_runs_running", "Runs holding a -s slot."),
    ];
    for (i, (name, help)) in series.into_iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for gauge in &gauges {
            let (queued, running) = gauge.get();
            let value = if i == 0 { queued } else { running };
            let _ = writeln!(
                out,
                "{name}{{user=\"{}\",script=\"{}\"}} {value}",
                gauge.user,
                label(gauge.script.as_str())
            );
        }
    }
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
    runs(&mut out, m);
    queues(&mut out, m);
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
    histogram(
        &mut out,
        "scriptd_housekeeping_seconds",
        "Retention and vacuum steps on the writer; a commit waits at most one.",
        &m.chore_latency(),
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_housekeeping_max_seconds Longest retention or vacuum step.\n# TYPE scriptd_housekeeping_max_seconds gauge\nscriptd_housekeeping_max_seconds {}",
        m.chore_max().as_secs_f64()
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out))
}
