//! The `database` group (always on): instances, table listing and
//! description, SQL execution with the safety rails, and paging through
//! spilled results.

use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Kind, ToolDef, tool};
use crate::db::backend::{Backend, BackendKind, inline_params};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;
use crate::spill::{Format, RowCollector};
use crate::sql::classify::{self, Level};
use crate::sql::run::{self, ExecOptions};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_instances", Group::Database, Kind::Read)
            .title("List instances")
            .description("Configured instances: mode, connections (no secrets).")
            .handler(list_instances),
        tool("list_tables", Group::Database, Kind::Read)
            .title("List tables")
            .description("Tables: row estimate, size, RLS, comment; `verbose` adds columns and keys.")
            .handler(list_tables),
        tool("describe_table", Group::Database, Kind::Read)
            .title("Describe table")
            .description("One table: columns, keys, FKs, indexes, constraints, triggers, policies.")
            .handler(describe_table),
        tool("execute_sql", Group::Database, Kind::Write)
            .title("Execute SQL")
            .description("Run SQL in a transaction; typed rows, `params` bind $1. Destructive SQL needs confirmation.")
            .read_only_capable()
            .idempotent(false)
            .assess(assess_execute_sql)
            .handler(execute_sql),
        tool("get_result_page", Group::Database, Kind::Read)
            .title("Get result page")
            .description("Read rows of a spilled result by result_id.")
            .handler(get_result_page),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

// Shape of `list_instances` data (no doc comment: it would land in the schema).
#[derive(Debug, serde::Serialize, JsonSchema)]
pub struct InstancesOut {
    pub instances: Vec<InstanceOut>,
}

#[derive(Debug, serde::Serialize, JsonSchema)]
pub struct InstanceOut {
    pub name: String,
    /// `cloud` or `self-hosted`.
    pub mode: String,
    pub database: bool,
    pub supabase_url: Option<String>,
    pub service_role_key: bool,
    pub management_api: bool,
    pub project_ref: Option<String>,
    pub dokploy: bool,
}

async fn list_instances(call: Call, _a: NoArgs) -> Result<ToolOutput, ToolError> {
    let instances = call
        .state
        .config
        .instances
        .iter()
        .map(|i| InstanceOut {
            name: i.name.clone(),
            mode: i.mode.name().to_owned(),
            database: i.db_url.is_some(),
            supabase_url: i.supabase_url.clone(),
            service_role_key: i.service_role_key.is_some(),
            management_api: i.access_token.is_some(),
            project_ref: i.project_ref.clone(),
            dokploy: i.dokploy_url.is_some() && i.dokploy_api_key.is_some(),
        })
        .collect();
    let data = serde_json::to_value(InstancesOut { instances })
        .map_err(|e| ToolError::internal(e.to_string()))?;
    Ok(ToolOutput::trusted(data))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTablesArgs {
    /// Default: all non-system schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// SQL LIKE pattern, e.g. `user%`.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Add columns and keys.
    #[serde(default)]
    pub verbose: bool,
    /// Rows to skip (pagination).
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// FROM/WHERE of `list_tables` ($1 schemas, $2 name pattern), shared by the
/// page query and the count past the last page. Partition children are
/// folded into their parent.
const TABLES_FROM: &str = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r','p') AND NOT c.relispartition \
       AND n.nspname NOT IN ('pg_catalog','information_schema','pg_toast','_timescaledb_internal','_timescaledb_catalog','_timescaledb_config','_timescaledb_cache') \
       AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast%' \
       AND ($1::text[] IS NULL OR n.nspname = ANY($1)) \
       AND ($2::text IS NULL OR c.relname LIKE $2)";

async fn list_tables(call: Call, a: ListTablesArgs) -> Result<ToolOutput, ToolError> {
    let limit = a.limit.unwrap_or(100).clamp(1, 1000) as i64;
    let offset = a.offset.unwrap_or(0) as i64;
    let db = call.sql().await?;
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, c.reltuples::bigint AS rows_estimate, \
                pg_total_relation_size(c.oid) AS size_bytes, c.relrowsecurity AS rls, \
                obj_description(c.oid, 'pg_class') AS comment, c.oid, c.relkind::text AS kind, count(*) OVER () AS total \
         {TABLES_FROM} \
         ORDER BY n.nspname, c.relname LIMIT $3 OFFSET $4"
    );
    let rows = db
        .query(&sql, &[&a.schemas, &a.name_pattern, &limit, &offset])
        .await?;
    let total: i64 = match rows.first() {
        Some(r) => r.get("total")?,
        // Past the end: the window count is not available, count separately.
        None if offset > 0 => {
            let count_sql = format!("SELECT count(*) AS total {TABLES_FROM}");
            db.query_one(&count_sql, &[&a.schemas, &a.name_pattern])
                .await?
                .get("total")?
        }
        None => 0,
    };
    let mut tables = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut t = json!({
            "schema": r.get::<String>("schema")?,
            "name": r.get::<String>("name")?,
            "rows_estimate": r.get::<i64>("rows_estimate")?.max(0),
            "size_bytes": r.get::<i64>("size_bytes")?,
            "rls": r.get::<bool>("rls")?,
        });
        if let Some(c) = r.get::<Option<String>>("comment")? {
            t["comment"] = Value::String(c);
        }
        if r.get::<String>("kind")? == "p" {
            t["partitioned"] = Value::Bool(true);
        }
        if a.verbose {
            let oid: u32 = r.get("oid")?;
            t["columns"] = columns(&db, oid).await?;
            t["primary_key"] = primary_key(&db, oid).await?;
            t["foreign_keys"] = foreign_keys(&db, oid, "conrelid").await?;
        }
        tables.push(t);
    }
    let next = (offset + (rows.len() as i64) < total).then_some(offset + rows.len() as i64);
    let mut out = ToolOutput::untrusted(json!({
        "tables": tables,
        "total": total,
        "next_offset": next,
    }));
    note_backend(&db, &mut out);
    Ok(out)
}

