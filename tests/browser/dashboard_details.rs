//! The dashboard's details a newcomer meets: the sign-in page says where
//! the admin key is, a run has its own address (`#/run/ID`), times carry
//! their zone, "Requested by" names the user, tasks are numbered once, the
//! duration chart has time ticks and a log scale, the guests list is live,
//! a guest sees its script's real options, the start form refuses empty
//! `@@` fields, and on a phone "Runs now" comes before the scripts.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{json, Value};

use crate::browser::{with_page, Page};
use crate::server::Server;

/// One API call from outside the page (as the command line would make it).
fn api(server: &Server, method: &str, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-APIKey: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.port,
        server.admin_key(),
        body.len()
    )
    .expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    let (_, json) = reply.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The text of the detail's field `label`, once it is shown.
async fn field(page: &Page, label: &str) -> String {
    let value = page
        .wait_js(
            &format!("the detail's {label}"),
            &format!(
                "const d = document.querySelector('#detail-body dd[data-field=\"{label}\"]'); \
                 return d && d.textContent ? d.textContent : null"
            ),
        )
        .await;
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_run_has_its_own_address_with_zoned_times_its_requesters_name_and_tasks_numbered_once() {
    let server = Server::start();
    let server = &server;
    with_page("run_address", |page| async move {
        page.goto(&server.url()).await;
        let hint = page.text("#signin-where").await;
        assert!(
            hint.as_str().unwrap_or_default().contains("scriptd-data/admin.key"),
            "the sign-in page says where the admin key is: {hint}"
        );
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        let id = page.start_run("demo", &[], "").await;
        page.wait_history(&id, "success").await;

        // Act: open it from the history; then load its address afresh.
        page.click(&format!("#history-body tr[data-run=\"{id}\"] button.link"))
            .await;
        let hash = page.js("return location.hash").await;
        assert_eq!(hash, json!(format!("#/run/{id}")), "the run's own address");
        let requested = field(&page, "Requested by").await;
        let finished = field(&page, "Finished").await;
        let tasks = page
            .wait_js(
                "the task list",
                "const l = [...document.querySelectorAll('#detail-body ol.timeline li .task')]; \
                 return l.length === 3 ? l.map((t) => t.textContent) : null",
            )
            .await;
        page.snapshot("details_run").await;
        page.click("#detail-close").await;
        let closed = page.js("return location.hash").await;
        page.goto("about:blank").await;
        page.goto(&format!("{}#/run/{id}", server.url())).await;
        let title = page
            .wait_js(
                "the linked run's detail",
                "const s = document.getElementById('detail'); \
                 return s && !s.hidden ? document.getElementById('detail-title').textContent : null",
            )
            .await;

        // Assert
        assert!(requested.starts_with("admin (user:1)"), "{requested}");
        let zoned = regex_like_time(&finished);
        assert!(zoned, "the CLI's format with a zone: {finished:?}");
        for task in tasks.as_array().expect("tasks") {
            let text = task.as_str().unwrap_or_default();
            assert!(
                !text.starts_with(|c: char| c.is_ascii_digit()),
                "numbered once, by the list: {text:?}"
            );
        }
        assert_eq!(closed, json!(""), "closing leaves the run's address");
        assert!(
            title.as_str().unwrap_or_default().contains(&id),
            "the address opens its run: {title}"
        );
    })
    .await;
}

/// `2026-12-06 23:47:16 UTC`: date, time, and a zone name after them.
fn regex_like_time(text: &str) -> bool {
    let parts: Vec<&str> = text.split(' ').collect();
    let digits = |s: &str, seps: &[usize]| {
        s.char_indices().all(|(i, c)| {
            if seps.contains(&i) {
                !c.is_ascii_digit()
            } else {
                c.is_ascii_digit()
            }
        })
    };
    parts.len() == 3
        && parts[0].len() == 10
        && digits(parts[0], &[4, 7])
        && parts[1].len() == 8
        && digits(parts[1], &[2, 5])
        && !parts[2].is_empty()
}

#[tokio::test]
async fn the_duration_chart_has_time_ticks_and_a_log_scale_and_runs_come_first_on_a_phone() {
    let server = Server::start();
    let server = &server;
    with_page("chart_and_phone", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        let id = page.start_run("sleep", &["0"], "").await;
        page.wait_history(&id, "success").await;

        // Act
        let ticks = page
            .wait_js(
                "the chart's ticks",
                "const c = document.getElementById('chart-durations'); \
                 return c && c.querySelector('circle') ? [c.getAttribute('data-scale'), \
                   c.querySelectorAll('.tick.x').length, c.querySelectorAll('.tick.y').length] : null",
            )
            .await;
        // The same chart drawn for a 300 s run beside runs of 1 and 3 s.
        let apart = page
            .js("const svg = Charts.durations([\
                   {id: 'long', name: 'x', outcome: 'success', finished: 1000, duration: 300}, \
                   {id: 'one', name: 'x', outcome: 'success', finished: 1060, duration: 1}, \
                   {id: 'three', name: 'x', outcome: 'success', finished: 1120, duration: 3}]); \
                 const y = (id) => Number(svg.querySelector('circle[data-run=\"' + id + '\"]').getAttribute('cy')); \
                 return y('one') - y('three');")
            .await;
        page.snapshot("details_chart").await;
        page.client.set_window_size(390, 844).await.expect("resize");
        let order = page
            .wait_js(
                "the phone layout",
                "if (window.innerWidth > 600) return null; \
                 const top = (id) => document.getElementById(id).getBoundingClientRect().top; \
                 return [top('runs'), top('scripts')]",
            )
            .await;

        page.snapshot("details_phone").await;

        // Assert
        assert_eq!(ticks[0], json!("log"), "{ticks}");
        assert!(ticks[1].as_u64() >= Some(3), "time ticks across: {ticks}");
        assert!(ticks[2].as_u64() >= Some(2), "duration ticks up: {ticks}");
        assert!(
            apart.as_f64().unwrap_or_default() > 12.0,
            "a 300 s run does not flatten 1 s and 3 s runs together: {apart} px apart"
        );
        let (runs, scripts) = (order[0].as_f64(), order[1].as_f64());
        assert!(runs < scripts, "'Runs now' above the scripts on a phone: {order}");
    })
    .await;
}

