//! The environment a run starts with: `-u` runs get the user's login
//! variables and home, as `sudo -iu` users expect; `clean_env` starts runs
//! from PATH, LANG and the user variables only.

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::{root_or_skip, spawn_app, spawn_app_with, TestApp};

const SHOW: &str = r#"/bin/sh -c "echo HOME=$HOME; echo USER=$USER; echo LOGNAME=$LOGNAME; echo SHELL=$SHELL; echo PWD=$(pwd)""#;

async fn log_of(app: &TestApp, name: &str) -> Vec<String> {
    let id = app.run(json!({"name": name})).await;
    let done = app.wait_done(&id).await;
    assert_eq!(done.outcome, Outcome::Success, "{done}");
    let log = app.get(&format!("/scripts/v1/log/{id}")).await.1;
    log.as_str()
        .expect("log")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn runs_as_another_user_get_its_login_variables_and_home() {
    if !root_or_skip("runs_as_another_user_get_its_login_variables_and_home") {
        return;
    }
    let app = spawn_app().await;
    app.exectab(&format!(
        "-u=nobody nobody {SHOW}\n-u=root root {SHOW}\n-u=nobody -d=/tmp there {SHOW}\n"
    ));
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let root = nix::unistd::User::from_name("root")
        .expect("lookup")
        .expect("root exists");
    let home_dir = |u: &nix::unistd::User| match u.dir.is_dir() {
        true => u.dir.display().to_string(),
        // A login without a home starts in `/`.
        false => "/".to_owned(),
    };
    for (name, user, pwd) in [
        ("nobody", &nobody, home_dir(&nobody)),
        ("root", &root, home_dir(&root)),
        ("there", &nobody, "/tmp".to_owned()),
    ] {
        let lines = log_of(&app, name).await;
        let want = [
            format!("HOME={}", user.dir.display()),
            format!("USER={}", user.name),
            format!("LOGNAME={}", user.name),
            format!("SHELL={}", user.shell.display()),
            format!("PWD={pwd}"),
        ];
        assert_eq!(lines, want, "{name}");
    }
}

#[actix_web::test]
async fn a_clean_environment_keeps_only_path_lang_the_user_variables_and_e() {
    // Cargo sets CARGO_PKG_NAME for the test process, and so for the server.
    let inherited = spawn_app().await;
    let clean = spawn_app_with(|config| config.clean_env = true).await;
    for app in [&inherited, &clean] {
        app.exectab("-e=EXTRA=yes env /usr/bin/env\n");
    }

    let all = log_of(&inherited, "env").await;
    let few = log_of(&clean, "env").await;

    assert!(
        all.iter().any(|l| l.starts_with("CARGO_PKG_NAME=")),
        "{all:?}"
    );
    let names: Vec<&str> = few.iter().filter_map(|l| l.split('=').next()).collect();
    assert!(
        names.contains(&"PATH") && names.contains(&"EXTRA"),
        "{few:?}"
    );
    for name in &names {
        assert!(
            ["PATH", "LANG", "HOME", "USER", "LOGNAME", "SHELL", "EXTRA"].contains(name),
            "{name} leaked into a clean environment: {few:?}"
        );
    }
}
