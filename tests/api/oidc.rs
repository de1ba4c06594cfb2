//! Sign-in through OpenID Connect (issue 32) against a real provider
//! (panva's oidc-provider, tests/oidc): roles and script filters, refused
//! people and tampered callbacks, the cookie's CSRF header, sign-out and
//! expiry closing WebSockets, and the audit naming the person. API keys
//! keep working beside it.

use std::time::Duration;

use scriptd::wire::HistoryRequest;
use serde_json::{json, Value};

use crate::helpers::oidc::{closed, cookie_ws, events_of_kind, settings, team, Browser};
use crate::helpers::{eventually_async, spawn_app_with, TestApp};

const EXECTAB: &str = "backup /bin/sleep 30\ndeploy /bin/true\n";

async fn app_with_idle(idle: Duration) -> TestApp {
    let app = spawn_app_with(|config| config.oidc = Some(settings(team(), idle))).await;
    app.exectab(EXECTAB);
    app
}

async fn app() -> TestApp {
    app_with_idle(Duration::from_secs(3600)).await
}

async fn signed_in(app: &TestApp, login: &str) -> Browser {
    Browser::signed_in(app.port, login).await
}

fn code(reply: &Value) -> &str {
    reply["errorcode"].as_str().unwrap_or("")
}

#[actix_web::test]
async fn a_viewer_can_read_but_not_run() {
    // Arrange
    let app = app().await;
    let vera = signed_in(&app, "vera").await;

    // Act
    let (scripts_status, scripts) = vera.api("GET", "/scripts/v1/scripts", None, true).await;
    let (status_status, _) = vera.api("GET", "/scripts/v1/status", None, true).await;
    let (run_status, run) = vera
        .api(
            "POST",
            "/scripts/v1/run",
            Some(json!({"name": "deploy"})),
            true,
        )
        .await;

    // Assert
    assert_eq!(scripts_status, 200, "{scripts}");
    assert_eq!(scripts["access"]["kind"], "person");
    assert_eq!(scripts["access"]["role"], "viewer");
    assert_eq!(scripts["access"]["name"], "vera@example.test");
    assert_eq!(status_status, 200);
    assert_eq!(run_status, 400);
    assert_eq!(code(&run), "access_denied", "{run}");
    assert!(
        run["error"].as_str().unwrap_or("").contains("viewer"),
        "{run}"
    );
}

#[actix_web::test]
async fn an_operator_can_run_but_not_manage_guests() {
    let app = app().await;
    let otto = signed_in(&app, "otto").await;

    let (status, run) = otto
        .api(
            "POST",
            "/scripts/v1/run",
            Some(json!({"name": "deploy"})),
            true,
        )
        .await;
    let (_, guests) = otto.api("GET", "/scripts/v1/guest/list", None, true).await;

    assert_eq!(status, 200, "{run}");
    assert_eq!(run["success"], true);
    assert_eq!(code(&guests), "access_denied", "{guests}");
    let olga = signed_in(&app, "olga").await;
    let (_, owner_guests) = olga.api("GET", "/scripts/v1/guest/list", None, true).await;
    assert_eq!(
        owner_guests["success"], true,
        "an owner manages guests: {owner_guests}"
    );
}

