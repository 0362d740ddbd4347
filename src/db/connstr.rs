//! PostgreSQL connection strings: parsing (URLs, libpq `key=value` strings,
//! and component variables such as `PGHOST` or the Supabase `.env` names
//! `POSTGRES_HOST`/`POSTGRES_PASSWORD`), building a URL back from components
//! (percent-encoded), a masked display form, and detection of the pooled
//! (Supavisor/PgBouncer transaction mode) endpoint.
//!
//! The parser is our own because `tokio_postgres::Config` does not know the
//! `verify-ca`/`verify-full` SSL modes nor `sslrootcert`; [`ConnParams`]
//! turns into a `tokio_postgres::Config` with [`ConnParams::to_pg_config`].

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::secret::Secret;

/// Default PostgreSQL port (direct connections, and Supavisor session mode).
pub const DIRECT_PORT: u16 = 5432;
/// Port of the Supavisor/PgBouncer transaction-mode pooler on Supabase.
pub const POOLED_PORT: u16 = 6543;

/// A connection string that cannot be used. Messages never quote a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnStrError {
    #[error(
        "the connection string is empty; use postgres://user:password@host:5432/database or `host=... user=... dbname=...`"
    )]
    Empty,
    #[error(
        "unsupported scheme `{0}://`; use postgres:// or postgresql://, or key=value pairs like `host=localhost dbname=postgres`"
    )]
    Scheme(String),
    #[error(
        "not a connection string: expected a postgres:// URL or key=value pairs like `host=localhost port=5432 user=postgres`"
    )]
    Unrecognized,
    #[error("invalid port `{0}`: use a number from 1 to 65535 (5432 direct, 6543 pooled)")]
    Port(String),
    #[error(
        "the quoted value of `{0}` is not terminated: close it with a single quote (escape quotes inside with \\')"
    )]
    Unterminated(String),
    #[error("`{0}` has no value: write it as {0}=value")]
    MissingValue(String),
    #[error("invalid value `{value}` for `{key}`: expected {expected}")]
    InvalidValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("several hosts (`{0}`) are not supported: give a single host")]
    MultipleHosts(String),
    #[error(
        "unknown connection option `{0}`; supported: host, hostaddr, port, user, password, dbname, sslmode, sslrootcert, options, application_name, connect_timeout, channel_binding"
    )]
    UnknownOption(String),
}

/// How TLS is used, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it (no certificate check), else plain. `allow` maps here too.
    #[default]
    Prefer,
    /// TLS always, without certificate verification (unless `sslrootcert` is given: then as `verify-ca`).
    Require,
    /// TLS, the certificate chain must lead to a trusted root; the host name is not checked.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    pub fn parse(value: &str) -> Result<SslMode, ConnStrError> {
        Ok(match value.trim().to_ascii_lowercase().as_str() {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" | "verify_ca" => SslMode::VerifyCa,
            "verify-full" | "verify_full" => SslMode::VerifyFull,
            _ => {
                return Err(ConnStrError::InvalidValue {
                    key: "sslmode".into(),
                    value: value.to_owned(),
                    expected: "disable, prefer, require, verify-ca or verify-full",
                });
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The mode tokio-postgres negotiates with (verification is the connector's job).
    pub fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// `channel_binding`, passed through to the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    Disable,
    Prefer,
    Require,
}

/// Options libpq (or Prisma, common in copied Supabase URLs) knows and this
/// client accepts without acting on them; they are listed in
/// [`ConnParams::ignored`] so callers can warn.
const IGNORED_OPTIONS: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcompression",
    "sslsni",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requiressl",
    "gssencmode",
    "gsslib",
    "gssdelegation",
    "krbsrvname",
    "requirepeer",
    "require_auth",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "client_encoding",
    "fallback_application_name",
    "service",
    "passfile",
    "replication",
    "load_balance_hosts",
    // Prisma
    "connection_limit",
    "pool_timeout",
    "schema",
    "statement_cache_size",
    "socket_timeout",
    "sslaccept",
];

/// Why a connection goes through a transaction-mode pooler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PooledReason {
    /// Port 6543.
    Port,
    /// A `postgres.<tenant>` user (Supavisor).
    TenantUser,
    /// `pgbouncer=true` in the URL.
    PgbouncerFlag,
}

impl PooledReason {
    pub fn describe(self) -> &'static str {
        match self {
            PooledReason::Port => "port 6543 is the Supavisor/PgBouncer transaction-mode port",
            PooledReason::TenantUser => "a `postgres.<tenant>` user connects through Supavisor",
            PooledReason::PgbouncerFlag => "the URL says pgbouncer=true",
        }
    }
}

