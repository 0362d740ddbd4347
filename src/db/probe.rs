//! Connection checks shared by the `test_connection` tool and `doctor`:
//! one probe per way of reaching an instance (direct database URL, pooler
//! URL, Supabase REST API), each reporting reachability, latency, server
//! version, role and TLS, and on failure a classified reason with a fix.
//!
//! [`diagnose_pg`] is also what the connection pools use to explain a
//! failed connection, so every path gives the same advice.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;
use tokio_postgres::SimpleQueryMessage;

use super::connstr::{ConnParams, SslMode};
use super::rpc::{RpcClient, RpcError, jwt_role};
use super::tls;
use crate::config::Instance;
use crate::secret::{Redactor, Secret};

/// `application_name` of every connection this server opens.
pub const APPLICATION_NAME: &str = "supabase-mcp";

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The connection string cannot be parsed.
    InvalidUrl,
    /// The TLS settings cannot be used (unreadable `sslrootcert`, ...).
    TlsSetup,
    WrongPassword,
    /// The server asked for a password and none was given.
    PasswordMissing,
    RoleMissing,
    /// Supavisor does not know the `postgres.<tenant>` user.
    TenantNotFound,
    /// The host name does not resolve.
    HostNotFound,
    /// The host is `db` (or another Docker service name) used from outside Docker.
    DockerHostname,
    /// No route to the host (often: an IPv6-only host on an IPv4 network).
    Unreachable,
    ConnectionRefused,
    /// The server only accepts TLS connections, and TLS was disabled.
    TlsRequired,
    /// TLS was required, and the server does not offer it.
    TlsUnavailable,
    /// The server's certificate did not verify.
    TlsCertificate,
    TooManyConnections,
    DatabaseMissing,
    /// pg_hba.conf has no rule for this host/user/database.
    NotAllowed,
    /// The server is starting up or shutting down.
    ServerStarting,
    Timeout,
    /// The REST gateway refused the API key.
    KeyRejected,
    /// The REST API answered with an unexpected status.
    HttpError,
    Other,
}

/// A classified failure: what happened (scrubbed) and how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Diagnosis {
    pub kind: FailureKind,
    pub message: String,
    pub fix: String,
}

/// Which configured endpoint a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The database URL (`--db-url`).
    Direct,
    /// The pooler URL (Supavisor / PgBouncer).
    Pooler,
    /// The Supabase REST API with the service role key.
    Rest,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::Pooler => "pooler",
            Target::Rest => "rest",
        }
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TargetReport {
    pub target: Target,
    /// The endpoint, password masked.
    pub endpoint: String,
    /// Database endpoints: where and as whom (kept apart from `endpoint`,
    /// which is scrubbed whole when the URL itself is a configured secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Connected (and, for REST, the key was accepted).
    pub ok: bool,
    /// The server answered at all (a wrong password still means reachable).
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The role the connection acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superuser: Option<bool>,
    /// The connection is encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sslmode: Option<SslMode>,
    /// A transaction-mode pooler (no named prepared statements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooled: Option<bool>,
    /// The `auth` and `storage` schemas exist (a Supabase database).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supabase_schemas: Option<bool>,
    /// REST only: `public.execute_sql` answers (SQL works without a database URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_execute_sql: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Diagnosis>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TargetReport {
    fn new(target: Target, endpoint: String) -> Self {
        TargetReport {
            target,
            endpoint,
            host: None,
            port: None,
            user: None,
            database: None,
            ok: false,
            reachable: false,
            latency_ms: None,
            server_version: None,
            role: None,
            superuser: None,
            tls: None,
            sslmode: None,
            pooled: None,
            supabase_schemas: None,
            rpc_execute_sql: None,
            error: None,
            notes: Vec::new(),
        }
    }

    fn fail(mut self, d: Diagnosis) -> Self {
        self.ok = false;
        self.error = Some(d);
        self
    }

    /// `user@host:port/database` for database endpoints, else the endpoint.
    pub fn display(&self) -> String {
        match (&self.host, self.port) {
            (Some(h), Some(p)) => format!(
                "{}@{h}:{p}/{}",
                self.user.as_deref().unwrap_or(""),
                self.database.as_deref().unwrap_or("")
            ),
            _ => self.endpoint.clone(),
        }
    }

    /// Every string field scrubbed of secrets.
    fn scrubbed(mut self, redactor: &Redactor) -> Self {
        self.endpoint = redactor.scrub(&self.endpoint);
        for f in [&mut self.host, &mut self.user, &mut self.database]
            .into_iter()
            .flatten()
        {
            *f = redactor.scrub(f);
        }
        if let Some(e) = &mut self.error {
            e.message = redactor.scrub(&e.message);
            e.fix = redactor.scrub(&e.fix);
        }
        for n in &mut self.notes {
            *n = redactor.scrub(n);
        }
        self
    }
}

