//! Keeps numeric `args` as the client wrote them. serde_json reads a JSON
//! number into an `f64` or an integer, so `1e2` would reach the script as
//! `100.0` and a 31-digit integer would lose its digits. serde_json's
//! `arbitrary_precision` would keep the text, but it changes how every
//! number of every `Value` in the crate behaves (and `raw_value` would
//! rebuild half the dependency tree for one field). Instead the body, which
//! serde_json has already accepted as valid JSON, is scanned once more for
//! the raw text of each `args` element, and the numbers among the parsed
//! args are replaced by that text. Nothing else is touched.

use serde_json::{Map, Value};

/// Replaces the numbers in `fields["args"]` (parsed from the JSON `text`)
/// by their text in `text`. Anything unexpected leaves `fields` as it is.
pub fn keep_number_text(text: &[u8], fields: &mut Map<String, Value>) {
    let Some(Value::Array(items)) = fields.get_mut("args") else {
        return;
    };
    if !items.iter().any(Value::is_number) {
        return;
    }
    let Some(raw) = raw_args(text) else {
        return;
    };
    if raw.len() != items.len() {
        return;
    }
    for (item, raw) in items.iter_mut().zip(raw) {
        if item.is_number() {
            *item = Value::String(raw.to_owned());
        }
    }
}

/// The raw text of each element of the top-level object's last `args`
/// array (serde_json keeps the last of repeated keys too).
fn raw_args(text: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut scan = Scan { text, at: 0 };
    scan.eat(b'{')?;
    let mut found = None;
    loop {
        scan.space();
        if scan.peek()? == b'}' {
            return found;
        }
        let key_start = scan.at;
        scan.skip_string()?;
        let key: String = serde_json::from_str(&text[key_start..scan.at]).ok()?;
        scan.eat(b':')?;
        scan.space();
        if key == "args" && scan.peek()? == b'[' {
            found = Some(scan.elements()?);
        } else {
            scan.skip_value()?;
        }
        scan.space();
        match scan.next()? {
            b',' => {}
            b'}' => return found,
            _ => return None,
        }
    }
}

/// A cursor over JSON that serde_json has already accepted.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.next()? == byte).then_some(())
    }

    fn skip_string(&mut self) -> Option<()> {
        if self.next()? != b'"' {
            return None;
        }
        loop {
            match self.next()? {
                b'\\' => {
                    self.next()?;
                }
                b'"' => return Some(()),
                _ => {}
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'[' | b'{' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => self.skip_string()?,
                        b'[' | b'{' => {
                            depth += 1;
                            self.at += 1;
                        }
                        b']' | b'}' => {
                            depth -= 1;
                            self.at += 1;
                            if depth == 0 {
                                return Some(());
                            }
                        }
                        _ => self.at += 1,
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b']' | b'}') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// The raw text of each element of the array at the cursor.
    fn elements(&mut self) -> Option<Vec<&'a str>> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(items);
        }
        loop {
            self.space();
            let start = self.at;
            self.skip_value()?;
            items.push(&self.text[start..self.at]);
            self.space();
            match self.next()? {
                b',' => {}
                b']' => return Some(items),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(body: &str) -> Vec<Value> {
        let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(body) else {
            panic!("not an object: {body}");
        };
        keep_number_text(body.as_bytes(), &mut fields);
        match fields.remove("args") {
            Some(Value::Array(items)) => items,
            other => panic!("args: {other:?}"),
        }
    }

    #[test]
    fn numbers_keep_the_text_the_client_wrote() {
        let big = "1234567890123456789012345678901";
        let body = format!(r#"{{"name":"x","args":[1e2, {big}, -0, 1.50, "s", true, 7]}}"#);
        let expected: Vec<Value> = ["1e2", big, "-0", "1.50", "s"]
            .iter()
            .map(|s| Value::String((*s).to_owned()))
            .chain([Value::Bool(true), Value::String("7".into())])
            .collect();
        assert_eq!(args_of(&body), expected);
    }

    #[test]
    fn bodies_without_numbers_or_with_odd_args_are_left_alone() {
        assert_eq!(args_of(r#"{"args":["a"]}"#), vec![Value::from("a")]);
        // A repeated key: the last one counts, as in serde_json.
        let body = r#"{"args":[1],"a\u0072gs":[2e0, "x,]"], "z": {"args": [3]}}"#;
        assert_eq!(args_of(body), vec![Value::from("2e0"), Value::from("x,]")]);
        // Nested arrays stay for the validation to refuse.
        assert_eq!(
            args_of(r#"{"args":[[1], 5]}"#),
            vec![serde_json::json!([1]), Value::from("5")]
        );
    }
}
