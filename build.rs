//! Records the git commit for `scriptd --version`. A build from a tarball
//! (no `.git`, no git) says "unknown"; packagers can set SCRIPTD_GIT_COMMIT.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Rebuild when HEAD moves: its file, the branch's ref, packed refs. Only
/// existing paths: a missing one would make cargo rerun this every build.
fn watch_head() {
    let mut paths = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        paths.push(format!("{dir}/HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        paths.push(format!("{common}/packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            paths.push(format!("{common}/{branch}"));
        }
    }
    for path in paths.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// Only this crate's own repository counts: a tarball unpacked inside some
/// other checkout must not report that checkout's commit.
fn own_repository() -> bool {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok();
    let top = git(&["rev-parse", "--show-toplevel"]);
    match (manifest, top) {
        (Some(manifest), Some(top)) => {
            let canon = |p: &str| std::fs::canonicalize(p).ok();
            canon(&manifest).is_some() && canon(&manifest) == canon(&top)
        }
        _ => false,
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // `sqlx::migrate!` embeds the migrations: a new file must rebuild.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=SCRIPTD_GIT_COMMIT");
    let commit = match std::env::var("SCRIPTD_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_owned(),
        _ if own_repository() => {
            watch_head();
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
        _ => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=SCRIPTD_GIT_COMMIT={commit}");
}
