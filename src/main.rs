//! Entry point: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use std::io::IsTerminal;

use scriptd::app::Application;
use scriptd::cli::{self, Cli, Command};
use scriptd::client;

fn main() -> ExitCode {
    // First, while there is one thread: scripts must not inherit these.
    let notifier = scriptd::service::Notifier::from_env();
    // `scriptd --url U status` as well as `scriptd status --url U`.
    let args = client::hoist::hoist(std::env::args_os().collect());
    let cli = match Cli::parse_args(args) {
        Ok(cli) => cli,
        Err(err) => return cli::usage_error(err),
    };
    let printed = match &cli.command {
        Command::Completions { shell } => {
            Some(scriptd::manual::completions(*shell, &mut std::io::stdout()))
        }
        Command::Man { dir: None } => Some(scriptd::manual::man(&mut std::io::stdout())),
        Command::Man { dir: Some(dir) } => Some(scriptd::manual::man_pages(dir).map(|count| {
            println!("wrote {count} man pages to {}", dir.display());
        })),
        _ => None,
    };
    match printed {
        Some(Ok(())) => return ExitCode::SUCCESS,
        // A closed pipe (`scriptd man | head`) is not worth a message.
        Some(Err(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Some(Err(err)) => {
            eprintln!("scriptd: {err}");
            return ExitCode::FAILURE;
        }
        None => {}
    }
    // A client on a packaged install follows the server's own settings.
    let fallback = matches!(
        cli.command,
        Command::Client(_) | Command::History(_) | Command::Events(_)
    )
    .then(|| std::path::Path::new(cli::SYSTEM_CONFIG));
    let config = match cli.global.config_or(fallback) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("scriptd: {err}");
            return ExitCode::from(2);
        }
    };
    scriptd::telemetry::init_with(&config.log);
    // Whatever a command makes in or from the storage (a user's folders,
    // a backup, the database) is its owner's alone, whatever the caller's
    // umask; `serve` gives its scripts the original one back.
    scriptd::actors::process::umask::restrict();
    let system = actix::System::new();
    // Client commands pick their own exit code (`run --wait` passes the run's on).
    let command = match cli.command {
        Command::Client(command) => {
            return system.block_on(scriptd::client::execute(command, &config))
        }
        Command::History(args) => {
            let json = args.remote.json;
            let out = &mut std::io::stdout();
            let done = system.block_on(scriptd::client::history::history(&config, args, out));
            return done.map_or_else(
                |e| client::command::report(&e, json),
                |()| ExitCode::SUCCESS,
            );
        }
        Command::Events(args) => {
            let json = args.remote.json;
            let out = &mut std::io::stdout();
            let done = system.block_on(scriptd::client::history::events(&config, args, out));
            return done.map_or_else(
                |e| client::command::report(&e, json),
                |()| ExitCode::SUCCESS,
            );
        }
        Command::Exectab(cli::ExectabCommand::Check { file }) => {
            return scriptd::check::exectab_check(&config, file.as_deref())
        }
        Command::User(command) => {
            let json = command.json();
            return match system.block_on(cli::user(&config, command)) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(err) => cli::admin_failed(&err, json),
            };
        }
        other => other,
    };
    let result: anyhow::Result<()> = system.block_on(async move {
        match command {
            Command::Serve(args) => {
                let mut config = config;
                args.apply(&mut config);
                serve(config, notifier).await
            }
            // Returned above with their own exit codes.
            Command::Client(_)
            | Command::History(_)
            | Command::Events(_)
            | Command::Exectab(_)
            | Command::User(_)
            | Command::Completions { .. }
            | Command::Man { .. } => Ok(()),
            Command::Admin(cli::AdminCommand::Prune { before, all }) => {
                // Short transactions of its own: fine while a server runs.
                let report = scriptd::retention::prune_storage(&config, &before, all).await?;
                println!("{report}");
                Ok(())
            }
            Command::Admin(cli::AdminCommand::Backup { file }) => {
                println!("{}", scriptd::backup::backup_storage(&config, &file)?);
                Ok(())
            }
            Command::Admin(cli::AdminCommand::MigrateTo { url }) => {
                println!("{}", scriptd::migrate::migrate_to(&config, &url).await?);
                Ok(())
            }
            Command::Admin(cli::AdminCommand::Vacuum) => {
                println!("{}", scriptd::retention::vacuum_storage(&config).await?);
                Ok(())
            }
            Command::Admin(cli::AdminCommand::Rebuild) => {
                cli::existing_storage(&config)?;
                // A running server writes the read model; rebuild only while it is down.
                let _lock = scriptd::lock::lock(&config.storage)?;
                let report = scriptd::events::store::rebuild_at(&config.database()).await?;
                println!("{report}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scriptd: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    config: scriptd::config::Config,
    notifier: scriptd::service::Notifier,
) -> anyhow::Result<()> {
    tracing::info!(version = scriptd::VERSION, "starting scriptd");
    // Caught before the server says it listens: a SIGHUP sent once it
    // does reloads the config (by default it would end the process).
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    // Likewise a SIGTERM or SIGINT sent as soon as it listens stops it
    // gracefully, not by the signal's default.
    let stops = stop_signals();
    let app = Application::build(config).await?;
    // A key on a terminal is read once by a person; anywhere else (a log
    // file, journald) it would be kept forever, so only its file is named.
    if let Some(key) = app
        .admin_key
        .as_ref()
        .filter(|_| std::io::stderr().is_terminal())
    {
        eprintln!("admin API key: {key}");
    }
    notifier.ready(&format!("listening on port {}", app.port()));
    scriptd::service::start_watchdog(&notifier);
    match hangups {
        Ok(hangups) => {
            actix::spawn(reload_on_hangup(hangups, app.reloader()));
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot catch SIGHUP: the config is read at start only")
        }
    }
    app.run_until_stopped(async move {
        shutdown_signal(stops).await;
        notifier.stopping();
    })
    .await
}

/// SIGHUP re-reads the config file's sign-in grants and lifetimes.
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    reloader: scriptd::http::oidc::reload::Reloader,
) {
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the config");
        reloader.reload().await;
    }
}

/// SIGTERM and SIGINT, caught from now on; `None` if they cannot be.
fn stop_signals() -> Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate()).ok()?;
    let int = signal(SignalKind::interrupt()).ok()?;
    Some((term, int))
}

async fn shutdown_signal(
    stops: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
) {
    let Some((mut term, mut int)) = stops else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
