//! The `debugging` group (cloud projects, through the Management API): a
//! service's recent logs, SQL over the log tables within a window of at most
//! 24 hours, and the project's advisor findings grouped by lint so one lint
//! firing on hundreds of objects stays readable. On an instance with a
//! database connection and no cloud project, `get_advisors` runs the SQL
//! lints of [`crate::advisors`] instead, in the same shape.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::generated::management::types::{
    AnalyticsResponseError, ProjectRef, V1ProjectAdvisorsResponseLintsItem,
};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::{Call, parse_project_ref};

/// Rows `get_logs` asks for.
pub const LOG_LIMIT: usize = 100;
/// The longest window a log query may cover.
pub const MAX_WINDOW_HOURS: i64 = 24;
/// Objects listed per lint when `limit` is not given.
pub const DEFAULT_ADVISOR_LIMIT: usize = 20;
/// The largest `limit` accepted by `get_advisors`.
pub const MAX_ADVISOR_LIMIT: usize = 500;
/// Longest SQL accepted by `query_logs` (it travels in the URL).
const MAX_LOG_SQL_CHARS: usize = 8_000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_logs", Group::Debugging, Kind::Read)
            .title("Get logs")
            .description("Logs of one service of a cloud project (default: the last minute).")
            .scope(Scope::Project)
            .handler(get_logs),
        tool("query_logs", Group::Debugging, Kind::Read)
            .title("Query logs")
            .description("SQL over a cloud project's log tables; window ≤ 24 h.")
            .scope(Scope::Project)
            .handler(query_logs),
        tool("get_advisors", Group::Debugging, Kind::Read)
            .title("Get advisors")
            .description("Security or performance advisor findings, grouped by lint.")
            .scope(Scope::Project)
            .handler(get_advisors),
    ]
}

/// A service whose logs `get_logs` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub enum LogService {
    Api,
    Postgres,
    EdgeFunction,
    Auth,
    Storage,
    Realtime,
    BranchAction,
}

impl LogService {
    pub fn name(self) -> &'static str {
        match self {
            LogService::Api => "api",
            LogService::Postgres => "postgres",
            LogService::EdgeFunction => "edge-function",
            LogService::Auth => "auth",
            LogService::Storage => "storage",
            LogService::Realtime => "realtime",
            LogService::BranchAction => "branch-action",
        }
    }

    /// The log SQL for this service: the newest [`LOG_LIMIT`] rows with the
    /// columns that help most (the time window travels separately).
    pub fn sql(self) -> String {
        let (columns, from) = match self {
            // API gateway requests: method, path and status of each.
            LogService::Api => (
                "edge_logs.timestamp, edge_logs.id, edge_logs.event_message, request.method, \
                 request.path, response.status_code, identifier",
                "edge_logs cross join unnest(metadata) as m \
                 cross join unnest(m.request) as request \
                 cross join unnest(m.response) as response",
            ),
            LogService::Postgres => (
                "postgres_logs.timestamp, postgres_logs.id, postgres_logs.event_message, \
                 parsed.error_severity, identifier",
                "postgres_logs cross join unnest(metadata) as m \
                 cross join unnest(m.parsed) as parsed",
            ),
            // Function invocations as the edge sees them.
            LogService::EdgeFunction => (
                "function_edge_logs.timestamp, function_edge_logs.id, \
                 function_edge_logs.event_message, response.status_code, request.method, \
                 m.function_id, m.execution_time_ms, m.deployment_id, m.version",
                "function_edge_logs cross join unnest(metadata) as m \
                 cross join unnest(m.response) as response \
                 cross join unnest(m.request) as request",
            ),
            LogService::Auth => (
                "auth_logs.timestamp, auth_logs.id, auth_logs.event_message, m.level, m.status, \
                 m.path, m.msg, m.error",
                "auth_logs cross join unnest(metadata) as m",
            ),
            LogService::Storage => (
                "storage_logs.timestamp, storage_logs.id, storage_logs.event_message",
                "storage_logs",
            ),
            LogService::Realtime => (
                "realtime_logs.timestamp, realtime_logs.id, realtime_logs.event_message",
                "realtime_logs",
            ),
            // Branch workflow runs (create, push, merge, reset).
            LogService::BranchAction => (
                "workflow_run_logs.timestamp, workflow_run_logs.id, \
                 workflow_run_logs.event_message, workflow_run",
                "workflow_run_logs",
            ),
        };
        format!("select {columns} from {from} order by timestamp desc limit {LOG_LIMIT}")
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetLogsArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Service whose logs to read.
    pub service: LogService,
    /// ISO 8601 (default: a minute before the end).
    #[serde(default)]
    pub iso_timestamp_start: Option<String>,
    /// ISO 8601 (default: now); window at most 24 h.
    #[serde(default)]
    pub iso_timestamp_end: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryLogsArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// BigQuery SQL over edge_logs, postgres_logs, auth_logs...; add a LIMIT.
    pub sql: String,
    /// ISO 8601 (default: a minute before the end).
    #[serde(default)]
    pub iso_timestamp_start: Option<String>,
    /// ISO 8601 (default: now); window at most 24 h.
    #[serde(default)]
    pub iso_timestamp_end: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum AdvisorType {
    Security,
    Performance,
}

impl AdvisorType {
    fn name(self) -> &'static str {
        match self {
            AdvisorType::Security => "security",
            AdvisorType::Performance => "performance",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvisorArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Which advisor to run.
    pub r#type: AdvisorType,
    /// Objects per lint (default 20, at most 500).
    #[serde(default)]
    pub limit: Option<u64>,
}

fn project_ref(call: &Call, given: Option<&str>) -> Result<ProjectRef, ToolError> {
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required")
            .suggestion("Pass project_id (list_projects shows the refs), or start the server with --project-ref."));
    };
    parse_project_ref(r.trim())
}

