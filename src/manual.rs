//! `scriptd completions SHELL` and `scriptd man`: generated from the clap
//! definitions the parser uses, so they list exactly the real commands.

use std::io::{self, Write};
use std::path::Path;

use crate::cli::Cli;

/// Writes the completion script for `shell`. Generated into memory first:
/// clap_complete panics on a write error (a closed pipe, `| head`).
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::shaped(), "scriptd", &mut script);
    out.write_all(&script)
}

/// Writes the man page (roff): synopsis, options, and every subcommand
/// with its one-line description.
pub fn man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::shaped()).render(out)
}

/// Writes `scriptd.1` and one page per subcommand (`scriptd-run.1`, …,
/// which `scriptd.1` refers to) into `dir`; answers how many.
pub fn man_pages(dir: &Path) -> io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::shaped(), dir)?;
    Ok(std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "1"))
        .count())
}
