//! The parse functions: valid input, each error in order, and leniency.

use serde_json::{json, Map, Value};

use super::*;
use crate::http::request::{Method, Transport};

/// A request with `fields` as JSON (typed) fields.
fn json_req(fields: Value) -> ApiRequest {
    let Value::Object(fields) = fields else {
        panic!("fields must be an object");
    };
    ApiRequest {
        method: Method::Get,
        path: "/scripts/v1/x".into(),
        fields,
        key: None,
        peer: None,
        transport: Transport::Http,
        text_fields: Default::default(),
        connection: None,
        session: None,
    }
}

/// A request with `fields` as form/query (text) fields.
fn form_req(fields: Value) -> ApiRequest {
    let mut req = json_req(fields);
    req.text_fields = req.fields.keys().cloned().collect();
    req
}

fn code(err: ApiError) -> String {
    err.code()
}

#[test]
fn run_reads_every_field() {
    let fields = run(&json_req(json!({
        "name": "job", "args": ["a", "12345678901234567890123", true, false],
        "stdin": "in", "queue": 5
    })))
    .unwrap();
    assert_eq!(
        fields.request,
        wire::RunRequest {
            args: vec![
                "a".into(),
                "12345678901234567890123".into(),
                "1".into(),
                "".into()
            ],
            name: "job".into(),
            queue: Some(5),
            stdin: Some("in".into()),
        }
    );
    assert!(fields.args.is_ok() && fields.stdin.is_ok() && fields.queue.is_ok());
}

#[test]
fn run_without_optional_fields_and_with_nulls_is_valid() {
    let fields = run(&json_req(
        json!({"name": "job", "stdin": null, "queue": null}),
    ))
    .unwrap();
    assert_eq!(
        fields.request,
        wire::RunRequest {
            name: "job".into(),
            ..Default::default()
        }
    );
}

#[test]
fn run_refuses_a_missing_or_unusable_name_first() {
    let err = run(&json_req(json!({"args": 1}))).unwrap_err();
    assert_eq!(code(err), "missing_name");
    for name in [json!(3), json!("../x"), json!(null)] {
        let req = json_req(json!({"name": name, "args": 1}));
        let err = run(&req).unwrap_err();
        // An unknown script and an unusable name answer alike.
        let want = if name.is_null() {
            "missing_name"
        } else {
            "invalid_name"
        };
        assert_eq!(code(err), want, "{name}");
    }
}

#[test]
fn run_keeps_each_later_field_error_apart() {
    let fields = run(&json_req(json!({
        "name": "job", "args": [{}], "stdin": 1, "queue": "5"
    })))
    .unwrap();
    assert!(matches!(fields.args, Err(RunError::InvalidArgs)));
    assert!(matches!(fields.stdin, Err(RunError::InvalidStdin)));
    // A JSON string is not an integer; only a form's text is.
    assert!(matches!(fields.queue, Err(RunError::InvalidQueue)));
    let fields = run(&json_req(json!({"name": "job", "args": "a"}))).unwrap();
    assert!(matches!(fields.args, Err(RunError::InvalidArgs)));
    let fields = run(&json_req(json!({"name": "job", "args": ["ok", "a\u{0}b"]}))).unwrap();
    assert!(matches!(fields.args, Err(RunError::InvalidArgs)), "a NUL");
    assert!(fields.stdin.is_ok() && fields.queue.is_ok());
}

#[test]
fn run_takes_a_decimal_queue_from_a_form() {
    let fields = run(&form_req(json!({"name": "job", "queue": " 42 "}))).unwrap();
    assert_eq!(fields.request.queue, Some(42));
    let fields = run(&form_req(json!({"name": "job", "queue": "4x"}))).unwrap();
    assert!(matches!(fields.queue, Err(RunError::InvalidQueue)));
}

#[test]
fn log_reads_an_offset_number_or_text() {
    assert_eq!(log(&json_req(json!({}))).unwrap().offset, None);
    assert_eq!(
        log(&json_req(json!({"offset": 7}))).unwrap().offset,
        Some(7)
    );
    assert_eq!(
        log(&json_req(json!({"offset": "7"}))).unwrap().offset,
        Some(7)
    );
    for bad in [json!(-1), json!("x"), json!(true)] {
        let err = log(&json_req(json!({ "offset": bad }))).unwrap_err();
        assert_eq!(code(err), "invalid_offset", "{bad}");
    }
}

#[test]
fn prefix_must_be_a_string() {
    assert_eq!(
        prefix(&json_req(json!({"prefix": "AbCd"}))).unwrap().prefix,
        "AbCd"
    );
    assert_eq!(
        code(prefix(&json_req(json!({}))).unwrap_err()),
        "missing_prefix"
    );
    assert_eq!(
        code(prefix(&json_req(json!({"prefix": 12}))).unwrap_err()),
        "invalid_prefix"
    );
}

