//! The `exectab.txt` model: parsing a user's script definitions into
//! [`ScriptDef`]s, `@@N` argument substitution and `%NAME%` environment
//! expansion.
//!
//! This module owns only the text format and the pure string transforms around
//! it. It does no I/O: the caller reads the file, logs the returned
//! [`ParseWarning`]s, looks up the server environment and spawns processes.
//!
//! Format, one definition per line: `[options] name [executable [params...]]`.
//! See [`Exectab::parse`] for the exact tokenizing and validation rules.
//!
//! Layout: `token` splits a line into tokens, `line` turns tokens into a
//! [`ScriptDef`], `substitution` holds the `@@N` and `%NAME%` transforms.

mod line;
mod resources;
mod retry;
mod schedule;
mod substitution;
mod token;

use std::collections::BTreeMap;
use std::fmt;

pub use crate::schedule::CatchUp;
use line::parse_line;
pub use resources::{parse_size, Resources};
pub use retry::{RetryPolicy, DEFAULT_BASE, MAX_RETRIES, MAX_WAIT};
use substitution::placeholders;
pub use substitution::{expand_env, substitute};

/// One script definition: a line of `exectab.txt` after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptDef {
    /// Script name (non-empty; no `/`, whitespace or NUL).
    pub name: String,
    /// `-d`: working directory for the process.
    pub dir: Option<String>,
    /// `-e`: environment variables, raw (unexpanded), in file order.
    pub env: Vec<(String, String)>,
    /// `-u`: user to run as.
    pub user: Option<String>,
    /// `-g`: group to run as.
    pub group: Option<String>,
    /// `-i`: stdin passthrough allowed.
    pub stdin: bool,
    /// `-m`: max queued+running; `None` = unlimited (absent or `-m=0`).
    pub max_queued: Option<u32>,
    /// `-n`: no process; a run completes at once.
    pub noexec: bool,
    /// `-r`: forget successful and cancelled runs once finished.
    pub forget: bool,
    /// `-s`: how many runs may execute at once (>= 1, default 1).
    pub simultaneous: u32,
    /// `-t`: timeout in seconds (extension; positive).
    pub timeout_secs: Option<u64>,
    /// `-k`, `-M`, `-W`, `-P`: leftovers and limits of the run's processes.
    pub resources: Resources,
    /// `-R`: how many times a failed attempt is tried again (0: never).
    pub retries: u32,
    /// `-B`: the backoff base in seconds; `None` is [`DEFAULT_BASE`].
    pub backoff: Option<u64>,
    /// Executable followed by params, unquoted; empty only when `noexec`.
    pub command: Vec<String>,
    /// `-c`, `-z`, `-C`: when the script starts by itself, if ever.
    pub schedule: Option<ScheduleDef>,
}

/// A script's recurring schedule as written (checked when parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDef {
    /// `-c`: the cron expression.
    pub cron: String,
    /// `-z`: its IANA zone; `None` is the server's `timezone`.
    pub zone: Option<String>,
    /// `-C`: what missed ticks do.
    pub catch_up: CatchUp,
}

/// A skipped or overridden line, reported instead of failing the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line number in the file.
    pub line: usize,
    /// What was wrong, without the line number.
    pub message: String,
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exectab.txt line {}: {}", self.line, self.message)
    }
}

/// The parsed contents of one `exectab.txt`, keyed by script name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exectab {
    scripts: BTreeMap<String, ScriptDef>,
}

/// Value of one entry in [`ScriptDef::opts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptValue {
    /// A flag option that is set (JSON `true`).
    Flag,
    /// An option with a single value (JSON string).
    Value(String),
    /// A repeatable option's values in file order (JSON array); used for `-e`.
    List(Vec<String>),
}

