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

#[cfg(test)]
mod tests {
    use crate::exectab::{CatchUp, Exectab, OptValue, ScheduleDef};

    #[test]
    fn schedule_options_parse_quoted_with_long_names_and_defaults() {
        let cases = [
            (
                "five fields, quoted",
                r#"-c="*/5 * * * *" -n beat"#,
                ScheduleDef {
                    cron: "*/5 * * * *".into(),
                    zone: None,
                    catch_up: CatchUp::Once,
                },
            ),
            (
                "six fields, zone and mode",
                r#"-c='0 30 2 * * *' -z=Europe/Berlin -C=all nightly /bin/true"#,
                ScheduleDef {
                    cron: "0 30 2 * * *".into(),
                    zone: Some("Europe/Berlin".into()),
                    catch_up: CatchUp::All,
                },
            ),
            (
                "long names and an alias",
                "-cron=@weekly -timezone=UTC -catchup=skip -n weekly",
                ScheduleDef {
                    cron: "@weekly".into(),
                    zone: Some("UTC".into()),
                    catch_up: CatchUp::Skip,
                },
            ),
        ];
        for (desc, line, want) in cases {
            let (tab, warnings) = Exectab::parse(line);
            assert!(warnings.is_empty(), "{desc}: {warnings:?}");
            let def = tab.scripts().next().expect(desc);
            assert_eq!(def.schedule.as_ref(), Some(&want), "{desc}");
        }
        let (tab, _) = Exectab::parse(r#"-c="* * * * *" -z=UTC -n beat"#);
        let opts = tab.get("beat").expect("beat").opts();
        assert!(opts.contains(&("-c".into(), OptValue::Value("* * * * *".into()))));
        assert!(opts.contains(&("-z".into(), OptValue::Value("UTC".into()))));
    }

    #[test]
    fn bad_schedules_make_bad_lines_that_say_why() {
        let cases = [
            (
                "a bad expression",
                "-c=\"61 * * * *\" -n x",
                "bad cron expression",
            ),
            ("four fields", "-c=\"* * * *\" -n x", "4 fields"),
            (
                "an unknown zone",
                "-c=@daily -z=Mars/Base -n x",
                "unknown time zone",
            ),
            ("a bad mode", "-c=@daily -C=twice -n x", "-C=twice"),
            ("a zone without -c", "-z=UTC -n x", "need a schedule"),
            ("an empty -c", "-c= -n x", "needs a value"),
            (
                "@@N arguments",
                "-c=@daily x /bin/echo @@1",
                "cannot be scheduled",
            ),
        ];
        for (desc, line, why) in cases {
            let (tab, warnings) = Exectab::parse(line);
            assert!(tab.is_empty(), "{desc}: skipped");
            assert_eq!(warnings.len(), 1, "{desc}: {warnings:?}");
            assert!(
                warnings[0].message.contains(why),
                "{desc}: {:?} should say {why:?}",
                warnings[0].message
            );
        }
    }
}
