//! Database-facing settings of a cloud project: the Data API (PostgREST:
//! exposed schemas, extra search path, row limit, pool size), the connection
//! pooler (pool mode, default pool size) and SSL enforcement. Reading them
//! masks the JWT secret and the password in connection strings; each change
//! is checked, confirmed first, and sends only the fields given.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::common::{HIDDEN, ProjectArgs, api, api_error, args_of, project_label, project_ref};
use crate::api::CallOptions;
use crate::api::generated::management::types::{
    SslEnforcementRequest, SslEnforcementRequestRequestedConfig, SupavisorConfigResponse,
    UpdateSupavisorConfigBody, UpdateSupavisorConfigBodyPoolMode, V1UpdatePostgrestConfigBody,
};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::secret::{Secret, mask_url_password};
use crate::server::call::Call;
use crate::tools::{Kind, Scope, ToolDef, tool};

/// Limits the API puts on the Data API settings.
const MAX_ROWS_LIMIT: u32 = 1_000_000;
const MAX_DATA_API_POOL: u32 = 1_000;
/// Largest default pool size of the connection pooler.
const MAX_POOL_SIZE: u32 = 3_000;
/// PostgreSQL's longest identifier, in bytes.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Schemas whose tables should not be reachable over the Data API.
const INTERNAL_SCHEMAS: [&str; 12] = [
    "auth",
    "storage",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "extensions",
    "realtime",
    "supabase_functions",
    "supabase_migrations",
    "net",
    "cron",
    "pg_catalog",
];

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_postgrest_config", Group::Management, Kind::Read)
            .title("Get Data API settings")
            .description("Data API (PostgREST) settings: exposed schemas, extra search path, max rows, pool.")
            .scope(Scope::Project)
            .handler(get_postgrest_config),
        tool("update_postgrest_config", Group::Management, Kind::Write)
            .title("Update Data API settings")
            .description("Change the Data API's exposed schemas, extra search path, max rows or pool size.")
            .idempotent(true)
            .scope(Scope::Project)
            .assess(assess_postgrest)
            .handler(update_postgrest_config),
        tool("get_pooler_config", Group::Management, Kind::Read)
            .title("Get pooler settings")
            .description("Connection pooler (Supavisor) settings: pool mode, default pool size, address.")
            .scope(Scope::Project)
            .handler(get_pooler_config),
        tool("update_pooler_config", Group::Management, Kind::Write)
            .title("Update pooler settings")
            .description("Change the connection pooler's pool mode or default pool size.")
            .idempotent(true)
            .scope(Scope::Project)
            .assess(assess_pooler)
            .handler(update_pooler_config),
        tool("get_ssl_enforcement", Group::Management, Kind::Read)
            .title("Get SSL enforcement")
            .description("Whether a cloud project's database refuses connections without SSL.")
            .scope(Scope::Project)
            .handler(get_ssl_enforcement),
        tool("update_ssl_enforcement", Group::Management, Kind::Write)
            .title("Set SSL enforcement")
            .description("Require, or stop requiring, SSL for connections to a cloud project's database.")
            .idempotent(true)
            .scope(Scope::Project)
            .assess(assess_ssl)
            .handler(update_ssl_enforcement),
    ]
}

// ---------------------------------------------------------------------------
// Data API (PostgREST)

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgrestArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Comma-separated schemas to expose, e.g. public,graphql_public.
    #[serde(default)]
    pub db_schema: Option<String>,
    /// Comma-separated schemas added to the search path, e.g. public,extensions.
    #[serde(default)]
    pub db_extra_search_path: Option<String>,
    /// Most rows one request returns (0 to 1000000).
    #[serde(default)]
    pub max_rows: Option<u32>,
    /// Connections the Data API keeps to the database (0 to 1000).
    #[serde(default)]
    pub db_pool: Option<u32>,
}

/// A comma-separated schema list, checked and tidied (`a, b` → `a,b`).
fn schema_list(param: &str, raw: &str, allow_empty: bool) -> Result<Vec<String>, ToolError> {
    let items: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() && !allow_empty {
        return Err(ToolError::invalid(format!("`{param}` names no schema"))
            .suggestion("Pass schema names separated by commas, e.g. public,graphql_public."));
    }
    for s in &items {
        let bad = s.len() > MAX_IDENTIFIER_BYTES
            || s.chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '\'');
        if bad {
            return Err(
                ToolError::invalid(format!("`{param}`: `{s}` is not a schema name"))
                    .suggestion("Schema names have at most 63 bytes and no spaces, quotes or control characters; separate them with commas."),
            );
        }
    }
    let mut seen: Vec<String> = Vec::new();
    for s in items {
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    Ok(seen)
}

