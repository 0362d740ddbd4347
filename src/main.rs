//! The `supabase-mcp` binary: parses the command line, sets up logging on
//! stderr, and runs a subcommand. Errors end here (anyhow) with a non-zero exit.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use supabase_mcp::cli::{Cli, Command, ServeArgs, ToolsArgs};
use supabase_mcp::commands;
use supabase_mcp::config::Config;
use supabase_mcp::server::State;
use supabase_mcp::transport::{http, stdio};

fn main() -> ExitCode {
    let cli = Cli::parse();
    supabase_mcp::logging::init(cli.opts.log_level.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut opts = cli.opts;
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let cluster = if args.demo {
                let c = commands::demo::start_cluster().await?;
                opts.db_url = Some(c.url());
                eprintln!(
                    "• demo database ready; serving MCP (stop with Ctrl-C or by closing stdin)"
                );
                Some(c)
            } else {
                None
            };
            let config = Config::from_options(&opts).context("invalid configuration")?;
            supabase_mcp::logging::set_redactor(config.redactor.clone());
            let state = State::new(config)?;
            let stop_schedule = tokio_util::sync::CancellationToken::new();
            if let Some(schedule) = state.config.backup.schedule.clone() {
                eprintln!(
                    "• scheduled backups every {}s into {}",
                    schedule.every.as_secs(),
                    state.config.backup.dir.display()
                );
                supabase_mcp::backup::schedule::spawn(
                    state.clone(),
                    schedule,
                    stop_schedule.clone(),
                );
            }
            let wal_archiver = state.config.backup.wal.clone().map(|w| {
                eprintln!(
                    "• archiving WAL into {} (slot {})",
                    w.archive_dir.display(),
                    w.slot
                );
                supabase_mcp::backup::wal::spawn_for_serve(state.clone(), w, stop_schedule.clone())
            });
            let spill = state.spill.clone();
            tokio::task::spawn_blocking(move || spill.cleanup());
            let served = if opts.http {
                http::serve(
                    state,
                    http::HttpOptions {
                        no_auth: opts.http_no_auth,
                    },
                )
                .await
                .map_err(anyhow::Error::from)
            } else {
                stdio::serve(state).await.map_err(anyhow::Error::from)
            };
            stop_schedule.cancel();
            if let Some(h) = wal_archiver {
                // pg_receivewal flushes and exits on SIGINT.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), h).await;
            }
            if let Some(c) = cluster {
                c.stop().await?;
            }
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => {
            let config = Config::from_options(&opts).context("invalid configuration")?;
            supabase_mcp::logging::set_redactor(config.redactor.clone());
            let checks = commands::doctor::run(&config).await;
            print!("{}", commands::doctor::render(&checks));
            Ok(if checks.iter().all(|c| c.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Tools(ToolsArgs { json }) => {
            let config = Config::from_options(&opts).context("invalid configuration")?;
            let state = State::new(config)?;
            print!("{}", commands::tools::report(&state, json));
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            commands::demo::run().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(cmd) => {
            let config = Config::from_options(&opts).context("invalid configuration")?;
            supabase_mcp::logging::set_redactor(config.redactor.clone());
            let state = commands::backup::state(config)?;
            let (out, ok) = commands::backup::backup(&state, cmd).await;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Migrate(args) => {
            let config = Config::from_options(&opts).context("invalid configuration")?;
            supabase_mcp::logging::set_redactor(config.redactor.clone());
            let state = commands::migrate::state(config)?;
            let (out, ok) = commands::migrate::migrate(&state, args).await;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Login(args) => commands::login::login(args, &opts).await,
        Command::Logout(args) => commands::login::logout(args, &opts).await,
        Command::Env(cmd) => commands::env::env(cmd).await,
        Command::Jwt(cmd) => commands::env::jwt(cmd).await,
        Command::Restore(args) => {
            let config = Config::from_options(&opts).context("invalid configuration")?;
            supabase_mcp::logging::set_redactor(config.redactor.clone());
            let state = commands::backup::state(config)?;
            let (out, ok) = commands::backup::restore(&state, args).await;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
