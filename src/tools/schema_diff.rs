//! Schema diff tools over [`crate::schema`] (group `migrations`):
//! `diff_schemas` (the ordered migration between two databases) and
//! `generate_migration_from_diff` (that migration written as a new file,
//! with the inverse as its down migration). Also the inverse a rollback
//! proposes for a migration that has no down migration
//! ([`proposed_inverse`]).
//!
//! Each side of a comparison is this call's instance, a configured
//! instance's name, a database URL, or `migrations`: the local migrations
//! directory applied, in version order, to a scratch database created on
//! the other side's server (with the Supabase-managed schemas' definitions
//! copied in first, so migrations that reference `auth.users` apply) and
//! dropped afterwards on every path.

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_postgres::Client;

use super::migrations::{connect_target, dir, files_error};
use super::{Kind, ToolDef, tool};
use crate::db::connstr::ConnParams;
use crate::groups::Group;
use crate::migrations::files::{self, DownStyle, MigrationFile};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::schema::{self, Catalog, Plan, Scope};
use crate::server::call::Call;

/// The side name that means "the local migrations directory".
const MIGRATIONS: &str = "migrations";

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("diff_schemas", Group::Migrations, Kind::Read)
            .title("Diff two database schemas")
            .description("The ordered SQL that turns `source`'s schema into `target`'s: schemas, extensions, types, sequences, tables, columns, constraints, indexes, views, functions, triggers, RLS and policies, grants, default privileges, comments, publications. Each side (default: this instance): an instance name, a database URL, or `migrations` (the local migration files applied to a scratch database). Destructive steps are marked. Runs nothing on either side.")
            .handler(diff_schemas),
        tool("generate_migration_from_diff", Group::Migrations, Kind::Write)
            .title("Write a migration from a schema diff")
            .description("Writes the diff from `source` (default: `migrations`, the local files) to `target` (default: this instance) as a new migration file, with the inverse diff as its down migration. Applies nothing.")
            .handler(generate_migration_from_diff),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffArgs {
    /// The schema to start from: an instance name, a database URL, or `migrations` (default: this instance).
    #[serde(default)]
    pub source: Option<String>,
    /// The schema to arrive at: an instance name, a database URL, or `migrations` (default: this instance).
    #[serde(default)]
    pub target: Option<String>,
    /// Schemas to compare (default: every user schema, not the Supabase-managed ones).
    #[serde(default)]
    pub schemas: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateArgs {
    /// Migration name (letters, digits, `_`).
    pub name: String,
    /// Version (digits; default: the current UTC time, yyyymmddhhmmss).
    #[serde(default)]
    pub version: Option<String>,
    /// The schema to start from (default: `migrations`).
    #[serde(default)]
    pub source: Option<String>,
    /// The schema to arrive at (default: this instance).
    #[serde(default)]
    pub target: Option<String>,
    /// Schemas to compare (default: every user schema).
    #[serde(default)]
    pub schemas: Vec<String>,
}

/// A side of a comparison.
enum Side<'a> {
    Here,
    Named(&'a str),
    Migrations,
}

impl<'a> Side<'a> {
    fn parse(value: Option<&'a str>) -> Side<'a> {
        match value.map(str::trim) {
            None | Some("") => Side::Here,
            Some(MIGRATIONS) => Side::Migrations,
            Some(v) => Side::Named(v),
        }
    }
}

fn scope_of(schemas: &[String]) -> Scope {
    Scope {
        schemas: schemas.to_vec(),
        include_managed: false,
    }
}

fn schema_error(e: schema::SchemaError) -> ToolError {
    ToolError::new(ErrorCode::QueryFailed, e.to_string())
}

/// A live database side: its client and its connection parameters.
async fn connect(call: &Call, side: &Side<'_>) -> Result<(Client, ConnParams, String), ToolError> {
    match side {
        Side::Here => {
            let url = call
                .instance
                .db_url
                .as_ref()
                .map(|u| u.expose().to_owned())
                .ok_or_else(|| {
                    ToolError::new(
                        ErrorCode::NotConfigured,
                        format!("instance `{}` has no database URL", call.instance.name),
                    )
                    .suggestion("Start the server with --db-url, or name a `source`.")
                })?;
            let params = ConnParams::parse(&url)
                .map_err(|e| ToolError::invalid(format!("invalid database URL: {e}")))?;
            let (client, masked) = connect_target(call, &url).await?;
            Ok((client, params, masked))
        }
        Side::Named(name) => {
            let url = match call.state.config.instances.iter().find(|i| i.name == *name) {
                Some(inst) => inst.db_url.as_ref().map(|u| u.expose().to_owned()),
                None => Some((*name).to_owned()),
            };
            let (client, masked) = connect_target(call, name).await?;
            let params = url
                .as_deref()
                .and_then(|u| ConnParams::parse(u).ok())
                .ok_or_else(|| ToolError::invalid("invalid database URL"))?;
            Ok((client, params, masked))
        }
        Side::Migrations => Err(ToolError::internal("the migrations side has no connection")),
    }
}

/// The local migration files, refusing an empty directory.
fn local_files(call: &Call) -> Result<Vec<MigrationFile>, ToolError> {
    let (found, _) = files::scan_dir(&dir(call)).map_err(files_error)?;
    Ok(found)
}

/// Reads the catalogs of both sides. At most one side is `migrations`.
async fn catalogs(
    call: &Call,
    source: Side<'_>,
    target: Side<'_>,
    scope: &Scope,
) -> Result<(Catalog, Catalog, String, String), ToolError> {
    match (&source, &target) {
        (Side::Migrations, Side::Migrations) => Err(ToolError::invalid(
            "`source` and `target` are both `migrations`",
        )
        .suggestion("Compare the migrations directory with a database: name an instance or a URL on one side.")),
        (Side::Migrations, other) | (other, Side::Migrations) => {
            let (client, params, name) = connect(call, other).await?;
            let live = schema::load(&client, scope).await.map_err(schema_error)?;
            let files = local_files(call)?;
            let scratch = scratch_catalog(call, &client, &params, &files, None, scope).await?;
            let label = format!("migrations ({} files)", files.len());
            if matches!(source, Side::Migrations) {
                Ok((scratch.after, live, label, name))
            } else {
                Ok((live, scratch.after, name, label))
            }
        }
        _ => {
            let (a, _, a_name) = connect(call, &source).await?;
            let (b, _, b_name) = connect(call, &target).await?;
            let from = schema::load(&a, scope).await.map_err(schema_error)?;
            let to = schema::load(&b, scope).await.map_err(schema_error)?;
            Ok((from, to, a_name, b_name))
        }
    }
}

fn plan_json(plan: &Plan, source: &str, target: &str) -> Value {
    let mut by_kind = serde_json::Map::new();
    for s in &plan.steps {
        let n = by_kind.get(s.kind).and_then(Value::as_u64).unwrap_or(0);
        by_kind.insert(s.kind.to_string(), json!(n + 1));
    }
    let destructive: Vec<Value> = plan
        .steps
        .iter()
        .filter(|s| s.destructive)
        .map(|s| json!({"kind": s.kind, "object": s.object, "sql": s.sql}))
        .collect();
    json!({
        "source": source,
        "target": target,
        "identical": plan.is_empty(),
        "steps": plan.steps.len(),
        "steps_by_kind": by_kind,
        "destructive": destructive,
        "needs_commit": plan.steps.iter().filter(|s| s.needs_commit).count(),
        "script": plan.script(),
    })
}

async fn diff_schemas(call: Call, a: DiffArgs) -> Result<ToolOutput, ToolError> {
    if a.source.is_none() && a.target.is_none() {
        return Err(ToolError::invalid("name a `source` or a `target` to compare this instance with")
            .suggestion("For example {\"source\": \"migrations\"} (the local files) or {\"target\": \"<instance or URL>\"}."));
    }
    let scope = scope_of(&a.schemas);
    let (from, to, source, target) = catalogs(
        &call,
        Side::parse(a.source.as_deref()),
        Side::parse(a.target.as_deref()),
        &scope,
    )
    .await?;
    let plan = schema::diff(&from, &to);
    let mut out = ToolOutput::untrusted(plan_json(&plan, &source, &target));
    if plan.destructive_count() > 0 {
        out = out.warn(format!(
            "{} step(s) drop objects or may lose data; they are marked `-- destructive` in the script",
            plan.destructive_count()
        ));
    }
    Ok(out)
}

async fn generate_migration_from_diff(
    call: Call,
    a: GenerateArgs,
) -> Result<ToolOutput, ToolError> {
    let name = files::sanitize_name(&a.name).map_err(files_error)?;
    let version = match &a.version {
        Some(v) => {
            files::check_version(v).map_err(files_error)?;
            v.clone()
        }
        None => files::new_version(chrono::Utc::now()),
    };
    let scope = scope_of(&a.schemas);
    let source = Side::parse(Some(a.source.as_deref().unwrap_or(MIGRATIONS)));
    let target = Side::parse(a.target.as_deref());
    let (from, to, source_name, target_name) = catalogs(&call, source, target, &scope).await?;
    let plan = schema::diff(&from, &to);
    if plan.is_empty() {
        return Ok(ToolOutput::untrusted(json!({
            "written": false,
            "source": source_name,
            "target": target_name,
            "message": "no differences: no migration written",
        })));
    }
    let inverse = schema::diff(&to, &from);
    let up = plan.script();
    let down = inverse.script();
    let directory = dir(&call);
    let path = match files::write_new(
        &directory,
        &version,
        &name,
        &up,
        Some(&down),
        DownStyle::Block,
    ) {
        Ok(p) => p,
        // A down script that cannot stay one comment goes to down/.
        Err(_) => files::write_new(
            &directory,
            &version,
            &name,
            &up,
            Some(&down),
            DownStyle::File,
        )
        .map_err(files_error)?,
    };
    let mut data = plan_json(&plan, &source_name, &target_name);
    data["written"] = json!(true);
    data["version"] = json!(version);
    data["name"] = json!(name);
    data["path"] = json!(path.display().to_string());
    data["down_steps"] = json!(inverse.steps.len());
    let mut out = ToolOutput::untrusted(data);
    if plan.destructive_count() > 0 {
        out = out.warn(format!(
            "the migration has {} destructive step(s); review it before applying",
            plan.destructive_count()
        ));
    }
    Ok(out)
}

/// Catalogs of a scratch database: `before` once the migrations older than
/// `split` are applied (with `split`, else none), `after` once all are.
pub(crate) struct Scratch {
    pub before: Option<Catalog>,
    pub after: Catalog,
}

/// Creates a scratch database on `reference`'s server, copies the
/// definitions of the Supabase-managed schemas `reference` has, applies
/// `migrations` in order (reading the catalog before `split` when given),
/// and drops it again on every path.
pub(crate) async fn scratch_catalog(
    call: &Call,
    reference: &Client,
    params: &ConnParams,
    migrations: &[MigrationFile],
    split: Option<&str>,
    scope: &Scope,
) -> Result<Scratch, ToolError> {
    if call.state.config.read_only {
        return Err(ToolError::new(
            ErrorCode::ReadOnly,
            "comparing with the migrations directory needs a scratch database, and the server is read-only",
        )
        .suggestion("Compare two databases instead, or run the server without --read-only."));
    }
    let db = format!("smcp_scratch_{:016x}", rand::random::<u64>());
    reference
        .batch_execute(&format!("CREATE DATABASE {}", crate::pg::quote_ident(&db)))
        .await
        .map_err(|e| {
            ToolError::new(ErrorCode::QueryFailed, "cannot create the scratch database for the migrations")
                .reason(crate::pg::describe_error(&e))
                .suggestion("Connect as a role with CREATEDB (the `postgres` role has it), or compare two databases.")
        })?;
    let result = fill_scratch(call, reference, params, &db, migrations, split, scope).await;
    let dropped = reference
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            crate::pg::quote_ident(&db)
        ))
        .await;
    let scratch = result?;
    if let Err(e) = dropped {
        tracing::warn!(database = %db, error = %crate::pg::describe_error(&e), "the scratch database was not dropped");
    }
    Ok(scratch)
}