/// The components of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnParams {
    /// Host name, IP address, or a Unix socket directory (starts with `/`).
    pub host: String,
    /// Numeric address to connect to instead of resolving `host`.
    pub hostaddr: Option<IpAddr>,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub dbname: Option<String>,
    pub sslmode: SslMode,
    /// A PEM file of trusted roots, or `system`.
    pub sslrootcert: Option<String>,
    /// Server options, e.g. `-c search_path=public`.
    pub options: Option<String>,
    pub application_name: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub channel_binding: Option<ChannelBinding>,
    /// `pgbouncer=true` (a Prisma flag for transaction-mode poolers).
    pub pgbouncer: bool,
    /// Recognised options this client does not act on.
    pub ignored: Vec<String>,
}

impl Default for ConnParams {
    fn default() -> Self {
        ConnParams {
            host: "localhost".into(),
            hostaddr: None,
            port: DIRECT_PORT,
            user: None,
            password: None,
            dbname: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            options: None,
            application_name: None,
            connect_timeout: None,
            channel_binding: None,
            pgbouncer: false,
            ignored: Vec::new(),
        }
    }
}

impl std::str::FromStr for ConnParams {
    type Err = ConnStrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConnParams::parse(s)
    }
}

impl ConnParams {
    /// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
    pub fn parse(s: &str) -> Result<ConnParams, ConnStrError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ConnStrError::Empty);
        }
        if let Some(pos) = s.find("://") {
            let scheme = &s[..pos];
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
            {
                return match scheme.to_ascii_lowercase().as_str() {
                    "postgres" | "postgresql" => parse_url(&s[pos + 3..]),
                    _ => Err(ConnStrError::Scheme(scheme.to_owned())),
                };
            }
        }
        if s.contains('=') {
            return parse_kv(s);
        }
        Err(ConnStrError::Unrecognized)
    }

    /// Builds parameters from component variables: the libpq ones
    /// (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGOPTIONS`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`) and the
    /// Supabase/Docker `.env` names (`POSTGRES_HOST`, `POSTGRES_PORT`,
    /// `POSTGRES_USER`, `POSTGRES_PASSWORD`, `POSTGRES_DB`); libpq names win.
    /// `None` when neither a host nor a password is set.
    pub fn from_vars(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ConnParams>, ConnStrError> {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()))
        };
        let host = get(&["PGHOST", "POSTGRES_HOST"]);
        let password = get(&["PGPASSWORD", "POSTGRES_PASSWORD"]);
        if host.is_none() && password.is_none() {
            return Ok(None);
        }
        let mut p = ConnParams::default();
        if let Some(h) = host {
            p.set("host", h.trim())?;
        }
        if let Some(port) = get(&["PGPORT", "POSTGRES_PORT"]) {
            p.set("port", port.trim())?;
        }
        p.user = Some(get(&["PGUSER", "POSTGRES_USER"]).unwrap_or_else(|| "postgres".into()));
        p.password = password.map(Secret::new);
        p.dbname = Some(get(&["PGDATABASE", "POSTGRES_DB"]).unwrap_or_else(|| "postgres".into()));
        for (var, key) in [
            ("PGSSLMODE", "sslmode"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGOPTIONS", "options"),
            ("PGAPPNAME", "application_name"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
        ] {
            if let Some(v) = get(&[var]) {
                p.set(key, &v)?;
            }
        }
        Ok(Some(p))
    }

    /// [`ConnParams::from_vars`] over the process environment.
    pub fn from_env() -> Result<Option<ConnParams>, ConnStrError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Applies one option (`key=value` pair or URL query parameter).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConnStrError> {
        let invalid = |expected: &'static str| ConnStrError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            expected,
        };
        match key {
            "host" => {
                if value.contains(',') {
                    return Err(ConnStrError::MultipleHosts(value.to_owned()));
                }
                if !value.is_empty() {
                    self.host = value.to_owned();
                }
            }
            "hostaddr" => {
                if value.contains(',') {
                    return Err(ConnStrError::MultipleHosts(value.to_owned()));
                }
                self.hostaddr = Some(value.parse().map_err(|_| invalid("an IP address"))?);
            }
            "port" => {
                if value.contains(',') {
                    return Err(ConnStrError::MultipleHosts(value.to_owned()));
                }
                self.port = parse_port(value)?;
            }
            "user" => self.user = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "password" => self.password = Some(Secret::new(value)).filter(|v| !v.is_empty()),
            "dbname" => self.dbname = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "sslmode" => self.sslmode = SslMode::parse(value)?,
            "sslrootcert" => self.sslrootcert = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "options" => self.options = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "application_name" => {
                self.application_name = Some(value.to_owned()).filter(|v| !v.is_empty())
            }
            "connect_timeout" => {
                let secs: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid("a number of seconds"))?;
                self.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs as u64));
            }
            "channel_binding" => {
                self.channel_binding = Some(match value {
                    "disable" => ChannelBinding::Disable,
                    "prefer" => ChannelBinding::Prefer,
                    "require" => ChannelBinding::Require,
                    _ => return Err(invalid("disable, prefer or require")),
                })
            }
            "pgbouncer" => {
                self.pgbouncer = matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
            }
            k if IGNORED_OPTIONS.contains(&k) => {
                if k == "requiressl" && value == "1" && self.sslmode == SslMode::Prefer {
                    self.sslmode = SslMode::Require;
                }
                if !self.ignored.iter().any(|i| i == k) {
                    self.ignored.push(k.to_owned());
                }
            }
            other => return Err(ConnStrError::UnknownOption(other.to_owned())),
        }
        Ok(())
    }

    /// The user, `postgres` when none is given.
    pub fn user_or_default(&self) -> &str {
        self.user.as_deref().unwrap_or("postgres")
    }

    /// True when `host` is a Unix socket directory.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// Why this endpoint is a transaction-mode pooler, if it is one.
    pub fn pooled_reason(&self) -> Option<PooledReason> {
        if self.port == POOLED_PORT {
            Some(PooledReason::Port)
        } else if self
            .user
            .as_deref()
            .and_then(|u| u.strip_prefix("postgres."))
            .is_some_and(|tenant| !tenant.is_empty())
        {
            Some(PooledReason::TenantUser)
        } else if self.pgbouncer {
            Some(PooledReason::PgbouncerFlag)
        } else {
            None
        }
    }

    /// True for a transaction-mode pooler: no named prepared statements, no
    /// session state across transactions.
    pub fn is_pooled(&self) -> bool {
        self.pooled_reason().is_some()
    }

    /// The URL form, password included (hence a [`Secret`]).
    pub fn to_url(&self) -> Secret {
        Secret::new(self.render(self.password.as_ref().map(|p| encode(p.expose()))))
    }

    /// The URL form with the password shown as `***`: safe for messages.
    pub fn masked(&self) -> String {
        self.render(self.password.as_ref().map(|_| "***".to_owned()))
    }

    fn render(&self, password: Option<String>) -> String {
        let mut out = String::from("postgres://");
        let user = self.user.as_deref().map(encode);
        if user.is_some() || password.is_some() {
            out.push_str(user.as_deref().unwrap_or(""));
            if let Some(pw) = password {
                out.push(':');
                out.push_str(&pw);
            }
            out.push('@');
        }
        let mut query: Vec<(&str, String)> = Vec::new();
        if self.is_socket() {
            query.push(("host", self.host.clone()));
        } else if self.host.contains(':') {
            let _ = write!(out, "[{}]", self.host);
        } else {
            out.push_str(&encode(&self.host));
        }
        if self.port != DIRECT_PORT || !self.is_socket() {
            let _ = write!(out, ":{}", self.port);
        }
        out.push('/');
        if let Some(db) = &self.dbname {
            out.push_str(&encode(db));
        }
        if let Some(a) = self.hostaddr {
            query.push(("hostaddr", a.to_string()));
        }
        if self.sslmode != SslMode::Prefer {
            query.push(("sslmode", self.sslmode.name().to_owned()));
        }
        if let Some(r) = &self.sslrootcert {
            query.push(("sslrootcert", r.clone()));
        }
        if let Some(o) = &self.options {
            query.push(("options", o.clone()));
        }
        if let Some(a) = &self.application_name {
            query.push(("application_name", a.clone()));
        }
        if let Some(t) = self.connect_timeout {
            query.push(("connect_timeout", t.as_secs().to_string()));
        }
        if let Some(cb) = self.channel_binding {
            let v = match cb {
                ChannelBinding::Disable => "disable",
                ChannelBinding::Prefer => "prefer",
                ChannelBinding::Require => "require",
            };
            query.push(("channel_binding", v.to_owned()));
        }
        if self.pgbouncer {
            query.push(("pgbouncer", "true".to_owned()));
        }
        for (i, (k, v)) in query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&encode(v));
        }
        out
    }

    /// The driver configuration. TLS verification (`verify-ca`,
    /// `verify-full`, `sslrootcert`) is applied by the connector of
    /// [`super::tls`], not here.
    pub fn to_pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(a) = self.hostaddr {
            c.hostaddr(a);
        }
        c.user(self.user_or_default());
        if let Some(p) = &self.password {
            c.password(p.expose());
        }
        if let Some(d) = &self.dbname {
            c.dbname(d);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        if let Some(a) = &self.application_name {
            c.application_name(a);
        }
        if let Some(t) = self.connect_timeout {
            c.connect_timeout(t);
        }
        if let Some(cb) = self.channel_binding {
            c.channel_binding(match cb {
                ChannelBinding::Disable => tokio_postgres::config::ChannelBinding::Disable,
                ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
                ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
            });
        }
        c.ssl_mode(self.sslmode.negotiation());
        c
    }
}

