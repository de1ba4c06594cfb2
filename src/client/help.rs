//! What the client commands' `--help` shows: their own options and the
//! connection options first, then only the top-level options a client
//! reads (`--storage` for the key and address, `--config` for `listen`
//! and `tls`), worded for a client. The server's (`--database`,
//! `--listen` to serve on, log settings) stay accepted but hidden.
//!
//! clap copies a global option into every subcommand unless that
//! subcommand already has one of the same id, so each client command gets
//! its own copy of those options here, before clap builds the command.

use clap::{Arg, Command};

use super::hoist::{CLIENT, NESTED};

/// The heading the client's view of the top-level options goes under.
const HEADING: &str = "Where the server is";

/// `command` (the whole command line) with every client command's help
/// reduced to what a client uses.
pub fn for_clients(command: Command) -> Command {
    let globals: Vec<Arg> = command
        .get_arguments()
        .filter(|arg| arg.is_global_set())
        .cloned()
        .collect();
    let mut command = command;
    for name in CLIENT.iter().chain(NESTED) {
        // mut_subcommand panics on an unknown name.
        if command.find_subcommand(name).is_none() {
            continue;
        }
        command = command.mut_subcommand(*name, |sub| {
            globals
                .iter()
                .fold(sub, |sub, arg| sub.arg(client_view(arg.clone())))
        });
    }
    command
}

/// The option as a client sees it: reworded, or hidden when only the
/// server reads it.
fn client_view(arg: Arg) -> Arg {
    match arg.get_id().as_str() {
        "storage" => arg
            .value_name("DIR")
            .help_heading(HEADING)
            .help(
                "The storage of a server on this host: the API key (admin.key), \
                 where it listens (server.json) and its CA (tls/ca.pem) are read \
                 from there (default: scriptd-data)",
            )
            .long_help(None),
        "config" => arg
            .value_name("FILE")
            .help_heading(HEADING)
            .help(format!(
                "The server's TOML configuration: its `listen` and `tls` say \
                 where to connect (default: {} when it exists)",
                crate::config::SYSTEM_CONFIG
            ))
            .long_help(None),
        _ => arg.hide(true),
    }
}