/// Probes every configured endpoint of `inst`, in priority order: the
/// database URL, the pooler URL, the REST API. Each probe gets `timeout`.
pub async fn probe_instance(
    inst: &Instance,
    redactor: &Redactor,
    timeout: Duration,
) -> Vec<TargetReport> {
    let mut out = Vec::new();
    if let Some(url) = &inst.db_url {
        out.push(probe_postgres(Target::Direct, url, redactor, timeout).await);
    }
    if let Some(url) = &inst.pooler_url {
        out.push(probe_postgres(Target::Pooler, url, redactor, timeout).await);
    }
    if let (Some(base), Some(key)) = (&inst.supabase_url, &inst.service_role_key) {
        out.push(probe_rest(base, key, redactor, timeout).await);
    }
    out
}

/// Connects once to `url` (not through a pool) and reads version, role,
/// superuser, TLS and whether the Supabase schemas exist.
pub async fn probe_postgres(
    target: Target,
    url: &Secret,
    redactor: &Redactor,
    timeout: Duration,
) -> TargetReport {
    redactor.add(url);
    let params = match ConnParams::parse(url.expose()) {
        Ok(p) => p,
        Err(e) => {
            return TargetReport::new(target, "(unparseable connection string)".into())
                .fail(Diagnosis {
                    kind: FailureKind::InvalidUrl,
                    message: e.to_string(),
                    fix: "Use postgres://user:password@host:port/database (percent-encode special characters in the password) or key=value pairs.".into(),
                })
                .scrubbed(redactor);
        }
    };
    if let Some(pw) = &params.password {
        redactor.add(pw);
    }
    let mut report = TargetReport::new(target, params.masked());
    report.host = Some(params.host.clone());
    report.port = Some(params.port);
    report.user = Some(params.user_or_default().to_owned());
    report.database = Some(
        params
            .dbname
            .clone()
            .unwrap_or_else(|| params.user_or_default().to_owned()),
    );
    report.sslmode = Some(params.sslmode);
    report.pooled = Some(params.is_pooled());
    if let Some(reason) = params.pooled_reason() {
        report.notes.push(format!(
            "transaction-mode pooler ({}): queries use no named prepared statements",
            reason.describe()
        ));
    }
    if !params.ignored.is_empty() {
        report.notes.push(format!(
            "options not used by this client: {}",
            params.ignored.join(", ")
        ));
    }
    let tls = match tls::connector(&params) {
        Ok(t) => t,
        Err(e) => {
            return report
                .fail(Diagnosis {
                    kind: FailureKind::TlsSetup,
                    message: e.to_string(),
                    fix: "Fix sslrootcert (a readable PEM file with the CA certificate), or use sslmode=require to encrypt without verification.".into(),
                })
                .scrubbed(redactor);
        }
    };
    let mut config = params.to_pg_config();
    config.application_name(APPLICATION_NAME);
    config.connect_timeout(params.connect_timeout.unwrap_or(timeout).min(timeout));
    let start = Instant::now();
    let connected = tokio::time::timeout(timeout, config.connect(tls)).await;
    let (client, connection) = match connected {
        Err(_) => {
            return report
                .fail(timeout_diagnosis(&params, timeout))
                .scrubbed(redactor);
        }
        Ok(Err(e)) => {
            let d = diagnose_pg(&e, &params);
            report.reachable = e.as_db_error().is_some()
                || matches!(
                    d.kind,
                    FailureKind::TlsUnavailable
                        | FailureKind::TlsCertificate
                        | FailureKind::PasswordMissing
                );
            return report.fail(d).scrubbed(redactor);
        }
        Ok(Ok(pair)) => pair,
    };
    let conn_task = tokio::spawn(async move {
        let _ = connection.await;
    });
    report.reachable = true;
    // Simple-query protocol: works through transaction-mode poolers too.
    let sql = "SELECT current_setting('server_version'), current_user, \
               coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), \
               coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), \
               EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') \
                 AND EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'storage')";
    let queried = tokio::time::timeout(
        timeout
            .saturating_sub(start.elapsed())
            .max(Duration::from_secs(1)),
        client.simple_query(sql),
    )
    .await;
    report.latency_ms = Some(start.elapsed().as_millis() as u64);
    match queried {
        Ok(Ok(messages)) => {
            if let Some(row) = messages.iter().find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            }) {
                let text = |i: usize| row.get(i).map(str::to_owned);
                let flag = |i: usize| row.get(i).map(|v| v == "t");
                report.server_version = text(0);
                report.role = text(1);
                report.superuser = flag(2);
                report.tls = flag(3);
                report.supabase_schemas = flag(4);
                report.ok = true;
                if report.supabase_schemas == Some(false) {
                    report.notes.push(
                        "no auth/storage schemas: this looks like plain PostgreSQL, not Supabase"
                            .into(),
                    );
                }
            }
        }
        Ok(Err(e)) => {
            let d = diagnose_pg(&e, &params);
            report = report.fail(d);
        }
        Err(_) => report = report.fail(timeout_diagnosis(&params, timeout)),
    }
    drop(client);
    conn_task.abort();
    report.scrubbed(redactor)
}

