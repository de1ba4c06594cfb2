//! `run --wait`: subscribe first, then start the run, then follow its
//! pushes and its output to the end. Subscribing before the run exists is
//! what makes it impossible to miss a push, even for a run that finishes at
//! once. Ctrl-C detaches: the run goes on.

use super::api::{Client, Monitor, RunRequest};
use super::display::Display;
use super::error::ClientError;
use super::follow::{LogTail, POLL_EVERY};
use crate::wire::{Finished, RunStatus, WsReply};

/// Reconnects in a row without a push before giving up.
const MAX_RECONNECTS: usize = 3;
/// How long a wait keeps trying to reach a restarting server.
const RESTART_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// How a wait ended.
pub enum Waited {
    /// The run finished: its finished status (the push, or the status
    /// reply when the push was missed).
    Done(Box<WsReply<Finished>>),
    /// The user pressed Ctrl-C; the run goes on.
    Detached,
}

/// Starts `request`, shows its id, output and progress on `display`.
pub async fn run_and_wait(
    client: &Client,
    request: &RunRequest,
    display: &mut Display,
) -> Result<Waited, ClientError> {
    let monitor = client
        .monitor(&request.name, true, None)
        .await
        .map_err(|err| match err.is("access_denied") {
            true => err.with_hint("--wait follows the run over a monitor, which needs the guest's `monitor` right; run without --wait"),
            false => err,
        })?;
    let reply = client.run(request).await?;
    display.id(&reply);
    let id = reply.id.to_string();
    let follow = follow(client, &request.name, &id, monitor, display);
    tokio::select! {
        done = follow => done.map(|done| Waited::Done(Box::new(done))),
        _ = tokio::signal::ctrl_c() => {
            display.detach(&id);
            Ok(Waited::Detached)
        }
    }
}

async fn follow(
    client: &Client,
    name: &str,
    id: &str,
    mut monitor: Monitor,
    display: &mut Display,
) -> Result<WsReply<Finished>, ClientError> {
    let mut tail = LogTail::default();
    let mut tick = actix_web::rt::time::interval(POLL_EVERY);
    let mut last_seq = None;
    let mut reconnects = 0;
    loop {
        let push = tokio::select! {
            push = monitor.next_push() => push?,
            _ = tick.tick() => {
                for line in tail.lines(client, id).await {
                    display.output(&line);
                }
                continue;
            }
        };
        let Some(push) = push else {
            reconnects += 1;
            if reconnects > MAX_RECONNECTS {
                return Err(ClientError::Closed);
            }
            let (again, done) = reconnect(client, name, id, last_seq).await?;
            if let Some(done) = done {
                return Ok(finish(client, id, &mut tail, display, done).await);
            }
            monitor = again;
            continue;
        };
        reconnects = 0;
        last_seq = push.body.seq().or(last_seq);
        if push.body.id().to_string() != id {
            continue;
        }
        let WsReply {
            api_sequence,
            body: RunStatus::Done(done),
        } = push
        else {
            display.show(&push);
            continue;
        };
        let done = WsReply {
            api_sequence,
            body: *done,
        };
        return Ok(finish(client, id, &mut tail, display, done).await);
    }
}

/// The rest of the output, then the outcome.
async fn finish(
    client: &Client,
    id: &str,
    tail: &mut LogTail,
    display: &mut Display,
    done: WsReply<Finished>,
) -> WsReply<Finished> {
    for line in tail.rest(client, id).await {
        display.output(&line);
    }
    display.finish(&done);
    done
}

/// A new monitor after the server closed the old one (a restart is waited
/// for a while); `after` replays what was missed. The status check covers
/// a run that ended before the first push was seen (then there is no `seq`
/// to resume from).
async fn reconnect(
    client: &Client,
    name: &str,
    id: &str,
    last_seq: Option<i64>,
) -> Result<(Monitor, Option<WsReply<Finished>>), ClientError> {
    let monitor =
        super::monitor::reconnect(client, name, true, last_seq, Some(RESTART_GRACE)).await?;
    let done = match client.status(id).await {
        Ok(RunStatus::Done(done)) => Some(WsReply {
            api_sequence: None,
            body: *done,
        }),
        Ok(_) => None,
        // A `-r` run is forgotten once it succeeded; the replay still has its push.
        Err(ClientError::UnknownId { .. }) => None,
        Err(err) => Err(err)?,
    };
    Ok((monitor, done))
}
