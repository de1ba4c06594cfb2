//! Owns reading a child's stdout and stderr concurrently as newline-delimited
//! lines, each capped at a maximum length, with a bounded wait after the
//! child has exited (a grandchild may keep the pipes open forever).

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Default time `read_lines` keeps reading after the `drain` future completes.
pub const DEFAULT_GRACE: Duration = Duration::from_millis(200);

/// Size of each stream's read buffer.
const READ_CHUNK: usize = 64 * 1024;

/// Appended to a line cut at the cap, so a reader of the log or of
/// `first`/`last` knows the line went on (as the log cap marks its cut).
pub const CUT_MARKER: &[u8] = b" [scriptd: line cut at the line length cap]";

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

/// What happened while reading; returned by [`read_lines`] and [`OutputReader::run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Number of lines delivered on stdout.
    pub stdout_lines: u64,
    /// Number of lines delivered on stderr.
    pub stderr_lines: u64,
    /// Number of lines that were longer than the cap and delivered truncated.
    pub truncated_lines: u64,
    /// True if stdout reached EOF (false: abandoned after the grace period, or read error).
    pub stdout_eof: bool,
    /// True if stderr reached EOF (false: abandoned after the grace period, or read error).
    pub stderr_eof: bool,
}

/// Line reader settings: the per-line cap and the grace period after `drain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputReader {
    /// Maximum delivered line length in bytes; longer lines are truncated to this.
    pub max_line: usize,
    /// How long to keep reading after the `drain` future completes before giving up on EOF.
    pub grace: Duration,
}

/// Reads both pipes as capped lines with the default grace period; see [`OutputReader::run`].
pub async fn read_lines<O, E, F, D>(
    stdout: O,
    stderr: E,
    max_line: usize,
    on_line: F,
    drain: D,
) -> ReadSummary
where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
    F: FnMut(Stream, &[u8]),
    D: Future<Output = ()>,
{
    OutputReader::new(max_line)
        .run(stdout, stderr, on_line, drain)
        .await
}

impl OutputReader {
    /// Creates a reader with the given line cap and [`DEFAULT_GRACE`].
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            grace: DEFAULT_GRACE,
        }
    }

    /// Returns a copy with a different grace period.
    pub fn with_grace(self, grace: Duration) -> Self {
        Self { grace, ..self }
    }

    /// Reads both pipes concurrently, calling `on_line` for every line (without its `\n`).
    ///
    /// Lines longer than `max_line` bytes are delivered once, truncated to `max_line`
    /// bytes and followed by [`CUT_MARKER`], as soon as the cap is exceeded; the
    /// rest of that line is discarded.
    /// A final line without a trailing newline is delivered at EOF. `\r` is not
    /// stripped. Returns when both pipes reach EOF, or `grace` after `drain`
    /// completes, whichever is first; partial lines buffered at that point are
    /// delivered before returning.
    pub async fn run<O, E, F, D>(
        self,
        mut stdout: O,
        mut stderr: E,
        mut on_line: F,
        drain: D,
    ) -> ReadSummary
    where
        O: AsyncRead + Unpin,
        E: AsyncRead + Unpin,
        F: FnMut(Stream, &[u8]),
        D: Future<Output = ()>,
    {
        let mut out = LineSplitter::new(Stream::Stdout, self.max_line);
        let mut err = LineSplitter::new(Stream::Stderr, self.max_line);
        let mut out_buf = vec![0u8; READ_CHUNK];
        let mut err_buf = vec![0u8; READ_CHUNK];
        let mut out_open = true;
        let mut err_open = true;
        let mut truncated = 0u64;

        let drain = std::pin::pin!(drain);
        let mut drain = Some(drain);
        let deadline = tokio::time::sleep(Duration::ZERO);
        let mut deadline = std::pin::pin!(deadline);
        let mut deadline_armed = false;

        while out_open || err_open {
            tokio::select! {
                r = stdout.read(&mut out_buf), if out_open => match r {
                    Ok(0) => out_open = false,
                    Ok(n) => out.feed(&out_buf[..n], &mut on_line),
                    Err(e) => {
                        tracing::warn!(error = %e, "error reading child stdout; treating as EOF");
                        out_open = false;
                    }
                },
                r = stderr.read(&mut err_buf), if err_open => match r {
                    Ok(0) => err_open = false,
                    Ok(n) => err.feed(&err_buf[..n], &mut on_line),
                    Err(e) => {
                        tracing::warn!(error = %e, "error reading child stderr; treating as EOF");
                        err_open = false;
                    }
                },
                () = async { if let Some(d) = drain.as_mut() { d.await } }, if drain.is_some() => {
                    drain = None;
                    deadline.as_mut().reset(tokio::time::Instant::now() + self.grace);
                    deadline_armed = true;
                },
                () = &mut deadline, if deadline_armed => {
                    tracing::debug!(
                        stdout_open = out_open,
                        stderr_open = err_open,
                        "output still open after grace period; a descendant may hold the pipe"
                    );
                    break;
                },
            }
        }
        out.finish(&mut on_line);
        err.finish(&mut on_line);
        truncated += out.truncated + err.truncated;
        ReadSummary {
            stdout_lines: out.lines,
            stderr_lines: err.lines,
            truncated_lines: truncated,
            stdout_eof: !out_open,
            stderr_eof: !err_open,
        }
    }
}

