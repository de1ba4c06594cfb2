//! Command-line failures: an unreachable server, a bad key, unknown
//! scripts and ids are each one clear line with exit 1; usage errors exit 2.
//! The harness is in `helpers/cli.rs`.

use crate::helpers::cli::{app, bare, one_line_error, output, scriptd};

#[actix_web::test]
async fn connection_refused_is_one_clear_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);

    for args in [
        vec!["status"],
        vec!["run", "demo", "--wait"],
        vec!["monitor"],
    ] {
        let mut all = args.clone();
        all.extend(["--url", &url, "--api-key", "any"]);
        let out = output(bare(&all)).await;
        one_line_error(
            &out,
            &format!("cannot connect to {url} (from --url or SCRIPTD_URL): connection refused — is `scriptd serve` running?"),
        );
    }
}

#[actix_web::test]
async fn a_bad_key_is_one_clear_line() {
    let app = app().await;

    for args in [
        vec!["status"],
        vec!["run", "ok", "--wait"],
        vec!["log", "x"],
    ] {
        let mut all = args.clone();
        all.extend(["--url", &app.base, "--api-key", "not-a-key"]);
        let out = output(bare(&all)).await;
        one_line_error(
            &out,
            &format!(
                "the server at {} (from --url or SCRIPTD_URL) refused the API key from --api-key or SCRIPTD_API_KEY (invalid_missing_apikey)",
                app.base
            ),
        );
    }
}

#[actix_web::test]
async fn unknown_scripts_and_ids_are_one_clear_line() {
    let app = app().await;
    let unknown = "01a22408-4d82-772f-a637-f93192a1ae5f";

    let run = output(scriptd(&app, &["run", "nope"])).await;
    let wait = output(scriptd(&app, &["run", "nope", "--wait"])).await;
    let status = output(scriptd(&app, &["status", unknown])).await;
    let malformed = output(scriptd(&app, &["status", "not-an-id"])).await;
    let log = output(scriptd(&app, &["log", unknown])).await;

    one_line_error(&run, "unknown script 'nope' (invalid_name)");
    one_line_error(&wait, "unknown script 'nope' (invalid_name)");
    one_line_error(&status, &format!("unknown run id '{unknown}' (invalid_id)"));
    one_line_error(&malformed, "unknown run id 'not-an-id' (invalid_id)");
    one_line_error(&log, &format!("unknown run id '{unknown}' (invalid_id)"));
}

#[actix_web::test]
async fn usage_errors_exit_2() {
    let out = output(bare(&["run"])).await;
    let time = output(bare(&["run", "ok", "--at", "soon", "--api-key", "k"])).await;

    assert_eq!(out.code(), 2, "{out}");
    assert_eq!(time.code(), 2, "{time}");
    assert!(time.stderr.contains("invalid time 'soon'"), "{time}");
}
