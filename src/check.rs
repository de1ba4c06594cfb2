//! `scriptd exectab check [FILE]`: validates exectab files the way
//! `nginx -t` validates its configuration. Each skipped or overridden line
//! is printed with its file, number and why; the exit code is 1 if there
//! is any. Reads files only; needs no server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Config;
use crate::exectab::Exectab;

/// The exectab files to check: `file`, or every user's in the storage.
fn files(config: &Config, file: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    if let Some(file) = file {
        return Ok(vec![file.to_owned()]);
    }
    let entries = std::fs::read_dir(&config.storage).map_err(|err| {
        format!(
            "cannot read the storage {}: {err} — name a FILE or pass --storage",
            config.storage.display()
        )
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_ok())
        .map(|e| e.path().join("scripts").join("exectab.txt"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "no exectab.txt under {} — name a FILE or pass --storage",
            config.storage.display()
        ));
    }
    Ok(found)
}

/// Checks one file's text; returns the report lines (empty when clean) and
/// how many scripts it defines.
pub fn check_text(path: &Path, text: &str) -> (Vec<String>, usize) {
    let (tab, warnings) = Exectab::parse(text);
    let problems = warnings
        .iter()
        .map(|w| format!("{}:{}: {}", path.display(), w.line, w.message))
        .collect();
    (problems, tab.scripts().count())
}

/// Runs the check and prints its report; exit 1 on any problem.
pub fn exectab_check(config: &Config, file: Option<&Path>) -> ExitCode {
    let files = match files(config, file) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("scriptd: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut bad = 0;
    for path in files {
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => {
                eprintln!("{}: cannot read: {err}", path.display());
                bad += 1;
                continue;
            }
        };
        let (problems, scripts) = check_text(&path, &text);
        for line in &problems {
            println!("{line}");
        }
        bad += problems.len();
        let verdict = if problems.is_empty() {
            "ok"
        } else {
            "has problems"
        };
        println!(
            "{}: {scripts} script(s), {} problem(s): {verdict}",
            path.display(),
            problems.len()
        );
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
