//! The text of a monitor push. Its values come from the run domain
//! (`run::view`); this owns their JSON and the sharing of one text
//! between monitors, and knows nothing of sessions.

use std::collections::HashMap;

use bytestring::ByteString;

use crate::events::StoredEvent;
use crate::run::view::{self, Audience, View};
use crate::status;
use crate::wire::{self, Push};

/// The push for an event, before `api_sequence` is added; `None` when this
/// event is not pushed to this kind of subscription.
fn render(event: &StoredEvent, verbose: bool, owner: bool) -> Option<Push> {
    let (view, audience) = view::pushed(&event.event)?;
    if audience == Audience::Verbose && !verbose {
        return None;
    }
    let seq = Some(event.seq);
    let push = match view {
        View::Queued {
            id,
            name,
            queued,
            position,
            tick,
        } => Push::Queued(wire::Queued {
            seq,
            ..status::queued(id, name, queued, position, tick)
        }),
        View::Running {
            id,
            name,
            started,
            progress,
            attempt,
            max_attempts,
            tick,
        } => Push::Running(wire::Running {
            seq,
            ..status::running(
                id,
                name,
                started,
                &progress,
                tick,
                status::starting(attempt, max_attempts),
            )
        }),
        View::Done { id, record } => Push::Done(Box::new(wire::Finished {
            seq,
            ..status::finished(id, record, owner)
        })),
        View::Retrying {
            id,
            record,
            attempt,
            due,
        } => Push::Queued(wire::Queued {
            seq,
            tries: status::retrying(record, attempt),
            ..status::queued(id, &record.name, due, 0, record.tick)
        }),
    };
    Some(push)
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