/// Splits one stream's bytes into capped lines, reusing a single buffer.
struct LineSplitter {
    stream: Stream,
    max_line: usize,
    /// Partial line carried across reads; never grows beyond `max_line` bytes.
    partial: Vec<u8>,
    /// True while skipping the remainder of an over-long line.
    discarding: bool,
    lines: u64,
    truncated: u64,
}

impl LineSplitter {
    fn new(stream: Stream, max_line: usize) -> Self {
        Self {
            stream,
            max_line,
            partial: Vec::new(),
            discarding: false,
            lines: 0,
            truncated: 0,
        }
    }

    fn feed<F: FnMut(Stream, &[u8])>(&mut self, mut data: &[u8], on_line: &mut F) {
        while !data.is_empty() {
            let nl = data.iter().position(|&b| b == b'\n');
            let (piece, rest, complete) = match nl {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            if self.discarding {
                if complete {
                    self.discarding = false;
                }
                continue;
            }
            let room = self.max_line - self.partial.len();
            if piece.len() > room {
                // Over the cap: deliver what fits now, marked, and drop
                // the rest of the line.
                self.partial.extend_from_slice(&piece[..room]);
                self.partial.extend_from_slice(CUT_MARKER);
                self.emit_partial(on_line);
                self.truncated += 1;
                self.discarding = !complete;
            } else if complete {
                if self.partial.is_empty() {
                    // Fast path: whole line inside this chunk, no copy.
                    self.emit_slice(piece, on_line);
                } else {
                    self.partial.extend_from_slice(piece);
                    self.emit_partial(on_line);
                }
            } else {
                self.partial.extend_from_slice(piece);
            }
        }
    }

    /// Delivers a final unterminated line, if any.
    fn finish<F: FnMut(Stream, &[u8])>(&mut self, on_line: &mut F) {
        if !self.partial.is_empty() {
            self.emit_partial(on_line);
        }
        self.discarding = false;
    }

    fn emit_slice<F: FnMut(Stream, &[u8])>(&mut self, line: &[u8], on_line: &mut F) {
        self.lines += 1;
        on_line(self.stream, line);
    }

    fn emit_partial<F: FnMut(Stream, &[u8])>(&mut self, on_line: &mut F) {
        self.lines += 1;
        on_line(self.stream, &self.partial);
        self.partial.clear();
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::new(Stream::Stdout, max);
        let mut got = Vec::new();
        let mut f = |_: Stream, l: &[u8]| got.push(l.to_vec());
        for c in chunks {
            s.feed(c, &mut f);
        }
        s.finish(&mut f);
        got
    }

    fn cut(text: &[u8]) -> Vec<u8> {
        [text, CUT_MARKER].concat()
    }

    #[test]
    fn splits_and_caps() {
        assert_eq!(
            split(4, &[b"ab\ncd", b"e\n\n"]),
            vec![b"ab".to_vec(), b"cde".to_vec(), vec![]]
        );
        assert_eq!(
            split(4, &[b"abcdefgh\nxy"]),
            vec![cut(b"abcd"), b"xy".to_vec()]
        );
        assert_eq!(
            split(4, &[b"ab", b"cdef", b"gh\nz\n"]),
            vec![cut(b"abcd"), b"z".to_vec()]
        );
        assert_eq!(split(4, &[b"abcd\n"]), vec![b"abcd".to_vec()]);
        assert_eq!(split(4, &[b"ab", b"cd", b"\n"]), vec![b"abcd".to_vec()]);
        assert_eq!(split(0, &[b"ab\n\n"]), vec![cut(b""), Vec::new()]);
        // A cut line with no newline at all is still marked at the end.
        assert_eq!(split(4, &[b"abcdef"]), vec![cut(b"abcd")]);
    }
}