/// Says in the warnings when SQL went through an API instead of a direct connection.
pub(crate) fn note_backend(db: &Backend, out: &mut ToolOutput) {
    match db.kind() {
        BackendKind::Direct => {}
        BackendKind::ManagementApi => out.warnings.push(
            "no database URL is configured: ran through the Management API (database/query)".into(),
        ),
        BackendKind::RestRpc => out.warnings.push(
            "no database URL is configured: ran through the REST API (rpc/execute_sql)".into(),
        ),
    }
}

async fn columns(db: &Backend, oid: u32) -> Result<Value, ToolError> {
    let rows = db
        .query(
            "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, \
                    pg_get_expr(d.adbin, d.adrelid) AS default_value, a.attidentity::text AS identity, \
                    a.attgenerated::text AS generated, col_description(a.attrelid, a.attnum) AS comment \
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut c = json!({
            "name": r.get::<String>("name")?,
            "type": r.get::<String>("type")?,
            "nullable": !r.get::<bool>("not_null")?,
        });
        if let Some(d) = r.get::<Option<String>>("default_value")? {
            c["default"] = Value::String(d);
        }
        match r.get::<String>("identity")?.as_str() {
            "a" => c["identity"] = json!("always"),
            "d" => c["identity"] = json!("by default"),
            _ => {}
        }
        if r.get::<String>("generated")? == "s" {
            c["generated"] = json!("stored");
        }
        if let Some(d) = r.get::<Option<String>>("comment")? {
            c["comment"] = Value::String(d);
        }
        out.push(c);
    }
    Ok(Value::Array(out))
}

