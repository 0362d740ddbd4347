//! The `migrate` subcommand: the migration tools run through the server's
//! own call pipeline (validation, SQL safety rails, confirmation, audit log,
//! secret scrubbing), one action per tool:
//!
//! | action | tool |
//! |---|---|
//! | `list` | `list_migrations` |
//! | `new` | `create_migration` |
//! | `up` | `apply_pending_migrations` |
//! | `down` | `rollback_migration` |
//! | `dry-run` | `dry_run_migration` |
//! | `validate` | `validate_migrations` |
//! | `repair` | `repair_migration_history` |
//!
//! `--yes` stands in for the confirmation of `up`, `down` and `repair`;
//! without it they change nothing and the refusal shows what they would do.
//! Prints the result envelope as JSON. The command succeeds when the tool
//! did: `validate` also fails when it found errors, `dry-run` when the SQL
//! failed, and `down` when nothing was rolled back for want of a down
//! migration.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::cli::{MigrateArgs, MigrateCommand};
use crate::config::Config;
use crate::groups::Group;
use crate::migrations::files::{check_version, version_key};
use crate::result::{ErrorCode, ToolError};
use crate::server::State;
use crate::server::catalog::CatalogError;

/// The state with the `migrations` group switched on (`list_migrations`
/// is in `database`, which is always on).
pub fn state(config: Config) -> Result<Arc<State>, CatalogError> {
    super::state_with(config, Group::Migrations)
}

