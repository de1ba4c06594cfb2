//! The text of a monitor push. Owns the JSON shape of pushes and the
//! sharing of one text between monitors; knows nothing of sessions.

use std::collections::HashMap;

use bytestring::ByteString;

use crate::events::types::ProgressSnapshot;
use crate::events::{Event, StoredEvent};
use crate::status;
use crate::wire::Push;

/// The push for an event, before `api_sequence` is added; `None` when this
/// event is not pushed to this kind of subscription.
fn render(event: &StoredEvent, verbose: bool, owner: bool) -> Option<Push> {
    let seq = Some(event.seq);
    let push = match &event.event {
        Event::RunStarted { run, name, started } => Push::Running(crate::wire::Running {
            seq,
            ..status::running(*run, name, *started, &ProgressSnapshot::default())
        }),
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunInterrupted { run, record } => finished(*run, record, owner, seq),
        Event::RunQueued {
            run,
            name,
            queued,
            position,
            ..
        } if verbose => Push::Queued(crate::wire::Queued {
            seq,
            ..status::queued(*run, name, *queued, *position)
        }),
        Event::RunProgress {
            run,
            name,
            started,
            progress,
        } if verbose => Push::Running(crate::wire::Running {
            seq,
            ..status::running(*run, name, *started, progress)
        }),
        Event::RunCancelled { run, record, .. } if verbose => finished(*run, record, owner, seq),
        _ => return None,
    };
    Some(push)
}

fn finished(
    run: crate::ids::RunId,
    record: &crate::events::types::RunRecord,
    owner: bool,
    seq: Option<i64>,
) -> Push {
    let mut shape = status::finished(run, record, owner);
    shape.seq = seq;
    Push::Done(Box::new(shape))
}

/// `text` (a JSON object) with `"api_sequence":N` added as its last member.
fn with_sequence(text: &str, api_sequence: i64) -> Option<ByteString> {
    let body = text.strip_suffix('}')?;
    let separator = if body.ends_with('{') { "" } else { "," };
    Some(format!("{body}{separator}\"api_sequence\":{api_sequence}}}").into())
}

/// One event's pushes, each built on first use and then shared: the JSON
/// per kind of subscription (verbose or not, owner or guest), and the final
/// text per kind and `api_sequence`. Monitors registered the same way (1000
/// sockets that all sent the same request) share one text, a reference
/// count each, instead of one serialization and one copy each.
#[derive(Default)]
pub(super) struct Rendered {
    bare: [Option<Option<String>>; 4],
    texts: HashMap<(usize, i64), ByteString>,
}

impl Rendered {
    /// The push of `event` for this kind of subscription, or `None`.
    pub(super) fn get(
        &mut self,
        event: &StoredEvent,
        verbose: bool,
        owner: bool,
        api_sequence: i64,
    ) -> Option<ByteString> {
        let slot = usize::from(verbose) * 2 + usize::from(owner);
        if let Some(text) = self.texts.get(&(slot, api_sequence)) {
            return Some(text.clone());
        }
        let bare = self.bare[slot]
            .get_or_insert_with(|| {
                render(event, verbose, owner).and_then(|push| serde_json::to_string(&push).ok())
            })
            .as_deref()?;
        let text = with_sequence(bare, api_sequence)?;
        self.texts.insert((slot, api_sequence), text.clone());
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::with_sequence;

    #[test]
    fn the_api_sequence_is_appended_as_the_last_member() {
        let cases = [
            (
                "an object with members",
                r#"{"a":1}"#,
                r#"{"a":1,"api_sequence":7}"#,
            ),
            ("an empty object", "{}", r#"{"api_sequence":7}"#),
        ];
        for (what, text, want) in cases {
            let got = with_sequence(text, 7).map(|t| t.to_string());
            assert_eq!(got.as_deref(), Some(want), "{what}");
        }
    }
}
