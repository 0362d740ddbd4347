//! The `backup` and `restore` subcommands: the `backups` tools run through
//! the server's own call pipeline (validation, confirmation, audit log,
//! secret scrubbing), with `--yes` standing in for the confirmation. Prints
//! the result envelope as JSON; the exit code says whether it succeeded.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::backup::{pgtools, service, wal};
use crate::cli::{BackupCommand, RestoreArgs};
use crate::config::Config;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError};
use crate::server::State;
use crate::server::catalog::CatalogError;

/// Runs one tool call; with `confirm`, answers a confirmation request by
/// calling again with its token. Returns the envelope and whether it is ok.
async fn call(state: &Arc<State>, tool: &str, args: Value, confirm: bool) -> (Value, bool) {
    let args: Map<String, Value> = match args {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut envelope = run(state, tool, args.clone()).await;
    if envelope["status"] == "confirmation_required" {
        if !confirm {
            let action = envelope["data"]["action"]
                .as_str()
                .unwrap_or("this")
                .to_owned();
            envelope = json!({
                "status": "error",
                "error": {
                    "code": "confirmation_required",
                    "message": format!("{action}: pass --yes to go ahead"),
                }
            });
            return (envelope, false);
        }
        let mut again = args;
        again.insert(
            "confirmation_token".into(),
            envelope["data"]["confirmation_token"].clone(),
        );
        envelope = run(state, tool, again).await;
    }
    let ok = envelope["status"] == "ok";
    (envelope, ok)
}

async fn run(state: &Arc<State>, tool: &str, args: Map<String, Value>) -> Value {
    super::run_tool(state, tool, args).await
}

/// The state with the `backups` group switched on.
pub fn state(config: Config) -> Result<Arc<State>, CatalogError> {
    super::state_with(config, Group::Backups)
}

/// `supabase-mcp backup ...`.
pub async fn backup(state: &Arc<State>, cmd: BackupCommand) -> (Value, bool) {
    match cmd {
        BackupCommand::Create(a) => {
            let args = json!({
                "type": a.kind,
                "schemas": a.schemas,
                "exclude_schemas": a.exclude_schemas,
                "tables": a.tables,
                "exclude_tables": a.exclude_tables,
                "exclude_supabase_managed": a.exclude_supabase_managed,
                "format": a.format,
                "compression": a.compression,
                "tags": a.tags,
                "include_roles": a.include_roles,
            });
            let mut args = args;
            if a.no_encrypt {
                args["encrypt"] = json!(false);
            }
            call(state, "backup_database", args, false).await
        }
        BackupCommand::List => call(state, "list_backups", json!({}), false).await,
        BackupCommand::Verify { id } => {
            call(state, "verify_backup", json!({"id": id}), false).await
        }
        BackupCommand::Delete { id, yes } => {
            call(state, "delete_backup", json!({"id": id}), yes).await
        }
        BackupCommand::Retention(r) => {
            let mut args = json!({"dry_run": !r.apply});
            for (k, v) in [
                ("keep_last", r.keep_last),
                ("daily", r.daily),
                ("weekly", r.weekly),
                ("monthly", r.monthly),
            ] {
                if let Some(v) = v {
                    args[k] = json!(v);
                }
            }
            if let Some(m) = r.max_age {
                args["max_age"] = json!(m);
            }
            call(state, "apply_retention", args, r.apply).await
        }
        BackupCommand::Base(a) => {
            let mut args = json!({"compression": a.compression, "tags": a.tags});
            if a.no_encrypt {
                args["encrypt"] = json!(false);
            }
            call(state, "create_base_backup", args, false).await
        }
        BackupCommand::Wal => archive_wal(state).await,
        BackupCommand::PitrPlan(a) => match a.prepare {
            Some(dir) => {
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                call(
                    state,
                    "prepare_pitr",
                    json!({"target_time": a.target_time, "data_dir": dir.display().to_string()}),
                    false,
                )
                .await
            }
            None => {
                call(
                    state,
                    "plan_pitr",
                    json!({"target_time": a.target_time}),
                    false,
                )
                .await
            }
        },
    }
}

fn failed(e: ToolError) -> (Value, bool) {
    (json!({"status": "error", "error": e}), false)
}

/// `supabase-mcp backup wal`: the WAL archiver in the foreground until Ctrl-C.
async fn archive_wal(state: &Arc<State>) -> (Value, bool) {
    let cfg = &state.config.backup;
    let archive = wal::archive_dir(cfg);
    let slot = wal::slot_name(cfg);
    let wanted = cfg.wal.as_ref().and_then(|w| w.instance.as_deref());
    let Some(inst) = state.config.instance(wanted) else {
        return failed(ToolError::invalid("no such instance"));
    };
    let conn = match service::direct_params(inst) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let tools = match pgtools::find(cfg.pg_bin_dir.as_deref(), 0).await {
        Ok(t) => t,
        Err(e) => return failed(ToolError::new(ErrorCode::NotConfigured, e.to_string())),
    };
    let reach = wal::reachability(&conn, Some(&tools.psql.path), Some(&slot)).await;
    if !reach.reachable {
        return failed(
            ToolError::new(
                ErrorCode::NotConfigured,
                "WAL is not reachable on this instance",
            )
            .reason(reach.reasons.join("; "))
            .suggestion(reach.suggestion.unwrap_or_default()),
        );
    }
    let Some(receivewal) = tools.pg_receivewal else {
        return failed(
            ToolError::new(ErrorCode::NotConfigured, "pg_receivewal is not installed")
                .suggestion("Install the full PostgreSQL client package, or pass --pg-bin-dir."),
        );
    };
    let opts = wal::ArchiverOptions::new(receivewal.path, conn, archive.clone(), slot.clone());
    let archiver = match wal::WalArchiver::start(opts, |e: &wal::ArchiverEvent| match e {
        wal::ArchiverEvent::Started { pid } => eprintln!("• pg_receivewal running (pid {pid})"),
        wal::ArchiverEvent::SlotFailed {
            error,
            retry_in_secs,
        } => {
            eprintln!("• cannot create the replication slot: {error}; retrying in {retry_in_secs}s")
        }
        wal::ArchiverEvent::Exited {
            status,
            error,
            restart_in_secs,
            ..
        } => {
            eprintln!(
                "• pg_receivewal exited ({status}): {error}; restarting in {restart_in_secs}s"
            )
        }
        wal::ArchiverEvent::Stopped => eprintln!("• stopped"),
    }) {
        Ok(a) => a,
        Err(e) => return failed(wal::tool_error(e)),
    };
    eprintln!(
        "• archiving WAL into {} through slot {slot}; stop with Ctrl-C",
        archive.display()
    );
    let _ = tokio::signal::ctrl_c().await;
    let status = archiver.stop().await;
    let listing = wal::list_archive(&archive, None).ok();
    (
        json!({"status": "ok", "data": {"archiver": status, "archive": listing}}),
        true,
    )
}

/// `supabase-mcp restore ID ...`.
pub async fn restore(state: &Arc<State>, a: RestoreArgs) -> (Value, bool) {
    let mut args = json!({
        "id": a.id,
        "clean": a.clean,
        "no_owner": a.no_owner,
        "jobs": a.jobs,
        "keep_on_failure": a.keep_on_failure,
        "schemas": a.schemas,
        "restore_roles": a.restore_roles,
    });
    if let Some(n) = a.new_database {
        args["new_database"] = json!(n);
    }
    call(state, "restore_backup", args, a.yes).await
}