fn parse_port(value: &str) -> Result<u16, ConnStrError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(DIRECT_PORT);
    }
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ConnStrError::Port(v.to_owned())),
    }
}

/// `rest` is everything after `scheme://`.
fn parse_url(rest: &str) -> Result<ConnParams, ConnStrError> {
    let mut p = ConnParams::default();
    // Credentials end at the last `@` before the query; a password with an
    // unencoded `@` (a common copy-paste) still parses.
    let before_query = rest.find('?').map_or(rest, |q| &rest[..q]);
    let at = before_query.rfind('@').or_else(|| rest.rfind('@'));
    let (userinfo, hostpart) = match at {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    if let Some(ui) = userinfo {
        let (u, pw) = match ui.find(':') {
            Some(c) => (&ui[..c], Some(&ui[c + 1..])),
            None => (ui, None),
        };
        let u = decode(u);
        if !u.is_empty() {
            p.user = Some(u);
        }
        if let Some(pw) = pw {
            let pw = decode(pw);
            if !pw.is_empty() {
                p.password = Some(Secret::new(pw));
            }
        }
    }
    let (before_q, query) = match hostpart.find('?') {
        Some(q) => (&hostpart[..q], Some(&hostpart[q + 1..])),
        None => (hostpart, None),
    };
    let (authority, path) = match before_q.find('/') {
        Some(s) => (&before_q[..s], Some(&before_q[s + 1..])),
        None => (before_q, None),
    };
    if authority.contains(',') {
        return Err(ConnStrError::MultipleHosts(authority.to_owned()));
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let Some(end) = v6.find(']') else {
            return Err(ConnStrError::InvalidValue {
                key: "host".into(),
                value: authority.to_owned(),
                expected: "an IPv6 address in brackets, like [::1]:5432",
            });
        };
        p.host = v6[..end].to_owned();
        if let Some(port) = v6[end + 1..].strip_prefix(':') {
            p.port = parse_port(port)?;
        }
    } else {
        let (h, port) = match authority.rfind(':') {
            Some(c) => (&authority[..c], Some(&authority[c + 1..])),
            None => (authority, None),
        };
        let h = decode(h);
        if !h.is_empty() {
            p.host = h;
        }
        if let Some(port) = port {
            p.port = parse_port(port)?;
        }
    }
    if let Some(db) = path.map(decode).filter(|d| !d.is_empty()) {
        p.dbname = Some(db);
    }
    if let Some(q) = query {
        for pair in q.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = match pair.find('=') {
                Some(e) => (&pair[..e], &pair[e + 1..]),
                None => return Err(ConnStrError::MissingValue(decode(pair))),
            };
            p.set(&decode(k), &decode(v))?;
        }
    }
    Ok(p)
}

