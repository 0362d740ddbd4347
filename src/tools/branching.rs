//! The `branching` group (cloud projects, through the Management API):
//! list and create a project's branches, and delete, merge, reset or rebase
//! one. Creating a branch costs money, so it needs the id of a confirmed
//! cost; the four actions on a branch are destructive and need a
//! confirmation. When the server is scoped to a project, a branch is looked
//! up among that project's branches first and any other branch is refused.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::ManagementApi;
use crate::api::generated::management::types::{
    BranchActionBody, BranchIdOrRef, BranchResponse, CreateBranchBody, ProjectRef,
};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::{Call, parse_project_ref};

/// What a branch costs, as the account group's `get_cost` reports it.
pub const BRANCH_COST_TYPE: &str = "branch";
pub const BRANCH_COST_RECURRENCE: &str = "hourly";
/// US dollars per hour.
pub const BRANCH_COST_AMOUNT: f64 = 0.01344;
/// Longest branch name accepted.
const MAX_NAME_CHARS: usize = 256;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("create_branch", Group::Branching, Kind::Write)
            .title("Create a branch")
            .description("Create a development branch of a cloud project; needs confirm_cost_id from confirm_cost.")
            .scope(Scope::Project)
            .handler(create_branch),
        tool("list_branches", Group::Branching, Kind::Read)
            .title("List branches")
            .description("The branches of a cloud project with their ids, refs and status.")
            .scope(Scope::Project)
            .handler(list_branches),
        tool("delete_branch", Group::Branching, Kind::Destructive)
            .title("Delete a branch")
            .description("Delete a development branch and its data.")
            .assess(|args| assess(Action::Delete, args))
            .handler(|call, a: BranchArgs| act(call, Action::Delete, a.branch_id, None)),
        tool("merge_branch", Group::Branching, Kind::Destructive)
            .title("Merge a branch")
            .description("Apply a branch's migrations and edge functions to its parent project.")
            .assess(|args| assess(Action::Merge, args))
            .handler(|call, a: BranchArgs| act(call, Action::Merge, a.branch_id, None)),
        tool("reset_branch", Group::Branching, Kind::Destructive)
            .title("Reset a branch")
            .description("Rebuild a branch's database from its migrations, optionally up to a version; data is lost.")
            .assess(|args| assess(Action::Reset, args))
            .handler(|call, a: ResetArgs| {
                act(call, Action::Reset, a.branch_id, a.migration_version)
            }),
        tool("rebase_branch", Group::Branching, Kind::Destructive)
            .title("Rebase a branch")
            .description("Apply the parent project's newer migrations to a branch.")
            .assess(|args| assess(Action::Rebase, args))
            .handler(|call, a: BranchArgs| act(call, Action::Rebase, a.branch_id, None)),
    ]
}

/// The id `confirm_cost` hands out for a cost: the first 16 hex characters
/// of the SHA-256 of `"{type}:{recurrence}:{amount}"` (amount as Rust's
/// `f64` `Display` writes it, e.g. `branch:hourly:0.01344`).
pub fn cost_id(kind: &str, recurrence: &str, amount: f64) -> String {
    let digest = Sha256::digest(format!("{kind}:{recurrence}:{amount}").as_bytes());
    let mut id = hex::encode(digest);
    id.truncate(16);
    id
}

/// The id of a confirmed branch cost.
pub fn branch_cost_id() -> String {
    cost_id(BRANCH_COST_TYPE, BRANCH_COST_RECURRENCE, BRANCH_COST_AMOUNT)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBranchArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Name of the new branch.
    pub name: String,
    /// Id from confirm_cost for the branch cost, after the user accepted it.
    pub confirm_cost_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBranchesArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchArgs {
    /// Branch id (UUID) or branch project ref, from list_branches.
    pub branch_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetArgs {
    /// Branch id (UUID) or branch project ref, from list_branches.
    pub branch_id: String,
    /// Reset to this migration version (default: all migrations).
    #[serde(default)]
    pub migration_version: Option<String>,
}

fn project_ref(call: &Call, given: Option<&str>) -> Result<ProjectRef, ToolError> {
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required")
            .suggestion("Pass project_id (list_projects shows the refs), or start the server with --project-ref."));
    };
    parse_project_ref(r.trim())
}

