//! The key a keep-alive connection presented earlier: it authorises that
//! connection's later keyless requests, is re-checked on each of them, and
//! never reaches another connection. Idle connections stay open for
//! `keep_alive_secs`.

use std::time::Duration;

use serde_json::Value;

use super::helpers::{spawn_app, spawn_app_with, unix_now, TestApp};
use crate::helpers::sdk::SdkClient;

async fn status(sdk: &mut SdkClient) -> (u16, Value) {
    sdk.call("GET", "status", None).await
}

fn accepted(what: &str, (code, reply): &(u16, Value)) {
    assert_eq!(
        (*code, &reply["success"]),
        (200, &Value::Bool(true)),
        "{what}: {reply}"
    );
}

fn refused(what: &str, (code, reply): &(u16, Value)) {
    assert_eq!(*code, 403, "{what}: {reply}");
    assert_eq!(
        reply["errorcode"], "invalid_missing_apikey",
        "{what}: {reply}"
    );
}

async fn open_db(app: &TestApp) -> (scriptd::config::Config, scriptd::events::store::Database) {
    let config = app.config();
    let db = scriptd::events::store::open(&config.database())
        .await
        .expect("db");
    (config, db)
}

#[actix_web::test]
async fn a_key_rotated_or_a_user_removed_between_two_requests_is_refused_on_the_second() {
    // Arrange
    let app = spawn_app().await;
    let (config, mut db) = open_db(&app).await;
    let carol = scriptd::admin::add_user(&mut db, &config, "carol", false)
        .await
        .expect("carol");
    let dave = scriptd::admin::add_user(&mut db, &config, "dave", false)
        .await
        .expect("dave");
    let mut carols = SdkClient::plain(app.port, &carol.apikey);
    let mut daves = SdkClient::plain(app.port, &dave.apikey);
    accepted("carol's first request", &status(&mut carols).await);
    accepted("carol's keyless second request", &status(&mut carols).await);
    accepted("dave's first request", &status(&mut daves).await);

    // Act
    scriptd::admin::rotate_key(&mut db, &config, "carol")
        .await
        .expect("rotate");
    scriptd::admin::remove_user(&mut db, "dave")
        .await
        .expect("remove");

    // Assert
    refused("after the rotation", &status(&mut carols).await);
    refused("after the removal", &status(&mut daves).await);
    assert_eq!(
        (carols.connections, daves.connections),
        (1, 1),
        "same connections"
    );
}

#[actix_web::test]
async fn a_guest_deleted_or_expired_between_two_requests_is_refused_on_the_second() {
    // Arrange
    let app = spawn_app().await;
    let rights = [false, false, true, false];
    let (deleted_id, deleted_key) = app.create_guest("demo", rights, unix_now() + 3600).await;
    let expires = unix_now() + 2;
    let (_, expiring_key) = app.create_guest("demo", rights, expires).await;
    let mut deleted = SdkClient::plain(app.port, &deleted_key);
    let mut expiring = SdkClient::plain(app.port, &expiring_key);
    accepted("before the delete", &status(&mut deleted).await);
    accepted("before the expiry", &status(&mut expiring).await);

    // Act
    app.delete_guest(&deleted_id).await;
    super::helpers::eventually("the guest's expiry", || {
        (unix_now() >= expires).then_some(())
    })
    .await;

    // Assert
    refused("a deleted guest", &status(&mut deleted).await);
    refused("an expired guest", &status(&mut expiring).await);
}

#[actix_web::test]
async fn a_remembered_key_is_never_shared_and_an_invalid_one_is_never_remembered() {
    // Arrange
    let app = spawn_app().await;
    let mut keyed = SdkClient::plain(app.port, &app.key);
    let mut keyless = SdkClient::plain(app.port, "");
    let mut wrong = SdkClient::plain(app.port, "0123456789");

    // Act
    let first = status(&mut keyed).await;
    let other_connection = status(&mut keyless).await;
    let wrong_first = status(&mut wrong).await;
    let wrong_second = status(&mut wrong).await;

    // Assert
    accepted("the connection that presented the key", &first);
    refused("another connection without a key", &other_connection);
    refused("a wrong key", &wrong_first);
    refused("after a wrong key, no key", &wrong_second);
    accepted("the first connection still", &status(&mut keyed).await);
}

#[actix_web::test]
async fn an_idle_keep_alive_connection_stays_open_for_keep_alive_secs_then_closes() {
    // Arrange
    let app = spawn_app_with(|config| config.keep_alive = Duration::from_secs(20)).await;
    let mut sdk = SdkClient::plain(app.port, &app.key);
    accepted("first request", &status(&mut sdk).await);

    // Act: idle past actix's own 5 s default (so the setting is what keeps
    // the connection), well under the limit.
    actix_rt::time::sleep(Duration::from_secs(6)).await;
    let after_idle = status(&mut sdk).await;
    let closed = sdk.closed_by_server(super::helpers::DEADLINE).await;

    // Assert
    accepted("keyless, on the same connection after idling", &after_idle);
    assert_eq!(sdk.connections, 1, "the connection was kept");
    assert!(
        closed,
        "the server closes a connection idle past keep_alive_secs"
    );
    assert_eq!(
        scriptd::config::Config::new("x").keep_alive,
        Duration::from_secs(30),
        "30 s by default, as the original"
    );
}
