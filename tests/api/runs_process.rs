//! What the script process gets and how it ends: timeouts, exit codes and
//! start failures, stdin, environment and working directory, literal
//! arguments, and running as another user.

use serde_json::json;

use scriptd::events::types::Outcome;

use crate::helpers::{root_or_skip, spawn_app};

#[actix_web::test]
async fn timeout_exit_codes_and_start_failures_are_recorded() {
    let app = spawn_app().await;
    app.exectab(
        "-t=1 slow /bin/sleep 30\nexit7 /bin/sh -c \"exit 7\"\nmissing /no/such/binary\n-d=/no/such/dir nodir /bin/true\nnoop -n /bin/echo @@1\n-n noexec /bin/echo @@1\n",
    );
    let slow = app.run(json!({"name": "slow"})).await;
    let exit7 = app.run(json!({"name": "exit7"})).await;
    let missing = app.run(json!({"name": "missing"})).await;
    let nodir = app.run(json!({"name": "nodir"})).await;
    let noexec = app.run(json!({"name": "noexec", "args": ["hello"]})).await;
    let done = app.wait_done(&exit7).await;
    assert_eq!((done.outcome, done.exit_code), (Outcome::Failed, Some(7)));
    let done = app.wait_done(&missing).await;
    assert_eq!(done.outcome, Outcome::StartFailed);
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("/no/such/binary")),
        "{done}"
    );
    let done = app.wait_done(&nodir).await;
    assert_eq!(done.outcome, Outcome::StartFailed);
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("/no/such/dir")),
        "{done}"
    );
    let done = app.wait_done(&noexec).await;
    assert_eq!(done.outcome, Outcome::Noexec);
    assert_eq!(done.last, "/bin/echo hello", "-n substitutes @@N");
    let done = app.wait_done(&slow).await;
    assert_eq!(done.outcome, Outcome::Timeout);
    assert!(
        done["duration"]
            .as_f64()
            .is_some_and(|d| (1.0..10.0).contains(&d)),
        "{done}"
    );
}

#[actix_web::test]
async fn stdin_env_and_dir_reach_the_process() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    std::env::set_var("SCRIPTD_TEST_HIDDEN", "server-only");
    app.exectab(&format!(
        "-i cat /bin/cat\n-d={} -e=GREETING=hi_%HOME% -e=PLAIN=x env /bin/sh -c \"pwd; echo $GREETING $PLAIN; echo hidden=$SCRIPTD_TEST_HIDDEN\"\n",
        dir.path().display()
    ));
    let input: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let cat = app.run(json!({"name": "cat", "stdin": input})).await;
    let env = app.run(json!({"name": "env"})).await;
    app.wait_done(&cat).await;
    app.wait_done(&env).await;
    let log = app.log(&cat).await;
    assert!(
        log == input,
        "stdin passed through unchanged ({} bytes logged)",
        log.len()
    );
    let log = app.log(&env).await;
    let home = std::env::var("HOME").unwrap_or_default();
    let expected = format!(
        "{}\nhi_{home} x\nhidden=\n",
        dir.path().canonicalize().expect("dir").display()
    );
    assert_eq!(log, expected);
}

#[actix_web::test]
async fn hostile_arguments_reach_the_script_literally() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("dir");
    let marker = dir.path().join("pwned");
    app.exectab("args /usr/bin/printf %s| @@1 @@2 @@3 @@4 @@5 @@6\n");
    let m = marker.display();
    let hostile = vec![
        format!("$(touch {m})"),
        format!("; touch {m}"),
        format!("`touch {m}`"),
        format!("a\ntouch {m}"),
        "'quoted' \"double\"".to_owned(),
        "@@1".to_owned(),
    ];
    let id = app.run(json!({"name": "args", "args": hostile})).await;
    app.wait_done(&id).await;
    let log = app.log(&id).await;
    let expected = format!(
        "{}|{}|{}|{}|{}|{}|",
        hostile[0], hostile[1], hostile[2], hostile[3], hostile[4], hostile[5]
    );
    assert_eq!(log.trim_end(), expected);
    assert!(!marker.exists(), "no shell ran the arguments");
}

#[actix_web::test]
async fn runs_as_nobody_have_nobodys_real_ids() {
    if !root_or_skip("runs_as_nobody_have_nobodys_real_ids") {
        return;
    }
    let app = spawn_app().await;
    app.exectab("-u=nobody who /bin/sh -c \"id -u; id -ru; id -g; grep ^Uid /proc/self/status\"\n-u=no_such_user_x bad /bin/true\n");
    let id = app.run(json!({"name": "who"})).await;
    let done = app.wait_done(&id).await;
    assert_eq!(done.outcome, Outcome::Success, "{done}");
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("lookup")
        .expect("nobody exists");
    let log = app.log(&id).await;
    let lines: Vec<&str> = log.lines().collect();
    let uid = nobody.uid.to_string();
    assert_eq!(
        &lines[..3],
        &[uid.as_str(), uid.as_str(), nobody.gid.to_string().as_str()]
    );
    assert!(
        lines[3].split_whitespace().skip(1).all(|v| v == uid),
        "real, effective, saved: {}",
        lines[3]
    );
    let group = nix::unistd::Group::from_name("nogroup")
        .expect("lookup")
        .expect("nogroup exists");
    let gid = group.gid.to_string();
    app.exectab("-g=nogroup grp /bin/sh -c \"id -u; id -g; id -rg; id -G\"\n");
    let id = app.run(json!({"name": "grp"})).await;
    assert_eq!(app.wait_done(&id).await.outcome, Outcome::Success);
    let log = app.log(&id).await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        vec!["0", gid.as_str(), gid.as_str(), gid.as_str()],
        "-g alone: uid kept, only that group"
    );
    app.exectab("-u=no_such_user_x bad /bin/true\n");
    let bad = app.run(json!({"name": "bad"})).await;
    let done = app.wait_done(&bad).await;
    assert_eq!(done.outcome, Outcome::StartFailed);
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_user_x")),
        "{done}"
    );
}
