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

use std::collections::BTreeMap;
use std::fmt;

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
    /// Executable followed by params, unquoted; empty only when `noexec`.
    pub command: Vec<String>,
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
    ('d', "dir", true),
    ('e', "envvar", true),
    ('g', "group", true),
    ('i', "stdinallowed", false),
    ('m', "maxqueue", true),
    ('n', "noexec", false),
    ('r', "removelog", false),
    ('s', "simultaneous", true),
    ('t', "timeout", true),
    ('u', "user", true),
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
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut scripts = BTreeMap::new();
        let mut defined_on: BTreeMap<String, usize> = BTreeMap::new();
        let mut warnings = Vec::new();

        for (idx, raw) in text.split('\n').enumerate() {
            let line_no = idx + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
                continue;
            }
            match parse_line(line) {
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
            command: Vec::new(),
        }
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
        out
    }
}

/// Replace every `@@N` (N >= 1, decimal, greedy digits) in `token` with args[N-1]; `@@0` or out-of-range stays literal. Each replacement is inserted verbatim and never re-scanned (an arg containing "@@2" stays literally "@@2").
pub fn substitute(token: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(token.len());
    let mut last = 0;
    for (start, end, n) in placeholders(token) {
        if n >= 1 && n <= args.len() {
            out.push_str(&token[last..start]);
            out.push_str(&args[n - 1]);
            last = end;
        }
    }
    out.push_str(&token[last..]);
    out
}

/// Every `@@<digits>` in `token` as (byte start, byte end, N), left to right.
///
/// Why: `@@01` counts as 1 (it is decimal 1); a number too large for `usize`
/// saturates so that `required_args` rejects every run instead of silently
/// ignoring the placeholder. A run of `@` before digits matches at its last
/// `@@` (`@@@1` is `@` followed by `@@1`), like the original's regex.
fn placeholders(token: &str) -> Vec<(usize, usize, usize)> {
    let bytes = token.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        if bytes[i] == b'@' && bytes[i + 1] == b'@' && bytes[i + 2].is_ascii_digit() {
            let digits_start = i + 2;
            let mut end = digits_start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let n = token[digits_start..end]
                .parse::<usize>()
                .unwrap_or(usize::MAX);
            found.push((i, end, n));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Expand `%NAME%` in an -e value using `lookup`; unknown names expand to ""; `%%` is a literal `%`; a lone `%` with no closing `%` stays literal.
///
/// Why: a `%` whose would-be name is not a plausible variable name (contains
/// whitespace or `=`) is kept literal and scanning resumes at the next `%`,
/// so `50% of %HOME%` keeps `50% of ` and still expands `%HOME%`. Case
/// handling is up to `lookup` (the original matched names case-insensitively).
pub fn expand_env(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find('%') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('%') else {
            // Lone `%`: keep it and everything after it.
            out.push('%');
            rest = after;
            break;
        };
        let name = &after[..close];
        if name.is_empty() {
            out.push('%');
            rest = &after[1..];
        } else if name
            .chars()
            .any(|c| c.is_whitespace() || c == '=' || c == '\0')
        {
            out.push('%');
            rest = after;
        } else {
            out.push_str(&lookup(name).unwrap_or_default());
            rest = &after[close + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// A token plus whether it began with an unquoted, unescaped `-` (an option).
struct Token {
    text: String,
    option_like: bool,
}

/// Split one line into tokens (see [`Exectab::parse`] for the rules).
///
/// Why backslash escapes inside single quotes too: that is what the original
/// tokenizer (CubicleSoft `CLI::ParseCommandLine`) does, so existing files
/// mean the same thing here. A backslash at the very end of the line is kept
/// literally, also as in the original. Note that Windows paths therefore need
/// forward slashes or doubled backslashes.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut option_like = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();

    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(chars.next().unwrap_or('\\'));
                in_token = true;
            }
            '"' | '\'' if quote.is_none() => {
                quote = Some(c);
                in_token = true;
            }
            _ if quote == Some(c) => quote = None,
            ' ' | '\t' if quote.is_none() => {
                if in_token {
                    tokens.push(Token {
                        text: std::mem::take(&mut cur),
                        option_like,
                    });
                    in_token = false;
                    option_like = false;
                }
            }
            _ => {
                if !in_token && c == '-' {
                    option_like = true;
                }
                in_token = true;
                cur.push(c);
            }
        }
    }

    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if in_token {
        tokens.push(Token {
            text: cur,
            option_like,
        });
    }
    Ok(tokens)
}

/// Parse one non-comment, trimmed line into a definition or an error message.
fn parse_line(line: &str) -> Result<ScriptDef, String> {
    let tokens = tokenize(line)?;
    if tokens.iter().any(|t| t.text.contains('\0')) {
        return Err("contains a NUL character".to_string());
    }

    let mut def = ScriptDef::with_name(String::new());
    let mut iter = tokens.into_iter();
    let name = loop {
        match iter.next() {
            None => return Err("options but no script name".to_string()),
            Some(t) if t.option_like => apply_option_token(&mut def, &t.text)?,
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
        (Some(&(letter, _, false)), None) => {
            set_flag(def, letter);
            Ok(())
        }
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
            key.chars().for_each(|c| set_flag(def, c));
            Ok(())
        }
    }
}

/// Set the flag option `letter` (`i`, `n` or `r`).
fn set_flag(def: &mut ScriptDef, letter: char) {
    match letter {
        'i' => def.stdin = true,
        'n' => def.noexec = true,
        'r' => def.forget = true,
        _ => unreachable!("only flag letters reach set_flag"),
    }
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
        _ => unreachable!("only value letters reach apply_value"),
    }
    Ok(())
}

/// Parse ASCII digits only (Rust's `from_str` would also take a leading `+`).
fn parse_number<T: std::str::FromStr>(v: &str) -> Option<T> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
#[path = "exectab_tests.rs"]
mod tests;
