//! Splitting one `exectab.txt` line into tokens: quotes, backslash escapes
//! and whether a token is option-like. It knows nothing about option letters.

/// A token plus whether it began with an unquoted, unescaped `-` (an option).
pub(super) struct Token {
    pub(super) text: String,
    pub(super) option_like: bool,
}

/// Split one line into tokens (see [`Exectab::parse`](super::Exectab::parse) for the rules).
///
/// Why backslash escapes inside single quotes too: that is what the original
/// tokenizer (CubicleSoft `CLI::ParseCommandLine`) does, so existing files
/// mean the same thing here. A backslash at the very end of the line is kept
/// literally, also as in the original. Note that Windows paths therefore need
/// forward slashes or doubled backslashes.
pub(super) fn tokenize(line: &str) -> Result<Vec<Token>, String> {
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
