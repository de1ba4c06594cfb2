//! Runs one client command: resolves the URL and key, calls the server,
//! prints text or JSON, and picks the exit code (0, the run's code for
//! `run --wait`, 1 for any error). An error is one line on stderr, or with
//! `--json` a JSON object on stdout; the exit code is the same.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use super::api::{Client, GuestRequest, RunRequest};
use super::args::{ClientCommand, GuestCommand, RunArgs, ScheduleCommand};
use super::display::Display;
use super::error::ClientError;
use super::wait::Waited;
use super::{follow, render, run_id, schedules, scripts, status_table, wait};
use crate::config::Config;
use crate::wire::{self, RunStatus, Success};

pub use super::target::client_for;

/// The exit code of `run --wait` left with Ctrl-C (as a shell's 128+SIGINT).
pub const EXIT_DETACHED: u8 = 130;

/// Runs `command`, printing its output and any error; returns the exit code.
pub async fn execute(command: ClientCommand, config: &Config) -> ExitCode {
    let json = command.remote().json;
    let result = match client_for(command.remote(), config) {
        Ok(client) => dispatch(&client, command).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => report(&err, json),
    }
}

/// Prints `err` as the CLI shows errors and returns exit code 1.
pub fn report(err: &ClientError, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string(&err.envelope()).unwrap_or_default()
        );
    } else {
        eprintln!("scriptd: {err}");
    }
    ExitCode::FAILURE
}

/// Prints the server's JSON or the text rendering of it.
pub(super) fn print<T: serde::Serialize>(json: bool, reply: &T, text: impl FnOnce(&T) -> String) {
    if json {
        println!("{}", serde_json::to_string(reply).unwrap_or_default());
    } else {
        println!("{}", text(reply));
    }
}

async fn dispatch(client: &Client, command: ClientCommand) -> Result<u8, ClientError> {
    let json = command.remote().json;
    match command {
        ClientCommand::Run(args) => return run(client, args).await,
        ClientCommand::Status { id: Some(id), .. } => {
            let id = run_id::resolve(client, &id).await?;
            print(json, &client.status(&id).await?, render::run_details)
        }
        ClientCommand::Status { id: None, .. } => {
            let all = client.status_all().await?;
            let details = match json {
                true => Default::default(),
                false => status_details(client, &all).await,
            };
            print(json, &all, |all| status_table::status_table(all, &details))
        }
        ClientCommand::Cancel { id, .. } => {
            let id = run_id::resolve(client, &id).await?;
            let reply = match client.cancel(&id).await {
                Ok(reply) => reply,
                Err(err) if err.is("script_running") => {
                    return Err(
                        err.with_hint(format!("it has started; stop it with `scriptd kill {id}`"))
                    )
                }
                Err(err) => return Err(not_live(client, &id, err).await),
            };
            print(json, &reply, |_| format!("cancelled {id}"))
        }
        ClientCommand::Kill { id, .. } => {
            let id = run_id::resolve(client, &id).await?;
            match client.kill(&id).await {
                Ok(reply) => print(json, &reply, |_| format!("killing {id}")),
                Err(err) => return Err(kill_hint(client, &id, err).await),
            }
        }
        ClientCommand::Log { id, follow, .. } => {
            let id = run_id::resolve(client, &id).await?;
            if follow {
                follow::follow_log(client, &id, &mut std::io::stdout()).await?;
                return Ok(0);
            }
            let log = client.log(&id).await?;
            if json {
                let reply = wire::LogReply {
                    log,
                    success: Success,
                };
                println!("{}", serde_json::to_string(&reply).unwrap_or_default());
            } else {
                print!("{log}");
            }
        }
        ClientCommand::Monitor { name, verbose, .. } => {
            super::monitor::monitor(client, name.as_deref().unwrap_or(""), verbose, json).await?
        }
        ClientCommand::Guest(guest) => return guest_command(client, guest, json).await,
        ClientCommand::Hook(hook) => return super::hooks::hook_command(client, hook, json).await,
        ClientCommand::Scripts { .. } => {
            print(json, &client.scripts().await?, scripts::scripts_table)
        }
        ClientCommand::Schedules { .. } => {
            let now = crate::clock::now();
            let reply = client.schedules().await?;
            print(json, &reply, |r| schedules::schedules_table(r, now))
        }
        ClientCommand::Schedule(command) => {
            let (name, paused) = match command {
                ScheduleCommand::Pause { name, .. } => (name, true),
                ScheduleCommand::Resume { name, .. } => (name, false),
            };
            let reply = client.schedule_pause(&name, paused).await?;
            let verb = if paused { "paused" } else { "resumed" };
            print(json, &reply, |_| format!("{verb} the schedule of {name}"))
        }
    }
    Ok(0)
}

/// Each listed run's status, for the table's details; a run that ended
/// meanwhile, or a table too long to ask about, shows none.
async fn status_details(
    client: &Client,
    all: &wire::StatusList,
) -> std::collections::HashMap<String, RunStatus> {
    let ids = status_table::ids(all);
    let mut details = std::collections::HashMap::new();
    if ids.len() > status_table::MAX_DETAILS {
        return details;
    }
    for id in ids {
        if let Ok(status) = client.status(&id).await {
            details.insert(id, status);
        }
    }
    details
}

