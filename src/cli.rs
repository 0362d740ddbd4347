//! Command-line interface: every flag, its environment variable and the
//! subcommands. Values stay optional here; `config` applies precedence and
//! defaults.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// MCP server for Supabase: cloud projects and self-hosted instances.
///
/// Precedence of settings: command-line flags, then environment variables,
/// then the config file (--config), then values imported from --env-file or a
/// Supabase CLI project, then built-in defaults.
#[derive(Debug, Parser)]
#[command(name = "supabase-mcp", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub opts: Options,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server (the default): stdio, or Streamable HTTP with --http.
    Serve(ServeArgs),
    /// Check every configured instance (reachability, auth, versions,
    /// permissions) and print fixes.
    Doctor,
    /// List the enabled tools and what their schemas cost in tokens.
    Tools(ToolsArgs),
    /// Start a throwaway local PostgreSQL with Supabase-like sample data, drive
    /// a short MCP session against it, print each step, and clean up.
    Demo,
    /// Make, list, verify and delete backups, and apply a retention policy.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Restore a backup (into a new database, or over the database with --yes).
    Restore(RestoreArgs),
    /// Create, list, apply, try, roll back, validate and repair migrations
    /// (the migration tools, run against the migrations directory).
    Migrate(MigrateArgs),
    /// Sign in to the Supabase Management API with OAuth and store the tokens.
    Login(LoginArgs),
    /// Revoke and forget the tokens stored by `login`.
    Logout(LogoutArgs),
    /// Check, fix and generate a self-hosted Supabase `.env`.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Make, decode and verify Supabase JWT keys.
    #[command(subcommand)]
    Jwt(JwtCommand),
}

#[derive(Debug, Args, Default)]
pub struct LoginArgs {
    /// The OAuth app's client id (organization settings in the dashboard,
    /// OAuth Apps). Also `[oauth] client_id` in the config file.
    #[arg(long, env = "SUPABASE_OAUTH_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    /// The OAuth app's client secret (needed for the token exchange, for
    /// refreshing and for logout). Also `[oauth] client_secret`.
    #[arg(
        long,
        env = "SUPABASE_OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,

    /// Port of the redirect listener on 127.0.0.1 (default: a free port).
    /// The redirect URI is http://127.0.0.1:PORT/callback.
    #[arg(long, value_name = "PORT", conflicts_with = "no_listen")]
    pub callback_port: Option<u16>,

    /// The redirect URI to send, as registered with the app. With the
    /// listener it must be a loopback http URL (its port and path are
    /// served); with --no-listen any URL.
    #[arg(long, value_name = "URI", conflicts_with = "callback_port")]
    pub redirect_uri: Option<String>,

    /// How long to wait for the answer: seconds, or with a unit (90s, 5m).
    /// Default 5m.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Also open the URL in the default browser.
    #[arg(long)]
    pub open: bool,

    /// Start no listener: print the URL, then read the address the browser
    /// was sent to (or just its code) from standard input. Needs
    /// --redirect-uri.
    #[arg(long, requires = "redirect_uri")]
    pub no_listen: bool,

    /// Where to keep the tokens: auto (the OS keyring, else a file), keyring,
    /// or file (<data dir>/oauth-login.json, mode 0600).
    #[arg(
        long,
        env = "SUPABASE_MCP_TOKEN_STORE",
        value_name = "STORE",
        value_parser = ["auto", "keyring", "file"]
    )]
    pub token_store: Option<String>,

    /// Keep the client secret with the tokens, so refreshing and logout work
    /// without it being configured.
    #[arg(long)]
    pub store_client_secret: bool,

    /// Preselect this organization (its slug) on the consent page.
    #[arg(long, value_name = "SLUG")]
    pub organization: Option<String>,

    /// How the client authenticates at the token endpoint: basic (HTTP
    /// Basic, the default) or body (client_id and client_secret form fields).
    #[arg(long, value_name = "METHOD", value_parser = ["basic", "body"])]
    pub client_auth: Option<String>,

    /// Only show whether a login is stored, where, and when it expires.
    #[arg(long)]
    pub status: bool,
}

#[derive(Debug, Args, Default)]
pub struct LogoutArgs {
    /// The OAuth app's client secret, needed to revoke (default: the one
    /// stored with the login, if any).
    #[arg(
        long,
        env = "SUPABASE_OAUTH_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,

