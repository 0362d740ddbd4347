//! The one typed configuration, assembled from flags, environment variables,
//! the TOML file and imported `.env` / Supabase CLI settings, with a fixed
//! precedence: flags > environment > file > imports > defaults.

pub mod cli_project;
pub mod dotenv;
pub mod file;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Options;
use crate::groups::{Group, GroupError, parse_groups};
use crate::secret::{Redactor, Secret};

pub use file::FileConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] file::FileError),
    #[error(transparent)]
    Dotenv(#[from] dotenv::DotenvError),
    #[error(transparent)]
    CliProject(#[from] cli_project::CliProjectError),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error("unknown mode `{0}`; use cloud, self-hosted or auto")]
    Mode(String),
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// How an instance is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Supabase cloud through the Management API (plus a direct database URL if given).
    Cloud,
    /// A self-hosted instance: direct Postgres and/or Supabase URL + service key.
    SelfHosted,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Cloud => "cloud",
            Mode::SelfHosted => "self-hosted",
        }
    }
}

/// One Supabase instance the server can act on.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub mode: Mode,
    pub db_url: Option<Secret>,
    pub pooler_url: Option<Secret>,
    pub supabase_url: Option<String>,
    pub service_role_key: Option<Secret>,
    pub anon_key: Option<Secret>,
    pub jwt_secret: Option<Secret>,
    pub access_token: Option<Secret>,
    /// The project tools act on by default (`--project-ref` with one ref).
    pub project_ref: Option<String>,
    /// Every project tools may act on (`--project-ref a,b,...`); empty when
    /// any project the token reaches is allowed.
    pub project_refs: Vec<String>,
    pub api_url: String,
    pub dokploy_url: Option<String>,
    pub dokploy_api_key: Option<Secret>,
    /// Notes gathered while importing settings (shown by `doctor`).
    pub notes: Vec<String>,
    /// The Supabase `.env` file settings were imported from (`--env-file`).
    pub env_file: Option<PathBuf>,
    /// The stored OAuth login (`supabase-mcp login`) used in place of a
    /// personal access token: `access_token` then holds its token as of
    /// startup, and the Management API client asks it for a fresh one.
    pub oauth: Option<crate::oauth::TokenSource>,
}

impl Instance {
    fn secrets(&self) -> impl Iterator<Item = &Secret> {
        [
            &self.db_url,
            &self.pooler_url,
            &self.service_role_key,
            &self.anon_key,
            &self.jwt_secret,
            &self.access_token,
            &self.dokploy_api_key,
        ]
        .into_iter()
        .flatten()
    }

    /// True when at least one way to reach the instance is configured.
    pub fn is_configured(&self) -> bool {
        self.db_url.is_some()
            || self.access_token.is_some()
            || (self.supabase_url.is_some() && self.service_role_key.is_some())
    }
}

/// Size, time and rate limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub output_budget_bytes: usize,
    pub max_rows: usize,
    pub query_timeout: Duration,
    pub max_query_timeout: Duration,
    pub rate_limit_per_minute: u32,
    pub pool_size: usize,
    /// Largest SQL result body read from the Management API or the REST RPC.
    pub max_remote_result_bytes: usize,
    pub spill_max_age: Duration,
    pub confirmation_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            output_budget_bytes: 256 * 1024,
            max_rows: 1000,
            query_timeout: Duration::from_secs(30),
            max_query_timeout: Duration::from_secs(600),
            rate_limit_per_minute: 120,
            pool_size: 10,
            max_remote_result_bytes: 32 * 1024 * 1024,
            spill_max_age: Duration::from_secs(24 * 3600),
            confirmation_ttl: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub enabled: bool,
    pub bind: String,
    pub port: u16,
    pub token: Option<Secret>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub enabled: bool,
    pub path: PathBuf,
}

/// Where backups go and how they are encrypted.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub dir: PathBuf,
    pub passphrase: Option<Secret>,
    pub key_file: Option<PathBuf>,
    pub pg_bin_dir: Option<PathBuf>,
    /// Backups `serve` makes on its own.
    pub schedule: Option<crate::backup::schedule::Schedule>,
    /// Where backups are copied offsite.
    pub s3: Option<crate::backup::s3::S3Config>,
    /// WAL archiving while `serve` runs.
    pub wal: Option<crate::backup::wal::WalConfig>,
}

