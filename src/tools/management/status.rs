//! Read-only state of a cloud project: the health of its services, its
//! Postgres upgrade (progress and eligibility, with what blocks it), and its
//! custom hostname with the DNS records its setup still needs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::common::{ProjectArgs, api, api_error, project_ref};
use crate::api::generated::management::types::{
    DatabaseUpgradeStatusResponse, ProjectUpgradeEligibilityResponse, UpdateCustomHostnameResponse,
    UpgradeIssue, V1GetServicesHealthServicesItem, V1ServiceHealthResponse,
};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::{Kind, Scope, ToolDef, tool};

/// Longest wait per health check the API accepts, in milliseconds.
const MAX_HEALTH_TIMEOUT_MS: u32 = 10_000;
/// The state of a service that answers normally.
const HEALTHY: &str = "ACTIVE_HEALTHY";

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_project_health", Group::Management, Kind::Read)
            .title("Get project health")
            .description("Health of a cloud project's services (auth, db, pooler, realtime, rest, storage).")
            .scope(Scope::Project)
            .handler(get_project_health),
        tool("get_upgrade_status", Group::Management, Kind::Read)
            .title("Get upgrade status")
            .description("Postgres upgrade progress of a cloud project, and whether it can upgrade (blockers).")
            .scope(Scope::Project)
            .handler(get_upgrade_status),
        tool("get_custom_hostname", Group::Management, Kind::Read)
            .title("Get custom hostname")
            .description("A cloud project's custom hostname, its setup stage and the DNS records it needs.")
            .scope(Scope::Project)
            .handler(get_custom_hostname),
    ]
}

// ---------------------------------------------------------------------------
// get_project_health

// A project service whose health can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum HealthService {
    Auth,
    Db,
    DbPostgresUser,
    Pooler,
    Realtime,
    Rest,
    Storage,
    PgBouncer,
}

impl HealthService {
    /// Checked when `services` is left out (PgBouncer is retired).
    const DEFAULT: [HealthService; 7] = [
        HealthService::Auth,
        HealthService::Db,
        HealthService::DbPostgresUser,
        HealthService::Pooler,
        HealthService::Realtime,
        HealthService::Rest,
        HealthService::Storage,
    ];

