//! Tools of the `database` group about connections: `test_connection`
//! (checks every configured way to reach the instance, with a classified
//! reason and a fix for each failure) and `provision_execute_sql` (creates
//! the helper function that SQL over the REST API needs).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_postgres::SimpleQueryMessage;

use super::{Kind, ToolDef, tool};
use crate::db::backend::RemoteLimits;
use crate::db::probe::{self, Target, TargetReport};
use crate::db::rpc::EXECUTE_SQL_FUNCTION;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("test_connection", Group::Database, Kind::Read)
            .title("Test connection")
            .description("Check each way to reach the instance (database, pooler, REST), with fixes.")
            .handler(test_connection),
        tool("provision_execute_sql", Group::Database, Kind::Write)
            .title("Provision execute SQL")
            .description("Create public.execute_sql (service_role only): SQL over REST without a database URL.")
            .idempotent(true)
            .assess(|_| Some("creates function public.execute_sql (security definer, executable by service_role only)".into()))
            .handler(provision_execute_sql),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConnectionArgs {}

/// Shape of `test_connection` data.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestConnectionOut {
    pub instance: String,
    /// One entry per configured endpoint, in priority order.
    pub targets: Vec<TargetReport>,
    /// The first endpoint that works (`direct`, `pooler` or `rest`), if any.
    pub recommended: Option<Target>,
    /// SQL through the Management API (`database/query`), checked when the
    /// instance has an access token and a project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_api: Option<ManagementReport>,
}

/// The Management API SQL check.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ManagementReport {
    pub ok: bool,
    pub server_version: Option<String>,
    pub latency_ms: f64,
    pub error: Option<String>,
    pub suggestion: Option<String>,
}

/// Runs `SHOW server_version` through the Management API.
async fn probe_management(call: &Call) -> ManagementReport {
    let started = std::time::Instant::now();
    let result = async {
        let backend = call.management_backend(RemoteLimits {
            timeout: PROBE_TIMEOUT,
            max_bytes: 1 << 20,
        })?;
        let row = backend
            .query_one("SELECT current_setting('server_version') AS v", &[])
            .await?;
        row.get::<String>("v")
    }
    .await;
    let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    match result {
        Ok(v) => ManagementReport {
            ok: true,
            server_version: Some(v),
            latency_ms,
            error: None,
            suggestion: None,
        },
        Err(e) => ManagementReport {
            ok: false,
            server_version: None,
            latency_ms,
            error: Some(match e.reason {
                Some(r) => format!("{}: {r}", e.message),
                None => e.message,
            }),
            suggestion: e.suggestion,
        },
    }
}

/// Longest a single endpoint check may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

async fn test_connection(call: Call, _a: TestConnectionArgs) -> Result<ToolOutput, ToolError> {
    let inst = &call.instance;
    let n = [
        inst.db_url.is_some(),
        inst.pooler_url.is_some(),
        inst.supabase_url.is_some() && inst.service_role_key.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let management = if inst.access_token.is_some() && inst.project_ref.is_some() {
        Some(probe_management(&call).await)
    } else {
        None
    };
    if n == 0 && management.is_none() {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!("instance `{}` has no database URL, pooler URL or Supabase URL with service role key", inst.name),
        )
        .suggestion("Pass --db-url postgres://user:password@host:5432/postgres, or --supabase-url with --service-role-key, or --env-file with your Supabase .env."));
    }
    let per_probe = (call.timeout.saturating_sub(Duration::from_secs(1)) / n.max(1) as u32)
        .clamp(Duration::from_secs(1), PROBE_TIMEOUT);
    let redactor = &call.state.config.redactor;
    let targets = probe::probe_instance(inst, redactor, per_probe).await;
    let recommended = targets.iter().find(|t| t.ok).map(|t| t.target);
    let mut warnings = Vec::new();
    for t in &targets {
        if let Some(e) = &t.error {
            warnings.push(format!(
                "{}: {} ({})",
                t.target.name(),
                e.message,
                serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ));
        }
    }
    if let Some(m) = management.as_ref().filter(|m| !m.ok) {
        warnings.push(format!(
            "management_api: {}",
            m.error.as_deref().unwrap_or("failed")
        ));
    }
    let out = TestConnectionOut {
        instance: inst.name.clone(),
        targets,
        recommended,
        management_api: management,
    };
    let mut data = serde_json::to_value(out).map_err(|e| ToolError::internal(e.to_string()))?;
    redactor.scrub_json(&mut data);
    let mut output = ToolOutput::untrusted(data);
    for w in warnings {
        output = output.warn(redactor.scrub(&w));
    }
    Ok(output)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionArgs {
    /// Only return the SQL; change nothing.
    #[serde(default)]
    pub sql_only: bool,
}

const SIGNATURE: &str =
    "public.execute_sql(query text, read_only boolean default true) returns jsonb";

async fn provision_execute_sql(call: Call, a: ProvisionArgs) -> Result<ToolOutput, ToolError> {
    let has_db = call.instance.db_url.is_some() || call.instance.pooler_url.is_some();
    if a.sql_only || !has_db {
        let why = if a.sql_only {
            "sql_only was requested"
        } else {
            "this instance has no database URL"
        };
        return Ok(ToolOutput::trusted(json!({
            "created": false,
            "function": SIGNATURE,
            "sql": EXECUTE_SQL_FUNCTION,
            "instructions": format!("Nothing was changed ({why}). Open Supabase Studio > SQL Editor, paste and run this SQL as the postgres user; SQL tools then work over the REST API with the service role key."),
        })));
    }
    let db = call.db().await?;
    // One simple-query message: atomic, and fine through a transaction-mode pooler.
    db.batch_execute(EXECUTE_SQL_FUNCTION).await.map_err(|e| {
        let reason = call
            .state
            .config
            .redactor
            .scrub(&crate::db::pool::describe_pg_error(&e));
        let suggestion = if reason.contains("role") && reason.contains("does not exist") {
            "The database lacks the Supabase roles (anon, authenticated, service_role): the function is meant for Supabase databases."
        } else if reason.contains("permission denied") || reason.contains("must be owner") {
            "Connect as postgres (or another role that may create functions in schema public), or run the SQL from provision_execute_sql with sql_only in the SQL editor."
        } else {
            "Run provision_execute_sql with sql_only=true and run the SQL in the SQL editor to see the full error."
        };
        ToolError::new(ErrorCode::QueryFailed, "creating public.execute_sql failed")
            .reason(reason)
            .suggestion(suggestion)
    })?;
    let check = "SELECT has_function_privilege('service_role', 'public.execute_sql(text, boolean)', 'EXECUTE'), \
                        has_function_privilege('anon', 'public.execute_sql(text, boolean)', 'EXECUTE'), \
                        has_function_privilege('authenticated', 'public.execute_sql(text, boolean)', 'EXECUTE')";
    let mut privileges = Value::Null;
    if let Ok(messages) = db.simple_query(check).await
        && let Some(SimpleQueryMessage::Row(r)) = messages
            .iter()
            .find(|m| matches!(m, SimpleQueryMessage::Row(_)))
    {
        let f = |i: usize| r.get(i) == Some("t");
        privileges = json!({"service_role": f(0), "anon": f(1), "authenticated": f(2)});
    }
    Ok(ToolOutput::trusted(json!({
        "created": true,
        "function": SIGNATURE,
        "execute_privileges": privileges,
        "next": "SQL tools can now use the REST API (POST /rest/v1/rpc/execute_sql) with the service role key.",
    })))
}
