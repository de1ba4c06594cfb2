//! A commit whose answer is lost: the connection to PostgreSQL is cut
//! right after the server committed, before its answer reaches scriptd.
//! The writer settles the doubt on a new connection, so the client is
//! told the truth (accepted) and the run is in the log once; a client
//! answered "unavailable" would post the same run again.
//!
//! The cut is a real one: a TCP proxy between scriptd and PostgreSQL
//! forwards a commit (one `scriptd_commit` call, or the `COMMIT` of the
//! multi-statement path), waits for the server's answer and then closes
//! both sides instead of passing the answer on. To keep the writer from
//! settling in time, it can then refuse new connections for a while, as
//! a database that restarts slowly does.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app_on, Database, Scheme};

/// The simple-query message `COMMIT` as sqlx sends it: 'Q', the length
/// (4 + "COMMIT\0"), the text.
const COMMIT_QUERY: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";
/// How many parameters a `scriptd_commit` call binds (`ARGUMENTS` in
/// `events::postgres::call`): no other statement binds as many. The call,
/// sent as Bind + Execute + Sync of a prepared statement, has no SQL text.
const COMMIT_CALL_PARAMETERS: u16 = 60;
/// What a commit of a run's start holds (the events' kinds).
const START: &[u8] = b"RunStarted";
/// How long the proxy refuses connections after [`Cut::StartThenAway`]:
/// longer than the writer tries to settle a doubt (5 s,
/// `events::postgres::doubt::SETTLE_FOR`).
const AWAY: Duration = Duration::from_secs(7);

/// Where the next `COMMIT` is cut.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Cut {
    Off = 0,
    /// The server committed; its answer never reaches scriptd.
    AfterTheAnswer = 1,
    /// The query never reaches the server.
    BeforeTheServer = 2,
    /// A commit of a `RunStarted`: the server committed, its answer
    /// never reaches scriptd, and new connections are refused for
    /// [`AWAY`], so the writer cannot learn that it landed in time.
    StartThenAway = 3,
}

/// A proxy to PostgreSQL that, once armed, cuts the next connection that
/// sends `COMMIT`.
struct CommitCutter {
    port: u16,
    armed: Arc<AtomicU8>,
    cuts: Arc<AtomicUsize>,
    /// Until when new connections are refused.
    away: Away,
}

type Away = Arc<Mutex<Option<Instant>>>;

impl CommitCutter {
    fn start(upstream: String) -> CommitCutter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        let port = listener.local_addr().expect("address").port();
        let armed = Arc::new(AtomicU8::new(Cut::Off as u8));
        let cuts = Arc::new(AtomicUsize::new(0));
        let away: Away = Arc::new(Mutex::new(None));
        let (arm, count, gone) = (armed.clone(), cuts.clone(), away.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let until = *gone.lock().unwrap_or_else(|e| e.into_inner());
                if until.is_some_and(|until| Instant::now() < until) {
                    continue; // dropped: the connection is refused
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                pump_pair(client, server, arm.clone(), count.clone(), gone.clone());
            }
        });
        CommitCutter {
            port,
            armed,
            cuts,
            away,
        }
    }

    fn arm(&self, cut: Cut) {
        self.armed.store(cut as u8, Ordering::SeqCst);
    }

    fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }

    /// Whether it refuses connections now.
    fn is_away(&self) -> bool {
        let until = *self.away.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|until| Instant::now() < until)
    }
}