/// WAL archiving: `--wal-archive-dir` over `[backup.wal]`.
fn wal_config(
    dir: Option<PathBuf>,
    file: Option<file::FileWal>,
) -> Result<Option<crate::backup::wal::WalConfig>, ConfigError> {
    use crate::backup::wal::{DEFAULT_SLOT, WalConfig, valid_slot};
    let f = file.unwrap_or_default();
    let Some(archive_dir) = dir.or(f.archive_dir) else {
        return Ok(None);
    };
    let slot = f.slot.unwrap_or_else(|| DEFAULT_SLOT.to_owned());
    valid_slot(&slot).map_err(|e| ConfigError::Invalid(format!("backup.wal: {e}")))?;
    Ok(Some(WalConfig {
        archive_dir,
        slot,
        instance: f.instance,
    }))
}

/// The S3 copy: flags and environment over `[backup.s3]`.
fn s3_config(
    opts: &Options,
    file: Option<file::FileS3>,
) -> Result<Option<crate::backup::s3::S3Config>, ConfigError> {
    let f = file.unwrap_or_default();
    let Some(url) = opts
        .backup_s3_url
        .clone()
        .or(Some(f.url.clone()))
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    let (Some(id), Some(key)) = (
        first(opts.backup_s3_access_key_id.clone(), f.access_key_id),
        first(
            opts.backup_s3_secret_access_key.clone(),
            f.secret_access_key,
        ),
    ) else {
        return Err(ConfigError::Invalid(
            "the backup S3 storage needs an access key id and a secret access key \
             (SUPABASE_MCP_BACKUP_S3_ACCESS_KEY_ID, SUPABASE_MCP_BACKUP_S3_SECRET_ACCESS_KEY)"
                .into(),
        ));
    };
    let config = crate::backup::s3::S3Config {
        url,
        endpoint: first(opts.backup_s3_endpoint.clone(), f.endpoint),
        region: first(opts.backup_s3_region.clone(), f.region),
        access_key_id: Secret::new(id),
        secret_access_key: Secret::new(key),
        allow_http: opts.backup_s3_allow_http || f.allow_http.unwrap_or(false),
        force_path_style: f.force_path_style.unwrap_or(false),
        ..Default::default()
    };
    crate::backup::s3::S3Destination::new(&config)
        .map_err(|e| ConfigError::Invalid(format!("backup S3 storage: {e}")))?;
    Ok(Some(config))
}

/// The backup schedule: `--backup-every` overrides the file's interval.
fn schedule(
    every: Option<&str>,
    file: Option<file::FileSchedule>,
) -> Result<Option<crate::backup::schedule::Schedule>, ConfigError> {
    use crate::backup::retention::Policy;
    use crate::backup::schedule::{Schedule, parse_interval};
    let f = file.unwrap_or_default();
    let Some(every) = every
        .map(str::to_owned)
        .or(Some(f.every.clone()).filter(|e| !e.is_empty()))
    else {
        return Ok(None);
    };
    let every = parse_interval(&every).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let policy = Policy {
        keep_last: f.keep_last,
        daily: f.daily,
        weekly: f.weekly,
        monthly: f.monthly,
        max_age: match &f.max_age {
            Some(m) => Some(
                m.parse()
                    .map_err(|e: crate::backup::retention::RetentionError| {
                        ConfigError::Invalid(format!("backup schedule max_age: {e}"))
                    })?,
            ),
            None => None,
        },
        allow_keep_nothing: false,
    };
    let retention = if policy.keeps_nothing() {
        None
    } else {
        policy
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("backup schedule retention: {e}")))?;
        Some(policy)
    };
    Ok(Some(Schedule {
        every,
        instance: f.instance,
        tags: f.tags.unwrap_or_else(|| vec!["scheduled".to_owned()]),
        retention,
    }))
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub instances: Vec<Instance>,
    pub groups: Vec<Group>,
    pub tools_allow: Option<Vec<String>>,
    pub tools_deny: Vec<String>,
    pub read_only: bool,
    pub allow_destructive: bool,
    /// Allow SQL classified as forbidden (server files, programs, superuser settings).
    pub allow_forbidden_sql: bool,
    pub data_dir: PathBuf,
    /// Where migration files live (see `migrations::files`).
    pub migrations_dir: PathBuf,
    /// The docs search endpoint (`search_docs`); the public one when unset.
    pub docs_url: Option<String>,
    pub limits: Limits,
    pub audit: AuditConfig,
    pub http: HttpConfig,
    pub log_level: Option<String>,
    pub backup: BackupConfig,
    /// Every secret value above, for scrubbing text.
    pub redactor: Redactor,
}

