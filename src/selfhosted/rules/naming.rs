//! The project name (given, from Dokploy's `CONTAINER_PREFIX`, or
//! `COMPOSE_PROJECT_NAME`), the container prefix's shape, and the
//! template's placeholder tenant id.

use super::Context;
use crate::selfhosted::finding::{Finding, Severity};
use crate::selfhosted::project_name;

fn name_finding(name: &str, variable: Option<&str>, line: Option<usize>) -> Option<Finding> {
    let c = project_name::check(name);
    if c.valid {
        return None;
    }
    let suggestion = c.suggestion.clone().unwrap_or_default();
    let mut f = Finding::new("project_name", Severity::Error, variable)
        .line(line)
        .current(name)
        .message(format!(
            "the project name `{name}` {}: it ends up in container names, DNS names and volume paths",
            c.problems.join("; ")
        ))
        .expected(suggestion.clone())
        .fix(format!(
            "Use `{suggestion}` (lowercase letters, digits and hyphens, starting with a letter, at most {} characters); renaming a deployed project means redeploying it.",
            project_name::MAX_LEN
        ));
    if variable.is_none() {
        f.id = "project_name".to_owned();
    }
    Some(f)
}

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(name) = ctx.opts.project_name.as_deref() {
        out.extend(name_finding(name, None, None));
    }
    if let Some(prefix) = ctx.get("CONTAINER_PREFIX") {
        let line = ctx.line("CONTAINER_PREFIX");
        match project_name::from_container_prefix(prefix) {
            Some(project) => {
                if let Some(mut f) = name_finding(project, Some("CONTAINER_PREFIX"), line) {
                    f.current = Some(prefix.to_owned());
                    out.push(f);
                }
            }
            None => out.push(
                ctx.finding("container_prefix", Severity::Warning, "CONTAINER_PREFIX")
                    .message("CONTAINER_PREFIX does not have Dokploy's shape <project>-supabase-<6 characters>-supabase; the routes in Dokploy's vector.yml mount use the prefix")
                    .expected("<project>-supabase-<6 lowercase letters or digits>-supabase")
                    .fix("Keep the prefix Dokploy generated; if you changed it, update the routes in the vector.yml mount to match."),
            ),
        }
    }
    if let Some(name) = ctx.get("COMPOSE_PROJECT_NAME") {
        out.extend(name_finding(
            name,
            Some("COMPOSE_PROJECT_NAME"),
            ctx.line("COMPOSE_PROJECT_NAME"),
        ));
    }
    if ctx.get("POOLER_TENANT_ID") == Some("your-tenant-id") {
        out.push(
            ctx.finding("template_default", Severity::Info, "POOLER_TENANT_ID")
                .message("POOLER_TENANT_ID is the template's placeholder; it is part of the pooler user name (postgres.your-tenant-id)")
                .expected("a short lowercase name for this instance")
                .fix("Set POOLER_TENANT_ID before the first start (changing it later re-creates the pooler tenant)."),
        );
    }
    out
}
