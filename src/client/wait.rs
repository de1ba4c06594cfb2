//! `run --wait`: subscribe first, then start the run, then follow its
//! pushes to the end. Subscribing before the run exists is what makes it
//! impossible to miss a push, even for a run that finishes at once.

use serde_json::Value;

use super::api::{Client, Monitor, RunRequest};
use super::display::Display;
use super::error::ClientError;

/// Reconnects in a row without a push before giving up.
const MAX_RECONNECTS: usize = 3;

/// Starts `request`, shows its progress on `display` and returns the
/// finished status.
pub async fn run_and_wait(
    client: &Client,
    request: &RunRequest,
    display: &mut Display,
) -> Result<Value, ClientError> {
    let mut monitor = client.monitor(&request.name, true, None).await?;
    let reply = client.run(request).await?;
    if matches!(display, Display::Json) {
        display.show(&reply);
    }
    let id = reply
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut last_seq = None;
    let mut reconnects = 0;
    loop {
        let Some(push) = monitor.next_push().await? else {
            reconnects += 1;
            if reconnects > MAX_RECONNECTS {
                return Err(ClientError::Closed);
            }
            let (again, done) = reconnect(client, &request.name, &id, last_seq).await?;
            if let Some(done) = done {
                display.finish(&done);
                return Ok(done);
            }
            monitor = again;
            continue;
        };
        reconnects = 0;
        last_seq = push.get("seq").and_then(Value::as_i64).or(last_seq);
        if push.get("id").and_then(Value::as_str) != Some(id.as_str()) {
            continue;
        }
        if push.get("state").and_then(Value::as_str) == Some("done") {
            display.finish(&push);
            return Ok(push);
        }
        display.show(&push);
    }
}

/// A new monitor after the server closed the old one; `after` replays what
/// was missed. The status check covers a run that ended before the first
/// push was seen (then there is no `seq` to resume from).
async fn reconnect(
    client: &Client,
    name: &str,
    id: &str,
    last_seq: Option<i64>,
) -> Result<(Monitor, Option<Value>), ClientError> {
    let monitor = client.monitor(name, true, last_seq).await?;
    let done = match client.status(id).await {
        Ok(status) => {
            (status.get("state").and_then(Value::as_str) == Some("done")).then_some(status)
        }
        // A `-r` run is forgotten once it succeeded; the replay still has its push.
        Err(ClientError::UnknownId { .. }) => None,
        Err(err) => return Err(err),
    };
    Ok((monitor, done))
}
