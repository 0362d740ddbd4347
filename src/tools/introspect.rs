//! Tools of the `database` group that read the catalog beyond tables:
//! schemas, views, functions, triggers, RLS policies, types, extensions and
//! roles, a role × schema access matrix, and a check of the grants a role
//! needs to manage auth, storage or realtime.
//!
//! Everything here only reads. Lists are paginated the same way (`offset`,
//! `limit` default 100 at most 1000; results carry `total` and
//! `next_offset`), schema and table names are bound parameters, and an
//! unknown schema is a `not_found` error. Also holds the paging and catalog
//! helpers that `monitoring` shares.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio_postgres::types::FromSql;

use super::{Kind, ToolDef, tool};
use crate::db::backend::{Backend, Param, SqlRow};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_schemas", Group::Database, Kind::Read)
            .title("List schemas")
            .description("Schemas with owner, object counts, size, comment; `managed` marks Supabase's own.")
            .handler(list_schemas),
        tool("list_views", Group::Database, Kind::Read)
            .title("List views")
            .description("Views and materialized views with security options; `definition` adds SQL.")
            .handler(list_views),
        tool("list_functions", Group::Database, Kind::Read)
            .title("List functions")
            .description("Functions and procedures: signature, returns, language, volatility, security.")
            .handler(list_functions),
        tool("list_triggers", Group::Database, Kind::Read)
            .title("List triggers")
            .description("Triggers: table, timing, events, level, function, enabled.")
            .handler(list_triggers),
        tool("list_policies", Group::Database, Kind::Read)
            .title("List policies")
            .description("RLS policies; flags tables with RLS on but no policy, or RLS off in exposed schemas.")
            .handler(list_policies),
        tool("list_types", Group::Database, Kind::Read)
            .title("List types")
            .description("Enums (labels in order), composite types and domains.")
            .handler(list_types),
        tool("list_extensions", Group::Database, Kind::Read)
            .title("List extensions")
            .description("Installed extensions (version, schema) and available ones.")
            .handler(list_extensions),
        tool("list_roles", Group::Database, Kind::Read)
            .title("List roles")
            .description("Roles: attributes, limits, settings, memberships (never password hashes).")
            .handler(list_roles),
        tool("schema_access_matrix", Group::Database, Kind::Read)
            .title("Schema access matrix")
            .description("Per Supabase role and schema: USAGE, CREATE and table access.")
            .handler(schema_access_matrix),
        tool("check_permissions", Group::Database, Kind::Read)
            .title("Check permissions")
            .description("Grants a role lacks to manage auth, storage or realtime, with the fixing GRANTs.")
            .handler(check_permissions),
    ]
}

// ---------------------------------------------------------------------------
// Shared helpers (also used by `monitoring`)
// ---------------------------------------------------------------------------

/// Page size when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
/// Largest accepted `limit`.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// Schemas of PostgreSQL itself (and TimescaleDB internals), never listed by default.
pub(crate) const SYSTEM_FILTER: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN \
    ('information_schema', '_timescaledb_internal', '_timescaledb_catalog', '_timescaledb_config', '_timescaledb_cache')";

/// Schemas created and managed by Supabase services and the extensions they ship.
pub(crate) const MANAGED_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "extensions",
    "graphql",
    "graphql_public",
    "vault",
    "supabase_migrations",
    "supabase_functions",
    "pgsodium",
    "pgsodium_masks",
    "net",
    "cron",
    "pgbouncer",
    "pgtle",
    "pgmq",
    "_analytics",
    "_supavisor",
];

/// `('auth', 'storage', ...)` for SQL `IN` lists.
pub(crate) fn managed_list() -> String {
    let quoted: Vec<String> = MANAGED_SCHEMAS.iter().map(|s| format!("'{s}'")).collect();
    format!("({})", quoted.join(", "))
}

/// Which schemas a list covers when the caller names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultSchemas {
    /// Every schema that is not a system schema.
    NonSystem,
    /// Non-system schemas that are not Supabase-managed.
    User,
}

/// SQL predicate on `n.nspname`: the schemas in text[] parameter `$param`,
/// or the default set when that parameter is NULL.
pub(crate) fn schema_filter(param: usize, default: DefaultSchemas) -> String {
    let default_sql = match default {
        DefaultSchemas::NonSystem => SYSTEM_FILTER.to_owned(),
        DefaultSchemas::User => format!("{SYSTEM_FILTER} AND n.nspname NOT IN {}", managed_list()),
    };
    format!("((${param}::text[] IS NULL AND {default_sql}) OR n.nspname = ANY(${param}::text[]))")
}

/// SQL predicate: schema `n` is reachable through the Data API, i.e. it is
/// not Supabase-managed and `anon` or `authenticated` has USAGE on it.
pub(crate) fn exposed_filter() -> String {
    format!(
        "(n.nspname NOT IN {} AND EXISTS (SELECT 1 FROM pg_roles er WHERE er.rolname IN ('anon', 'authenticated') \
         AND has_schema_privilege(er.oid, n.oid, 'USAGE')))",
        managed_list()
    )
}

/// Validated `offset` and `limit`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub offset: i64,
    pub limit: i64,
}

/// Checks `limit` (1..=1000, default 100) and `offset`.
pub(crate) fn page(offset: Option<u32>, limit: Option<u32>) -> Result<Page, ToolError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ToolError::invalid(format!(
            "`limit` must be from 1 to {MAX_LIMIT}, not {limit}"
        ))
        .reason("results are paginated to keep them small")
        .suggestion(
            "Pass a smaller limit and follow `next_offset` (pass it as `offset`) to read the rest.",
        ));
    }
    Ok(Page {
        offset: i64::from(offset.unwrap_or(0)),
        limit: i64::from(limit),
    })
}

impl Page {
    /// `{key: items, total, next_offset}`.
    pub(crate) fn wrap(&self, key: &str, items: Vec<Value>, total: i64) -> Value {
        let shown = items.len() as i64;
        let next = (self.offset + shown < total).then_some(self.offset + shown);
        let mut m = Map::new();
        m.insert(key.to_owned(), Value::Array(items));
        m.insert("total".into(), json!(total));
        m.insert("next_offset".into(), json!(next));
        Value::Object(m)
    }
}