/// A branch as the tools show it: identity, parent, state; never secrets.
fn branch_json(b: &BranchResponse) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(b.id.to_string()));
    m.insert("name".into(), json!(b.name));
    m.insert("project_ref".into(), json!(b.project_ref));
    m.insert("parent_project_ref".into(), json!(b.parent_project_ref));
    m.insert("is_default".into(), json!(b.is_default));
    m.insert("persistent".into(), json!(b.persistent));
    if let Some(s) = &b.preview_project_status {
        m.insert("status".into(), json!(s.to_string()));
    }
    m.insert(
        "migration_status".into(),
        json!(b.status.as_ref().map(ToString::to_string)),
    );
    if let Some(g) = &b.git_branch {
        m.insert("git_branch".into(), json!(g));
    }
    if let Some(n) = b.pr_number {
        m.insert("pr_number".into(), json!(n));
    }
    m.insert("with_data".into(), json!(b.with_data));
    m.insert("created_at".into(), json!(b.created_at.to_rfc3339()));
    if let Some(d) = b.deletion_scheduled_at {
        m.insert("deletion_scheduled_at".into(), json!(d.to_rfc3339()));
    }
    Value::Object(m)
}

async fn list_branches(call: Call, a: ListBranchesArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let branches = api
        .idempotent(|c| c.v1_list_all_branches(&project))
        .await
        .map_err(ToolError::from)?;
    let out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "count": branches.len(),
        "branches": branches.iter().map(branch_json).collect::<Vec<_>>(),
    }));
    Ok(if branches.is_empty() {
        out.warn(
            "no branches: branching may not be enabled for this project; create_branch enables it",
        )
    } else {
        out
    })
}

/// Checks a new branch's name.
fn check_name(name: &str) -> Result<&str, ToolError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(ToolError::invalid("`name` is empty")
            .suggestion("Pass a branch name, e.g. develop or feature-login."));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(ToolError::invalid(format!(
            "`name` is longer than {MAX_NAME_CHARS} characters"
        ))
        .suggestion("Pass a shorter branch name."));
    }
    if n.chars().any(char::is_control) {
        return Err(ToolError::invalid("`name` contains control characters")
            .suggestion("Use letters, digits, '-', '_' and '/' in branch names."));
    }
    Ok(n)
}

async fn create_branch(call: Call, a: CreateBranchArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let name = check_name(&a.name)?;
    let expected = branch_cost_id();
    if !a.confirm_cost_id.trim().eq_ignore_ascii_case(&expected) {
        return Err(ToolError::invalid(
            "`confirm_cost_id` does not match the cost of a branch",
        )
        .reason(format!(
            "a branch costs ${BRANCH_COST_AMOUNT} per hour; the id given is not the one confirm_cost returns for that cost"
        ))
        .suggestion(
            "Call get_cost(type=\"branch\"), show the cost to the user, and once they accept, call confirm_cost with it and pass the id it returns.",
        ));
    }
    let body = CreateBranchBody {
        branch_name: name
            .parse()
            .map_err(|e| ToolError::invalid(format!("`name` is not a valid branch name: {e}")))?,
        desired_instance_size: None,
        git_branch: None,
        is_default: None,
        notify_url: None,
        persistent: None,
        postgres_engine: None,
        region: None,
        release_channel: None,
        secrets: Default::default(),
        with_data: None,
    };
    let api = call.state.clients.management(&call.instance)?;
    let branch = api
        .call_with(crate::api::CallOptions::once().slow(), |c| {
            c.v1_create_a_branch(&project, &body)
        })
        .await
        .map_err(ToolError::from)?;
    Ok(ToolOutput::untrusted(json!({
        "branch": branch_json(&branch),
        "next_step": "The branch is being set up with the parent's migrations; list_branches shows its status. Its project_ref works as project_id in the other tools.",
    })))
}

