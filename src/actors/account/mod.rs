//! AccountSupervisor: one per user. Reads the user's exectab on every run
//! request (edits apply at once), checks a run request against it and owns
//! the ScriptQueue of each script name; the queues report back through the
//! `queue::Outlet` it hands them (`supervision.rs` rebuilds a failed one).

mod enqueue;
mod fence;
mod observe;
mod quota;
mod removal;
mod supervision;
mod tick;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix::prelude::*;
use serde_json::{Map, Value};

pub use observe::Observed;
pub use removal::EndAllRuns;
pub use tick::{EnqueueTicks, Tick, TickResults};

use super::error::RunError;
use super::queue::{self, Restored, ScriptQueue};
use super::run::RunProcess;
use super::Shared;
use crate::events::types::{Origin, RunSpec};
use crate::exectab::{long_opt_name, substitute, Exectab, OptValue, ScriptDef};
use crate::ids::{RunId, ScriptName, UserId};
use crate::rights::Denial;
use crate::run::{Limits, PendingRun};

/// The account actor of one user.
pub struct AccountSupervisor {
    user: UserId,
    shared: Shared,
    exectab: (Option<Vec<u8>>, Exectab),
    /// The exectab's skipped lines: number, why, and the line's words.
    skipped: Vec<(usize, String, Vec<String>)>,
    queues: HashMap<ScriptName, Addr<ScriptQueue>>,
    /// Each script's `args.opts`, built once per exectab version and shared
    /// by all its queued runs (a map per run was a third of their memory).
    opts: HashMap<String, Arc<Map<String, Value>>>,
    /// Live run process actors, so a rebuilt queue can take them over.
    processes: HashMap<RunId, (ScriptName, Addr<RunProcess>)>,
    /// Queued-run quota reservations in flight.
    quota: quota::Quota,
}

impl AccountSupervisor {
    /// A supervisor with no queues yet.
    pub fn new(user: UserId, shared: Shared) -> Self {
        AccountSupervisor {
            user,
            shared,
            exectab: (None, Exectab::default()),
            skipped: Vec::new(),
            queues: HashMap::new(),
            processes: HashMap::new(),
            opts: HashMap::new(),
            quota: quota::Quota::default(),
        }
    }

    /// The exectab as it is on disk now. Reading a small file per request
    /// is cheaper than any change detection that could miss an edit; it is
    /// re-parsed only when its bytes changed. A missing file is an empty
    /// exectab; any other read failure (out of descriptors or memory) is
    /// `Unavailable`, never "no such script".
    fn exectab(&mut self) -> Result<&Exectab, RunError> {
        let path = self
            .shared
            .config
            .scripts_dir(self.user)
            .join("exectab.txt");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                tracing::error!(file = %path.display(), error = %err, "cannot read the exectab");
                return Err(RunError::Unavailable);
            }
        };
        if bytes != self.exectab.0 {
            let text = bytes
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let (parsed, warnings) = Exectab::parse(&text);
            let lines: Vec<&str> = text.lines().collect();
            self.skipped.clear();
            for warning in warnings {
                tracing::warn!(file = %path.display(), line = warning.line, "{}", warning.message);
                let words = lines
                    .get(warning.line.wrapping_sub(1))
                    .copied()
                    .unwrap_or("");
                let words = words.split_whitespace().map(str::to_owned).collect();
                self.skipped.push((warning.line, warning.message, words));
            }
            self.exectab = (bytes, parsed);
            self.opts.clear();
        }
        Ok(&self.exectab.1)
    }

    /// Why `name` is unknown: a skipped line that names it, if any, so the
    /// client learns more than "not found".
    fn unknown_script(&self, name: &str) -> RunError {
        self.skipped
            .iter()
            .find(|(_, _, words)| words.iter().any(|w| w == name))
            .map_or(RunError::UnknownScript, |(line, why, _)| {
                RunError::SkippedScript {
                    line: *line,
                    why: why
                        .trim_start_matches("malformed line skipped: ")
                        .to_owned(),
                }
            })
    }

    /// The limits of a script now. A script removed from the exectab since
    /// its runs were accepted still runs them, one at a time.
    fn limits_of(&mut self, name: &ScriptName) -> Limits {
        // When the exectab cannot be read now, the definition last read stands.
        let _ = self.exectab();
        self.exectab
            .1
            .get(name.as_str())
            .map(limits)
            .unwrap_or(Limits {
                simultaneous: 1,
                max_queued: None,
            })
    }

    fn queue(
        &mut self,
        name: &ScriptName,
        limits: Limits,
        ctx: &Context<Self>,
    ) -> Addr<ScriptQueue> {
        if let Some(queue) = self.queues.get(name) {
            return queue.clone();
        }
        let queue = self.launch(name.clone(), limits, Restored::default(), ctx);
        self.queues.insert(name.clone(), queue.clone());
        queue
    }

    /// Starts the queue of `name` with `restored` runs; it reports here.
    fn launch(
        &self,
        name: ScriptName,
        limits: Limits,
        restored: Restored,
        ctx: &Context<Self>,
    ) -> Addr<ScriptQueue> {
        let outlet = queue::Outlet::of(&ctx.address());
        // On PostgreSQL a node starts only the scripts its own exectab
        // defines; a queue of another node's script mirrors its runs
        // (status, cancel, kill) and starts none. SQLite's one node still
        // runs the accepted runs of a script removed since.
        let starts =
            !self.shared.config.on_postgres() || self.exectab.1.get(name.as_str()).is_some();
        ScriptQueue::launch(
            self.user,
            name,
            self.shared.clone(),
            limits,
            restored,
            outlet,
            starts,
        )
    }
}

