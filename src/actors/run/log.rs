//! The capped output log of one run.
//!
//! The file is created with the first line: a run that prints nothing has
//! no log file, and `GET log` answers it with an empty log. Creating files
//! is the dearest part of a short run (BENCHMARKS.md § Profile-driven
//! fixes, 10).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Appends output lines to a file until the cap, then notes the cut once.
pub struct LogFile {
    path: PathBuf,
    out: Output,
    written: u64,
    cap: u64,
    truncated: bool,
    /// The first error that lost output (disk full, …), for the record.
    error: Option<String>,
}

enum Output {
    NotYet,
    Open(BufWriter<std::fs::File>),
    /// Creating or writing it failed: only the log is lost, never the run.
    Failed,
}

impl LogFile {
    /// A log at `path`, created (with its folder) on the first line.
    pub fn new(path: PathBuf, cap: u64) -> Self {
        LogFile {
            path,
            out: Output::NotYet,
            written: 0,
            cap,
            truncated: false,
            error: None,
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
            let path = &self.path;
            let open = || -> std::io::Result<std::fs::File> {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::File::create(path)
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
        if self.truncated {
            return;
        }
        let len = line.len() as u64 + 1;
        let over = self.written + len > self.cap;
        self.truncated = over;
        if !over {
            self.written += len;
        }
        let Some(out) = self.open() else {
            return;
        };
        let written = if over {
            out.write_all(b"[scriptd: output truncated at the log cap]\n")
        } else {
            out.write_all(line).and_then(|_| out.write_all(b"\n"))
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
