//! The `account` group (cloud projects, through the Management API):
//! organizations and projects, the cost of a new project or branch and its
//! confirmation, creating a project, and pausing or restoring one.
//!
//! Costs work as in the official Supabase MCP server: `get_cost` says what a
//! new project (or branch) costs, `confirm_cost` turns the cost the user
//! accepted into an id (a hash of type, recurrence and amount, see
//! [`cost_id`]), and `create_project` only runs with the id of the cost that
//! applies to its organization right now. The database password of a new
//! project is generated here, sent once and never shown, logged or kept.

use rand::Rng;
use rand::distr::Alphanumeric;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

use super::branching::{BRANCH_COST_AMOUNT, BRANCH_COST_RECURRENCE, BRANCH_COST_TYPE, cost_id};
use super::{Kind, Scope, ToolDef, tool};
use crate::api::generated::management::types::{
    OrganizationResponseV1, OrganizationSlug, ProjectRef, V1CreateProjectBody,
    V1CreateProjectBodyRegion, V1OrganizationSlugResponsePlan, V1ProjectResponse,
    V1ProjectWithDatabaseResponse,
};
use crate::api::{CallOptions, ManagementApi};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::secret::Secret;
use crate::server::call::Call;

/// A new project on a paid plan: US dollars per month (Micro compute).
pub const PROJECT_COST_MONTHLY: f64 = 10.0;
/// The same cost per hour (10 $ over a 744-hour month).
pub const PROJECT_COST_HOURLY: f64 = 0.01344;
/// Active projects a free-plan organization may have.
const FREE_PLAN_ACTIVE_PROJECTS: usize = 2;
/// Length of a generated database password (letters and digits).
const PASSWORD_CHARS: usize = 32;
/// Longest project name the Management API accepts.
const MAX_NAME_CHARS: usize = 256;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_organizations", Group::Account, Kind::Read)
            .title("List organizations")
            .description("Organizations of the access token: ids and names.")
            .scope(Scope::Account)
            .handler(list_organizations),
        tool("get_organization", Group::Account, Kind::Read)
            .title("Get an organization")
            .description("One organization's name and billing plan.")
            .scope(Scope::Account)
            .handler(get_organization),
        tool("list_projects", Group::Account, Kind::Read)
            .title("List projects")
            .description("Cloud projects: ref, name, region, status.")
            .scope(Scope::Account)
            .handler(list_projects),
        tool("get_project", Group::Account, Kind::Read)
            .title("Get a project")
            .description("One cloud project: name, organization, region, status, version.")
            .scope(Scope::Account)
            .handler(get_project),
        tool("get_cost", Group::Account, Kind::Read)
            .title("Get the cost")
            .description("Cost of a new project or branch in an organization; confirm with confirm_cost.")
            .scope(Scope::Account)
            .handler(get_cost),
        tool("confirm_cost", Group::Account, Kind::Read)
            .title("Confirm a cost")
            .description("Record the user's acceptance of a cost from get_cost; returns confirm_cost_id.")
            .scope(Scope::Account)
            .handler(confirm_cost),
        tool("create_project", Group::Account, Kind::Write)
            .title("Create a project")
            .description("Create a cloud project in an organization; needs confirm_cost_id from confirm_cost.")
            .scope(Scope::Account)
            .handler(create_project),
        tool("pause_project", Group::Account, Kind::Write)
            .title("Pause a project")
            .description("Pause a cloud project: its database and APIs stop until restore_project.")
            .idempotent(true)
            .scope(Scope::Account)
            .assess(assess_pause)
            .handler(pause_project),
        tool("restore_project", Group::Account, Kind::Write)
            .title("Restore a project")
            .description("Bring a paused cloud project back online.")
            .idempotent(true)
            .scope(Scope::Account)
            .handler(restore_project),
    ]
}

// ---------------------------------------------------------------------------
// Arguments

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationArgs {
    /// Organization slug.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectIdArgs {
    /// Project ref.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Project ref.
    pub project_id: String,
}

/// What is being paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum CostType {
    Project,
    Branch,
}

