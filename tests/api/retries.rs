//! Retries (`-R`, `-B`): one run, one id, several attempts. A failing
//! attempt queues the next after its backoff; only the last attempt's end
//! is the run's end (one `done` push); kills are never retried; a waiting
//! retry holds no `-s` slot; the wait survives a kill -9 of the server,
//! and an attempt cut by one is retried once.

use serde_json::{json, Value};

use crate::helpers::child::{Fixture, Server};
use crate::helpers::cli::{bare, output, scriptd};
use crate::helpers::ws::{monitor, of_run, pushes_until_done, states, subscribe};
use crate::helpers::{eventually_async, spawn_app, Api};

/// A script that fails until its `n`-th attempt, counting attempts in
/// `dir/<name>.count`.
fn flaky(options: &str, name: &str, dir: &str, n: u32) -> String {
    format!(
        "{options} {name} /bin/sh -c \"n=$(cat {dir}/{name}.count 2>/dev/null || echo 0); \
         n=$((n+1)); echo $n > {dir}/{name}.count; echo try $n; test $n -ge {n}\"\n"
    )
}

fn attempts(status: &Value) -> Vec<Value> {
    status["attempts"].as_array().cloned().unwrap_or_default()
}

#[actix_web::test]
async fn a_run_that_fails_twice_then_succeeds_ends_success_after_three_attempts_with_one_done_push()
{
    // Arrange
    let app = spawn_app().await;
    let dir = app.storage.path().to_str().expect("utf-8").to_owned();
    app.exectab(&flaky("-R=2 -B=1", "flaky", &dir, 3));
    let mut ws = app.ws().await;
    subscribe(&mut ws, monitor(1, "flaky")).await;

    // Act
    let id = app.run(json!({"name": "flaky"})).await;
    let pushes = pushes_until_done(&mut ws, &id).await;

    // Assert
    let pushes = of_run(&pushes, &id);
    assert_eq!(
        states(&pushes),
        ["running", "running", "running", "done"],
        "each attempt's start, one done: {pushes:?}"
    );
    let started: Vec<(&Value, &Value)> = pushes[..3]
        .iter()
        .map(|p| (&p["attempt"], &p["max_attempts"]))
        .collect();
    assert_eq!(
        started,
        [
            (&json!(1), &json!(3)),
            (&json!(2), &json!(3)),
            (&json!(3), &json!(3))
        ],
        "each start push says which attempt it is: {pushes:?}"
    );
    let done = app.wait_done(&id).await;
    assert_eq!(done["outcome"], "success", "{done}");
    assert_eq!(done["attempt"], 3, "{done}");
    let tries = attempts(&done.json);
    assert_eq!(tries.len(), 3, "{done}");
    let outcomes: Vec<&str> = tries
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["failed", "failed", "success"]);
    assert_eq!(tries[0]["exit_code"], 1);
    assert!(
        tries[1]["start"].as_f64() >= tries[0]["end"].as_f64().map(|end| end + 0.7),
        "the second attempt waited its backoff (1 s ± 20 %): {tries:?}"
    );
    let log = app.log(&id).await;
    for (k, line) in ["try 1", "try 2", "try 3"].iter().enumerate() {
        let marker = format!("--- attempt {} of 3 ---", k + 1);
        let at = log
            .find(&marker)
            .unwrap_or_else(|| panic!("{marker} in {log:?}"));
        assert!(log[at..].contains(line), "{line} after {marker}: {log:?}");
    }
}

#[actix_web::test]
async fn status_of_a_later_attempt_while_it_runs_says_which_attempt_it_is() {
    // Arrange: the first attempt fails; the second waits for a file.
    let app = spawn_app().await;
    let dir = app.storage.path().to_str().expect("utf-8").to_owned();
    app.exectab(&format!(
        "-R=2 -B=1 slow /bin/sh -c \"n=$(cat {dir}/slow.count 2>/dev/null || echo 0); \
         n=$((n+1)); echo $n > {dir}/slow.count; test $n -ge 2 || exit 1; \
         while [ ! -e {dir}/go ]; do sleep 0.05; done\"\n"
    ));
    let mut ws = app.ws().await;
    subscribe(&mut ws, monitor(1, "slow")).await;

    // Act
    let id = app.run(json!({"name": "slow"})).await;
    let running = app
        .wait_status(&id, "attempt 2 running", |s| {
            s["state"] == "running" && s["attempt"] == 2
        })
        .await;
    let file = app.scripts_dir().join("status").join(format!("{id}.json"));
    let on_disk: Value = crate::helpers::eventually("attempt 2's status file", || {
        std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|s| s["state"] == "running")
    })
    .await;
    std::fs::write(format!("{dir}/go"), "").expect("go");
    let pushes = pushes_until_done(&mut ws, &id).await;

    // Assert
    assert_eq!(
        (&on_disk["attempt"], &on_disk["max_attempts"]),
        (&json!(2), &json!(3)),
        "the status file says which attempt runs, as status/ID does: {on_disk}"
    );
    assert_eq!(running["max_attempts"], 3, "{running}");
    assert_eq!(
        attempts(&running.json).len(),
        1,
        "the first ended: {running}"
    );
    let starts: Vec<&Value> = of_run(&pushes, &id)
        .into_iter()
        .filter(|p| p["state"] == "running")
        .map(|p| &p["attempt"])
        .collect();
    assert_eq!(starts, [&json!(1), &json!(2)], "{pushes:?}");
    assert_eq!(app.wait_done(&id).await["outcome"], "success");
}