/// Two threads copying bytes each way; the client-to-server one marks the
/// connection when it forwards an armed `COMMIT`, and the server-to-client
/// one then swallows the answer and shuts both sockets.
fn pump_pair(
    client: TcpStream,
    server: TcpStream,
    armed: Arc<AtomicU8>,
    cuts: Arc<AtomicUsize>,
    away: Away,
) {
    let cut_next = Arc::new(AtomicBool::new(false));
    let go_away = Arc::new(AtomicBool::new(false));
    let leave = go_away.clone();
    let (mut from_client, mut to_server) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let (mark, cuts_before) = (cut_next.clone(), cuts.clone());
    std::thread::spawn(move || {
        let cuts = cuts_before;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from_client.read(&mut buf) {
            if n == 0 {
                break;
            }
            let holds = |what: &[u8]| buf[..n].windows(what.len()).any(|w| w == what);
            let call = is_commit_call(&buf[..n]);
            let commit = holds(COMMIT_QUERY) || call;
            let start = call && holds(START);
            let cut = |want: Cut| {
                armed
                    .compare_exchange(
                        want as u8,
                        Cut::Off as u8,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
            };
            if start && cut(Cut::StartThenAway) {
                leave.store(true, Ordering::SeqCst);
                mark.store(true, Ordering::SeqCst);
            }
            if commit && armed.load(Ordering::SeqCst) != Cut::StartThenAway as u8 {
                match armed.swap(Cut::Off as u8, Ordering::SeqCst) {
                    1 => mark.store(true, Ordering::SeqCst),
                    2 => {
                        cuts.fetch_add(1, Ordering::SeqCst);
                        let _ = from_client.shutdown(Shutdown::Both);
                        break;
                    }
                    _ => {}
                }
            }
            if to_server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(Shutdown::Both);
    });
    let (mut from_server, mut to_client) = (server, client);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from_server.read(&mut buf) {
            if n == 0 {
                break;
            }
            if cut_next.load(Ordering::SeqCst) {
                // The server has answered the COMMIT: it is committed.
                if go_away.load(Ordering::SeqCst) {
                    *away.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + AWAY);
                }
                cuts.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if to_client.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_server.shutdown(Shutdown::Both);
    });
}

/// A server on a fresh database, reached through a [`CommitCutter`].
/// Whether `bytes` hold a Bind message of a `scriptd_commit` call: 'B',
/// its length, the portal's and the statement's names, the format codes,
/// then the parameter count.
fn is_commit_call(bytes: &[u8]) -> bool {
    let binds = (0..bytes.len()).filter(|&i| bytes[i] == b'B');
    binds.into_iter().any(|at| {
        let Some(rest) = bytes.get(at + 5..) else {
            return false;
        };
        let mut names = rest.splitn(3, |&b| b == 0);
        let (Some(portal), Some(statement), Some(tail)) =
            (names.next(), names.next(), names.next())
        else {
            return false;
        };
        let _ = (portal, statement);
        let u16_at = |i: usize| tail.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let Some(formats) = u16_at(0) else {
            return false;
        };
        u16_at(2 + 2 * formats as usize) == Some(COMMIT_CALL_PARAMETERS)
    })
}

async fn app_behind_cutter() -> (crate::helpers::TestApp, CommitCutter, tempfile::TempDir) {
    app_behind_cutter_with("-n noop /bin/true\n").await
}

/// The same, with `exectab`.
async fn app_behind_cutter_with(
    exectab: &str,
) -> (crate::helpers::TestApp, CommitCutter, tempfile::TempDir) {
    let holder = tempfile::tempdir().expect("temp dir");
    let direct = crate::backend::fresh_postgres_database(holder.path());
    let mut url = url::Url::parse(&direct).expect("database URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    );
    let cutter = CommitCutter::start(upstream);
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(cutter.port)).expect("port");
    // The proxy reads the protocol: no TLS on this leg.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let app = spawn_app_on(Scheme::Plain, Database::Postgres(url.to_string()), |_| {}).await;
    app.exectab(exectab);
    (app, cutter, holder)
}

#[actix_web::test]
async fn a_run_whose_commit_answer_was_lost_is_accepted_once() {
    let (app, cutter, _database) = app_behind_cutter().await;
    cutter.arm(Cut::AfterTheAnswer);
    let (status, reply) = app.post("/scripts/v1/run", json!({"name": "noop"})).await;
    assert_eq!(cutter.cuts(), 1, "the COMMIT of the run was cut: {reply}");
    assert_eq!(
        (status, reply["success"].as_bool()),
        (200, Some(true)),
        "the run was committed, so it is accepted: {reply}"
    );
    let id = reply["id"].as_str().expect("id").to_owned();
    let done = app.wait_done(&id).await;
    assert_eq!(done.json["outcome"], "noexec", "{}", done.json);

    // The log holds the run once: one RunQueued, one final event.
    let kinds = kinds_of_run(&app, &id).await;
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(
        (count("RunQueued"), count("RunFinished")),
        (1, 1),
        "{kinds:?}"
    );
}

#[actix_web::test]
async fn a_run_whose_commit_never_reached_the_server_is_refused_and_not_stored() {
    let (app, cutter, _database) = app_behind_cutter().await;
    cutter.arm(Cut::BeforeTheServer);
    let (status, reply) = app.post("/scripts/v1/run", json!({"name": "noop"})).await;
    assert_eq!(cutter.cuts(), 1, "the COMMIT of the run was cut: {reply}");
    assert_eq!(
        (status, reply["errorcode"].as_str()),
        (503, Some("database_unavailable")),
        "nothing was committed, so nothing is accepted: {reply}"
    );
    let (status, events) = app.get("/scripts/v1/events").await;
    assert_eq!(status, 200, "{events}");
    let queued = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "RunQueued")
        .count();
    assert_eq!(queued, 0, "no run in the log: {events}");
    // And the server goes on: the next run is accepted and runs.
    let id = app.run(json!({"name": "noop"})).await;
    app.wait_done(&id).await;
}

// The writer answers a commit whose answer was lost as failed once it has
// tried to settle it for 5 s; its `RunStarted` may have landed all the
// same. The queue's next start is then refused ("no longer queued"), and
// letting the run go lost it: running on record, with no process, and a
// status that answered `invalid_id` (issue 29, the reverted pgcommit).
#[actix_web::test]
async fn a_start_whose_answer_was_lost_past_the_settling_still_runs_once() {
    let (app, cutter, _database) = app_behind_cutter_with("quick /bin/echo hi\n").await;
    cutter.arm(Cut::StartThenAway);
    let id = app.run(json!({"name": "quick"})).await;
    crate::helpers::eventually("the start's answer cut", || {
        (cutter.cuts() == 1).then_some(())
    })
    .await;
    assert!(cutter.is_away(), "connections are refused after the cut");
    let done = app.wait_done(&id).await;
    assert_eq!(done.json["outcome"], "success", "{}", done.json);
    assert_eq!(done.json["first"], "hi", "{}", done.json);

    let kinds = kinds_of_run(&app, &id).await;
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(
        (count("RunStarted"), count("RunFinished")),
        (1, 1),
        "started once, ended once: {kinds:?}"
    );
}

/// The kinds of `id`'s events in the log, oldest first.
async fn kinds_of_run(app: &crate::helpers::TestApp, id: &str) -> Vec<String> {
    let (status, events) = app.get(&format!("/scripts/v1/events?run={id}")).await;
    assert_eq!(status, 200, "{events}");
    events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}
