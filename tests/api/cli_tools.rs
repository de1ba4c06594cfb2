//! Times, scripts, run-id prefixes, history columns and help from the
//! command line. The harness is in `helpers/cli.rs`.

use serde_json::json;

use crate::helpers::cli::{app, bare, one_line_error, output, scriptd};
use crate::helpers::unix_now;

#[actix_web::test]
async fn every_time_option_takes_relative_times_both_ways_and_dates() {
    let app = app().await;
    let id = app.run(json!({"name": "ok"})).await;
    app.wait_done(&id).await;
    let count = |out: &crate::helpers::cli::Finished| {
        // Tables show the short id, its last 12 hex digits.
        out.stdout
            .lines()
            .filter(|l| l.contains(&id[id.len() - 12..]))
            .count()
    };

    let hour_ago = output(scriptd(&app, &["history", "--since=-1h"])).await;
    let spaced = output(scriptd(&app, &["history", "--since", "-1h"])).await;
    let date = output(scriptd(&app, &["history", "--since", "2000-01-01"])).await;
    let future = output(scriptd(&app, &["history", "--since", "+1h"])).await;
    let until = output(scriptd(&app, &["history", "--until", "-1h"])).await;
    let scheduled = output(scriptd(&app, &["run", "ok", "--at", "+40s"])).await;

    for out in [&hour_ago, &spaced, &date] {
        assert_eq!(count(out), 1, "{out}");
    }
    for out in [&future, &until] {
        assert_eq!(out.code(), 0, "{out}");
        assert_eq!(count(out), 0, "{out}");
    }
    let later = scheduled.stdout.trim();
    let status = output(scriptd(&app, &["status", later])).await;
    assert!(status.stdout.contains("scheduled for "), "{status}");
    let secs: Option<i64> = status
        .stdout
        .split("(in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok());
    assert!(secs.is_some_and(|s| (25..=40).contains(&s)), "{status}");
    let _ = output(scriptd(&app, &["cancel", later])).await;
}

#[actix_web::test]
async fn printed_times_state_their_zone_the_same_way_in_every_command() {
    let app = app().await;
    let id = app.run(json!({"name": "ok"})).await;
    app.wait_done(&id).await;
    let zone = scriptd::client::when::show(unix_now() as f64);
    let zone = zone.rsplit(' ').next().expect("zone").to_owned();

    let status = output(scriptd(&app, &["status", &id])).await;
    let history = output(scriptd(&app, &["history"])).await;
    let guests = {
        let _ = output(scriptd(
            &app,
            &["guest", "create", "ok", "--run", "--expires", "+1d"],
        ))
        .await;
        output(scriptd(&app, &["guest", "list"])).await
    };

    let started = status.stdout.lines().find(|l| l.starts_with("started:"));
    assert!(started.is_some_and(|l| l.ends_with(&zone)), "{status}");
    let row = history
        .stdout
        .lines()
        .find(|l| l.contains(&id[id.len() - 12..]));
    assert!(
        row.is_some_and(|r| r.contains(&format!(" {zone} "))),
        "{history}"
    );
    assert!(
        guests
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.ends_with(&zone)),
        "{guests}"
    );
}

#[actix_web::test]
async fn scripts_lists_what_this_key_may_use_with_options() {
    let app = app().await;
    let (_, guest) = app
        .create_guest("echo", [true, false, true, false], unix_now() + 3600)
        .await;

    let table = output(scriptd(&app, &["scripts"])).await;
    let json = output(scriptd(&app, &["scripts", "--json"])).await;
    let as_guest = output(bare(&["scripts", "--url", &app.base, "--api-key", &guest])).await;

    assert_eq!(table.code(), 0, "{table}");
    let row = |name: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(row("cat").contains("-i"), "{table}");
    assert!(row("slow").contains("-t=1"), "{table}");
    assert!(row("full").contains("-m=1"), "{table}");
    assert!(
        row("echo").contains("args=2") && row("echo").contains("/bin/echo @@1 @@2"),
        "{table}"
    );
    assert_eq!(json.json()["scripts"]["slow"]["timeout"], 1, "{json}");
    let names: Vec<&str> = as_guest
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["echo"], "a guest sees its one script: {as_guest}");
}

#[actix_web::test]
async fn exectab_check_reports_each_bad_line_like_nginx_t() {
    let app = app().await;
    let bad = app.storage.path().join("bad.txt");
    std::fs::write(
        &bad,
        "ok /bin/true\n-z broken /bin/true\n# fine\n-s=0 zero /bin/true\n",
    )
    .expect("bad");
    let good = app.storage.path().join("good.txt");
    std::fs::write(&good, "ok /bin/true\n").expect("good");

    let checked = output(bare(&["exectab", "check", bad.to_str().expect("path")])).await;
    let fine = output(bare(&["exectab", "check", good.to_str().expect("path")])).await;
    let storage = output(bare(&[
        "--storage",
        app.storage.path().to_str().expect("path"),
        "exectab",
        "check",
    ]))
    .await;

    assert_eq!(checked.code(), 1, "{checked}");
    let bad_name = bad.display().to_string();
    assert!(
        checked.stdout.contains(&format!("{bad_name}:2: ")),
        "{checked}"
    );
    assert!(
        checked.stdout.contains(&format!("{bad_name}:4: ")),
        "{checked}"
    );
    assert!(
        !checked.stdout.contains(&format!("{bad_name}:1: ")),
        "{checked}"
    );
    assert!(checked.stdout.contains("2 problem(s)"), "{checked}");
    assert_eq!(fine.code(), 0, "{fine}");
    assert!(
        fine.stdout.contains("1 script(s), 0 problem(s): ok"),
        "{fine}"
    );
    assert_eq!(storage.code(), 0, "the test exectab is clean: {storage}");
    assert!(storage.stdout.contains("exectab.txt: "), "{storage}");
}

