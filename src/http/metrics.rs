//! `GET /metrics`: Prometheus text exposition. The whole server's series
//! need an operator credential (the configured metrics token as a bearer
//! token, or the `admin` user's key); any other user's key sees only the
//! series labelled with that user.

use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::ApiError;
use super::request::{self, Transport};
use super::{api, AppState};
use crate::accounts::Principal;
use crate::metrics::{ClusterGauges, Histogram, Metrics, NodeGauge};
use crate::rights::{self, Action};

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

fn queues(out: &mut String, m: &Metrics, only: Option<crate::ids::UserId>) {
    let mut gauges = m.queue_gauges();
    if let Some(user) = only {
        gauges.retain(|g| g.user == user);
    }
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

/// Who may read which series.
enum Reader {
    Operator,
    User(crate::ids::UserId),
}

/// The user named `admin` (created on first run) is the operator.
const OPERATOR_USER: &str = "admin";

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Compares in time independent of where the first difference is.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn reader(state: &AppState, req: &HttpRequest) -> Result<Reader, ApiError> {
    if let (Some(token), Some(given)) = (&state.config.limits.metrics_token, bearer(req)) {
        return if same(token, given) {
            Ok(Reader::Operator)
        } else {
            Err(ApiError::InvalidApiKey)
        };
    }
    let probe = request::from_head(req, Transport::Http);
    let principal = api::authenticate(state, &probe).await?;
    // Refused with the plain `Access denied.` this endpoint always gave.
    rights::check(&principal, Action::ReadMetrics).map_err(|_| ApiError::AccessDenied)?;
    match principal {
        Principal::User(user) if user.name == OPERATOR_USER => Ok(Reader::Operator),
        other => Ok(Reader::User(other.user_id())),
    }
}

/// Renders the counters.
pub async fn get_metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let m = &state.metrics;
    let mut out = String::new();
    match reader(&state, &req).await? {
        Reader::User(user) => queues(&mut out, m, Some(user)),
        Reader::Operator => operator_series(&mut out, m),
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out))
}

fn operator_series(out: &mut String, m: &Metrics) {
    let _ = writeln!(
        out,
        "# HELP scriptd_monitors_connected Open monitor sockets.\n# TYPE scriptd_monitors_connected gauge\nscriptd_monitors_connected {}",
        m.monitors()
    );
    runs(out, m);
    queues(out, m, None);
    histogram(
        out,
        "scriptd_commit_seconds",
        "Group commit latency.",
        &m.commit_latency(),
    );
    histogram(
        out,
        "scriptd_commit_batch_size",
        "Appends per group commit.",
        &m.commit_batches(),
    );
    histogram(
        out,
        "scriptd_housekeeping_seconds",
        "Retention and vacuum steps on the writer; a commit waits at most one.",
        &m.chore_latency(),
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_housekeeping_max_seconds Longest retention or vacuum step.\n# TYPE scriptd_housekeeping_max_seconds gauge\nscriptd_housekeeping_max_seconds {}",
        m.chore_max().as_secs_f64()
    );
    ticks(out, m);
    if let Some(cluster) = m.cluster() {
        cluster_series(out, &cluster);
    }
}

/// Schedules: ticks this node started and skipped, and their lateness.
fn ticks(out: &mut String, m: &Metrics) {
    let late = m.tick_lateness();
    let _ = writeln!(
        out,
        "# HELP scriptd_schedule_ticks_started_total Schedule ticks that queued a run on this node.\n# TYPE scriptd_schedule_ticks_started_total counter\nscriptd_schedule_ticks_started_total {}",
        late.count
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_schedule_ticks_skipped_total Schedule ticks recorded without a run, by reason.\n# TYPE scriptd_schedule_ticks_skipped_total counter"
    );
    for (reason, count) in m.ticks_skipped() {
        let _ = writeln!(
            out,
            "scriptd_schedule_ticks_skipped_total{{reason=\"{reason}\"}} {count}"
        );
    }
    let [owner, standby, yielded] = m.tick_owners();
    let _ = writeln!(
        out,
        "# HELP scriptd_schedule_ticks_fired_total Schedule ticks this node fired: as their owner, or standing in for an owner whose record did not come in time (cluster).\n# TYPE scriptd_schedule_ticks_fired_total counter\nscriptd_schedule_ticks_fired_total{{as=\"owner\"}} {owner}\nscriptd_schedule_ticks_fired_total{{as=\"standby\"}} {standby}"
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_schedule_ticks_yielded_total Ticks another node owned that this node stood by for and left to it (cluster).\n# TYPE scriptd_schedule_ticks_yielded_total counter\nscriptd_schedule_ticks_yielded_total {yielded}"
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_schedules Schedules this node's timer holds, by phase.\n# TYPE scriptd_schedules gauge"
    );
    for (phase, count) in ["ticking", "adopting", "paused"]
        .into_iter()
        .zip(m.schedules())
    {
        let _ = writeln!(out, "scriptd_schedules{{phase=\"{phase}\"}} {count}");
    }
    histogram(
        out,
        "scriptd_schedule_tick_lateness_seconds",
        "From a tick's due instant to its run queued.",
        &late,
    );
}

/// A per-node gauge: its name, its help, and its value for a node.
type NodeSeries = (&'static str, &'static str, fn(&NodeGauge) -> f64);

/// The cluster view: this node's lease, then every node as the database
/// last showed it (refreshed every lease renewal, not per scrape).
fn cluster_series(out: &mut String, c: &ClusterGauges) {
    let me = label(&c.node);
    let alive = c.nodes.iter().filter(|n| n.alive).count();
    let _ = writeln!(
        out,
        "# HELP scriptd_cluster_fenced 1 while this node holds no valid lease and starts nothing.\n# TYPE scriptd_cluster_fenced gauge\nscriptd_cluster_fenced{{node=\"{me}\"}} {}",
        u8::from(c.fenced)
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_cluster_lease_losses_total Times this node found its lease lost.\n# TYPE scriptd_cluster_lease_losses_total counter\nscriptd_cluster_lease_losses_total{{node=\"{me}\"}} {}",
        c.lease_losses
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_cluster_rescued_runs_total Running runs of lost nodes this node ended interrupted.\n# TYPE scriptd_cluster_rescued_runs_total counter\nscriptd_cluster_rescued_runs_total{{node=\"{me}\"}} {}",
        c.rescued
    );
    let _ = writeln!(
        out,
        "# HELP scriptd_cluster_nodes_alive Nodes holding a valid lease.\n# TYPE scriptd_cluster_nodes_alive gauge\nscriptd_cluster_nodes_alive {alive}"
    );
    let series: [NodeSeries; 4] = [
        (
            "scriptd_cluster_node_alive",
            "1 while the node holds a valid lease.",
            |n| f64::from(u8::from(n.alive)),
        ),
        (
            "scriptd_cluster_node_lease_expiry_seconds",
            "When the node's lease ends (Unix time, database clock).",
            |n| n.lease_until,
        ),
        (
            "scriptd_cluster_node_runs_running",
            "Runs running on the node, on record.",
            |n| n.running as f64,
        ),
        (
            "scriptd_cluster_node_epoch",
            "The node's incarnation (one more at each start or rejoin).",
            |n| n.epoch as f64,
        ),
    ];
    for (name, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for node in &c.nodes {
            let _ = writeln!(
                out,
                "{name}{{node=\"{}\"}} {}",
                label(&node.name),
                value(node)
            );
        }
    }
}
