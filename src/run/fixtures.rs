//! Test fixtures of the run domain: one run's request and its events,
//! built the way the queue and the run actor build them.

use std::sync::Arc;

use crate::events::types::{Origin, Outcome, ProgressSnapshot, RunRecord, RunSpec};
use crate::events::Event;
use crate::ids::{GuestId, RunId, ScriptName};
use crate::run::{record, Admission, PendingRun, Process, Started};

pub const STARTED: f64 = 1_900_000_010.0;
pub const NOW: f64 = 1_900_000_020.0;

/// The script of every fixture run.
pub fn name() -> ScriptName {
    ScriptName::parse("backup").expect("name")
}

fn request(forget: bool) -> PendingRun {
    let mut opts = serde_json::Map::new();
    opts.insert("simultaneous".into(), "2".into());
    PendingRun {
        id: RunId::new(),
        queued: 1_900_000_000,
        requested: 1_899_999_999.5,
        params: vec!["a b".into(), "c".into()],
        spec: RunSpec {
            command: vec!["/bin/echo".into(), "a b".into()],
            env: vec![("K".into(), "%HOME%".into())],
            timeout_secs: Some(5),
            forget,
            opts: Arc::new(opts),
            ..RunSpec::default()
        },
        stdin_len: 3,
        origin: Origin {
            addr: Some("127.0.0.1".into()),
            ..Origin::default()
        },
        admission: Admission::Accepted,
        attempts: Vec::new(),
    }
}

/// A request made with a guest key.
pub fn by_guest() -> Origin {
    Origin {
        guest: Some(GuestId::new()),
        addr: Some("10.0.0.2".into()),
        ..Origin::default()
    }
}

/// The events of one run, built the way the queue and run actor build them.
pub struct Run {
    pub run: PendingRun,
}

impl Run {
    pub fn new() -> Self {
        Run {
            run: request(false),
        }
    }

    pub fn forgetting() -> Self {
        Run { run: request(true) }
    }

    pub fn queued(&self) -> Event {
        self.run.queued_event(&name(), 0)
    }

    pub fn started(&self) -> Event {
        Event::RunStarted {
            run: self.run.id,
            name: name(),
            started: STARTED,
            node: None,
            attempt: None,
            max_attempts: None,
            tick: None,
        }
    }

    pub fn spawned(&self) -> Event {
        Event::RunSpawned {
            run: self.run.id,
            name: name(),
            pgid: 4242,
            boot: "boot-1".into(),
            keep_stdin: false,
        }
    }

    pub fn progress(&self, tasknum: u32) -> Event {
        Event::RunProgress {
            run: self.run.id,
            name: name(),
            started: STARTED,
            progress: self.snapshot(tasknum),
            tick: None,
        }
    }

    pub fn snapshot(&self, tasknum: u32) -> ProgressSnapshot {
        ProgressSnapshot {
            task: Some("copy".into()),
            tasknum,
            maxtasks: 3,
            taskstart: Some(STARTED),
            ..ProgressSnapshot::default()
        }
    }

    pub fn kill(&self, origin: &Origin) -> Event {
        Event::RunKillRequested {
            run: self.run.id,
            name: name(),
            origin: origin.clone(),
        }
    }

    pub fn record(&self, outcome: Outcome) -> RunRecord {
        record::base(&name(), &self.run, Some(STARTED), NOW, outcome)
    }

    pub fn finished(&self, outcome: Outcome) -> Event {
        Event::RunFinished {
            run: self.run.id,
            record: self.record(outcome),
        }
    }

    pub fn cancelled(&self, origin: &Origin) -> Vec<Event> {
        let record = record::cancelled(&name(), &self.run, NOW);
        record::final_events(self.run.id, record, |run, record| Event::RunCancelled {
            run,
            record,
            origin: origin.clone(),
        })
    }

    pub fn started_run(&self, tasknum: Option<u32>) -> Started {
        Started {
            name: name(),
            run: self.run.clone(),
            started: STARTED,
            progress: tasknum.map(|n| self.snapshot(n)).unwrap_or_default(),
        }
    }

    pub fn process(&self) -> Process {
        Process {
            pgid: 4242,
            boot: "boot-1".into(),
        }
    }
}