#[actix_web::test]
async fn a_unique_prefix_of_a_run_id_is_accepted_an_ambiguous_one_is_refused() {
    let app = app().await;
    let first = app.run(json!({"name": "ok"})).await;
    let second = app.run(json!({"name": "ok"})).await;
    app.wait_done(&first).await;
    app.wait_done(&second).await;
    let common = first
        .chars()
        .zip(second.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let unique = &second[..(common + 2).max(8)];

    let status = output(scriptd(&app, &["status", unique])).await;
    let log = output(scriptd(&app, &["log", unique])).await;

    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status.stdout.contains(&format!("id:       {second}")),
        "{status}"
    );
    assert_eq!(log.stdout, "hello from log\n", "{log}");
    if common >= 4 {
        let ambiguous = output(scriptd(&app, &["status", &first[..common]])).await;
        one_line_error(&ambiguous, "is ambiguous");
        assert!(
            ambiguous.stderr.contains(&first) && ambiguous.stderr.contains(&second),
            "{ambiguous}"
        );
    }
    let none = output(scriptd(&app, &["status", "ffffffff"])).await;
    one_line_error(&none, "unknown run id 'ffffffff'");
}

#[actix_web::test]
async fn history_shows_the_users_name_and_stays_aligned_for_long_names() {
    let app = app().await;
    let long = app
        .run(json!({"name": "a-rather-long-script-name-for-columns"}))
        .await;
    let short = app.run(json!({"name": "ok"})).await;
    app.wait_done(&long).await;
    app.wait_done(&short).await;

    let table = output(scriptd(&app, &["history"])).await;

    assert_eq!(table.code(), 0, "{table}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let column = |line: &str, word: &str| line.find(word);
    assert_eq!(
        column(lines[0], "OUTCOME"),
        column(lines[1], "success"),
        "{table}"
    );
    assert_eq!(
        column(lines[0], "OUTCOME"),
        column(lines[2], "success"),
        "{table}"
    );
    assert_eq!(column(lines[0], "BY"), column(lines[1], "admin"), "{table}");
    assert!(lines[1].contains("admin (127.0.0.1"), "{table}");
}

#[test]
fn every_argument_and_flag_has_a_help_line() {
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&scriptd::cli::Cli::shaped(), "scriptd", &mut missing);
    assert!(missing.is_empty(), "no help line: {missing:?}");
}

#[actix_web::test]
async fn run_help_lists_the_exit_codes() {
    let out = output(bare(&["run", "--help"])).await;

    assert_eq!(out.code(), 0, "{out}");
    for code in ["124", "125", "127", "128+N", "75", "130"] {
        assert!(out.stdout.contains(code), "{code}: {out}");
    }
}

/// The options a help text lists, in order (`--url`, `--storage`, …).
fn listed_options(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim_start)
        .map(|line| line.strip_prefix("-h, ").unwrap_or(line))
        .filter(|line| line.starts_with("--"))
        .filter_map(|line| line.split([' ', '=']).next())
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn client_help_lists_client_options_first_and_no_server_ones() {
    let server_only = ["--database", "--listen", "--log-format", "--log-level"];
    for command in [
        &["run", "--help"][..],
        &["status", "--help"],
        &["events", "--help"],
        &["guest", "create", "--help"],
    ] {
        let out = output(bare(command)).await;

        assert_eq!(out.code(), 0, "{command:?}: {out}");
        let options = listed_options(&out.stdout);
        let at = |name: &str| options.iter().position(|o| o == name);
        for name in server_only {
            assert_eq!(at(name), None, "{command:?} shows {name}: {out}");
        }
        let (Some(url), Some(key), Some(storage), Some(config)) = (
            at("--url"),
            at("--api-key"),
            at("--storage"),
            at("--config"),
        ) else {
            panic!("{command:?}: client options missing: {options:?}");
        };
        assert!(
            url < storage && key < storage && url < config,
            "{command:?}: client options first: {options:?}"
        );
    }
    let serve = output(bare(&["serve", "--help"])).await;
    let options = listed_options(&serve.stdout);
    for name in ["--database", "--listen", "--tls"] {
        assert!(options.iter().any(|o| o == name), "serve: {name}: {serve}");
    }
}

#[actix_web::test]
async fn a_hidden_option_still_works_for_a_client() {
    let out = output(bare(&[
        "status",
        "--listen",
        "127.0.0.1:1",
        "--api-key",
        "k",
    ]))
    .await;

    assert_eq!(out.code(), 1, "not a usage error: {out}");
    assert!(out.stderr.contains("http://127.0.0.1:1"), "{out}");
}
