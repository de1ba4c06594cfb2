//! What a delivery sends and what its answer decides, with no I/O: the
//! JSON or Slack body, and the next step after an attempt (done, retry
//! when, or give up). The worker draws the jitter and reads the clock.

use std::time::Duration;

use serde_json::{json, Value};

use crate::events::outbox::{Attempt, Delivery};
use crate::events::types::ProgressSnapshot;
use crate::events::Event;
use crate::hook::trigger::Format;
use crate::hook::{backoff, limits};
use crate::status;

/// The first retry waits this long; each next one twice as long.
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// No single wait is longer.
pub const RETRY_CAP: Duration = Duration::from_secs(3600);

/// The run's status object (as `status/ID` returns it) for the event.
fn run_status(event: &Event) -> Option<Value> {
    let value = match event {
        Event::RunStarted {
            run,
            name,
            started,
            attempt,
            max_attempts,
            tick,
            ..
        } => serde_json::to_value(status::running(
            *run,
            name,
            *started,
            &ProgressSnapshot::default(),
            *tick,
            status::starting(*attempt, *max_attempts),
        )),
        Event::RunFinished { run, record }
        | Event::RunStartFailed { run, record }
        | Event::RunCancelled { run, record, .. }
        | Event::RunInterrupted { run, record }
        // A retried attempt as it ended; the event beside it tells which
        // attempt it was and when the next one is due.
        | Event::RunRetrying { run, record, .. } => {
            serde_json::to_value(status::finished(*run, record, true))
        }
        _ => return None,
    };
    value.ok()
}

/// The bytes to POST for `delivery`, whose event is `event`.
pub fn body(delivery: &Delivery, event: &Event) -> Option<Vec<u8>> {
    let run = run_status(event)?;
    let value = match delivery.format {
        Format::Json => json!({
            "delivery": delivery.id,
            "event": delivery.trigger.as_str(),
            "folded": delivery.folded,
            "hook": delivery.hook.to_string(),
            "run": run,
        }),
        Format::Slack => json!({ "text": slack_text(delivery, &run) }),
    };
    serde_json::to_vec(&value).ok()
}

/// One line a person reads in a channel.
fn slack_text(delivery: &Delivery, run: &Value) -> String {
    let name = run["name"].as_str().unwrap_or("?");
    let id = run["id"].as_str().unwrap_or("?");
    let mut text = format!("scriptd: {name} {} (run {id})", delivery.trigger.as_str());
    if let Some(code) = run["exit_code"].as_i64() {
        text.push_str(&format!(", exit code {code}"));
    }
    if let Some(error) = run["error"].as_str() {
        text.push_str(&format!(": {error}"));
    }
    if delivery.folded > 0 {
        text.push_str(&format!(
            " (and {} more folded into this message)",
            delivery.folded
        ));
    }
    text
}

/// What the receiver did with one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// An HTTP status, with `Retry-After` in seconds when it was sent.
    Status { code: u16, retry_after: Option<u64> },
    /// No answer: connection refused, reset, timed out…
    Unreachable(String),
    /// The target is refused (SSRF policy, bad URL): never retried.
    Refused(String),
}

/// The next step after an attempt made at `now`; `jitter` in [-1, 1].
/// A delivery still failing `give_up_after` after it was written is
/// given up.
pub fn judge(
    delivery: &Delivery,
    answer: Answer,
    (now, jitter): (f64, f64),
    give_up_after: Duration,
) -> Attempt {
    verdict(delivery, answer, (now, jitter), give_up_after).0
}

/// [`judge`], and whether the hook is to be paused: its delivery was
/// given up after failing for `give_up_after`.
pub fn verdict(
    delivery: &Delivery,
    answer: Answer,
    (now, jitter): (f64, f64),
    give_up_after: Duration,
) -> (Attempt, bool) {
    let (status, error, retry_after) = match judge_answer(answer) {
        Ok(settled) => return (settled, false),
        Err(failure) => failure,
    };
    let wait = backoff::delay(RETRY_BASE, delivery.attempt, jitter, RETRY_CAP)
        .as_secs_f64()
        .max(retry_after.unwrap_or(0).min(RETRY_CAP.as_secs()) as f64);
    let due = now + wait;
    if due > delivery.created + give_up_after.as_secs_f64() {
        let error = format!(
            "{error}; given up after {} of failures",
            limits::spoken(give_up_after)
        );
        return (Attempt::Failed { status, error }, true);
    }
    (Attempt::Retry { due, status, error }, false)
}