/// `kill` of a run that is not running: say what to do for a queued one.
async fn kill_hint(client: &Client, id: &str, err: ClientError) -> ClientError {
    if !err.is("script_not_running") {
        return err;
    }
    match client.status(id).await {
        Ok(RunStatus::Queued(_)) => err.with_hint(format!(
            "it has not started; remove it with `scriptd cancel {id}`"
        )),
        _ => not_live(client, id, err).await,
    }
}

/// A `cancel` or `kill` the server refused as "not queued or running":
/// an unknown id says so, a finished run says it has finished.
async fn not_live(client: &Client, id: &str, err: ClientError) -> ClientError {
    if !(err.is("script_not_queued_running") || err.is("script_not_running")) {
        return err;
    }
    match client.status(id).await {
        Ok(RunStatus::Done(_)) => err.with_hint("it has already finished"),
        Err(unknown @ ClientError::UnknownId { .. }) => unknown,
        _ => err,
    }
}

async fn run(client: &Client, args: RunArgs) -> Result<u8, ClientError> {
    let request = RunRequest {
        name: args.name,
        args: args.args,
        stdin: args.stdin.as_deref().map(read_stdin).transpose()?,
        queue: args.at,
    };
    if !args.wait {
        let reply = match client.run(&request).await {
            Ok(reply) => reply,
            Err(err) => return Err(usage_hint(client, &request.name, err).await),
        };
        print(args.remote.json, &reply, |r| r.id.to_string());
        return Ok(0);
    }
    let mut display = Display::new(args.remote.json);
    match wait::run_and_wait(client, &request, &mut display).await {
        Ok(Waited::Done(done)) => Ok(render::exit_code(&done.body)),
        Ok(Waited::Detached) => Ok(EXIT_DETACHED),
        Err(err) => Err(usage_hint(client, &request.name, err).await),
    }
}

/// Missing arguments name the script's usage (`scriptd run greet A B`).
async fn usage_hint(client: &Client, name: &str, err: ClientError) -> ClientError {
    if !err.is("invalid_args") {
        return err;
    }
    let count = match client.scripts().await {
        Ok(reply) => reply.scripts.get(name).map(scripts::arg_count),
        Err(_) => None,
    };
    match count {
        Some(count) if count > 0 => {
            let names: Vec<String> = (0..count).map(arg_placeholder).collect();
            err.with_hint(format!("usage: scriptd run {name} {}", names.join(" ")))
        }
        _ => err,
    }
}

/// `A`, `B`, … `Z`, then `ARG27`…: one placeholder per `@@N`.
fn arg_placeholder(n: usize) -> String {
    match u8::try_from(n).ok().filter(|n| *n < 26) {
        Some(n) => char::from(b'A' + n).to_string(),
        None => format!("ARG{}", n + 1),
    }
}

fn read_stdin(path: &Path) -> Result<String, ClientError> {
    let name = path.display().to_string();
    let failed = |source| ClientError::Read {
        path: name.clone(),
        source,
    };
    if name == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(failed)?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(failed)
}

/// Fails unless `name` is one of the scripts this key may use.
pub(super) async fn known_script(client: &Client, name: &str) -> Result<(), ClientError> {
    let scripts = client.scripts().await?;
    match scripts.scripts.get(name) {
        Some(_) => Ok(()),
        None => Err(ClientError::UnknownScript {
            name: name.to_owned(),
            server: None,
        }),
    }
}

/// The guest `text` names: a whole id, or the one guest whose id starts
/// or ends with it (as run ids, from `guest list`).
async fn guest_id(client: &Client, text: &str) -> Result<String, ClientError> {
    let part = text.trim().to_ascii_lowercase();
    if part.len() >= 36 || part.len() < 4 {
        return Ok(text.to_owned());
    }
    let guests = client.guest_list().await?.guests;
    let ids: Vec<String> = guests
        .iter()
        .map(|guest| guest.id.to_string())
        .filter(|id| id.starts_with(&part) || (part.len() >= 6 && id.ends_with(&part)))
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Ok(text.to_owned()),
        many => Err(ClientError::AmbiguousId {
            prefix: text.to_owned(),
            matches: many.join(", "),
        }),
    }
}

async fn guest_command(
    client: &Client,
    command: GuestCommand,
    json: bool,
) -> Result<u8, ClientError> {
    match command {
        GuestCommand::Create {
            name,
            run,
            cancel,
            status,
            monitor,
            expires,
            ..
        } => {
            if !(run || cancel || status || monitor) {
                return Err(ClientError::Refused {
                    code: "missing_rights",
                    message: "a guest with no rights could do nothing: give at least one of --run, --cancel, --status, --monitor".into(),
                });
            }
            if expires <= crate::clock::now_secs() {
                return Err(ClientError::Refused {
                    code: "invalid_expires",
                    message: format!(
                        "--expires {} is in the past: a guest key must expire later (+1d, 2030-01-02…)",
                        super::when::show(expires as f64)
                    ),
                });
            }
            known_script(client, &name).await?;
            let request = GuestRequest {
                name,
                run,
                cancel,
                status,
                monitor,
                expires,
            };
            print(
                json,
                &client.guest_create(&request).await?,
                render::guest_created,
            );
        }
        GuestCommand::List { .. } => print(json, &client.guest_list().await?, render::guest_table),
        GuestCommand::Delete { id, .. } => {
            let id = guest_id(client, &id).await?;
            let reply = client.guest_delete(&id).await.map_err(|err| match err {
                ClientError::UnknownId { id, server } => ClientError::UnknownGuest { id, server },
                other => other,
            })?;
            print(json, &reply, |_| format!("deleted guest {id}"))
        }
    }
    Ok(0)
}