#[actix_web::test]
async fn a_run_that_always_fails_ends_failed_after_three_attempts_and_a_killed_one_is_not_retried()
{
    // Arrange
    let app = spawn_app().await;
    app.exectab("-R=2 -B=1 bad /bin/sh -c \"echo no; exit 4\"\n-R=2 -B=1 hold /bin/sleep 30\n");

    // Act
    let bad = app.run(json!({"name": "bad"})).await;
    let hold = app.run(json!({"name": "hold"})).await;
    app.wait_status(&hold, "hold running", |s| s["state"] == "running")
        .await;
    app.kill(&hold).await;

    // Assert
    let killed = app.wait_done(&hold).await;
    assert_eq!(killed["outcome"], "killed", "{killed}");
    assert_eq!(attempts(&killed.json).len(), 1, "not retried: {killed}");
    let done = app.wait_done(&bad).await;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["exit_code"], 4, "the last attempt's: {done}");
    let tries = attempts(&done.json);
    assert_eq!(tries.len(), 3, "{done}");
    assert!(tries
        .iter()
        .all(|a| a["outcome"] == "failed" && a["exit_code"] == 4));
    let history = app.get("/scripts/v1/history?name=bad").await.1;
    let row = history["runs"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["id"] == bad.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("bad in history: {history}"));
    assert_eq!(row["attempt"], 3, "{row}");
    assert_eq!(attempts(&row).len(), 3, "{row}");
}

#[actix_web::test]
async fn a_retry_waiting_for_its_time_holds_no_slot() {
    // Arrange: one slot; the first run fails and waits half a minute.
    let app = spawn_app().await;
    app.exectab("-s=1 -R=1 -B=30 job /bin/sh -c \"exit @@1\"\n");
    let first = app.run(json!({"name": "job", "args": ["3"]})).await;
    let waiting = app
        .wait_status(&first, "the retry waits", |s| {
            s["state"] == "queued" && s["attempt"] == 2
        })
        .await;
    assert_eq!(waiting["max_attempts"], 2, "{waiting}");
    assert_eq!(attempts(&waiting.json).len(), 1, "{waiting}");
    assert!(
        waiting["queued"].as_i64() >= Some(crate::helpers::unix_now() + 20),
        "due after the backoff: {waiting}"
    );

    // Act
    let second = app.run(json!({"name": "job", "args": ["0"]})).await;

    // Assert
    let done = app.wait_done(&second).await;
    assert_eq!(done["outcome"], "success", "{done}");
    let still = app.status(&first).await;
    assert_eq!(still["state"], "queued", "still waiting: {still}");
    app.cancel(&first).await;
    let cancelled = app.wait_done(&first).await;
    assert_eq!(cancelled["outcome"], "cancelled", "{cancelled}");
}

/// The kinds of one run's events, and how many of `kind`.
async fn count(fixture: &Fixture, id: &str, kind: &str) -> (usize, Vec<String>) {
    let kinds = fixture.run_events(id).await;
    (kinds.iter().filter(|k| *k == kind).count(), kinds)
}

async fn wait_retrying(server: &Api, id: &str) {
    server
        .wait_status(id, "the retry waits", |s| {
            s["state"] == "queued" && s["attempt"] == 2
        })
        .await;
}

#[actix_web::test]
async fn a_kill_9_during_a_retrys_wait_still_retries_once() {
    // Arrange
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "0").await;
    fixture.exectab(&flaky("-R=1 -B=3", "again", "OUT", 2));
    let id = server.run(json!({"name": "again"})).await;
    wait_retrying(&server, &id).await;

    // Act
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "0").await;

    // Assert
    let done = server.wait_done(&id).await;
    assert_eq!(done["outcome"], "success", "{done}");
    assert_eq!(attempts(&done.json).len(), 2, "{done}");
    let (retries, kinds) = count(&fixture, &id, "RunRetrying").await;
    assert_eq!(retries, 1, "{kinds:?}");
    assert_eq!(count(&fixture, &id, "RunStarted").await.0, 2, "{kinds:?}");
    let tried = std::fs::read_to_string(fixture.out.join("again.count")).expect("count");
    assert_eq!(tried.trim(), "2", "two attempts ran");
    let _ = server.terminate().await;
}