/// Runs `base` (a SELECT using parameters `$1..$n` = `params`) ordered by
/// `order` (columns as `q.col`) for one page; returns the rows and the total.
pub(crate) async fn fetch_page(
    db: &Backend,
    base: &str,
    order: &str,
    params: &[&dyn Param],
    page: Page,
) -> Result<(Vec<SqlRow>, i64), ToolError> {
    let n = params.len();
    let sql = format!(
        "SELECT q.*, count(*) OVER () AS total__ FROM ({base}) q ORDER BY {order} LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let mut all: Vec<&dyn Param> = params.to_vec();
    all.push(&page.limit);
    all.push(&page.offset);
    let rows = db.query(&sql, &all).await?;
    let total = match rows.first() {
        Some(r) => col::<i64>(r, "total__")?,
        None if page.offset > 0 => {
            let row = db
                .query_one(&format!("SELECT count(*) FROM ({base}) q"), params)
                .await?;
            col::<i64>(&row, "count")?
        }
        None => 0,
    };
    Ok((rows, total))
}

/// One column of a catalog row, as an error instead of a panic when the
/// server answers with an unexpected shape.
pub(crate) fn col<T>(row: &SqlRow, name: &str) -> Result<T, ToolError>
where
    T: for<'a> FromSql<'a> + DeserializeOwned,
{
    row.get(name)
}

/// Inserts `key: value` into a JSON object when `value` is present.
pub(crate) fn put<V: Into<Value>>(obj: &mut Value, key: &str, value: Option<V>) {
    if let (Some(v), Some(m)) = (value, obj.as_object_mut()) {
        m.insert(key.to_owned(), v.into());
    }
}

/// `not_found` unless every schema in `schemas` exists (names are case-sensitive).
pub(crate) async fn check_schemas(
    db: &Backend,
    schemas: Option<&Vec<String>>,
) -> Result<(), ToolError> {
    let Some(list) = schemas else {
        return Ok(());
    };
    if list.is_empty() {
        return Err(ToolError::invalid("`schemas` is an empty list")
            .suggestion("Name at least one schema, or omit `schemas` for the default set."));
    }
    let rows = db
        .query(
            "SELECT s AS missing, (SELECT min(nspname::text) FROM pg_namespace WHERE lower(nspname) = lower(s)) AS similar \
             FROM unnest($1::text[]) s WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = s)",
            &[list],
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut similar = Vec::new();
    for r in &rows {
        missing.push(format!("`{}`", col::<String>(r, "missing")?));
        if let Some(s) = col::<Option<String>>(r, "similar")? {
            similar.push(format!("`{s}`"));
        }
    }
    let message = if missing.len() == 1 {
        format!("schema {} does not exist", missing[0])
    } else {
        format!("schemas {} do not exist", missing.join(", "))
    };
    let mut suggestion = String::new();
    if !similar.is_empty() {
        suggestion.push_str(&format!(
            "Schema names are case-sensitive: did you mean {}? ",
            similar.join(", ")
        ));
    }
    suggestion.push_str("Use list_schemas to see the schemas of this database.");
    Err(ToolError::new(ErrorCode::NotFound, message).suggestion(suggestion))
}

/// `not_found` unless a table, view or foreign table named `table` exists in
/// the given schemas (or in any non-system schema).
async fn check_table(
    db: &Backend,
    schemas: Option<&Vec<String>>,
    table: Option<&String>,
) -> Result<(), ToolError> {
    let Some(table) = table else {
        return Ok(());
    };
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relname = $2::text AND c.relkind IN ('r','p','v','m','f') AND {}) AS found",
        schema_filter(1, DefaultSchemas::NonSystem)
    );
    let row = db.query_one(&sql, &[&schemas, table]).await?;
    if col::<bool>(&row, "found")? {
        return Ok(());
    }
    let place = match schemas {
        Some(s) => format!(" in schema {}", s.join(", ")),
        None => String::new(),
    };
    Err(ToolError::new(
        ErrorCode::NotFound,
        format!("table `{table}` does not exist{place}"),
    )
    .suggestion("Use list_tables to see the tables and their schemas; names are case-sensitive."))
}

/// Common error for a LIKE pattern that is empty.
fn check_pattern(p: &Option<String>) -> Result<(), ToolError> {
    match p {
        Some(s) if s.is_empty() => Err(ToolError::invalid("`name_pattern` is empty")
            .suggestion("Use a LIKE pattern such as `user%`, or omit the argument.")),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// list_schemas
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSchemasArgs {
    /// SQL LIKE pattern on the name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Leave out Supabase-managed schemas.
    #[serde(default)]
    pub user_only: bool,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_schemas(call: Call, a: ListSchemasArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    check_pattern(&a.name_pattern)?;
    let db = call.sql().await?;
    let m = managed_list();
    let base = format!(
        "SELECT n.nspname::text AS name, pg_get_userbyid(n.nspowner)::text AS owner, n.nspname IN {m} AS managed, \
           (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p') AND NOT c.relispartition) AS tables, \
           (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('v','m')) AS views, \
           (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid) AS functions, \
           (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
              WHERE c.relnamespace = n.oid AND c.relkind IN ('r','m')) AS size_bytes, \
           obj_description(n.oid, 'pg_namespace') AS comment \
         FROM pg_namespace n \
         WHERE {SYSTEM_FILTER} AND ($1::text IS NULL OR n.nspname LIKE $1::text) AND (NOT $2::bool OR n.nspname NOT IN {m})"
    );
    let (rows, total) = fetch_page(
        &db,
        &base,
        "q.managed, q.name",
        &[&a.name_pattern, &a.user_only],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut s = json!({
            "name": col::<String>(r, "name")?,
            "owner": col::<String>(r, "owner")?,
            "managed": col::<bool>(r, "managed")?,
            "tables": col::<i64>(r, "tables")?,
            "views": col::<i64>(r, "views")?,
            "functions": col::<i64>(r, "functions")?,
            "size_bytes": col::<i64>(r, "size_bytes")?,
        });
        put(&mut s, "comment", col::<Option<String>>(r, "comment")?);
        items.push(s);
    }
    Ok(ToolOutput::untrusted(page.wrap("schemas", items, total)))
}

// ---------------------------------------------------------------------------
// list_views
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListViewsArgs {
    /// Default: all non-system schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// SQL LIKE pattern on the name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Add the SQL definition.
    #[serde(default)]
    pub definition: bool,
    /// Include extension members.
    #[serde(default)]
    pub include_extensions: bool,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// SQL predicate: the object `oid_expr` of catalog `catalog` is no extension member.
fn not_extension_member(catalog: &str, oid_expr: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid_expr} AND d.deptype = 'e')"
    )
}

