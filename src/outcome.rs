//! How a run ended: the outcome vocabulary shared by the events, the
//! metrics and the wire. A leaf module, so that counting outcomes does not
//! tie `metrics` to the event log.

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failed,
    Killed,
    Timeout,
    Cancelled,
    StartFailed,
    Interrupted,
    Noexec,
}

impl Outcome {
    /// The wire name of this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Killed => "killed",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
            Outcome::StartFailed => "start_failed",
            Outcome::Interrupted => "interrupted",
            Outcome::Noexec => "noexec",
        }
    }

    /// Whether `-r` forgets a run that ended this way.
    pub fn forgettable(self) -> bool {
        matches!(
            self,
            Outcome::Success | Outcome::Cancelled | Outcome::Noexec
        )
    }

    /// Every outcome, in the order `/metrics` lists them.
    pub const ALL: [Outcome; 8] = [
        Outcome::Success,
        Outcome::Failed,
        Outcome::Killed,
        Outcome::Timeout,
        Outcome::Cancelled,
        Outcome::StartFailed,
        Outcome::Interrupted,
        Outcome::Noexec,
    ];

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}
