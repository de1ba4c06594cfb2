//! The history query: finished, not forgotten runs of one user, newest
//! first by (finished, id), with the audit columns of the read model. Each
//! filter combination is served by an ordered index range (see the
//! `add_history_indexes` migrations); nothing sorts in memory. The
//! queries are in each backend's `history` module.

use super::types::{Outcome, RunRecord};
use crate::ids::{RunId, ScriptName, UserId};

/// A position in the history order: the (finished, id) of the last row
/// seen. On the wire it is an opaque string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub finished: f64,
    pub id: RunId,
}

impl Cursor {
    /// The opaque wire form: the bits of `finished` then the id, as hex, so
    /// that the float comes back exactly and the text is URL-safe.
    pub fn encode(&self) -> String {
        format!("{:016x}{}", self.finished.to_bits(), self.id.0.simple())
    }

    /// Parses [`Cursor::encode`]'s output; anything else is `None`.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != 48 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let finished = f64::from_bits(u64::from_str_radix(text.get(..16)?, 16).ok()?);
        let id = uuid::Uuid::parse_str(text.get(16..)?).ok()?;
        finished.is_finite().then_some(Cursor {
            finished,
            id: RunId(id),
        })
    }
}

/// What a history page asks for.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub user: UserId,
    pub name: Option<ScriptName>,
    pub outcome: Option<Outcome>,
    /// Finished at or after this UNIX second.
    pub since: Option<i64>,
    /// Finished before this UNIX second.
    pub until: Option<i64>,
    /// Only rows after this one in the order.
    pub before: Option<Cursor>,
    pub limit: u32,
}

/// Who asked for a change of a run, and from where.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actor {
    /// `user:<id>` or `guest:<id>`.
    pub by: String,
    /// The peer address, when known.
    pub from: Option<String>,
}

/// One finished run with its audit facts.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub id: RunId,
    pub record: RunRecord,
    pub requested: Actor,
    pub cancelled: Option<Actor>,
    pub killed: Option<Actor>,
}

impl HistoryRow {
    /// This row's place in the order, for the next page's `before`.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            finished: self.record.finished,
            id: self.id,
        }
    }
}

/// A page of history and whether more rows follow it.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly_and_refuse_anything_else() {
        let cursor = Cursor {
            finished: 1_764_000_000.123_456_7,
            id: RunId::new(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        let nan = format!("{:016x}{}", f64::NAN.to_bits(), cursor.id.0.simple());
        for (what, text) in [
            ("empty", String::new()),
            ("short", cursor.encode()[1..].to_owned()),
            (
                "not hex",
                cursor.encode().replace(|c: char| c.is_ascii_digit(), "z"),
            ),
            ("nan", nan),
            ("a run id", cursor.id.to_string()),
        ] {
            assert_eq!(Cursor::decode(&text), None, "{what}: {text}");
        }
    }
}