#[tokio::test]
async fn guests_are_live_a_guest_sees_real_options_and_empty_arguments_are_refused() {
    let server = Server::start();
    let server = &server;
    with_page("guests_live", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;

        // Act: a guest made and deleted from outside the page.
        let made = api(
            server,
            "POST",
            "/scripts/v1/guest/create",
            &json!({"name": "demo", "expires": now() + 3600, "run": true,
                    "cancel": false, "status": true, "monitor": true}),
        );
        let guest = made["id"].as_str().expect("guest id").to_owned();
        let key = made["info"]["apikey"].as_str().expect("key").to_owned();
        let row = format!("#guests-body tr[data-guest=\"{guest}\"]");
        page.wait_js(
            "the new guest in the list, without a reload",
            &format!("return !!document.querySelector('{row}')"),
        )
        .await;
        let other = api(
            server,
            "POST",
            "/scripts/v1/guest/create",
            &json!({"name": "sleep", "expires": now() + 3600, "run": true,
                    "cancel": false, "status": false, "monitor": false}),
        );
        let other = other["id"].as_str().expect("guest id").to_owned();
        api(
            server,
            "DELETE",
            &format!("/scripts/v1/guest/delete/{other}"),
            &json!({}),
        );
        page.wait_js(
            "the deleted guest gone from the list",
            &format!(
                "return !!document.querySelector('{row}') && \
                 !document.querySelector('#guests-body tr[data-guest=\"{other}\"]')"
            ),
        )
        .await;

        // The start form with an empty @@1.
        page.select("#start-name", "sleep").await;
        let required = page
            .js("return document.getElementById('start-arg-1').validity.valueMissing")
            .await;
        let refused = page
            .js("Views.start({ preventDefault() {} }); \
                 return document.getElementById('start-result').textContent")
            .await;

        // A guest's view of demo (-s=2).
        page.click("#signout").await;
        page.sign_in_ok(&server.url(), &key).await;
        let options = page
            .wait_js(
                "the guest's script options",
                "const r = document.querySelector('#scripts-body tr[data-script=\"demo\"] td'); \
                 return r ? r.textContent : null",
            )
            .await;

        // Assert
        assert_eq!(required, Value::Bool(true), "an empty @@1 is invalid");
        assert_eq!(
            refused,
            json!("Argument 1 (@@1) is required."),
            "and not sent"
        );
        assert!(
            options.as_str().unwrap_or_default().contains("-s=2"),
            "the guest sees demo's real options: {options}"
        );
    })
    .await;
}
