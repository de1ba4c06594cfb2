//! A minimal WebSocket monitor client: connect, register, read pushes.

use std::time::Duration;

use anyhow::Context as _;
use awc::error::WsProtocolError;
use awc::ws::{Frame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{json, Value};

use crate::server::Target;

/// What a connected socket is, without naming awc's framing types.
pub trait Socket:
    Stream<Item = Result<Frame, WsProtocolError>> + Sink<Message, Error = WsProtocolError> + Unpin
{
}

impl<T> Socket for T where
    T: Stream<Item = Result<Frame, WsProtocolError>>
        + Sink<Message, Error = WsProtocolError>
        + Unpin
{
}

/// Opens a socket on `/scripts/v1` with the target's key.
pub async fn connect(client: &awc::Client, target: &Target) -> anyhow::Result<impl Socket> {
    let (_resp, framed) = client
        .ws(format!("ws://127.0.0.1:{}/scripts/v1", target.port))
        .set_header("X-APIKey", target.key.as_str())
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("websocket connect: {e}"))?;
    Ok(framed)
}

/// The next text frame (answering pings), or `None` when closed.
pub async fn next_text(ws: &mut impl Socket) -> Option<actix_web::web::Bytes> {
    loop {
        match ws.next().await? {
            Ok(Frame::Text(bytes)) => return Some(bytes),
            Ok(Frame::Ping(bytes)) => {
                let _ = ws.send(Message::Pong(bytes)).await;
            }
            Ok(Frame::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Registers a monitor of `name` and waits for its reply.
pub async fn subscribe(ws: &mut impl Socket, name: &str) -> anyhow::Result<()> {
    let request = json!({
        "api_method": "GET", "api_path": "/scripts/v1/monitor",
        "api_sequence": 1, "name": name,
    });
    ws.send(Message::Text(request.to_string().into())).await?;
    let reply = tokio::time::timeout(Duration::from_secs(30), next_text(ws))
        .await
        .context("monitor reply timed out")?
        .context("socket closed")?;
    let reply: Value = serde_json::from_slice(&reply)?;
    anyhow::ensure!(reply["enabled"] == true, "monitor refused: {reply}");
    Ok(())
}
