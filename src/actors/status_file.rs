//! Writes the per-run status files off the actor threads. Writes to one
//! path are coalesced (the latest wins) and each lands atomically: a temp
//! file renamed over the old one, so a reader never sees partial JSON.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::ids::{RunId, UserId};

/// Handle to the status-file writer task.
#[derive(Clone)]
pub struct StatusFiles {
    tx: mpsc::UnboundedSender<(PathBuf, Option<String>)>,
    storage: PathBuf,
}

impl StatusFiles {
    /// Starts the writer on the current runtime.
    pub fn start(storage: PathBuf) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(PathBuf, Option<String>)>();
        actix::spawn(async move {
            while let Some((path, content)) = rx.recv().await {
                let mut batch = HashMap::new();
                batch.insert(path, content);
                while let Ok((path, content)) = rx.try_recv() {
                    batch.insert(path, content);
                }
                if let Err(err) = tokio::task::spawn_blocking(move || write_batch(batch)).await {
                    tracing::error!(error = %err, "status file writer failed");
                }
            }
        });
        StatusFiles { tx, storage }
    }

    /// `<storage>/<user>/scripts/status/<id>.json`.
    pub fn path(&self, user: UserId, run: RunId) -> PathBuf {
        self.storage
            .join(user.to_string())
            .join("scripts/status")
            .join(format!("{run}.json"))
    }

    /// Replaces the status file of a run with `status`.
    pub fn write(
        &self,
        user: UserId,
        run: RunId,
        status: &serde_json::Map<String, serde_json::Value>,
    ) {
        match serde_json::to_string_pretty(status) {
            Ok(text) => {
                let _ = self.tx.send((self.path(user, run), Some(text)));
            }
            Err(err) => tracing::error!(error = %err, "status not serializable"),
        }
    }

    /// Removes the status file of a run that ended.
    pub fn remove(&self, user: UserId, run: RunId) {
        let _ = self.tx.send((self.path(user, run), None));
    }
}

fn write_batch(batch: HashMap<PathBuf, Option<String>>) {
    for (path, content) in batch {
        let result = match content {
            Some(text) => write_atomic(&path, text.as_bytes()),
            None => match std::fs::remove_file(&path) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        if let Err(err) = result {
            tracing::warn!(path = %path.display(), error = %err, "status file update failed");
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path)
}
