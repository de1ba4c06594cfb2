//! Who may do what. One table answers "may this key do this to this run or
//! script": a user's own key may do everything on its account except manage
//! guests without the `--guests` flag; a guest key may use the rights it was
//! given (`run`, `cancel`, `status`, `monitor`) on its one script, and never
//! the owner-only endpoints (log, events, guests, metrics); a person
//! signed in through OpenID Connect acts in one account with a role
//! (viewer, operator, owner) on the scripts their grants reach.
//!
//! The order of the checks within one action is part of the wire contract
//! (API.md: which `access_denied` message comes first). Where a check sits
//! among the field checks of a request is decided by the caller: the
//! dispatch (`http::api`) checks what needs only the key, the endpoints
//! check what needs a parsed name or a looked-up run. Nothing here does I/O.

use std::fmt;

use crate::accounts::{Guest, GuestRights, Person, Principal, Reach, Role, ScriptFilter};
use crate::ids::ScriptName;

/// Why a key was refused; every one is `access_denied` on the wire, and
/// the message names what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// A guest key without this right (`run`, `cancel`, `status`, `monitor`).
    MissingRight(&'static str),
    /// A guest key used on a script other than its own.
    OtherScript(ScriptName),
    /// Only the owner's key may do this, not a guest key.
    OwnerOnly,
    /// A user key that may not manage guests.
    NotManager,
    /// A signed-in person whose role is below the one this needs.
    RoleBelow { has: Role, needs: Role },
    /// A signed-in person whose grants do not reach this script.
    OutsideGrants(ScriptName),
    /// A signed-in person whose grants reach only some scripts, asking for
    /// what spans every script of the account (`GET events`).
    EveryScript,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::MissingRight(right) => {
                write!(f, "this guest key lacks the '{right}' right")
            }
            Denial::OtherScript(script) => {
                write!(f, "this guest key is for script '{script}' only")
            }
            Denial::OwnerOnly => write!(f, "only the owner's key may do this, not a guest key"),
            Denial::NotManager => write!(
                f,
                "this user may not manage guests (create it with `scriptd user add NAME --guests`)"
            ),
            Denial::RoleBelow { has, needs } => write!(
                f,
                "your role is '{}'; this needs '{}'",
                has.as_str(),
                needs.as_str()
            ),
            Denial::OutsideGrants(script) => {
                write!(f, "your grants do not reach script '{script}'")
            }
            Denial::EveryScript => {
                write!(
                    f,
                    "your grants reach only some scripts; this spans them all"
                )
            }
        }
    }
}

