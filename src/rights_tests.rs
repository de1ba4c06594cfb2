//! The rule table, one row per (key, action): what API.md promises.

use super::*;
use crate::accounts::User;
use crate::ids::{GuestId, UserId};

fn name(text: &str) -> ScriptName {
    ScriptName::parse(text).expect("script name")
}

fn user(guests: bool) -> Principal {
    Principal::User(User {
        id: UserId(1),
        name: "ann".into(),
        guests,
        created: 0,
    })
}

fn guest(script: &str, rights: GuestRights) -> Principal {
    Principal::Guest(Guest {
        id: GuestId::new(),
        user: UserId(1),
        script: name(script),
        rights,
        created: 0,
        expires: i64::MAX,
    })
}

const ALL: GuestRights = GuestRights {
    run: true,
    cancel: true,
    status: true,
    monitor: true,
};
const NONE: GuestRights = GuestRights {
    run: false,
    cancel: false,
    status: false,
    monitor: false,
};

fn only(right: &str) -> GuestRights {
    GuestRights {
        run: right == "run",
        cancel: right == "cancel",
        status: right == "status",
        monitor: right == "monitor",
    }
}

#[test]
fn a_users_own_key_may_do_everything_but_manage_guests_without_the_flag() {
    let (backup, other) = (name("backup"), name("other"));
    let actions = [
        Action::Run(&backup),
        Action::Cancel,
        Action::Status,
        Action::History(None),
        Action::History(Some(&other)),
        Action::Monitor(None),
        Action::Monitor(Some(&other)),
        Action::UseRun(&other),
        Action::ReadLog,
        Action::ReadEvents,
        Action::ReadMetrics,
    ];
    for action in actions {
        assert_eq!(check(&user(false), action), Ok(()), "{action:?}");
        assert_eq!(check(&user(true), action), Ok(()), "{action:?}");
    }
    assert_eq!(
        check(&user(false), Action::ManageGuests),
        Err(Denial::NotManager)
    );
    assert_eq!(check(&user(true), Action::ManageGuests), Ok(()));
}

#[test]
fn a_guest_key_uses_its_rights_on_its_one_script_in_the_wire_order() {
    let (backup, other) = (name("backup"), name("other"));
    let mine = || Err(Denial::OtherScript(backup.clone()));
    let lacks = |right| Err(Denial::MissingRight(right));
    let cases: Vec<(&str, GuestRights, Action, Result<(), Denial>)> = vec![
        ("run own script", only("run"), Action::Run(&backup), Ok(())),
        (
            "run without the right",
            NONE,
            Action::Run(&backup),
            lacks("run"),
        ),
        ("run another script", ALL, Action::Run(&other), mine()),
        // The script is named before the right, as scriptd always did.
        (
            "run another script without the right",
            NONE,
            Action::Run(&other),
            mine(),
        ),
        ("cancel", only("cancel"), Action::Cancel, Ok(())),
        (
            "cancel without the right",
            ALL_BUT_CANCEL,
            Action::Cancel,
            lacks("cancel"),
        ),
        ("status", only("status"), Action::Status, Ok(())),
        (
            "status without the right",
            only("run"),
            Action::Status,
            lacks("status"),
        ),
        (
            "history of every script",
            only("status"),
            Action::History(None),
            Ok(()),
        ),
        (
            "history of own script",
            only("status"),
            Action::History(Some(&backup)),
            Ok(()),
        ),
        (
            "history of another script",
            only("status"),
            Action::History(Some(&other)),
            mine(),
        ),
        // The right is named before the script here.
        (
            "history without the right",
            NONE,
            Action::History(Some(&other)),
            lacks("status"),
        ),
        (
            "monitor own script",
            only("monitor"),
            Action::Monitor(Some(&backup)),
            Ok(()),
        ),
        (
            "monitor every script",
            only("monitor"),
            Action::Monitor(None),
            mine(),
        ),
        (
            "monitor another script",
            only("monitor"),
            Action::Monitor(Some(&other)),
            mine(),
        ),
        (
            "monitor without the right",
            NONE,
            Action::Monitor(Some(&other)),
            lacks("monitor"),
        ),
        ("a run of own script", NONE, Action::UseRun(&backup), Ok(())),
        (
            "a run of another script",
            ALL,
            Action::UseRun(&other),
            mine(),
        ),
        ("log", ALL, Action::ReadLog, Err(Denial::OwnerOnly)),
        ("events", ALL, Action::ReadEvents, Err(Denial::OwnerOnly)),
        ("guests", ALL, Action::ManageGuests, Err(Denial::OwnerOnly)),
        ("metrics", ALL, Action::ReadMetrics, Err(Denial::OwnerOnly)),
    ];
    for (what, rights, action, expected) in cases {
        assert_eq!(check(&guest("backup", rights), action), expected, "{what}");
    }
}

const ALL_BUT_CANCEL: GuestRights = GuestRights {
    cancel: false,
    ..ALL
};

#[test]
fn only_owners_see_what_a_run_was_started_with() {
    assert_eq!(View::of(&user(false)), View::Owner);
    assert!(View::of(&user(false)).is_owner());
    assert_eq!(View::of(&guest("backup", ALL)), View::Guest);
    assert!(!View::of_guest(guest("backup", ALL).guest()).is_owner());
}

