//! Runs one client command: resolves the URL and key, calls the server,
//! prints text or JSON, and picks the exit code (0, the run's code for
//! `run --wait`, 1 for any error).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{json, Value};

use super::api::{Client, GuestRequest, RunRequest};
use super::args::{ClientCommand, GuestCommand, Remote, RunArgs};
use super::display::Display;
use super::error::ClientError;
use super::{render, wait};

/// Runs `command`, printing its output and any error; returns the exit code.
pub async fn execute(command: ClientCommand, storage: &Path) -> ExitCode {
    let result = match client_for(command.remote(), storage) {
        Ok(client) => dispatch(&client, command).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("scriptd: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The key from the flag or environment, else the first-run admin key of
/// a server on this host.
pub fn client_for(remote: &Remote, storage: &Path) -> Result<Client, ClientError> {
    let tls = super::tls::client_config(&remote.url, remote.ca.as_deref(), storage)?;
    if let Some(key) = &remote.api_key {
        return Ok(Client::with_tls(&remote.url, key, tls));
    }
    let path = storage.join("admin.key");
    match std::fs::read_to_string(&path) {
        Ok(key) => Ok(Client::with_tls(&remote.url, key.trim(), tls)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(ClientError::NoKey {
            path: path.display().to_string(),
        }),
        Err(source) => Err(ClientError::Read {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Prints the server's JSON or the text rendering of it.
fn print(json: bool, reply: &Value, text: impl FnOnce(&Value) -> String) {
    if json {
        println!("{reply}");
    } else {
        println!("{}", text(reply));
    }
}

async fn dispatch(client: &Client, command: ClientCommand) -> Result<u8, ClientError> {
    let json = command.remote().json;
    match command {
        ClientCommand::Run(args) => return run(client, args).await,
        ClientCommand::Status { id: Some(id), .. } => {
            print(json, &client.status(&id).await?, render::run_details)
        }
        ClientCommand::Status { id: None, .. } => {
            print(json, &client.status_all().await?, render::status_table)
        }
        ClientCommand::Cancel { id, .. } => print(json, &client.cancel(&id).await?, |_| {
            format!("cancelled {id}")
        }),
        ClientCommand::Kill { id, .. } => {
            print(json, &client.kill(&id).await?, |_| format!("killing {id}"))
        }
        ClientCommand::Log { id, .. } => {
            let log = client.log(&id).await?;
            if json {
                println!("{}", json!({"success": true, "log": log}));
            } else {
                print!("{log}");
            }
        }
        ClientCommand::Monitor { name, verbose, .. } => {
            monitor(client, name.as_deref().unwrap_or(""), verbose, json).await?
        }
        ClientCommand::Guest(guest) => return guest_command(client, guest, json).await,
    }
    Ok(0)
}

async fn run(client: &Client, args: RunArgs) -> Result<u8, ClientError> {
    let request = RunRequest {
        name: args.name,
        args: args.args,
        stdin: args.stdin.as_deref().map(read_stdin).transpose()?,
        queue: args.at,
    };
    if !args.wait {
        let reply = client.run(&request).await?;
        print(args.remote.json, &reply, |r| {
            r.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        });
        return Ok(0);
    }
    let mut display = Display::new(args.remote.json);
    let done = wait::run_and_wait(client, &request, &mut display).await?;
    Ok(render::exit_code(&done))
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

async fn monitor(
    client: &Client,
    name: &str,
    verbose: bool,
    json: bool,
) -> Result<(), ClientError> {
    let mut monitor = client.monitor(name, verbose, None).await?;
    // On stderr, so stdout stays one line per push; tells a person (and the
    // tests) that from now on no push is missed.
    let what = if name.is_empty() {
        "every script"
    } else {
        name
    };
    eprintln!("monitoring {what} (Ctrl-C to stop)");
    while let Some(push) = monitor.next_push().await? {
        print(json, &push, render::push_line);
    }
    Err(ClientError::Closed)
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
        GuestCommand::Delete { id, .. } => print(json, &client.guest_delete(&id).await?, |_| {
            format!("deleted guest {id}")
        }),
    }
    Ok(0)
}