/// The checked change: the request body, what changes, and the risks.
struct PostgrestPlan {
    body: V1UpdatePostgrestConfigBody,
    changes: Vec<String>,
    warnings: Vec<String>,
}

fn plan_postgrest(a: &PostgrestArgs) -> Result<PostgrestPlan, ToolError> {
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let mut body = V1UpdatePostgrestConfigBody::default();
    if let Some(raw) = &a.db_schema {
        let schemas = schema_list("db_schema", raw, false)?;
        let exposed: Vec<&str> = schemas
            .iter()
            .map(String::as_str)
            .filter(|s| INTERNAL_SCHEMAS.contains(s))
            .collect();
        if !exposed.is_empty() {
            warnings.push(format!(
                "exposing {} over the Data API makes its tables and functions reachable by HTTP requests (subject to grants and row-level security); Supabase keeps these schemas private",
                exposed.join(", ")
            ));
        }
        if !schemas.iter().any(|s| s == "public") {
            warnings.push("`public` is not exposed: supabase-js queries its default schema, public, and will get errors".to_owned());
        }
        let joined = schemas.join(",");
        changes.push(format!("exposed schemas → {joined}"));
        body.db_schema = Some(joined);
    }
    if let Some(raw) = &a.db_extra_search_path {
        let schemas = schema_list("db_extra_search_path", raw, true)?;
        let joined = schemas.join(",");
        changes.push(format!(
            "extra search path → {}",
            if joined.is_empty() { "(none)" } else { &joined }
        ));
        body.db_extra_search_path = Some(joined);
    }
    if let Some(n) = a.max_rows {
        if n > MAX_ROWS_LIMIT {
            return Err(ToolError::invalid(format!(
                "`max_rows` is {n}; at most {MAX_ROWS_LIMIT} is accepted"
            ))
            .suggestion("Pass a smaller row limit, e.g. 1000 (the default)."));
        }
        if n > 100_000 {
            warnings.push(format!(
                "a limit of {n} rows lets one request read very large results; it can slow the database down"
            ));
        }
        changes.push(format!("max rows → {n}"));
        body.max_rows = Some(i64::from(n));
    }
    if let Some(n) = a.db_pool {
        if n > MAX_DATA_API_POOL {
            return Err(ToolError::invalid(format!(
                "`db_pool` is {n}; at most {MAX_DATA_API_POOL} is accepted"
            ))
            .suggestion("Pass a smaller pool size; it must leave room for the database's other connections."));
        }
        if n == 0 {
            return Err(ToolError::invalid(
                "`db_pool` is 0, which would leave the Data API without a database connection",
            )
            .suggestion("Pass 1 or more, e.g. 10."));
        }
        changes.push(format!("pool size → {n}"));
        body.db_pool = Some(i64::from(n));
    }
    if changes.is_empty() {
        return Err(ToolError::invalid("nothing to change").suggestion(
            "Pass at least one of db_schema, db_extra_search_path, max_rows or db_pool.",
        ));
    }
    Ok(PostgrestPlan {
        body,
        changes,
        warnings,
    })
}

fn assess_postgrest(args: &Map<String, Value>) -> Option<String> {
    let a: PostgrestArgs = args_of(args)?;
    let p = plan_postgrest(&a).ok()?;
    let mut text = format!(
        "change the Data API (PostgREST) settings of {} for every client: {}",
        project_label(a.project_id.as_deref()),
        p.changes.join("; ")
    );
    for w in &p.warnings {
        text.push_str(&format!(". WARNING: {w}"));
    }
    Some(text)
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

async fn get_postgrest_config(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    let c = api
        .idempotent(|c| c.v1_get_postgrest_service_config(&project))
        .await
        .map_err(api_error)?;
    let jwt_secret = match c.jwt_secret.as_deref() {
        Some(s) if !s.is_empty() => {
            call.state.config.redactor.add(&Secret::new(s));
            Value::from(HIDDEN)
        }
        _ => Value::Null,
    };
    Ok(ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "db_schema": c.db_schema,
        "exposed_schemas": split_list(&c.db_schema),
        "db_extra_search_path": c.db_extra_search_path,
        "max_rows": c.max_rows,
        "db_pool": c.db_pool,
        "db_pool_note": if c.db_pool.is_none() { Some("sized by the project's compute") } else { None },
        "jwt_secret": jwt_secret,
    })))
}