/// libpq `key=value` pairs separated by spaces; values may be single-quoted
/// (`password='a b'`), with `\'` and `\\` escapes.
fn parse_kv(s: &str) -> Result<ConnParams, ConnStrError> {
    let mut p = ConnParams::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(ConnStrError::MissingValue(key));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(ConnStrError::Unterminated(key));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        p.set(&key, &value)?;
    }
    Ok(p)
}

/// Percent-encodes everything but the URL "unreserved" characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-decodes; malformed escapes are kept as they are.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parses_a_url_with_an_encoded_password_and_params() {
        let p = ConnParams::parse(
            "postgresql://postgres:p%40ss%2Fw%3Ard@db.example.co:5432/postgres?sslmode=verify-full&sslrootcert=/etc/ca.pem&options=-c%20search_path%3Dpublic",
        )
        .unwrap();
        assert_eq!(p.host, "db.example.co");
        assert_eq!(p.port, 5432);
        assert_eq!(p.user.as_deref(), Some("postgres"));
        assert_eq!(p.password.as_ref().unwrap().expose(), "p@ss/w:rd");
        assert_eq!(p.dbname.as_deref(), Some("postgres"));
        assert_eq!(p.sslmode, SslMode::VerifyFull);
        assert_eq!(p.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(p.options.as_deref(), Some("-c search_path=public"));
        assert!(!p.is_pooled());
    }

    #[test]
    fn unencoded_at_in_password_still_parses() {
        let p = ConnParams::parse("postgres://postgres:p@ss@localhost/postgres").unwrap();
        assert_eq!(p.password.unwrap().expose(), "p@ss");
        assert_eq!(p.host, "localhost");
        assert_eq!(p.port, 5432);
    }

    #[test]
    fn url_defaults_ipv6_and_socket_hosts() {
        let p = ConnParams::parse("postgres://").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.user.clone()),
            ("localhost", 5432, None)
        );
        let p = ConnParams::parse("postgres://u@[::1]:6000/d").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 6000));
        let p = ConnParams::parse("postgres:///d?host=/var/run/postgresql").unwrap();
        assert!(p.is_socket());
        let p = ConnParams::parse("postgres://%2Ftmp/d").unwrap();
        assert_eq!(p.host, "/tmp");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert_eq!(
            ConnParams::parse("mysql://u@h/d").unwrap_err(),
            ConnStrError::Scheme("mysql".into())
        );
        assert_eq!(
            ConnParams::parse("postgres://u@h:99999/d").unwrap_err(),
            ConnStrError::Port("99999".into())
        );
        assert!(matches!(
            ConnParams::parse("postgres://u@h/d?sslmode=maybe").unwrap_err(),
            ConnStrError::InvalidValue { .. }
        ));
        assert_eq!(
            ConnParams::parse("postgres://u@h/d?sslmdoe=require").unwrap_err(),
            ConnStrError::UnknownOption("sslmdoe".into())
        );
        assert!(matches!(
            ConnParams::parse("postgres://u@h1,h2/d").unwrap_err(),
            ConnStrError::MultipleHosts(_)
        ));
        assert_eq!(ConnParams::parse("  ").unwrap_err(), ConnStrError::Empty);
        assert_eq!(
            ConnParams::parse("just words").unwrap_err(),
            ConnStrError::Unrecognized
        );
    }

    #[test]
    fn errors_never_quote_the_password() {
        let e = ConnParams::parse("postgres://u:s3cretpw@h:bad/d").unwrap_err();
        assert!(!e.to_string().contains("s3cretpw"), "{e}");
        let e = ConnParams::parse("host=h password='s3cretpw").unwrap_err();
        assert!(!e.to_string().contains("s3cretpw"), "{e}");
    }

    #[test]
    fn parses_key_value_strings() {
        let p = ConnParams::parse(
            "host=10.0.0.5 port = 6543 user=postgres.abcdefghijklmnopqrst password='a b\\'c' dbname=postgres sslmode=require",
        )
        .unwrap();
        assert_eq!(p.host, "10.0.0.5");
        assert_eq!(p.port, 6543);
        assert_eq!(p.password.as_ref().unwrap().expose(), "a b'c");
        assert_eq!(p.sslmode, SslMode::Require);
        assert_eq!(p.pooled_reason(), Some(PooledReason::Port));
        let p = ConnParams::parse("host=h password=''").unwrap();
        assert!(p.password.is_none());
        assert_eq!(
            ConnParams::parse("host=h port").unwrap_err(),
            ConnStrError::MissingValue("port".into())
        );
        assert_eq!(
            ConnParams::parse("host=h password='x").unwrap_err(),
            ConnStrError::Unterminated("password".into())
        );
    }

    #[test]
    fn reads_component_variables() {
        let vars: HashMap<&str, &str> = [
            ("POSTGRES_HOST", "127.0.0.1"),
            ("POSTGRES_PORT", "5433"),
            ("POSTGRES_PASSWORD", "pa ss@word"),
            ("POSTGRES_DB", "app"),
            ("PGSSLMODE", "disable"),
        ]
        .into_iter()
        .collect();
        let p = ConnParams::from_vars(|k| vars.get(k).map(|v| v.to_string()))
            .unwrap()
            .unwrap();
        assert_eq!(p.host, "127.0.0.1");
        assert_eq!(p.port, 5433);
        assert_eq!(p.user.as_deref(), Some("postgres"));
        assert_eq!(p.dbname.as_deref(), Some("app"));
        assert_eq!(p.sslmode, SslMode::Disable);
        assert_eq!(
            p.to_url().expose(),
            "postgres://postgres:pa%20ss%40word@127.0.0.1:5433/app?sslmode=disable"
        );
        // libpq names win over the .env names.
        let vars: HashMap<&str, &str> =
            [("PGHOST", "pg"), ("POSTGRES_HOST", "db"), ("PGUSER", "me")]
                .into_iter()
                .collect();
        let p = ConnParams::from_vars(|k| vars.get(k).map(|v| v.to_string()))
            .unwrap()
            .unwrap();
        assert_eq!((p.host.as_str(), p.user.as_deref()), ("pg", Some("me")));
        assert!(ConnParams::from_vars(|_| None).unwrap().is_none());
    }

    #[test]
    fn builds_urls_that_parse_back() {
        let p = ConnParams {
            host: "db.host".into(),
            port: 6543,
            user: Some("postgres.tenant".into()),
            password: Some(Secret::new("p@ss w/rd:?&=#%")),
            dbname: Some("my db".into()),
            sslmode: SslMode::VerifyCa,
            sslrootcert: Some("/a b/ca.pem".into()),
            options: Some("-c statement_timeout=5s".into()),
            ..ConnParams::default()
        };
        let url = p.to_url();
        let back = ConnParams::parse(url.expose()).unwrap();
        assert_eq!(back, p);
        assert!(!url.expose().contains("p@ss"));
        let p = ConnParams::parse("postgres:///d?host=/tmp/sock&port=5432").unwrap();
        assert_eq!(ConnParams::parse(p.to_url().expose()).unwrap(), p);
        let p = ConnParams::parse("postgres://u@[::1]:5432/d").unwrap();
        assert_eq!(ConnParams::parse(p.to_url().expose()).unwrap(), p);
    }

    #[test]
    fn masked_form_hides_the_password() {
        let p = ConnParams::parse("postgres://postgres:supersecret@h:5432/postgres").unwrap();
        assert_eq!(p.masked(), "postgres://postgres:***@h:5432/postgres");
        let p = ConnParams::parse("host=h user=u").unwrap();
        assert_eq!(p.masked(), "postgres://u@h:5432/");
    }

    #[test]
    fn detects_the_pooled_endpoint() {
        let pooled = |s: &str| ConnParams::parse(s).unwrap().pooled_reason();
        assert_eq!(pooled("postgres://postgres:x@h:5432/postgres"), None);
        assert_eq!(
            pooled("postgres://postgres:x@h:6543/postgres"),
            Some(PooledReason::Port)
        );
        assert_eq!(
            pooled(
                "postgres://postgres.abcdefghijklmnopqrst:x@aws-0-eu-central-1.pooler.supabase.com:5432/postgres"
            ),
            Some(PooledReason::TenantUser)
        );
        assert_eq!(
            pooled("postgres://postgres:x@h:5432/postgres?pgbouncer=true&connection_limit=1"),
            Some(PooledReason::PgbouncerFlag)
        );
        assert_eq!(pooled("postgres://postgres.:x@h/postgres"), None);
    }

    #[test]
    fn ignored_options_are_listed_and_sslmodes_map() {
        let p = ConnParams::parse("postgres://h/d?sslcert=/c&keepalives=1&sslmode=allow").unwrap();
        assert_eq!(p.ignored, vec!["sslcert", "keepalives"]);
        assert_eq!(p.sslmode, SslMode::Prefer);
        use tokio_postgres::config::SslMode as Pg;
        assert_eq!(SslMode::VerifyFull.negotiation(), Pg::Require);
        assert_eq!(SslMode::Disable.negotiation(), Pg::Disable);
        let c = ConnParams::parse("postgres://u:pw@h:1/d?application_name=x&connect_timeout=3")
            .unwrap()
            .to_pg_config();
        assert_eq!(c.get_user(), Some("u"));
        assert_eq!(c.get_dbname(), Some("d"));
        assert_eq!(c.get_ports(), &[1]);
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(c.get_application_name(), Some("x"));
    }
}