/// An action on one branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Delete,
    Merge,
    Reset,
    Rebase,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Merge => "merge",
            Action::Reset => "reset",
            Action::Rebase => "rebase",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Action::Delete => "deleted",
            Action::Merge => "merged",
            Action::Reset => "reset",
            Action::Rebase => "rebased",
        }
    }
}

/// Reads `branch_id`: a branch's UUID or its project ref.
fn parse_branch_id(raw: &str) -> Result<BranchIdOrRef, ToolError> {
    let s = raw.trim();
    s.parse().map_err(|_| {
        ToolError::invalid(format!("`{s}` is not a branch id"))
            .suggestion("Pass the branch's id (a UUID) or its project_ref (20 lowercase letters), as list_branches shows them.")
    })
}

/// Reads `migration_version`: the digits of a migration's version.
fn parse_version(raw: Option<&str>) -> Result<Option<String>, ToolError> {
    let Some(v) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() > 32 || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(ToolError::invalid(format!(
            "`{v}` is not a migration version"
        ))
        .suggestion("Pass the version part of a migration, e.g. 20250131120000 (list_migrations shows them)."));
    }
    Ok(Some(v.to_owned()))
}

/// Says what a branch action will do, for the confirmation. `None` when the
/// arguments are invalid (unknown fields included): the handler then refuses
/// them without asking first.
fn assess(action: Action, args: &Map<String, Value>) -> Option<String> {
    let a: ResetArgs = if action == Action::Reset {
        serde_json::from_value(Value::Object(args.clone())).ok()?
    } else {
        let b: BranchArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
        ResetArgs {
            branch_id: b.branch_id,
            migration_version: None,
        }
    };
    let id = parse_branch_id(&a.branch_id).ok()?.to_string();
    let version = parse_version(a.migration_version.as_deref()).ok()?;
    Some(match action {
        Action::Delete => {
            format!("delete branch `{id}` with its database, data and edge functions, for good")
        }
        Action::Merge => format!(
            "merge branch `{id}` into its parent project: the branch's new migrations and edge functions are applied to production"
        ),
        Action::Reset => match version {
            Some(v) => format!(
                "reset branch `{id}`: its database is rebuilt from migrations up to version {v}; data on the branch is lost"
            ),
            None => format!(
                "reset branch `{id}`: its database is rebuilt from its migrations; data on the branch is lost"
            ),
        },
        Action::Rebase => format!(
            "rebase branch `{id}`: the parent project's newer migrations are applied to the branch"
        ),
    })
}

/// When the server is scoped to a project: finds the branch among that
/// project's branches and refuses any other, and the production branch.
async fn check_scope(
    call: &Call,
    api: &ManagementApi,
    id: &BranchIdOrRef,
    action: Action,
) -> Result<Option<BranchResponse>, ToolError> {
    let allowed = call.state.config.allowed_projects();
    if allowed.is_empty() {
        return Ok(None);
    }
    let mut found = None;
    for scoped in allowed {
        let project = parse_project_ref(scoped)?;
        let branches = api
            .idempotent(|c| c.v1_list_all_branches(&project))
            .await
            .map_err(ToolError::from)?;
        found = branches.into_iter().find(|b| {
            b.parent_project_ref == *scoped
                && match id {
                    BranchIdOrRef::Uuid(u) => b.id == *u,
                    BranchIdOrRef::ProjectRef(r) => b.project_ref == r.as_str(),
                }
        });
        if found.is_some() {
            break;
        }
    }
    let scoped = allowed.join("`, `");
    let Some(branch) = found else {
        return Err(ToolError::invalid(format!(
            "branch `{id}` is not a branch of project `{scoped}`, which this server is limited to"
        ))
        .suggestion("Use list_branches to see the project's branches; restart the server without --project-ref (or with another) to act on other projects."));
    };
    if branch.is_default {
        return Err(ToolError::invalid(format!(
            "branch `{id}` is the production branch of `{}`; it cannot be {}",
            branch.parent_project_ref,
            action.done()
        ))
        .suggestion("Pick a development branch from list_branches."));
    }
    Ok(Some(branch))
}

