//! Variables the stack needs (a missing or empty one breaks a container),
//! Logflare's mode switches, variables set twice, and lines that are not
//! assignments.

use super::Context;
use crate::selfhosted::finding::{Finding, FixAction, Severity};

/// How a missing variable is filled in.
enum Fill {
    Generate,
    Resign,
    Value(&'static str),
    ByHand(&'static str),
}

const REQUIRED: &[(&str, Severity, Fill)] = &[
    ("POSTGRES_PASSWORD", Severity::Error, Fill::Generate),
    ("JWT_SECRET", Severity::Error, Fill::Generate),
    ("ANON_KEY", Severity::Error, Fill::Resign),
    ("SERVICE_ROLE_KEY", Severity::Error, Fill::Resign),
    (
        "DASHBOARD_USERNAME",
        Severity::Error,
        Fill::Value("supabase"),
    ),
    ("DASHBOARD_PASSWORD", Severity::Error, Fill::Generate),
    ("SECRET_KEY_BASE", Severity::Error, Fill::Generate),
    ("VAULT_ENC_KEY", Severity::Error, Fill::Generate),
    ("PG_META_CRYPTO_KEY", Severity::Warning, Fill::Generate),
    ("POSTGRES_HOST", Severity::Error, Fill::Value("db")),
    ("POSTGRES_DB", Severity::Error, Fill::Value("postgres")),
    ("POSTGRES_PORT", Severity::Error, Fill::Value("5432")),
    (
        "POOLER_PROXY_PORT_TRANSACTION",
        Severity::Error,
        Fill::Value("6543"),
    ),
    (
        "POOLER_DEFAULT_POOL_SIZE",
        Severity::Error,
        Fill::Value("20"),
    ),
    (
        "POOLER_MAX_CLIENT_CONN",
        Severity::Error,
        Fill::Value("100"),
    ),
    ("POOLER_DB_POOL_SIZE", Severity::Warning, Fill::Value("5")),
    (
        "POOLER_TENANT_ID",
        Severity::Error,
        Fill::ByHand(
            "Set POOLER_TENANT_ID to a short lowercase name for this instance (it becomes the pooler user postgres.<tenant>).",
        ),
    ),
    ("KONG_HTTP_PORT", Severity::Error, Fill::Value("8000")),
    ("KONG_HTTPS_PORT", Severity::Error, Fill::Value("8443")),
    (
        "SITE_URL",
        Severity::Error,
        Fill::ByHand(
            "Set SITE_URL to the URL of the application that signs users in (https://...).",
        ),
    ),
    (
        "API_EXTERNAL_URL",
        Severity::Error,
        Fill::ByHand("Set API_EXTERNAL_URL to https://<your Supabase domain>."),
    ),
    (
        "SUPABASE_PUBLIC_URL",
        Severity::Error,
        Fill::ByHand("Set SUPABASE_PUBLIC_URL to https://<your Supabase domain>."),
    ),
    (
        "PGRST_DB_SCHEMAS",
        Severity::Error,
        Fill::Value("public,storage,graphql_public"),
    ),
    ("JWT_EXPIRY", Severity::Warning, Fill::Value("3600")),
    (
        "DOCKER_SOCKET_LOCATION",
        Severity::Warning,
        Fill::Value("/var/run/docker.sock"),
    ),
];

/// Logflare's switches: the official Compose file sets them itself; a
/// Compose file that reads them from `.env` fails without them.
const LOGFLARE_MODE: &[&str] = &["LOGFLARE_SINGLE_TENANT", "LOGFLARE_SUPABASE_MODE"];

fn missing(ctx: &Context, name: &str, severity: Severity, fill: &Fill) -> Finding {
    let f = ctx
        .finding("missing_variable", severity, name)
        .message(if ctx.has(name) {
            format!("{name} is empty")
        } else {
            format!("{name} is not set: the container that reads it fails to start or misbehaves")
        });
    match fill {
        Fill::Generate => f
            .expected("a random secret")
            .fix("Generate it: fix_env or `supabase-mcp env fix`.")
            .action(FixAction::Regenerate(name.to_owned())),
        Fill::Resign => f
            .expected("a JWT signed with JWT_SECRET")
            .fix("Sign it: fix_env or `supabase-mcp env fix`.")
            .action(FixAction::ResignKeys),
        Fill::Value(v) => f
            .expected(*v)
            .fix(format!("Add {name}={v}."))
            .action(FixAction::Set(name.to_owned(), (*v).to_owned())),
        Fill::ByHand(how) => f.expected("a value for your deployment").fix(*how),
    }
}

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, severity, fill) in REQUIRED {
        if ctx.get(name).is_none() {
            out.push(missing(ctx, name, *severity, fill));
        }
    }
    // Logflare: the current tokens, or the single key of older templates.
    let tokens = [
        "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        "LOGFLARE_PRIVATE_ACCESS_TOKEN",
    ];
    if ctx.get("LOGFLARE_API_KEY").is_none() {
        for t in tokens {
            if ctx.get(t).is_none() {
                out.push(missing(ctx, t, Severity::Error, &Fill::Generate));
            }
        }
    }
    for name in LOGFLARE_MODE {
        match ctx.get(name) {
            Some(v) if v.eq_ignore_ascii_case("true") => {}
            Some(_) => out.push(
                ctx.finding("logflare_mode", Severity::Error, name)
                    .message(format!(
                        "{name} must be true for a self-hosted Supabase: otherwise Logflare does not run in the single-tenant Supabase mode the stack expects"
                    ))
                    .expected("true")
                    .fix(format!("Set {name}=true."))
                    .action(FixAction::Set((*name).to_owned(), "true".into())),
            ),
            None => out.push(
                Finding::new("logflare_mode", Severity::Info, Some(name))
                    .message(format!(
                        "{name} is not in the file; the official Compose file sets it to true, a Compose file that reads it from .env needs it here"
                    ))
                    .expected("true (here or in the Compose file)")
                    .fix(format!("Add {name}=true if your Compose file reads it from .env."))
                    .action(FixAction::Set((*name).to_owned(), "true".into())),
            ),
        }
    }
    for (name, lines) in ctx.file.duplicates() {
        let shown: Vec<String> = lines.iter().map(usize::to_string).collect();
        out.push(
            Finding::new("duplicate_variable", Severity::Warning, Some(&name))
                .line(lines.last().copied())
                .message(format!(
                    "{name} is set on lines {}; only the last one counts",
                    shown.join(", ")
                ))
                .expected("one assignment per variable")
                .fix("Delete the assignments that do not count."),
        );
    }
    for issue in &ctx.file.issues {
        let mut f = Finding::new("syntax", Severity::Warning, None)
            .line(Some(issue.line))
            .message(format!(
                "line {} is not a KEY=VALUE assignment: {}",
                issue.line, issue.problem
            ))
            .expected("KEY=VALUE, a comment (#) or a blank line")
            .fix("Correct or delete the line: Docker Compose stops at it.");
        f.id = format!("syntax:line-{}", issue.line);
        out.push(f);
    }
    out
}
