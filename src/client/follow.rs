//! Following a run's output as the server writes it: [`LogTail`] reads
//! `GET log/ID?offset=N` and hands out complete lines, and
//! [`follow_log`] is `scriptd log ID --follow`, which ends when the run
//! ends. The server writes the log at most ~100 ms behind the script.

use std::io::Write;
use std::time::Duration;

use super::api::Client;
use super::error::ClientError;

/// How often a followed log is read.
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// The unread end of one run's log.
#[derive(Debug, Default)]
pub struct LogTail {
    offset: u64,
    partial: Vec<u8>,
}

impl LogTail {
    /// The complete lines written since the last call. A log that cannot
    /// be read now (a forgotten `-r` run, a restarting server) yields none.
    pub async fn lines(&mut self, client: &Client, id: &str) -> Vec<String> {
        let Ok(bytes) = client.log_from(id, self.offset).await else {
            return Vec::new();
        };
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&complete[..end])
            .split('\n')
            .map(str::to_owned)
            .collect()
    }

    /// Whatever is left after the run ended: the last lines, and a last
    /// line without a newline.
    pub async fn rest(&mut self, client: &Client, id: &str) -> Vec<String> {
        let mut lines = self.lines(client, id).await;
        if !self.partial.is_empty() {
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
            self.partial.clear();
        }
        lines
    }
}

fn is_done(status: &crate::wire::RunStatus) -> bool {
    status.finished().is_some()
}

/// `scriptd log ID --follow`: prints the log as it grows; returns once the
/// run has ended and its whole log is printed.
pub async fn follow_log(client: &Client, id: &str, out: &mut dyn Write) -> Result<(), ClientError> {
    let mut tail = LogTail::default();
    // An unknown id fails here; status first, so a run seen done has its
    // whole log on disk.
    let mut done = is_done(&client.status(id).await?);
    loop {
        let lines = match done {
            true => tail.rest(client, id).await,
            false => tail.lines(client, id).await,
        };
        for line in lines {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        if done {
            return Ok(());
        }
        actix_web::rt::time::sleep(POLL_EVERY).await;
        done = match client.status(id).await {
            Ok(status) => is_done(&status),
            // A forgotten `-r` run: its log is gone with it.
            Err(ClientError::UnknownId { .. }) => true,
            Err(err) => return Err(err),
        };
    }
}
