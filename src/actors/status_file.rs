//! Writes the per-run status files off the actor threads. Changes gather
//! for `WINDOW` and changes to one path are coalesced (the latest wins);
//! each write lands atomically: a temp file renamed over the old one, so a
//! reader never sees partial JSON.
//!
//! A new run's file is written once the run is at least `WINDOW` old, so
//! a run that is queued and ends sooner never touches the disk: its file
//! would be created only to be removed. Creating files is what costs here
//! (inode allocation, BENCHMARKS.md § Profile-driven fixes, 8), far more
//! than the JSON.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::ids::{RunId, UserId};
use crate::storage::StatusPlacement;

/// How long changes gather before they are written, and how old a run must
/// be before its first file is. Status files of queued runs already lag
/// their positions by up to 100 ms (see the queue's refresh); `GET /status`
/// is always exact.
pub const WINDOW: Duration = Duration::from_millis(20);

/// One change to a status file.
enum Change {
    /// The first status of a new run: no file exists yet.
    Create(String),
    Replace(String),
    /// Like `Replace`, but left alone when the file already holds it.
    Refresh(String),
    Remove,
    /// Not a change: answered once every change sent before it is done.
    Settled(oneshot::Sender<()>),
}

/// What is still to be done to one path.
struct Pending {
    /// The file does not exist yet: the run was created at `since`.
    fresh: Option<Instant>,
    /// The content to write, or `None` to remove the file.
    content: Option<String>,
    /// Write only if the file holds something else (reading a file costs
    /// no inode; replacing it does).
    unless_same: bool,
}

type Batch = HashMap<PathBuf, Pending>;

/// Handle to the status-file writer task.
#[derive(Clone)]
pub struct StatusFiles {
    tx: mpsc::UnboundedSender<(PathBuf, Change)>,
    placement: Arc<StatusPlacement>,
}