/// Checks the REST API: the key is accepted at `/rest/v1/`, and whether
/// `public.execute_sql` answers (with the database's version and TLS).
pub async fn probe_rest(
    base: &str,
    key: &Secret,
    redactor: &Redactor,
    timeout: Duration,
) -> TargetReport {
    let base = base.trim_end_matches('/');
    let mut report = TargetReport::new(Target::Rest, format!("{base}/rest/v1/"));
    report.tls = Some(base.starts_with("https://"));
    match jwt_role(key.expose()) {
        Some(role) if role == "service_role" => report.role = Some(role),
        Some(role) => {
            report.notes.push(format!(
                "the service role key is a `{role}` key: use the service_role key (SERVICE_ROLE_KEY) for admin access"
            ));
            report.role = Some(role);
        }
        None => {}
    }
    let client = match RpcClient::new(base, key, redactor.clone(), timeout) {
        Ok(c) => c,
        Err(e) => {
            return report
                .fail(rpc_diagnosis(&e, base, timeout))
                .scrubbed(redactor);
        }
    };
    let start = Instant::now();
    let answer = match client.rest_root().await {
        Ok(status) => status,
        Err(e) => {
            return report
                .fail(rpc_diagnosis(&e, base, timeout))
                .scrubbed(redactor);
        }
    };
    report.latency_ms = Some(start.elapsed().as_millis() as u64);
    report.reachable = true;
    match answer {
        200..=299 => report.ok = true,
        401 | 403 => {
            return report
                .fail(Diagnosis {
                    kind: FailureKind::KeyRejected,
                    message: format!("{base}/rest/v1/ answered HTTP {answer}"),
                    fix: "Use the instance's service_role key (SERVICE_ROLE_KEY in the .env, or Project Settings > API): it must be signed with the instance's JWT_SECRET.".into(),
                })
                .scrubbed(redactor);
        }
        status => {
            return report
                .fail(Diagnosis {
                    kind: FailureKind::HttpError,
                    message: format!("{base}/rest/v1/ answered HTTP {status}"),
                    fix: "Check that the URL points at the Supabase gateway (self-hosted: http://localhost:8000, Kong) and that the rest service runs.".into(),
                })
                .scrubbed(redactor);
        }
    }
    let probe_sql = "select current_setting('server_version') as server_version, \
                     coalesce((select ssl from pg_stat_ssl where pid = pg_backend_pid()), false) as db_tls";
    match client.execute_sql(probe_sql, true, 1024 * 1024).await {
        Ok(rows) => {
            report.rpc_execute_sql = Some(true);
            if let Some(v) = rows
                .first()
                .and_then(|r| r.get("server_version"))
                .and_then(|v| v.as_str())
            {
                report.server_version = Some(v.to_owned());
            }
        }
        Err(RpcError::NotProvisioned { .. }) => {
            report.rpc_execute_sql = Some(false);
            report.notes.push(
                "public.execute_sql is not installed: SQL over the REST API needs it (run provision_execute_sql)".into(),
            );
        }
        Err(e) => {
            report.rpc_execute_sql = Some(false);
            report
                .notes
                .push(format!("public.execute_sql did not answer: {e}"));
        }
    }
    report.scrubbed(redactor)
}

