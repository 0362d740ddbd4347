//! The TOML config file: its keys and parsing. Unknown keys are errors, so a
//! typo never silently turns a safety setting off.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub features: Option<Vec<String>>,
    pub tools: Option<Vec<String>>,
    pub disable_tools: Option<Vec<String>>,
    pub read_only: Option<bool>,
    pub allow_destructive: Option<bool>,
    pub allow_forbidden_sql: Option<bool>,
    pub data_dir: Option<PathBuf>,
    pub migrations_dir: Option<PathBuf>,
    pub docs_url: Option<String>,
    pub log_level: Option<String>,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub audit: FileAudit,
    #[serde(default)]
    pub http: FileHttp,
    #[serde(default)]
    pub backup: FileBackup,
    #[serde(default)]
    pub instances: Vec<FileInstance>,
    #[serde(default)]
    pub oauth: FileOAuth,
}

/// `[oauth]`: the OAuth app `supabase-mcp login` signs in with (see `crate::oauth`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOAuth {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// auto, keyring or file.
    pub token_store: Option<String>,
    /// basic or body.
    pub client_auth: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBackup {
    pub dir: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub pg_bin_dir: Option<PathBuf>,
    pub schedule: Option<FileSchedule>,
    pub s3: Option<FileS3>,
    pub wal: Option<FileWal>,
}

/// `[backup.wal]`: archive WAL with pg_receivewal while serving.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWal {
    pub archive_dir: Option<PathBuf>,
    pub slot: Option<String>,
    pub instance: Option<String>,
}

/// `[backup.s3]`: an S3-compatible copy of every backup.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileS3 {
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub allow_http: Option<bool>,
    pub force_path_style: Option<bool>,
}

/// `[backup.schedule]`: run a backup every interval while serving.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSchedule {
    pub every: String,
    pub instance: Option<String>,
    pub tags: Option<Vec<String>>,
    pub keep_last: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub max_age: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub output_budget_bytes: Option<usize>,
    pub max_rows: Option<usize>,
    pub query_timeout_secs: Option<u64>,
    pub max_query_timeout_secs: Option<u64>,
    pub rate_limit_per_minute: Option<u32>,
    pub pool_size: Option<usize>,
    pub max_remote_result_mb: Option<usize>,
    pub spill_max_age_hours: Option<u64>,
    pub confirmation_ttl_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAudit {
    pub enabled: Option<bool>,
    pub path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp {
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub token: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct FileInstance {
    pub name: String,
    pub mode: Option<String>,
    pub db_url: Option<String>,
    pub pooler_url: Option<String>,
    pub supabase_url: Option<String>,
    pub service_role_key: Option<String>,
    pub anon_key: Option<String>,
    pub jwt_secret: Option<String>,
    pub access_token: Option<String>,
    pub project_ref: Option<String>,
    pub api_url: Option<String>,
    pub dokploy_url: Option<String>,
    pub dokploy_api_key: Option<String>,
    pub env_file: Option<PathBuf>,
    pub cli_project: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, FileError> {
        toml::from_str(text).map_err(|e| FileError::Parse {
            path: path.to_owned(),
            // toml's message quotes the offending line, which may hold a
            // secret; keep only the first line of the message.
            message: e
                .message()
                .lines()
                .next()
                .unwrap_or("syntax error")
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_instances_and_limits() {
        let cfg = FileConfig::parse(
            r#"
features = ["database", "storage"]
read_only = true
[limits]
max_rows = 50
[[instances]]
name = "dev"
db_url = "postgres://localhost/dev"
[[instances]]
name = "prod"
mode = "cloud"
project_ref = "abcdefghijklmnopqrst"
"#,
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(cfg.read_only, Some(true));
        assert_eq!(cfg.limits.max_rows, Some(50));
        assert_eq!(cfg.instances.len(), 2);
        assert_eq!(cfg.instances[1].name, "prod");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = FileConfig::parse("read_onyl = true\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("read_onyl"), "{err}");
        let err = FileConfig::parse("[[instances]]\nname='a'\ndb_ulr='x'\n", Path::new("c.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("db_ulr"), "{err}");
    }

    #[test]
    fn parse_errors_do_not_quote_secrets() {
        let err = FileConfig::parse(
            "[[instances]]\nname='a'\nservice_role_key = \"sk-very-secret\" oops\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("sk-very-secret"), "{err}");
    }
}
