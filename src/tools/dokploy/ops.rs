//! Running a Supabase compose service: `dokploy_restart_service`
//! (redeploy, or stop then start), `dokploy_get_logs` (recent lines per
//! container, filtered by level, time and text, bounded, fenced as
//! untrusted) and `dokploy_monitor_health` (container state, health and
//! restarts from Docker, and connection use when a database is configured).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    Compose, api, api_error, args_of, body, check_id, compose, containers, deployments, param,
    redeploy, s, service_of,
};
use crate::api::generated::dokploy::types;
use crate::api::{CallOptions, DokployApi};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::{Kind, ToolDef, tool};

/// Most containers whose logs are read in one call.
const MAX_LOG_CONTAINERS: usize = 12;
/// Most containers inspected for health.
const MAX_HEALTH_CONTAINERS: usize = 40;
/// Most lines returned per container, and the default.
const MAX_LINES: u64 = 2000;
const DEFAULT_LINES: u64 = 200;
/// Longest log line returned (longer ones are cut).
const MAX_LINE_CHARS: usize = 2000;
/// Share of max_connections in use that is flagged.
const CONNECTIONS_ALERT: f64 = 0.8;
/// Time between two looks at a deployment.
const POLL_EVERY: Duration = Duration::from_secs(2);

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("dokploy_restart_service", Group::Dokploy, Kind::Write)
            .title("Restart Supabase on Dokploy")
            .description("Redeploy a Supabase compose service, or stop and start it; optionally wait for the deployment.")
            .assess(assess_restart)
            .handler(restart_service),
        tool("dokploy_get_logs", Group::Dokploy, Kind::Read)
            .title("Supabase logs on Dokploy")
            .description("Recent log lines of a Supabase compose service's containers: per service, level, time, text; bounded.")
            .read_only_capable()
            .handler(get_logs),
        tool("dokploy_monitor_health", Group::Dokploy, Kind::Read)
            .title("Supabase health on Dokploy")
            .description("Container state, health checks and restarts of a Supabase compose service, and connection use when a database is configured.")
            .read_only_capable()
            .handler(monitor_health),
    ]
}

