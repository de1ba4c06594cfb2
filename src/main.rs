//! Entry point: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use scriptd::app::Application;
use scriptd::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    scriptd::telemetry::init();
    let config = match cli.global.config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("scriptd: {err}");
            return ExitCode::from(2);
        }
    };
    let system = actix::System::new();
    // Client commands pick their own exit code (`run --wait` passes the run's on).
    if let Command::Client(command) = cli.command {
        return system.block_on(scriptd::client::execute(command, &config.storage));
    }
    let result: anyhow::Result<()> = system.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                let mut config = config;
                args.apply(&mut config);
                serve(config).await
            }
            // Returned above with its own exit code.
            Command::Client(_) => Ok(()),
            Command::User(command) => {
                println!("{}", cli::user(&config, command).await?);
                Ok(())
            }
            Command::History(args) => {
                let out = &mut std::io::stdout();
                Ok(scriptd::client::history::history(&config.storage, args, out).await?)
            }
            Command::Events(args) => {
                let out = &mut std::io::stdout();
                Ok(scriptd::client::history::events(&config.storage, args, out).await?)
            }
            Command::Admin(cli::AdminCommand::Prune { before, all }) => {
                // Takes the storage lock itself: never while a server runs.
                let report = scriptd::retention::prune_storage(&config, &before, all).await?;
                println!("{report}");
                Ok(())
            }
            Command::Admin(cli::AdminCommand::Rebuild) => {
                // A running server writes the read model; rebuild only while it is down.
                let _lock = scriptd::lock::lock(&config.storage)?;
                let report = scriptd::events::rebuild::rebuild_at(&config.database_path()).await?;
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

async fn serve(config: scriptd::config::Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    if let Some(key) = &app.admin_key {
        println!("admin API key: {key}");
    }
    app.run_until_stopped(shutdown_signal()).await
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
