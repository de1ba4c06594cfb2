//! What a hook is told about (`on`) and how its body is shaped (`format`).
//! A hook's triggers are kept as a bit set, so the outbox can match them
//! in SQL with one `&` and no string lists.

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// One kind of run event a hook may be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Started,
    Success,
    Failed,
    Timeout,
    Killed,
    Cancelled,
    Interrupted,
    /// An attempt that will be retried (run retries, `-R`).
    Retrying,
}

impl Trigger {
    /// Every trigger, in the order the wire lists them.
    pub const ALL: [Trigger; 8] = [
        Trigger::Started,
        Trigger::Success,
        Trigger::Failed,
        Trigger::Timeout,
        Trigger::Killed,
        Trigger::Cancelled,
        Trigger::Interrupted,
        Trigger::Retrying,
    ];

    /// `on` when a request leaves it out: the failures.
    pub const DEFAULT: [Trigger; 3] = [Trigger::Failed, Trigger::Timeout, Trigger::Interrupted];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Started => "started",
            Trigger::Success => "success",
            Trigger::Failed => "failed",
            Trigger::Timeout => "timeout",
            Trigger::Killed => "killed",
            Trigger::Cancelled => "cancelled",
            Trigger::Interrupted => "interrupted",
            Trigger::Retrying => "retrying",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// This trigger's bit in a hook's set.
    pub fn bit(self) -> i64 {
        1 << (self as u32)
    }

    /// The trigger of a run's end. A run that could not start
    /// (`start_failed`) is a failure; `noexec` tells nobody anything.
    pub fn of_outcome(outcome: Outcome) -> Option<Trigger> {
        Some(match outcome {
            Outcome::Success => Trigger::Success,
            Outcome::Failed | Outcome::StartFailed => Trigger::Failed,
            Outcome::Timeout => Trigger::Timeout,
            Outcome::Killed => Trigger::Killed,
            Outcome::Cancelled => Trigger::Cancelled,
            Outcome::Interrupted => Trigger::Interrupted,
            Outcome::Noexec => return None,
        })
    }
}

/// A set of triggers as its bits.
pub fn mask(triggers: &[Trigger]) -> i64 {
    triggers.iter().fold(0, |bits, t| bits | t.bit())
}

/// The triggers of a bit set, in wire order.
pub fn unmask(bits: i64) -> Vec<Trigger> {
    Trigger::ALL
        .into_iter()
        .filter(|t| bits & t.bit() != 0)
        .collect()
}

/// The body a hook is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `{"delivery", "event", "hook", "run"}` (the default).
    #[default]
    Json,
    /// `{"text": …}`, which Slack, Mattermost and Discord's
    /// Slack-compatible endpoint accept.
    Slack,
}

impl Format {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Format> {
        [Format::Json, Format::Slack]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_of_triggers_survives_its_bits() {
        for set in [&Trigger::ALL[..], &Trigger::DEFAULT[..], &[][..]] {
            assert_eq!(unmask(mask(set)), set.to_vec());
        }
        for t in Trigger::ALL {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
        }
        assert_eq!(Trigger::parse("start_failed"), None);
    }

    #[test]
    fn every_outcome_but_noexec_has_a_trigger() {
        for outcome in Outcome::ALL {
            let trigger = Trigger::of_outcome(outcome);
            assert_eq!(trigger.is_none(), outcome == Outcome::Noexec, "{outcome:?}");
        }
    }
}