#[test]
fn a_guest_sees_the_runs_of_its_own_script_only() {
    let key = guest("backup", NONE);
    assert!(sees_script(&key, "backup"));
    assert!(!sees_script(&key, "other"));
    assert!(sees_script(&user(false), "other"));
}

#[test]
fn denials_name_what_is_missing() {
    for (denial, text) in [
        (
            Denial::MissingRight("cancel"),
            "this guest key lacks the 'cancel' right",
        ),
        (
            Denial::OtherScript(name("backup")),
            "this guest key is for script 'backup' only",
        ),
        (
            Denial::OwnerOnly,
            "only the owner's key may do this, not a guest key",
        ),
    ] {
        assert_eq!(denial.to_string(), text);
    }
}

fn person(role: crate::accounts::Role, globs: &[&str]) -> Principal {
    use crate::accounts::{Person, PersonRef, Reach, ScriptFilter};
    let scripts = match globs {
        [] => ScriptFilter::All,
        some => ScriptFilter::Globs(some.iter().map(|g| g.to_string()).collect()),
    };
    let Principal::User(account) = user(false) else {
        unreachable!("user() makes a user")
    };
    Principal::Person(Person {
        user: account,
        who: PersonRef {
            sub: "s1".into(),
            display: "vera@example.test".into(),
        },
        grants: vec![Reach { role, scripts }],
        session: "sess".into(),
    })
}

#[test]
fn a_persons_role_decides_what_they_may_do_in_the_account() {
    use crate::accounts::Role::{Operator, Owner, Viewer};
    let backup = name("backup");
    let below = |has, needs| Err(Denial::RoleBelow { has, needs });
    let cases: Vec<(&str, crate::accounts::Role, Action, Result<(), Denial>)> = vec![
        ("a viewer reads status", Viewer, Action::Status, Ok(())),
        ("a viewer reads a log", Viewer, Action::ReadLog, Ok(())),
        ("a viewer monitors", Viewer, Action::Monitor(None), Ok(())),
        (
            "a viewer reads history",
            Viewer,
            Action::History(None),
            Ok(()),
        ),
        (
            "a viewer may not run",
            Viewer,
            Action::Run(&backup),
            below(Viewer, Operator),
        ),
        (
            "a viewer may not cancel",
            Viewer,
            Action::Cancel,
            below(Viewer, Operator),
        ),
        (
            "a viewer may not pause",
            Viewer,
            Action::PauseSchedule(&backup),
            below(Viewer, Operator),
        ),
        ("an operator runs", Operator, Action::Run(&backup), Ok(())),
        ("an operator cancels", Operator, Action::Cancel, Ok(())),
        (
            "an operator pauses",
            Operator,
            Action::PauseSchedule(&backup),
            Ok(()),
        ),
        (
            "an operator may not manage guests",
            Operator,
            Action::ManageGuests,
            below(Operator, Owner),
        ),
        (
            "an owner manages guests",
            Owner,
            Action::ManageGuests,
            Ok(()),
        ),
        ("an owner reads metrics", Owner, Action::ReadMetrics, Ok(())),
    ];
    for (what, role, action, expected) in cases {
        assert_eq!(check(&person(role, &[]), action), expected, "{what}");
    }
}

#[test]
fn a_persons_script_filter_holds_everywhere() {
    use crate::accounts::Role::Owner;
    let (backup, deploy) = (name("backup"), name("deploy-web"));
    let key = person(Owner, &["backup"]);
    let outside = || Err(Denial::OutsideGrants(deploy.clone()));
    assert_eq!(check(&key, Action::Run(&backup)), Ok(()));
    assert_eq!(check(&key, Action::Run(&deploy)), outside());
    assert_eq!(check(&key, Action::UseRun(&deploy)), outside());
    assert_eq!(check(&key, Action::History(Some(&deploy))), outside());
    assert_eq!(check(&key, Action::Monitor(Some(&deploy))), outside());
    assert_eq!(check(&key, Action::PauseSchedule(&deploy)), outside());
    assert_eq!(check(&key, Action::ReadEvents), Err(Denial::EveryScript));
    assert!(sees_script(&key, "backup"));
    assert!(!sees_script(&key, "deploy-web"));
    let globbed = person(Owner, &["deploy-*"]);
    assert_eq!(check(&globbed, Action::Run(&deploy)), Ok(()));
    assert_eq!(
        View::of(&key),
        View::Owner,
        "a person sees the audit fields"
    );
}

#[test]
fn a_person_with_several_grants_may_do_what_any_one_allows() {
    use crate::accounts::Role::{Operator, Viewer};
    use crate::accounts::{Reach, ScriptFilter};
    let Principal::Person(mut both) = person(Viewer, &[]) else {
        unreachable!("person() makes a person")
    };
    both.grants.push(Reach {
        role: Operator,
        scripts: ScriptFilter::Globs(vec!["backup".into()]),
    });
    let both = Principal::Person(both);
    let (backup, deploy) = (name("backup"), name("deploy"));
    assert_eq!(check(&both, Action::Run(&backup)), Ok(()));
    assert_eq!(
        check(&both, Action::Run(&deploy)),
        Err(Denial::RoleBelow {
            has: Viewer,
            needs: Operator
        })
    );
    assert_eq!(check(&both, Action::History(Some(&deploy))), Ok(()));
    assert!(sees_script(&both, "deploy"));
}
