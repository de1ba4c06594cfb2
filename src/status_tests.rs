//! The shapes filled here and the other wire types serialise as the
//! sorted maps they replaced did (same members, same order), and read back
//! as the shape they are.

use serde::Serialize;
use serde_json::{json, Value};

use crate::events::types::{Outcome, ProgressSnapshot, RunRecord, TaskSpan as RecordTask};
use crate::ids::{GuestId, RunId, ScriptName};
use crate::wire::*;

/// The text of `reply`, and the same text with its members sorted (what a
/// `serde_json::Map` made of it prints).
fn texts(reply: &impl Serialize) -> (String, String) {
    let text = serde_json::to_string(reply).expect("serialises");
    let sorted = serde_json::to_value(reply).expect("a value").to_string();
    (text, sorted)
}

fn name() -> ScriptName {
    ScriptName::parse("backup").expect("a name")
}

fn record() -> RunRecord {
    RunRecord {
        name: name(),
        queued: 10,
        started: Some(11.5),
        finished: 12.25,
        params: vec!["a".into()],
        opts: serde_json::Map::new(),
        first: "one".into(),
        last: "two".into(),
        tasks: vec![RecordTask {
            task: "T".into(),
            start: 11.5,
            end: 12.0,
        }],
        removelog: false,
        outcome: Outcome::Failed,
        exit_code: Some(3),
        signal: None,
        duration: Some(0.75),
        cpu_user: None,
        cpu_system: None,
        max_rss_kb: Some(100),
        error: None,
        log_error: None,
        run_user: None,
        run_group: None,
        tick: None,
        attempts: Vec::new(),
    }
}

#[test]
fn every_shape_keeps_its_members_in_sorted_order() {
    let id = RunId::new();
    let progress = ProgressSnapshot {
        task: Some("T".into()),
        ..ProgressSnapshot::default()
    };
    let mut history_row = crate::status::finished(id, &record(), true);
    history_row.success = None;
    history_row.requested_by = Some("user:1".into());
    let cases: Vec<(&str, (String, String))> = vec![
        (
            "queued",
            texts(&crate::status::queued(id, &name(), 5, 2, None)),
        ),
        (
            "running",
            texts(&crate::status::running(
                id,
                &name(),
                1.5,
                &progress,
                None,
                Default::default(),
            )),
        ),
        (
            "a schedule's queued run",
            texts(&crate::status::queued(id, &name(), 5, 2, Some(60))),
        ),
        (
            "a schedule's running run",
            texts(&crate::status::running(
                id,
                &name(),
                1.5,
                &progress,
                Some(60),
                Default::default(),
            )),
        ),
        (
            "finished",
            texts(&crate::status::finished(id, &record(), true)),
        ),
        ("history row", texts(&history_row)),
        (
            "status list",
            texts(&StatusList {
                queued: [("b".to_owned(), IdsOrCount::Count(2))].into(),
                running: [("a".to_owned(), IdsOrCount::Ids(vec![id]))].into(),
                success: Success,
            }),
        ),
        (
            "guest created",
            texts(&GuestCreateReply {
                id: GuestId::new(),
                info: GuestInfo {
                    apikey: Some("k".into()),
                    created: 1,
                    expires: 2,
                    id: GuestId::new(),
                    info: GuestScope {
                        cancel: true,
                        monitor: false,
                        name: "backup".into(),
                        run: true,
                        status: false,
                    },
                },
                success: Success,
            }),
        ),
        (
            "error",
            texts(&ErrorReply {
                error: "e".into(),
                errorcode: "c".into(),
                success: Failure,
            }),
        ),
        (
            "monitor reply over the socket",
            texts(&WsReply {
                api_sequence: Some(3),
                body: MonitorReply {
                    enabled: true,
                    name: String::new(),
                    success: Success,
                },
            }),
        ),
    ];
    for (what, (text, sorted)) in cases {
        assert_eq!(text, sorted, "{what}");
    }
}

#[test]
fn the_shapes_carry_the_wire_values() {
    let id = RunId::new();
    let running = crate::status::running(
        id,
        &name(),
        1.5,
        &ProgressSnapshot::default(),
        None,
        Default::default(),
    );
    let value = serde_json::to_value(&running).expect("a value");
    assert_eq!(value["task"], json!(false), "no task yet is false");
    assert_eq!(
        value["taskstart"],
        json!(1.5),
        "the task starts with the run"
    );
    assert_eq!(value["state"], "running");
    let done = crate::status::finished(id, &record(), false);
    let value = serde_json::to_value(&done).expect("a value");
    assert_eq!(value.get("args"), None, "no args for guests");
    assert_eq!(value["first"], "", "tasks hide first and last");
    assert_eq!(value["signal"], Value::Null, "absent numbers are null");
    assert_eq!(value["outcome"], "failed");
    assert_eq!(value["state"], "done");
    assert_eq!(value["success"], true);
}

#[test]
fn a_status_reads_back_as_its_own_shape() {
    let id = RunId::new();
    let cases = [
        (
            "queued",
            RunStatus::Queued(crate::status::queued(id, &name(), 5, 0, Some(60))),
        ),
        (
            "running",
            RunStatus::Running(crate::status::running(
                id,
                &name(),
                1.0,
                &ProgressSnapshot::default(),
                Some(60),
                Default::default(),
            )),
        ),
        (
            "done",
            RunStatus::Done(Box::new(crate::status::finished(id, &record(), true))),
        ),
    ];
    for (state, status) in cases {
        let text = serde_json::to_string(&status).expect("serialises");
        let back: RunStatus = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back.state(), state);
        assert_eq!(back, status, "{state}");
    }
}

#[test]
fn a_schedules_run_says_so_in_every_shape_and_a_request_does_not() {
    let id = RunId::new();
    let progress = ProgressSnapshot::default();
    let mut scheduled = record();
    scheduled.tick = Some(60);
    let cases = [
        (
            "queued",
            serde_json::to_value(crate::status::queued(id, &name(), 5, 0, Some(60))),
            serde_json::to_value(crate::status::queued(id, &name(), 5, 0, None)),
        ),
        (
            "running",
            serde_json::to_value(crate::status::running(
                id,
                &name(),
                1.0,
                &progress,
                Some(60),
                Default::default(),
            )),
            serde_json::to_value(crate::status::running(
                id,
                &name(),
                1.0,
                &progress,
                None,
                Default::default(),
            )),
        ),
        (
            "done",
            serde_json::to_value(crate::status::finished(id, &scheduled, false)),
            serde_json::to_value(crate::status::finished(id, &record(), false)),
        ),
    ];
    for (what, by_schedule, by_request) in cases {
        let (by_schedule, by_request) = (by_schedule.expect(what), by_request.expect(what));
        assert_eq!(by_schedule["requested_by"], "schedule", "{what}");
        assert_eq!(by_schedule["tick"], 60, "{what}");
        assert_eq!(by_request.get("requested_by"), None, "{what}");
        assert_eq!(by_request.get("tick"), None, "{what}");
    }
}
