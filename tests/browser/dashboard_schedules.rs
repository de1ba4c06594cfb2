//! Schedules on the dashboard (issue 30): each scheduled script shows its
//! schedule in words, its zone and its next start as a live countdown;
//! the owner pauses and resumes it with a confirm, a guest only sees it.

use serde_json::Value;

use crate::browser::{with_page, Page};
use crate::server::Server;

/// The cell `class` of `name`'s schedule row.
fn cell(name: &str, class: &str) -> String {
    format!("#schedules-body tr[data-schedule=\"{name}\"] .{class}")
}

/// Waits for `name`'s row; the page reads the schedules again meanwhile
/// (the server takes up an exectab edit within a second).
async fn wait_row(page: &Page, name: &str) {
    page.wait_js(
        &format!("the schedule of {name}"),
        &format!(
            "if (document.querySelector('#schedules-body tr[data-schedule=\"{name}\"]')) return true; \
             refresh(); return null"
        ),
    )
    .await;
}

/// Whether `name`'s row says it is paused, once it says `paused`.
async fn wait_paused(page: &Page, name: &str, paused: bool) {
    page.wait_js(
        &format!("{name} paused = {paused}"),
        &format!(
            "const row = document.querySelector('#schedules-body tr[data-schedule=\"{name}\"]'); \
             return row && row.dataset.paused === '{paused}'"
        ),
    )
    .await;
}

#[tokio::test]
async fn a_schedule_shows_in_words_with_a_countdown_and_the_owner_pauses_and_resumes_it() {
    let server = Server::start();
    server.add_to_exectab(
        "-n -c=\"0 0 1 1 *\" -z=Europe/Berlin newyear\n-n -c=\"*/20 * * * * *\" often\n",
    );
    // Borrowed, so the server outlives the page (and its failure screenshot).
    let server = &server;
    with_page("schedules", |page| async move {
        page.sign_in_ok(&server.url(), &server.admin_key()).await;
        wait_row(&page, "newyear").await;
        wait_row(&page, "often").await;

        // In words, with the expression, and the zone.
        let words = page.text(&cell("newyear", "words")).await;
        let words = words.as_str().unwrap_or_default().to_owned();
        assert!(words.ends_with("(0 0 1 1 *)"), "{words}");
        assert!(words.len() > "(0 0 1 1 *)".len() + 3, "described: {words}");
        let zone = page.text(&cell("newyear", "zone")).await;
        assert_eq!(zone, "Europe/Berlin, -C=once");

        // A live countdown: it changes without a reload.
        let first = page
            .wait_js(
                "the countdown",
                &format!(
                    "const el = document.querySelector('{}'); \
                     return el && el.textContent.startsWith('in ') ? el.textContent : null",
                    cell("often", "next")
                ),
            )
            .await;
        page.wait_js(
            "the countdown to move",
            &format!(
                "const el = document.querySelector('{}'); \
                 return el && el.textContent.startsWith('in ') && el.textContent !== {first}",
                cell("often", "next")
            ),
        )
        .await;

        // Pause, with a confirm; the server agrees; then resume.
        page.click("#sched-act-often").await;
        let asked = page.text(&cell("often", "act")).await;
        assert!(
            asked
                .as_str()
                .unwrap_or_default()
                .contains("Pause the schedule of often"),
            "{asked}"
        );
        page.click("#sched-yes-often").await;
        wait_paused(&page, "often", true).await;
        assert_eq!(page.text(&cell("often", "next")).await, "paused");
        let on_server = page
            .js("return Api.get('/scripts/v1/schedules') \
                 .then((r) => r.schedules.find((s) => s.name === 'often').paused)")
            .await;
        assert_eq!(on_server, Value::Bool(true));
        let button = page.text("#sched-act-often").await;
        assert_eq!(button, "Resume");
        page.click("#sched-act-often").await;
        page.click("#sched-yes-often").await;
        wait_paused(&page, "often", false).await;

        // A guest of the script sees its schedule and no button.
        let key = page
            .js(
                "return Api.post('/scripts/v1/guest/create', {name: 'often', \
                 expires: Math.floor(Date.now() / 1000) + 3600, run: false, cancel: false, \
                 status: true, monitor: true}).then((r) => r.info.apikey)",
            )
            .await;
        let key = key.as_str().expect("guest key").to_owned();
        page.click("#signout").await;
        page.sign_in_ok(&server.url(), &key).await;
        wait_row(&page, "often").await;
        let buttons = page
            .js("return document.querySelectorAll('#schedules-body button').length")
            .await;
        assert_eq!(buttons, Value::from(0), "no pause for a guest");
        let rows = page
            .js("return document.querySelectorAll('#schedules-body tr[data-schedule]').length")
            .await;
        assert_eq!(rows, Value::from(1), "only its script");
    })
    .await;
}