impl CostType {
    fn name(self) -> &'static str {
        match self {
            CostType::Project => "project",
            CostType::Branch => BRANCH_COST_TYPE,
        }
    }
}

/// How often a cost is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum Recurrence {
    Hourly,
    Monthly,
}

impl Recurrence {
    fn name(self) -> &'static str {
        match self {
            Recurrence::Hourly => "hourly",
            Recurrence::Monthly => "monthly",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCostArgs {
    /// What to price.
    pub r#type: CostType,
    /// Organization slug.
    pub organization_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmCostArgs {
    /// Type from get_cost.
    pub r#type: CostType,
    /// Recurrence from get_cost.
    pub recurrence: Recurrence,
    /// Amount in US dollars from get_cost.
    #[schemars(schema_with = "amount_schema")]
    pub amount: f64,
}

/// A plain non-negative number (schemars would add `"format": "double"`).
fn amount_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "number", "minimum": 0})
}

/// The regions a new project can be placed in (the official server's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(inline)]
pub enum Region {
    #[serde(rename = "us-west-1")]
    UsWest1,
    #[serde(rename = "us-east-1")]
    UsEast1,
    #[serde(rename = "us-east-2")]
    UsEast2,
    #[serde(rename = "ca-central-1")]
    CaCentral1,
    #[serde(rename = "eu-west-1")]
    EuWest1,
    #[serde(rename = "eu-west-2")]
    EuWest2,
    #[serde(rename = "eu-west-3")]
    EuWest3,
    #[serde(rename = "eu-central-1")]
    EuCentral1,
    #[serde(rename = "eu-central-2")]
    EuCentral2,
    #[serde(rename = "eu-north-1")]
    EuNorth1,
    #[serde(rename = "ap-south-1")]
    ApSouth1,
    #[serde(rename = "ap-southeast-1")]
    ApSoutheast1,
    #[serde(rename = "ap-northeast-1")]
    ApNortheast1,
    #[serde(rename = "ap-northeast-2")]
    ApNortheast2,
    #[serde(rename = "ap-southeast-2")]
    ApSoutheast2,
    #[serde(rename = "sa-east-1")]
    SaEast1,
}

impl Region {
    const ALL: [Region; 16] = [
        Region::UsWest1,
        Region::UsEast1,
        Region::UsEast2,
        Region::CaCentral1,
        Region::EuWest1,
        Region::EuWest2,
        Region::EuWest3,
        Region::EuCentral1,
        Region::EuCentral2,
        Region::EuNorth1,
        Region::ApSouth1,
        Region::ApSoutheast1,
        Region::ApNortheast1,
        Region::ApNortheast2,
        Region::ApSoutheast2,
        Region::SaEast1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Region::UsWest1 => "us-west-1",
            Region::UsEast1 => "us-east-1",
            Region::UsEast2 => "us-east-2",
            Region::CaCentral1 => "ca-central-1",
            Region::EuWest1 => "eu-west-1",
            Region::EuWest2 => "eu-west-2",
            Region::EuWest3 => "eu-west-3",
            Region::EuCentral1 => "eu-central-1",
            Region::EuCentral2 => "eu-central-2",
            Region::EuNorth1 => "eu-north-1",
            Region::ApSouth1 => "ap-south-1",
            Region::ApSoutheast1 => "ap-southeast-1",
            Region::ApNortheast1 => "ap-northeast-1",
            Region::ApNortheast2 => "ap-northeast-2",
            Region::ApSoutheast2 => "ap-southeast-2",
            Region::SaEast1 => "sa-east-1",
        }
    }
}

/// Reads a region, with an error that lists the valid ones.
impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let want = s.trim().to_ascii_lowercase();
        Region::ALL
            .into_iter()
            .find(|r| r.as_str() == want)
            .ok_or_else(|| {
                let valid: Vec<&str> = Region::ALL.iter().map(|r| r.as_str()).collect();
                serde::de::Error::custom(format!(
                    "`{s}` is not a region a project can be created in; use one of {} (the one nearest the app's users)",
                    valid.join(", ")
                ))
            })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectArgs {
    /// Name of the new project.
    pub name: String,
    /// Region, nearest the app's users.
    pub region: Region,
    /// Organization slug.
    pub organization_id: String,
    /// From confirm_cost.
    pub confirm_cost_id: String,
}

