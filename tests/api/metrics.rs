//! `GET /metrics`: runs by outcome, and queue depth and running count per
//! script, change as runs are queued, run and end (Prometheus text, parsed
//! line by line).

use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// The samples of the exposition as (series with labels, value).
fn parse(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("`series value` line");
            (series.to_owned(), value.parse().expect("numeric value"))
        })
        .collect()
}

/// The current value of one series (0 when absent).
async fn sample(app: &TestApp, series: &str) -> f64 {
    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 200, "metrics served: {body}");
    let text = body.as_str().expect("plain text body");
    parse(text)
        .into_iter()
        .find(|(s, _)| s == series)
        .map_or(0.0, |(_, v)| v)
}

/// Polls until `series` has `want`, within the helpers' deadline.
async fn wait_for(app: &TestApp, series: &str, want: f64) {
    crate::helpers::eventually_ok(series, || async move {
        match sample(app, series).await {
            got if got == want => Ok(()),
            got => Err(format!("want {want}, last {got}")),
        }
    })
    .await
}

#[actix_web::test]
async fn metrics_count_runs_by_outcome_and_show_queue_depth_and_running_per_script() {
    // Arrange
    let app = spawn_app().await;
    app.exectab("-s=1 held /bin/sleep 30\nok /bin/true\nbad /bin/sh -c \"exit 3\"\n");
    let success = "scriptd_runs_total{outcome=\"success\"}";
    let failed = "scriptd_runs_total{outcome=\"failed\"}";
    let cancelled = "scriptd_runs_total{outcome=\"cancelled\"}";
    let depth = "scriptd_queue_depth{user=\"1\",script=\"held\"}";
    let running = "scriptd_runs_running{user=\"1\",script=\"held\"}";
    assert_eq!(sample(&app, success).await, 0.0, "no run yet");

    // Act: two quick runs succeed, one fails
    for name in ["ok", "ok", "bad"] {
        let id = app.run(json!({ "name": name })).await;
        app.wait_done(&id).await;
    }

    // Assert
    wait_for(&app, success, 2.0).await;
    wait_for(&app, failed, 1.0).await;

    // Act: one held run runs, two wait behind it
    let first = app.run(json!({"name": "held"})).await;
    app.wait_status(&first, "held running", |s| s["state"] == "running")
        .await;
    let second = app.run(json!({"name": "held"})).await;
    let _third = app.run(json!({"name": "held"})).await;

    // Assert
    wait_for(&app, running, 1.0).await;
    wait_for(&app, depth, 2.0).await;

    // Act: cancel one waiting run, kill the running one
    app.cancel(&second).await;
    wait_for(&app, depth, 1.0).await;
    wait_for(&app, cancelled, 1.0).await;
    app.kill(&first).await;

    // Assert: the third run took the slot, nothing waits any more
    app.wait_done(&first).await;
    wait_for(&app, "scriptd_runs_total{outcome=\"killed\"}", 1.0).await;
    wait_for(&app, depth, 0.0).await;
    wait_for(&app, running, 1.0).await;
}

#[actix_web::test]
async fn metrics_text_is_well_formed_prometheus_exposition() {
    let app = spawn_app().await;
    let (status, body) = app.get("/metrics").await;
    assert_eq!(status, 200);
    let text = body.as_str().expect("plain text");
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let kind = line.rsplit(' ').next().unwrap_or_default();
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind),
            "known type in {line}"
        );
    }
    let samples = parse(text);
    for outcome in [
        "success",
        "failed",
        "killed",
        "timeout",
        "cancelled",
        "start_failed",
        "interrupted",
        "noexec",
    ] {
        let series = format!("scriptd_runs_total{{outcome=\"{outcome}\"}}");
        assert!(
            samples.iter().any(|(s, _)| *s == series),
            "{series} always present"
        );
    }
}