pub const DEFAULT_API_URL: &str = "https://api.supabase.com";
pub const DEFAULT_PORT: u16 = 8765;

fn first<T>(a: Option<T>, b: Option<T>) -> Option<T> {
    a.or(b)
}

fn parse_mode(s: &str) -> Result<Option<Mode>, ConfigError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "cloud" => Ok(Some(Mode::Cloud)),
        "self-hosted" | "selfhosted" | "self_hosted" => Ok(Some(Mode::SelfHosted)),
        "auto" | "" => Ok(None),
        other => Err(ConfigError::Mode(other.to_owned())),
    }
}

/// Default data directory: `$XDG_DATA_HOME/supabase-mcp`, else
/// `~/.local/share/supabase-mcp`, else `./.supabase-mcp`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("supabase-mcp");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/supabase-mcp");
    }
    PathBuf::from(".supabase-mcp")
}

/// Values for one instance, before precedence is applied.
#[derive(Debug, Default, Clone)]
struct Layer {
    mode: Option<String>,
    db_url: Option<String>,
    pooler_url: Option<String>,
    supabase_url: Option<String>,
    service_role_key: Option<String>,
    anon_key: Option<String>,
    jwt_secret: Option<String>,
    access_token: Option<String>,
    project_ref: Option<String>,
    api_url: Option<String>,
    dokploy_url: Option<String>,
    dokploy_api_key: Option<String>,
    env_file: Option<PathBuf>,
    cli_project: Option<PathBuf>,
}

impl Layer {
    /// `self` wins over `lower`.
    fn over(self, lower: Layer) -> Layer {
        Layer {
            mode: first(self.mode, lower.mode),
            db_url: first(self.db_url, lower.db_url),
            pooler_url: first(self.pooler_url, lower.pooler_url),
            supabase_url: first(self.supabase_url, lower.supabase_url),
            service_role_key: first(self.service_role_key, lower.service_role_key),
            anon_key: first(self.anon_key, lower.anon_key),
            jwt_secret: first(self.jwt_secret, lower.jwt_secret),
            access_token: first(self.access_token, lower.access_token),
            project_ref: first(self.project_ref, lower.project_ref),
            api_url: first(self.api_url, lower.api_url),
            dokploy_url: first(self.dokploy_url, lower.dokploy_url),
            dokploy_api_key: first(self.dokploy_api_key, lower.dokploy_api_key),
            env_file: first(self.env_file, lower.env_file),
            cli_project: first(self.cli_project, lower.cli_project),
        }
    }

    fn is_empty(&self) -> bool {
        self.db_url.is_none()
            && self.supabase_url.is_none()
            && self.access_token.is_none()
            && self.env_file.is_none()
            && self.cli_project.is_none()
            && self.service_role_key.is_none()
            && self.project_ref.is_none()
            && self.mode.is_none()
            && self.dokploy_url.is_none()
    }
}

fn layer_from_opts(o: &Options, database_url_env: Option<String>) -> Layer {
    Layer {
        mode: o.mode.clone(),
        db_url: o.db_url.clone().or(database_url_env),
        pooler_url: None,
        supabase_url: o.supabase_url.clone(),
        service_role_key: o.service_role_key.clone(),
        anon_key: o.anon_key.clone(),
        jwt_secret: None,
        access_token: o.access_token.clone(),
        project_ref: o.project_ref.clone(),
        api_url: o.api_url.clone(),
        dokploy_url: o.dokploy_url.clone(),
        dokploy_api_key: o.dokploy_api_key.clone(),
        env_file: o.env_file.clone(),
        cli_project: o.cli_project.clone(),
    }
}

