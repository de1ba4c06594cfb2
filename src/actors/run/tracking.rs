//! A RunProcess's hold on all of its run's processes: the run's cgroup
//! (created before the spawn, removed at the end), ending what the script
//! left behind once it exits (unless `-k`), and the figures the record
//! needs (CPU and peak memory, see `process::memory`).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::RunProcess;
use crate::actors::process::{self, memory, CgroupUsage, Descendants, RunCgroup};

/// How often a running script's memory high-water mark is sampled when no
/// memory cgroup counts it: often at first, then less (the mark only goes
/// up, so a late sample loses only what grew since the one before).
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
const SAMPLE_SLOWLY: Duration = Duration::from_millis(250);

/// What the run's processes used, as far as it is known.
#[derive(Debug, Default)]
pub(super) struct Usage {
    /// The script's own high-water mark, sampled.
    sampled_kb: Option<i64>,
    /// The cgroup's figures, read once every process is gone.
    pub(super) cgroup: Option<CgroupUsage>,
}

impl Usage {
    fn sample(&mut self, pid: u32) {
        if let Some(kb) = memory::peak_rss_kb(pid) {
            self.sampled_kb = Some(self.sampled_kb.map_or(kb, |seen| seen.max(kb)));
        }
    }

    /// Peak memory of the run in KiB, given `wait4`'s figure.
    pub(super) fn peak_kb(&self, wait4_kb: i64) -> Option<i64> {
        let cgroup = self.cgroup.and_then(|c| c.memory_peak_kb);
        memory::peak_kb(cgroup, wait4_kb, self.sampled_kb)
    }

    /// CPU (user, system) of all the run's processes, when the cgroup knows.
    pub(super) fn cgroup_cpu(&self) -> Option<(f64, f64)> {
        let cgroup = self.cgroup?;
        Some((cgroup.cpu_user?, cgroup.cpu_system?))
    }
}

impl RunProcess {
    /// Creates the run's cgroup, when runs get one; its folder goes into
    /// the spawn request. Failing that, the run is tracked by its group.
    pub(super) fn prepare_cgroup(&mut self) -> Option<std::path::PathBuf> {
        let resources = self.start.run.spec.resources;
        let run = self.start.run.id;
        let Some(base) = self.start.shared.tracking.base() else {
            if resources.has_limits() {
                tracing::warn!(%run, "limits -M/-W/-P are not enforced: runs have no cgroup here");
            }
            return None;
        };
        match RunCgroup::create(base, &run.to_string(), &resources) {
            Ok((cgroup, unenforced)) => {
                for limit in unenforced {
                    tracing::warn!(%run, "limit not enforced: {limit}");
                }
                let dir = cgroup.dir().to_owned();
                self.cgroup = Some(Arc::new(cgroup));
                Some(dir)
            }
            Err(err) => {
                tracing::error!(%run, error = %err, "cannot create the run's cgroup; tracking it by process group");
                None
            }
        }
    }

    /// The spawn failed: the cgroup goes.
    pub(super) fn drop_cgroup(&mut self) {
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.remove();
        }
    }

    /// The process exists: its processes are tracked and measured.
    pub(super) fn track(&mut self, pid: u32, ctx: &mut Context<Self>) {
        self.descendants = Some(match &self.cgroup {
            Some(cgroup) => Descendants::Cgroup(cgroup.clone()),
            None => Descendants::Group(pid),
        });
        // No sample now: the script has only just exec'd, and a few KiB
        // would pass for its peak. A script gone before the first sample
        // has no known peak (null) rather than a wrong one.
        if self.cgroup_counts_memory() {
            return;
        }
        self.sample_later(pid, std::time::Instant::now(), ctx);
    }

    /// Samples after 5, 10, 20 and 40 ms (most scripts are short), then
    /// every [`SAMPLE_EVERY`] in the script's first second, then every
    /// [`SAMPLE_SLOWLY`], until it exits.
    fn sample_later(&mut self, pid: u32, since: std::time::Instant, ctx: &mut Context<Self>) {
        let age = since.elapsed();
        let every = if age < SAMPLE_EVERY {
            (age.max(Duration::from_millis(5))).min(SAMPLE_EVERY - age)
        } else if age < Duration::from_secs(1) {
            SAMPLE_EVERY
        } else {
            SAMPLE_SLOWLY
        };
        ctx.run_later(every, move |act, ctx| {
            if act.running() {
                act.usage.sample(pid);
                act.sample_later(pid, since, ctx);
            }
        });
    }

    fn cgroup_counts_memory(&self) -> bool {
        self.cgroup.is_some()
            && self
                .start
                .shared
                .tracking
                .base()
                .is_some_and(|base| base.controllers.memory)
    }

    /// The script exited: unless it keeps its children (`-k`, and no stop
    /// was asked), what it left is ended; then its cgroup is read and
    /// removed, and the output is drained. A cgroup already empty (most
    /// runs) is read and removed at once, with no look at `cgroup.events`.
    pub(super) fn end_leftovers(&mut self, ctx: &mut Context<Self>) {
        let keep = self.start.run.spec.resources.keep_children && self.stop.is_none();
        let descendants = self.descendants.clone();
        let cgroup = self.cgroup.clone();
        let kept = self.start.shared.tracking.base().map(|b| b.kept_dir());
        let grace = self.start.shared.config.kill_grace;
        let run = self.start.run.id;
        let work = async move {
            if let Some(usage) = cgroup.as_ref().and_then(|cgroup| cgroup.close_if_empty()) {
                return Some(usage);
            }
            match (&descendants, keep) {
                (Some(descendants), false) if descendants.end(grace).await => {
                    tracing::info!(%run, "ended the processes the script left behind");
                }
                (Some(Descendants::Cgroup(cgroup)), true) => {
                    if let (true, Some(kept)) = (cgroup.populated(), kept) {
                        if let Err(err) = cgroup.move_all(&kept) {
                            tracing::warn!(%run, error = %err, "cannot move kept children out of the run's cgroup");
                        }
                    }
                }
                _ => {}
            }
            cgroup.map(|cgroup| {
                let usage = cgroup.usage();
                if let Err(err) = cgroup.remove() {
                    tracing::warn!(%run, error = %err, "cannot remove the run's cgroup");
                }
                usage
            })
        };
        ctx.spawn(work.into_actor(self).map(|usage, act, ctx| {
            act.usage.cgroup = usage;
            act.leftovers_done = true;
            if let Some(drain) = act.drain.take() {
                let _ = drain.send(());
            }
            act.maybe_finish(ctx);
        }));
    }

    /// Signals every process of the run.
    pub(super) fn signal_all(&self, signal: nix::sys::signal::Signal) {
        match &self.descendants {
            Some(descendants) => descendants.signal(signal),
            None => {
                if let Some(pid) = self.phase.pid() {
                    let _ = process::signal_group(pid, signal);
                }
            }
        }
    }
}
