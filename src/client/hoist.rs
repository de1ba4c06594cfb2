//! `scriptd --url U --api-key K status`: the client's connection options
//! given before the subcommand, as `--storage` may be. clap accepts an
//! option before a subcommand only when the top-level command owns it,
//! and these belong to each client command ([`super::Remote`]), so the
//! command line is rewritten before parsing: such options move to just
//! after the (leaf) client subcommand. Anything else is left as typed.

use std::ffi::OsString;

/// Client options that take a value.
const VALUED: &[&str] = &["--url", "--api-key", "--ca"];
/// Client options that take none.
const FLAGS: &[&str] = &["--json"];
/// Top-level options that take a value (skipped over, never moved).
const GLOBAL_VALUED: &[&str] = &[
    "--storage",
    "--database",
    "--listen",
    "--config",
    "--log-format",
    "--log-level",
];
/// The subcommands that take the client options.
pub(crate) const CLIENT: &[&str] = &[
    "run",
    "status",
    "cancel",
    "kill",
    "log",
    "monitor",
    "scripts",
    "history",
    "events",
    "schedules",
];
/// Client subcommands with subcommands of their own.
pub(crate) const NESTED: &[&str] = &["guest", "schedule", "hook"];

/// `args` (program name first) with client options that come before a
/// client subcommand moved to just after it.
pub fn hoist(args: Vec<OsString>) -> Vec<OsString> {
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    let mut iter = args.into_iter();
    kept.extend(iter.next());
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy().into_owned();
        let name = text.split_once('=').map_or(text.as_str(), |(n, _)| n);
        let valued = !text.contains('=');
        if VALUED.contains(&name) || FLAGS.contains(&name) {
            moved.push(arg);
            if VALUED.contains(&name) && valued {
                moved.extend(iter.next());
            }
            continue;
        }
        let is_global = GLOBAL_VALUED.contains(&name);
        let positional = !text.starts_with('-');
        kept.push(arg);
        if is_global && valued {
            kept.extend(iter.next());
        }
        if positional {
            return place(kept, moved, &text, iter);
        }
    }
    // No subcommand: leave every option where it was, for clap to judge.
    kept.extend(moved);
    kept
}

/// Puts `moved` after the leaf of the subcommand `first` (already the
/// last of `kept`).
fn place(
    mut kept: Vec<OsString>,
    moved: Vec<OsString>,
    first: &str,
    mut rest: impl Iterator<Item = OsString>,
) -> Vec<OsString> {
    if moved.is_empty() || !(CLIENT.contains(&first) || NESTED.contains(&first)) {
        // Not a client command: clap says what is wrong with the options.
        let at = kept.len().saturating_sub(1);
        kept.splice(at..at, moved);
        kept.extend(rest);
        return kept;
    }
    if NESTED.contains(&first) {
        kept.extend(rest.next());
    }
    kept.extend(moved);
    kept.extend(rest);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_name_every_client_subcommand() {
        // `history` and `events` are listed too; they are declared beside
        // the admin commands in `cli.rs`.
        use clap::Subcommand;
        let command = super::super::ClientCommand::augment_subcommands(clap::Command::new("x"));
        for sub in command.get_subcommands() {
            let name = sub.get_name();
            let nested = sub.has_subcommands();
            let listed = if nested { NESTED } else { CLIENT };
            assert!(
                listed.contains(&name),
                "{name} is missing from {}",
                if nested { "NESTED" } else { "CLIENT" }
            );
        }
    }

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn client_options_move_after_the_subcommand() {
        let cases = [
            (
                "untouched",
                "scriptd status --url U",
                "scriptd status --url U",
            ),
            (
                "before status",
                "scriptd --url U --api-key K status ab12",
                "scriptd status --url U --api-key K ab12",
            ),
            (
                "with = and a global option",
                "scriptd --storage S --url=U --json run greet A",
                "scriptd --storage S run --url=U --json greet A",
            ),
            (
                "nested guest",
                "scriptd --api-key K guest list",
                "scriptd guest list --api-key K",
            ),
            (
                "not a client command",
                "scriptd --json user list",
                "scriptd --json user list",
            ),
            ("no subcommand", "scriptd --url U", "scriptd --url U"),
        ];
        for (what, line, want) in cases {
            assert_eq!(hoist(words(line)), words(want), "{what}");
        }
    }
}
