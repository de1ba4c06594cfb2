//! `scriptd monitor [NAME]`: one line per push, for as long as the user
//! wants. An unknown script fails at once (the server refuses it); when the server goes away (a
//! restart) it reconnects with `after`, so no push is lost or repeated.

use std::time::Duration;

use super::api::Client;
use super::error::ClientError;
use super::render;

/// Pause between reconnect attempts while the server is down.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Prints pushes until Ctrl-C or an error other than a lost connection.
pub async fn monitor(
    client: &Client,
    name: &str,
    verbose: bool,
    json: bool,
) -> Result<(), ClientError> {
    let mut live = client.monitor(name, verbose, None).await?;
    // On stderr, so stdout stays one line per push; tells a person (and the
    // tests) that from now on no push is missed.
    let what = if name.is_empty() {
        "every script"
    } else {
        name
    };
    eprintln!("monitoring {what} (Ctrl-C to stop)");
    let mut last_seq: Option<i64> = None;
    loop {
        while let Some(push) = live.next_push().await? {
            last_seq = push.body.seq().or(last_seq);
            if json {
                println!("{}", serde_json::to_string(&push).unwrap_or_default());
            } else {
                // When it was seen: a monitor is read long after.
                let at = super::when::show(crate::clock::now());
                println!("{at} {}", render::push_line(&push.body));
            }
        }
        match live.close_reason() {
            Some(reason) => eprintln!("the server closed the connection: {reason}; reconnecting…"),
            None => eprintln!("connection to the server lost; reconnecting…"),
        }
        live = reconnect(client, name, verbose, last_seq, None).await?;
        eprintln!("monitoring {what} again");
    }
}

/// A new monitor that first replays what was missed after `last_seq`.
/// Retries while nothing answers (for at most `limit`, when given); any
/// other error ends the command.
pub(super) async fn reconnect(
    client: &Client,
    name: &str,
    verbose: bool,
    last_seq: Option<i64>,
    limit: Option<Duration>,
) -> Result<super::api::Monitor, ClientError> {
    let start = std::time::Instant::now();
    loop {
        match client.monitor(name, verbose, last_seq).await {
            Ok(monitor) => return Ok(monitor),
            Err(
                err
                @ (ClientError::Connect { .. } | ClientError::Closed | ClientError::Http { .. }),
            ) => {
                if limit.is_some_and(|limit| start.elapsed() >= limit) {
                    return Err(err);
                }
                actix_web::rt::time::sleep(RETRY_EVERY).await;
            }
            Err(err) => return Err(err),
        }
    }
}