async fn act(
    call: Call,
    action: Action,
    branch_id: String,
    migration_version: Option<String>,
) -> Result<ToolOutput, ToolError> {
    let id = parse_branch_id(&branch_id)?;
    let version = parse_version(migration_version.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let branch = check_scope(&call, &api, &id, action).await?;
    let mut out = Map::new();
    out.insert("branch_id".into(), json!(id.to_string()));
    if let Some(b) = &branch {
        out.insert("name".into(), json!(b.name));
    }
    out.insert("action".into(), json!(action.verb()));
    let body = BranchActionBody {
        migration_version: version.clone(),
    };
    let once = crate::api::CallOptions::once().slow();
    match action {
        Action::Delete => {
            api.call_with(once, |c| c.v1_delete_a_branch(&id, None))
                .await
                .map_err(ToolError::from)?;
            out.insert("deleted".into(), json!(true));
        }
        Action::Merge | Action::Reset | Action::Rebase => {
            let r = match action {
                Action::Merge => {
                    api.call_with(once, |c| c.v1_merge_a_branch(&id, &body))
                        .await
                }
                Action::Reset => {
                    api.call_with(once, |c| c.v1_reset_a_branch(&id, &body))
                        .await
                }
                _ => {
                    api.call_with(once, |c| c.v1_push_a_branch(&id, &body))
                        .await
                }
            }
            .map_err(ToolError::from)?;
            if let Some(v) = &version {
                out.insert("migration_version".into(), json!(v));
            }
            out.insert("workflow_run_id".into(), json!(r.workflow_run_id));
            out.insert(
                "next_step".into(),
                json!("The action runs in the background; follow it with get_logs(service=\"branch-action\") and list_branches."),
            );
        }
    }
    // The branch name (when looked up) is the user's text.
    Ok(if branch.is_some() {
        ToolOutput::untrusted(Value::Object(out))
    } else {
        ToolOutput::trusted(Value::Object(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_id_is_the_agreed_hash() {
        let full = hex::encode(Sha256::digest(b"branch:hourly:0.01344"));
        assert_eq!(branch_cost_id(), full[..16]);
        assert_eq!(branch_cost_id().len(), 16);
        assert_ne!(cost_id("branch", "hourly", 0.01), branch_cost_id());
    }

    #[test]
    fn ids_and_versions_are_checked() {
        assert!(parse_branch_id("abcdefghijklmnopqrst").is_ok());
        assert!(parse_branch_id("0b6f8c2e-3d4a-4c2b-9a1e-6f7d8e9a0b1c").is_ok());
        assert!(parse_branch_id("main").is_err());
        assert_eq!(
            parse_version(Some(" 20250131120000 ")).unwrap().as_deref(),
            Some("20250131120000")
        );
        assert!(parse_version(Some("1; drop")).is_err());
        assert_eq!(parse_version(Some("")).unwrap(), None);
    }

    #[test]
    fn every_branch_action_asks_for_confirmation_unless_invalid() {
        let args = |v: Value| v.as_object().cloned().unwrap();
        for a in [Action::Delete, Action::Merge, Action::Reset, Action::Rebase] {
            let d = assess(a, &args(json!({"branch_id": "abcdefghijklmnopqrst"}))).unwrap();
            assert!(d.contains("abcdefghijklmnopqrst"), "{d}");
            assert!(assess(a, &args(json!({"branch_id": "nope"}))).is_none());
            assert!(assess(a, &args(json!({}))).is_none());
            assert!(
                assess(
                    a,
                    &args(json!({"branch_id": "abcdefghijklmnopqrst", "force": true}))
                )
                .is_none()
            );
        }
        let d = assess(
            Action::Reset,
            &args(
                json!({"branch_id": "abcdefghijklmnopqrst", "migration_version": "20250101000000"}),
            ),
        )
        .unwrap();
        assert!(d.contains("20250101000000"), "{d}");
    }
}