async fn update_postgrest_config(call: Call, a: PostgrestArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let plan = plan_postgrest(&a)?;
    let api = api(&call)?;
    let c = api
        .call_with(CallOptions::idempotent(), |c| {
            c.v1_update_postgrest_service_config(&project, &plan.body)
        })
        .await
        .map_err(api_error)?;
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "changes": plan.changes,
        "now": {
            "db_schema": c.db_schema,
            "db_extra_search_path": c.db_extra_search_path,
            "max_rows": c.max_rows,
            "db_pool": c.db_pool,
        },
        "next_step": "The Data API reloads its settings within a few seconds.",
    }));
    for w in plan.warnings {
        out = out.warn(w);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Connection pooler

// How the pooler shares database connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    Transaction,
    Session,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolerArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// transaction (a connection per transaction) or session (per client).
    #[serde(default)]
    pub pool_mode: Option<PoolMode>,
    /// Database connections per user and database (1 to 3000).
    #[serde(default)]
    pub default_pool_size: Option<u32>,
}

struct PoolerPlan {
    body: UpdateSupavisorConfigBody,
    changes: Vec<String>,
    warnings: Vec<String>,
}

fn plan_pooler(a: &PoolerArgs) -> Result<PoolerPlan, ToolError> {
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let mut body = UpdateSupavisorConfigBody::default();
    if let Some(n) = a.default_pool_size {
        if n == 0 {
            return Err(ToolError::invalid(
                "`default_pool_size` is 0, which would refuse every pooled connection",
            )
            .suggestion("Pass 1 or more; the dashboard shows the size the compute allows."));
        }
        if n > MAX_POOL_SIZE {
            return Err(ToolError::invalid(format!(
                "`default_pool_size` is {n}; at most {MAX_POOL_SIZE} is accepted"
            ))
            .suggestion(
                "Pass a smaller size; it must stay below the database's max_connections.",
            ));
        }
        changes.push(format!("default pool size → {n}"));
        body.default_pool_size = Some(i64::from(n));
    }
    if let Some(m) = a.pool_mode {
        let (name, mode) = match m {
            PoolMode::Transaction => (
                "transaction",
                UpdateSupavisorConfigBodyPoolMode::Transaction,
            ),
            PoolMode::Session => ("session", UpdateSupavisorConfigBodyPoolMode::Session),
        };
        if m == PoolMode::Session {
            warnings.push("in session mode each client holds a database connection for as long as it stays connected; many serverless clients can exhaust the pool".to_owned());
        } else {
            warnings.push("in transaction mode session state (prepared statements, SET, advisory locks) does not carry across transactions".to_owned());
        }
        changes.push(format!("pool mode → {name}"));
        body.pool_mode = Some(mode);
    }
    if changes.is_empty() {
        return Err(ToolError::invalid("nothing to change")
            .suggestion("Pass pool_mode and/or default_pool_size."));
    }
    Ok(PoolerPlan {
        body,
        changes,
        warnings,
    })
}

fn assess_pooler(args: &Map<String, Value>) -> Option<String> {
    let a: PoolerArgs = args_of(args)?;
    let p = plan_pooler(&a).ok()?;
    Some(format!(
        "change the connection pooler of {} for every pooled client: {}",
        project_label(a.project_id.as_deref()),
        p.changes.join("; ")
    ))
}

fn pooler_json(p: &SupavisorConfigResponse) -> Value {
    json!({
        "identifier": p.identifier,
        "database_type": p.database_type.to_string(),
        "pool_mode": p.pool_mode.to_string(),
        "default_pool_size": p.default_pool_size,
        "max_client_conn": p.max_client_conn,
        "db_host": p.db_host,
        "db_port": p.db_port,
        "db_name": p.db_name,
        "db_user": p.db_user,
        "connection_string": mask_url_password(&p.connection_string),
        "is_using_scram_auth": p.is_using_scram_auth,
    })
}

async fn get_pooler_config(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    let list = api
        .idempotent(|c| c.v1_get_pooler_config(&project))
        .await
        .map_err(api_error)?;
    let out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "count": list.len(),
        "databases": list.iter().map(pooler_json).collect::<Vec<_>>(),
    }));
    Ok(if list.is_empty() {
        out.warn("the API reported no pooler; the project may be paused or still starting")
    } else {
        out
    })
}

async fn update_pooler_config(call: Call, a: PoolerArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let plan = plan_pooler(&a)?;
    let api = api(&call)?;
    let now = api
        .call_with(CallOptions::idempotent(), |c| {
            c.v1_update_pooler_config(&project, &plan.body)
        })
        .await
        .map_err(api_error)?;
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "changes": plan.changes,
        "now": {"pool_mode": now.pool_mode, "default_pool_size": now.default_pool_size},
        "next_step": "get_pooler_config shows the settings of every database.",
    }));
    for w in plan.warnings {
        out = out.warn(w);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// SSL enforcement

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SslArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// true: refuse database connections without SSL; false: accept them.
    pub enforced: bool,
}

