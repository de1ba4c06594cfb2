//! The decode path: the upcaster chain on an upcaster written for the test,
//! and the golden payloads of every shipped kind and version.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::events::types::Event;
use crate::ids::{RunId, ScriptName};

/// A history that did not happen, to test the chain: `RunStarted` v1
/// stored its start as integer milliseconds in `started_ms`; v2 (today's
/// shape) has float seconds in `started`.
fn started_ms_to_seconds(value: &mut Value) -> Result<(), String> {
    let map = value.as_object_mut().ok_or("not an object")?;
    let ms = map
        .remove("started_ms")
        .and_then(|v| v.as_i64())
        .ok_or("no started_ms")?;
    map.insert("started".into(), json!(ms as f64 / 1000.0));
    Ok(())
}

const TEST_CHAIN: &[Upcaster] = &[Upcaster {
    kind: "RunStarted",
    from: 1,
    step: started_ms_to_seconds,
}];

fn run() -> RunId {
    RunId::parse("01939f2e-7b3c-7d40-8a5e-6f1c2b3a4d5e").expect("id")
}

#[test]
fn a_stored_v1_event_is_upcast_into_todays_shape() {
    let v1 = json!({"kind": "RunStarted", "run": run(), "name": "backup", "started_ms": 1_764_000_000_250_i64});
    let event: Event =
        decode_with(TEST_CHAIN, "RunStarted", 1, &v1.to_string()).expect("v1 decodes");
    assert_eq!(
        event,
        Event::RunStarted {
            run: run(),
            name: ScriptName::parse("backup").expect("name"),
            started: 1_764_000_000.25,
            node: None,
            attempt: None,
            max_attempts: None,
            tick: None,
        }
    );
    assert_eq!(current_in(TEST_CHAIN, "RunStarted"), 2);
    assert_eq!(current_in(TEST_CHAIN, "RunFinished"), 1, "other kinds stay");
}

#[test]
fn todays_version_is_read_as_it_is_and_unknown_versions_are_refused() {
    let v2 = json!({"kind": "RunStarted", "run": run(), "name": "backup", "started": 5.5});
    let event: Event = decode_with(TEST_CHAIN, "RunStarted", 2, &v2.to_string()).expect("v2");
    assert!(matches!(event, Event::RunStarted { started, .. } if started == 5.5));
    for version in [0, 3] {
        let refused = decode_with::<Event>(TEST_CHAIN, "RunStarted", version, &v2.to_string());
        assert!(refused.is_err(), "version {version}");
    }
    let broken = json!({"kind": "RunStarted", "run": run(), "name": "backup"});
    let refused = decode_with::<Event>(TEST_CHAIN, "RunStarted", 1, &broken.to_string());
    let message = format!("{:?}", refused.expect_err("the step refuses"));
    assert!(message.contains("no started_ms"), "{message}");
}

#[test]
fn a_partial_decode_reads_only_its_fields_after_the_upcast() {
    #[derive(Deserialize)]
    struct Started {
        started: f64,
    }
    let v1 = json!({"kind": "RunStarted", "run": run(), "name": "backup", "started_ms": 1500});
    let part: Started = decode_with(TEST_CHAIN, "RunStarted", 1, &v1.to_string()).expect("part");
    assert_eq!(part.started, 1.5);
}

#[test]
fn every_upcaster_names_a_kind_and_each_chain_starts_at_one_without_gaps() {
    for upcaster in UPCASTERS {
        assert!(
            Event::kinds().contains(&upcaster.kind),
            "{} is not a kind",
            upcaster.kind
        );
    }
    for kind in Event::kinds() {
        let mut froms: Vec<i64> = UPCASTERS
            .iter()
            .filter(|u| u.kind == *kind)
            .map(|u| u.from)
            .collect();
        froms.sort_unstable();
        let expected: Vec<i64> = (1..current_version(kind)).collect();
        assert_eq!(froms, expected, "{kind}");
    }
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events")
}

/// `<Kind>.v<N>.json` → (kind, N, payloads as stored).
fn golden() -> BTreeMap<(String, i64), Vec<Value>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(fixtures()).expect("tests/fixtures/events") {
        let path = entry.expect("entry").path();
        let file = path.file_name().and_then(|n| n.to_str()).expect("name");
        let Some(stem) = file.strip_suffix(".json") else {
            continue;
        };
        let (kind, version) = stem.split_once(".v").expect("<Kind>.v<N>.json");
        let version: i64 = version.parse().expect("a version number");
        let text = std::fs::read_to_string(&path).expect("read");
        let payloads: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
        assert!(!payloads.is_empty(), "{file} holds no payload");
        found.insert((kind.to_owned(), version), payloads);
    }
    found
}

#[test]
fn every_shipped_payload_still_decodes_as_its_kind() {
    for ((kind, version), payloads) in golden() {
        for (index, payload) in payloads.iter().enumerate() {
            let what = format!("{kind}.v{version}.json[{index}]");
            let event: Event = decode(&kind, version, &payload.to_string())
                .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            assert_eq!(event.kind(), kind, "{what}");
            assert_eq!(payload[Event::TAG], json!(kind), "{what}: the stored tag");
            // What is written today reads back as the same event.
            let again = serde_json::to_string(&event).expect("encode");
            let reread: Event = decode(&kind, event.version(), &again).expect("today's shape");
            assert_eq!(reread, event, "{what}");
        }
    }
}

#[test]
fn every_kind_and_version_has_golden_payloads() {
    let golden = golden();
    assert!(!Event::kinds().is_empty(), "serde lists the kinds");
    for kind in Event::kinds() {
        for version in 1..=current_version(kind) {
            assert!(
                golden.contains_key(&(kind.to_string(), version)),
                "tests/fixtures/events/{kind}.v{version}.json is missing"
            );
        }
    }
    for (kind, version) in golden.keys() {
        assert!(Event::kinds().contains(&kind.as_str()), "{kind} is no kind");
        assert!(*version <= current_version(kind), "{kind} v{version}");
    }
}