/// Reads one timestamp argument: RFC 3339 (`2025-01-31T12:00:00Z`, any
/// offset), or without an offset, taken as UTC.
pub fn parse_timestamp(name: &str, raw: &str) -> Result<DateTime<Utc>, ToolError> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    Err(ToolError::invalid(format!("`{name}` is not an ISO 8601 timestamp: `{s}`"))
        .suggestion("Write it like 2025-01-31T12:00:00Z (UTC) or with an offset, 2025-01-31T13:00:00+01:00."))
}

/// The time window of a log query. Without arguments, the minute before
/// `now`; a start alone runs to `now`; an end alone gets the minute before it.
/// The start must be before the end and the window at most 24 hours long.
pub fn log_window(
    start: Option<&str>,
    end: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ToolError> {
    let start = start
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_timestamp("iso_timestamp_start", s))
        .transpose()?;
    let end = end
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_timestamp("iso_timestamp_end", s))
        .transpose()?;
    let end_given = end.is_some();
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end - TimeDelta::minutes(1));
    if start >= end {
        return Err(ToolError::invalid(format!(
            "the log window is empty: iso_timestamp_start ({}) is not before iso_timestamp_end ({}{})",
            stamp(start),
            stamp(end),
            if end_given { "" } else { ", now" }
        ))
        .suggestion("Pass a start earlier than the end; the end defaults to now."));
    }
    let max = TimeDelta::hours(MAX_WINDOW_HOURS);
    if end - start > max {
        let hours = (end - start).num_minutes() as f64 / 60.0;
        return Err(ToolError::invalid(format!(
            "the log window is {hours:.1} h long; at most {MAX_WINDOW_HOURS} h is allowed"
        ))
        .suggestion(format!(
            "Narrow the window: pass iso_timestamp_end at most {MAX_WINDOW_HOURS} h after iso_timestamp_start (the end defaults to now), and query longer periods piece by piece."
        )));
    }
    Ok((start, end))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Now, to the millisecond (so the window's query parameters stay short).
fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Runs log SQL over the window and returns the rows, or the query's error.
async fn run_log_sql(
    call: &Call,
    project: &ProjectRef,
    sql: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Value>, ToolError> {
    let api = call.state.clients.management(&call.instance)?;
    let response = api
        .idempotent(|c| c.v1_get_project_logs(project, Some(&end), Some(&start), Some(sql)))
        .await
        .map_err(ToolError::from)?;
    if let Some(err) = response.error {
        let reason = match err {
            AnalyticsResponseError::String(s) => s,
            AnalyticsResponseError::Object {
                message, status, ..
            } => {
                if status.is_empty() {
                    message
                } else {
                    format!("{message} ({status})")
                }
            }
        };
        return Err(
            ToolError::new(ErrorCode::QueryFailed, "the log query failed")
                .reason(reason)
                .suggestion(
                    "Check the SQL: log tables are queried in BigQuery SQL, and `metadata` is an \
                     array to open with `cross join unnest(metadata) as m`.",
                ),
        );
    }
    Ok(response.result)
}

async fn get_logs(call: Call, a: GetLogsArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let (start, end) = log_window(
        a.iso_timestamp_start.as_deref(),
        a.iso_timestamp_end.as_deref(),
        now_ms(),
    )?;
    let sql = a.service.sql();
    let rows = run_log_sql(&call, &project, &sql, start, end).await?;
    let count = rows.len();
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "service": a.service.name(),
        "iso_timestamp_start": stamp(start),
        "iso_timestamp_end": stamp(end),
        "count": count,
        "logs": rows,
    }));
    if count >= LOG_LIMIT {
        out = out.warn(format!(
            "only the newest {LOG_LIMIT} entries are shown; narrow the window, or use query_logs with a WHERE clause"
        ));
    } else if count == 0 {
        out = out.warn(format!(
            "no {} logs in this window; widen it with iso_timestamp_start (up to {MAX_WINDOW_HOURS} h)",
            a.service.name()
        ));
    }
    Ok(out)
}