    /// Only delete the stored tokens; do not revoke them.
    #[arg(long)]
    pub no_revoke: bool,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Check a `.env`: secrets, JWT keys, https URLs, SMTP, required and fixed
    /// variables, project name. Exit code: 0 clean (notes only), 1 warnings,
    /// 2 errors, 3 the file could not be read.
    Check {
        /// The `.env` file.
        #[arg(default_value = ".env")]
        path: PathBuf,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
        /// Also check this project name (the Dokploy application name).
        #[arg(long, value_name = "NAME")]
        project_name: Option<String>,
        /// Leave out findings below this severity.
        #[arg(long, value_parser = ["error", "warning", "info"], default_value = "info")]
        min_severity: String,
    },
    /// Write a fixed copy (default `<PATH>.fixed`, mode 0600): new secrets,
    /// keys signed with JWT_SECRET, https URLs, template values. Never
    /// changes PATH itself.
    Fix {
        /// The `.env` file.
        #[arg(default_value = ".env")]
        path: PathBuf,
        /// Where to write the fixed copy.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Fix the findings of this rule (repeatable, or comma-separated).
        #[arg(long = "rule", value_name = "RULE", value_delimiter = ',')]
        rules: Vec<String>,
        /// Fix the finding with this id, e.g. http_url:SITE_URL (repeatable).
        #[arg(long = "id", value_name = "ID", value_delimiter = ',')]
        ids: Vec<String>,
        /// Fix every finding that can be fixed automatically.
        #[arg(long)]
        all: bool,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// Show the changes, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Validity of re-signed keys, in years.
        #[arg(long, default_value_t = 5, value_name = "N")]
        years: u32,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
    /// Write a new `.env` (mode 0600) with random secrets and signed keys;
    /// prints the variable names, never the values.
    Generate {
        /// Where to write it (must not exist).
        #[arg(long, default_value = ".env", value_name = "PATH")]
        out: PathBuf,
        /// Start from this `.env` (its secrets replaced) instead of the
        /// built-in template.
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        /// Public domain: SUPABASE_PUBLIC_URL and API_EXTERNAL_URL become https://DOMAIN.
        #[arg(long)]
        domain: Option<String>,
        /// The URL of the application users sign in to (SITE_URL).
        #[arg(long, value_name = "URL")]
        site_url: Option<String>,
        /// Project name, used as POOLER_TENANT_ID.
        #[arg(long, value_name = "NAME")]
        project_name: Option<String>,
        /// Validity of ANON_KEY and SERVICE_ROLE_KEY, in years.
        #[arg(long, default_value_t = 5, value_name = "N")]
        years: u32,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
    /// Show the http:// to https:// change of the public URLs; --write
    /// writes it to a copy (default `<PATH>.fixed`).
    Protocols {
        /// The `.env` file.
        #[arg(default_value = ".env")]
        path: PathBuf,
        /// Write the converted copy.
        #[arg(long)]
        write: bool,
        /// Where to write it.
        #[arg(long, value_name = "PATH", requires = "write")]
        out: Option<PathBuf>,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
    /// Connection strings (direct and pooled, inside Docker and outside),
    /// with the password as a placeholder.
    ConnectionStrings {
        /// The `.env` file.
        #[arg(default_value = ".env")]
        path: PathBuf,
        /// Domain or IP for connections from outside Docker (default: the
        /// host of SUPABASE_PUBLIC_URL).
        #[arg(long)]
        host: Option<String>,
        /// Also write the strings with the real password to this file (0600).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Replace --password-file if it exists.
        #[arg(long)]
        force: bool,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
    /// Check a project name and suggest a valid one (exit 0 valid, 2 invalid).
    ProjectName {
        /// The name to check.
        name: String,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Sign a new API key with the JWT secret: role, issuer `supabase`,
    /// iat, exp. Prints the key (or writes it to --out, mode 0600); never
    /// the secret.
    Generate {
        /// File holding the JWT secret (or a `.env` with JWT_SECRET).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// Environment variable holding the JWT secret.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        /// A `.env` whose JWT_SECRET signs the key.
        #[arg(long, value_name = "PATH")]
        dotenv: Option<PathBuf>,
        /// The key's role.
        #[arg(long, value_parser = ["anon", "service_role"], default_value = "anon")]
        role: String,
        /// Validity in years.
        #[arg(long, default_value_t = 5, value_name = "N")]
        years: u32,
        /// Write the key to this file (0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show a JWT's header and claims without verifying it.
    Decode {
        /// The JWT, or `-` to read it from stdin (default: --variable of --dotenv).
        token: Option<String>,
        /// A `.env` to read the token from (with --variable).
        #[arg(long, value_name = "PATH")]
        dotenv: Option<PathBuf>,
        /// The variable of --dotenv holding the token, e.g. ANON_KEY.
        #[arg(long, value_name = "NAME", requires = "dotenv")]
        variable: Option<String>,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
    /// Verify a JWT's signature with the JWT secret, and its claims (exit 0
    /// valid, 2 not valid).
    Verify {
        /// The JWT, or `-` to read it from stdin (default: --variable of --dotenv).
        token: Option<String>,
        /// File holding the JWT secret (or a `.env` with JWT_SECRET).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// Environment variable holding the JWT secret.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        /// A `.env`: its JWT_SECRET is the secret (unless given otherwise),
        /// and with --variable it holds the token.
        #[arg(long, value_name = "PATH")]
        dotenv: Option<PathBuf>,
        /// The variable of --dotenv holding the token, e.g. SERVICE_ROLE_KEY.
        #[arg(long, value_name = "NAME", requires = "dotenv")]
        variable: Option<String>,
        /// The role the key must have (default: from --variable).
        #[arg(long, value_parser = ["anon", "service_role"])]
        role: Option<String>,
        /// Output format.
        #[arg(long, value_parser = ["text", "json"], default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The configured instance to run against (default: the first).
    #[arg(long, global = true, value_name = "NAME")]
    pub instance: Option<String>,

    #[command(subcommand)]
    pub action: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Local files and applied history side by side (list_migrations).
    List,
    /// Write a new migration file <version>_<name>.sql (create_migration).
    New(MigrateNewArgs),
    /// Apply the pending migration files in version order
    /// (apply_pending_migrations; needs --yes).
    Up(MigrateUpArgs),
    /// Revert the newest applied migrations with their down migrations
    /// (rollback_migration; needs --yes).
    Down(MigrateDownArgs),
    /// Run a local migration file or SQL in a transaction that is always
    /// rolled back, and report what it would change (dry_run_migration).
    DryRun(MigrateDryRunArgs),
    /// Check the local files against the history; exits non-zero when there
    /// are errors (validate_migrations).
    Validate,
    /// Mark versions applied or reverted in the history without running
    /// anything (repair_migration_history; needs --yes).
    Repair(MigrateRepairArgs),
    /// The SQL that turns one schema into another (diff_schemas); with
    /// --write NAME, written as a new migration (generate_migration_from_diff).
    Diff(MigrateDiffArgs),
}

#[derive(Debug, Args, Default)]
pub struct MigrateDiffArgs {
    /// The schema to start from: an instance name, a database URL, or
    /// `migrations` (the local files on a scratch database). Default: this
    /// instance, or `migrations` with --write.
    #[arg(long, value_name = "SIDE")]
    pub source: Option<String>,
    /// The schema to arrive at (same forms; default: this instance).
    #[arg(long, value_name = "SIDE")]
    pub target: Option<String>,
    /// Compare only these schemas (repeatable; default: every user schema).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// Write the diff as a new migration with this name (its down part is
    /// the reverse diff).
    #[arg(long, value_name = "NAME")]
    pub write: Option<String>,
    /// Version of the written migration (default: now).
    #[arg(long, value_name = "VERSION", requires = "write")]
    pub version: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct MigrateNewArgs {
    /// Migration name (made snake_case).
    pub name: String,
    /// Version (digits; default: now as YYYYMMDDHHMMSS).
    #[arg(long)]
    pub version: Option<String>,
    /// The migration's SQL (default: an empty file to fill in).
    #[arg(long, value_name = "SQL", conflicts_with = "sql_file")]
    pub sql: Option<String>,
    /// Read the migration's SQL from this file (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub sql_file: Option<PathBuf>,
    /// The SQL that reverts it (the down migration).
    #[arg(long, value_name = "SQL", conflicts_with = "down_file")]
    pub down: Option<String>,
    /// Read the down migration's SQL from this file (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub down_file: Option<PathBuf>,
    /// Where the down migration goes: `block` (a trailing comment block,
    /// the default) or `file` (down/<version>_<name>.sql).
    #[arg(long, value_name = "STYLE", value_parser = ["block", "file"])]
    pub down_style: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct MigrateUpArgs {
    /// Stop after this version.
    #[arg(long, value_name = "VERSION")]
    pub to_version: Option<String>,
    /// Apply them all in one transaction (mode `batch`; default: a
    /// transaction per migration, mode `each`).
    #[arg(long)]
    pub batch: bool,
    /// Confirm applying the pending migrations.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args, Default)]
pub struct MigrateDownArgs {
    /// How many of the newest applied migrations to revert (default 1).
    #[arg(long, value_name = "N", conflicts_with = "to_version")]
    pub last: Option<u32>,
    /// Or revert every applied migration newer than this version.
    #[arg(long, value_name = "VERSION")]
    pub to_version: Option<String>,
    /// Confirm the rollback.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args, Default)]
pub struct MigrateDryRunArgs {
    /// A local migration's version (digits), or the path of an SQL file.
    #[arg(
        value_name = "VERSION|FILE",
        required_unless_present = "sql",
        conflicts_with = "sql"
    )]
    pub target: Option<String>,
    /// Or the SQL to try.
    #[arg(long, alias = "query", value_name = "SQL")]
    pub sql: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct MigrateRepairArgs {
    /// The versions to mark.
    #[arg(required = true, value_name = "VERSION")]
    pub versions: Vec<String>,
    /// `applied` (record them from their local files) or `reverted`
    /// (remove them from the history).
    #[arg(long, value_parser = ["applied", "reverted"])]
    pub status: String,
    /// Confirm changing the history.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up the configured database (prints the manifest entry as JSON).
    Create(BackupCreateArgs),
    /// List the backups of the instance, newest first.
    List,
    /// Re-read a backup: hash, decryption, decompression, archive.
    Verify { id: String },
    /// Delete a backup's file and manifest entry (needs --yes).
    Delete {
        id: String,
        #[arg(long)]
        yes: bool,
    },
    /// Show (or with --apply, carry out) a retention policy.
    Retention(RetentionArgs),
    /// Take a physical base backup (pg_basebackup), the start of a
    /// point-in-time recovery.
    Base(BackupBaseArgs),
    /// Archive WAL with pg_receivewal in the foreground until Ctrl-C
    /// (into --wal-archive-dir, default <backup dir>/wal).
    Wal,
    /// Print the checked point-in-time recovery plan for --target-time; with
    /// --prepare, also write a data directory that recovers to it.
    PitrPlan(PitrPlanArgs),
}

#[derive(Debug, Args, Default)]
pub struct BackupBaseArgs {
    /// zstd (level 3), zstd:N, gzip:N or none.
    #[arg(long, default_value = "zstd:3")]
    pub compression: String,
    /// Do not encrypt even when a backup key is configured.
    #[arg(long)]
    pub no_encrypt: bool,
    /// A label for the backup (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
}

#[derive(Debug, Args, Default)]
pub struct PitrPlanArgs {
    /// The moment to recover to (RFC 3339, e.g. 2026-11-25T08:00:00Z).
    #[arg(long)]
    pub target_time: String,
    /// Write a data directory (new or empty) that recovers to the target.
    #[arg(long, value_name = "DIR")]
    pub prepare: Option<PathBuf>,
}

#[derive(Debug, Args, Default)]
pub struct BackupCreateArgs {
    /// full, schema or data.
    #[arg(long = "type", default_value = "full")]
    pub kind: String,
    /// Only this schema (repeatable).
    #[arg(long = "schema")]
    pub schemas: Vec<String>,
    /// Leave out this schema (repeatable).
    #[arg(long = "exclude-schema")]
    pub exclude_schemas: Vec<String>,
    /// Only this table, schema.table (repeatable).
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// Leave out this table (repeatable).
    #[arg(long = "exclude-table")]
    pub exclude_tables: Vec<String>,
    /// Leave out the schemas of Supabase's services (auth, storage, realtime...).
    #[arg(long)]
    pub exclude_supabase_managed: bool,
    /// custom (default) or plain.
    #[arg(long, default_value = "custom")]
    pub format: String,
    /// zstd (level 3), zstd:N, gzip:N or none.
    #[arg(long, default_value = "zstd:3")]
    pub compression: String,
    /// Do not encrypt even when a backup key is configured.
    #[arg(long)]
    pub no_encrypt: bool,
    /// A label for the backup (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Also save the roles (pg_dumpall --roles-only, passwords left out).
    #[arg(long)]
    pub include_roles: bool,
}

#[derive(Debug, Args, Default)]
pub struct RetentionArgs {
    #[arg(long)]
    pub keep_last: Option<u32>,
    #[arg(long)]
    pub daily: Option<u32>,
    #[arg(long)]
    pub weekly: Option<u32>,
    #[arg(long)]
    pub monthly: Option<u32>,
    /// e.g. 12h, 30d, 8w.
    #[arg(long)]
    pub max_age: Option<String>,
    /// Delete what the policy does not keep (default: only show the plan).
    #[arg(long)]
    pub apply: bool,
}

#[derive(Debug, Args, Default)]
pub struct RestoreArgs {
    /// Backup id or unique prefix.
    pub id: String,
    /// Create this database and restore into it.
    #[arg(long)]
    pub new_database: Option<String>,
    /// Drop existing objects first.
    #[arg(long)]
    pub clean: bool,
    /// Do not restore ownership.
    #[arg(long)]
    pub no_owner: bool,
    /// Parallel pg_restore jobs (custom format).
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// Keep a new database when the restore fails.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Only restore this schema (repeatable; custom format).
    #[arg(long = "schema")]
    pub schemas: Vec<String>,
    /// First create the roles saved with the backup.
    #[arg(long)]
    pub restore_roles: bool,
    /// Confirm restoring over the existing database.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Serve against a throwaway local PostgreSQL with sample data (created on
    /// start, removed on exit).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Args, Default)]
pub struct ToolsArgs {
    /// Print the full tools/list JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct Options {
    /// Config file (TOML). See the README for its keys.
    #[arg(long, env = "SUPABASE_MCP_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Instance mode: cloud (Management API), self-hosted (direct Postgres
    /// and/or Supabase URL), or auto (decide from what is configured).
    #[arg(long, env = "SUPABASE_MCP_MODE", global = true, value_name = "MODE")]
    pub mode: Option<String>,

    /// Personal access token for the Supabase Management API (cloud mode).
    #[arg(
        long,
        env = "SUPABASE_ACCESS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub access_token: Option<String>,

    /// Scope the server to one cloud project: project parameters disappear from
    /// tool schemas and account-level tools are hidden.
    #[arg(long, env = "SUPABASE_PROJECT_REF", global = true)]
    pub project_ref: Option<String>,

    /// Management API base URL.
    #[arg(long, env = "SUPABASE_API_URL", global = true, value_name = "URL")]
    pub api_url: Option<String>,

    /// Supabase docs search endpoint (GraphQL) that search_docs queries.
    #[arg(long, env = "SUPABASE_DOCS_URL", global = true, value_name = "URL")]
    pub docs_url: Option<String>,

    /// PostgreSQL connection URL (also read from DATABASE_URL).
    #[arg(
        long,
        env = "SUPABASE_DB_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub db_url: Option<String>,

    /// Supabase API URL (Kong gateway), e.g. http://localhost:8000.
    #[arg(long, env = "SUPABASE_URL", global = true, value_name = "URL")]
    pub supabase_url: Option<String>,

    /// Service role key for the Auth and Storage APIs.
    #[arg(
        long,
        env = "SUPABASE_SERVICE_ROLE_KEY",
        global = true,
        hide_env_values = true
    )]
    pub service_role_key: Option<String>,

    /// Anon (publishable) key.
    #[arg(long, env = "SUPABASE_ANON_KEY", global = true, hide_env_values = true)]
    pub anon_key: Option<String>,

    /// Dokploy base URL, e.g. https://dokploy.example.com.
    #[arg(long, env = "DOKPLOY_URL", global = true, value_name = "URL")]
    pub dokploy_url: Option<String>,

    /// Dokploy API key.
    #[arg(long, env = "DOKPLOY_API_KEY", global = true, hide_env_values = true)]
    pub dokploy_api_key: Option<String>,

    /// Read connection details from a self-hosted Supabase/Docker .env file.
    #[arg(
        long,
        env = "SUPABASE_MCP_ENV_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub env_file: Option<PathBuf>,

    /// Read connection details from a Supabase CLI project (the directory
    /// holding supabase/config.toml).
    #[arg(
        long,
        env = "SUPABASE_MCP_CLI_PROJECT",
        global = true,
        value_name = "DIR"
    )]
    pub cli_project: Option<PathBuf>,

    /// Enable feature groups (comma-separated; `all` for every group).
    #[arg(
        long,
        env = "SUPABASE_MCP_FEATURES",
        global = true,
        value_delimiter = ','
    )]
    pub features: Option<Vec<String>>,

    /// Enable only these tools (comma-separated), within the enabled groups.
    #[arg(long, env = "SUPABASE_MCP_TOOLS", global = true, value_delimiter = ',')]
    pub tools: Option<Vec<String>>,

    /// Disable these tools (comma-separated).
    #[arg(
        long,
        env = "SUPABASE_MCP_DISABLE_TOOLS",
        global = true,
        value_delimiter = ','
    )]
    pub disable_tools: Option<Vec<String>>,

    /// Hide write tools and run SQL in read-only transactions.
    #[arg(long, env = "SUPABASE_MCP_READ_ONLY", global = true, action = ArgAction::SetTrue)]
    pub read_only: bool,

    /// Run destructive operations without the confirmation step.
    #[arg(long, env = "SUPABASE_MCP_ALLOW_DESTRUCTIVE", global = true, action = ArgAction::SetTrue)]
    pub allow_destructive: bool,

    /// Allow SQL that reads or writes server files, runs programs or changes
    /// superuser settings (COPY ... PROGRAM, pg_read_file, ALTER SYSTEM...).
    #[arg(long, env = "SUPABASE_MCP_ALLOW_FORBIDDEN_SQL", global = true, action = ArgAction::SetTrue)]
    pub allow_forbidden_sql: bool,

    /// Directory for spill files, backups and the audit log.
    #[arg(long, env = "SUPABASE_MCP_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory of migration files (`<version>_<name>.sql`, as the Supabase
    /// CLI keeps them). Default: `<cli-project>/supabase/migrations` with
    /// --cli-project, else `./supabase/migrations`.
    #[arg(
        long,
        env = "SUPABASE_MCP_MIGRATIONS_DIR",
        global = true,
        value_name = "DIR"
    )]
    pub migrations_dir: Option<PathBuf>,

    /// Audit log path (JSON lines). Default: <data-dir>/audit.jsonl.
    #[arg(
        long,
        env = "SUPABASE_MCP_AUDIT_LOG",
        global = true,
        value_name = "FILE"
    )]
    pub audit_log: Option<PathBuf>,

