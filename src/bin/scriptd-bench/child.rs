//! A `scriptd serve` child process on a given storage dir: the real
//! binary, so that a restart is a real one (new process, fresh heap) and
//! so that an older build can be measured in the same run
//! (`SCRIPTD_BENCH_SCRIPTDS=old=/path/to/scriptd,new=target/release/scriptd`;
//! by default the `scriptd` next to this binary).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::machine::rss_kib;
use crate::server::Target;

/// The binaries to compare, as (label, path), in the order to alternate.
pub fn binaries() -> anyhow::Result<Vec<(String, PathBuf)>> {
    if let Ok(list) = std::env::var("SCRIPTD_BENCH_SCRIPTDS") {
        return list
            .split(',')
            .map(|item| {
                let (label, path) = item
                    .split_once('=')
                    .context("SCRIPTD_BENCH_SCRIPTDS is label=path,label=path")?;
                Ok((label.to_owned(), PathBuf::from(path)))
            })
            .collect();
    }
    let exe = std::env::current_exe()?;
    let sibling = exe.with_file_name("scriptd");
    anyhow::ensure!(
        sibling.exists(),
        "{} not found: build it too (cargo build --release --bin scriptd)",
        sibling.display()
    );
    Ok(vec![("this".into(), sibling)])
}

/// How many times each binary is measured (`SCRIPTD_BENCH_ROUNDS`, default 1).
pub fn rounds() -> usize {
    std::env::var("SCRIPTD_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// A config file setting `status_files` when `SCRIPTD_BENCH_STATUS_FILES`
/// is set (older builds refuse the key, so it is only passed on request).
pub fn config_file(storage: &Path) -> anyhow::Result<Option<PathBuf>> {
    let Ok(mode) = std::env::var("SCRIPTD_BENCH_STATUS_FILES") else {
        return Ok(None);
    };
    let path = storage.with_extension("toml");
    std::fs::write(&path, format!("status_files = \"{mode}\"\n"))?;
    Ok(Some(path))
}

/// A running `scriptd serve`.
pub struct Scriptd {
    child: Child,
    pub target: Target,
    /// From the spawn to the "listening" log line.
    pub bound: Duration,
    pub spawned: Instant,
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

impl Scriptd {
    /// Spawns `binary serve` on `storage` and waits until it listens.
    pub fn start(binary: &Path, storage: &Path) -> anyhow::Result<Scriptd> {
        Scriptd::start_with(binary, storage, &[])
    }

    /// Like [`Scriptd::start`], with more `serve` flags (`--database`,
    /// `--node`, lease settings for a cluster node).
    pub fn start_with(binary: &Path, storage: &Path, extra: &[String]) -> anyhow::Result<Scriptd> {
        let config = config_file(storage)?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--storage"])
            .arg(storage)
            .args(extra)
            .env("RUST_LOG", "warn,scriptd::app=info,scriptd::http=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child.stderr.take().context("stderr")?;
        let (tx, rx) = mpsc::channel();
        // Keeps draining stderr for the life of the child.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = strip_ansi(&line);
                if let Some((_, rest)) = line.split_once("listening on http://127.0.0.1:") {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(digits.parse::<u16>().ok());
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(120))
            .ok()
            .flatten()
            .context("scriptd did not log its address")?;
        let bound = spawned.elapsed();
        let key = std::fs::read_to_string(storage.join("admin.key")).context("admin.key")?;
        Ok(Scriptd {
            child,
            target: Target {
                port,
                key: key.trim().to_owned(),
            },
            bound,
            spawned,
        })
    }

    /// VmRSS of the server, KiB.
    pub fn rss(&self) -> u64 {
        rss_kib(&self.child.id().to_string())
    }

    /// Bytes the server's allocator has handed out and not taken back
    /// (glibc's `mallinfo2`: `uordblks + hblkhd`), read by calling it in
    /// the process with gdb: unlike VmRSS it does not count freed memory
    /// the allocator keeps. `None` without gdb or when the call fails.
    pub fn heap_in_use(&self) -> Option<u64> {
        heap_in_use(self.child.id())
    }

    /// CPU seconds (user + system) the server has used, all threads.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        // Fields 14 and 15 (utime, stime), counted past the command's
        // closing parenthesis (a name may hold spaces).
        let ticks: u64 = stat
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1.to_owned();
                let fields: Vec<u64> = rest
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|f| f.parse().ok())
                    .collect();
                Some(fields.iter().sum())
            })
            .unwrap_or(0);
        // /proc counts in USER_HZ, 100 on Linux whatever the kernel's HZ.
        ticks as f64 / 100.0
    }

    /// SIGKILL (a node dying), then waits for the exit.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM (a graceful stop), then waits for the exit.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        self.child.wait()?;
        Ok(())
    }
}

/// Polls `GET status/ID` until it answers `queued` at `position`; returns
/// the time from the server's spawn. Connections refused before the
/// listener is up do not count as answers.
pub async fn first_answer(server: &Scriptd, id: &str, position: usize) -> anyhow::Result<Duration> {
    let client = server.target.client(1);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(status) = server.target.status(&client, id).await {
            anyhow::ensure!(
                status["state"] == "queued" && status["position"] == position,
                "wrong first answer: {status}"
            );
            return Ok(server.spawned.elapsed());
        }
        anyhow::ensure!(Instant::now() < deadline, "no answer in 120 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Files in `dir` and the disk blocks they hold, in bytes.
pub fn disk_usage(dir: &Path) -> (usize, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .filter_map(|e| e.ok()?.metadata().ok())
        .fold((0, 0), |(n, bytes), m| (n + 1, bytes + m.blocks() * 512))
}

/// `mallinfo2()` of process `pid`, through gdb (see [`Scriptd::heap_in_use`]).
/// The struct is returned through a pointer passed first (the x86-64 ABI
/// for a struct of ten words), here to a place well below the stopped
/// thread's stack pointer that the call's own frames do not reach.
fn heap_in_use(pid: u32) -> Option<u64> {
    let out = Command::new("gdb")
        .args(["-p", &pid.to_string(), "-batch", "-nx"])
        .args(["-ex", "set $b = (unsigned long *)($rsp - 65536)"])
        .args(["-ex", "call ((void (*)(unsigned long *))mallinfo2)($b)"])
        .args(["-ex", "printf \"heap %lu %lu\\n\", $b[7], $b[4]"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("heap "))?;
    let mut words = line.split_whitespace().map(|w| w.parse::<u64>().ok());
    Some(words.next()?? + words.next()??)
}