#[actix_web::test]
async fn an_attempt_cut_by_a_kill_9_is_retried_once_after_the_restart() {
    // Arrange: the first attempt hangs; the second succeeds.
    let fixture = Fixture::new();
    let server = Server::start(&fixture.storage, "1", "0").await;
    fixture.exectab(
        "-R=1 -B=1 cut /bin/sh -c \"echo x >> OUT/cut.count; \
         test $(wc -l < OUT/cut.count) -ge 2 || sleep 30\"\n",
    );
    let id = server.run(json!({"name": "cut"})).await;
    eventually_async("the first attempt runs", || async {
        let (spawned, _) = count(&fixture, &id, "RunSpawned").await;
        spawned == 1
    })
    .await;

    // Act
    server.kill9();
    let server = Server::start(&fixture.storage, "2", "0").await;

    // Assert
    let done = server.wait_done(&id).await;
    assert_eq!(done["outcome"], "success", "{done}");
    let tries = attempts(&done.json);
    assert_eq!(tries.len(), 2, "{done}");
    assert_eq!(tries[0]["outcome"], "interrupted", "{done}");
    let (retries, kinds) = count(&fixture, &id, "RunRetrying").await;
    assert_eq!(retries, 1, "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "RunInterrupted"), "{kinds:?}");
    let _ = server.terminate().await;
}

#[actix_web::test]
async fn exectab_check_refuses_bad_retries_and_backoffs() {
    let temp = tempfile::tempdir().expect("temp");
    let file = temp.path().join("exectab.txt");
    std::fs::write(
        &file,
        "-R=2 -B=5 ok /bin/true\n-R=101 many /bin/true\n-R=x nan /bin/true\n-B=0 zero /bin/true\n\
         -R=1 -B=3601 long /bin/true\n",
    )
    .expect("write");

    let checked = output(bare(&["exectab", "check", file.to_str().expect("path")])).await;

    assert_eq!(checked.code(), 1, "{checked}");
    let name = file.display().to_string();
    for line in 2..=5 {
        assert!(
            checked.stdout.contains(&format!("{name}:{line}: ")),
            "line {line}: {checked}"
        );
    }
    assert!(
        !checked.stdout.contains(&format!("{name}:1: ")),
        "{checked}"
    );
    assert!(
        checked.stdout.contains("-R=101"),
        "names the value: {checked}"
    );
    assert!(checked.stdout.contains("-B=0"), "{checked}");
}

#[actix_web::test]
async fn run_wait_shows_the_next_attempt_and_its_wait_then_the_last_outcome() {
    // Arrange
    let app = spawn_app().await;
    let dir = app.storage.path().to_str().expect("utf-8").to_owned();
    app.exectab(&flaky("-R=2 -B=1", "flaky", &dir, 2));

    // Act: not a terminal, so the plain display.
    let out = output(scriptd(&app, &["run", "flaky", "--wait"])).await;

    // Assert
    assert_eq!(out.code(), 0, "the last attempt succeeded: {out}");
    assert!(
        out.stdout.contains("attempt 2 of 3 in "),
        "the wait for attempt 2: {out}"
    );
    assert!(
        out.stdout.contains("try 1") && out.stdout.contains("try 2"),
        "{out}"
    );
}

#[actix_web::test]
async fn every_attempt_gets_the_runs_stdin() {
    // Arrange: the first attempt reads its stdin and fails.
    let app = spawn_app().await;
    let dir = app.storage.path().to_str().expect("utf-8").to_owned();
    app.exectab(&format!(
        "-i -R=1 -B=1 reads /bin/sh -c \"echo x >> {dir}/reads.count; echo got $(cat); \
         test $(wc -l < {dir}/reads.count) -ge 2\"\n"
    ));

    // Act
    let id = app.run(json!({"name": "reads", "stdin": "hello"})).await;

    // Assert
    let done = app.wait_done(&id).await;
    assert_eq!(done["outcome"], "success", "{done}");
    let log = app.log(&id).await;
    assert_eq!(
        log.matches("got hello").count(),
        2,
        "both attempts read it: {log:?}"
    );
}

#[actix_web::test]
async fn a_killed_attempt_that_exits_1_on_the_signal_is_not_retried() {
    // Arrange: the script traps SIGTERM and fails.
    let app = spawn_app().await;
    app.exectab("-R=2 -B=1 stubborn /bin/sh -c \"trap 'exit 1' TERM; sleep 30 & wait\"\n");
    let id = app.run(json!({"name": "stubborn"})).await;
    app.wait_status(&id, "running", |s| s["state"] == "running")
        .await;

    // Act
    app.kill(&id).await;

    // Assert
    let done = app.wait_done(&id).await;
    assert_eq!(
        attempts(&done.json).len(),
        1,
        "a kill is never retried: {done}"
    );
}