fn layer_from_file(f: &file::FileInstance) -> Layer {
    Layer {
        mode: f.mode.clone(),
        db_url: f.db_url.clone(),
        pooler_url: f.pooler_url.clone(),
        supabase_url: f.supabase_url.clone(),
        service_role_key: f.service_role_key.clone(),
        anon_key: f.anon_key.clone(),
        jwt_secret: f.jwt_secret.clone(),
        access_token: f.access_token.clone(),
        project_ref: f.project_ref.clone(),
        api_url: f.api_url.clone(),
        dokploy_url: f.dokploy_url.clone(),
        dokploy_api_key: f.dokploy_api_key.clone(),
        env_file: f.env_file.clone(),
        cli_project: f.cli_project.clone(),
    }
}

fn resolve_instance(
    name: String,
    layer: Layer,
    base_dir: &Path,
    oauth: Option<&crate::oauth::TokenSource>,
) -> Result<Instance, ConfigError> {
    let mut notes = Vec::new();
    let mut imported = Layer::default();
    if let Some(env_file) = &layer.env_file {
        let path = base_dir.join(env_file);
        let imp = dotenv::load(&path)?;
        notes.push(format!("settings imported from {}", path.display()));
        notes.extend(imp.warnings.iter().cloned());
        imported = Layer {
            db_url: imp.db_url,
            pooler_url: imp.pooler_url,
            supabase_url: imp.supabase_url,
            service_role_key: imp.service_role_key,
            anon_key: imp.anon_key,
            jwt_secret: imp.jwt_secret,
            ..Layer::default()
        };
    }
    if let Some(dir) = &layer.cli_project {
        let dir = base_dir.join(dir);
        let imp = cli_project::load(&dir)?;
        notes.push(format!(
            "settings imported from the Supabase CLI project at {}",
            dir.display()
        ));
        imported = imported.over(Layer {
            db_url: Some(imp.db_url),
            supabase_url: Some(imp.supabase_url),
            ..Layer::default()
        });
    }
    let l = layer.over(imported);
    // A stored OAuth login stands in for a missing personal access token.
    let oauth = oauth.filter(|o| l.access_token.is_none() && o.serves(l.api_url.as_deref()));
    let has_token = l.access_token.is_some() || oauth.is_some();
    let explicit = match &l.mode {
        Some(m) => parse_mode(m)?,
        None => None,
    };
    let mode = explicit.unwrap_or(
        if has_token && l.project_ref.is_some()
            || has_token && l.db_url.is_none() && l.supabase_url.is_none()
        {
            Mode::Cloud
        } else {
            Mode::SelfHosted
        },
    );
    // ...on cloud instances only, with its token refreshed if about to expire.
    let oauth = oauth
        .filter(|_| mode == Mode::Cloud)
        .map(|o| (o.clone(), crate::oauth::hook::startup_token(o)));
    let secret = |v: Option<String>| v.filter(|s| !s.is_empty()).map(Secret::new);
    // One ref scopes every tool to it; several (comma-separated) limit the
    // tools to them, each call naming its project.
    let mut project_refs: Vec<String> = Vec::new();
    for r in l
        .project_ref
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
    {
        if r.is_empty() || project_refs.iter().any(|p| p == r) {
            continue;
        }
        if r.len() != 20
            || !r
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(ConfigError::Invalid(format!(
                "project ref `{r}` is not a Supabase project ref (20 lowercase letters/digits, as in https://<ref>.supabase.co)"
            )));
        }
        project_refs.push(r.to_owned());
    }
    let project_ref = match project_refs.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    Ok(Instance {
        name,
        mode,
        db_url: secret(l.db_url),
        pooler_url: secret(l.pooler_url),
        supabase_url: l.supabase_url.map(|u| u.trim_end_matches('/').to_owned()),
        service_role_key: secret(l.service_role_key),
        anon_key: secret(l.anon_key),
        jwt_secret: secret(l.jwt_secret),
        access_token: secret(l.access_token)
            .or_else(|| oauth.as_ref().and_then(|(_, t)| t.clone())),
        project_ref,
        project_refs,
        api_url: l
            .api_url
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
        dokploy_url: l.dokploy_url.map(|u| u.trim_end_matches('/').to_owned()),
        dokploy_api_key: secret(l.dokploy_api_key),
        notes,
        env_file: l.env_file.map(|f| base_dir.join(f)),
        oauth: oauth.map(|(o, _)| o),
    })
}

impl Config {
    /// Builds the configuration from parsed flags (which already include
    /// their environment variables) and the process environment.
    pub fn from_options(opts: &Options) -> Result<Config, ConfigError> {
        let database_url = std::env::var("DATABASE_URL").ok().filter(|v| !v.is_empty());
        Self::resolve(opts, database_url)
    }