fn ssl_risk(enforced: bool) -> &'static str {
    if enforced {
        "clients that connect without SSL (sslmode=disable) will be refused"
    } else {
        "connections without SSL will be accepted: passwords and data may cross the network unencrypted"
    }
}

fn assess_ssl(args: &Map<String, Value>) -> Option<String> {
    let a: SslArgs = args_of(args)?;
    Some(format!(
        "{} SSL for every database connection to {}: {}",
        if a.enforced {
            "require"
        } else {
            "stop requiring"
        },
        project_label(a.project_id.as_deref()),
        ssl_risk(a.enforced)
    ))
}

async fn get_ssl_enforcement(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    let s = api
        .idempotent(|c| c.v1_get_ssl_enforcement_config(&project))
        .await
        .map_err(api_error)?;
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "enforced": s.current_config.database,
        "applied": s.applied_successfully,
    }));
    if !s.applied_successfully {
        out = out.warn("the last change is not applied yet (or failed); check again in a minute");
    }
    if !s.current_config.database {
        out = out.warn("the database accepts connections without SSL");
    }
    Ok(out)
}

async fn update_ssl_enforcement(call: Call, a: SslArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let body = SslEnforcementRequest {
        requested_config: SslEnforcementRequestRequestedConfig {
            database: a.enforced,
        },
    };
    let api = api(&call)?;
    let s = api
        .call_with(CallOptions::idempotent(), |c| {
            c.v1_update_ssl_enforcement_config(&project, &body)
        })
        .await
        .map_err(api_error)?;
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "enforced": s.current_config.database,
        "applied": s.applied_successfully,
        "next_step": "get_ssl_enforcement shows whether the change is applied.",
    }))
    .warn(ssl_risk(a.enforced));
    if !s.applied_successfully {
        out = out
            .warn("the API has not applied the change yet; check get_ssl_enforcement in a minute");
    }
    if s.current_config.database != a.enforced {
        out = out.warn(format!(
            "the API reports enforcement {}, not what was asked",
            if s.current_config.database {
                "on"
            } else {
                "off"
            }
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(v: Value) -> PostgrestArgs {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn postgrest_changes_are_checked_and_tidied() {
        let p = plan_postgrest(&pg(
            json!({"db_schema": " public , api,public", "max_rows": 500}),
        ))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&p.body).unwrap(),
            json!({"db_schema": "public,api", "max_rows": 500})
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let p = plan_postgrest(&pg(json!({"db_schema": "api,auth"}))).unwrap();
        assert!(
            p.warnings.iter().any(|w| w.contains("auth")),
            "{:?}",
            p.warnings
        );
        assert!(
            p.warnings.iter().any(|w| w.contains("public")),
            "{:?}",
            p.warnings
        );
        let p = plan_postgrest(&pg(json!({"db_extra_search_path": ""}))).unwrap();
        assert_eq!(
            serde_json::to_value(&p.body).unwrap(),
            json!({"db_extra_search_path": ""})
        );
        assert!(plan_postgrest(&pg(json!({}))).is_err());
        assert!(plan_postgrest(&pg(json!({"db_schema": " , "}))).is_err());
        assert!(plan_postgrest(&pg(json!({"db_schema": "my schema"}))).is_err());
        assert!(plan_postgrest(&pg(json!({"max_rows": 1_000_001}))).is_err());
        assert!(plan_postgrest(&pg(json!({"db_pool": 0}))).is_err());
        assert!(plan_postgrest(&pg(json!({"db_pool": 1001}))).is_err());
    }

    #[test]
    fn pooler_changes_are_checked() {
        let a: PoolerArgs =
            serde_json::from_value(json!({"pool_mode": "session", "default_pool_size": 20}))
                .unwrap();
        let p = plan_pooler(&a).unwrap();
        assert_eq!(
            serde_json::to_value(&p.body).unwrap(),
            json!({"pool_mode": "session", "default_pool_size": 20})
        );
        let a: PoolerArgs = serde_json::from_value(json!({"default_pool_size": 0})).unwrap();
        assert!(plan_pooler(&a).is_err());
        let a: PoolerArgs = serde_json::from_value(json!({})).unwrap();
        assert!(plan_pooler(&a).is_err());
        assert!(serde_json::from_value::<PoolerArgs>(json!({"pool_mode": "statement"})).is_err());
    }
}