fn rpc_diagnosis(e: &RpcError, base: &str, timeout: Duration) -> Diagnosis {
    let message = e.to_string();
    let kind = match e {
        RpcError::InvalidUrl(_) => FailureKind::InvalidUrl,
        RpcError::InvalidKey | RpcError::Unauthorized { .. } => FailureKind::KeyRejected,
        RpcError::Timeout { .. } => FailureKind::Timeout,
        RpcError::Transport { message, .. } => {
            let host = url::Url::parse(base)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            classify_text(&message.to_ascii_lowercase(), &host)
        }
        _ => FailureKind::HttpError,
    };
    let fix = match kind {
        FailureKind::Timeout => format!(
            "No answer within {}s: check the URL, the port and any firewall in between.",
            timeout.as_secs()
        ),
        FailureKind::ConnectionRefused => "Nothing listens there: check that the Supabase gateway (Kong) runs and the port (self-hosted default 8000).".into(),
        FailureKind::DockerHostname | FailureKind::HostNotFound => "The host name does not resolve; from outside Docker use localhost or the server's address (SUPABASE_PUBLIC_URL).".into(),
        FailureKind::KeyRejected => "Use the instance's service_role key (SERVICE_ROLE_KEY).".into(),
        FailureKind::InvalidUrl => "Use a URL like http://localhost:8000 or https://<ref>.supabase.co.".into(),
        _ => "Check --supabase-url and that the gateway serves /rest/v1/.".into(),
    };
    Diagnosis { kind, message, fix }
}

fn timeout_diagnosis(p: &ConnParams, timeout: Duration) -> Diagnosis {
    Diagnosis {
        kind: FailureKind::Timeout,
        message: format!(
            "no answer from {}:{} within {}s",
            p.host,
            p.port,
            timeout.as_secs()
        ),
        fix: "Check the host and port, any firewall or security group in between, and whether the server is overloaded; raise connect_timeout if the network is slow.".into(),
    }
}

/// Classifies a driver error for the connection `p` and says what to do.
pub fn diagnose_pg(e: &tokio_postgres::Error, p: &ConnParams) -> Diagnosis {
    let (kind, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let msg = db.message();
            let lower = msg.to_ascii_lowercase();
            let kind = match code {
                "28P01" => FailureKind::WrongPassword,
                "53300" => FailureKind::TooManyConnections,
                "3D000" => FailureKind::DatabaseMissing,
                "57P03" => FailureKind::ServerStarting,
                "28000" if lower.contains("no pg_hba.conf entry") => {
                    if lower.contains("no encryption") {
                        FailureKind::TlsRequired
                    } else {
                        FailureKind::NotAllowed
                    }
                }
                "28000" if lower.starts_with("role") && lower.contains("does not exist") => {
                    FailureKind::RoleMissing
                }
                _ => classify_text(&lower, &p.host),
            };
            (kind, format!("{msg} (SQLSTATE {code})"))
        }
        None => {
            let text = super::pool::describe_pg_error(e);
            (classify_text(&text.to_ascii_lowercase(), &p.host), text)
        }
    };
    Diagnosis {
        kind,
        fix: fix_for(kind, p),
        message,
    }
}

/// Classifies a failure from its text (lower case) when there is no SQLSTATE.
pub fn classify_text(lower: &str, host: &str) -> FailureKind {
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["password authentication failed", "invalid password"]) {
        FailureKind::WrongPassword
    } else if has(&["password missing", "no password supplied"]) {
        FailureKind::PasswordMissing
    } else if has(&["tenant or user not found"]) {
        FailureKind::TenantNotFound
    } else if has(&[
        "too many connections",
        "remaining connection slots",
        "max_client_conn",
        "no more connections allowed",
    ]) {
        FailureKind::TooManyConnections
    } else if lower.contains("database") && lower.contains("does not exist") {
        FailureKind::DatabaseMissing
    } else if lower.starts_with("role") && lower.contains("does not exist") {
        FailureKind::RoleMissing
    } else if has(&[
        "no encryption",
        "ssl required",
        "ssl connection is required",
        "requires ssl",
        "sslmode=require",
    ]) {
        FailureKind::TlsRequired
    } else if has(&["server does not support tls", "server does not support ssl"]) {
        FailureKind::TlsUnavailable
    } else if has(&[
        "certificate",
        "invalid peer",
        "unknownissuer",
        "notvalidforname",
    ]) {
        FailureKind::TlsCertificate
    } else if has(&["connection refused"]) {
        FailureKind::ConnectionRefused
    } else if has(&[
        "failed to lookup",
        "name or service not known",
        "temporary failure in name resolution",
        "no address associated",
        "nodename nor servname",
        "no such host",
        "dns error",
        "unknown host",
    ]) {
        if is_docker_service_name(host) {
            FailureKind::DockerHostname
        } else {
            FailureKind::HostNotFound
        }
    } else if has(&[
        "network is unreachable",
        "no route to host",
        "host is unreachable",
    ]) {
        FailureKind::Unreachable
    } else if has(&["timed out", "timeout", "deadline has elapsed"]) {
        FailureKind::Timeout
    } else if has(&["starting up", "shutting down", "in recovery mode"]) {
        FailureKind::ServerStarting
    } else {
        FailureKind::Other
    }
}