impl StatusFiles {
    /// Starts the writer on the current runtime.
    pub fn start(placement: StatusPlacement) -> Self {
        let placement = Arc::new(placement);
        let writer_placement = placement.clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<(PathBuf, Change)>();
        actix::spawn(async move {
            // Changes not written yet: new runs younger than WINDOW.
            let mut held = Batch::new();
            let mut waiters = Vec::new();
            loop {
                if held.is_empty() && waiters.is_empty() {
                    let Some((path, change)) = rx.recv().await else {
                        break;
                    };
                    take(&mut held, &mut waiters, path, change, Instant::now());
                }
                tokio::time::sleep(WINDOW).await;
                let now = Instant::now();
                while let Ok((path, change)) = rx.try_recv() {
                    take(&mut held, &mut waiters, path, change, now);
                }
                let due = take_due(&mut held, now);
                if !due.is_empty() {
                    let placement = writer_placement.clone();
                    if let Err(err) =
                        tokio::task::spawn_blocking(move || write_batch(due, &placement)).await
                    {
                        tracing::error!(error = %err, "status file writer failed");
                    }
                }
                for waiter in waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
        });
        StatusFiles { tx, placement }
    }

    /// `<root>/<user>/scripts/status/<id>.json` (see [`StatusPlacement`]).
    pub fn path(&self, user: UserId, run: RunId) -> PathBuf {
        self.placement.path(user, run)
    }

    /// Writes the first status file of a run just accepted.
    pub fn create(&self, user: UserId, run: RunId, status: &impl serde::Serialize) {
        self.send(user, run, status, Change::Create);
    }

    /// Replaces the status file of a run with `status`.
    pub fn write(&self, user: UserId, run: RunId, status: &impl serde::Serialize) {
        self.send(user, run, status, Change::Replace);
    }

    fn send(
        &self,
        user: UserId,
        run: RunId,
        status: &impl serde::Serialize,
        change: fn(String) -> Change,
    ) {
        match serde_json::to_string_pretty(status) {
            Ok(text) => {
                let _ = self.tx.send((self.path(user, run), change(text)));
            }
            Err(err) => tracing::error!(error = %err, "status not serializable"),
        }
    }

    /// Makes the status file of a run hold `status`, leaving it untouched
    /// when it already does (a restart's check of every queued run's file).
    pub fn refresh(&self, user: UserId, run: RunId, status: &impl serde::Serialize) {
        self.send(user, run, status, Change::Refresh);
    }

    /// Resolves once every change sent before it has been written (new
    /// runs' files still held back excepted), so that a long series of
    /// changes can wait for the disk instead of piling up in memory.
    pub fn settled(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send((PathBuf::new(), Change::Settled(tx)));
        rx
    }

    /// Removes the status file of a run that ended.
    pub fn remove(&self, user: UserId, run: RunId) {
        let _ = self.tx.send((self.path(user, run), Change::Remove));
    }
}

/// Sorts what arrived: a change to fold, or someone to tell when done.
fn take(
    held: &mut Batch,
    waiters: &mut Vec<oneshot::Sender<()>>,
    path: PathBuf,
    change: Change,
    now: Instant,
) {
    match change {
        Change::Settled(waiter) => waiters.push(waiter),
        change => gather(held, path, change, now),
    }
}

/// Folds one change, seen at `now`, into what is still to be done.
fn gather(batch: &mut Batch, path: PathBuf, change: Change, now: Instant) {
    let (fresh, content, unless_same) = match change {
        Change::Create(text) => (Some(now), Some(text), false),
        Change::Replace(text) => (None, Some(text), false),
        Change::Refresh(text) => (None, Some(text), true),
        Change::Remove => (None, None, false),
        Change::Settled(_) => return, // sorted out by `take`
    };
    match batch.get_mut(&path) {
        // A file created and removed before it was written never existed.
        Some(pending) if pending.fresh.is_some() && content.is_none() => {
            batch.remove(&path);
        }
        Some(pending) => {
            pending.content = content;
            pending.unless_same = unless_same;
        }
        None => {
            batch.insert(
                path,
                Pending {
                    fresh,
                    content,
                    unless_same,
                },
            );
        }
    }
}

/// Takes out what may be written at `now`: everything but the files of
/// runs younger than WINDOW.
fn take_due(held: &mut Batch, now: Instant) -> Batch {
    let young = |pending: &Pending| pending.fresh.is_some_and(|since| now - since < WINDOW);
    let (keep, due) = std::mem::take(held)
        .into_iter()
        .partition(|(_, pending)| young(pending));
    *held = keep;
    due
}

fn write_batch(batch: Batch, placement: &StatusPlacement) {
    // Folders made or seen in this batch: one check per folder, not one
    // per file (a later batch checks again, should one have gone).
    let mut folders = HashSet::new();
    for (path, pending) in batch {
        let result = match pending.content {
            Some(text) if pending.unless_same && holds(&path, &text) => Ok(()),
            Some(text) => write_atomic(&path, text.as_bytes(), placement, &mut folders),
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

/// Whether the file at `path` holds exactly `text`.
fn holds(path: &Path, text: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes == text.as_bytes())
}

fn write_atomic(
    path: &Path,
    bytes: &[u8],
    placement: &StatusPlacement,
    folders: &mut HashSet<PathBuf>,
) -> std::io::Result<()> {
    if let Some(folder) = path.parent().filter(|folder| !folders.contains(*folder)) {
        placement.create_dir(path)?;
        folders.insert(folder.to_owned());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // Made with its mode where the umask (077) leaves it whole, as the
    // default 0600 is; a temp file left by a crash keeps the mode it had,
    // so it is set again.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(placement.mode)
        .open(&tmp)
    {
        Ok(file) if placement.exact_at_creation() => file,
        Ok(file) => {
            placement.apply_file(&file)?;
            file
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let file = std::fs::File::create(&tmp)?;
            placement.apply_file(&file)?;
            file
        }
        Err(err) => return Err(err),
    };
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(changes: Vec<Change>) -> Option<(bool, Option<String>)> {
        let mut batch = Batch::new();
        let path = PathBuf::from("/x/1.json");
        for change in changes {
            gather(&mut batch, path.clone(), change, Instant::now());
        }
        batch.remove(&path).map(|p| (p.fresh.is_some(), p.content))
    }

    #[test]
    fn a_run_created_and_removed_before_its_file_is_written_leaves_nothing_to_do() {
        let changes = vec![
            Change::Create("queued".into()),
            Change::Replace("running".into()),
            Change::Remove,
        ];
        assert!(fold(changes).is_none());
    }

    #[test]
    fn a_file_that_already_exists_is_still_removed() {
        let changes = vec![Change::Replace("running".into()), Change::Remove];
        assert_eq!(fold(changes), Some((false, None)));
    }

    #[test]
    fn the_latest_content_wins() {
        let changes = vec![
            Change::Create("queued".into()),
            Change::Replace("running".into()),
        ];
        assert_eq!(fold(changes), Some((true, Some("running".into()))));
    }

    #[test]
    fn a_new_runs_file_waits_until_the_run_is_a_window_old() {
        let start = Instant::now();
        let mut held = Batch::new();
        gather(
            &mut held,
            "/x/new.json".into(),
            Change::Create("q".into()),
            start,
        );
        gather(
            &mut held,
            "/x/old.json".into(),
            Change::Replace("r".into()),
            start,
        );
        let due = take_due(&mut held, start + WINDOW / 2);
        assert_eq!(due.keys().collect::<Vec<_>>(), [Path::new("/x/old.json")]);
        assert_eq!(held.len(), 1, "the young run is held");
        let due = take_due(&mut held, start + WINDOW);
        assert_eq!(due.keys().collect::<Vec<_>>(), [Path::new("/x/new.json")]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_status_file_has_its_mode_even_over_a_temp_file_left_by_a_crash() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let placement = crate::storage::StatusPlacement::in_storage(dir.path());
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("written")
                .permissions()
                .mode()
                & 0o777
        };
        let (fresh, left) = (
            placement.path(UserId(1), RunId::new()),
            placement.path(UserId(1), RunId::new()),
        );
        placement.create_dir(&left).expect("folder");
        let tmp = PathBuf::from(format!("{}.tmp", left.display()));
        std::fs::write(&tmp, "half").expect("left over");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut folders = HashSet::new();
        for path in [&fresh, &left] {
            write_atomic(path, b"{}", &placement, &mut folders).expect("write");
            assert_eq!(mode(path), placement.mode, "{}", path.display());
            assert_eq!(std::fs::read(path).expect("read"), b"{}");
        }
    }

    #[actix_rt::test]
    async fn settled_answers_once_every_change_sent_before_it_is_on_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let files = StatusFiles::start(crate::storage::StatusPlacement::in_storage(dir.path()));
        let (user, runs) = (UserId(1), [RunId::new(), RunId::new()]);
        let mut status = serde_json::Map::new();
        status.insert("state".into(), "queued".into());
        for run in runs {
            files.write(user, run, &status);
        }
        files.refresh(user, runs[0], &status);
        files.settled().await.expect("the writer answers");
        for run in runs {
            let text = std::fs::read_to_string(files.path(user, run)).expect("written");
            assert!(text.contains("queued"), "{text}");
        }
        files.remove(user, runs[1]);
        files.settled().await.expect("the writer answers");
        assert!(!files.path(user, runs[1]).exists(), "removed");
    }
}
