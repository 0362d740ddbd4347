//! Tools of the `database` group for working on SQL before running it:
//! `validate_sql` (parse and classify, no database) and `explain_query`
//! (the plan with a short summary, in a transaction that is always rolled
//! back).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::database::canceller;
use super::{Kind, ToolDef, tool};
use crate::db::backend::{Backend, inline_params};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::sql::classify::{self, Level};
use crate::sql::{plan, run};

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("validate_sql", Group::Database, Kind::Read)
            .title("Validate SQL")
            .description("Parse SQL without running it: each statement's safety level, or the syntax error and a fix.")
            .handler(validate_sql),
        tool("explain_query", Group::Database, Kind::Read)
            .title("Explain a query")
            .description("A statement's plan and summary; `analyze` runs it, rolled back.")
            .assess(assess_explain)
            .handler(explain_query),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateSqlArgs {
    /// SQL (one or more statements).
    #[schemars(example = &"select id from public.profiles where username = 'x'")]
    pub query: String,
}

async fn validate_sql(_call: Call, a: ValidateSqlArgs) -> Result<ToolOutput, ToolError> {
    let c = classify::classify(&a.query);
    let mut data = json!({
        "valid": c.error.is_none(),
        "level": c.level,
        "statements": c.statements,
    });
    if let Some(e) = &c.error {
        data["error"] = json!(e);
    }
    let mut out = ToolOutput::trusted(data);
    if c.error.is_some() {
        out = out.warn("the statements below were guessed from keywords: the SQL does not parse");
    } else if c.statements.is_empty() {
        out = out.warn("the SQL has no statement (only whitespace or comments)");
    }
    Ok(out)
}

/// `EXPLAIN (FORMAT JSON ...)` through the Management API or the REST RPC,
/// always in a read-only transaction; parameters are inlined.
async fn explain_remote(
    backend: &Backend,
    statement: &str,
    opts: &run::ExplainOptions,
) -> Result<(Value, Vec<run::TableSize>), ToolError> {
    let literals: Vec<String> = opts
        .params
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(run::literal)
        .collect();
    let statement = inline_params(statement, &literals)?;
    let flag = |b: bool| if b { "true" } else { "false" };
    let sql = format!(
        "EXPLAIN (FORMAT JSON, ANALYZE {}, BUFFERS {}, VERBOSE {}, SETTINGS {}) {statement}",
        flag(opts.analyze),
        flag(opts.buffers),
        flag(opts.verbose),
        flag(opts.settings)
    );
    let rows = backend.remote_rows(&sql, true).await?;
    let plan = rows
        .first()
        .and_then(|r| r.get("QUERY PLAN"))
        .map(|p| match p {
            // Some paths send the json column as text.
            Value::String(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            other => other.clone(),
        })
        .filter(|p| !p.is_null())
        .ok_or_else(|| {
            ToolError::internal("EXPLAIN returned no JSON plan").suggestion(
                "Over the REST API, run provision_execute_sql again: older versions of the helper function cannot return plans.",
            )
        })?;
    let names = plan::seq_scan_tables(&plan);
    let mut sizes = Vec::new();
    if !names.is_empty() {
        match backend.query(run::TABLE_SIZES_SQL, &[&names]).await {
            Ok(rows) => {
                for r in rows {
                    sizes.push(run::TableSize {
                        schema: r.get("schema").unwrap_or_default(),
                        name: r.get("name").unwrap_or_default(),
                        rows: r.get("rows").unwrap_or(0.0),
                        bytes: r.get("bytes").unwrap_or(0),
                    });
                }
            }
            Err(e) => tracing::debug!("table sizes for the plan summary: {}", e.message),
        }
    }
    Ok((plan, sizes))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainQueryArgs {
    /// One SELECT, VALUES, INSERT, UPDATE, DELETE, MERGE or CREATE TABLE AS.
    #[schemars(example = &"select * from public.posts where author_id = $1")]
    pub query: String,
    /// As in execute_sql.
    #[serde(default)]
    pub params: Option<Vec<Value>>,
    /// Run it for actual times and rows (rolled back).
    #[serde(default)]
    pub analyze: bool,
    /// Add buffer usage.
    #[serde(default)]
    pub buffers: bool,
    /// More detail.
    #[serde(default)]
    pub verbose: bool,
    /// Add non-default planner settings.
    #[serde(default)]
    pub settings: bool,
    /// Seconds (default: the server's).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// `EXPLAIN ANALYZE` of a statement that may write needs confirmation.
fn assess_explain(args: &Map<String, Value>) -> Option<String> {
    if args.get("analyze").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let c = classify::classify(args.get("query")?.as_str()?);
    let s = match c.statements.as_slice() {
        [s] if c.error.is_none() && s.level >= Level::Write && s.level < Level::Forbidden => s,
        _ => return None,
    };
    Some(format!(
        "EXPLAIN ANALYZE runs the {} for real inside a transaction that is then rolled back; effects outside the transaction (sequence values, calls to other systems) remain",
        s.action
    ))
}

async fn explain_query(call: Call, a: ExplainQueryArgs) -> Result<ToolOutput, ToolError> {
    let c = classify::classify(&a.query);
    run::check(&c, false, a.params.as_deref())?;
    let s = match c.statements.as_slice() {
        [s] => s,
        many => {
            return Err(ToolError::invalid(format!(
                "explain_query takes one statement, not {}",
                many.len()
            ))
            .suggestion("Explain the statements one at a time."));
        }
    };
    if s.kind.starts_with("EXPLAIN") {
        return Err(ToolError::invalid("the query is already an EXPLAIN")
            .suggestion("Pass the statement itself; use `analyze`, `buffers`, `verbose` and `settings` for the options."));
    }
    if !s.explainable {
        return Err(ToolError::invalid(format!("{} cannot be explained", s.kind))
            .suggestion("EXPLAIN works with SELECT, VALUES, INSERT, UPDATE, DELETE, MERGE and CREATE TABLE AS."));
    }
    let writes = s.level >= Level::Write;
    let read_only = call.read_only || !(a.analyze && writes);
    let opts = run::ExplainOptions {
        analyze: a.analyze,
        buffers: a.buffers,
        verbose: a.verbose,
        settings: a.settings,
        read_only,
        switch_role: read_only && !writes,
        timeout: call.timeout,
        params: a.params,
        canceller: canceller(&call),
    };
    let backend = call.sql().await?;
    let (plan_json, sizes) = match backend {
        Backend::Direct(db) | Backend::Pooled(db) => {
            run::explain(db, &a.query, &c, &opts, &call.cancel, plan::seq_scan_tables).await?
        }
        remote => {
            if a.analyze && writes {
                return Err(ToolError::invalid(format!(
                    "EXPLAIN ANALYZE of {} needs a direct database connection",
                    s.kind
                ))
                .reason(
                    "through the API the statement cannot run in a transaction that is rolled back",
                )
                .suggestion("Explain without `analyze`, or configure a database URL (--db-url)."));
            }
            let text = a.query.get(s.start..s.end).unwrap_or(&a.query);
            explain_remote(&remote, text, &opts).await?
        }
    };
    let summary = plan::summarize(&plan_json, a.analyze, &sizes);
    let mut out = ToolOutput::untrusted(json!({
        "summary": summary,
        "plan": plan_json,
        "analyzed": a.analyze,
        "rolled_back": true,
    }));
    if a.analyze && writes {
        out = out.warn(format!(
            "the {} ran and was rolled back; effects outside the transaction (such as sequence values) remain",
            s.kind
        ));
    }
    Ok(out)
}
