//! The schedule options of a line: `-c=CRON`, `-z=ZONE`, `-C=MODE`
//! (long names `-cron=`, `-timezone=`, `-catchup=`). A bad expression or
//! zone makes the line bad, like any other bad option.

use super::ScheduleDef;
use crate::schedule::{CatchUp, Cron};

/// The schedule options seen so far on a line.
#[derive(Debug, Default)]
pub(super) struct Timing {
    cron: Option<String>,
    zone: Option<String>,
    catch_up: Option<CatchUp>,
}

/// Takes `token` if it is a schedule option: `None` when it is another
/// option, else whether its value is good.
pub(super) fn timing_option(timing: &mut Timing, token: &str) -> Option<Result<(), String>> {
    let body = token.strip_prefix('-')?;
    let (key, value) = match body.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (body, None),
    };
    let letter = match key {
        "c" | "cron" => 'c',
        "z" | "timezone" => 'z',
        "C" | "catchup" => 'C',
        _ => return None,
    };
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Some(Err(format!(
            "option '{token}' needs a value, written -{letter}=VALUE"
        )));
    };
    Some(match letter {
        'c' => {
            timing.cron = Some(value.to_owned());
            Ok(())
        }
        'z' => {
            timing.zone = Some(value.to_owned());
            Ok(())
        }
        _ => value.parse().map(|mode| timing.catch_up = Some(mode)),
    })
}

impl Timing {
    /// The line's schedule, checked: the expression parses in its zone
    /// (UTC stands in for the server's `timezone`, checked at start).
    pub(super) fn into_schedule(self) -> Result<Option<ScheduleDef>, String> {
        let Some(cron) = self.cron else {
            return match (self.zone, self.catch_up) {
                (None, None) => Ok(None),
                _ => Err("-z and -C need a schedule (-c=CRON)".to_owned()),
            };
        };
        Cron::parse(&cron, self.zone.as_deref().unwrap_or("UTC")).map_err(|e| e.to_string())?;
        Ok(Some(ScheduleDef {
            cron,
            zone: self.zone,
            catch_up: self.catch_up.unwrap_or_default(),
        }))
    }
}
