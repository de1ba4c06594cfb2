//! A PostgreSQL server of one test's own: initdb in a temp dir, a free
//! port, started and stopped with pg_ctl (as user `postgres` through
//! `runuser` when the tests run as root, since PostgreSQL refuses root).
//! Tests that stop or kill their database use it, so the shared server on
//! 127.0.0.1:5432 that other tests use at the same time is never touched.
//! A missing binary or user fails the test and says how to get it.
//! Everything here is async: the server under test runs on the same
//! thread, and must go on serving while its database starts or stops.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::helpers::{is_root, DEADLINE};

/// How to get what the private server needs.
const INSTALL: &str = "install PostgreSQL's server with `apt-get install -y postgresql` \
    (scripts/test does so as root), which brings initdb and pg_ctl under /usr/lib/postgresql/*/bin";

/// One private PostgreSQL server; stopped (immediately) when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// Creates and starts a fresh server on a free port.
    pub async fn start() -> PrivatePostgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("temp dir for the private PostgreSQL");
        if is_root() {
            let postgres = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .unwrap_or_else(|| {
                    panic!("no user `postgres` to run the private server as: {INSTALL}")
                });
            nix::unistd::chown(dir.path(), Some(postgres.uid), Some(postgres.gid))
                .expect("give the private server's dir to postgres");
        }
        let port = free_port();
        let server = PrivatePostgres { bin, dir, port };
        let data = server.data();
        server
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await;
        server.start_again().await;
        server
    }

    /// `postgres://` URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its server log so far (statements too, once `log_statement` is set).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Starts the server (again), waiting until it accepts connections. A
    /// postmaster that was killed can leave backends behind for a moment;
    /// until they are gone the start is refused, so it is retried.
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=40 -c shared_buffers=16MB",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let started = Instant::now();
        loop {
            let out = self
                .command(
                    "pg_ctl",
                    &[
                        "-D",
                        &self.data(),
                        "-l",
                        &log,
                        "-o",
                        &options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                )
                .await;
            if out.status.success() {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the private PostgreSQL does not start: {}\n{}\nserver log:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            actix_rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `pg_ctl stop -m immediate`: the server exits at once, as after a
    /// crash (recovery runs at the next start).
    pub async fn stop_immediate(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )
        .await;
    }

    /// SIGKILL to the postmaster; waits until it is gone.
    pub async fn kill_postmaster(&self) {
        let pid_file = Path::new(&self.data()).join("postmaster.pid");
        let text =
            std::fs::read_to_string(&pid_file).expect("postmaster.pid of the running server");
        let pid: i32 = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok())
            .expect("a pid on the first line of postmaster.pid");
        let pid = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)
            .expect("kill -9 the postmaster");
        let started = Instant::now();
        while Path::new(&format!("/proc/{pid}/status")).exists() && !zombie(pid) {
            assert!(
                started.elapsed() < DEADLINE,
                "the killed postmaster {pid} does not go away"
            );
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn command_line(&self, tool: &str, args: &[&str]) -> std::process::Command {
        let tool = self.bin.join(tool);
        let mut command = if is_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&tool);
            command
        } else {
            std::process::Command::new(&tool)
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null());
        command
    }

    async fn command(&self, tool: &str, args: &[&str]) -> std::process::Output {
        tokio::process::Command::from(self.command_line(tool, args))
            .output()
            .await
            .unwrap_or_else(|err| panic!("cannot run {tool}: {err}; {INSTALL}"))
    }

    async fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool, args).await;
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Blocking is fine here: the test is over.
        if Path::new(&self.data()).join("postmaster.pid").exists() {
            let data = self.data();
            let _ = self
                .command_line("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

/// The newest installed PostgreSQL's binaries.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL server binaries under /usr/lib/postgresql: {INSTALL}")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A killed process whose parent has not reaped it yet is as good as gone.
fn zombie(pid: nix::unistd::Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