    fn name(self) -> &'static str {
        match self {
            HealthService::Auth => "auth",
            HealthService::Db => "db",
            HealthService::DbPostgresUser => "db_postgres_user",
            HealthService::Pooler => "pooler",
            HealthService::Realtime => "realtime",
            HealthService::Rest => "rest",
            HealthService::Storage => "storage",
            HealthService::PgBouncer => "pg_bouncer",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Services to check; all but pg_bouncer when left out.
    #[serde(default)]
    pub services: Option<Vec<HealthService>>,
    /// Longest wait per check, in milliseconds (at most 10000).
    #[serde(default)]
    pub timeout_ms: Option<u32>,
}

/// One service's health as the tool shows it.
fn service_json(s: &V1ServiceHealthResponse) -> Value {
    let mut m = Map::new();
    let name = serde_json::to_value(s.name).unwrap_or(Value::Null);
    m.insert("name".into(), name);
    m.insert("status".into(), json!(s.status));
    m.insert("healthy".into(), json!(s.status == HEALTHY));
    if let Some(e) = &s.error {
        m.insert("error".into(), json!(e));
    }
    if let Some(info) = &s.info {
        m.insert("info".into(), info.clone());
    }
    Value::Object(m)
}

async fn get_project_health(call: Call, a: HealthArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    if let Some(t) = a.timeout_ms
        && t > MAX_HEALTH_TIMEOUT_MS
    {
        return Err(ToolError::invalid(format!(
            "`timeout_ms` is {t}; the API waits at most {MAX_HEALTH_TIMEOUT_MS} ms per check"
        ))
        .suggestion("Pass a timeout_ms between 0 and 10000, or leave it out."));
    }
    let given = a
        .services
        .unwrap_or_else(|| HealthService::DEFAULT.to_vec());
    if given.is_empty() {
        return Err(ToolError::invalid("`services` is empty").suggestion(
            "Name the services to check (auth, db, pooler, realtime, rest, storage...), or leave services out to check them all.",
        ));
    }
    let mut wanted: Vec<HealthService> = Vec::new();
    for s in given {
        if !wanted.contains(&s) {
            wanted.push(s);
        }
    }
    let services: Vec<V1GetServicesHealthServicesItem> = wanted
        .iter()
        .map(|s| {
            s.name().parse().map_err(|_| {
                ToolError::internal(format!(
                    "service `{}` is missing from the Management API client",
                    s.name()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let timeout_ms = a.timeout_ms.map(i64::from);
    let api = api(&call)?;
    let health = api
        .idempotent(|c| c.v1_get_services_health(&project, &services, timeout_ms))
        .await
        .map_err(api_error)?;
    let unhealthy: Vec<String> = health
        .iter()
        .filter(|s| s.status != HEALTHY)
        .map(|s| format!("{} is {}", s.name, s.status))
        .collect();
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "healthy": unhealthy.is_empty() && !health.is_empty(),
        "services": health.iter().map(service_json).collect::<Vec<_>>(),
    }));
    if !unhealthy.is_empty() {
        out = out.warn(format!(
            "not every service is healthy: {}; COMING_UP passes on its own after a start or restore, UNHEALTHY needs a look at the logs (get_logs)",
            unhealthy.join(", ")
        ));
    }
    if health.is_empty() {
        out = out.warn(
            "the API reported no service; the project may be paused (get_project shows its status)",
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// get_upgrade_status

/// Progress steps that mean the upgrade is done.
fn upgrade_finished(progress: Option<&str>) -> bool {
    progress.is_some_and(|p| p.starts_with("9_") || p.starts_with("10_"))
}

fn issue_json(i: &UpgradeIssue) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(i.type_));
    m.extend(i.extra.clone());
    Value::Object(m)
}

fn upgrade_json(s: &DatabaseUpgradeStatusResponse) -> Value {
    let Some(u) = &s.database_upgrade_status else {
        return Value::Null;
    };
    let state = if u.error.is_some() {
        "failed"
    } else if upgrade_finished(u.progress.as_deref()) {
        "completed"
    } else {
        "in_progress"
    };
    json!({
        "state": state,
        "progress": u.progress,
        "error": u.error,
        "target_version": u.target_version,
        "initiated_at": u.initiated_at,
        "latest_status_at": u.latest_status_at,
    })
}

fn eligibility_json(e: &ProjectUpgradeEligibilityResponse) -> Value {
    let mut m = Map::new();
    m.insert("eligible".into(), json!(e.eligible));
    m.insert("current_version".into(), json!(e.current_app_version));
    m.insert(
        "current_release_channel".into(),
        json!(e.current_app_version_release_channel),
    );
    m.insert("latest_version".into(), json!(e.latest_app_version));
    m.insert(
        "targets".into(),
        json!(
            e.target_upgrade_versions
                .iter()
                .map(|t| json!({
                    "postgres_version": t.postgres_version,
                    "release_channel": t.release_channel,
                    "app_version": t.app_version,
                }))
                .collect::<Vec<_>>()
        ),
    );
    m.insert(
        "duration_estimate_hours".into(),
        json!(e.duration_estimate_hours),
    );
    m.insert(
        "blockers".into(),
        json!(
            e.validation_errors
                .iter()
                .map(issue_json)
                .collect::<Vec<_>>()
        ),
    );
    m.insert(
        "warnings".into(),
        json!(e.warnings.iter().map(issue_json).collect::<Vec<_>>()),
    );
    let lists = [
        ("legacy_auth_custom_roles", &e.legacy_auth_custom_roles),
        ("objects_to_be_dropped", &e.objects_to_be_dropped),
        ("unsupported_extensions", &e.unsupported_extensions),
        (
            "user_defined_objects_in_internal_schemas",
            &e.user_defined_objects_in_internal_schemas,
        ),
    ];
    for (k, list) in lists {
        if !list.is_empty() {
            m.insert(k.into(), json!(list));
        }
    }
    Value::Object(m)
}

async fn get_upgrade_status(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    let (status, eligibility) = tokio::try_join!(
        api.idempotent(|c| c.v1_get_postgres_upgrade_status(&project, None)),
        api.idempotent(|c| c.v1_get_postgres_upgrade_eligibility(&project)),
    )
    .map_err(api_error)?;
    let upgrade = upgrade_json(&status);
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "upgrade": upgrade,
        "eligibility": eligibility_json(&eligibility),
    }));
    if upgrade["state"] == "failed" {
        out = out.warn(
            "the latest upgrade failed; the dashboard (Project Settings > Infrastructure) shows what to do, or contact support",
        );
    }
    if !eligibility.eligible && !eligibility.validation_errors.is_empty() {
        out = out.warn(format!(
            "the project cannot upgrade until {} blocker(s) are fixed; see eligibility.blockers",
            eligibility.validation_errors.len()
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// get_custom_hostname

/// What a setup stage means and what comes next.
fn stage(status: &str) -> (&'static str, &'static str) {
    match status {
        "1_not_started" => (
            "not started",
            "Set up the hostname in the dashboard (Project Settings > Custom Domains) or with `supabase domains create`.",
        ),
        "2_initiated" => (
            "waiting for DNS: create the records listed, then have them verified",
            "Create the DNS records in `dns_records`, then run `supabase domains reverify` (or verify in the dashboard); DNS changes can take a while to spread.",
        ),
        "3_challenge_verified" => (
            "domain verified; the certificate is being issued",
            "Wait a few minutes and check again.",
        ),
        "4_origin_setup_completed" => (
            "ready to activate",
            "Activate it in the dashboard or with `supabase domains activate`; clients can then use the custom hostname.",
        ),
        "5_services_reconfigured" => (
            "active: the project answers on the custom hostname",
            "Nothing to do.",
        ),
        _ => (
            "a stage this server does not know",
            "Check the dashboard (Project Settings > Custom Domains).",
        ),
    }
}

fn hostname_json(project: &str, h: &UpdateCustomHostnameResponse) -> Value {
    let r = &h.data.result;
    let mut records = vec![json!({
        "type": "CNAME",
        "name": h.custom_hostname,
        "value": r.custom_origin_server,
    })];
    let o = &r.ownership_verification;
    if !o.name.is_empty() {
        records.push(json!({"type": o.type_, "name": o.name, "value": o.value}));
    }
    for v in &r.ssl.validation_records {
        records.push(json!({"type": "TXT", "name": v.txt_name, "value": v.txt_value}));
    }
    let mut errors: Vec<String> = r.verification_errors.clone();
    errors.extend(r.ssl.validation_errors.iter().map(|e| e.message.clone()));
    let (meaning, next) = stage(&h.status);
    json!({
        "project_id": project,
        "configured": true,
        "hostname": h.custom_hostname,
        "status": h.status,
        "stage": meaning,
        "active": h.status == "5_services_reconfigured",
        "certificate_status": r.ssl.status,
        "hostname_status": r.status,
        "dns_records": records,
        "errors": errors,
        "next_step": next,
    })
}

async fn get_custom_hostname(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = api(&call)?;
    match api.idempotent(|c| c.v1_get_hostname_config(&project)).await {
        Ok(h) => {
            let data = hostname_json(project.as_str(), &h);
            let mut out = ToolOutput::untrusted(data);
            let errors = out.data["errors"].as_array().map_or(0, Vec::len);
            if errors > 0 {
                out = out.warn(format!(
                    "the provider reports {errors} verification error(s); see errors"
                ));
            }
            Ok(out)
        }
        // The API answers 404 for a project without a custom hostname.
        Err(e) if e.status() == Some(404) => Ok(ToolOutput::untrusted(json!({
            "project_id": project.as_str(),
            "configured": false,
            "stage": "no custom hostname is set up",
            "next_step": "A custom hostname (a paid add-on) is set up in the dashboard (Project Settings > Custom Domains) or with `supabase domains create`. If the project itself should exist, check the project ref with get_project.",
        }))),
        Err(e) => Err(api_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_services_parse_in_the_client() {
        for s in HealthService::DEFAULT {
            assert!(s.name().parse::<V1GetServicesHealthServicesItem>().is_ok());
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.name()));
        }
        assert!(
            HealthService::PgBouncer
                .name()
                .parse::<V1GetServicesHealthServicesItem>()
                .is_ok()
        );
    }

    #[test]
    fn upgrade_states_follow_progress_and_errors() {
        let s: DatabaseUpgradeStatusResponse = serde_json::from_value(json!({
            "databaseUpgradeStatus": {"initiated_at": "t", "latest_status_at": "t",
                "target_version": 17, "status": 1, "progress": "5_initiated_data_upgrade"}
        }))
        .unwrap();
        assert_eq!(upgrade_json(&s)["state"], "in_progress");
        let s: DatabaseUpgradeStatusResponse = serde_json::from_value(json!({
            "databaseUpgradeStatus": {"initiated_at": "t", "latest_status_at": "t",
                "target_version": 17, "status": 2, "progress": "10_completed_post_physical_backup"}
        }))
        .unwrap();
        assert_eq!(upgrade_json(&s)["state"], "completed");
        let s: DatabaseUpgradeStatusResponse = serde_json::from_value(json!({
            "databaseUpgradeStatus": {"initiated_at": "t", "latest_status_at": "t",
                "target_version": 17, "status": 3, "error": "5_data_upgrade_completion_failed",
                "progress": "5_initiated_data_upgrade"}
        }))
        .unwrap();
        assert_eq!(upgrade_json(&s)["state"], "failed");
        let s: DatabaseUpgradeStatusResponse =
            serde_json::from_value(json!({"databaseUpgradeStatus": null})).unwrap();
        assert!(upgrade_json(&s).is_null());
    }

    #[test]
    fn every_stage_has_a_next_step() {
        for s in [
            "1_not_started",
            "2_initiated",
            "3_challenge_verified",
            "4_origin_setup_completed",
            "5_services_reconfigured",
            "6_something_new",
        ] {
            let (meaning, next) = stage(s);
            assert!(!meaning.is_empty() && !next.is_empty(), "{s}");
        }
    }
}