/// Short option letter, the long key the original PHP used in `args.opts`,
/// and whether the option takes a `=value`.
const OPTIONS: &[(char, &str, bool)] = &[
    ('c', "cron", true),
    ('C', "catchup", true),
    ('d', "dir", true),
    ('e', "envvar", true),
    ('g', "group", true),
    ('i', "stdinallowed", false),
    ('k', "keepchildren", false),
    ('m', "maxqueue", true),
    ('n', "noexec", false),
    ('r', "removelog", false),
    ('s', "simultaneous", true),
    ('B', "backoff", true),
    ('t', "timeout", true),
    ('u', "user", true),
    ('M', "memorymax", true),
    ('P', "maxprocs", true),
    ('R', "retries", true),
    ('W', "cpuweight", true),
    ('z', "timezone", true),
];

/// The long key the original PHP used in status `args.opts` for a short key like `"-s"`.
pub fn long_opt_name(short: &str) -> Option<&'static str> {
    let mut chars = short.strip_prefix('-')?.chars();
    let letter = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    OPTIONS
        .iter()
        .find(|(c, _, _)| *c == letter)
        .map(|(_, long, _)| *long)
}

/// Every line of `text` that is not blank or a comment, parsed, with its
/// number (from 1); a leading byte order mark is ignored.
fn parsed_lines(text: &str) -> impl Iterator<Item = (usize, Result<ScriptDef, String>)> + '_ {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut checks = schedule::CronChecks::default();
    text.split('\n').enumerate().filter_map(move |(idx, raw)| {
        let line = raw.trim();
        let comment = line.is_empty() || line.starts_with('#') || line.starts_with("//");
        (!comment).then(|| (idx + 1, parse_line(line, &mut checks)))
    })
}

impl Exectab {
    /// Parse `exectab.txt` text; bad lines are skipped and reported, never fatal.
    ///
    /// Rules (the original PHP semantics unless noted):
    /// * Lines split on `\n` (a trailing `\r` is dropped; a leading UTF-8 BOM
    ///   is ignored). Leading/trailing whitespace is trimmed; blank lines and
    ///   lines starting with `#` or `//` are comments. There are no trailing
    ///   comments: a `#` later in a line is an ordinary character.
    /// * Tokens split on unquoted spaces and tabs. `'...'` and `"..."` group
    ///   and are removed; inside one kind of quote the other kind is literal;
    ///   adjacent pieces join (`a"b c"d` is one token `ab cd`); `""` is an
    ///   empty token. A backslash takes the next character literally,
    ///   everywhere, including inside single quotes, as in the original.
    /// * Leading tokens starting with an unquoted `-` are options; the first
    ///   other token is the name and everything after it is the command
    ///   (a `-` token after the name is a param).
    /// * A malformed line is skipped with a warning; a name defined again
    ///   replaces the earlier definition, with a warning.
    pub fn parse(text: &str) -> (Exectab, Vec<ParseWarning>) {
        let mut scripts = BTreeMap::new();
        let mut defined_on: BTreeMap<String, usize> = BTreeMap::new();
        let mut warnings = Vec::new();

        for (line_no, parsed) in parsed_lines(text) {
            match parsed {
                Ok(def) => {
                    if let Some(prev) = defined_on.insert(def.name.clone(), line_no) {
                        warnings.push(ParseWarning {
                            line: line_no,
                            message: format!(
                                "script '{}' is defined again; this line replaces the definition on line {}",
                                def.name, prev
                            ),
                        });
                    }
                    scripts.insert(def.name.clone(), def);
                }
                Err(message) => warnings.push(ParseWarning {
                    line: line_no,
                    message: format!("malformed line skipped: {message}"),
                }),
            }
        }

        (Exectab { scripts }, warnings)
    }

    /// The schedules of `text`, by script name, as [`Exectab::parse`]
    /// would define them (a name defined again takes its last line's
    /// schedule, or none), without keeping the other definitions: the
    /// timer reads a file of 100,000 scripts without holding 100,000
    /// definitions at once (about 800 bytes each, kept by the allocator
    /// after they are freed). Bad lines schedule nothing; the account
    /// reports them.
    pub fn schedules(text: &str) -> BTreeMap<String, ScheduleDef> {
        let mut schedules = BTreeMap::new();
        for (_, parsed) in parsed_lines(text) {
            let Ok(def) = parsed else {
                continue;
            };
            match def.schedule {
                Some(schedule) => schedules.insert(def.name, schedule),
                None => schedules.remove(&def.name),
            };
        }
        schedules
    }

