//! A run's capped output log as a file of the storage
//! (`<storage>/<user>/scripts/logs/<run>.log`), where SQLite storages keep
//! it.
//!
//! The file is created with the first line: a run that prints nothing has
//! no log file, and `GET log` answers it with an empty log. Creating files
//! is the dearest part of a short run (BENCHMARKS.md § Profile-driven
//! fixes, 10).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::cap::{Cap, Take, TRUNCATED};

/// Appends output lines to a file until the cap, then notes the cut once.
pub struct LogFile {
    path: PathBuf,
    out: Output,
    cap: Cap,
    /// The first error that lost output (disk full, …), for the record.
    error: Option<String>,
    /// Keep what an earlier attempt wrote (`-R`) and write after it.
    append: bool,
}

enum Output {
    NotYet,
    Open(BufWriter<std::fs::File>),
    /// Creating or writing it failed: only the log is lost, never the run.
    Failed,
}

impl LogFile {
    /// A log at `path`, created (with its folder) on the first line, or
    /// appended to if `append` (a later attempt of the run).
    pub fn new(path: PathBuf, cap: u64, append: bool) -> Self {
        LogFile {
            path,
            out: Output::NotYet,
            cap: Cap::new(cap),
            error: None,
            append,
        }
    }

    /// Why output was lost, if it was: the run's record says so.
    pub fn error(&self) -> Option<String> {
        self.error.clone()
    }

    /// Stops writing after a failed write; what was lost is on record.
    fn failed(&mut self, err: std::io::Error) {
        tracing::warn!(path = %self.path.display(), error = %err, "cannot write run log");
        self.error.get_or_insert_with(|| err.to_string());
        self.out = Output::Failed;
    }

    fn open(&mut self) -> Option<&mut BufWriter<std::fs::File>> {
        if let Output::NotYet = self.out {
            let (path, append) = (&self.path, self.append);
            let open = || -> std::io::Result<std::fs::File> {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(append)
                    .truncate(!append)
                    .open(path)
            };
            self.out = match open() {
                Ok(file) => Output::Open(BufWriter::with_capacity(64 * 1024, file)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "cannot create run log");
                    self.error = Some(err.to_string());
                    Output::Failed
                }
            };
        }
        match &mut self.out {
            Output::Open(out) => Some(out),
            Output::NotYet | Output::Failed => None,
        }
    }

    /// Writes one line (a newline is added) unless the cap is reached.
    pub fn write_line(&mut self, line: &[u8]) {
        let take = self.cap.take(line);
        if take == Take::Nothing {
            return;
        }
        let Some(out) = self.open() else {
            return;
        };
        let written = match take {
            Take::Line(line) => out.write_all(line).and_then(|_| out.write_all(b"\n")),
            Take::Truncated => out.write_all(TRUNCATED),
            Take::Nothing => Ok(()),
        };
        if let Err(err) = written {
            self.failed(err);
        }
    }

    /// Pushes buffered output to the file (nothing to do when none is
    /// buffered, so a timer may call it often).
    pub fn flush(&mut self) {
        if let Output::Open(out) = &mut self.out {
            if let Err(err) = out.flush() {
                self.failed(err);
            }
        }
    }
}

/// Reads a log file from byte `offset` on; a run that printed nothing has
/// no file, which reads as an empty log.
pub async fn read_from(path: &Path, offset: u64) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// Deletes a log file; answers whether there was one.
pub async fn remove(path: &Path) -> std::io::Result<bool> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}