    /// Serve Streamable HTTP instead of stdio.
    #[arg(long, env = "SUPABASE_MCP_HTTP", global = true, action = ArgAction::SetTrue)]
    pub http: bool,

    /// Accept HTTP requests without a bearer token. Only allowed on a loopback
    /// address; meant for local test suites.
    #[arg(long, env = "SUPABASE_MCP_HTTP_NO_AUTH", global = true, action = ArgAction::SetTrue)]
    pub http_no_auth: bool,

    /// HTTP port (default 8765).
    #[arg(long, env = "SUPABASE_MCP_PORT", global = true)]
    pub port: Option<u16>,

    /// HTTP bind address (default 127.0.0.1).
    #[arg(long, env = "SUPABASE_MCP_BIND", global = true, value_name = "ADDR")]
    pub bind: Option<String>,

    /// Bearer token HTTP clients must send (required with --http).
    #[arg(
        long,
        env = "SUPABASE_MCP_HTTP_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub http_token: Option<String>,

    /// Extra Host names accepted over HTTP (loopback names are always accepted).
    #[arg(
        long,
        env = "SUPABASE_MCP_ALLOWED_HOSTS",
        global = true,
        value_delimiter = ','
    )]
    pub allowed_hosts: Option<Vec<String>>,

    /// Browser origins accepted over HTTP (default: none but loopback).
    #[arg(
        long,
        env = "SUPABASE_MCP_ALLOWED_ORIGINS",
        global = true,
        value_delimiter = ','
    )]
    pub allowed_origins: Option<Vec<String>>,

    /// Largest tool result in bytes; larger data spills to a file (default 262144).
    #[arg(
        long,
        env = "SUPABASE_MCP_OUTPUT_BUDGET",
        global = true,
        value_name = "BYTES"
    )]
    pub output_budget: Option<usize>,

    /// Most rows returned inline by a query (default 1000).
    #[arg(long, env = "SUPABASE_MCP_MAX_ROWS", global = true)]
    pub max_rows: Option<usize>,

    /// Default query timeout in seconds (default 30).
    #[arg(
        long,
        env = "SUPABASE_MCP_QUERY_TIMEOUT",
        global = true,
        value_name = "SECS"
    )]
    pub query_timeout: Option<u64>,

    /// Largest query timeout a call may ask for, in seconds (default 600).
    #[arg(
        long,
        env = "SUPABASE_MCP_MAX_QUERY_TIMEOUT",
        global = true,
        value_name = "SECS"
    )]
    pub max_query_timeout: Option<u64>,

    /// Calls allowed per tool per minute (default 120).
    #[arg(long, env = "SUPABASE_MCP_RATE_LIMIT", global = true, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Connections per database pool (default 10).
    #[arg(long, env = "SUPABASE_MCP_POOL_SIZE", global = true)]
    pub pool_size: Option<usize>,

    /// Where backups and their manifest are stored (default: <data dir>/backups).
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_DIR",
        global = true,
        value_name = "DIR"
    )]
    pub backup_dir: Option<PathBuf>,

    /// Passphrase that encrypts backups (AES-256-GCM, key stretched with Argon2id).
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_PASSPHRASE",
        global = true,
        hide_env_values = true,
        value_name = "PASSPHRASE"
    )]
    pub backup_passphrase: Option<String>,

    /// Key file that encrypts backups (32 raw bytes, 64 hex characters or base64).
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_KEY_FILE",
        global = true,
        value_name = "FILE"
    )]
    pub backup_key_file: Option<PathBuf>,

    /// Also store backups in S3-compatible storage: s3://bucket[/prefix].
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_S3_URL",
        global = true,
        value_name = "URL"
    )]
    pub backup_s3_url: Option<String>,

    /// S3 endpoint (MinIO, B2, Supabase Storage's /storage/v1/s3); default AWS.
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_S3_ENDPOINT",
        global = true,
        value_name = "URL"
    )]
    pub backup_s3_endpoint: Option<String>,

    /// S3 region (default us-east-1).
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_S3_REGION",
        global = true,
        value_name = "REGION"
    )]
    pub backup_s3_region: Option<String>,

    /// S3 access key id.
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_S3_ACCESS_KEY_ID",
        global = true,
        hide_env_values = true,
        value_name = "ID"
    )]
    pub backup_s3_access_key_id: Option<String>,

    /// S3 secret access key.
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_S3_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub backup_s3_secret_access_key: Option<String>,

    /// Allow an http:// S3 endpoint (local MinIO and tests).
    #[arg(long, env = "SUPABASE_MCP_BACKUP_S3_ALLOW_HTTP", global = true)]
    pub backup_s3_allow_http: bool,

    /// Back up the first instance every interval while serving (e.g. 6h, 1d).
    #[arg(
        long,
        env = "SUPABASE_MCP_BACKUP_EVERY",
        global = true,
        value_name = "INTERVAL"
    )]
    pub backup_every: Option<String>,

    /// Archive WAL into this directory with pg_receivewal while serving
    /// (incremental backups for point-in-time recovery).
    #[arg(
        long,
        env = "SUPABASE_MCP_WAL_ARCHIVE_DIR",
        global = true,
        value_name = "DIR"
    )]
    pub wal_archive_dir: Option<PathBuf>,

    /// Directory of pg_dump, pg_restore and psql (default: the newest installed).
    #[arg(
        long,
        env = "SUPABASE_MCP_PG_BIN_DIR",
        global = true,
        value_name = "DIR"
    )]
    pub pg_bin_dir: Option<PathBuf>,

    /// Largest SQL result read from the Management API or the REST RPC, in MiB (default 32).
    #[arg(
        long,
        env = "SUPABASE_MCP_MAX_REMOTE_RESULT_MB",
        global = true,
        value_name = "MIB"
    )]
    pub max_remote_result_mb: Option<usize>,

    /// Log level (error, warn, info, debug, trace); RUST_LOG wins when set.
    #[arg(long, env = "SUPABASE_MCP_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
}
