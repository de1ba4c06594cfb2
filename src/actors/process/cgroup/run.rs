//! One run's cgroup: created with its limits before the spawn (the child
//! moves itself in before it execs), signalled and killed as a whole, read
//! for the run's CPU and peak memory, removed once empty.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::CgroupBase;
use crate::exectab::Resources;

/// What the processes of a run used, all of them together.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgroupUsage {
    pub cpu_user: Option<f64>,
    pub cpu_system: Option<f64>,
    pub memory_peak_kb: Option<i64>,
}

/// The cgroup of one run.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
    /// It has a `memory.peak` (the memory controller is on).
    memory: bool,
}

impl RunCgroup {
    /// Creates the cgroup of run `run` under `base` with the limits of
    /// `resources`. Also returns the limits that cannot be enforced here.
    pub fn create(
        base: &CgroupBase,
        run: &str,
        resources: &Resources,
    ) -> io::Result<(RunCgroup, Vec<String>)> {
        let dir = base.run_dir(run);
        match fs::create_dir(&dir) {
            // A self-made base is removed while empty by a server starting
            // beside this one (`own::sweep`): made again, with its controllers.
            Err(err) if err.kind() == io::ErrorKind::NotFound && base.made => {
                fs::create_dir_all(&base.dir)?;
                super::enable_controllers(&base.dir);
                fs::create_dir(&dir)?;
            }
            other => other?,
        }
        let cgroup = RunCgroup {
            dir,
            memory: base.controllers.memory,
        };
        let c = base.controllers;
        let mut unenforced = Vec::new();
        let limits = [
            (
                "memory.max",
                c.memory,
                resources.memory_max.map(|b| b.to_string()),
                "-M (memory)",
            ),
            (
                "cpu.weight",
                c.cpu,
                resources.cpu_weight.map(|w| w.to_string()),
                "-W (cpu weight)",
            ),
            (
                "pids.max",
                c.pids,
                resources.max_procs.map(|n| n.to_string()),
                "-P (processes)",
            ),
        ];
        for (file, available, value, option) in limits {
            let Some(value) = value else { continue };
            if !available {
                unenforced.push(format!(
                    "{option}: no such controller in {}",
                    base.dir.display()
                ));
                continue;
            }
            if let Err(err) = fs::write(cgroup.dir.join(file), &value) {
                let _ = cgroup.remove();
                return Err(io::Error::new(
                    err.kind(),
                    format!("cannot set {file}: {err}"),
                ));
            }
        }
        Ok((cgroup, unenforced))
    }

    /// A run cgroup that already exists (start-up clean-up).
    pub fn existing(dir: PathBuf) -> RunCgroup {
        RunCgroup { dir, memory: false }
    }

    /// The cgroup's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The processes in it now.
    fn procs(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }

    /// Whether any process is left in it.
    pub fn populated(&self) -> bool {
        match fs::read_to_string(self.dir.join("cgroup.events")) {
            Ok(events) => events.lines().any(|line| line.trim() == "populated 1"),
            Err(_) => !self.procs().is_empty(),
        }
    }

    /// Sends `signal` to every process in it (SIGKILL goes through
    /// `cgroup.kill`, which no fork can outrun).
    pub fn signal(&self, signal: Signal) {
        if signal == Signal::SIGKILL {
            self.kill();
            return;
        }
        for pid in self.procs() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// SIGKILLs every process in it (`cgroup.kill`, Linux 5.14; before
    /// that, each process one by one).
    pub fn kill(&self) {
        if fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for _ in 0..100 {
            let procs = self.procs();
            if procs.is_empty() {
                return;
            }
            for pid in procs {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// Moves what is left into `dir` (the `-k` cgroup), creating it.
    pub fn move_all(&self, dir: &Path) -> io::Result<()> {
        match fs::create_dir(dir) {
            Err(err) if err.kind() != io::ErrorKind::AlreadyExists => return Err(err),
            _ => {}
        }
        for pid in self.procs() {
            fs::write(dir.join("cgroup.procs"), pid.to_string())?;
        }
        Ok(())
    }

    /// CPU time and peak memory of every process that was in it.
    pub fn usage(&self) -> CgroupUsage {
        let mut usage = CgroupUsage::default();
        if let Some(stat) = read_small(&self.dir.join("cpu.stat")) {
            for line in stat.lines() {
                let mut parts = line.split_whitespace();
                let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let secs = value.parse::<u64>().ok().map(|us| us as f64 / 1e6);
                match key {
                    "user_usec" => usage.cpu_user = secs,
                    "system_usec" => usage.cpu_system = secs,
                    _ => {}
                }
            }
        }
        // Not looked for without the controller: a failed open per run.
        usage.memory_peak_kb = self
            .memory
            .then(|| read_small(&self.dir.join("memory.peak")))
            .flatten()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .map(|bytes| bytes / 1024);
        usage
    }

    /// Reads and removes the cgroup if no process is left in it, which is
    /// how most runs end: `rmdir` itself says whether it is empty, so
    /// `cgroup.events` is not read. `None` when it is not empty (or
    /// cannot be removed): then it stays, for the long way (`populated`,
    /// ending what is left, [`usage`](Self::usage), [`remove`](Self::remove)).
    ///
    /// The figures are read just before the `rmdir`: a process that left
    /// on its own in between would lose the CPU of those microseconds.
    pub fn close_if_empty(&self) -> Option<CgroupUsage> {
        let usage = self.usage();
        match fs::remove_dir(&self.dir) {
            Ok(()) => Some(usage),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Some(usage),
            Err(_) => None,
        }
    }

    /// Removes the (empty) cgroup.
    pub fn remove(&self) -> io::Result<()> {
        match fs::remove_dir(&self.dir) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// A small cgroup file, read with one `read` while it fits the buffer:
/// `fs::read_to_string` asks for the size first, which a cgroup file does
/// not know, then reads in growing steps and once more for the end (seven
/// system calls for `cpu.stat` where three do, once per run).
fn read_small(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let mut buf = [0u8; 1024];
    let n = file.read(&mut buf).ok()?;
    let mut text = String::from_utf8_lossy(&buf[..n]).into_owned();
    if n == buf.len() {
        file.read_to_string(&mut text).ok()?;
    }
    Some(text)
}