/// `supabase-mcp migrate ...`: the envelope to print and whether the
/// command succeeded.
pub async fn migrate(state: &Arc<State>, a: MigrateArgs) -> (Value, bool) {
    let instance = a.instance;
    let with_instance = |mut args: Value| {
        if let Some(i) = &instance {
            args["instance"] = json!(i);
        }
        args
    };
    match a.action {
        MigrateCommand::List => {
            let (env, _) = call(state, "list_migrations", with_instance(json!({}))).await;
            ok_if(env, |_| true)
        }
        MigrateCommand::New(n) => {
            if n.sql_file.as_deref() == Some(Path::new("-"))
                && n.down_file.as_deref() == Some(Path::new("-"))
            {
                return failed(
                    ToolError::invalid(
                        "--sql-file and --down-file cannot both read standard input",
                    )
                    .suggestion("Give one of them as a file path or inline (--sql, --down)."),
                );
            }
            let sql = match sql_input("--sql", n.sql, n.sql_file.as_deref()).await {
                Ok(s) => s,
                Err(e) => return failed(e),
            };
            let down = match sql_input("--down", n.down, n.down_file.as_deref()).await {
                Ok(s) => s,
                Err(e) => return failed(e),
            };
            let mut args = json!({"name": n.name});
            for (k, v) in [
                ("sql", sql),
                ("down", down),
                ("version", n.version),
                ("down_style", n.down_style),
            ] {
                if let Some(v) = v {
                    args[k] = json!(v);
                }
            }
            let (env, _) = call(state, "create_migration", with_instance(args)).await;
            ok_if(env, |_| true)
        }
        MigrateCommand::Up(u) => {
            let mut args = json!({});
            if let Some(v) = &u.to_version {
                args["to_version"] = json!(v);
            }
            if u.batch {
                args["mode"] = json!("batch");
            }
            let args = with_instance(args);
            if u.yes {
                let (env, _) = confirmed(state, "apply_pending_migrations", args).await;
                return ok_if(env, |_| true);
            }
            let (env, token) = call(state, "apply_pending_migrations", args).await;
            if token.is_none() {
                return ok_if(env, |_| true);
            }
            // Refused: show what would run, or finish when nothing would.
            match pending(state, instance.as_deref(), u.to_version.as_deref()).await {
                Some(list) if list.is_empty() => ok_if(
                    json!({"status": "ok", "data": {"applied": [], "message": "nothing pending"}}),
                    |_| true,
                ),
                preview => refuse(env, preview.map(|l| json!({ "would_apply": l }))),
            }
        }
        MigrateCommand::Down(d) => {
            let mut args = json!({});
            if let Some(n) = d.last {
                args["last"] = json!(n);
            }
            if let Some(v) = &d.to_version {
                args["to_version"] = json!(v);
            }
            let args = with_instance(args);
            let reverted_something = |data: &Value| {
                data["no_down_migration"]
                    .as_array()
                    .is_none_or(|a| a.is_empty())
            };
            if d.yes {
                let (env, _) = confirmed(state, "rollback_migration", args).await;
                return ok_if(env, reverted_something);
            }
            let (env, token) = call(state, "rollback_migration", args).await;
            if token.is_none() {
                return ok_if(env, reverted_something);
            }
            match to_revert(state, instance.as_deref(), d.last, d.to_version.as_deref()).await {
                Some(list) if list.is_empty() => ok_if(
                    json!({"status": "ok", "data": {"reverted": [], "message": "nothing to roll back"}}),
                    |_| true,
                ),
                preview => refuse(env, preview.map(|l| json!({ "would_revert": l }))),
            }
        }
        MigrateCommand::DryRun(r) => {
            let args = match (r.sql, r.target) {
                (Some(sql), _) => json!({"query": sql}),
                (None, Some(t)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                    json!({"version": t})
                }
                (None, Some(t)) => match read_file("the dry run's file", Path::new(&t)).await {
                    Ok(sql) => json!({"query": sql}),
                    Err(e) => {
                        return failed(e.suggestion(
                            "Give a local migration's version (digits; `migrate list` shows them), the path of an SQL file, or --sql.",
                        ));
                    }
                },
                (None, None) => {
                    return failed(
                        ToolError::invalid("nothing to try")
                            .suggestion("Give a local migration's version, an SQL file, or --sql."),
                    );
                }
            };
            let (env, _) = call(state, "dry_run_migration", with_instance(args)).await;
            ok_if(env, |data| data["ok"] != json!(false))
        }
        MigrateCommand::Validate => {
            let (env, _) = call(state, "validate_migrations", with_instance(json!({}))).await;
            ok_if(env, |data| data["valid"] == json!(true))
        }
        MigrateCommand::Diff(d) => {
            let mut args = json!({"schemas": d.schemas});
            if let Some(s) = &d.source {
                args["source"] = json!(s);
            }
            if let Some(t) = &d.target {
                args["target"] = json!(t);
            }
            let tool = match &d.write {
                Some(name) => {
                    args["name"] = json!(name);
                    if let Some(v) = &d.version {
                        args["version"] = json!(v);
                    }
                    "generate_migration_from_diff"
                }
                None => {
                    if d.source.is_none() && d.target.is_none() {
                        args["source"] = json!("migrations");
                    }
                    "diff_schemas"
                }
            };
            let (env, _) = call(state, tool, with_instance(args)).await;
            ok_if(env, |_| true)
        }
        MigrateCommand::Repair(r) => {
            let args = with_instance(json!({"versions": r.versions, "status": r.status}));
            if r.yes {
                let (env, _) = confirmed(state, "repair_migration_history", args).await;
                return ok_if(env, |_| true);
            }
            let (env, _) = call(state, "repair_migration_history", args).await;
            refuse(env, None)
        }
    }
}