// ---------------------------------------------------------------------------
// Checks

/// A project ref: 20 lowercase letters.
fn parse_ref(raw: &str, param: &str) -> Result<ProjectRef, ToolError> {
    let r = raw.trim();
    let what = if r.is_empty() {
        format!("`{param}` is empty")
    } else {
        format!("`{param}` `{r}` is not a project ref")
    };
    r.parse().map_err(|_| {
        ToolError::invalid(what).suggestion(
            "A project ref is 20 lowercase letters (as in https://<ref>.supabase.co); list_projects shows them.",
        )
    })
}

/// An organization id (its slug): letters, digits, `_` and `-`.
fn parse_org(raw: &str, param: &str) -> Result<OrganizationSlug, ToolError> {
    let o = raw.trim();
    let what = if o.is_empty() {
        format!("`{param}` is empty")
    } else {
        format!("`{param}` `{o}` is not an organization id")
    };
    let fits = !o.is_empty()
        && o.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !fits {
        return Err(ToolError::invalid(what).suggestion(
            "Pass an organization's id (letters, digits, '_' and '-') as list_organizations shows it.",
        ));
    }
    o.parse()
        .map_err(|e| ToolError::invalid(format!("{what}: {e}")))
}

/// A new project's name: not empty, at most 256 characters, no control characters.
fn check_name(raw: &str) -> Result<&str, ToolError> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(ToolError::invalid("`name` is empty")
            .suggestion("Pass a name for the project, e.g. my-app."));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(ToolError::invalid(format!(
            "`name` is longer than {MAX_NAME_CHARS} characters"
        ))
        .suggestion("Pass a shorter project name."));
    }
    if n.chars().any(char::is_control) {
        return Err(ToolError::invalid("`name` contains control characters")
            .suggestion("Use letters, digits, spaces and punctuation in project names."));
    }
    Ok(n)
}

// ---------------------------------------------------------------------------
// Results

fn org_json(o: &OrganizationResponseV1) -> Value {
    json!({"id": o.slug.as_str(), "name": o.name})
}

/// A project as the tools show it: identity, place, state; never secrets.
fn project_json(p: &V1ProjectWithDatabaseResponse, detailed: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.ref_.as_str()));
    m.insert("name".into(), json!(p.name));
    m.insert(
        "organization_id".into(),
        json!(p.organization_slug.as_str()),
    );
    m.insert("region".into(), json!(p.region));
    m.insert("status".into(), json!(p.status.to_string()));
    m.insert("created_at".into(), json!(p.created_at));
    m.insert("postgres_version".into(), json!(p.database.version));
    if detailed {
        m.insert("database_host".into(), json!(p.database.host));
        m.insert("postgres_engine".into(), json!(p.database.postgres_engine));
        m.insert("release_channel".into(), json!(p.database.release_channel));
    }
    Value::Object(m)
}

fn created_json(p: &V1ProjectResponse) -> Value {
    json!({
        "id": p.ref_.as_str(),
        "name": p.name,
        "organization_id": p.organization_slug.as_str(),
        "region": p.region,
        "status": p.status.to_string(),
        "created_at": p.created_at,
    })
}

// ---------------------------------------------------------------------------
// Handlers

fn api(call: &Call) -> Result<ManagementApi, ToolError> {
    call.state.clients.management(&call.instance)
}

async fn list_organizations(call: Call, _: NoArgs) -> Result<ToolOutput, ToolError> {
    let api = api(&call)?;
    let orgs = api
        .idempotent(|c| c.v1_list_all_organizations())
        .await
        .map_err(ToolError::from)?;
    let out = ToolOutput::untrusted(json!({
        "count": orgs.len(),
        "organizations": orgs.iter().map(org_json).collect::<Vec<_>>(),
    }));
    Ok(if orgs.is_empty() {
        out.warn("the access token's user belongs to no organization; create one in the dashboard")
    } else {
        out
    })
}

