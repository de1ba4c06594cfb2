//! Hostile and careless clients, part 5: a server out of descriptors. The
//! real `scriptd serve` runs as a child with an open-file limit of 128
//! (soft = hard, so it cannot raise it) and connection limits above that;
//! idle connections then take every descriptor. A `run` over a WebSocket
//! opened before must get a clear 503, never `invalid_name` for a script
//! that exists, and the server recovers once the connections close.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::server::ServerSpec;
use crate::helpers::{eventually_with, Api, Scheme, WsClient, DEADLINE};

const FILE_LIMIT: u64 = 128;

/// The child server, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_with_file_limit(storage: &std::path::Path) -> (Served, u16, String) {
    let config = storage.join("scriptd.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_connections = 100000\nmax_connections_per_address = 100000\n\
         header_timeout_secs = 120\n",
    )
    .expect("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_scriptd"));
    let config = config.to_str().expect("utf-8 temp path");
    command
        .args(ServerSpec::new(storage, Scheme::Plain).serve_args(&["--config", config]))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::sys::resource::setrlimit(
                nix::sys::resource::Resource::RLIMIT_NOFILE,
                FILE_LIMIT,
                FILE_LIMIT,
            )
            .map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn().expect("scriptd serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let served = Served(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let address = rest.split_whitespace().next().unwrap_or_default();
                let port = address.rsplit(':').next().and_then(|p| p.parse().ok());
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(DEADLINE)
        .expect("the server prints its port")
        .expect("a port in the listening line");
    // Not printed: stderr is no terminal, so the first-run key is only in its file.
    let key = std::fs::read_to_string(storage.join("admin.key")).expect("admin.key");
    (served, port, key.trim().to_owned())
}

async fn run_over(ws: &mut WsClient, sequence: i64) -> Value {
    let mut pushes = Vec::new();
    ws.call(
        json!({"api_method": "POST", "api_path": "/scripts/v1/run", "api_sequence": sequence,
               "name": "x"}),
        &mut pushes,
    )
    .await
}

#[actix_web::test]
async fn out_of_descriptors_a_run_is_a_503_never_invalid_name_and_the_server_recovers() {
    let storage = tempfile::tempdir().expect("temp dir");
    let (_served, port, key) = serve_with_file_limit(storage.path());
    std::fs::write(
        storage.path().join("1/scripts/exectab.txt"),
        "-n x /bin/true\n",
    )
    .expect("exectab");
    let api = Api::new(port, key.clone());
    let (_resp, framed) = api
        .client
        .ws(format!("ws://127.0.0.1:{port}/scripts/v1"))
        .set_header("X-APIKey", key.as_str())
        .connect()
        .await
        .expect("websocket connects");
    let mut ws = WsClient { framed };
    let reply = run_over(&mut ws, 1).await;
    assert_eq!(reply["success"], true, "a run works before: {reply}");

    // Idle connections until the server has no descriptor left: then its
    // exectab cannot be read either.
    let mut idle = Vec::new();
    let start = Instant::now();
    let refused = loop {
        for _ in 0..16 {
            idle.push(std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"));
        }
        // Paces the batches so the server has accepted them before the check.
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        let reply = run_over(&mut ws, 2).await;
        assert_ne!(
            reply["errorcode"], "invalid_name",
            "a wrong answer: {reply}"
        );
        if reply["success"] == false {
            break reply;
        }
        assert!(
            idle.len() < 4 * FILE_LIMIT as usize && start.elapsed() < DEADLINE,
            "the server ran out of descriptors ({} connections)",
            idle.len()
        );
    };
    assert_eq!(refused["errorcode"], "temporarily_unavailable", "{refused}");

    drop(idle);
    eventually_with("the server to recover", &mut ws, |ws| {
        Box::pin(async move {
            let reply = run_over(ws, 3).await;
            assert_ne!(
                reply["errorcode"], "invalid_name",
                "a wrong answer: {reply}"
            );
            match reply["success"] == true {
                true => Ok(()),
                false => Err(reply),
            }
        })
    })
    .await;
}