/// Runs one tool call; returns the envelope and, when the call asks for
/// confirmation, its token.
async fn call(state: &Arc<State>, tool: &str, args: Value) -> (Value, Option<Value>) {
    let args: Map<String, Value> = match args {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let envelope = super::run_tool(state, tool, args).await;
    let token = (envelope["status"] == "confirmation_required")
        .then(|| envelope["data"]["confirmation_token"].clone());
    (envelope, token)
}

/// Runs a call that may need confirmation, confirming it (`--yes`).
async fn confirmed(state: &Arc<State>, tool: &str, args: Value) -> (Value, Option<Value>) {
    let (envelope, token) = call(state, tool, args.clone()).await;
    match token {
        Some(token) => {
            let mut again = args;
            again["confirmation_token"] = token;
            call(state, tool, again).await
        }
        None => (envelope, None),
    }
}

/// The refusal of a call that asked for confirmation and got no `--yes`,
/// with a preview of what it would do; any other envelope as it is.
fn refuse(envelope: Value, preview: Option<Value>) -> (Value, bool) {
    if envelope["status"] != "confirmation_required" {
        return ok_if(envelope, |_| true);
    }
    let action = envelope["data"]["action"]
        .as_str()
        .unwrap_or("this changes the database")
        .to_owned();
    let mut out = json!({
        "status": "error",
        "error": {
            "code": "confirmation_required",
            "message": format!("{action}: pass --yes to go ahead"),
            "reason": "nothing was changed",
            "suggestion": "Check what it would do (in `data` when known, `migrate list`, `migrate dry-run`), then run the same command with --yes.",
        }
    });
    if let Some(p) = preview {
        out["data"] = p;
    }
    (out, false)
}

/// The envelope and whether the command succeeded: status `ok` and
/// `accept(data)`.
fn ok_if(envelope: Value, accept: impl Fn(&Value) -> bool) -> (Value, bool) {
    let ok = envelope["status"] == "ok" && accept(&envelope["data"]);
    (envelope, ok)
}

fn failed(e: ToolError) -> (Value, bool) {
    (json!({"status": "error", "error": e}), false)
}

/// The SQL of `--sql`/`--down`, or of their `-file` variant.
async fn sql_input(
    flag: &str,
    inline: Option<String>,
    file: Option<&Path>,
) -> Result<Option<String>, ToolError> {
    match (inline, file) {
        (Some(s), _) => Ok(Some(s)),
        (None, Some(p)) => read_file(&format!("{flag}-file"), p).await.map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads a file, or standard input for `-`.
async fn read_file(what: &str, path: &Path) -> Result<String, ToolError> {
    if path == Path::new("-") {
        let read = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s)
        })
        .await;
        return match read {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(ToolError::new(
                ErrorCode::Io,
                format!("cannot read {what} from standard input: {e}"),
            )
            .suggestion("Pipe UTF-8 SQL into the command, or give a file path.")),
            Err(e) => Err(ToolError::internal(format!(
                "reading standard input stopped: {e}"
            ))),
        };
    }
    tokio::fs::read_to_string(path).await.map_err(|e| {
        ToolError::new(
            ErrorCode::Io,
            format!("cannot read {what} {}: {e}", path.display()),
        )
        .suggestion("Check the path (relative paths start at the current directory) and that the file is UTF-8 text.")
    })
}

/// The rows of `list_migrations`, or `None` when it failed.
async fn listing(state: &Arc<State>, instance: Option<&str>) -> Option<Vec<Value>> {
    let mut args = json!({});
    if let Some(i) = instance {
        args["instance"] = json!(i);
    }
    let (env, _) = call(state, "list_migrations", args).await;
    if env["status"] != "ok" {
        return None;
    }
    env["data"]["migrations"].as_array().cloned()
}

fn brief(row: &Value, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = row.get(*k) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// What `up` would apply: the pending files up to `to_version`; `None`
/// when unknown (the tool itself explains an invalid version).
async fn pending(
    state: &Arc<State>,
    instance: Option<&str>,
    to_version: Option<&str>,
) -> Option<Vec<Value>> {
    if to_version.is_some_and(|t| check_version(t).is_err()) {
        return None;
    }
    let rows = listing(state, instance).await?;
    Some(
        rows.iter()
            .filter(|r| r["status"] == "pending")
            .filter(|r| {
                let v = r["version"].as_str().unwrap_or_default();
                to_version.is_none_or(|t| version_key(v) <= version_key(t))
            })
            .map(|r| brief(r, &["version", "name"]))
            .collect(),
    )
}

/// What `down` would revert: the newest `last` applied versions, or those
/// after `to_version`, newest first; `None` when unknown (the tool itself
/// explains a `last` of 0 or a version that is not applied).
async fn to_revert(
    state: &Arc<State>,
    instance: Option<&str>,
    last: Option<u32>,
    to_version: Option<&str>,
) -> Option<Vec<Value>> {
    if last == Some(0) {
        return None;
    }
    let rows = listing(state, instance).await?;
    if let Some(t) = to_version
        && !rows
            .iter()
            .any(|r| r["version"] == t && r["status"] != "pending")
    {
        return None;
    }
    let applied = rows
        .iter()
        .rev()
        .filter(|r| r["status"] != "pending")
        .map(|r| brief(r, &["version", "name", "has_down"]));
    Some(match to_version {
        Some(t) => applied
            .filter(|r| version_key(r["version"].as_str().unwrap_or_default()) > version_key(t))
            .collect(),
        None => applied.take(last.unwrap_or(1) as usize).collect(),
    })
}