async fn query_logs(call: Call, a: QueryLogsArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let sql = a.sql.trim();
    if sql.is_empty() {
        return Err(ToolError::invalid("`sql` is empty").suggestion(
            "Pass a log query, e.g. select timestamp, event_message from postgres_logs order by timestamp desc limit 50",
        ));
    }
    if sql.chars().count() > MAX_LOG_SQL_CHARS {
        return Err(ToolError::invalid(format!(
            "`sql` is longer than {MAX_LOG_SQL_CHARS} characters"
        ))
        .suggestion("Shorten the query; it is sent in the request URL."));
    }
    let (start, end) = log_window(
        a.iso_timestamp_start.as_deref(),
        a.iso_timestamp_end.as_deref(),
        now_ms(),
    )?;
    let rows = run_log_sql(&call, &project, sql, start, end).await?;
    let count = rows.len();
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "iso_timestamp_start": stamp(start),
        "iso_timestamp_end": stamp(end),
        "count": count,
        "rows": rows,
    }));
    if !sql.to_ascii_lowercase().contains("limit") {
        out = out.warn("the query has no LIMIT; add one to keep results small");
    }
    Ok(out)
}

/// True when `get_advisors` lints the instance's database with SQL: no
/// `project_id` was given, the instance has no cloud project (a project ref
/// with an access token), and it has an SQL path of its own (a database or
/// pooler URL, or a Supabase URL with the service role key).
pub fn lints_database(inst: &crate::config::Instance, project_id: Option<&str>) -> bool {
    let cloud_project = inst.project_ref.is_some() && inst.access_token.is_some();
    let database = inst.db_url.is_some()
        || inst.pooler_url.is_some()
        || (inst.supabase_url.is_some() && inst.service_role_key.is_some());
    project_id.is_none() && !cloud_project && database
}

