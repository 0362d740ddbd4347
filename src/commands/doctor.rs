//! `supabase-mcp doctor`: checks every configured instance (database and
//! pooler reachability, role and TLS; Supabase API health and SQL over REST;
//! Management API token) and prints what to fix. The database checks are
//! the ones of the `test_connection` tool ([`crate::db::probe`]).

use std::time::Duration;

use crate::config::{Config, Instance};
use crate::db::probe::{self, Target, TargetReport};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub instance: String,
    pub what: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

/// Runs every check. Never prints secrets.
pub async fn run(config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .ok();
    for inst in &config.instances {
        for note in &inst.notes {
            out.push(check(inst, "import", true, note.clone(), None));
        }
        if !inst.is_configured() {
            out.push(check(
                inst,
                "configuration",
                false,
                "nothing to connect to".into(),
                Some("Pass --db-url, or --supabase-url with --service-role-key, or --access-token (cloud), or --env-file.".into()),
            ));
            continue;
        }
        for report in probe::probe_instance(inst, &config.redactor, PROBE_TIMEOUT).await {
            out.push(from_report(inst, &report));
        }
        if let (Some(base), Some(client)) = (&inst.supabase_url, &http) {
            out.push(api_health(inst, client, base).await);
        }
        if let (Some(token), Some(client)) = (&inst.access_token, &http) {
            let r = client
                .get(format!("{}/v1/projects", inst.api_url))
                .bearer_auth(token.expose())
                .send()
                .await;
            out.push(match r {
                Ok(resp) if resp.status().is_success() => check(inst, "management api", true, format!("token accepted by {}", inst.api_url), None),
                Ok(resp) if resp.status().as_u16() == 401 => check(inst, "management api", false, "the access token was rejected (401)".into(),
                    Some("Create a new personal access token at https://supabase.com/dashboard/account/tokens.".into())),
                Ok(resp) => check(inst, "management api", false, format!("HTTP {}", resp.status()), None),
                Err(e) => check(inst, "management api", false, config.redactor.scrub(&e.to_string()),
                    Some("Check network access to the Management API (--api-url).".into())),
            });
        }
    }
    for c in &mut out {
        c.detail = config.redactor.scrub(&c.detail);
    }
    out
}

fn check(inst: &Instance, what: &str, ok: bool, detail: String, fix: Option<String>) -> Check {
    Check {
        instance: inst.name.clone(),
        what: what.to_owned(),
        ok,
        detail,
        fix,
    }
}

/// Longest a single endpoint check may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One probe as a check line.
fn from_report(inst: &Instance, r: &TargetReport) -> Check {
    let what = match r.target {
        Target::Direct => "database",
        Target::Pooler => "pooler",
        Target::Rest => "rest api",
    };
    if let Some(e) = &r.error {
        let mut fix = e.fix.clone();
        for n in &r.notes {
            fix.push_str(&format!("\n       note: {n}"));
        }
        return check(
            inst,
            what,
            false,
            format!("{}: {}", r.display(), e.message),
            Some(fix),
        );
    }
    let mut detail = r.display();
    if let Some(v) = &r.server_version {
        detail.push_str(&format!(": PostgreSQL {v}"));
    }
    if let Some(role) = &r.role {
        detail.push_str(&format!(", connected as {role}"));
        if r.superuser == Some(true) {
            detail.push_str(" (superuser)");
        }
    }
    if let Some(tls) = r.tls {
        detail.push_str(if tls { ", TLS" } else { ", no TLS" });
    }
    if let Some(ms) = r.latency_ms {
        detail.push_str(&format!(", {ms} ms"));
    }
    if r.pooled == Some(true) {
        detail.push_str(", transaction pooler");
    }
    if r.rpc_execute_sql == Some(true) {
        detail.push_str(", execute_sql available");
    }
    for n in &r.notes {
        detail.push_str("; ");
        detail.push_str(n);
    }
    check(inst, what, true, detail, None)
}

async fn api_health(inst: &Instance, client: &reqwest::Client, base: &str) -> Check {
    let mut req = client.get(format!("{base}/auth/v1/health"));
    if let Some(k) = inst.service_role_key.as_ref().or(inst.anon_key.as_ref()) {
        req = req.header("apikey", k.expose());
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => check(inst, "supabase api", true, format!("{base}: auth service healthy"), None),
        Ok(r) if r.status().as_u16() == 401 => check(inst, "supabase api", false, format!("{base}: key rejected (401)"),
            Some("Check --service-role-key / --anon-key: they must be signed with the instance's JWT_SECRET.".into())),
        Ok(r) => check(inst, "supabase api", false, format!("{base}: HTTP {}", r.status()), None),
        Err(e) => check(inst, "supabase api", false, format!("{base}: {e}"),
            Some("Check that the Supabase gateway (Kong) runs and the URL is right (self-hosted default http://localhost:8000).".into())),
    }
}

/// Renders the checks for a terminal.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "[{}] {} / {}: {}\n",
            if c.ok { " ok " } else { "FAIL" },
            c.instance,
            c.what,
            c.detail
        ));
        if let Some(f) = &c.fix {
            out.push_str(&format!("       fix: {f}\n"));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    out.push_str(&format!("{} checks, {} failed\n", checks.len(), failed));
    out
}
