//! The schedule options of a line: `-c=CRON`, `-z=ZONE`, `-C=MODE`
//! (long names `-cron=`, `-timezone=`, `-catchup=`). A bad expression or
//! zone makes the line bad, like any other bad option.

use std::collections::HashMap;

use super::ScheduleDef;
use crate::schedule::{CatchUp, Cron};

/// The expressions one parse of a file checked, by expression and zone:
/// lines written alike are checked once. A check is a croner parse (about
/// 5 KiB and most of a 100,000-line file's parse time) and a search for a
/// first instant; it is dropped at once, the definition keeps the text.
/// At most [`CHECKS_KEPT`] are remembered: a file of distinct expressions
/// gains nothing from remembering them all.
#[derive(Debug, Default)]
pub(super) struct CronChecks {
    seen: HashMap<(String, String), Result<(), String>>,
    /// How many croner parses were made.
    parsed: usize,
}

/// How many checked expressions [`CronChecks`] remembers.
const CHECKS_KEPT: usize = 1024;

impl CronChecks {
    /// Whether `cron` parses (and comes) in `zone`, with why not.
    fn check(&mut self, cron: &str, zone: &str) -> Result<(), String> {
        let key = (cron.to_owned(), zone.to_owned());
        if let Some(seen) = self.seen.get(&key) {
            return seen.clone();
        }
        self.parsed += 1;
        let result = Cron::parse(cron, zone).map(drop).map_err(|e| e.to_string());
        if self.seen.len() >= CHECKS_KEPT {
            self.seen.clear();
        }
        self.seen.insert(key, result.clone());
        result
    }
}

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
    pub(super) fn into_schedule(
        self,
        checks: &mut CronChecks,
    ) -> Result<Option<ScheduleDef>, String> {
        let Some(cron) = self.cron else {
            return match (self.zone, self.catch_up) {
                (None, None) => Ok(None),
                _ => Err("-z and -C need a schedule (-c=CRON)".to_owned()),
            };
        };
        checks.check(&cron, self.zone.as_deref().unwrap_or("UTC"))?;
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
    fn lines_written_alike_are_checked_once_bad_ones_too() {
        let mut checks = super::CronChecks::default();
        for _ in 0..3 {
            assert_eq!(checks.check("*/5 * * * *", "UTC"), Ok(()));
            let bad = checks.check("61 * * * *", "UTC").expect_err("bad");
            assert!(bad.contains("bad cron expression"), "{bad}");
        }
        assert_eq!(checks.check("*/5 * * * *", "Europe/Berlin"), Ok(()));
        assert_eq!(checks.parsed, 3, "once per expression and zone");
        let file: String = (0..1000).map(|i| format!("-c=@daily -n s{i}\n")).collect();
        let (tab, warnings) = Exectab::parse(&file);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(tab.scripts().count(), 1000);
    }

    #[test]
    fn schedules_alone_are_those_the_whole_parse_defines() {
        let text = [
            "-c=@daily -n a",
            "-n b",
            "-c=@hourly -n c",
            "-c=@weekly -n b",        // b is scheduled by its last line
            "-n c",                   // c no longer is
            "-c=\"61 * * * *\" -n d", // a bad line schedules nothing
            "# -c=@daily -n e",
        ]
        .join("\n");
        let (tab, _) = Exectab::parse(&text);
        let whole: Vec<(String, ScheduleDef)> = tab
            .scripts()
            .filter_map(|d| Some((d.name.clone(), d.schedule.clone()?)))
            .collect();
        let alone: Vec<(String, ScheduleDef)> = Exectab::schedules(&text).into_iter().collect();
        assert_eq!(alone, whole);
        let names: Vec<&str> = alone.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
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