async fn get_advisors(call: Call, a: AdvisorArgs) -> Result<ToolOutput, ToolError> {
    let limit = match a.limit {
        None => DEFAULT_ADVISOR_LIMIT,
        Some(n) if n as usize <= MAX_ADVISOR_LIMIT => n as usize,
        Some(n) => {
            return Err(ToolError::invalid(format!(
                "`limit` is {n}; at most {MAX_ADVISOR_LIMIT} objects per lint are listed"
            ))
            .suggestion(format!(
                "Pass a limit from 0 to {MAX_ADVISOR_LIMIT} (0 lists counts only)."
            )));
        }
    };
    if lints_database(&call.instance, a.project_id.as_deref()) {
        return database_advisors(&call, a.r#type, limit).await;
    }
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let response = match a.r#type {
        AdvisorType::Security => {
            api.idempotent(|c| c.v1_get_security_advisors(&project, None))
                .await
        }
        AdvisorType::Performance => {
            api.idempotent(|c| c.v1_get_performance_advisors(&project))
                .await
        }
    }
    .map_err(ToolError::from)?;
    let total = response.lints.len();
    let groups = group_lints(&response.lints, limit);
    let truncated = limit > 0 && groups.iter().any(|g| g.omitted > 0);
    let lints: Vec<Value> = groups.into_iter().map(LintGroup::into_json).collect();
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "type": a.r#type.name(),
        "total_findings": total,
        "lints": lints,
    }));
    if truncated {
        out = out.warn(format!(
            "some lints list only their first {limit} objects (`omitted` says how many more); pass a larger limit (at most {MAX_ADVISOR_LIMIT}) to see them"
        ));
    }
    Ok(out)
}

/// `get_advisors` on the instance's own database: the SQL lints.
async fn database_advisors(
    call: &Call,
    kind: AdvisorType,
    limit: usize,
) -> Result<ToolOutput, ToolError> {
    let category = match kind {
        AdvisorType::Security => crate::advisors::Category::Security,
        AdvisorType::Performance => crate::advisors::Category::Performance,
    };
    let db = call.sql().await?;
    let report = crate::advisors::run(&db, category, limit).await;
    let total = report.total_findings();
    let truncated = limit > 0 && report.results.iter().any(|r| r.count > r.objects.len());
    let failures: Vec<Value> = report
        .failures
        .iter()
        .map(|f| json!({"lint": f.lint, "reason": f.reason}))
        .collect();
    let lints: Vec<Value> = report
        .results
        .into_iter()
        .map(crate::advisors::LintResult::into_json)
        .collect();
    let mut data = json!({
        "instance": call.instance.name,
        "source": "database",
        "type": kind.name(),
        "total_findings": total,
        "lints": lints,
    });
    let mut warnings = Vec::new();
    if !failures.is_empty() {
        warnings.push(format!(
            "{} of the {} lints could not run (see `failed_lints`); the connected role may lack privileges on the catalogs",
            failures.len(),
            crate::advisors::lints::all()
                .iter()
                .filter(|l| l.category == category)
                .count()
        ));
        data["failed_lints"] = Value::Array(failures);
    }
    if truncated {
        warnings.push(format!(
            "some lints list only their first {limit} objects (`omitted` says how many more); pass a larger limit (at most {MAX_ADVISOR_LIMIT}) to see them"
        ));
    }
    let mut out = ToolOutput::untrusted(data);
    out.warnings = warnings;
    Ok(out)
}

/// The findings of one lint.
#[derive(Debug)]
pub struct LintGroup {
    pub name: String,
    pub title: String,
    pub level: String,
    pub categories: Vec<String>,
    pub description: String,
    pub remediation: String,
    pub count: usize,
    /// The first `limit` affected objects.
    pub objects: Vec<Value>,
    /// Findings beyond `limit`, not listed.
    pub omitted: usize,
    rank: u8,
}

impl LintGroup {
    fn into_json(self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("title".into(), json!(self.title));
        m.insert("level".into(), json!(self.level));
        m.insert("categories".into(), json!(self.categories));
        m.insert("description".into(), json!(self.description));
        m.insert("remediation".into(), json!(self.remediation));
        m.insert("count".into(), json!(self.count));
        m.insert("objects".into(), Value::Array(self.objects));
        if self.omitted > 0 {
            m.insert("omitted".into(), json!(self.omitted));
        }
        Value::Object(m)
    }
}

