//! Turning one tokenized line into a [`ScriptDef`]: option tokens (`-s=2`,
//! `-ir`, long names), their validation, the script name and the command.

use super::schedule::{timing_option, CronChecks, Timing};
use super::token::tokenize;
use super::{ScriptDef, OPTIONS};

/// Parse one non-comment, trimmed line into a definition or an error
/// message; `checks` holds the file's cron expressions checked so far.
pub(super) fn parse_line(line: &str, checks: &mut CronChecks) -> Result<ScriptDef, String> {
    let tokens = tokenize(line)?;
    if tokens.iter().any(|t| t.text.contains('\0')) {
        return Err("contains a NUL character".to_string());
    }

    let mut def = ScriptDef::with_name(String::new());
    let mut timing = Timing::default();
    let mut iter = tokens.into_iter();
    let name = loop {
        match iter.next() {
            None => return Err("options but no script name".to_string()),
            Some(t) if t.option_like => match timing_option(&mut timing, &t.text) {
                Some(result) => result?,
                None => apply_option_token(&mut def, &t.text)?,
            },
            Some(t) => break t.text,
        }
    };

    if name.is_empty() {
        return Err("empty script name".to_string());
    }
    if let Some(bad) = name.chars().find(|c| *c == '/' || c.is_whitespace()) {
        return Err(format!("script name '{name}' contains {bad:?}"));
    }

    def.name = name;
    def.command = iter.map(|t| t.text).collect();
    if def.command.is_empty() && !def.noexec {
        return Err(format!(
            "script '{}' has no command (use -n for a script without a process)",
            def.name
        ));
    }
    def.schedule = timing.into_schedule(checks)?;
    if def.schedule.is_some() && def.required_args() > 0 {
        return Err(format!(
            "script '{}' needs @@{} arguments and cannot be scheduled (-c)",
            def.name,
            def.required_args()
        ));
    }
    Ok(def)
}

/// Apply one option token such as `-s=2`, `-ir` or `-simultaneous=2`.
fn apply_option_token(def: &mut ScriptDef, token: &str) -> Result<(), String> {
    let body = &token[1..];
    let (key, value) = match body.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (body, None),
    };

    // A single letter or one of the original's long names (e.g. `-dir=`).
    let single = OPTIONS
        .iter()
        .find(|(c, long, _)| *long == key || (key.len() == 1 && key.starts_with(*c)));

    match (single, value) {
        (Some(&(letter, _, true)), Some(v)) => apply_value(def, letter, v),
        (Some(&(letter, _, true)), None) => Err(format!(
            "option '{token}' needs a value, written -{letter}=VALUE"
        )),
        (Some(&(letter, _, false)), Some(_)) => Err(format!(
            "option -{letter} is a flag and takes no value ('{token}')"
        )),
        (Some(&(letter, _, false)), None) => set_flag(def, letter),
        (None, _) => {
            // Combined flags such as `-inr`; every letter must be a known flag.
            if key.is_empty() {
                return Err(format!("unknown option '{token}'"));
            }
            for c in key.chars() {
                match OPTIONS.iter().find(|(l, _, _)| *l == c) {
                    None => return Err(format!("unknown option -{c} in '{token}'")),
                    Some((_, _, true)) => {
                        return Err(format!(
                            "option -{c} takes a value and cannot be combined with others ('{token}')"
                        ));
                    }
                    Some(_) => {}
                }
            }
            if value.is_some() {
                return Err(format!("combined flags take no value ('{token}')"));
            }
            key.chars().try_for_each(|c| set_flag(def, c))
        }
    }
}

/// Set the flag option `letter` (`i`, `k`, `n` or `r`).
fn set_flag(def: &mut ScriptDef, letter: char) -> Result<(), String> {
    match letter {
        'i' => def.stdin = true,
        'n' => def.noexec = true,
        'r' => def.forget = true,
        'k' => def.resources.keep_children = true,
        // OPTIONS lists the flag letters; no other gets here.
        _ => return Err(format!("unknown option -{letter}")),
    }
    Ok(())
}

/// Validate and store the value of option `letter`; a repeated option overrides, except `-e`.
fn apply_value(def: &mut ScriptDef, letter: char, v: &str) -> Result<(), String> {
    let nonempty = |what: &str| -> Result<String, String> {
        if v.is_empty() {
            Err(format!("-{letter}= needs a non-empty {what}"))
        } else {
            Ok(v.to_string())
        }
    };
    match letter {
        'd' => def.dir = Some(nonempty("directory")?),
        'g' => def.group = Some(nonempty("group")?),
        'u' => def.user = Some(nonempty("user")?),
        'e' => match v.split_once('=') {
            Some((name, val)) if !name.is_empty() => {
                def.env.push((name.to_string(), val.to_string()));
            }
            _ => return Err(format!("-e={v} is not VAR=value")),
        },
        'm' => {
            let n: u32 =
                parse_number(v).ok_or_else(|| format!("-m={v} is not a non-negative integer"))?;
            def.max_queued = (n > 0).then_some(n);
        }
        's' => match parse_number::<u32>(v) {
            Some(n) if n >= 1 => def.simultaneous = n,
            _ => return Err(format!("-s={v} is not a positive integer")),
        },
        't' => match parse_number::<u64>(v) {
            Some(n) if n >= 1 => def.timeout_secs = Some(n),
            _ => return Err(format!("-t={v} is not a positive number of seconds")),
        },
        'M' => match super::parse_size(v) {
            Some(bytes) => def.resources.memory_max = Some(bytes),
            None => return Err(format!("-M={v} is not a size such as 512M or 2G")),
        },
        'P' => match parse_number::<u32>(v) {
            Some(n) if n >= 1 => def.resources.max_procs = Some(n),
            _ => return Err(format!("-P={v} is not a positive number of processes")),
        },
        'R' => def.retries = super::retry::parse_retries(v)?,
        'B' => def.backoff = Some(super::retry::parse_base(v)?),
        'W' => match parse_number::<u32>(v) {
            Some(n) if (1..=10_000).contains(&n) => def.resources.cpu_weight = Some(n),
            _ => return Err(format!("-W={v} is not a CPU weight from 1 to 10000")),
        },
        // OPTIONS lists the letters that take a value; no other gets here.
        _ => return Err(format!("unknown option -{letter}")),
    }
    Ok(())
}

/// Parse ASCII digits only (Rust's `from_str` would also take a leading `+`).
pub(super) fn parse_number<T: std::str::FromStr>(v: &str) -> Option<T> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}