#[actix_web::test]
async fn a_grant_limited_to_backup_cannot_see_deploy() {
    // Arrange: a deploy run by the admin's key exists.
    let app = app().await;
    let deploy_id = app.run(json!({"name": "deploy"})).await;
    app.wait_done(&deploy_id).await;
    let bea = signed_in(&app, "bea").await;

    // Act
    let (_, scripts) = bea.api("GET", "/scripts/v1/scripts", None, true).await;
    let (_, run_deploy) = bea
        .api(
            "POST",
            "/scripts/v1/run",
            Some(json!({"name": "deploy"})),
            true,
        )
        .await;
    let (_, status_deploy) = bea
        .api(
            "GET",
            &format!("/scripts/v1/status/{deploy_id}"),
            None,
            true,
        )
        .await;
    let (_, history) = bea.api("GET", "/scripts/v1/history", None, true).await;
    let (_, history_deploy) = bea
        .api("GET", "/scripts/v1/history?name=deploy", None, true)
        .await;
    let (_, events) = bea.api("GET", "/scripts/v1/events", None, true).await;
    let (run_status, run_backup) = bea
        .api(
            "POST",
            "/scripts/v1/run",
            Some(json!({"name": "backup"})),
            true,
        )
        .await;

    // Assert
    let names: Vec<&String> = scripts["scripts"]
        .as_object()
        .expect("scripts")
        .keys()
        .collect();
    assert!(names.contains(&&"backup".to_owned()), "{scripts}");
    assert_eq!(code(&run_deploy), "access_denied", "{run_deploy}");
    assert_eq!(code(&status_deploy), "access_denied", "{status_deploy}");
    assert!(
        history["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .all(|r| r["name"] != "deploy"),
        "{history}"
    );
    assert_eq!(code(&history_deploy), "access_denied", "{history_deploy}");
    assert_eq!(code(&events), "access_denied", "{events}");
    assert_eq!(run_status, 200, "{run_backup}");
}

#[actix_web::test]
async fn an_unknown_person_is_refused_and_gets_no_session() {
    let app = app().await;
    let browser = Browser::new(app.port);

    let landed = browser.sign_in("nobody").await;

    assert_eq!(landed.status, 403, "{landed:?}");
    assert!(
        landed.body.contains("no grant"),
        "the page says why: {}",
        landed.body
    );
    assert_eq!(browser.session(), None);
    assert!(events_of_kind(&app, "SessionStarted").await.is_empty());
}

#[actix_web::test]
async fn a_cookie_without_x_requested_with_is_refused() {
    let app = app().await;
    let otto = signed_in(&app, "otto").await;

    let (status, reply) = otto.api("GET", "/scripts/v1/status", None, false).await;
    let (run_status, run) = otto
        .api(
            "POST",
            "/scripts/v1/run",
            Some(json!({"name": "deploy"})),
            false,
        )
        .await;
    let (logout_status, _) = otto.api("POST", "/ui/oidc/logout", None, false).await;

    assert_eq!((status, code(&reply)), (403, "access_denied"), "{reply}");
    assert_eq!((run_status, code(&run)), (403, "access_denied"), "{run}");
    assert_eq!(logout_status, 403, "no cross-site sign-out either");
    let (ok, _) = otto.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(ok, 200, "the session still works with the header");
}

#[actix_web::test]
async fn a_tampered_state_is_refused() {
    let app = app().await;
    let browser = Browser::new(app.port);
    let callback = browser.callback_as("otto").await;
    let mut url = reqwest::Url::parse(&callback).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| match k.as_ref() {
            "state" => (k.into_owned(), format!("{v}x")),
            _ => (k.into_owned(), v.into_owned()),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);

    let landed = browser.land(url.as_str()).await;

    assert_eq!(landed.status, 403, "{landed:?}");
    assert!(landed.body.contains("state"), "{}", landed.body);
    assert_eq!(browser.session(), None);
}

#[actix_web::test]
async fn a_tampered_nonce_is_refused() {
    let app = app().await;
    let browser = Browser::new(app.port);
    let provider_url = browser.start().await;
    let mut url = reqwest::Url::parse(&provider_url).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| match k.as_ref() {
            "nonce" => (k.into_owned(), "tampered-nonce".to_owned()),
            _ => (k.into_owned(), v.into_owned()),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);

    let callback = browser.at_provider(url.to_string(), "otto").await;
    let landed = browser.land(&callback).await;

    assert_eq!(landed.status, 403, "{landed:?}");
    assert!(landed.body.contains("ID token"), "{}", landed.body);
    assert_eq!(browser.session(), None);
}

#[actix_web::test]
async fn a_replayed_callback_is_refused() {
    let app = app().await;
    let browser = Browser::new(app.port);
    let callback = browser.callback_as("otto").await;
    assert_eq!(browser.land(&callback).await.status, 303, "first use");

    let stranger = Browser::new(app.port);
    let replayed_here = browser.land(&callback).await;
    let replayed_elsewhere = stranger.land(&callback).await;

    assert_eq!(replayed_here.status, 403, "{replayed_here:?}");
    assert_eq!(replayed_elsewhere.status, 403, "{replayed_elsewhere:?}");
    assert_eq!(stranger.session(), None);
    assert_eq!(events_of_kind(&app, "SessionStarted").await.len(), 1);
}

#[actix_web::test]
async fn sign_out_ends_the_session_and_closes_its_websocket() {
    // Arrange
    let app = app().await;
    let otto = signed_in(&app, "otto").await;
    let mut ws = cookie_ws(&app, &otto, &app.base)
        .await
        .expect("the socket opens");

    // Act
    assert_eq!(otto.sign_out().await, 200);

    // Assert
    let (code_, reason) = closed(&mut ws).await;
    assert_eq!(code_, 1008, "{reason}");
    assert_eq!(reason, "signed out");
    let (status, reply) = otto.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(status, 403, "{reply}");
    let ended = events_of_kind(&app, "SessionEnded").await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["reason"], "signed out");
    assert_eq!(ended[0]["person"]["sub"], "otto");
}

