//! The per-run cap of captured output, the same for every place a log is
//! kept: lines are taken whole until the next one would pass the cap, then
//! the cut is noted once and nothing more is taken.

/// The note that ends a log cut at its cap.
pub const TRUNCATED: &[u8] = b"[scriptd: output truncated at the log cap]\n";

/// What to append for one line of output.
#[derive(Debug, PartialEq, Eq)]
pub enum Take<'a> {
    /// The line, to be followed by a newline.
    Line(&'a [u8]),
    /// The cap was reached: the note, once.
    Truncated,
    /// Nothing more is kept.
    Nothing,
}

/// Counts the bytes a log has taken against its cap.
#[derive(Debug)]
pub struct Cap {
    written: u64,
    cap: u64,
    truncated: bool,
}

impl Cap {
    /// A cap of `cap` bytes (the note that marks a cut does not count).
    pub fn new(cap: u64) -> Self {
        Cap {
            written: 0,
            cap,
            truncated: false,
        }
    }

    /// Decides what one line adds to the log.
    pub fn take<'a>(&mut self, line: &'a [u8]) -> Take<'a> {
        if self.truncated {
            return Take::Nothing;
        }
        let len = line.len() as u64 + 1;
        if self.written + len > self.cap {
            self.truncated = true;
            return Take::Truncated;
        }
        self.written += len;
        Take::Line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_taken_until_the_cap_then_the_cut_is_noted_once() {
        let mut cap = Cap::new(8);
        assert_eq!(cap.take(b"abc"), Take::Line(b"abc"));
        assert_eq!(cap.take(b"def"), Take::Line(b"def"));
        assert_eq!(cap.take(b"g"), Take::Truncated, "4+4+2 passes 8");
        assert_eq!(cap.take(b""), Take::Nothing, "nothing after the cut");
    }
}
