//! `scriptd completions SHELL` and `scriptd man`: generated from the clap
//! definitions the parser uses, so they list exactly the real commands.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell`. Generated into memory first:
/// clap_complete panics on a write error (a closed pipe, `| head`).
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "scriptd", &mut script);
    out.write_all(&script)
}

/// Writes the man page (roff): synopsis, options, and every subcommand
/// with its one-line description.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}