/// An answer that settles the delivery (`Ok`), or a failure that may be
/// retried: its status, error and `Retry-After`.
#[allow(clippy::type_complexity)]
fn judge_answer(answer: Answer) -> Result<Attempt, (Option<u16>, String, Option<u64>)> {
    let failure = match answer {
        Answer::Status { code, .. } if (200..300).contains(&code) => {
            return Ok(Attempt::Delivered { status: code })
        }
        Answer::Status { code, retry_after } if code == 429 || code >= 500 => {
            (Some(code), format!("HTTP {code}"), retry_after)
        }
        Answer::Status { code, .. } if (300..400).contains(&code) => {
            return Ok(Attempt::Failed {
                status: Some(code),
                error: format!("HTTP {code}: redirects are not followed"),
            })
        }
        Answer::Status { code, .. } => {
            return Ok(Attempt::Failed {
                status: Some(code),
                error: format!("HTTP {code}: refused by the receiver"),
            })
        }
        Answer::Refused(error) => {
            return Ok(Attempt::Failed {
                status: None,
                error,
            })
        }
        Answer::Unreachable(error) => (None, error, None),
    };
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::trigger::Trigger;
    use crate::ids::{HookId, UserId};

    fn delivery(attempt: u32, created: f64) -> Delivery {
        Delivery {
            id: "d1".into(),
            hook: HookId::new(),
            user: UserId(1),
            url: "http://example.com/".into(),
            secret: "s".into(),
            format: Format::Json,
            event: String::new(),
            version: 1,
            trigger: Trigger::Failed,
            attempt,
            created,
            folded: 0,
        }
    }

    #[test]
    fn answers_decide_the_next_step() {
        let d = delivery(1, 0.0);
        let status = |code, retry_after| Answer::Status { code, retry_after };
        let cases = [
            ("200", status(200, None), "delivered"),
            ("204", status(204, None), "delivered"),
            ("500", status(500, None), "retry"),
            ("503", status(503, None), "retry"),
            ("429", status(429, Some(30)), "retry"),
            ("404", status(404, None), "failed"),
            ("301", status(301, None), "failed"),
            ("refused", Answer::Refused("internal".into()), "failed"),
            ("timeout", Answer::Unreachable("timed out".into()), "retry"),
        ];
        for (what, answer, want) in cases {
            let got = match judge(&d, answer, (10.0, 0.0), DAY) {
                Attempt::Delivered { .. } => "delivered",
                Attempt::Retry { .. } => "retry",
                Attempt::Failed { .. } => "failed",
            };
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_backoff_doubles() {
        let retry =
            |attempt, answer| match judge(&delivery(attempt, 0.0), answer, (100.0, 0.0), DAY) {
                Attempt::Retry { due, .. } => due - 100.0,
                other => panic!("{other:?}"),
            };
        let busy = |retry_after| Answer::Status {
            code: 429,
            retry_after,
        };
        assert_eq!(retry(1, busy(Some(30))), 30.0);
        assert_eq!(retry(1, busy(None)), 1.0);
        assert_eq!(retry(3, busy(None)), 4.0);
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_day_of_failures_gives_up() {
        let d = delivery(20, 0.0);
        let answer = Answer::Unreachable("refused".into());
        let (attempt, pause) = verdict(&d, answer, (86_399.0, 0.0), DAY);
        match &attempt {
            Attempt::Failed { error, .. } => {
                assert_eq!(error, "refused; given up after 24 h of failures")
            }
            other => panic!("{other:?}"),
        }
        assert!(pause, "the hook is paused");
        let refused = verdict(&d, Answer::Refused("no".into()), (1.0, 0.0), DAY);
        assert!(!refused.1, "a refusal does not pause the hook");
    }

    #[test]
    fn the_give_up_time_is_the_operators() {
        let short = Duration::from_secs(3);
        let unreachable = || Answer::Unreachable("refused".into());
        let (first, _) = verdict(&delivery(1, 0.0), unreachable(), (0.1, 0.0), short);
        assert!(
            matches!(first, Attempt::Retry { .. }),
            "1 s later: {first:?}"
        );
        let (late, pause) = verdict(&delivery(3, 0.0), unreachable(), (2.0, 0.0), short);
        assert!(
            matches!(late, Attempt::Failed { .. }),
            "4 s later: {late:?}"
        );
        assert!(pause);
    }
}
