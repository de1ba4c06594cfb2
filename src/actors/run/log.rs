//! The capped output log of one run.

use std::io::{BufWriter, Write};
use std::path::Path;

/// Appends output lines to a file until the cap, then notes the cut once.
pub struct LogFile {
    out: BufWriter<std::fs::File>,
    written: u64,
    cap: u64,
    truncated: bool,
}

impl LogFile {
    /// Creates the log (and its folder); `None` if that fails, which only
    /// loses the log, never the run.
    pub fn create(path: &Path, cap: u64) -> Option<Self> {
        let open = || -> std::io::Result<std::fs::File> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::File::create(path)
        };
        match open() {
            Ok(file) => Some(LogFile {
                out: BufWriter::with_capacity(64 * 1024, file),
                written: 0,
                cap,
                truncated: false,
            }),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot create run log");
                None
            }
        }
    }

    /// Writes one line (a newline is added) unless the cap is reached.
    pub fn write_line(&mut self, line: &[u8]) {
        if self.truncated {
            return;
        }
        let len = line.len() as u64 + 1;
        if self.written + len > self.cap {
            self.truncated = true;
            let _ = self
                .out
                .write_all(b"[scriptd: output truncated at the log cap]\n");
            return;
        }
        self.written += len;
        let _ = self
            .out
            .write_all(line)
            .and_then(|_| self.out.write_all(b"\n"));
    }

    /// Pushes buffered output to the file.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