#[actix_web::test]
async fn an_idle_session_expires_and_its_websocket_closes() {
    let app = app_with_idle(Duration::from_secs(2)).await;
    let otto = signed_in(&app, "otto").await;
    let mut ws = cookie_ws(&app, &otto, &app.base)
        .await
        .expect("the socket opens");

    let (code_, reason) = closed(&mut ws).await;

    assert_eq!((code_, reason.as_str()), (1008, "session idle too long"));
    let (status, _) = otto.api("GET", "/scripts/v1/status", None, true).await;
    assert_eq!(status, 403);
    eventually_async("the end is recorded", || async {
        !events_of_kind(&app, "SessionEnded").await.is_empty()
    })
    .await;
}

#[actix_web::test]
async fn a_cookie_websocket_from_another_origin_is_refused() {
    let app = app().await;
    let otto = signed_in(&app, "otto").await;

    let refused = cookie_ws(&app, &otto, "http://evil.example").await;

    assert_eq!(refused.err(), Some(403));
}

#[actix_web::test]
async fn audit_fields_name_the_person() {
    // Arrange
    let app = app().await;
    let otto = signed_in(&app, "otto").await;
    let (_, run) = otto
        .api(
            "POST",
            "/scripts/v1/run",
            Some(json!({"name": "backup"})),
            true,
        )
        .await;
    let id = run["id"].as_str().expect("run id").to_owned();

    // Act
    let (_, cancel) = otto
        .api("POST", &format!("/scripts/v1/kill/{id}"), None, true)
        .await;
    assert_eq!(cancel["success"], true, "{cancel}");
    app.wait_done(&id).await;

    // Assert
    let history = app.history(&HistoryRequest::default()).await;
    let row = history
        .typed()
        .runs
        .iter()
        .find(|r| r.id.to_string() == id)
        .cloned()
        .expect("the run in the history");
    assert_eq!(row.requested_by.as_deref(), Some("person:otto"));
    assert_eq!(row.requested_by_name.as_deref(), Some("otto@example.test"));
    assert_eq!(row.killed_by.as_deref(), Some("person:otto"));
    let queued = events_of_kind(&app, "RunQueued").await;
    assert_eq!(
        queued[0]["origin"]["person"]["display"],
        "otto@example.test"
    );
    let started = events_of_kind(&app, "SessionStarted").await;
    assert_eq!(started[0]["person"]["sub"], "otto");
    assert_eq!(started[0]["grants"][0]["role"], "operator");
}

#[actix_web::test]
async fn api_keys_still_work_beside_sign_in() {
    let app = app().await;

    let id = app.run(json!({"name": "deploy"})).await;
    let done = app.wait_done(&id).await;
    let scripts = app.scripts().await;

    assert_eq!(done.typed().outcome.as_str(), "success");
    assert_eq!(
        serde_json::to_value(&scripts.typed().access).expect("json")["kind"],
        "user"
    );
    let (status, config) = Browser::new(app.port)
        .api("GET", "/ui/oidc/config", None, false)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        config,
        json!({"oidc": true, "name": "Test IdP", "only": false})
    );
}
