//! Connection strings for a self-hosted Supabase from its `.env`: direct
//! and pooled (Supavisor), from inside the Docker network (service names
//! `db` and `supavisor`) and from outside (a domain or IP, through
//! Supavisor's published ports: session mode on `POSTGRES_PORT`,
//! transaction mode on `POOLER_PROXY_PORT_TRANSACTION`, user
//! `postgres.<POOLER_TENANT_ID>`). URLs carry the placeholder
//! `[YOUR-PASSWORD]`; [`with_password`] puts the percent-encoded password in.

use serde::Serialize;

use super::envfile::EnvFile;
use super::protocols;
use crate::config::dotenv::urlencode;

/// Stands for the password in every URL shown.
pub const PLACEHOLDER: &str = "[YOUR-PASSWORD]";

/// One way to connect.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConnString {
    /// `direct_internal`, `pooled_internal`, `session_external`, `pooled_external`.
    pub name: &'static str,
    /// `docker_network` or `outside`.
    pub from: &'static str,
    /// `direct`, `session` (pooled, session mode) or `transaction` (pooled).
    pub mode: &'static str,
    pub host: String,
    pub port: String,
    pub user: String,
    pub database: String,
    /// The URL with [`PLACEHOLDER`] for the password.
    pub url: String,
    pub use_for: &'static str,
}

/// The connection strings and what to know about them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConnStrings {
    pub strings: Vec<ConnString>,
    /// The host used for the outside strings, and where it came from.
    pub external_host: String,
    pub external_host_from: String,
    pub notes: Vec<String>,
}

