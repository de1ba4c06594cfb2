//! Runs from the page: start and watch progress, schedule and cancel, kill,
//! the live connection across a server restart, and output shown as text.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::{with_page, Page};
use crate::server::{Server, DEADLINE};

/// Marks the document so a test can tell that it was never reloaded.
async fn mark(page: &Page) {
    page.js("window.__notReloaded = true; return null").await;
}

async fn assert_not_reloaded(page: &Page) {
    let marked = page.js("return window.__notReloaded === true").await;
    assert_eq!(marked, Value::Bool(true), "the page was reloaded");
}

#[tokio::test]
async fn demo_progress_moves_and_its_success_reaches_the_history_live() {
    let server = Server::start();
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("demo_progress", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        mark(&page).await;
        let id = page.start_run("demo", &[], "").await;
        let bar = format!(
            "const p = document.querySelector('#runs-body tr[data-run=\"{id}\"] progress'); \
             return p ? Number(p.value) : null;"
        );
        // The bar must show at least two different values while it runs.
        let mut seen: Vec<i64> = Vec::new();
        let start = Instant::now();
        while seen.len() < 2 {
            if let Some(value) = page.js(&bar).await.as_f64() {
                let value = value as i64;
                if !seen.contains(&value) {
                    seen.push(value);
                }
            }
            let gone = page
                .js(&format!(
                    "return !document.querySelector('#runs-body tr[data-run=\"{id}\"]') \
                     && !!document.querySelector('#history-body tr[data-run=\"{id}\"]')"
                ))
                .await;
            assert!(
                gone != Value::Bool(true),
                "the run ended before its bar moved; saw {seen:?}"
            );
            assert!(
                start.elapsed() < DEADLINE,
                "the bar did not move: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let label = page
            .text(&format!("#runs-body tr[data-run=\"{id}\"] .ptext"))
            .await;
        assert!(
            label.as_str().unwrap_or_default().contains("Task"),
            "progress label names the task: {label}"
        );
        page.snapshot("demo_running").await;
        // Its detail follows the log while it runs, then shows the result.
        page.click(&format!("#runs-body tr[data-run=\"{id}\"] button.link"))
            .await;
        page.wait_js(
            "the live log",
            "return document.getElementById('log').textContent.includes('[1/3] Preparing')",
        )
        .await;
        page.wait_history(&id, "success").await;
        let row = page.text(&format!("#runs-body tr[data-run=\"{id}\"]")).await;
        assert!(row.is_null(), "the finished run left 'Runs now'");
        page.wait_js(
            "the detail to show the outcome, the tasks and the whole log",
            "const o = document.querySelector('#detail-body dd[data-field=\"Outcome\"]'); \
             return !!o && o.textContent === 'success' \
               && document.querySelectorAll('#detail-body ol.timeline li').length === 3 \
               && document.getElementById('log').textContent.includes('[3/3] Finishing')",
        )
        .await;
        let chart = page
            .js(&format!(
                "return !!document.querySelector('#chart-durations circle[data-run=\"{id}\"].o-success')"
            ))
            .await;
        assert_eq!(chart, Value::Bool(true), "the run is a dot in the chart");
        let last = page.text("#scripts-body tr[data-script=\"demo\"]").await;
        assert!(
            last.as_str().unwrap_or_default().contains("success"),
            "scripts show the last outcome: {last}"
        );
        assert_not_reloaded(&page).await;

        // Phone width: nothing makes the page itself scroll sideways.
        page.client.set_window_size(390, 844).await.expect("resize");
        let fits = page
            .wait_js(
                "the page to fit a phone-width window",
                "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            )
            .await;
        assert_eq!(fits, Value::Bool(true));
    })
    .await;
}

/// Clicks the row's action button and confirms.
async fn act_and_confirm(page: &Page, id: &str) {
    page.click(&format!("#act-{id}")).await;
    page.click(&format!("#yes-{id}")).await;
}

#[tokio::test]
async fn a_scheduled_run_is_cancelled_and_a_running_sleep_is_killed_from_the_page() {
    let server = Server::start();
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("cancel_and_kill", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        mark(&page).await;

        let later = page.start_run("demo", &[], "+60s").await;
        let time = format!("#runs-body tr[data-run=\"{later}\"] .time");
        let first = page
            .wait_js(
                "the countdown",
                &format!(
                    "const el = document.querySelector('{}'); \
                     return el && el.textContent.startsWith('starts in') ? el.textContent : null",
                    time.replace('\'', "\\'")
                ),
            )
            .await;
        page.wait_js(
            "the countdown to tick",
            &format!(
                "const el = document.querySelector('{}'); return !!el && el.textContent !== {};",
                time.replace('\'', "\\'"),
                first
            ),
        )
        .await;
        act_and_confirm(&page, &later).await;
        page.wait_history(&later, "cancelled").await;
        let row = page.text(&format!("#runs-body tr[data-run=\"{later}\"]")).await;
        assert!(row.is_null(), "the cancelled run left 'Runs now'");

        let sleeper = page.start_run("sleep", &["300"], "").await;
        page.wait_js(
            "the sleep run running",
            &format!("return !!document.querySelector('#runs-body tr[data-run=\"{sleeper}\"][data-state=\"running\"]')"),
        )
        .await;
        act_and_confirm(&page, &sleeper).await;
        page.wait_history(&sleeper, "killed").await;
        assert_not_reloaded(&page).await;
    })
    .await;
}

#[tokio::test]
async fn the_page_reconnects_after_a_restart_and_shows_runs_that_ended_meanwhile() {
    let mut server = Server::start();
    let url = server.url();
    let key = server.admin_key();
    let server_ref = &mut server;
    with_page("reconnect", |page| async move {
        page.sign_in_ok(&url, &key).await;
        page.wait_js(
            "the monitor live",
            "return document.getElementById('conn').dataset.state === 'live'",
        )
        .await;
        mark(&page).await;
        let sleeper = page.start_run("sleep", &["300"], "").await;
        page.wait_js(
            "the sleep run running",
            &format!("return !!document.querySelector('#runs-body tr[data-run=\"{sleeper}\"][data-state=\"running\"]')"),
        )
        .await;

        // The run ends (interrupted) while the page is away.
        server_ref.stop();
        page.wait_js(
            "'connection lost'",
            "const c = document.getElementById('conn'); \
             return c.dataset.state === 'lost' && c.textContent.includes('lost')",
        )
        .await;
        server_ref.restart();
        page.wait_js(
            "'connection back'",
            "const c = document.getElementById('conn'); \
             return c.dataset.state === 'live' && c.textContent.includes('back')",
        )
        .await;
        page.wait_history(&sleeper, "interrupted").await;
        let row = page.text(&format!("#runs-body tr[data-run=\"{sleeper}\"]")).await;
        assert!(row.is_null(), "the interrupted run left 'Runs now'");
        assert_not_reloaded(&page).await;
    })
    .await;
}

#[tokio::test]
async fn script_output_with_html_shows_as_text_and_runs_nothing() {
    let server = Server::start();
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("html_output", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        let id = page.start_run("html", &[], "").await;
        page.wait_history(&id, "success").await;
        page.click(&format!("#history-body tr[data-run=\"{id}\"] button")).await;
        let log = page
            .wait_js(
                "the log",
                "const t = document.getElementById('log').textContent; return t.includes('<script>') ? t : null",
            )
            .await;
        let log = log.as_str().unwrap_or_default();
        assert!(log.contains("<img src=x onerror=\"window.__pwned=1\">"), "{log}");
        assert!(log.contains("<b>bold</b>"), "{log}");
        let last = page.text("#detail-body dd[data-field=\"Last line\"]").await;
        assert_eq!(
            last.as_str(),
            Some("<script>window.__pwned=2</script>"),
            "the last line is shown as text"
        );
        let injected = page
            .js("return document.querySelectorAll('#detail img, #detail script, #detail b').length")
            .await;
        assert_eq!(injected, Value::from(0), "no element was made from the output");
        let pwned = page.js("return window.__pwned === undefined").await;
        assert_eq!(pwned, Value::Bool(true), "nothing from the output ran");
    })
    .await;
}
