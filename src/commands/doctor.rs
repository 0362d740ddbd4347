//! `supabase-mcp doctor`: checks every configured instance (database
//! reachability and role, Supabase API health, Management API token, Dokploy)
//! and prints what to fix.

use std::time::Duration;

use crate::config::{Config, Instance};
use crate::db::Pools;
use crate::secret::mask_url_password;

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
    let pools = Pools::new(1, config.redactor.clone());
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
        if let Some(url) = &inst.db_url {
            out.push(database(inst, &pools, &mask_url_password(url.expose())).await);
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

async fn database(inst: &Instance, pools: &Pools, shown: &str) -> Check {
    let conn = match pools.get(inst).await {
        Ok(c) => c,
        Err(e) => {
            return check(
                inst,
                "database",
                false,
                format!("{shown}: {}", e.reason.unwrap_or(e.message)),
                e.suggestion,
            );
        }
    };
    let row = conn
        .query_one(
            "SELECT current_setting('server_version'), current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
                    EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth'), EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'storage')",
            &[],
        )
        .await;
    match row {
        Ok(r) => {
            let version: String = r.get(0);
            let user: String = r.get(1);
            let superuser: bool = r.get(2);
            let supabase = r.get::<_, bool>(3) && r.get::<_, bool>(4);
            let mut detail = format!(
                "{shown}: PostgreSQL {version}, connected as {user}{}",
                if superuser { " (superuser)" } else { "" }
            );
            if !supabase {
                detail.push_str(
                    "; no auth/storage schemas: this looks like plain PostgreSQL, not Supabase",
                );
            }
            check(inst, "database", true, detail, None)
        }
        Err(e) => check(
            inst,
            "database",
            false,
            crate::db::pool::describe_pg_error(&e),
            None,
        ),
    }
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