async fn fill_scratch(
    call: &Call,
    reference: &Client,
    params: &ConnParams,
    db: &str,
    migrations: &[MigrationFile],
    split: Option<&str>,
    scope: &Scope,
) -> Result<Scratch, ToolError> {
    let mut scratch_params = params.clone();
    scratch_params
        .set("dbname", db)
        .map_err(|e| ToolError::internal(e.to_string()))?;
    copy_managed_schemas(call, reference, params, &scratch_params).await?;
    let tls = crate::db::tls::connector(&scratch_params)
        .map_err(|e| ToolError::new(ErrorCode::ConnectionFailed, e.to_string()))?;
    let (client, conn) = scratch_params
        .to_pg_config()
        .connect(tls)
        .await
        .map_err(|e| {
            ToolError::new(
                ErrorCode::ConnectionFailed,
                "cannot connect to the scratch database",
            )
            .reason(crate::pg::describe_error(&e))
        })?;
    let task = tokio::spawn(conn);
    let mut before = None;
    let result = async {
        for m in migrations {
            if split == Some(m.version.as_str()) {
                before = Some(schema::load(&client, scope).await.map_err(schema_error)?);
            }
            client.batch_execute(&m.up).await.map_err(|e| {
                ToolError::new(
                    ErrorCode::QueryFailed,
                    format!("migration {}_{} fails on a fresh database", m.version, m.name),
                )
                .reason(crate::pg::describe_error(&e))
                .suggestion("Fix the migration file (validate_migrations, dry_run_migration), then diff again.")
            })?;
        }
        schema::load(&client, scope).await.map_err(schema_error)
    }
    .await;
    drop(client);
    let _ = task.await;
    Ok(Scratch {
        before,
        after: result?,
    })
}

