//! `@@N` argument substitution in command tokens and `%NAME%` expansion in
//! `-e` values. Pure string transforms: no environment access of its own.

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
pub(super) fn placeholders(token: &str) -> Vec<(usize, usize, usize)> {
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