async fn primary_key(db: &Backend, oid: u32) -> Result<Value, ToolError> {
    let rows = db
        .query(
            "SELECT a.attname::text AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1 AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&oid],
        )
        .await?;
    rows.iter()
        .map(|r| r.get::<String>("name").map(Value::String))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// Foreign keys where the table is `side` (`conrelid`: outgoing, `confrelid`: incoming).
async fn foreign_keys(db: &Backend, oid: u32, side: &str) -> Result<Value, ToolError> {
    let sql = format!(
        "SELECT conname::text AS name, conrelid::regclass::text AS tbl, confrelid::regclass::text AS refs, \
                pg_get_constraintdef(oid) AS definition \
         FROM pg_constraint WHERE contype = 'f' AND {side} = $1 ORDER BY conname"
    );
    let rows = db.query(&sql, &[&oid]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(json!({
            "name": r.get::<String>("name")?,
            "table": r.get::<String>("tbl")?,
            "references": r.get::<String>("refs")?,
            "definition": r.get::<String>("definition")?,
        }));
    }
    Ok(Value::Array(out))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeTableArgs {
    /// Default `public`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Table name.
    #[schemars(example = &"profiles")]
    pub table: String,
}

async fn describe_table(call: Call, a: DescribeTableArgs) -> Result<ToolOutput, ToolError> {
    let schema = a.schema.unwrap_or_else(|| "public".to_owned());
    let db = call.sql().await?;
    let row = db
        .query_opt(
            "SELECT c.oid, c.relkind::text AS kind, c.relrowsecurity AS rls, c.relforcerowsecurity AS rls_forced, \
                    pg_total_relation_size(c.oid) AS size_bytes, c.reltuples::bigint AS rows_estimate, \
                    obj_description(c.oid, 'pg_class') AS comment \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1::text AND c.relname = $2::text AND c.relkind IN ('r','p','v','m','f')",
            &[&schema, &a.table],
        )
        .await?;
    let Some(row) = row else {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!("table `{schema}.{}` does not exist", a.table),
        )
        .suggestion(
            "Use list_tables to see the tables and their schemas; names are case-sensitive.",
        ));
    };
    let oid: u32 = row.get("oid")?;
    let mut indexes = Vec::new();
    for r in &db
        .query(
            "SELECT i.relname::text AS name, pg_get_indexdef(x.indexrelid) AS definition, x.indisunique AS is_unique, \
                    x.indisprimary AS is_primary \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1 ORDER BY i.relname",
            &[&oid],
        )
        .await?
    {
        indexes.push(json!({
            "name": r.get::<String>("name")?, "definition": r.get::<String>("definition")?,
            "unique": r.get::<bool>("is_unique")?, "primary": r.get::<bool>("is_primary")?}));
    }
    let mut constraints = Vec::new();
    for r in &db
        .query(
            "SELECT conname::text AS name, contype::text AS kind, pg_get_constraintdef(oid) AS definition FROM pg_constraint \
             WHERE conrelid = $1 AND contype IN ('p','u','c','x') ORDER BY conname",
            &[&oid],
        )
        .await?
    {
        constraints.push(json!({
            "name": r.get::<String>("name")?,
            "type": match r.get::<String>("kind")?.as_str() { "p" => "primary key", "u" => "unique", "c" => "check", _ => "exclusion" },
            "definition": r.get::<String>("definition")?}));
    }
    let mut triggers = Vec::new();
    for r in &db
        .query(
            "SELECT tgname::text AS name, pg_get_triggerdef(oid) AS definition, tgenabled::text AS enabled \
             FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname",
            &[&oid],
        )
        .await?
    {
        triggers.push(json!({
            "name": r.get::<String>("name")?, "definition": r.get::<String>("definition")?,
            "enabled": r.get::<String>("enabled")? != "D"}));
    }
    let mut policies = Vec::new();
    for r in &db
        .query(
            "SELECT policyname::text AS name, permissive, roles::text[] AS roles, cmd, qual, with_check FROM pg_policies \
             WHERE schemaname = $1::text AND tablename = $2::text ORDER BY policyname",
            &[&schema, &a.table],
        )
        .await?
    {
        policies.push(json!({
            "name": r.get::<String>("name")?, "permissive": r.get::<String>("permissive")? == "PERMISSIVE",
            "roles": r.get::<Vec<String>>("roles")?, "command": r.get::<String>("cmd")?,
            "using": r.get::<Option<String>>("qual")?, "with_check": r.get::<Option<String>>("with_check")?}));
    }
    let mut grants = Vec::new();
    for r in &db
        .query(
            "SELECT grantee::text AS grantee, string_agg(privilege_type, ', ' ORDER BY privilege_type) AS privileges \
             FROM information_schema.role_table_grants \
             WHERE table_schema = $1::text AND table_name = $2::text GROUP BY grantee ORDER BY grantee",
            &[&schema, &a.table],
        )
        .await?
    {
        grants.push(json!({"role": r.get::<String>("grantee")?, "privileges": r.get::<String>("privileges")?}));
    }
    let kind = match row.get::<String>("kind")?.as_str() {
        "r" => "table",
        "p" => "partitioned table",
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        _ => "relation",
    };
    let mut out = ToolOutput::untrusted(json!({
        "schema": schema,
        "name": a.table,
        "kind": kind,
        "comment": row.get::<Option<String>>("comment")?,
        "rls": {"enabled": row.get::<bool>("rls")?, "forced": row.get::<bool>("rls_forced")?},
        "size_bytes": row.get::<i64>("size_bytes")?,
        "rows_estimate": row.get::<i64>("rows_estimate")?.max(0),
        "columns": columns(&db, oid).await?,
        "primary_key": primary_key(&db, oid).await?,
        "indexes": indexes,
        "constraints": constraints,
        "foreign_keys": foreign_keys(&db, oid, "conrelid").await?,
        "referenced_by": foreign_keys(&db, oid, "confrelid").await?,
        "triggers": triggers,
        "policies": policies,
        "grants": grants,
    }));
    note_backend(&db, &mut out);
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteSqlArgs {
    /// SQL (one or more statements).
    #[schemars(example = &"select id, username from public.profiles limit 10")]
    pub query: String,
    /// Values for $1, $2.. (one statement); objects go as JSON text; cast if ambiguous (`$1::int`).
    #[serde(default)]
    #[schemars(example = [json!(42)])]
    pub params: Option<Vec<Value>>,
    /// Force a read-only transaction.
    #[serde(default)]
    pub read_only: bool,
    /// Seconds (default: the server's).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Rows inline (default: the server's limit); the rest spill.
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Spill file format (default `jsonl`).
    #[serde(default)]
    pub spill_format: Option<Format>,
}

pub fn query_error(e: tokio_postgres::Error) -> ToolError {
    run::pg_error(&e)
}

/// `Some(what)` when an `execute_sql` call needs confirmation. SQL that does
/// not parse or is forbidden is refused by the handler, and read-only calls
/// cannot destroy anything, so none of them asks.
fn assess_execute_sql(args: &Map<String, Value>) -> Option<String> {
    if args.get("read_only").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let c = classify::classify(args.get("query")?.as_str()?);
    if matches!(c.level, Level::Invalid | Level::Forbidden) {
        return None;
    }
    c.destructive_reason()
}

/// Cancels queries with the pool's TLS settings.
pub fn canceller(call: &Call) -> run::Canceller {
    let state = call.state.clone();
    let instance = call.instance.clone();
    Arc::new(move |token| {
        let state = state.clone();
        let instance = instance.clone();
        Box::pin(async move {
            if let Err(e) = state.pools.cancel(&instance, &token).await {
                tracing::warn!("{e}");
            }
        })
    })
}

async fn execute_sql(call: Call, a: ExecuteSqlArgs) -> Result<ToolOutput, ToolError> {
    if a.query.trim().is_empty() {
        return Err(
            ToolError::invalid("`query` is empty").suggestion("Pass the SQL to run in `query`.")
        );
    }
    let read_only = call.read_only || a.read_only;
    let cls = classify::classify(&a.query);
    run::check_with(
        &cls,
        read_only,
        a.params.as_deref(),
        call.state.config.allow_forbidden_sql,
    )?;
    let limits = call.limits();
    let max_rows = a
        .max_rows
        .unwrap_or(limits.max_rows)
        .clamp(1, limits.max_rows.max(1));
    let budget = (limits.output_budget_bytes / 2).saturating_sub(2048);
    let backend = call.sql().await?;
    if backend.kind() != BackendKind::Direct {
        return execute_remote(&call, &backend, &a, read_only, max_rows, budget).await;
    }
    drop(backend);
    let (db, info) = call.state.pools.get_with_info(&call.instance).await?;
    let opts = ExecOptions {
        read_only,
        timeout: call.timeout,
        params: a.params,
        pooled: info.pooled,
        canceller: canceller(&call),
        spill: call.spill().clone(),
        format: a.spill_format.unwrap_or(Format::Jsonl),
        max_rows,
        budget,
    };
    let progress_call = call.clone();
    let progress = move |n: u64| -> BoxFuture<'static, ()> {
        let c = progress_call.clone();
        Box::pin(async move { c.progress(n, None, format!("{n} rows read")).await })
    };
    let out = run::execute(db, &a.query, &cls, &opts, &call.cancel, &progress).await?;

    let mut data = json!({
        "columns": out.columns,
        "rows": [],
        "row_count": 0,
        "commands": out.commands,
        "duration_ms": (out.duration.as_secs_f64() * 1e6).round() / 1e3,
        "read_only": read_only,
    });
    if let Some(role) = &out.role {
        data["role"] = json!(role);
    }
    if let Some(notices) = out.notices.filter(|n| !n.is_empty()) {
        data["notices"] = json!(notices);
    }
    let mut warnings = out.warnings;
    if read_only && out.role.is_none() {
        warnings.push(format!(
            "read-only mode used a read-only transaction only: the role {} does not exist or the connected role cannot use it",
            run::READ_ONLY_ROLE
        ));
    }
    if let Some(collected) = out.collected {
        if let Some(spill) = &collected.spill {
            warnings.push(format!(
                "{} rows returned; the first {} are shown, all are in {} (read them with get_result_page)",
                collected.row_count,
                collected.rows.len(),
                spill.path
            ));
        }
        data["rows"] = Value::Array(collected.rows);
        data["row_count"] = json!(collected.row_count);
        data["truncated"] = json!(collected.truncated);
        if let Some(spill) = collected.spill {
            data["spill"] = serde_json::to_value(spill).unwrap_or(Value::Null);
        }
    }
    let mut out = ToolOutput::untrusted(data);
    out.warnings = warnings;
    Ok(out)
}