fn limits(def: &ScriptDef) -> Limits {
    Limits {
        simultaneous: def.simultaneous.max(1),
        max_queued: def.max_queued,
    }
}

/// The `args.opts` object, keyed by the original's long option names.
fn opts(def: &ScriptDef) -> Map<String, Value> {
    def.opts()
        .into_iter()
        .map(|(short, value)| {
            let key = long_opt_name(&short).unwrap_or(&short).to_owned();
            let value = match value {
                OptValue::Flag => Value::Bool(true),
                OptValue::Value(v) => Value::String(v),
                OptValue::List(items) => {
                    Value::Array(items.into_iter().map(Value::String).collect())
                }
            };
            (key, value)
        })
        .collect()
}

fn spec(def: &ScriptDef, params: &[String], opts: Arc<Map<String, Value>>) -> RunSpec {
    RunSpec {
        command: def.command.iter().map(|t| substitute(t, params)).collect(),
        dir: def.dir.clone(),
        env: def.env.clone(),
        user: def.user.clone(),
        group: def.group.clone(),
        timeout_secs: def.timeout_secs,
        noexec: def.noexec,
        forget: def.forget,
        resources: def.resources,
        retry: def.retry(),
        opts,
    }
}

impl Actor for AccountSupervisor {
    type Context = Context<Self>;
}

/// A run request with its fields parsed; field errors are kept so they are
/// reported in the order of the wire contract, after the name check.
pub struct RunRequest {
    pub name: ScriptName,
    pub args: Result<Vec<String>, RunError>,
    pub stdin: Result<Option<Vec<u8>>, RunError>,
    pub not_before: Result<Option<i64>, RunError>,
    /// The key's right to run this script (`rights::check`), reported after
    /// the field errors.
    pub access: Result<(), Denial>,
    pub origin: Origin,
}

/// Queue a run of one of this user's scripts.
#[derive(Message)]
#[rtype(result = "Result<queue::Queued, RunError>")]
pub struct EnqueueRun {
    pub request: RunRequest,
}

impl Handler<EnqueueRun> for AccountSupervisor {
    type Result = ResponseActFuture<Self, Result<queue::Queued, RunError>>;