/// What a key asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// `POST run` of this script.
    Run(&'a ScriptName),
    /// `POST cancel/ID` or `POST kill/ID`, before the run is looked up.
    Cancel,
    /// `GET status`, `GET status/ID` or `GET runs`, before a run is looked up.
    Status,
    /// `GET history`, of one script or (`None`) of every script the key sees.
    History(Option<&'a ScriptName>),
    /// `GET monitor` of one script or (`None`) of every script.
    Monitor(Option<&'a ScriptName>),
    /// Anything on one run, once it is known to be of this script.
    UseRun(&'a ScriptName),
    /// `GET log/ID`: owner only.
    ReadLog,
    /// `GET events`: owner only.
    ReadEvents,
    /// `GET guest/*`, `POST guest/*`: users allowed to manage guests.
    ManageGuests,
    /// `GET /metrics` with a key: any user.
    ReadMetrics,
    /// `hook/*`: owner only.
    ManageHooks,
    /// `POST schedule/pause/NAME` or `resume/NAME`: not a guest.
    PauseSchedule(&'a ScriptName),
}

/// A guest right, by the name the wire and the messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    Run,
    Cancel,
    Status,
    Monitor,
}

impl Right {
    fn name(self) -> &'static str {
        match self {
            Right::Run => "run",
            Right::Cancel => "cancel",
            Right::Status => "status",
            Right::Monitor => "monitor",
        }
    }

    fn granted(self, rights: &GuestRights) -> bool {
        match self {
            Right::Run => rights.run,
            Right::Cancel => rights.cancel,
            Right::Status => rights.status,
            Right::Monitor => rights.monitor,
        }
    }
}

/// One step of a guest's rule.
#[derive(Clone, Copy)]
enum Step<'a> {
    Has(Right),
    /// The script must be the guest's own; `None` (every script) is not.
    OwnScript(Option<&'a ScriptName>),
    /// The script, when one is named, must be the guest's own.
    OwnScriptIfNamed(Option<&'a ScriptName>),
    Refuse,
}

/// The guest rule of each action: its steps, in the order they answer.
fn guest_rule(action: Action<'_>) -> Vec<Step<'_>> {
    match action {
        // The script before the right here, the other way round elsewhere:
        // the order scriptd has always answered in.
        Action::Run(name) => vec![Step::OwnScript(Some(name)), Step::Has(Right::Run)],
        Action::Cancel => vec![Step::Has(Right::Cancel)],
        Action::Status => vec![Step::Has(Right::Status)],
        Action::History(name) => vec![Step::Has(Right::Status), Step::OwnScriptIfNamed(name)],
        Action::Monitor(name) => vec![Step::Has(Right::Monitor), Step::OwnScript(name)],
        Action::UseRun(name) => vec![Step::OwnScript(Some(name))],
        Action::ReadLog
        | Action::ReadEvents
        | Action::ManageGuests
        | Action::ReadMetrics
        | Action::ManageHooks => vec![Step::Refuse],
        Action::PauseSchedule(_) => vec![Step::Refuse],
    }
}

fn guest_step(guest: &Guest, step: Step<'_>) -> Result<(), Denial> {
    let own = |name: Option<&ScriptName>| name == Some(&guest.script);
    let ok = match step {
        Step::Has(right) => right.granted(&guest.rights),
        Step::OwnScript(name) => own(name),
        Step::OwnScriptIfNamed(name) => name.is_none() || own(name),
        Step::Refuse => false,
    };
    match (ok, step) {
        (true, _) => Ok(()),
        (false, Step::Has(right)) => Err(Denial::MissingRight(right.name())),
        (false, Step::OwnScript(_) | Step::OwnScriptIfNamed(_)) => {
            Err(Denial::OtherScript(guest.script.clone()))
        }
        (false, Step::Refuse) => Err(Denial::OwnerOnly),
    }
}

/// Whether this key may do `action`; the first rule it breaks otherwise.
pub fn check(principal: &Principal, action: Action<'_>) -> Result<(), Denial> {
    match principal {
        Principal::User(user) => match action {
            Action::ManageGuests if !user.guests => Err(Denial::NotManager),
            _ => Ok(()),
        },
        Principal::Guest(guest) => guest_rule(action)
            .into_iter()
            .try_for_each(|step| guest_step(guest, step)),
        Principal::Person(person) => person_rule(person, action),
    }
}

/// A person's rule: allowed when any one of their grants allows it; else
/// the refusal of the first grant.
fn person_rule(person: &Person, action: Action<'_>) -> Result<(), Denial> {
    let mut first = None;
    for reach in &person.grants {
        match reach_rule(reach, action) {
            Ok(()) => return Ok(()),
            Err(denial) => {
                first.get_or_insert(denial);
            }
        }
    }
    Err(first.unwrap_or(Denial::EveryScript))
}

/// One grant's rule: the role an action needs, then the script it names.
fn reach_rule(reach: &Reach, action: Action<'_>) -> Result<(), Denial> {
    let (needs, script) = match action {
        Action::Run(name) => (Role::Operator, Some(name)),
        Action::Cancel => (Role::Operator, None),
        Action::PauseSchedule(name) => (Role::Operator, Some(name)),
        Action::Status | Action::ReadLog => (Role::Viewer, None),
        Action::History(name) | Action::Monitor(name) => (Role::Viewer, name),
        Action::UseRun(name) => (Role::Viewer, Some(name)),
        Action::ReadEvents => (Role::Viewer, None),
        Action::ManageGuests | Action::ManageHooks | Action::ReadMetrics => (Role::Owner, None),
    };
    if reach.role < needs {
        return Err(Denial::RoleBelow {
            has: reach.role,
            needs,
        });
    }
    if let Some(name) = script.filter(|n| !reach.scripts.allows(n.as_str())) {
        return Err(Denial::OutsideGrants(name.clone()));
    }
    // A hook may follow every script of the account, so managing them
    // needs a grant over every script, like the event log and metrics.
    let spans_all = matches!(
        action,
        Action::ReadEvents | Action::ReadMetrics | Action::ManageHooks
    );
    if spans_all && reach.scripts != ScriptFilter::All {
        return Err(Denial::EveryScript);
    }
    Ok(())
}

/// Whether the key sees the runs of `name` one by one (ids, shapes); a
/// guest sees only counts of other scripts' runs, or nothing of them.
pub fn sees_script(principal: &Principal, name: &str) -> bool {
    match principal {
        Principal::User(_) => true,
        Principal::Guest(guest) => guest.script.as_str() == name,
        Principal::Person(person) => person.visible().allows(name),
    }
}

/// How much of a run a key is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Everything: `args`, the audit fields, the scripts' command lines.
    Owner,
    /// The run's progress and outcome, never what it was started with.
    Guest,
}

impl View {
    /// The view of this key.
    pub fn of(principal: &Principal) -> View {
        View::of_guest(principal.guest())
    }

    /// The view of a key that is this guest's, or the owner's when `None`.
    pub fn of_guest(guest: Option<&Guest>) -> View {
        match guest {
            None => View::Owner,
            Some(_) => View::Guest,
        }
    }

    /// Whether this is the owner's view.
    pub fn is_owner(self) -> bool {
        self == View::Owner
    }
}

#[cfg(test)]
#[path = "rights_tests.rs"]
mod tests;