async fn get_organization(call: Call, a: OrganizationArgs) -> Result<ToolOutput, ToolError> {
    let slug = parse_org(&a.id, "id")?;
    let api = api(&call)?;
    let org = api
        .idempotent(|c| c.v1_get_an_organization(&slug))
        .await
        .map_err(ToolError::from)?;
    Ok(ToolOutput::untrusted(json!({
        "id": slug.as_str(),
        "name": org.name,
        "plan": org.plan.map(|p| p.to_string()),
    })))
}

async fn list_projects(call: Call, _: NoArgs) -> Result<ToolOutput, ToolError> {
    let api = api(&call)?;
    let projects = api
        .idempotent(|c| c.v1_list_all_projects())
        .await
        .map_err(ToolError::from)?;
    Ok(ToolOutput::untrusted(json!({
        "count": projects.len(),
        "projects": projects.iter().map(|p| project_json(p, false)).collect::<Vec<_>>(),
    })))
}

async fn fetch_project(
    api: &ManagementApi,
    project: &ProjectRef,
) -> Result<V1ProjectWithDatabaseResponse, ToolError> {
    api.idempotent(|c| c.v1_get_project(project))
        .await
        .map_err(ToolError::from)
}

async fn get_project(call: Call, a: ProjectIdArgs) -> Result<ToolOutput, ToolError> {
    let project = parse_ref(&a.id, "id")?;
    let api = api(&call)?;
    let p = fetch_project(&api, &project).await?;
    Ok(ToolOutput::untrusted(project_json(&p, true)))
}

/// The cost of one more project in an organization, and what it rests on.
struct ProjectCost {
    amount: f64,
    plan: Option<V1OrganizationSlugResponsePlan>,
    active_projects: usize,
    basis: String,
    warning: Option<String>,
}

/// Projects that count against a plan: all but paused and removed ones
/// (a state the API adds later counts, so the cost is never understated).
fn is_active(status: &str) -> bool {
    !matches!(status, "INACTIVE" | "GOING_DOWN" | "REMOVED")
}

/// Prices a new project from the organization's plan and its active
/// projects, as the official server does: free plans pay nothing (two
/// active projects at most); paid plans' compute credits cover the first
/// project and every further one adds Micro compute, $10 a month. An
/// unknown plan is priced as paid, so the cost is never understated.
async fn project_cost(
    api: &ManagementApi,
    org: &OrganizationSlug,
) -> Result<ProjectCost, ToolError> {
    let (details, projects) = tokio::try_join!(
        api.idempotent(|c| c.v1_get_an_organization(org)),
        api.idempotent(|c| c.v1_list_all_projects()),
    )
    .map_err(ToolError::from)?;
    let active = projects
        .iter()
        .filter(|p| p.organization_slug.as_str() == org.as_str() || p.organization_id == **org)
        .filter(|p| is_active(&p.status))
        .count();
    let plan = details.plan;
    let (amount, basis, warning) = match plan {
        Some(V1OrganizationSlugResponsePlan::Free) => (
            0.0,
            format!(
                "free plan: projects cost nothing, up to {FREE_PLAN_ACTIVE_PROJECTS} active ones; {active} active now"
            ),
            (active >= FREE_PLAN_ACTIVE_PROJECTS).then(|| format!(
                "the free plan allows {FREE_PLAN_ACTIVE_PROJECTS} active projects and this organization has {active}: creation will likely be refused; pause one (pause_project) or upgrade the plan"
            )),
        ),
        _ => {
            let plan_text = match plan {
                Some(p) => format!("{p} plan"),
                None => "plan not reported (priced as paid)".to_owned(),
            };
            if active == 0 {
                (
                    0.0,
                    format!(
                        "{plan_text}: the plan's compute credits cover the first active project; none active now"
                    ),
                    None,
                )
            } else {
                (
                    PROJECT_COST_MONTHLY,
                    format!(
                        "{plan_text}: each project beyond the first adds Micro compute, ${PROJECT_COST_MONTHLY}/month (${PROJECT_COST_HOURLY}/hour); {active} active now"
                    ),
                    None,
                )
            }
        }
    };
    Ok(ProjectCost {
        amount,
        plan,
        active_projects: active,
        basis,
        warning,
    })
}