    fn handle(&mut self, msg: EnqueueRun, ctx: &mut Context<Self>) -> Self::Result {
        let req = msg.request;
        let stdin_cap = self.shared.config.stdin_cap_bytes;
        let args_cap = self.shared.config.limits.args_cap_bytes;
        let checked = (|| {
            let def = self.exectab()?.get(req.name.as_str()).cloned();
            let def = def.ok_or_else(|| self.unknown_script(req.name.as_str()))?;
            let params = req.args?;
            if quota::args_bytes(&params) > args_cap {
                return Err(RunError::ArgsTooLarge);
            }
            let stdin = req.stdin?;
            let not_before = req.not_before?;
            req.access.map_err(RunError::AccessDenied)?;
            let stdin = stdin.filter(|s| !s.is_empty());
            if stdin.is_some() && !def.stdin {
                return Err(RunError::StdinNotAllowed);
            }
            if let Some(len) = stdin.as_ref().map(Vec::len).filter(|l| *l > stdin_cap) {
                return Err(RunError::StdinTooLarge {
                    len,
                    limit: stdin_cap,
                });
            }
            Ok((def, params, stdin, not_before.unwrap_or(0)))
        })();
        let (def, params, stdin, not_before) = match checked {
            Ok(checked) => checked,
            Err(err) => return Box::pin(fut::ready(Err(err))),
        };
        let bytes = (quota::args_bytes(&params) + stdin.as_ref().map_or(0, Vec::len)) as u64;
        let checked = enqueue::Checked {
            name: req.name,
            def,
            params,
            stdin,
            not_before,
            origin: req.origin,
            bytes,
            missed: None,
        };
        self.enqueue_counted(checked, ctx)
    }
}

/// The queue of a script name: the one that exists, or on PostgreSQL a
/// new one (see the handler).
#[derive(Message)]
#[rtype(result = "Option<Addr<ScriptQueue>>")]
pub struct GetQueue {
    pub name: ScriptName,
}

impl Handler<GetQueue> for AccountSupervisor {
    type Result = Option<Addr<ScriptQueue>>;

    fn handle(&mut self, msg: GetQueue, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(queue) = self.queues.get(&msg.name) {
            return Some(queue.clone());
        }
        // On a cluster a run of this script may live on another node
        // while none of its events came by here (this node has just
        // started): a queue made now mirrors it, and the database
        // decides what it answers for.
        if !self.shared.config.on_postgres() {
            return None;
        }
        let limits = self.limits_of(&msg.name);
        Some(self.queue(&msg.name, limits, ctx))
    }
}

/// Queued and running run ids per script name.
#[derive(Message)]
#[rtype(result = "BTreeMap<ScriptName, (Vec<RunId>, Vec<RunId>)>")]
pub struct ListRuns;

impl Handler<ListRuns> for AccountSupervisor {
    type Result = ResponseFuture<BTreeMap<ScriptName, (Vec<RunId>, Vec<RunId>)>>;

    fn handle(&mut self, _msg: ListRuns, _ctx: &mut Context<Self>) -> Self::Result {
        let queues: Vec<_> = self
            .queues
            .iter()
            .map(|(n, q)| (n.clone(), q.clone()))
            .collect();
        Box::pin(async move {
            let mut out = BTreeMap::new();
            for (name, queue) in queues {
                if let Ok((queued, running)) = queue.send(queue::ListRuns).await {
                    if !queued.is_empty() || !running.is_empty() {
                        out.insert(name, (queued, running));
                    }
                }
            }
            out
        })
    }
}

/// The script definitions of this user's exectab now.
#[derive(Message)]
#[rtype(result = "Result<Vec<ScriptDef>, RunError>")]
pub struct ListScripts;

impl Handler<ListScripts> for AccountSupervisor {
    type Result = Result<Vec<ScriptDef>, RunError>;

    fn handle(&mut self, _msg: ListScripts, _ctx: &mut Context<Self>) -> Self::Result {
        Ok(self.exectab()?.scripts().cloned().collect())
    }
}

/// Runs recovered from the event log at startup, per script name.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Restore {
    pub runs: BTreeMap<ScriptName, Vec<PendingRun>>,
}

impl Handler<Restore> for AccountSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Restore, ctx: &mut Context<Self>) {
        for (name, runs) in msg.runs {
            let limits = self.limits_of(&name);
            let queue = self.launch(name.clone(), limits, Restored::queued(runs), ctx);
            self.queues.insert(name, queue);
        }
    }
}

/// Interrupt every queue; answered when no run of this user is running.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for AccountSupervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Context<Self>) -> Self::Result {
        let queues: Vec<_> = self.queues.values().cloned().collect();
        Box::pin(async move {
            let waits = queues.iter().map(|q| q.send(queue::Shutdown));
            futures_util::future::join_all(waits).await;
        })
    }
}