fn or_default(file: &EnvFile, key: &str, default: &str) -> String {
    file.resolved_value(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn url_host(file: &EnvFile, key: &str) -> Option<String> {
    let v = file.resolved_value(key)?;
    protocols::items(&v)
        .into_iter()
        .next()?
        .ok()
        .map(|u| u.host)
}

/// Builds the strings. `host` overrides the outside host (else the host of
/// `SUPABASE_PUBLIC_URL`, then `API_EXTERNAL_URL`, then `localhost`).
pub fn build(file: &EnvFile, host: Option<&str>) -> ConnStrings {
    let mut notes = Vec::new();
    let db_host = or_default(file, "POSTGRES_HOST", "db");
    let db_port = or_default(file, "POSTGRES_PORT", "5432");
    let database = or_default(file, "POSTGRES_DB", "postgres");
    let tx_port = or_default(file, "POOLER_PROXY_PORT_TRANSACTION", "6543");
    let tenant = file
        .resolved_value("POOLER_TENANT_ID")
        .filter(|t| !t.trim().is_empty());
    let pooled_user = match &tenant {
        Some(t) => format!("postgres.{}", t.trim()),
        None => {
            notes.push("POOLER_TENANT_ID is not set: the pooled user is shown as plain `postgres`, which Supavisor only accepts with a default tenant".into());
            "postgres".to_owned()
        }
    };
    let (external_host, from) = match host.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => (h.to_owned(), "the host given".to_owned()),
        None => match url_host(file, "SUPABASE_PUBLIC_URL")
            .map(|h| (h, "SUPABASE_PUBLIC_URL"))
            .or_else(|| url_host(file, "API_EXTERNAL_URL").map(|h| (h, "API_EXTERNAL_URL")))
        {
            Some((h, src)) => (h, format!("the host of {src}")),
            None => (
                "localhost".to_owned(),
                "no public URL in the file".to_owned(),
            ),
        },
    };
    if db_host == "db" {
        notes.push("`db` and `supavisor` are Docker service names: they resolve only for containers in the same Compose network. From elsewhere use the outside strings.".into());
    } else {
        notes.push(format!(
            "POSTGRES_HOST is `{db_host}`: the database is not the template's `db` container; the internal direct string points at it."
        ));
    }
    if protocols::is_local_host(&external_host) {
        notes.push(format!(
            "The outside host is `{external_host}`: from another machine, use the server's domain or IP instead (give it as `host`)."
        ));
    }
    notes.push("From outside, port POSTGRES_PORT is Supavisor in session mode: it behaves like a direct connection (migrations, pg_dump, prepared statements); the database container itself is not published.".into());
    let url = |user: &str, h: &str, p: &str| {
        format!("postgres://{user}:{PLACEHOLDER}@{h}:{p}/{database}")
    };
    let strings = vec![
        ConnString {
            name: "direct_internal",
            from: "docker_network",
            mode: "direct",
            host: db_host.clone(),
            port: db_port.clone(),
            user: "postgres".into(),
            database: database.clone(),
            url: url("postgres", &db_host, &db_port),
            use_for: "containers next to Supabase: migrations, admin work, LISTEN/NOTIFY",
        },
        ConnString {
            name: "pooled_internal",
            from: "docker_network",
            mode: "transaction",
            host: "supavisor".into(),
            port: "6543".into(),
            user: pooled_user.clone(),
            database: database.clone(),
            url: url(&pooled_user, "supavisor", "6543"),
            use_for: "application containers with many short connections",
        },
        ConnString {
            name: "session_external",
            from: "outside",
            mode: "session",
            host: external_host.clone(),
            port: db_port.clone(),
            user: pooled_user.clone(),
            database: database.clone(),
            url: url(&pooled_user, &external_host, &db_port),
            use_for: "tools on other machines: psql, migrations, pg_dump, GUI clients",
        },
        ConnString {
            name: "pooled_external",
            from: "outside",
            mode: "transaction",
            host: external_host.clone(),
            port: tx_port.clone(),
            user: pooled_user.clone(),
            database: database.clone(),
            url: url(&pooled_user, &external_host, &tx_port),
            use_for: "applications and serverless functions on other machines (no prepared statements)",
        },
    ];
    ConnStrings {
        strings,
        external_host,
        external_host_from: from,
        notes,
    }
}

/// The URL with the real password, percent-encoded.
pub fn with_password(c: &ConnString, password: &str) -> String {
    c.url.replacen(PLACEHOLDER, &urlencode(password), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_from_a_dokploy_env() {
        let f = EnvFile::parse(
            "POSTGRES_PASSWORD=p@ss/word\nPOSTGRES_HOST=db\nPOSTGRES_PORT=5432\nPOSTGRES_DB=postgres\nPOOLER_PROXY_PORT_TRANSACTION=6543\nPOOLER_TENANT_ID=shop\nSUPABASE_PUBLIC_URL=https://supabase.shop.test\n",
        );
        let c = build(&f, None);
        assert_eq!(c.external_host, "supabase.shop.test");
        let by = |n: &str| c.strings.iter().find(|s| s.name == n).unwrap().clone();
        assert_eq!(
            by("direct_internal").url,
            "postgres://postgres:[YOUR-PASSWORD]@db:5432/postgres"
        );
        assert_eq!(
            by("pooled_external").url,
            "postgres://postgres.shop:[YOUR-PASSWORD]@supabase.shop.test:6543/postgres"
        );
        assert_eq!(
            with_password(&by("session_external"), "p@ss/word"),
            "postgres://postgres.shop:p%40ss%2Fword@supabase.shop.test:5432/postgres"
        );
        let text = serde_json::to_string(&c).unwrap();
        assert!(!text.contains("p@ss/word") && !text.contains("p%40ss"));
    }

    #[test]
    fn host_override_and_missing_tenant() {
        let f = EnvFile::parse("POSTGRES_PORT=6000\n");
        let c = build(&f, Some("203.0.113.9"));
        assert_eq!(c.external_host, "203.0.113.9");
        assert!(
            c.strings
                .iter()
                .any(|s| s.url.contains("postgres:[YOUR-PASSWORD]@203.0.113.9:6000"))
        );
        assert!(c.notes.iter().any(|n| n.contains("POOLER_TENANT_ID")));
        let local = build(&f, None);
        assert_eq!(local.external_host, "localhost");
    }
}