const COST_NEXT_STEP: &str = "Show this cost to the user; if they accept it, call confirm_cost with this type, recurrence and amount.";

async fn get_cost(call: Call, a: GetCostArgs) -> Result<ToolOutput, ToolError> {
    let org = parse_org(&a.organization_id, "organization_id")?;
    if a.r#type == CostType::Branch {
        return Ok(ToolOutput::trusted(json!({
            "type": BRANCH_COST_TYPE,
            "recurrence": BRANCH_COST_RECURRENCE,
            "amount": BRANCH_COST_AMOUNT,
            "currency": "USD",
            "organization_id": org.as_str(),
            "basis": format!("a branch runs Micro compute, billed ${BRANCH_COST_AMOUNT}/hour while it exists, on any plan"),
            "next_step": COST_NEXT_STEP,
        })));
    }
    let api = api(&call)?;
    let cost = project_cost(&api, &org).await?;
    let out = ToolOutput::trusted(json!({
        "type": "project",
        "recurrence": "monthly",
        "amount": cost.amount,
        "currency": "USD",
        "organization_id": org.as_str(),
        "plan": cost.plan.map(|p| p.to_string()),
        "active_projects": cost.active_projects,
        "basis": cost.basis,
        "next_step": COST_NEXT_STEP,
    }));
    Ok(match cost.warning {
        Some(w) => out.warn(w),
        None => out,
    })
}

async fn confirm_cost(_call: Call, a: ConfirmCostArgs) -> Result<ToolOutput, ToolError> {
    if !a.amount.is_finite() || a.amount < 0.0 {
        return Err(
            ToolError::invalid(format!("`amount` {} is not a cost", a.amount))
                .suggestion("Pass the amount get_cost returned (US dollars, 0 or more)."),
        );
    }
    let id = cost_id(a.r#type.name(), a.recurrence.name(), a.amount);
    let mut out = ToolOutput::trusted(json!({
        "confirm_cost_id": id,
        "type": a.r#type.name(),
        "recurrence": a.recurrence.name(),
        "amount": a.amount,
        "next_step": match a.r#type {
            CostType::Project => "Pass confirm_cost_id to create_project.",
            CostType::Branch => "Pass confirm_cost_id to create_branch.",
        },
    }));
    let known = match a.r#type {
        CostType::Branch => {
            a.recurrence.name() == BRANCH_COST_RECURRENCE && a.amount == BRANCH_COST_AMOUNT
        }
        CostType::Project => {
            a.recurrence == Recurrence::Monthly
                && (a.amount == 0.0 || a.amount == PROJECT_COST_MONTHLY)
        }
    };
    if !known {
        out = out.warn(format!(
            "this is not a cost get_cost reports for a {}, so the id will be refused; call get_cost and confirm exactly what it returns",
            a.r#type.name()
        ));
    }
    Ok(out)
}

/// The ids of every cost get_cost can report for a project.
fn project_cost_ids() -> [String; 2] {
    [
        cost_id("project", "monthly", 0.0),
        cost_id("project", "monthly", PROJECT_COST_MONTHLY),
    ]
}

fn cost_refused(message: String, reason: String) -> ToolError {
    ToolError::invalid(message).reason(reason).suggestion(
        "Call get_cost(type=\"project\", organization_id), show the cost to the user, and once they accept, call confirm_cost with it and pass the id it returns.",
    )
}

/// A strong random database password: letters and digits, with at least
/// one upper-case letter, one lower-case letter and one digit.
fn generate_password() -> String {
    let mut rng = rand::rng();
    loop {
        let pw: String = (&mut rng)
            .sample_iter(Alphanumeric)
            .take(PASSWORD_CHARS)
            .map(char::from)
            .collect();
        if pw.chars().any(|c| c.is_ascii_uppercase())
            && pw.chars().any(|c| c.is_ascii_lowercase())
            && pw.chars().any(|c| c.is_ascii_digit())
        {
            return pw;
        }
    }
}

