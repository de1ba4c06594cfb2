//! The `scripts` table: each script this key may use with its exectab
//! options, from `GET /scripts/v1/scripts`.

use serde_json::{Map, Value};

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

fn int(value: &Value, field: &str) -> Option<i64> {
    value.get(field).and_then(Value::as_i64)
}

/// The `scripts` table: each script with its exectab options.
pub fn scripts_table(reply: &Value) -> String {
    let empty = Map::new();
    let scripts = reply
        .get("scripts")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if scripts.is_empty() {
        return "no scripts: add lines to this user's exectab.txt".to_owned();
    }
    let rows: Vec<(String, String, String)> = scripts
        .iter()
        .map(|(name, def)| (name.clone(), script_options(def), script_command(def)))
        .collect();
    let name_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(6);
    let opts_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(7);
    let mut out = format!("{:<name_w$}  {:<opts_w$}  COMMAND", "SCRIPT", "OPTIONS");
    for (name, opts, command) in rows {
        out.push_str(&format!("\n{name:<name_w$}  {opts:<opts_w$}  {command}"));
        out = out.trim_end().to_owned();
    }
    out
}

fn script_options(def: &Value) -> String {
    let mut opts = Vec::new();
    for (flag, field) in [("-i", "stdin"), ("-n", "noexec"), ("-r", "forget")] {
        if def.get(field) == Some(&Value::Bool(true)) {
            opts.push(flag.to_owned());
        }
    }
    for (flag, field) in [
        ("-s", "simultaneous"),
        ("-m", "max_queued"),
        ("-t", "timeout"),
    ] {
        if let Some(n) = int(def, field) {
            opts.push(format!("{flag}={n}"));
        }
    }
    for (flag, field) in [("-u", "user"), ("-g", "group"), ("-d", "dir")] {
        let value = text(def, field);
        if !value.is_empty() {
            opts.push(format!("{flag}={value}"));
        }
    }
    if let Some(n) = int(def, "args").filter(|n| *n > 0) {
        opts.push(format!("args={n}"));
    }
    opts.join(" ")
}

fn script_command(def: &Value) -> String {
    match def.get("command").and_then(Value::as_array) {
        Some(words) => words
            .iter()
            .map(|w| {
                let w = w.as_str().unwrap_or_default();
                match w.contains(char::is_whitespace) || w.is_empty() {
                    true => format!("{w:?}"),
                    false => w.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => String::new(),
    }
}
