//! Webhook deliveries survive a kill -9 of the server: a delivery that
//! was waiting for its retry when the server died is sent after the
//! restart, with the same delivery id (at least once).

use serde_json::json;

use crate::helpers::child::{Fixture, Server};
use crate::helpers::receiver::Receiver;

#[actix_web::test]
async fn a_delivery_pending_at_a_kill_9_is_delivered_after_the_restart() {
    // Arrange: the receiver refuses the first attempt and asks for 3 s.
    let fixture = Fixture::new();
    let config = fixture.out.join("scriptd.toml");
    std::fs::write(&config, "hooks_allow = [\"127.0.0.1/32\"]\n").expect("config");
    let config = config.to_str().expect("a UTF-8 path").to_owned();
    let extra = ["--config", config.as_str()];
    let server = Server::start_with(&fixture.storage, "1", "0", &extra).await;
    fixture.exectab("fails /bin/false\n");
    let receiver = Receiver::start_retry_after(&[503], 3);
    let (status, created) = server
        .post(
            "/scripts/v1/hook/create",
            json!({"url": receiver.url("crash")}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = server.run(json!({"name": "fails"})).await;
    server.wait_done(&id).await;
    let first = receiver.wait_for(1).await;

    // Act: the retry is pending when the server dies.
    server.kill9();
    assert_eq!(receiver.received().len(), 1, "no retry before the restart");
    let server = Server::start_with(&fixture.storage, "2", "0", &extra).await;

    // Assert
    let got = receiver.wait_for(2).await;
    assert_eq!(
        got[1].header("x-scriptd-delivery"),
        first[0].header("x-scriptd-delivery"),
        "the same delivery, again"
    );
    assert_eq!(got[1].json()["run"]["id"], id.as_str());
    let hook = created["id"].as_str().expect("an id");
    crate::helpers::eventually_ok("the delivery recorded", || {
        let server = &server;
        async move {
            let (_, reply) = server
                .get(&format!("/scripts/v1/hook/deliveries?hook={hook}"))
                .await;
            match reply["deliveries"][0]["state"].as_str() {
                Some("delivered") => Ok(()),
                _ => Err(reply.to_string()),
            }
        }
    })
    .await;
}
