//! The `scripts` table: each script this key may use with its exectab
//! options, from `GET /scripts/v1/scripts`.

use crate::wire::{ScriptInfo, ScriptsReply};

/// The `scripts` table: name, options, command line.
pub fn scripts_table(reply: &ScriptsReply) -> String {
    let scripts = &reply.scripts;
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

/// How many arguments (`@@1`…) the script takes.
pub fn arg_count(def: &ScriptInfo) -> usize {
    match def {
        ScriptInfo::Owner(def) => def.args,
        ScriptInfo::Guest(def) => def.args,
    }
}

fn script_options(def: &ScriptInfo) -> String {
    let mut opts = Vec::new();
    let (args, stdin, noexec) = match def {
        ScriptInfo::Owner(def) => (def.args, def.stdin, def.noexec),
        ScriptInfo::Guest(def) => (def.args, def.stdin, def.noexec),
    };
    let owner = match def {
        ScriptInfo::Owner(def) => Some(def),
        ScriptInfo::Guest(_) => None,
    };
    let forget = owner.is_some_and(|def| def.forget);
    for (flag, set) in [("-i", stdin), ("-n", noexec), ("-r", forget)] {
        if set {
            opts.push(flag.to_owned());
        }
    }
    if let Some(def) = owner {
        for (flag, value) in [
            ("-s", Some(u64::from(def.simultaneous))),
            ("-m", def.max_queued.map(u64::from)),
            ("-t", def.timeout),
        ] {
            if let Some(n) = value {
                opts.push(format!("{flag}={n}"));
            }
        }
        for (flag, value) in [("-u", &def.user), ("-g", &def.group), ("-d", &def.dir)] {
            match value.as_deref() {
                Some(value) if !value.is_empty() => opts.push(format!("{flag}={value}")),
                _ => {}
            }
        }
    }
    if args > 0 {
        opts.push(format!("args={args}"));
    }
    opts.join(" ")
}

fn script_command(def: &ScriptInfo) -> String {
    match def {
        ScriptInfo::Owner(def) => def
            .command
            .iter()
            .map(|w| match w.contains(char::is_whitespace) || w.is_empty() {
                true => format!("{w:?}"),
                false => w.clone(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        ScriptInfo::Guest(_) => String::new(),
    }
}