/// `execute_sql` through the Management API or the REST RPC: the parameters
/// are inlined as literals, the remote side runs the SQL in one transaction
/// (read-only when asked), and the rows it returns go through the same
/// collector (preview, spill file) as a direct result.
async fn execute_remote(
    call: &Call,
    backend: &Backend,
    a: &ExecuteSqlArgs,
    read_only: bool,
    max_rows: usize,
    budget: usize,
) -> Result<ToolOutput, ToolError> {
    let literals: Vec<String> = a
        .params
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(run::literal)
        .collect();
    let sql = inline_params(&a.query, &literals)?;
    let started = std::time::Instant::now();
    let rows = backend.remote_rows(&sql, read_only).await?;
    let duration = started.elapsed();
    let names: Vec<String> = match rows.first() {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut collector = RowCollector::new(
        call.spill().clone(),
        a.spill_format.unwrap_or(Format::Jsonl),
        names.clone(),
        max_rows,
        budget,
    );
    let count = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        collector.push(row).map_err(|e| {
            ToolError::new(ErrorCode::Io, "cannot write the result file").reason(e.to_string())
        })?;
        if i > 0 && i % 10_000 == 0 {
            call.progress(i as u64, Some(count as u64), format!("{i} rows read"))
                .await;
        }
    }
    let collected = collector.finish().map_err(|e| {
        ToolError::new(ErrorCode::Io, "cannot finish the result file").reason(e.to_string())
    })?;
    let columns: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "type": null}))
        .collect();
    let mut warnings = Vec::new();
    if let Some(spill) = &collected.spill {
        warnings.push(format!(
            "{} rows returned; the first {} are shown, all are in {} (read them with get_result_page)",
            collected.row_count,
            collected.rows.len(),
            spill.path
        ));
    }
    let mut data = json!({
        "columns": columns,
        "rows": collected.rows,
        "row_count": collected.row_count,
        "truncated": collected.truncated,
        "duration_ms": (duration.as_secs_f64() * 1e6).round() / 1e3,
        "read_only": read_only,
        "backend": backend.kind().as_str(),
    });
    if let Some(spill) = collected.spill {
        data["spill"] = serde_json::to_value(spill).unwrap_or(Value::Null);
    }
    let mut out = ToolOutput::untrusted(data);
    out.warnings = warnings;
    note_backend(backend, &mut out);
    out.warnings.push(
        "through the API, column types, command tags and notices are not available; configure --db-url for them"
            .into(),
    );
    Ok(out)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultPageArgs {
    /// A result's `spill.result_id`.
    pub result_id: String,
    /// Index of the first row (0-based).
    #[serde(default)]
    pub offset: u64,
    /// Most rows to return (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

async fn get_result_page(call: Call, a: ResultPageArgs) -> Result<ToolOutput, ToolError> {
    let limit = a
        .limit
        .unwrap_or(100)
        .clamp(1, call.limits().max_rows.max(1));
    let budget = call.limits().output_budget_bytes / 2 - 2048;
    let page = call
        .spill()
        .read_page(&a.result_id, a.offset, limit, budget)
        .map_err(|e| {
            ToolError::new(ErrorCode::NotFound, e.to_string())
                .suggestion("Run the original query again to get a new result id.")
        })?;
    Ok(ToolOutput::untrusted(
        serde_json::to_value(page).unwrap_or(Value::Null),
    ))
}