async fn list_views(call: Call, a: ListViewsArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    check_pattern(&a.name_pattern)?;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    let option = |name: &str| {
        format!(
            "(SELECT o.option_value FROM pg_options_to_table(c.reloptions) o WHERE o.option_name = '{name}')"
        )
    };
    let base = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind = 'm' AS materialized, \
           coalesce({inv}::boolean, false) AS security_invoker, coalesce({bar}::boolean, false) AS security_barrier, \
           {chk} AS check_option, c.relispopulated AS populated, \
           CASE WHEN c.relkind = 'm' THEN pg_total_relation_size(c.oid) END AS size_bytes, \
           obj_description(c.oid, 'pg_class') AS comment, \
           CASE WHEN $3::bool THEN pg_get_viewdef(c.oid, true) END AS definition, \
           {exposed} AS exposed \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v','m') AND {scope} AND ($2::text IS NULL OR c.relname LIKE $2::text) \
           AND ($4::bool OR {ext})",
        inv = option("security_invoker"),
        bar = option("security_barrier"),
        chk = option("check_option"),
        exposed = exposed_filter(),
        scope = schema_filter(1, DefaultSchemas::NonSystem),
        ext = not_extension_member("pg_class", "c.oid"),
    );
    let (rows, total) = fetch_page(
        &db,
        &base,
        "q.schema, q.name",
        &[
            &a.schemas,
            &a.name_pattern,
            &a.definition,
            &a.include_extensions,
        ],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut definer_views = Vec::new();
    for r in &rows {
        let schema: String = col(r, "schema")?;
        let name: String = col(r, "name")?;
        let materialized: bool = col(r, "materialized")?;
        let mut v = json!({
            "schema": schema,
            "name": name,
            "kind": if materialized { "materialized view" } else { "view" },
        });
        if materialized {
            if !col::<bool>(r, "populated")? {
                v["populated"] = json!(false);
            }
            put(&mut v, "size_bytes", col::<Option<i64>>(r, "size_bytes")?);
        } else {
            let invoker: bool = col(r, "security_invoker")?;
            v["security_invoker"] = json!(invoker);
            if col::<bool>(r, "security_barrier")? {
                v["security_barrier"] = json!(true);
            }
            put(
                &mut v,
                "check_option",
                col::<Option<String>>(r, "check_option")?,
            );
            if !invoker && col::<bool>(r, "exposed")? {
                definer_views.push(format!("{schema}.{name}"));
            }
        }
        put(&mut v, "comment", col::<Option<String>>(r, "comment")?);
        put(
            &mut v,
            "definition",
            col::<Option<String>>(r, "definition")?,
        );
        items.push(v);
    }
    let mut out = ToolOutput::untrusted(page.wrap("views", items, total));
    if !definer_views.is_empty() {
        out = out.warn(format!(
            "{} in API-exposed schemas run with their owner's rights (no security_invoker), bypassing the RLS of the tables they read: {}. \
             Consider ALTER VIEW ... SET (security_invoker = true).",
            plural(definer_views.len(), "view", "views"),
            short_list(&definer_views)
        ));
    }
    Ok(out)
}

/// `1 view`, `3 views`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// At most 10 names, then `and N more`.
pub(crate) fn short_list(names: &[String]) -> String {
    const MAX: usize = 10;
    if names.len() <= MAX {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..MAX].join(", "), names.len() - MAX)
    }
}

