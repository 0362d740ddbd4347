//! Import of a Supabase CLI project (`supabase/config.toml`): the local
//! database and API ports the CLI's stack listens on.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum CliProjectError {
    #[error(
        "no Supabase CLI project at {0}: expected supabase/config.toml (run `supabase init` there, or pass the directory that holds `supabase/`)"
    )]
    Missing(PathBuf),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
}

#[derive(Debug, Default, Deserialize)]
struct CliConfig {
    project_id: Option<String>,
    #[serde(default)]
    db: CliDb,
    #[serde(default)]
    api: CliApi,
}

#[derive(Debug, Default, Deserialize)]
struct CliDb {
    port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
struct CliApi {
    port: Option<u16>,
}

/// Settings of a local Supabase CLI stack.
#[derive(Debug, Clone, PartialEq)]
pub struct CliImport {
    pub project_id: Option<String>,
    pub db_url: String,
    pub supabase_url: String,
}

/// Default database URL of a local Supabase CLI stack.
pub const LOCAL_DEFAULT_DB_URL: &str = "postgresql://postgres:postgres@127.0.0.1:54322/postgres";

/// Reads `<dir>/supabase/config.toml` (or `<dir>/config.toml` when `dir` is
/// the `supabase` folder itself).
pub fn load(dir: &Path) -> Result<CliImport, CliProjectError> {
    let candidates = [
        dir.join("supabase").join("config.toml"),
        dir.join("config.toml"),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return Err(CliProjectError::Missing(dir.to_owned()));
    };
    let text = std::fs::read_to_string(path).map_err(|e| CliProjectError::Read {
        path: path.clone(),
        message: e.to_string(),
    })?;
    parse(&text).map_err(|message| CliProjectError::Read {
        path: path.clone(),
        message,
    })
}

pub fn parse(text: &str) -> Result<CliImport, String> {
    let cfg: CliConfig = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let db_port = cfg.db.port.unwrap_or(54322);
    let api_port = cfg.api.port.unwrap_or(54321);
    Ok(CliImport {
        project_id: cfg.project_id,
        db_url: format!("postgresql://postgres:postgres@127.0.0.1:{db_port}/postgres"),
        supabase_url: format!("http://127.0.0.1:{api_port}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_cli() {
        let imp = parse("project_id = \"demo\"\n").unwrap();
        assert_eq!(imp.db_url, LOCAL_DEFAULT_DB_URL);
        assert_eq!(imp.supabase_url, "http://127.0.0.1:54321");
        assert_eq!(imp.project_id.as_deref(), Some("demo"));
    }

    #[test]
    fn custom_ports_and_unknown_sections() {
        let imp = parse(
            "[db]\nport = 6000\nmajor_version = 15\n[api]\nport = 7000\n[auth]\nenabled = true\n",
        )
        .unwrap();
        assert_eq!(
            imp.db_url,
            "postgresql://postgres:postgres@127.0.0.1:6000/postgres"
        );
        assert_eq!(imp.supabase_url, "http://127.0.0.1:7000");
    }

    #[test]
    fn loads_from_project_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("supabase")).unwrap();
        std::fs::write(
            dir.path().join("supabase/config.toml"),
            "[db]\nport = 1234\n",
        )
        .unwrap();
        assert!(load(dir.path()).unwrap().db_url.contains(":1234/"));
        let err = load(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("supabase init"));
    }
}