// ---------------------------------------------------------------------------
// Restart

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RestartMode {
    /// Recreate the containers with the current env and compose file.
    Redeploy,
    /// Stop the containers, then start them again.
    StopStart,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartArgs {
    /// Compose service id.
    pub compose_id: String,
    /// redeploy (default) or stop_start.
    #[serde(default)]
    pub mode: Option<RestartMode>,
    /// Seconds to wait for a redeployment to finish (0, the default: do not wait; at most 900).
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

fn assess_restart(args: &Map<String, Value>) -> Option<String> {
    let a: RestartArgs = args_of(args)?;
    let how = match a.mode.unwrap_or(RestartMode::Redeploy) {
        RestartMode::Redeploy => "redeploy (containers recreated)",
        RestartMode::StopStart => "stop and start",
    };
    Some(format!(
        "{how} the compose service `{}`: the Supabase API and database are unavailable until its containers are back",
        a.compose_id.trim()
    ))
}

async fn restart_service(call: Call, a: RestartArgs) -> Result<ToolOutput, ToolError> {
    let id = check_id("compose_id", &a.compose_id)?;
    let wait = a.wait_secs.unwrap_or(0);
    if wait > 900 {
        return Err(
            ToolError::invalid("wait_secs is larger than 900").suggestion(
                "Wait at most 900 seconds; dokploy_monitor_health shows the state later.",
            ),
        );
    }
    let api = api(&call)?;
    let c = compose(&call, &api, &id).await?;
    let mode = a.mode.unwrap_or(RestartMode::Redeploy);
    match mode {
        RestartMode::Redeploy => {
            let before = known_deployments(&api, &id).await?;
            redeploy(&api, &id, "Restart").await?;
            if wait == 0 {
                return Ok(ToolOutput::trusted(json!({
                    "compose_id": id,
                    "mode": "redeploy",
                    "queued": true,
                    "next_step": "dokploy_monitor_health shows when the containers are back",
                })));
            }
            let d =
                wait_for_deployment(&call, &api, &id, &before, Duration::from_secs(wait)).await?;
            Ok(ToolOutput::untrusted(json!({
                "compose_id": id,
                "mode": "redeploy",
                "deployment": d,
            })))
        }
        RestartMode::StopStart => {
            let stop: types::ComposeStopBody = body("compose.stop", json!({"composeId": id}))?;
            api.call_with(CallOptions::once().slow(), |cl| cl.compose_stop(&stop))
                .await
                .map_err(api_error)?;
            let start: types::ComposeStartBody = body("compose.start", json!({"composeId": id}))?;
            api.call_with(CallOptions::once().slow(), |cl| cl.compose_start(&start))
                .await
                .map_err(|e| {
                    api_error(e).suggestion(format!(
                        "The service `{}` was stopped but did not start again: run dokploy_restart_service with mode redeploy, or start it in Dokploy.",
                        c.name
                    ))
                })?;
            Ok(ToolOutput::trusted(json!({
                "compose_id": id,
                "mode": "stop_start",
                "restarted": true,
                "next_step": "dokploy_monitor_health shows whether every container is healthy",
            })))
        }
    }
}

/// The ids of the deployments that exist now.
pub async fn known_deployments(api: &DokployApi, id: &str) -> Result<BTreeSet<String>, ToolError> {
    Ok(deployments(api, id)
        .await?
        .iter()
        .map(|d| s(d, "deploymentId").to_owned())
        .collect())
}

/// Polls until a deployment not in `before` is `done` (its summary) or
/// `error` (a tool error), or `limit` passes (a timeout error). Progress
/// notifications count the seconds waited.
pub async fn wait_for_deployment(
    call: &Call,
    api: &DokployApi,
    id: &str,
    before: &BTreeSet<String>,
    limit: Duration,
) -> Result<Value, ToolError> {
    let start = Instant::now();
    let total = limit.as_secs().max(1);
    let mut last_status = String::from("queued");
    loop {
        if call.cancel.is_cancelled() {
            return Err(ToolError::new(ErrorCode::Cancelled, "stopped waiting for the deployment")
                .suggestion("The deployment goes on in Dokploy; dokploy_monitor_health shows its outcome."));
        }
        let list = deployments(api, id).await?;
        if let Some(d) = list.iter().find(|d| !before.contains(s(d, "deploymentId"))) {
            last_status = s(d, "status").to_owned();
            let summary = json!({
                "deployment_id": s(d, "deploymentId"),
                "title": s(d, "title"),
                "status": s(d, "status"),
                "created_at": d.get("createdAt"),
                "finished_at": d.get("finishedAt"),
                "error": d.get("errorMessage"),
            });
            match last_status.as_str() {
                "done" => return Ok(summary),
                "error" | "cancelled" => {
                    return Err(ToolError::new(ErrorCode::ApiError, format!(
                        "the deployment of compose service `{id}` failed"
                    ))
                    .reason(format!("Dokploy reports the deployment {} as {last_status}", s(d, "deploymentId")))
                    .suggestion("dokploy_get_logs and the deployment log in Dokploy show why; dokploy_rollback restores an earlier env."));
                }
                _ => {}
            }
        }
        let waited = start.elapsed();
        call.progress(
            waited.as_secs().min(total),
            Some(total),
            format!("deployment {last_status}, {}s waited", waited.as_secs()),
        )
        .await;
        if waited >= limit {
            return Err(ToolError::new(ErrorCode::Timeout, format!(
                "the deployment of compose service `{id}` did not finish within {}s",
                limit.as_secs()
            ))
            .reason(format!("its last status was {last_status}"))
            .suggestion("It may still finish: dokploy_monitor_health shows its state; wait longer with wait_secs."));
        }
        let nap = POLL_EVERY
            .min(limit.saturating_sub(waited))
            .max(Duration::from_millis(100));
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = call.cancel.cancelled() => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Logs

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Error,
    Warn,
    Info,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsArgs {
    /// Compose service id.
    pub compose_id: String,
    /// Only this Supabase service: db, kong, auth, rest, realtime, storage, studio, meta, analytics...
    #[serde(default)]
    pub service: Option<String>,
    /// Lines per container, newest last (default 200, at most 2000).
    #[serde(default)]
    pub lines: Option<u64>,
    /// Only lines newer than this: 30s, 15m, 2h, 1d or all (default 1h).
    #[serde(default)]
    pub since: Option<String>,
    /// Only lines at this level or worse: error, warn or info.
    #[serde(default)]
    pub level: Option<Level>,
    /// Only lines containing this text (case-insensitive).
    #[serde(default)]
    pub search: Option<String>,
}

/// The level a log line reads as.
fn level_of(line: &str) -> Level {
    let l = line.to_ascii_lowercase();
    if ["error", "fatal", "panic", "critical", "\"level\":\"err"]
        .iter()
        .any(|w| l.contains(w))
    {
        Level::Error
    } else if l.contains("warn") {
        Level::Warn
    } else {
        Level::Info
    }
}

fn check_since(raw: Option<&str>) -> Result<String, ToolError> {
    let s = raw.map(str::trim).unwrap_or("1h");
    let ok = s == "all"
        || (s.len() >= 2
            && s[..s.len() - 1].chars().all(|c| c.is_ascii_digit())
            && s.ends_with(['s', 'm', 'h', 'd']));
    if !ok {
        return Err(
            ToolError::invalid(format!("since `{}` is not a duration", s.escape_debug()))
                .suggestion("Use a number and a unit (30s, 15m, 2h, 1d) or all."),
        );
    }
    Ok(s.to_owned())
}

fn log_lines(v: &Value) -> Vec<String> {
    match v {
        Value::String(t) => t.lines().map(str::to_owned).collect(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

async fn get_logs(call: Call, a: LogsArgs) -> Result<ToolOutput, ToolError> {
    let id = check_id("compose_id", &a.compose_id)?;
    let lines = a.lines.unwrap_or(DEFAULT_LINES);
    if lines == 0 || lines > MAX_LINES {
        return Err(
            ToolError::invalid(format!("lines must be between 1 and {MAX_LINES}"))
                .suggestion("Ask for fewer lines and narrow with service, level, since or search."),
        );
    }
    let since = check_since(a.since.as_deref())?;
    let search = a.search.as_deref().map(str::trim).filter(|x| !x.is_empty());
    if search.is_some_and(|x| x.chars().count() > 200) {
        return Err(ToolError::invalid("search is longer than 200 characters")
            .suggestion("Search for a shorter, distinctive piece of text."));
    }
    let api = api(&call)?;
    let c = compose(&call, &api, &id).await?;
    let all = containers(&api, &c).await?;
    let want = a.service.as_deref().map(|x| x.trim().to_ascii_lowercase());
    let mut picked: Vec<&Value> = all
        .iter()
        .filter(|ct| {
            want.as_deref()
                .is_none_or(|w| service_of(s(ct, "name"), &c.app_name) == w)
        })
        .collect();
    if picked.is_empty() {
        let services: BTreeSet<String> = all
            .iter()
            .map(|ct| service_of(s(ct, "name"), &c.app_name))
            .collect();
        return Err(ToolError::new(
            ErrorCode::NotFound,
            match &want {
                Some(w) => format!("no container of service `{w}` in compose service `{id}`"),
                None => format!("compose service `{id}` has no containers"),
            },
        )
        .suggestion(if services.is_empty() {
            "Deploy it first (dokploy_restart_service) or check it in Dokploy.".to_owned()
        } else {
            format!(
                "Its services are: {}.",
                services.into_iter().collect::<Vec<_>>().join(", ")
            )
        }));
    }
    let skipped = picked.len().saturating_sub(MAX_LOG_CONTAINERS);
    picked.truncate(MAX_LOG_CONTAINERS);
    // Dokploy searches itself only for plain text; anything else is filtered here.
    let server_search: Option<types::ComposeReadLogsSearch> = search.and_then(|x| x.parse().ok());
    let since_p: types::ComposeReadLogsSince = param("since", &since)?;
    let tail = std::num::NonZeroU64::new(lines);
    let needle = search.map(str::to_ascii_lowercase);
    let compose_id: types::ComposeReadLogsComposeId = param("compose_id", &id)?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for ct in picked {
        let cid = s(ct, "containerId");
        let service = service_of(s(ct, "name"), &c.app_name);
        let Ok(container): Result<types::ComposeReadLogsContainerId, _> = cid.parse() else {
            warnings.push(format!(
                "container of service {service} has no usable id; skipped"
            ));
            continue;
        };
        let got = api
            .idempotent(|cl| {
                cl.compose_read_logs(
                    &compose_id,
                    &container,
                    server_search.as_ref(),
                    Some(&since_p),
                    tail,
                )
            })
            .await;
        let raw = match got {
            Ok(v) => log_lines(&v),
            Err(e) => {
                warnings.push(format!(
                    "logs of {service} could not be read: {}",
                    api_error(e).message
                ));
                continue;
            }
        };
        let read = raw.len();
        let mut kept: Vec<String> = raw
            .into_iter()
            .filter(|l| a.level.is_none_or(|lv| level_of(l) <= lv))
            .filter(|l| {
                needle
                    .as_deref()
                    .is_none_or(|n| l.to_ascii_lowercase().contains(n))
            })
            .map(|l| {
                if l.chars().count() > MAX_LINE_CHARS {
                    format!("{}…", l.chars().take(MAX_LINE_CHARS).collect::<String>())
                } else {
                    l
                }
            })
            .collect();
        let cut = kept.len().saturating_sub(lines as usize);
        kept.drain(..cut);
        out.push(json!({
            "service": service,
            "container": s(ct, "name"),
            "state": s(ct, "state"),
            "lines_read": read,
            "lines": kept,
        }));
    }
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} more container(s) not read; pass service to choose"
        ));
    }
    let mut result = ToolOutput::untrusted(json!({
        "compose_id": id,
        "since": since,
        "level": a.level.map(|l| match l { Level::Error => "error", Level::Warn => "warn", Level::Info => "info" }),
        "containers": out,
    }));
    for w in warnings {
        result = result.warn(w);
    }
    Ok(result)
}

// ---------------------------------------------------------------------------
// Health

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthArgs {
    /// Compose service id.
    pub compose_id: String,
}

/// One container's health from its list entry and, when read, its inspection.
fn container_health(ct: &Value, inspect: Option<&Value>, app: &str) -> Value {
    let status_text = s(ct, "status");
    let state = inspect
        .and_then(|i| i.pointer("/State/Status"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(ct, "state"))
        .to_owned();
    let health = inspect
        .and_then(|i| i.pointer("/State/Health/Status"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            ["unhealthy", "healthy", "starting"]
                .iter()
                .find(|h| status_text.contains(&format!("({h}")))
                .map(|h| (*h).to_owned())
        });
    let restarts = inspect
        .and_then(|i| i.get("RestartCount"))
        .and_then(Value::as_u64);
    let restarting = state == "restarting" || status_text.starts_with("Restarting");
    let mut problems = Vec::new();
    if state != "running" {
        problems.push(format!("state is {state}"));
    }
    if health.as_deref() == Some("unhealthy") {
        problems.push("health check failing".to_owned());
    }
    if restarting {
        problems.push("restarting".to_owned());
    }
    if restarts.is_some_and(|r| r > 0) {
        problems.push(format!("restarted {} time(s)", restarts.unwrap_or(0)));
    }
    let unhealthy = state != "running" || health.as_deref() == Some("unhealthy") || restarting;
    json!({
        "service": service_of(s(ct, "name"), app),
        "container": s(ct, "name"),
        "image": s(ct, "image"),
        "state": state,
        "health": health,
        "restarts": restarts,
        "status": status_text,
        "unhealthy": unhealthy,
        "problems": problems,
    })
}

async fn connections(call: &Call) -> Value {
    let inst = &call.instance;
    if inst.db_url.is_none() && inst.pooler_url.is_none() {
        return json!({"checked": false, "reason": "no database URL is configured for this instance"});
    }
    let sql = "SELECT count(*)::int8 AS used, current_setting('max_connections')::int8 AS max_connections FROM pg_stat_activity";
    let row = match call.sql().await {
        Ok(b) => b.query_one(sql, &[]).await,
        Err(e) => Err(e),
    };
    match row.and_then(|r| Ok((r.get::<i64>("used")?, r.get::<i64>("max_connections")?))) {
        Ok((used, max)) => {
            let share = if max > 0 {
                used as f64 / max as f64
            } else {
                0.0
            };
            json!({
                "checked": true,
                "used": used,
                "max_connections": max,
                "percent": (share * 1000.0).round() / 10.0,
                "near_limit": share >= CONNECTIONS_ALERT,
            })
        }
        Err(e) => json!({"checked": false, "reason": e.message}),
    }
}

async fn monitor_health(call: Call, a: HealthArgs) -> Result<ToolOutput, ToolError> {
    let id = check_id("compose_id", &a.compose_id)?;
    let api = api(&call)?;
    let c = compose(&call, &api, &id).await?;
    let list = containers(&api, &c).await?;
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    for ct in list.iter().take(MAX_HEALTH_CONTAINERS) {
        let inspect = inspect(&api, &c, s(ct, "containerId")).await;
        if let Err(e) = &inspect {
            warnings.push(format!(
                "{} could not be inspected: {}",
                s(ct, "name"),
                e.message
            ));
        }
        rows.push(container_health(ct, inspect.ok().as_ref(), &c.app_name));
    }
    if list.len() > MAX_HEALTH_CONTAINERS {
        warnings.push(format!(
            "only the first {MAX_HEALTH_CONTAINERS} of {} containers were inspected",
            list.len()
        ));
    }
    let unhealthy: Vec<String> = rows
        .iter()
        .filter(|r| r["unhealthy"] == json!(true))
        .map(|r| s(r, "service").to_owned())
        .collect();
    let restarted = rows
        .iter()
        .filter(|r| r["restarts"].as_u64().is_some_and(|n| n > 0))
        .count();
    let db = connections(&call).await;
    let status = if rows.is_empty() {
        "not_running"
    } else if !unhealthy.is_empty() {
        "unhealthy"
    } else if restarted > 0 || db["near_limit"] == json!(true) {
        "degraded"
    } else {
        "healthy"
    };
    if !unhealthy.is_empty() {
        warnings.push(format!(
            "unhealthy: {}; dokploy_get_logs with service shows why, dokploy_restart_service restarts",
            unhealthy.join(", ")
        ));
    }
    if db["near_limit"] == json!(true) {
        warnings.push("connections are near max_connections: use the pooler (Supavisor) for clients or raise max_connections".to_owned());
    }
    let mut out = ToolOutput::untrusted(json!({
        "compose_id": id,
        "name": c.name,
        "compose_status": c.status,
        "status": status,
        "containers": rows,
        "unhealthy_services": unhealthy,
        "connections": db,
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

async fn inspect(api: &DokployApi, c: &Compose, container: &str) -> Result<Value, ToolError> {
    let cid: types::DockerGetConfigContainerId = param("containerId", container)?;
    let server = c.server_id.as_deref();
    api.idempotent(|cl| cl.docker_get_config(&cid, server))
        .await
        .map_err(api_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_from_lines() {
        assert_eq!(level_of("2025 ERROR: boom"), Level::Error);
        assert_eq!(level_of("{\"level\":\"error\"}"), Level::Error);
        assert_eq!(level_of("WARNING: careful"), Level::Warn);
        assert_eq!(level_of("LOG: ready"), Level::Info);
    }

    #[test]
    fn since_is_checked() {
        assert_eq!(check_since(None).unwrap(), "1h");
        assert_eq!(check_since(Some("30m")).unwrap(), "30m");
        assert!(check_since(Some("all")).is_ok());
        assert!(check_since(Some("m")).is_err());
        assert!(check_since(Some("1w")).is_err());
        assert!(check_since(Some("1h; rm")).is_err());
    }

    #[test]
    fn health_flags_problems() {
        let ct = json!({"name": "app-db-1", "state": "running", "status": "Up 1 hour (unhealthy)"});
        let h = container_health(&ct, None, "app");
        assert_eq!(h["unhealthy"], true);
        assert_eq!(h["service"], "db");
        let inspect = json!({"RestartCount": 3, "State": {"Status": "running", "Health": {"Status": "healthy"}}});
        let ct = json!({"name": "app-kong-1", "state": "running", "status": "Up"});
        let h = container_health(&ct, Some(&inspect), "app");
        assert_eq!(h["unhealthy"], false);
        assert_eq!(h["restarts"], 3);
        let ct = json!({"name": "app-auth-1", "state": "exited", "status": "Exited (1)"});
        assert_eq!(container_health(&ct, None, "app")["unhealthy"], true);
    }
}