// ---------------------------------------------------------------------------
// list_functions
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFunctionsArgs {
    /// Default: user schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// SQL LIKE pattern on the name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Add the CREATE statement.
    #[serde(default)]
    pub definition: bool,
    /// Include extension members.
    #[serde(default)]
    pub include_extensions: bool,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_functions(call: Call, a: ListFunctionsArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    check_pattern(&a.name_pattern)?;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    let base = format!(
        "SELECT n.nspname::text AS schema, p.proname::text AS name, pg_get_function_identity_arguments(p.oid) AS arguments, \
           pg_get_function_result(p.oid) AS returns, l.lanname::text AS language, p.provolatile::text AS volatility, \
           p.prosecdef AS security_definer, p.prokind::text AS kind, p.proconfig AS config, \
           obj_description(p.oid, 'pg_proc') AS comment, \
           CASE WHEN $3::bool AND p.prokind IN ('f','p') THEN pg_get_functiondef(p.oid) END AS definition, \
           {exposed} AS exposed \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang \
         WHERE {scope} AND ($2::text IS NULL OR p.proname LIKE $2::text) AND ($4::bool OR {ext})",
        exposed = exposed_filter(),
        scope = schema_filter(1, DefaultSchemas::User),
        ext = not_extension_member("pg_proc", "p.oid"),
    );
    let (rows, total) = fetch_page(
        &db,
        &base,
        "q.schema, q.name, q.arguments",
        &[
            &a.schemas,
            &a.name_pattern,
            &a.definition,
            &a.include_extensions,
        ],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut unpinned = Vec::new();
    for r in &rows {
        let schema: String = col(r, "schema")?;
        let name: String = col(r, "name")?;
        let definer: bool = col(r, "security_definer")?;
        let config: Option<Vec<String>> = col(r, "config")?;
        let volatility = match col::<String>(r, "volatility")?.as_str() {
            "i" => "immutable",
            "s" => "stable",
            _ => "volatile",
        };
        let mut f = json!({
            "schema": schema,
            "name": name,
            "arguments": col::<String>(r, "arguments")?,
            "language": col::<String>(r, "language")?,
            "volatility": volatility,
            "security_definer": definer,
        });
        put(&mut f, "returns", col::<Option<String>>(r, "returns")?);
        match col::<String>(r, "kind")?.as_str() {
            "p" => f["kind"] = json!("procedure"),
            "a" => f["kind"] = json!("aggregate"),
            "w" => f["kind"] = json!("window"),
            _ => {}
        }
        let pins_path = config
            .as_ref()
            .is_some_and(|c| c.iter().any(|s| s.starts_with("search_path=")));
        if definer && !pins_path && col::<bool>(r, "exposed")? {
            unpinned.push(format!("{schema}.{name}"));
        }
        put(&mut f, "config", config);
        put(&mut f, "comment", col::<Option<String>>(r, "comment")?);
        put(
            &mut f,
            "definition",
            col::<Option<String>>(r, "definition")?,
        );
        items.push(f);
    }
    let mut out = ToolOutput::untrusted(page.wrap("functions", items, total));
    if !unpinned.is_empty() {
        out = out.warn(format!(
            "SECURITY DEFINER {} in API-exposed schemas without a fixed search_path: {}. Add `SET search_path = ''` and schema-qualify the names they use.",
            if unpinned.len() == 1 { "function" } else { "functions" },
            short_list(&unpinned)
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// list_triggers
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTriggersArgs {
    /// Default: all non-system schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// Only triggers on this table.
    #[serde(default)]
    pub table: Option<String>,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_triggers(call: Call, a: ListTriggersArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    check_table(&db, a.schemas.as_ref(), a.table.as_ref()).await?;
    // Clones of a partitioned table's trigger on its partitions are left out.
    let base = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS tbl, t.tgname::text AS name, t.tgtype::int4 AS tgtype, \
           format('%I.%I', pn.nspname, p.proname) AS function, t.tgenabled::text AS enabled \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {scope} AND ($2::text IS NULL OR c.relname = $2::text)",
        scope = schema_filter(1, DefaultSchemas::NonSystem),
    );
    let (rows, total) = fetch_page(
        &db,
        &base,
        "q.schema, q.tbl, q.name",
        &[&a.schemas, &a.table],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let tgtype: i32 = col(r, "tgtype")?;
        let timing = if tgtype & 2 != 0 {
            "BEFORE"
        } else if tgtype & 64 != 0 {
            "INSTEAD OF"
        } else {
            "AFTER"
        };
        let events: Vec<&str> = [
            (4, "INSERT"),
            (16, "UPDATE"),
            (8, "DELETE"),
            (32, "TRUNCATE"),
        ]
        .iter()
        .filter(|(bit, _)| tgtype & bit != 0)
        .map(|(_, e)| *e)
        .collect();
        let enabled: String = col(r, "enabled")?;
        let mut t = json!({
            "schema": col::<String>(r, "schema")?,
            "table": col::<String>(r, "tbl")?,
            "name": col::<String>(r, "name")?,
            "timing": timing,
            "events": events,
            "level": if tgtype & 1 != 0 { "row" } else { "statement" },
            "function": col::<String>(r, "function")?,
            "enabled": enabled != "D",
        });
        match enabled.as_str() {
            "R" => t["fires"] = json!("replica only"),
            "A" => t["fires"] = json!("always"),
            _ => {}
        }
        items.push(t);
    }
    Ok(ToolOutput::untrusted(page.wrap("triggers", items, total)))
}

// ---------------------------------------------------------------------------
// list_policies
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPoliciesArgs {
    /// Default: all non-system schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// Only policies on this table.
    #[serde(default)]
    pub table: Option<String>,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_policies(call: Call, a: ListPoliciesArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    check_table(&db, a.schemas.as_ref(), a.table.as_ref()).await?;
    let base = format!(
        "SELECT p.schemaname::text AS schema, p.tablename::text AS tbl, p.policyname::text AS name, \
           p.permissive = 'PERMISSIVE' AS permissive, p.roles::text[] AS roles, p.cmd AS command, \
           p.qual AS using_expr, p.with_check AS check_expr \
         FROM pg_policies p JOIN pg_namespace n ON n.nspname = p.schemaname \
         WHERE {scope} AND ($2::text IS NULL OR p.tablename = $2::text)",
        scope = schema_filter(1, DefaultSchemas::NonSystem),
    );
    let (rows, total) = fetch_page(
        &db,
        &base,
        "q.schema, q.tbl, q.name",
        &[&a.schemas, &a.table],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut p = json!({
            "schema": col::<String>(r, "schema")?,
            "table": col::<String>(r, "tbl")?,
            "name": col::<String>(r, "name")?,
            "permissive": col::<bool>(r, "permissive")?,
            "roles": col::<Vec<String>>(r, "roles")?,
            "command": col::<String>(r, "command")?,
        });
        put(&mut p, "using", col::<Option<String>>(r, "using_expr")?);
        put(
            &mut p,
            "with_check",
            col::<Option<String>>(r, "check_expr")?,
        );
        items.push(p);
    }
    let mut data = page.wrap("policies", items, total);

    // Tables worth a look. Managed schemas are skipped unless named: their
    // tables are locked down on purpose (RLS on, no policies).
    let sql = format!(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relrowsecurity AS rls \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p') AND NOT c.relispartition AND {scope} \
           AND ($1::text[] IS NOT NULL OR n.nspname NOT IN {managed}) \
           AND ($2::text IS NULL OR c.relname = $2::text) \
           AND ((c.relrowsecurity AND NOT EXISTS (SELECT 1 FROM pg_policy pol WHERE pol.polrelid = c.oid)) \
                OR (NOT c.relrowsecurity AND {exposed})) \
         ORDER BY 1",
        scope = schema_filter(1, DefaultSchemas::NonSystem),
        managed = managed_list(),
        exposed = exposed_filter(),
    );
    let rows = db.query(&sql, &[&a.schemas, &a.table]).await?;
    let mut no_policies = Vec::new();
    let mut rls_off = Vec::new();
    for r in &rows {
        let name: String = col(r, "name")?;
        if col::<bool>(r, "rls")? {
            no_policies.push(name);
        } else {
            rls_off.push(name);
        }
    }
    data["rls_enabled_without_policies"] = json!(cap(&no_policies));
    data["rls_disabled_in_exposed_schemas"] = json!(cap(&rls_off));
    let mut out = ToolOutput::untrusted(data);
    if !rls_off.is_empty() {
        out = out.warn(format!(
            "RLS is disabled on {} in API-exposed schemas: with their grants, anyone holding the anon key can read or change them. \
             Enable it with ALTER TABLE ... ENABLE ROW LEVEL SECURITY and add policies.",
            plural(rls_off.len(), "table", "tables")
        ));
    }
    if !no_policies.is_empty() {
        out = out.warn(format!(
            "RLS is enabled without any policy on {}: API roles can neither read nor write them.",
            plural(no_policies.len(), "table", "tables")
        ));
    }
    Ok(out)
}

/// At most 50 names, then `"... and N more"`.
fn cap(names: &[String]) -> Vec<String> {
    const MAX: usize = 50;
    let mut v: Vec<String> = names.iter().take(MAX).cloned().collect();
    if names.len() > MAX {
        v.push(format!("... and {} more", names.len() - MAX));
    }
    v
}

// ---------------------------------------------------------------------------
// list_types
// ---------------------------------------------------------------------------

/// Kind of user-defined type.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TypeKind {
    Enum,
    Composite,
    Domain,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTypesArgs {
    /// Default: user schemas.
    #[serde(default)]
    #[schemars(example = ["public"])]
    pub schemas: Option<Vec<String>>,
    /// SQL LIKE pattern on the name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Only this kind of type.
    #[serde(default)]
    pub kind: Option<TypeKind>,
    /// Include extension members.
    #[serde(default)]
    pub include_extensions: bool,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_types(call: Call, a: ListTypesArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    check_pattern(&a.name_pattern)?;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    let kind: Option<String> = a.kind.map(|k| {
        match k {
            TypeKind::Enum => "e",
            TypeKind::Composite => "c",
            TypeKind::Domain => "d",
        }
        .to_owned()
    });
    let attrs = |expr: &str| {
        format!(
            "ARRAY(SELECT {expr} FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)"
        )
    };
    let base = format!(
        "SELECT n.nspname::text AS schema, t.typname::text AS name, t.typtype::text AS kind, \
           CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels, \
           CASE WHEN t.typtype = 'c' THEN {attr_names} END AS attr_names, \
           CASE WHEN t.typtype = 'c' THEN {attr_types} END AS attr_types, \
           CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type, \
           t.typnotnull AS not_null, t.typdefault AS default_value, \
           CASE WHEN t.typtype = 'd' THEN ARRAY(SELECT k.conname::text FROM pg_constraint k WHERE k.contypid = t.oid ORDER BY k.conname) END AS con_names, \
           CASE WHEN t.typtype = 'd' THEN ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.contypid = t.oid ORDER BY k.conname) END AS con_defs, \
           obj_description(t.oid, 'pg_type') AS comment \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE (t.typtype IN ('e','d') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
           AND {scope} AND ($2::text IS NULL OR t.typname LIKE $2::text) AND ($3::text IS NULL OR t.typtype::text = $3::text) \
           AND ($4::bool OR {ext})",
        attr_names = attrs("a.attname::text"),
        attr_types = attrs("format_type(a.atttypid, a.atttypmod)"),
        scope = schema_filter(1, DefaultSchemas::User),
        ext = not_extension_member("pg_type", "t.oid"),
    );
    let (rows, total) = fetch_page(
        &db,
        &base,
        "q.schema, q.name",
        &[&a.schemas, &a.name_pattern, &kind, &a.include_extensions],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut t = json!({
            "schema": col::<String>(r, "schema")?,
            "name": col::<String>(r, "name")?,
        });
        match col::<String>(r, "kind")?.as_str() {
            "e" => {
                t["kind"] = json!("enum");
                t["labels"] = json!(col::<Option<Vec<String>>>(r, "labels")?.unwrap_or_default());
            }
            "c" => {
                t["kind"] = json!("composite");
                let names: Vec<String> =
                    col::<Option<Vec<String>>>(r, "attr_names")?.unwrap_or_default();
                let types: Vec<String> =
                    col::<Option<Vec<String>>>(r, "attr_types")?.unwrap_or_default();
                t["attributes"] = Value::Array(
                    names
                        .into_iter()
                        .zip(types)
                        .map(|(n, ty)| json!({"name": n, "type": ty}))
                        .collect(),
                );
            }
            _ => {
                t["kind"] = json!("domain");
                put(&mut t, "base_type", col::<Option<String>>(r, "base_type")?);
                if col::<bool>(r, "not_null")? {
                    t["not_null"] = json!(true);
                }
                put(
                    &mut t,
                    "default",
                    col::<Option<String>>(r, "default_value")?,
                );
                let names: Vec<String> =
                    col::<Option<Vec<String>>>(r, "con_names")?.unwrap_or_default();
                let defs: Vec<String> =
                    col::<Option<Vec<String>>>(r, "con_defs")?.unwrap_or_default();
                if !names.is_empty() {
                    t["constraints"] = Value::Array(
                        names
                            .into_iter()
                            .zip(defs)
                            .map(|(n, d)| json!({"name": n, "definition": d}))
                            .collect(),
                    );
                }
            }
        }
        put(&mut t, "comment", col::<Option<String>>(r, "comment")?);
        items.push(t);
    }
    Ok(ToolOutput::untrusted(page.wrap("types", items, total)))
}

// ---------------------------------------------------------------------------
// list_extensions
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListExtensionsArgs {
    /// Only installed extensions.
    #[serde(default)]
    pub installed_only: bool,
    /// SQL LIKE pattern on the name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_extensions(call: Call, a: ListExtensionsArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    check_pattern(&a.name_pattern)?;
    let db = call.sql().await?;
    let base = "SELECT coalesce(e.extname, a.name)::text AS name, e.extversion AS version, en.nspname::text AS schema, \
           a.default_version AS default_version, a.comment AS comment, e.oid IS NOT NULL AS installed \
         FROM pg_extension e FULL JOIN pg_available_extensions a ON a.name = e.extname \
           LEFT JOIN pg_namespace en ON en.oid = e.extnamespace \
         WHERE (NOT $1::bool OR e.oid IS NOT NULL) AND ($2::text IS NULL OR coalesce(e.extname, a.name) LIKE $2::text)";
    let (rows, total) = fetch_page(
        &db,
        base,
        "q.installed DESC, q.name",
        &[&a.installed_only, &a.name_pattern],
        page,
    )
    .await?;
    let installed_count: i64 = db
        .query_one("SELECT count(*) FROM pg_extension", &[])
        .await
        .and_then(|r| col(&r, "count"))?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let installed: bool = col(r, "installed")?;
        let default_version: Option<String> = col(r, "default_version")?;
        let mut e = json!({"name": col::<String>(r, "name")?, "installed": installed});
        if installed {
            let version: Option<String> = col(r, "version")?;
            if default_version.is_some() && default_version != version {
                put(&mut e, "update_available", default_version);
            }
            put(&mut e, "version", version);
            put(&mut e, "schema", col::<Option<String>>(r, "schema")?);
        } else {
            put(&mut e, "default_version", default_version);
            put(&mut e, "comment", col::<Option<String>>(r, "comment")?);
        }
        items.push(e);
    }
    let mut data = page.wrap("extensions", items, total);
    data["installed_count"] = json!(installed_count);
    Ok(ToolOutput::untrusted(data))
}

// ---------------------------------------------------------------------------
// list_roles
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRolesArgs {
    /// SQL LIKE pattern on the name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Include `pg_*` roles.
    #[serde(default)]
    pub include_system: bool,
    /// Items to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn list_roles(call: Call, a: ListRolesArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    check_pattern(&a.name_pattern)?;
    let db = call.sql().await?;
    // pg_roles, never pg_authid: no password hash is ever read.
    let base = "SELECT r.rolname::text AS name, r.rolcanlogin AS login, r.rolsuper AS superuser, \
           r.rolcreaterole AS createrole, r.rolcreatedb AS createdb, r.rolreplication AS replication, \
           r.rolbypassrls AS bypassrls, r.rolinherit AS inherit, r.rolconnlimit AS connection_limit, \
           r.rolvaliduntil::text AS valid_until, r.rolconfig AS config, \
           ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
                 WHERE m.member = r.oid ORDER BY 1) AS member_of, \
           shobj_description(r.oid, 'pg_authid') AS comment \
         FROM pg_roles r \
         WHERE ($1::bool OR r.rolname !~ '^pg_') AND ($2::text IS NULL OR r.rolname LIKE $2::text)";
    let (rows, total) = fetch_page(
        &db,
        base,
        "q.name",
        &[&a.include_system, &a.name_pattern],
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut attributes = Vec::new();
        for attr in [
            "login",
            "superuser",
            "createrole",
            "createdb",
            "replication",
            "bypassrls",
        ] {
            if col::<bool>(r, attr)? {
                attributes.push(attr);
            }
        }
        if !col::<bool>(r, "inherit")? {
            attributes.push("noinherit");
        }
        let mut role = json!({
            "name": col::<String>(r, "name")?,
            "attributes": attributes,
            "member_of": col::<Vec<String>>(r, "member_of")?,
        });
        let limit: i32 = col(r, "connection_limit")?;
        if limit >= 0 {
            role["connection_limit"] = json!(limit);
        }
        put(
            &mut role,
            "valid_until",
            col::<Option<String>>(r, "valid_until")?,
        );
        let config: Option<Vec<String>> = col(r, "config")?;
        put(
            &mut role,
            "config",
            config.map(|c| c.iter().map(|s| redact_setting(s)).collect::<Vec<_>>()),
        );
        put(&mut role, "comment", col::<Option<String>>(r, "comment")?);
        items.push(role);
    }
    Ok(ToolOutput::untrusted(page.wrap("roles", items, total)))
}

/// `name=value` with the value hidden when the name suggests a secret.
fn redact_setting(setting: &str) -> String {
    match setting.split_once('=') {
        Some((name, _))
            if ["secret", "password", "key", "token"]
                .iter()
                .any(|w| name.to_ascii_lowercase().contains(w)) =>
        {
            format!("{name}=<redacted>")
        }
        _ => setting.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// schema_access_matrix
// ---------------------------------------------------------------------------

/// Roles every matrix shows (when they exist).
const MATRIX_ROLES: [&str; 5] = [
    "anon",
    "authenticated",
    "service_role",
    "authenticator",
    "postgres",
];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessMatrixArgs {
    /// Roles besides the Supabase ones.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Default: all non-system schemas.
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    /// Schemas to skip.
    #[serde(default)]
    pub offset: Option<u32>,
    /// Default 100, max 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

async fn schema_access_matrix(call: Call, a: AccessMatrixArgs) -> Result<ToolOutput, ToolError> {
    let page = page(a.offset, a.limit)?;
    let db = call.sql().await?;
    check_schemas(&db, a.schemas.as_ref()).await?;
    let extra = a.roles.clone().unwrap_or_default();
    if !extra.is_empty() {
        let rows = db
            .query(
                "SELECT r AS missing FROM unnest($1::text[]) r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)",
                &[&extra],
            )
            .await?;
        if !rows.is_empty() {
            let names = rows
                .iter()
                .map(|r| col::<String>(r, "missing").map(|n| format!("`{n}`")))
                .collect::<Result<Vec<_>, _>>()?;
            return Err(ToolError::new(
                ErrorCode::NotFound,
                format!("role {} does not exist", names.join(", ")),
            )
            .suggestion("Use list_roles to see the roles; names are case-sensitive."));
        }
    }
    let mut wanted: Vec<String> = MATRIX_ROLES.iter().map(|s| (*s).to_owned()).collect();
    for r in extra {
        if !wanted.contains(&r) {
            wanted.push(r);
        }
    }
    let present: Vec<String> = db
        .query(
            "SELECT rolname::text AS name FROM pg_roles WHERE rolname = ANY($1::text[])",
            &[&wanted],
        )
        .await?
        .iter()
        .map(|r| col::<String>(r, "name"))
        .collect::<Result<_, _>>()?;
    let roles: Vec<String> = wanted
        .iter()
        .filter(|r| present.contains(r))
        .cloned()
        .collect();
    let absent: Vec<String> = wanted
        .iter()
        .filter(|r| !present.contains(r))
        .cloned()
        .collect();

    let base = format!(
        "SELECT n.nspname::text AS name FROM pg_namespace n WHERE {}",
        schema_filter(1, DefaultSchemas::NonSystem)
    );
    let (rows, total) = fetch_page(&db, &base, "q.name", &[&a.schemas], page).await?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| col::<String>(r, "name"))
        .collect::<Result<_, _>>()?;
    let cells = db
        .query(
            "SELECT s.name AS schema, rr.name AS role, has_schema_privilege(r.oid, n.oid, 'USAGE') AS usage, \
               has_schema_privilege(r.oid, n.oid, 'CREATE') AS can_create, t.total, t.readable, t.writable \
             FROM unnest($1::text[]) WITH ORDINALITY s(name, i) \
               JOIN pg_namespace n ON n.nspname = s.name \
               CROSS JOIN unnest($2::text[]) WITH ORDINALITY rr(name, j) \
               JOIN pg_roles r ON r.rolname = rr.name \
               CROSS JOIN LATERAL (SELECT count(*) AS total, \
                   count(*) FILTER (WHERE has_table_privilege(r.oid, c.oid, 'SELECT')) AS readable, \
                   count(*) FILTER (WHERE has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE')) AS writable \
                 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','f') AND NOT c.relispartition) t \
             ORDER BY s.i, rr.j",
            &[&names, &roles],
        )
        .await?;
    let mut items: Vec<Value> = Vec::with_capacity(names.len());
    for r in &cells {
        let schema: String = col(r, "schema")?;
        let total_tables: i64 = col(r, "total")?;
        let cell = json!({
            "usage": col::<bool>(r, "usage")?,
            "create": col::<bool>(r, "can_create")?,
            "tables": table_access(total_tables, col(r, "readable")?, col(r, "writable")?),
        });
        let role: String = col(r, "role")?;
        match items.last_mut() {
            Some(last) if last["schema"] == schema.as_str() => {
                last["access"][role] = cell;
            }
            _ => {
                let mut access = Map::new();
                access.insert(role, cell);
                items
                    .push(json!({"schema": schema, "table_count": total_tables, "access": access}));
            }
        }
    }
    let mut data = page.wrap("schemas", items, total);
    data["roles"] = json!(roles);
    if !absent.is_empty() {
        data["roles_not_found"] = json!(absent);
    }
    data["legend"] = json!(
        "usage/create: schema privileges. tables: strongest privilege on the schema's tables and views (write = INSERT/UPDATE/DELETE), \
         with `(n of m)` when only some have it. Table access needs USAGE too; RLS still filters rows."
    );
    Ok(ToolOutput::untrusted(data))
}

/// `write`, `read (2 of 3)`, `none`.
fn table_access(total: i64, readable: i64, writable: i64) -> String {
    let (level, n) = if writable > 0 {
        ("write", writable)
    } else if readable > 0 {
        ("read", readable)
    } else {
        return "none".to_owned();
    };
    if n == total {
        level.to_owned()
    } else {
        format!("{level} ({n} of {total})")
    }
}

// ---------------------------------------------------------------------------
// check_permissions
// ---------------------------------------------------------------------------

/// Area whose management needs grants.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Auth,
    Storage,
    Realtime,
    #[default]
    All,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckPermissionsArgs {
    /// Default `all`.
    #[serde(default)]
    pub area: Area,
    /// Default: the connected role.
    #[serde(default)]
    pub role: Option<String>,
}

struct AreaSpec {
    area: Area,
    name: &'static str,
    tables: &'static [&'static str],
}

const AREAS: [AreaSpec; 3] = [
    AreaSpec {
        area: Area::Auth,
        name: "auth",
        tables: &[
            "users",
            "identities",
            "sessions",
            "refresh_tokens",
            "mfa_factors",
        ],
    },
    AreaSpec {
        area: Area::Storage,
        name: "storage",
        tables: &["buckets", "objects"],
    },
    AreaSpec {
        area: Area::Realtime,
        name: "realtime",
        tables: &["messages", "subscription"],
    },
];

/// Table privileges needed to manage an area's tables.
const MANAGE_PRIVILEGES: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];

async fn check_permissions(call: Call, a: CheckPermissionsArgs) -> Result<ToolOutput, ToolError> {
    if a.role
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("public"))
    {
        return Err(ToolError::invalid("`role` must be a real role, not PUBLIC")
            .reason("PUBLIC stands for every role, including anon and authenticated")
            .suggestion(
                "Name the role that manages the area, e.g. the role your backend connects as.",
            ));
    }
    let db = call.sql().await?;
    let role_name = match a.role {
        Some(r) => r,
        None => db
            .query_one("SELECT current_user::text AS name", &[])
            .await
            .and_then(|r| col::<String>(&r, "name"))?,
    };
    let Some(role) = db
        .query_opt(
            "SELECT r.oid, r.rolsuper, r.rolbypassrls, quote_ident(r.rolname) AS ident, \
               EXISTS (SELECT 1 FROM pg_roles a WHERE a.rolname IN ('anon', 'authenticated') \
                       AND pg_has_role(a.oid, r.oid, 'MEMBER')) AS api_role \
             FROM pg_roles r WHERE r.rolname = $1::text",
            &[&role_name],
        )
        .await?
    else {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!("role `{role_name}` does not exist"),
        )
        .suggestion("Use list_roles to see the roles; names are case-sensitive."));
    };
    let role_oid: u32 = col(&role, "oid")?;
    let superuser: bool = col(&role, "rolsuper")?;
    let bypassrls: bool = col(&role, "rolbypassrls")?;
    let ident: String = col(&role, "ident")?;
    let api_role: bool = col(&role, "api_role")?;

    let mut areas = Vec::new();
    let mut fixes: Vec<String> = Vec::new();
    for spec in AREAS
        .iter()
        .filter(|s| a.area == Area::All || a.area == s.area)
    {
        let schema = spec.name;
        let mut missing = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        if spec.area == Area::Auth && api_role {
            areas.push(json!({
                "area": schema,
                "status": "refused",
                "notes": [format!(
                    "`{role_name}` is (or is inherited by) an API role (anon/authenticated): it must never get privileges on auth, \
                     so no grant is suggested. Expose what the app needs through a SECURITY DEFINER function or view in a schema \
                     the API does not expose, or use the Auth admin API with the service role key."
                )],
            }));
            continue;
        }
        let Some(ns) = db
            .query_opt(
                "SELECT n.oid, has_schema_privilege($1::oid, n.oid, 'USAGE') AS usage FROM pg_namespace n WHERE n.nspname = $2::text",
                &[&role_oid, &schema],
            )
            .await?
        else {
            areas.push(json!({
                "area": schema,
                "status": "absent",
                "notes": [format!("schema `{schema}` does not exist: this database has no Supabase {schema} service set up")],
            }));
            continue;
        };
        let ns_oid: u32 = col(&ns, "oid")?;
        if !col::<bool>(&ns, "usage")? {
            let fix = format!("GRANT USAGE ON SCHEMA {schema} TO {ident};");
            missing.push(
                json!({"object": format!("schema {schema}"), "privileges": ["USAGE"], "fix": fix}),
            );
            fixes.push(fix);
        }
        let mut rls_tables = Vec::new();
        for table in spec.tables {
            let row = db
                .query_opt(
                    "SELECT c.relrowsecurity AS rls, pg_has_role($1::oid, c.relowner, 'USAGE') AS owner, \
                       ARRAY(SELECT p FROM unnest($4::text[]) p WHERE NOT has_table_privilege($1::oid, c.oid, p)) AS missing \
                     FROM pg_class c WHERE c.relnamespace = $2::oid AND c.relname = $3::text AND c.relkind IN ('r','p','v')",
                    &[&role_oid, &ns_oid, table, &MANAGE_PRIVILEGES.as_slice()],
                )
                .await?;
            let Some(row) = row else {
                notes.push(format!("table {schema}.{table} does not exist; skipped"));
                continue;
            };
            let privileges: Vec<String> = col(&row, "missing")?;
            if !privileges.is_empty() {
                let fix = format!(
                    "GRANT {} ON TABLE {schema}.{table} TO {ident};",
                    privileges.join(", ")
                );
                missing.push(json!({"object": format!("{schema}.{table}"), "privileges": privileges, "fix": fix}));
                fixes.push(fix);
            }
            if col::<bool>(&row, "rls")? && !col::<bool>(&row, "owner")? && !superuser && !bypassrls
            {
                rls_tables.push(format!("{schema}.{table}"));
            }
        }
        if !rls_tables.is_empty() {
            notes.push(format!(
                "RLS is enabled on {}: `{role_name}` neither owns them nor has BYPASSRLS, so grants alone show it only the rows \
                 its policies allow (none without a policy). Roles that manage {schema} usually own these tables or have BYPASSRLS.",
                rls_tables.join(", ")
            ));
        }
        if spec.area == Area::Realtime {
            let publication = db
                .query_opt(
                    "SELECT pg_has_role($1::oid, p.pubowner, 'USAGE') AS owns, pg_get_userbyid(p.pubowner)::text AS owner \
                     FROM pg_publication p WHERE p.pubname = 'supabase_realtime'",
                    &[&role_oid],
                )
                .await?;
            match publication {
                None => notes.push(
                    "publication supabase_realtime does not exist, so Postgres Changes deliver nothing: \
                     create it with CREATE PUBLICATION supabase_realtime;"
                        .to_owned(),
                ),
                Some(p) if !superuser && !col::<bool>(&p, "owns")? => notes.push(format!(
                    "only the owner of publication supabase_realtime (`{}`) or a superuser can add tables to it \
                     (ALTER PUBLICATION supabase_realtime ADD TABLE ...); there is no GRANT for that.",
                    col::<String>(&p, "owner")?
                )),
                Some(_) => {}
            }
        }
        let status = if missing.is_empty() { "ok" } else { "missing" };
        let mut area = json!({"area": schema, "status": status, "missing": missing});
        if !notes.is_empty() {
            area["notes"] = json!(notes);
        }
        areas.push(area);
    }
    let mut data = json!({
        "role": role_name,
        "superuser": superuser,
        "bypassrls": bypassrls,
        "areas": areas,
        "executed": false,
    });
    if fixes.is_empty() {
        data["fix_sql"] = Value::Null;
    } else {
        data["fix_sql"] = json!(fixes.join("\n"));
        data["note"] = json!(
            "Nothing was executed. Review the statements, then run them as the owner of the objects or a superuser."
        );
    }
    Ok(ToolOutput::untrusted(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_access_summaries() {
        assert_eq!(table_access(3, 3, 3), "write");
        assert_eq!(table_access(3, 3, 1), "write (1 of 3)");
        assert_eq!(table_access(3, 2, 0), "read (2 of 3)");
        assert_eq!(table_access(3, 0, 0), "none");
        assert_eq!(table_access(0, 0, 0), "none");
    }

    #[test]
    fn secret_settings_are_redacted() {
        assert_eq!(
            redact_setting("statement_timeout=3s"),
            "statement_timeout=3s"
        );
        assert_eq!(
            redact_setting("app.jwt_secret=abc"),
            "app.jwt_secret=<redacted>"
        );
        assert_eq!(
            redact_setting("pgrst.api_key=x"),
            "pgrst.api_key=<redacted>"
        );
    }

    #[test]
    fn pages_are_checked() {
        assert!(page(None, Some(0)).is_err());
        assert!(page(None, Some(1001)).is_err());
        let p = page(Some(30), None).unwrap();
        assert_eq!((p.offset, p.limit), (30, 100));
        let v = p.wrap("x", vec![json!(1); 10], 45);
        assert_eq!(v["next_offset"], json!(40));
        let v = p.wrap("x", vec![json!(1); 10], 40);
        assert_eq!(v["next_offset"], Value::Null);
    }
}
