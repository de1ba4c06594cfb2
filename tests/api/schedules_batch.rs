//! The ticks of one instant go to their account together (one message,
//! one look at the exectab): every schedule of the user still records
//! each tick once with its own run, and an edit of the exectab made after
//! the timer planned a tick still decides whether it fires.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_app, unix_now};
use crate::schedules::{clock_past, ticks, wait_ticks};

fn instants(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r["tick"].as_i64().expect("tick is an integer"))
        .collect()
}

#[actix_web::test]
async fn schedules_due_together_each_record_every_tick_once_and_an_edit_stops_one_at_once() {
    // Arrange: three schedules of one user, due at the same instants.
    let app = spawn_app().await;
    let line = |name: &str| format!("-n -c=\"* * * * * *\" {name}\n");
    app.exectab(&format!("{}{}{}", line("a"), line("b"), line("c")));
    let api = &app.api;
    for name in ["a", "b", "c"] {
        wait_ticks(api, name, |found| found.len() >= 3).await;
    }

    // Act: `b` loses its schedule; the timer learns of it only at its next
    // scan (once a second), so ticks of `b` are still planned meanwhile.
    app.exectab(&format!("{}-n b\n{}", line("a"), line("c")));
    let edited = unix_now();
    clock_past(edited + 3).await;
    let a = wait_ticks(api, "a", |found| instants(found).contains(&(edited + 3))).await;

    // Assert: every tick of `a` and `c` once, each with its own run, and
    // the same instants for both (they fired together)...
    let c = wait_ticks(api, "c", |found| instants(found).contains(&(edited + 3))).await;
    for (name, records) in [("a", &a), ("c", &c)] {
        let ticks = instants(records);
        let distinct: BTreeSet<i64> = ticks.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            ticks.len(),
            "{name}: no tick twice: {ticks:?}"
        );
        for pair in ticks.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "{name}: no gap: {ticks:?}");
        }
        let runs: BTreeSet<&str> = records.iter().filter_map(|r| r["run"].as_str()).collect();
        assert_eq!(
            runs.len(),
            ticks.len(),
            "{name}: a run per tick: {records:?}"
        );
    }
    let (a_ticks, c_ticks) = (instants(&a), instants(&c));
    let both: BTreeSet<i64> = a_ticks.iter().copied().collect();
    assert!(
        c_ticks.iter().filter(|t| both.contains(t)).count() >= 3,
        "a and c tick at the same instants: {a_ticks:?} {c_ticks:?}"
    );
    // ...and no tick of `b` due after the edit: each tick reads the
    // exectab as it is when it fires, not as the timer last saw it.
    let b = instants(&ticks(api, "b").await);
    assert!(
        b.iter().all(|tick| *tick <= edited),
        "b fired after its schedule was removed at {edited}: {b:?}"
    );
}