async fn create_project(call: Call, a: CreateProjectArgs) -> Result<ToolOutput, ToolError> {
    let name = check_name(&a.name)?;
    let org = parse_org(&a.organization_id, "organization_id")?;
    let given = a.confirm_cost_id.trim().to_ascii_lowercase();
    if given.is_empty() {
        return Err(cost_refused(
            "`confirm_cost_id` is empty".into(),
            "creating a project may cost money, so it needs the id of a cost the user accepted"
                .into(),
        ));
    }
    // An id that no project cost has is refused before any request.
    if !project_cost_ids().contains(&given) {
        return Err(cost_refused(
            "`confirm_cost_id` is not the id of a confirmed project cost".into(),
            "confirm_cost returns it for the type, recurrence and amount get_cost reported".into(),
        ));
    }
    let api = api(&call)?;
    let cost = project_cost(&api, &org).await?;
    let expected = cost_id("project", "monthly", cost.amount);
    if given != expected {
        return Err(cost_refused(
            "`confirm_cost_id` does not match the current cost of a project in this organization"
                .into(),
            format!(
                "a new project in `{}` now costs ${}/month ({}); the id given confirms another amount",
                org.as_str(),
                cost.amount,
                cost.basis
            ),
        ));
    }
    let region: V1CreateProjectBodyRegion = a.region.as_str().parse().map_err(|_| {
        ToolError::internal(format!(
            "region `{}` is missing from the Management API client",
            a.region.as_str()
        ))
    })?;
    let password = Secret::new(generate_password());
    // Scrubbed from anything that could echo it (errors, logs, results).
    call.state.config.redactor.add(&password);
    let mut body = V1CreateProjectBody {
        db_pass: password.expose().to_owned(),
        desired_instance_size: None,
        kps_enabled: None,
        name: name
            .parse()
            .map_err(|e| ToolError::invalid(format!("`name` is not a valid project name: {e}")))?,
        // Deprecated alias of the slug; older API versions read only this.
        organization_id: Some(org.as_str().to_owned()),
        organization_slug: org
            .as_str()
            .parse()
            .map_err(|e| ToolError::invalid(format!("`organization_id` is not valid: {e}")))?,
        plan: None,
        region: Some(region),
        region_selection: None,
        template_url: None,
    };
    drop(password);
    let result = api
        .call_with(CallOptions::once().slow(), |c| c.v1_create_a_project(&body))
        .await;
    body.db_pass.zeroize();
    let project = result.map_err(ToolError::from)?;
    let mut out = ToolOutput::untrusted(json!({
        "project": created_json(&project),
        "cost": {"amount": cost.amount, "recurrence": "monthly", "currency": "USD"},
        "next_step": "The project takes a few minutes to come up; get_project shows status ACTIVE_HEALTHY when it is ready. Its database password was generated and not kept: reset it in the dashboard (Project Settings > Database) when a direct connection is needed.",
    }));
    if let Some(w) = cost.warning {
        out = out.warn(w);
    }
    Ok(out)
}

/// Pausing stops a project's services: it needs the user's confirmation.
/// `None` for invalid arguments: the handler refuses them without asking.
fn assess_pause(args: &Map<String, Value>) -> Option<String> {
    let a: ProjectArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let project = parse_ref(&a.project_id, "project_id").ok()?;
    Some(format!(
        "pause project `{}`: its database, APIs, auth and storage stop answering until restore_project brings them back",
        project.as_str()
    ))
}

async fn pause_project(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = parse_ref(&a.project_id, "project_id")?;
    let api = api(&call)?;
    let before = fetch_project(&api, &project).await?;
    let mut out = Map::new();
    out.insert("id".into(), json!(project.as_str()));
    out.insert("name".into(), json!(before.name));
    out.insert("previous_status".into(), json!(before.status.to_string()));
    if matches!(before.status.as_str(), "INACTIVE" | "PAUSING") {
        out.insert("changed".into(), json!(false));
        out.insert(
            "next_step".into(),
            json!("The project is already paused or pausing; restore_project brings it back."),
        );
        return Ok(ToolOutput::untrusted(Value::Object(out)));
    }
    api.call_with(CallOptions::once(), |c| c.v1_pause_a_project(&project))
        .await
        .map_err(ToolError::from)?;
    out.insert("changed".into(), json!(true));
    out.insert(
        "next_step".into(),
        json!("Pausing takes a few minutes (get_project shows INACTIVE when done); restore_project brings it back."),
    );
    Ok(ToolOutput::untrusted(Value::Object(out)))
}