/// Service names of the Supabase Docker Compose setup that only resolve
/// inside its network.
fn is_docker_service_name(host: &str) -> bool {
    matches!(
        host,
        "db" | "supabase-db" | "supabase_db" | "supavisor" | "supabase-pooler" | "kong" | "rest"
    )
}

/// What to do about a failure of kind `kind` on the connection `p`.
pub fn fix_for(kind: FailureKind, p: &ConnParams) -> String {
    let user = p.user_or_default();
    let db = p.dbname.as_deref().unwrap_or(user);
    match kind {
        FailureKind::InvalidUrl => "Use postgres://user:password@host:port/database (percent-encode special characters in the password) or key=value pairs.".into(),
        FailureKind::TlsSetup => "Fix sslrootcert (a readable PEM file with the CA certificate), or use sslmode=require to encrypt without verification.".into(),
        FailureKind::WrongPassword => {
            let mut s = format!(
                "The password for user `{user}` is wrong: check it in the URL (percent-encode characters like @ : / ? #). \
                 On self-hosted Supabase, POSTGRES_PASSWORD in .env only takes effect when the database volume is first created: \
                 if you changed it afterwards, the database still expects the old password. Use the old password, or set the new one \
                 inside the container (docker compose exec db psql -U supabase_admin -c \"ALTER ROLE postgres WITH PASSWORD '...'\"), \
                 or recreate the volume (this deletes all data)."
            );
            if p.is_pooled() {
                s.push_str(" Through the pooler, the user must be postgres.<tenant> (project ref / POOLER_TENANT_ID).");
            }
            s
        }
        FailureKind::PasswordMissing => format!(
            "The server asks for a password for `{user}` and the URL has none: use postgres://{user}:PASSWORD@{}:{}/{db}.",
            p.host, p.port
        ),
        FailureKind::RoleMissing => {
            if user.starts_with("postgres.") && p.port != super::connstr::POOLED_PORT {
                "The role does not exist: `postgres.<tenant>` users only work through the pooler (port 6543); direct connections use `postgres`.".into()
            } else {
                format!("The role `{user}` does not exist on this server: check the user name (Supabase: `postgres`).")
            }
        }
        FailureKind::TenantNotFound => "The pooler (Supavisor) does not know this tenant: the user must be postgres.<project ref> (self-hosted: postgres.<POOLER_TENANT_ID>).".into(),
        FailureKind::DockerHostname => format!(
            "`{}` is a service name inside the Supabase Docker network and does not resolve outside it: use localhost (or the server's address) with the published port (5432 direct, 6543 pooler), or run this server inside the same Docker network.",
            p.host
        ),
        FailureKind::HostNotFound => format!(
            "The host `{}` does not resolve: check its spelling and your DNS.{}",
            p.host,
            if p.host.ends_with(".supabase.co") {
                " Supabase direct hosts (db.<ref>.supabase.co) have only IPv6 addresses: on an IPv4-only network use the pooler URL (Connect > Session or Transaction pooler)."
            } else {
                ""
            }
        ),
        FailureKind::Unreachable => format!(
            "No route to `{}`.{}",
            p.host,
            if p.host.ends_with(".supabase.co") {
                " Supabase direct hosts are IPv6-only: on an IPv4-only network use the pooler URL (Supavisor) from the dashboard."
            } else {
                " Check the network path and firewall."
            }
        ),
        FailureKind::ConnectionRefused => format!(
            "Nothing listens at {}:{}: check the database runs (self-hosted: docker compose ps) and the port (5432 direct, 6543 pooler); with Docker the port must be published to the host.",
            p.host, p.port
        ),
        FailureKind::TlsRequired => format!(
            "The server only accepts TLS connections and this URL has sslmode={}: use sslmode=require (or remove sslmode: the default, prefer, uses TLS when the server offers it).",
            p.sslmode.name()
        ),
        FailureKind::TlsUnavailable => format!(
            "sslmode={} needs TLS but the server does not offer it: enable ssl on the server, or use sslmode=prefer (plain connection when TLS is not available).",
            p.sslmode.name()
        ),
        FailureKind::TlsCertificate => format!(
            "The server certificate did not verify for sslmode={}: pass sslrootcert=/path/to/ca.pem with the CA that signed it (Supabase: download it under Database Settings > SSL), check that the host name matches the certificate (or use verify-ca), or use sslmode=require to encrypt without verification.",
            p.sslmode.name()
        ),
        FailureKind::TooManyConnections => "The server (or this role's CONNECTION LIMIT) has no free connection slot: close idle clients (SELECT pid, usename, application_name, state FROM pg_stat_activity), lower --pool-size, or connect through the pooler (port 6543).".into(),
        FailureKind::DatabaseMissing => format!(
            "The database `{db}` does not exist: check the name after the last / in the URL (Supabase's database is `postgres`)."
        ),
        FailureKind::NotAllowed => format!(
            "pg_hba.conf has no rule that lets `{user}` connect to `{db}` from this address: add one on the server (then SELECT pg_reload_conf()), or connect from an allowed address."
        ),
        FailureKind::ServerStarting => "The server is starting up, shutting down or recovering: wait a moment and retry.".into(),
        FailureKind::Timeout => "Check the host and port, any firewall or security group in between, and whether the server is overloaded; raise connect_timeout if the network is slow.".into(),
        FailureKind::KeyRejected => "Use the instance's service_role key (SERVICE_ROLE_KEY in the .env, or Project Settings > API).".into(),
        FailureKind::HttpError => "Check that the URL points at the Supabase gateway and that its services run.".into(),
        FailureKind::Other => "Run `supabase-mcp doctor` for a step-by-step check of the connection.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> ConnParams {
        ConnParams::parse(s).unwrap()
    }

    #[test]
    fn classifies_driver_texts() {
        let c = |t: &str, h: &str| classify_text(&t.to_ascii_lowercase(), h);
        assert_eq!(
            c(
                "error connecting to server: Connection refused (os error 111)",
                "localhost"
            ),
            FailureKind::ConnectionRefused
        );
        assert_eq!(
            c(
                "error connecting to server: failed to lookup address information: Name or service not known",
                "db"
            ),
            FailureKind::DockerHostname
        );
        assert_eq!(
            c(
                "failed to lookup address information: Temporary failure in name resolution",
                "example.invalid"
            ),
            FailureKind::HostNotFound
        );
        assert_eq!(
            c(
                "error performing TLS handshake: server does not support TLS",
                "h"
            ),
            FailureKind::TlsUnavailable
        );
        assert_eq!(
            c(
                "error performing TLS handshake: invalid peer certificate: UnknownIssuer",
                "h"
            ),
            FailureKind::TlsCertificate
        );
        assert_eq!(
            c("invalid configuration: password missing", "h"),
            FailureKind::PasswordMissing
        );
        assert_eq!(
            c("error connecting to server: timed out", "h"),
            FailureKind::Timeout
        );
        assert_eq!(
            c("Tenant or user not found", "h"),
            FailureKind::TenantNotFound
        );
        assert_eq!(c("something else", "h"), FailureKind::Other);
    }

    #[test]
    fn fixes_name_the_likely_cause() {
        let p = params("postgres://postgres:pw@db:5432/postgres");
        assert!(fix_for(FailureKind::DockerHostname, &p).contains("localhost"));
        assert!(fix_for(FailureKind::WrongPassword, &p).contains("POSTGRES_PASSWORD"));
        let p = params("postgres://postgres:pw@db.abc.supabase.co:5432/postgres");
        assert!(fix_for(FailureKind::HostNotFound, &p).contains("IPv6"));
        let p = params("postgres://postgres.abc:pw@h:5432/postgres?sslmode=disable");
        assert!(fix_for(FailureKind::TlsRequired, &p).contains("sslmode=disable"));
        assert!(fix_for(FailureKind::WrongPassword, &p).contains("postgres.<tenant>"));
        let p = params("postgres://postgres.abc:pw@h:5432/postgres");
        assert!(fix_for(FailureKind::RoleMissing, &p).contains("pooler"));
        assert!(fix_for(FailureKind::DatabaseMissing, &p).contains("`postgres`"));
    }
}
