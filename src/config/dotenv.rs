//! Import of a self-hosted Supabase/Docker `.env` file: turns its variables
//! (`POSTGRES_PASSWORD`, `POSTGRES_HOST`, `SUPABASE_PUBLIC_URL`, ...) into
//! instance connection settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    #[error("cannot read env file {path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// Connection settings found in a `.env` file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EnvImport {
    pub db_url: Option<String>,
    pub pooler_url: Option<String>,
    pub supabase_url: Option<String>,
    pub anon_key: Option<String>,
    pub service_role_key: Option<String>,
    pub jwt_secret: Option<String>,
    pub warnings: Vec<String>,
}

/// Reads `KEY=VALUE` lines (comments, quotes and `export` are understood).
pub fn read_vars(path: &Path) -> Result<HashMap<String, String>, DotenvError> {
    let iter = dotenvy::from_path_iter(path).map_err(|e| DotenvError::Read {
        path: path.to_owned(),
        message: short_message(&e),
    })?;
    let mut vars = HashMap::new();
    for item in iter {
        let (k, v) = item.map_err(|e| DotenvError::Read {
            path: path.to_owned(),
            message: short_message(&e),
        })?;
        vars.insert(k, v);
    }
    Ok(vars)
}

fn short_message(e: &dotenvy::Error) -> String {
    match e {
        // Line parse errors quote the line (which may hold a secret): keep the position only.
        dotenvy::Error::LineParse(_, idx) => format!("syntax error at character {idx}"),
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "unreadable file".to_owned(),
    }
}

pub fn load(path: &Path) -> Result<EnvImport, DotenvError> {
    Ok(from_vars(&read_vars(path)?))
}

/// Builds connection settings from the variables of a Supabase Docker setup.
pub fn from_vars(vars: &HashMap<String, String>) -> EnvImport {
    let get = |k: &str| vars.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let mut out = EnvImport::default();

    if let Some(password) = get("POSTGRES_PASSWORD") {
        let mut host = get("POSTGRES_HOST").unwrap_or_else(|| "localhost".to_owned());
        if host == "db" {
            out.warnings.push(
                "POSTGRES_HOST is `db`, a name that only resolves inside the Docker network; \
                 using 127.0.0.1 instead (set --db-url if the database is elsewhere)"
                    .to_owned(),
            );
            host = "127.0.0.1".to_owned();
        }
        let port = get("POSTGRES_PORT").unwrap_or_else(|| "5432".to_owned());
        let db = get("POSTGRES_DB").unwrap_or_else(|| "postgres".to_owned());
        let pw = urlencode(&password);
        out.db_url = Some(format!("postgres://postgres:{pw}@{host}:{port}/{db}"));
        if let Some(pool_port) = get("POOLER_PROXY_PORT_TRANSACTION") {
            let user = match get("POOLER_TENANT_ID") {
                Some(tenant) => format!("postgres.{tenant}"),
                None => "postgres".to_owned(),
            };
            out.pooler_url = Some(format!("postgres://{user}:{pw}@{host}:{pool_port}/{db}"));
        }
    }
    out.supabase_url = get("SUPABASE_PUBLIC_URL").or_else(|| get("API_EXTERNAL_URL"));
    out.anon_key = get("ANON_KEY");
    out.service_role_key = get("SERVICE_ROLE_KEY");
    out.jwt_secret = get("JWT_SECRET");
    out
}

/// Percent-encodes a URL userinfo component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builds_urls_from_docker_env() {
        let imp = from_vars(&vars(&[
            ("POSTGRES_PASSWORD", "p@ss word"),
            ("POSTGRES_HOST", "db"),
            ("POSTGRES_PORT", "5433"),
            ("POOLER_PROXY_PORT_TRANSACTION", "6543"),
            ("POOLER_TENANT_ID", "acme"),
            ("SUPABASE_PUBLIC_URL", "http://localhost:8000"),
            ("ANON_KEY", "anon"),
            ("SERVICE_ROLE_KEY", "service"),
            ("JWT_SECRET", "jwt"),
        ]));
        assert_eq!(
            imp.db_url.as_deref(),
            Some("postgres://postgres:p%40ss%20word@127.0.0.1:5433/postgres")
        );
        assert_eq!(
            imp.pooler_url.as_deref(),
            Some("postgres://postgres.acme:p%40ss%20word@127.0.0.1:6543/postgres")
        );
        assert_eq!(imp.supabase_url.as_deref(), Some("http://localhost:8000"));
        assert_eq!(imp.service_role_key.as_deref(), Some("service"));
        assert_eq!(imp.warnings.len(), 1);
    }

    #[test]
    fn reads_file_with_comments_and_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# comment\nPOSTGRES_PASSWORD=\"secret pw\"\nexport ANON_KEY=abc\n",
        )
        .unwrap();
        let imp = load(&path).unwrap();
        assert!(imp.db_url.unwrap().contains("secret%20pw@localhost:5432"));
        assert_eq!(imp.anon_key.as_deref(), Some("abc"));
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = load(Path::new("/nonexistent/.env")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/.env"));
    }
}
