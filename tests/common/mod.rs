//! Shared helpers for the end-to-end tests: start the real binary against a
//! fresh Supabase-like test database and speak MCP to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use supabase_mcp::mcp_client::StdioClient;
use supabase_mcp::pg::testdb::TestDb;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_supabase-mcp"))
}

/// Environment for a child server: nothing inherited that could configure it.
pub fn clean_env() -> Vec<(String, String)> {
    vec![("RUST_LOG".into(), "warn".into())]
}

pub struct Server {
    pub client: StdioClient,
    pub data_dir: tempfile::TempDir,
    pub db: Option<TestDb>,
}

impl Server {
    /// Starts `supabase-mcp serve` with `extra` flags, against `db` if given.
    pub async fn start(db: Option<TestDb>, extra: &[&str]) -> Server {
        Self::start_with_env(db, extra, &[]).await
    }

    pub async fn start_with_env(
        db: Option<TestDb>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--data-dir".into(),
            data_dir.path().display().to_string(),
        ];
        if let Some(db) = &db {
            args.push("--db-url".into());
            args.push(db.url.clone());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut envs = clean_env();
        envs.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut client = spawn_clean(&bin(), &args, &envs);
        client.initialize().await.unwrap();
        Server {
            client,
            data_dir,
            db,
        }
    }

    /// As [`Server::start`], on an existing data directory (e.g. the one
    /// of a server that was stopped), so state kept there carries over.
    pub async fn start_in(
        db: Option<TestDb>,
        data_dir: tempfile::TempDir,
        extra: &[&str],
    ) -> Server {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--data-dir".into(),
            data_dir.path().display().to_string(),
        ];
        if let Some(db) = &db {
            args.push("--db-url".into());
            args.push(db.url.clone());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut client = spawn_clean(&bin(), &args, &clean_env());
        client.initialize().await.unwrap();
        Server {
            client,
            data_dir,
            db,
        }
    }

    pub async fn call(&mut self, tool: &str, args: Value) -> Value {
        self.client.call(tool, args).await.unwrap()
    }

    pub async fn tools(&mut self) -> Vec<Value> {
        self.client.list_tools().await.unwrap()["tools"]
            .as_array()
            .cloned()
            .unwrap()
    }

    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }
}

/// Spawns the binary with an environment cleared of SUPABASE_* / DATABASE_URL.
pub fn spawn_clean(program: &Path, args: &[String], envs: &[(String, String)]) -> StdioClient {
    let remove: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("SUPABASE_") || k == "DATABASE_URL" || k.starts_with("DOKPLOY_"))
        .collect();
    StdioClient::spawn_with(
        program,
        args,
        envs,
        &remove,
        std::env::var_os("SMCP_TEST_STDERR").is_none(),
    )
    .unwrap()
}

pub fn status(r: &Value) -> &str {
    r["structuredContent"]["status"].as_str().unwrap_or("")
}

pub fn data(r: &Value) -> &Value {
    &r["structuredContent"]["data"]
}

pub fn error_code(r: &Value) -> &str {
    r["structuredContent"]["error"]["code"]
        .as_str()
        .unwrap_or("")
}

pub fn text(r: &Value) -> String {
    r["content"][0]["text"].as_str().unwrap_or("").to_owned()
}

pub fn is_error(r: &Value) -> bool {
    r["isError"] == json!(true)
}

/// The access token the cloud tests' servers use (never in any output).
pub const CLOUD_TOKEN: &str = "sbp_0123456789abcdef0123456789abcdef01234567";
/// The project a scoped cloud server is scoped to.
pub const CLOUD_PROJECT: &str = "abcdefghijklmnopqrst";

/// Starts the server in cloud mode against a mock Management API at
/// `api_url` with one feature group, scoped to [`CLOUD_PROJECT`] when asked.
pub async fn start_cloud(api_url: &str, features: &str, scoped: bool, extra: &[&str]) -> Server {
    let mut args = vec![
        "--mode",
        "cloud",
        "--access-token",
        CLOUD_TOKEN,
        "--api-url",
        api_url,
        "--features",
        features,
    ];
    if scoped {
        args.extend(["--project-ref", CLOUD_PROJECT]);
    }
    args.extend_from_slice(extra);
    Server::start(None, &args).await
}