/// Groups findings by lint name: one entry per lint with its texts once,
/// the number of findings and the first `limit` affected objects. Most
/// severe first, then the most frequent.
pub fn group_lints(lints: &[V1ProjectAdvisorsResponseLintsItem], limit: usize) -> Vec<LintGroup> {
    let mut groups: Vec<LintGroup> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for lint in lints {
        let name = lint.name.to_string();
        let i = match index.get(&name) {
            Some(&i) => i,
            None => {
                groups.push(LintGroup {
                    name: name.clone(),
                    title: lint.title.clone(),
                    level: lint.level.to_string(),
                    categories: lint.categories.iter().map(ToString::to_string).collect(),
                    description: lint.description.clone(),
                    remediation: lint.remediation.clone(),
                    count: 0,
                    objects: Vec::new(),
                    omitted: 0,
                    rank: match lint.level.to_ascii_uppercase().as_str() {
                        "ERROR" => 0,
                        "WARN" => 1,
                        "INFO" => 2,
                        _ => 3,
                    },
                });
                index.insert(name, groups.len() - 1);
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        g.count += 1;
        if g.objects.len() < limit {
            g.objects.push(affected_object(lint));
        } else {
            g.omitted += 1;
        }
    }
    groups.sort_by(|a, b| {
        a.rank
            .cmp(&b.rank)
            .then(b.count.cmp(&a.count))
            .then(a.name.cmp(&b.name))
    });
    groups
}

/// What one finding is about: the object from its metadata and its detail text.
fn affected_object(lint: &V1ProjectAdvisorsResponseLintsItem) -> Value {
    let mut m = Map::new();
    if let Some(md) = &lint.metadata {
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        };
        put("schema", &md.schema);
        put("name", &md.name);
        put("entity", &md.entity);
        put("fkey_name", &md.fkey_name);
        put("type", &md.type_);
        if !md.fkey_columns.is_empty() {
            m.insert("fkey_columns".into(), json!(md.fkey_columns));
        }
    }
    m.insert("detail".into(), json!(lint.detail));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn default_window_is_the_last_minute() {
        let now = at("2025-03-01T12:00:00Z");
        let (s, e) = log_window(None, None, now).unwrap();
        assert_eq!(e, now);
        assert_eq!(s, at("2025-03-01T11:59:00Z"));
        let (s, e) = log_window(None, Some("2025-03-01T10:00:00Z"), now).unwrap();
        assert_eq!(
            (s, e),
            (at("2025-03-01T09:59:00Z"), at("2025-03-01T10:00:00Z"))
        );
        let (s, e) = log_window(Some("2025-03-01T06:00:00+01:00"), None, now).unwrap();
        assert_eq!((s, e), (at("2025-03-01T05:00:00Z"), now));
        let (s, _) = log_window(Some("2025-03-01 11:00:00"), None, now).unwrap();
        assert_eq!(s, at("2025-03-01T11:00:00Z"));
    }

    #[test]
    fn window_is_checked() {
        let now = at("2025-03-01T12:00:00Z");
        let e = log_window(Some("2025-02-28T11:59:59Z"), None, now).unwrap_err();
        assert!(e.message.contains("24.0 h long"), "{e}");
        assert!(
            log_window(Some("2025-02-28T12:00:00Z"), None, now).is_ok(),
            "exactly 24 h is allowed"
        );
        let e = log_window(
            Some("2025-03-01T10:00:00Z"),
            Some("2025-03-01T10:00:00Z"),
            now,
        )
        .unwrap_err();
        assert!(e.message.contains("empty"), "{e}");
        let e = log_window(Some("yesterday"), None, now).unwrap_err();
        assert!(e.message.contains("iso_timestamp_start"), "{e}");
        assert_eq!(e.code, ErrorCode::InvalidArguments);
    }

    #[test]
    fn every_service_reads_its_own_table() {
        for (s, table) in [
            (LogService::Api, "from edge_logs"),
            (LogService::Postgres, "from postgres_logs"),
            (LogService::EdgeFunction, "from function_edge_logs"),
            (LogService::Auth, "from auth_logs"),
            (LogService::Storage, "from storage_logs"),
            (LogService::Realtime, "from realtime_logs"),
            (LogService::BranchAction, "from workflow_run_logs"),
        ] {
            let sql = s.sql();
            assert!(sql.contains(table), "{sql}");
            assert!(sql.ends_with("order by timestamp desc limit 100"), "{sql}");
            assert!(!sql.contains('*'), "{sql}");
        }
    }
}
