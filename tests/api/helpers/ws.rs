//! The WebSocket side of a test: a client that sends JSON calls and reads
//! replies and pushes within the deadline, and the monitor helpers.

use std::time::Instant;

use actix_codec::Framed;
use awc::ws::{Codec, Frame, Message};
use awc::BoxedSocket;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use scriptd::wire::{MonitorRequest, WsRequest};

use super::DEADLINE;

/// A WebSocket test client.
pub struct WsClient {
    pub framed: Framed<BoxedSocket, Codec>,
}

impl WsClient {
    /// Sends one JSON message.
    pub async fn send(&mut self, value: Value) {
        self.framed
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON text message, within the deadline; `None` if closed.
    pub async fn recv(&mut self) -> Option<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = actix_rt::time::timeout(left, self.framed.next())
                .await
                .expect("timed out waiting for a websocket message");
            match frame {
                Some(Ok(Frame::Text(bytes))) => {
                    return Some(serde_json::from_slice(&bytes).expect("json message"))
                }
                Some(Ok(Frame::Ping(bytes))) => {
                    let _ = self.framed.send(Message::Pong(bytes)).await;
                }
                Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends a request and returns the reply with the same `api_sequence`,
    /// keeping any pushes that arrive first in `pushes`.
    pub async fn call(&mut self, mut request: Value, pushes: &mut Vec<Value>) -> Value {
        let sequence = request["api_sequence"].clone();
        if request.get("api_sequence").is_none() {
            request["api_sequence"] = json!(1);
        }
        self.send(request).await;
        loop {
            let message = self.recv().await.expect("reply before close");
            if message["api_sequence"] == sequence && message.get("seq").is_none() {
                return message;
            }
            pushes.push(message);
        }
    }
}

/// A monitor (un)registration request.
pub fn monitor(sequence: i64, name: &str) -> Value {
    let request = WsRequest {
        api_method: "GET".to_owned(),
        api_path: "/scripts/v1/monitor".to_owned(),
        api_sequence: sequence,
        fields: MonitorRequest {
            name: name.to_owned(),
            ..MonitorRequest::default()
        },
    };
    serde_json::to_value(request).expect("a JSON request")
}

/// Sends `request` and returns its reply; panics if a push came first.
pub async fn call_quiet(ws: &mut WsClient, request: Value) -> Value {
    let mut pushes = Vec::new();
    let reply = ws.call(request, &mut pushes).await;
    assert!(
        pushes.is_empty(),
        "no push expected before the reply, got {pushes:?}"
    );
    reply
}

/// Registers a monitor and checks the reply shape exactly.
pub async fn subscribe(ws: &mut WsClient, request: Value) {
    let sequence = request["api_sequence"].clone();
    let name = request["name"].clone();
    let reply = call_quiet(ws, request).await;
    assert_eq!(
        reply,
        json!({"success": true, "name": name, "enabled": true, "api_sequence": sequence}),
        "monitor registration reply"
    );
}

/// Proves nothing was pushed to `ws` before now: a request sent now must be
/// answered before any push. Pushes the hub already handed to the session
/// are in its mailbox before this request arrives, so they would come first.
pub async fn assert_no_push_pending(ws: &mut WsClient, what: &str) {
    let request =
        json!({"api_method": "GET", "api_path": "/scripts/v1/status", "api_sequence": 424242});
    let mut pushes = Vec::new();
    let reply = ws.call(request, &mut pushes).await;
    assert_eq!(reply["success"], true, "status reply: {reply}");
    assert!(pushes.is_empty(), "{what}: unexpected pushes {pushes:?}");
}

/// The next message, which must be a push (has `seq`).
pub async fn next_push(ws: &mut WsClient) -> Value {
    let push = ws.recv().await.expect("socket open");
    assert!(push["seq"].is_i64(), "a push with an integer seq: {push}");
    push
}

/// Receives pushes until the `done` push of run `id`; returns all of them.
pub async fn pushes_until_done(ws: &mut WsClient, id: &str) -> Vec<Value> {
    let mut pushes = Vec::new();
    loop {
        let push = next_push(ws).await;
        let done = push["id"] == id && push["state"] == "done";
        pushes.push(push);
        if done {
            return pushes;
        }
    }
}

/// The pushes of run `id`.
pub fn of_run<'a>(pushes: &'a [Value], id: &str) -> Vec<&'a Value> {
    pushes.iter().filter(|p| p["id"] == id).collect()
}

/// The `state` of each push.
pub fn states(pushes: &[&Value]) -> Vec<String> {
    pushes
        .iter()
        .map(|p| p["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Asserts every push's `seq` exceeds the one before, starting above `after`.
pub fn assert_seq_increasing(pushes: &[Value], after: i64) {
    let mut last = after;
    for push in pushes {
        let seq = push["seq"].as_i64().expect("integer seq");
        assert!(seq > last, "seq {seq} must exceed {last}: {pushes:?}");
        last = seq;
    }
}