    /// The definition for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ScriptDef> {
        self.scripts.get(name)
    }

    /// All definitions, sorted by name.
    pub fn scripts(&self) -> impl Iterator<Item = &ScriptDef> {
        self.scripts.values()
    }

    /// Number of definitions.
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// True when no script is defined.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }
}

impl ScriptDef {
    /// A definition with every option at its default and no command.
    fn with_name(name: String) -> ScriptDef {
        ScriptDef {
            name,
            dir: None,
            env: Vec::new(),
            user: None,
            group: None,
            stdin: false,
            max_queued: None,
            noexec: false,
            forget: false,
            simultaneous: 1,
            timeout_secs: None,
            resources: Resources::default(),
            retries: 0,
            backoff: None,
            command: Vec::new(),
            schedule: None,
        }
    }

    /// The script's retries, when `-R` asks for any.
    pub fn retry(&self) -> Option<RetryPolicy> {
        (self.retries > 0).then(|| RetryPolicy {
            retries: self.retries,
            base: self.backoff.unwrap_or(DEFAULT_BASE),
        })
    }

    /// Highest N of any `@@N` in command (0 if none); a run needs at least that many args.
    pub fn required_args(&self) -> usize {
        self.command
            .iter()
            .flat_map(|token| placeholders(token))
            .map(|(_, _, n)| n)
            .max()
            .unwrap_or(0)
    }

    /// The set options keyed by short form (`"-s"`), sorted by letter.
    ///
    /// `-s` is always present (it has a default); `-m` only when limited;
    /// `-e` is one [`OptValue::List`] of raw `VAR=value` strings. Values are
    /// the text form, e.g. `("-s", Value("2"))`, `("-i", Flag)`. The original
    /// keyed `args.opts` by long names instead; see [`long_opt_name`].
    pub fn opts(&self) -> Vec<(String, OptValue)> {
        let mut out: Vec<(String, OptValue)> = Vec::new();
        let mut push = |key: &str, v: OptValue| out.push((key.to_string(), v));
        if let Some(schedule) = &self.schedule {
            push("-c", OptValue::Value(schedule.cron.clone()));
            push("-C", OptValue::Value(schedule.catch_up.to_string()));
        }
        if let Some(d) = &self.dir {
            push("-d", OptValue::Value(d.clone()));
        }
        if !self.env.is_empty() {
            let vars = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            push("-e", OptValue::List(vars));
        }
        if let Some(g) = &self.group {
            push("-g", OptValue::Value(g.clone()));
        }
        if self.stdin {
            push("-i", OptValue::Flag);
        }
        if self.resources.keep_children {
            push("-k", OptValue::Flag);
        }
        if let Some(m) = self.max_queued {
            push("-m", OptValue::Value(m.to_string()));
        }
        if self.noexec {
            push("-n", OptValue::Flag);
        }
        if self.forget {
            push("-r", OptValue::Flag);
        }
        push("-s", OptValue::Value(self.simultaneous.to_string()));
        if let Some(t) = self.timeout_secs {
            push("-t", OptValue::Value(t.to_string()));
        }
        if let Some(u) = &self.user {
            push("-u", OptValue::Value(u.clone()));
        }
        if let Some(base) = self.backoff {
            push("-B", OptValue::Value(base.to_string()));
        }
        if let Some(bytes) = self.resources.memory_max {
            push("-M", OptValue::Value(bytes.to_string()));
        }
        if let Some(n) = self.resources.max_procs {
            push("-P", OptValue::Value(n.to_string()));
        }
        if self.retries > 0 {
            push("-R", OptValue::Value(self.retries.to_string()));
        }
        if let Some(weight) = self.resources.cpu_weight {
            push("-W", OptValue::Value(weight.to_string()));
        }
        if let Some(zone) = self.schedule.as_ref().and_then(|s| s.zone.as_ref()) {
            push("-z", OptValue::Value(zone.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests;