#[test]
fn history_reads_every_field_with_empty_text_as_absent() {
    let staged = history(&form_req(json!({
        "name": "job", "outcome": "", "since": "10", "until": 20, "limit": "5"
    })))
    .unwrap();
    assert!(staged.rest.is_ok());
    assert_eq!(
        staged.request,
        wire::HistoryRequest {
            before: None,
            limit: Some(5),
            name: Some("job".into()),
            outcome: None,
            since: Some(10),
            until: Some(20),
        }
    );
    assert_eq!(page_size(None), 100);
}

#[test]
fn history_refuses_a_bad_name_at_once_and_keeps_the_rest_aside() {
    let err = history(&json_req(json!({"name": "../x", "limit": 0}))).unwrap_err();
    assert_eq!(code(err), "invalid_name");
    for (fields, want) in [
        (json!({"outcome": "nope", "since": "x"}), "invalid_outcome"),
        (json!({"since": "x", "until": "y"}), "invalid_since"),
        (json!({"until": "y", "before": "?"}), "invalid_until"),
        (json!({"before": "?", "limit": 0}), "invalid_before"),
        (json!({"limit": 1001}), "invalid_limit"),
        (json!({"limit": 0}), "invalid_limit"),
    ] {
        let mut fields = fields;
        fields["name"] = json!("job");
        let staged = history(&json_req(fields)).unwrap();
        assert_eq!(staged.request.name.as_deref(), Some("job"));
        assert_eq!(code(staged.rest.unwrap_err()), want);
    }
}

#[test]
fn events_checks_after_limit_and_run_in_order() {
    let id = RunId::new().to_string();
    let request = events(&json_req(json!({"after": "3", "limit": 10, "run": id}))).unwrap();
    assert_eq!(
        request,
        wire::EventsRequest {
            after: Some(3),
            limit: Some(10),
            run: Some(id),
        }
    );
    for (fields, want) in [
        (json!({"after": -1, "limit": 0}), "invalid_after"),
        (json!({"after": "x"}), "invalid_after"),
        (json!({"limit": 0, "run": "x"}), "invalid_limit"),
        (json!({"run": "x"}), "invalid_run"),
    ] {
        assert_eq!(code(events(&json_req(fields)).unwrap_err()), want);
    }
}

fn guest_fields() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "name": "job", "run": true, "cancel": 0, "status": "1", "monitor": "false",
        "expires": "4000000000"
    }) else {
        unreachable!()
    };
    map
}

#[test]
fn guest_create_takes_the_original_spellings() {
    let request = guest_create(&json_req(Value::Object(guest_fields()))).unwrap();
    assert_eq!(
        request,
        wire::GuestCreateRequest {
            cancel: false,
            expires: 4_000_000_000,
            monitor: false,
            name: "job".into(),
            run: true,
            status: true,
        }
    );
}

#[test]
fn guest_create_reports_the_first_failing_field() {
    let order = ["name", "run", "cancel", "status", "monitor", "expires"];
    for (i, field) in order.iter().enumerate() {
        // Every field from this one on is broken: this one decides.
        let mut missing = guest_fields();
        let mut invalid = guest_fields();
        for later in &order[i..] {
            missing.remove(*later);
            // "maybe" is a fine script name but no boolean nor time.
            let bad = if *later == "name" { "../x" } else { "maybe" };
            invalid.insert((*later).into(), json!(bad));
        }
        let err = guest_create(&json_req(Value::Object(missing))).unwrap_err();
        assert_eq!(code(err), format!("missing_{field}"));
        let err = guest_create(&json_req(Value::Object(invalid))).unwrap_err();
        assert_eq!(code(err), format!("invalid_{field}"));
    }
}

#[test]
fn monitor_reads_name_then_keeps_verbose_and_after_aside() {
    let staged = monitor(&json_req(json!({"name": "", "verbose": "1", "after": 9}))).unwrap();
    assert!(staged.rest.is_ok());
    assert_eq!(
        staged.request,
        wire::MonitorRequest {
            after: Some(9),
            name: String::new(),
            verbose: true,
        }
    );
    assert_eq!(
        code(monitor(&json_req(json!({}))).unwrap_err()),
        "missing_name"
    );
    for bad in [json!(1), json!("../x")] {
        let err = monitor(&json_req(json!({"name": bad, "verbose": 5}))).unwrap_err();
        assert_eq!(code(err), "invalid_name");
    }
    for (fields, want) in [
        (
            json!({"name": "job", "verbose": 2, "after": -1}),
            "invalid_verbose",
        ),
        (json!({"name": "job", "after": -1}), "invalid_after"),
        (json!({"name": "job", "after": "x"}), "invalid_after"),
    ] {
        let staged = monitor(&json_req(fields)).unwrap();
        assert_eq!(staged.request.name, "job");
        assert_eq!(code(staged.rest.unwrap_err()), want);
    }
}