async fn restore_project(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = parse_ref(&a.project_id, "project_id")?;
    let api = api(&call)?;
    let before = fetch_project(&api, &project).await?;
    let mut out = Map::new();
    out.insert("id".into(), json!(project.as_str()));
    out.insert("name".into(), json!(before.name));
    out.insert("previous_status".into(), json!(before.status.to_string()));
    let running = matches!(
        before.status.as_str(),
        "ACTIVE_HEALTHY"
            | "ACTIVE_UNHEALTHY"
            | "COMING_UP"
            | "RESTORING"
            | "RESTARTING"
            | "UPGRADING"
            | "RESIZING"
    );
    if running {
        out.insert("changed".into(), json!(false));
        out.insert(
            "next_step".into(),
            json!("The project is not paused; nothing to restore."),
        );
        return Ok(ToolOutput::untrusted(Value::Object(out)));
    }
    if before.status == "PAUSING" {
        return Err(
            ToolError::invalid(format!("project `{}` is still pausing", project.as_str()))
                .suggestion(
                    "Wait until get_project shows INACTIVE, then call restore_project again.",
                ),
        );
    }
    api.call_with(CallOptions::once(), |c| c.v1_restore_a_project(&project))
        .await
        .map_err(ToolError::from)?;
    out.insert("changed".into(), json!(true));
    out.insert(
        "next_step".into(),
        json!("Restoring takes a few minutes; get_project shows ACTIVE_HEALTHY when it is back."),
    );
    Ok(ToolOutput::untrusted(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_match_the_generated_client() {
        for r in Region::ALL {
            assert!(
                r.as_str().parse::<V1CreateProjectBodyRegion>().is_ok(),
                "{r:?}"
            );
            let v: Region = serde_json::from_value(json!(r.as_str())).unwrap();
            assert_eq!(v, r);
            assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        }
        let e = serde_json::from_value::<Region>(json!("mars-1")).unwrap_err();
        assert!(e.to_string().contains("eu-central-1"), "{e}");
    }

    #[test]
    fn refs_and_org_ids_are_checked() {
        assert!(parse_ref(" abcdefghijklmnopqrst ", "id").is_ok());
        assert!(parse_ref("abcdefghijklmnopqrs", "id").is_err());
        assert!(parse_ref("ABCDEFGHIJKLMNOPQRST", "id").is_err());
        assert!(parse_ref("", "id").unwrap_err().message.contains("empty"));
        assert!(parse_org("my-org_1", "id").is_ok());
        assert!(parse_org("", "id").is_err());
        assert!(parse_org("a/b", "id").is_err());
        assert!(parse_org("ä", "id").is_err());
    }

    #[test]
    fn passwords_are_strong_and_differ() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), PASSWORD_CHARS);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn pause_asks_for_confirmation_unless_invalid() {
        let args = |v: Value| v.as_object().cloned().unwrap();
        let d = assess_pause(&args(json!({"project_id": "abcdefghijklmnopqrst"}))).unwrap();
        assert!(d.contains("abcdefghijklmnopqrst"), "{d}");
        assert!(assess_pause(&args(json!({"project_id": "nope"}))).is_none());
        assert!(assess_pause(&args(json!({}))).is_none());
    }

    #[test]
    fn project_cost_ids_are_the_confirm_cost_hash() {
        use sha2::{Digest, Sha256};
        let full = hex::encode(Sha256::digest(b"project:monthly:10"));
        assert_eq!(project_cost_ids()[1], full[..16]);
        let full = hex::encode(Sha256::digest(b"project:monthly:0"));
        assert_eq!(project_cost_ids()[0], full[..16]);
    }
}