/// Copies the definitions (no data) of the Supabase-managed schemas the
/// reference database has into the scratch database.
async fn copy_managed_schemas(
    call: &Call,
    reference: &Client,
    params: &ConnParams,
    scratch: &ConnParams,
) -> Result<(), ToolError> {
    let managed: Vec<String> = schema::MANAGED_SCHEMAS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let present: Vec<String> = reference
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1",
            &[&managed],
        )
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let major: u32 = reference
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .await
        .map_err(|e| ToolError::new(ErrorCode::QueryFailed, crate::pg::describe_error(&e)))?
        .get::<_, i32>(0)
        .max(0) as u32;
    let tools = crate::backup::pgtools::find(call.state.config.backup.pg_bin_dir.as_deref(), major)
        .await
        .map_err(|e| ToolError::new(ErrorCode::NotConfigured, e.to_string()))?;
    let work: &Path = &call.state.config.data_dir.join("scratch");
    let (src, dst) = (params.clone(), scratch.clone());
    let work = work.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crate::transfer::copy_schema(
            &tools,
            &src,
            &dst,
            &present,
            &["public".to_string()],
            None,
            &work,
        )
    })
    .await
    .map_err(|e| ToolError::internal(e.to_string()))?
    .map_err(|e| {
        ToolError::new(
            ErrorCode::QueryFailed,
            "cannot copy the Supabase schemas into the scratch database",
        )
        .reason(e.to_string())
    })
}

/// The differ's inverse of the applied migrations `versions` (oldest
/// first): the local files applied to a scratch database up to the oldest
/// of them, compared with all of them applied. `None` when the local files
/// do not cover them.
pub(crate) async fn proposed_inverse(
    call: &Call,
    versions: &[String],
) -> Result<Option<Plan>, ToolError> {
    let Some(oldest) = versions
        .iter()
        .min_by_key(|v| files::version_key(v))
        .cloned()
    else {
        return Ok(None);
    };
    let local = local_files(call)?;
    let newest = versions.iter().max_by_key(|v| files::version_key(v));
    let upto: Vec<MigrationFile> = local
        .into_iter()
        .filter(|f| newest.is_none_or(|n| files::version_key(&f.version) <= files::version_key(n)))
        .collect();
    if !versions
        .iter()
        .all(|v| upto.iter().any(|f| &f.version == v))
    {
        return Ok(None);
    }
    let (client, params, _) = connect(call, &Side::Here).await?;
    let scratch =
        scratch_catalog(call, &client, &params, &upto, Some(&oldest), &Scope::user()).await?;
    Ok(scratch
        .before
        .map(|before| schema::diff(&scratch.after, &before)))
}