    /// As [`Config::from_options`], with `DATABASE_URL` passed in (tests).
    pub fn resolve(
        opts: &Options,
        database_url_env: Option<String>,
    ) -> Result<Config, ConfigError> {
        let (file, base_dir) = match &opts.config {
            Some(path) => (
                FileConfig::load(path)?,
                path.parent().map(Path::to_owned).unwrap_or_default(),
            ),
            None => (FileConfig::default(), PathBuf::new()),
        };

        // `supabase-mcp login`'s stored login, for instances without a token.
        let oauth = crate::oauth::hook::stored_login(
            &first(opts.data_dir.clone(), file.data_dir.clone()).unwrap_or_else(default_data_dir),
            &file.oauth,
        );
        let top = layer_from_opts(opts, database_url_env);
        let mut instances = Vec::new();
        if file.instances.is_empty() {
            instances.push(resolve_instance(
                "default".to_owned(),
                top,
                Path::new(""),
                oauth.as_ref(),
            )?);
        } else {
            let mut seen = std::collections::HashSet::new();
            for (i, fi) in file.instances.iter().enumerate() {
                if fi.name.trim().is_empty() || !seen.insert(fi.name.clone()) {
                    return Err(ConfigError::Invalid(format!(
                        "instance #{} needs a unique, non-empty `name`",
                        i + 1
                    )));
                }
                let mut layer = layer_from_file(fi);
                // Flags and environment apply to the first (default) instance.
                if i == 0 && !top.is_empty() {
                    layer = top.clone().over(layer);
                }
                instances.push(resolve_instance(
                    fi.name.clone(),
                    layer,
                    &base_dir,
                    oauth.as_ref(),
                )?);
            }
        }

        let features = opts.features.clone().or(file.features);
        let groups = match features {
            Some(names) => parse_groups(&names)?,
            None => Group::DEFAULT.to_vec(),
        };

        let d = Limits::default();
        let fl = &file.limits;
        let limits = Limits {
            output_budget_bytes: first(opts.output_budget, fl.output_budget_bytes)
                .unwrap_or(d.output_budget_bytes),
            max_rows: first(opts.max_rows, fl.max_rows).unwrap_or(d.max_rows),
            query_timeout: first(opts.query_timeout, fl.query_timeout_secs)
                .map(Duration::from_secs)
                .unwrap_or(d.query_timeout),
            max_query_timeout: first(opts.max_query_timeout, fl.max_query_timeout_secs)
                .map(Duration::from_secs)
                .unwrap_or(d.max_query_timeout),
            rate_limit_per_minute: first(opts.rate_limit, fl.rate_limit_per_minute)
                .unwrap_or(d.rate_limit_per_minute),
            pool_size: first(opts.pool_size, fl.pool_size).unwrap_or(d.pool_size),
            max_remote_result_bytes: first(opts.max_remote_result_mb, fl.max_remote_result_mb)
                .map(|mb| mb.saturating_mul(1024 * 1024))
                .unwrap_or(d.max_remote_result_bytes),
            spill_max_age: fl
                .spill_max_age_hours
                .map(|h| Duration::from_secs(h * 3600))
                .unwrap_or(d.spill_max_age),
            confirmation_ttl: fl
                .confirmation_ttl_secs
                .map(Duration::from_secs)
                .unwrap_or(d.confirmation_ttl),
        };
        if limits.output_budget_bytes < 4096 {
            return Err(ConfigError::Invalid(
                "output budget must be at least 4096 bytes".into(),
            ));
        }
        if limits.max_rows == 0
            || limits.pool_size == 0
            || limits.rate_limit_per_minute == 0
            || limits.max_remote_result_bytes == 0
        {
            return Err(ConfigError::Invalid(
                "max rows, pool size, rate limit and max remote result size must be greater than zero".into(),
            ));
        }
        if limits.query_timeout > limits.max_query_timeout {
            return Err(ConfigError::Invalid(format!(
                "query timeout ({}s) exceeds the maximum query timeout ({}s)",
                limits.query_timeout.as_secs(),
                limits.max_query_timeout.as_secs()
            )));
        }

        let data_dir = first(opts.data_dir.clone(), file.data_dir).unwrap_or_else(default_data_dir);
        let migrations_dir = first(opts.migrations_dir.clone(), file.migrations_dir)
            .or_else(|| {
                opts.cli_project
                    .as_ref()
                    .map(|p| p.join("supabase").join("migrations"))
            })
            .unwrap_or_else(|| PathBuf::from("supabase").join("migrations"));
        let audit = AuditConfig {
            enabled: file.audit.enabled.unwrap_or(true),
            path: first(opts.audit_log.clone(), file.audit.path)
                .unwrap_or_else(|| data_dir.join("audit.jsonl")),
        };
        let http = HttpConfig {
            enabled: opts.http,
            bind: first(opts.bind.clone(), file.http.bind)
                .unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: first(opts.port, file.http.port).unwrap_or(DEFAULT_PORT),
            token: first(opts.http_token.clone(), file.http.token)
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            allowed_hosts: first(opts.allowed_hosts.clone(), file.http.allowed_hosts)
                .unwrap_or_default(),
            allowed_origins: first(opts.allowed_origins.clone(), file.http.allowed_origins)
                .unwrap_or_default(),
        };
        if let Some(t) = &http.token
            && t.expose().len() < 16
        {
            return Err(ConfigError::Invalid(
                "the HTTP token must be at least 16 characters (e.g. `openssl rand -hex 32`)"
                    .into(),
            ));
        }

        let backup = BackupConfig {
            dir: first(opts.backup_dir.clone(), file.backup.dir)
                .unwrap_or_else(|| data_dir.join("backups")),
            passphrase: opts
                .backup_passphrase
                .clone()
                .filter(|p| !p.is_empty())
                .map(Secret::new),
            key_file: first(opts.backup_key_file.clone(), file.backup.key_file),
            pg_bin_dir: first(opts.pg_bin_dir.clone(), file.backup.pg_bin_dir),
            schedule: schedule(opts.backup_every.as_deref(), file.backup.schedule)?,
            s3: s3_config(opts, file.backup.s3)?,
            wal: wal_config(opts.wal_archive_dir.clone(), file.backup.wal)?,
        };
        if backup.passphrase.is_some() && backup.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "give either a backup passphrase or a backup key file, not both".into(),
            ));
        }
        let redactor = Redactor::new();
        if let Some(p) = &backup.passphrase {
            redactor.add(p);
        }
        if let Some(s3) = &backup.s3 {
            redactor.add(&s3.access_key_id);
            redactor.add(&s3.secret_access_key);
        }
        for inst in &instances {
            inst.secrets().for_each(|s| redactor.add(s));
        }
        if let Some(t) = &http.token {
            redactor.add(t);
        }

        let clean = |v: Option<Vec<String>>| {
            v.map(|list| {
                list.into_iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        Ok(Config {
            instances,
            groups,
            tools_allow: clean(first(opts.tools.clone(), file.tools)),
            tools_deny: clean(first(opts.disable_tools.clone(), file.disable_tools))
                .unwrap_or_default(),
            read_only: opts.read_only || file.read_only.unwrap_or(false),
            allow_destructive: opts.allow_destructive || file.allow_destructive.unwrap_or(false),
            allow_forbidden_sql: opts.allow_forbidden_sql
                || file.allow_forbidden_sql.unwrap_or(false),
            data_dir,
            migrations_dir,
            docs_url: first(opts.docs_url.clone(), file.docs_url)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            limits,
            audit,
            http,
            log_level: first(opts.log_level.clone(), file.log_level),
            backup,
            redactor,
        })
    }

    /// The instance named `name`, or the first one.
    pub fn instance(&self, name: Option<&str>) -> Option<&Instance> {
        match name {
            Some(n) => self.instances.iter().find(|i| i.name == n),
            None => self.instances.first(),
        }
    }

    /// The projects tools may act on (`--project-ref`, one or several, on
    /// the default instance); empty when not limited.
    pub fn allowed_projects(&self) -> &[String] {
        self.instances
            .first()
            .map(|i| i.project_refs.as_slice())
            .unwrap_or(&[])
    }

    /// The project ref every tool is scoped to, when set on the default instance.
    pub fn scoped_project_ref(&self) -> Option<&str> {
        self.instances
            .first()
            .and_then(|i| i.project_ref.as_deref())
    }
}

#[cfg(test)]
mod tests;
