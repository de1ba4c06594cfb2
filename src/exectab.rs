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
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Parse a one-definition text that must produce no warnings.
    fn one(desc: &str, text: &str) -> ScriptDef {
        let (tab, warnings) = Exectab::parse(text);
        assert!(
            warnings.is_empty(),
            "{desc}: unexpected warnings {warnings:?}"
        );
        assert_eq!(tab.len(), 1, "{desc}: expected one script, got {tab:?}");
        let def = tab.scripts().next().unwrap().clone();
        def
    }

    /// Parse a one-line text that must be rejected with one warning on line 1.
    fn rejected(desc: &str, text: &str) -> ParseWarning {
        let (tab, warnings) = Exectab::parse(text);
        assert!(
            tab.is_empty(),
            "{desc}: expected nothing loaded, got {tab:?}"
        );
        assert_eq!(warnings.len(), 1, "{desc}: warnings {warnings:?}");
        assert_eq!(warnings[0].line, 1, "{desc}: {warnings:?}");
        warnings[0].clone()
    }

    #[test]
    fn defaults() {
        let d = one("plain line", "test /usr/bin/php /x.php");
        let mut want = ScriptDef::with_name("test".into());
        want.command = s(&["/usr/bin/php", "/x.php"]);
        assert_eq!(d, want);
        assert_eq!(d.simultaneous, 1);
        assert_eq!(d.max_queued, None);
        assert!(!d.stdin && !d.noexec && !d.forget);
    }

    #[test]
    fn every_option() {
        type Check = fn(&ScriptDef) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            ("-d", "-d=/var/log x /bin/true", |d| {
                d.dir.as_deref() == Some("/var/log")
            }),
            ("-e single", "-e=A=1 x /bin/true", |d| {
                d.env == [("A".into(), "1".into())]
            }),
            (
                "-e value keeps later '=' and %..% raw",
                "-e=P=a=b%HOME% x /bin/true",
                |d| d.env == [("P".into(), "a=b%HOME%".into())],
            ),
            ("-e empty value allowed", "-e=A= x /bin/true", |d| {
                d.env == [("A".into(), "".into())]
            }),
            (
                "-e repeated, file order",
                "-e=B=2 -e=A=1 x /bin/true",
                |d| d.env == [("B".into(), "2".into()), ("A".into(), "1".into())],
            ),
            ("-g", "-g=wheel x /bin/true", |d| {
                d.group.as_deref() == Some("wheel")
            }),
            ("-i", "-i x /bin/true", |d| {
                d.stdin && !d.noexec && !d.forget
            }),
            ("-m=5", "-m=5 x /bin/true", |d| d.max_queued == Some(5)),
            ("-m=0 is unlimited", "-m=0 x /bin/true", |d| {
                d.max_queued.is_none()
            }),
            ("-n without command", "-n x", |d| {
                d.noexec && d.command.is_empty()
            }),
            ("-r", "-r x /bin/true", |d| d.forget && !d.stdin),
            ("-s=3", "-s=3 x /bin/true", |d| d.simultaneous == 3),
            ("-t=30", "-t=30 x /bin/true", |d| d.timeout_secs == Some(30)),
            ("-u", "-u=bob x /bin/true", |d| {
                d.user.as_deref() == Some("bob")
            }),
            ("repeated -s: later wins", "-s=2 -s=4 x /bin/true", |d| {
                d.simultaneous == 4
            }),
            (
                "long name as in original",
                "-simultaneous=2 -stdinallowed x /bin/true",
                |d| d.simultaneous == 2 && d.stdin,
            ),
            (
                "all together",
                "-d=/w -e=K=v -g=g -i -m=9 -r -s=2 -t=7 -u=u x /bin/a b",
                |d| {
                    d.dir.as_deref() == Some("/w")
                        && d.env.len() == 1
                        && d.group.as_deref() == Some("g")
                        && d.stdin
                        && d.max_queued == Some(9)
                        && d.forget
                        && d.simultaneous == 2
                        && d.timeout_secs == Some(7)
                        && d.user.as_deref() == Some("u")
                        && d.command == ["/bin/a", "b"]
                },
            ),
        ];
        for (desc, line, check) in cases {
            let d = one(desc, line);
            assert!(check(&d), "{desc}: {line:?} gave {d:?}");
        }
    }

    #[test]
    fn combined_flags() {
        let cases: &[(&str, &str, bool, bool, bool)] = &[
            ("-ir", "-ir x /bin/true", true, false, true),
            ("-inr", "-inr x", true, true, true),
            ("-ni plus separate -r", "-ni -r x", true, true, true),
            ("-rr repeated letter", "-rr x /bin/true", false, false, true),
        ];
        for (desc, line, stdin, noexec, forget) in cases {
            let d = one(desc, line);
            assert_eq!(
                (d.stdin, d.noexec, d.forget),
                (*stdin, *noexec, *forget),
                "{desc}: {d:?}"
            );
        }
    }

    #[test]
    fn tokenizing_quotes_and_escapes() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "double quotes keep spaces",
                r#"x /bin/echo "a b"  c"#,
                &["/bin/echo", "a b", "c"],
            ),
            (
                "single quotes keep spaces",
                "x /bin/echo 'a  b' c",
                &["/bin/echo", "a  b", "c"],
            ),
            (
                "other quote literal inside",
                r#"x e "it's" 'say "hi"'"#,
                &["e", "it's", r#"say "hi""#],
            ),
            ("adjacent pieces join", r#"x e a"b c"d"#, &["e", "ab cd"]),
            (
                "empty quotes give empty arg",
                r#"x e "" z"#,
                &["e", "", "z"],
            ),
            ("escaped double quote", r#"x e \"q\""#, &["e", "\"q\""]),
            (
                "escaped quote inside double quotes",
                r#"x e "a\"b""#,
                &["e", "a\"b"],
            ),
            ("escaped space", r"x e a\ b", &["e", "a b"]),
            ("escaped backslash", r"x e a\\b", &["e", r"a\b"]),
            (
                "backslash escapes inside single quotes",
                r"x e 'a\'b'",
                &["e", "a'b"],
            ),
            (
                "trailing lone backslash is literal",
                r"x e a\",
                &["e", r"a\"],
            ),
            ("tabs separate", "x\te\t\ta", &["e", "a"]),
            (
                "dash after name is a param",
                "x e -s=abc -zz",
                &["e", "-s=abc", "-zz"],
            ),
            (
                "hash later in line is not a comment",
                "x e # no",
                &["e", "#", "no"],
            ),
            ("CRLF line ending", "x e a\r\n", &["e", "a"]),
        ];
        for (desc, line, want) in cases {
            let d = one(desc, line);
            assert_eq!(d.name, "x", "{desc}");
            assert_eq!(d.command, s(want), "{desc}: {line:?}");
        }
    }

    #[test]
    fn quoted_option_values_and_names() {
        let d = one("quoted -d value", r#"-d="/my dir" -e='A=x y' x /bin/true"#);
        assert_eq!(d.dir.as_deref(), Some("/my dir"));
        assert_eq!(d.env, [("A".to_string(), "x y".to_string())]);
        let d = one(
            "quoted leading dash is a name, not an option",
            r#""-x" /bin/true"#,
        );
        assert_eq!(d.name, "-x");
        let d = one("escaped leading dash is a name", r"\-y /bin/true");
        assert_eq!(d.name, "-y");
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = "# comment\n  # indented hash\n// slashes\n\t// indented slashes\n\n   \n\t\na /bin/a\n";
        let (tab, warnings) = Exectab::parse(text);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            tab.scripts().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        // A BOM at the start of the file is not part of the first line.
        let (tab, warnings) = Exectab::parse("\u{feff}# c\nb /bin/b");
        assert!(warnings.is_empty(), "BOM: {warnings:?}");
        assert!(tab.get("b").is_some());
        let (tab, _) = Exectab::parse("");
        assert!(tab.is_empty());
        assert_eq!(tab.len(), 0);
    }

    #[test]
    fn malformed_lines() {
        let cases: &[(&str, &str, &str)] = &[
            ("unknown option", "-x a /bin/a", "-x"),
            ("unknown letter among flags", "-iz a /bin/a", "-z"),
            ("lone dash", "- a /bin/a", "unknown option"),
            (
                "value option combined",
                "-is=2 a /bin/a",
                "cannot be combined",
            ),
            ("value option without =", "-s a /bin/a", "needs a value"),
            ("flag with value", "-i=1 a /bin/a", "takes no value"),
            (
                "combined flags with value",
                "-ir=1 a /bin/a",
                "take no value",
            ),
            ("-s not a number", "-s=abc a /bin/a", "-s=abc"),
            ("-s zero", "-s=0 a /bin/a", "-s=0"),
            ("-s plus sign", "-s=+2 a /bin/a", "-s=+2"),
            ("-s empty", "-s= a /bin/a", "-s="),
            ("-s overflow", "-s=99999999999 a /bin/a", "-s="),
            ("-m negative", "-m=-1 a /bin/a", "-m=-1"),
            ("-m not a number", "-m=x a /bin/a", "-m=x"),
            ("-t zero", "-t=0 a /bin/a", "-t=0"),
            ("-t fractional", "-t=1.5 a /bin/a", "-t=1.5"),
            ("-e without =", "-e=NOEQUALS a /bin/a", "NOEQUALS"),
            ("-e empty name", "-e==v a /bin/a", "VAR=value"),
            ("-d empty", "-d= a /bin/a", "-d="),
            ("-u empty", "-u= a /bin/a", "-u="),
            ("-g empty", "-g= a /bin/a", "-g="),
            (
                "unterminated double quote",
                r#"a /bin/a "oops"#,
                "unterminated",
            ),
            (
                "unterminated single quote",
                "a /bin/a 'oops",
                "unterminated",
            ),
            ("options but no name", "-i -s=2", "no script name"),
            ("name without command", "a", "no command"),
            ("name with slash", "a/b /bin/a", "a/b"),
            ("name with space via quotes", r#""a b" /bin/a"#, "a b"),
            ("empty name via quotes", r#""" /bin/a"#, "empty script name"),
            ("NUL in a token", "a /bin/a x\0y", "NUL"),
        ];
        for (desc, line, needle) in cases {
            let w = rejected(desc, line);
            assert!(
                w.message.contains(needle),
                "{desc}: message {:?} lacks {needle:?}",
                w.message
            );
        }
    }

    #[test]
    fn bad_line_skipped_rest_loads() {
        let text = "good1 /bin/a\n# c\n-x bad /bin/b\n-s=abc bad2 /bin/c\ngood2 /bin/d";
        let (tab, warnings) = Exectab::parse(text);
        assert_eq!(
            tab.scripts().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["good1", "good2"]
        );
        assert_eq!(warnings.iter().map(|w| w.line).collect::<Vec<_>>(), [3, 4]);
        assert!(
            warnings[0].to_string().contains("line 3"),
            "{}",
            warnings[0]
        );
        assert!(tab.get("bad").is_none() && tab.get("bad2").is_none());
    }

    #[test]
    fn duplicate_name_later_wins() {
        let text = "dup /bin/first\nother /bin/o\ndup -x /bin/second";
        let (tab, warnings) = Exectab::parse(text);
        assert_eq!(tab.get("dup").unwrap().command, ["-x", "/bin/second"]);
        assert_eq!(tab.len(), 2);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].line, 3);
        assert!(warnings[0].message.contains("line 1"), "{warnings:?}");
        // A malformed redefinition does not replace the good one.
        let (tab, warnings) = Exectab::parse("dup /bin/first\n-s=0 dup /bin/second");
        assert_eq!(tab.get("dup").unwrap().command, ["/bin/first"]);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, 2);
    }

    #[test]
    fn noexec_with_command() {
        let d = one("-n with params", "-n test4 @@1 @@2");
        assert!(d.noexec);
        assert_eq!(d.command, ["@@1", "@@2"]);
        assert_eq!(d.required_args(), 2);
    }

    #[test]
    fn scripts_sorted_and_get() {
        let (tab, _) = Exectab::parse("b /b\na /a\nc /c");
        assert_eq!(
            tab.scripts().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(tab.get("a").unwrap().command, ["/a"]);
        assert!(tab.get("z").is_none());
        assert!(!tab.is_empty());
    }

    #[test]
    fn substitute_cases() {
        let args = s(&["one", "two", "@@2", "", "five", "6", "7", "8", "9", "ten"]);
        let cases: &[(&str, &str, &[String], &str)] = &[
            ("no placeholder", "plain", &args, "plain"),
            ("single", "@@1", &args, "one"),
            ("embedded", "-o=@@1.txt", &args, "-o=one.txt"),
            ("several in one token", "@@1-@@2-@@1", &args, "one-two-one"),
            ("@@10 is ten, not @@1 then 0", "@@10", &args, "ten"),
            ("@@1 next to @@10", "@@1/@@10", &args, "one/ten"),
            ("arg containing @@ is not rescanned", "@@3", &args, "@@2"),
            ("empty arg", "[@@4]", &args, "[]"),
            ("@@0 stays literal", "@@0", &args, "@@0"),
            ("out of range stays literal", "@@11", &args, "@@11"),
            ("out of range with no args", "a@@1b", &[], "a@@1b"),
            (
                "huge number stays literal",
                "@@99999999999999999999999",
                &args,
                "@@99999999999999999999999",
            ),
            ("leading zero is decimal", "@@01", &args, "one"),
            ("@@ without digits", "@@x @@", &args, "@@x @@"),
            ("triple @", "@@@2", &args, "@two"),
            ("non-ASCII around", "é@@1ü", &args, "éoneü"),
        ];
        for (desc, token, a, want) in cases {
            assert_eq!(substitute(token, a), *want, "{desc}: {token:?}");
        }
    }

    #[test]
    fn required_args_cases() {
        let cases: &[(&str, &str, usize)] = &[
            ("none", "x /bin/a b", 0),
            ("single", "x /bin/a @@1", 1),
            ("max across tokens", "x /bin/a @@2 -o=@@1", 2),
            ("greedy digits", "x /bin/a @@12", 12),
            ("@@0 does not count", "x /bin/a @@0", 0),
            ("name is not scanned", "-n @@5", 0),
            (
                "saturates when huge",
                "x /bin/a @@99999999999999999999999",
                usize::MAX,
            ),
        ];
        for (desc, line, want) in cases {
            assert_eq!(one(desc, line).required_args(), *want, "{desc}");
        }
    }

    #[test]
    fn expand_env_cases() {
        let lookup = |n: &str| match n {
            "HOME" => Some("/root".to_string()),
            "PATH" => Some("/bin:%HOME%".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let cases: &[(&str, &str, &str)] = &[
            ("no percent", "plain", "plain"),
            ("single var", "%HOME%", "/root"),
            ("embedded", "a%HOME%b", "a/rootb"),
            ("two vars", "%HOME%:%PATH%", "/root:/bin:%HOME%"),
            ("expansion not rescanned", "%PATH%", "/bin:%HOME%"),
            ("unknown is empty", "x%NOPE%y", "xy"),
            ("known but empty", "x%EMPTY%y", "xy"),
            ("%% is literal", "100%%", "100%"),
            ("%% then var", "%%%HOME%", "%/root"),
            ("lone percent", "50%", "50%"),
            ("lone percent at start", "%HOME", "%HOME"),
            ("percent text then var", "50% of %HOME%", "50% of /root"),
            ("= in name is not a var", "%A=B%", "%A=B%"),
            ("empty value", "", ""),
        ];
        for (desc, value, want) in cases {
            assert_eq!(expand_env(value, lookup), *want, "{desc}: {value:?}");
        }
    }

    #[test]
    fn opts_report() {
        let d = one("opts", "-u=bob -e=A=1 -e=B=2 -ir -s=2 -m=0 -t=5 x /bin/a");
        assert_eq!(
            d.opts(),
            vec![
                ("-e".to_string(), OptValue::List(s(&["A=1", "B=2"]))),
                ("-i".to_string(), OptValue::Flag),
                ("-r".to_string(), OptValue::Flag),
                ("-s".to_string(), OptValue::Value("2".into())),
                ("-t".to_string(), OptValue::Value("5".into())),
                ("-u".to_string(), OptValue::Value("bob".into())),
            ]
        );
        let d = one("opts all", "-d=/w -g=g -m=3 -n x");
        assert_eq!(
            d.opts(),
            vec![
                ("-d".to_string(), OptValue::Value("/w".into())),
                ("-g".to_string(), OptValue::Value("g".into())),
                ("-m".to_string(), OptValue::Value("3".into())),
                ("-n".to_string(), OptValue::Flag),
                ("-s".to_string(), OptValue::Value("1".into())),
            ]
        );
        assert_eq!(long_opt_name("-s"), Some("simultaneous"));
        assert_eq!(long_opt_name("-i"), Some("stdinallowed"));
        assert_eq!(long_opt_name("-x"), None);
        assert_eq!(long_opt_name("s"), None);
        assert_eq!(long_opt_name("-si"), None);
    }
}
