//! The checks of a self-hosted Supabase `.env`, one module per family:
//! secrets (`secrets`), the JWT API keys (`keys`), public URLs (`urls`),
//! SMTP (`smtp`), required variables and file syntax (`required`),
//! infrastructure values that must stay as the template has them
//! (`infra`), and project name / container prefix (`naming`).

mod infra;
mod keys;
mod naming;
mod required;
mod secrets;
mod smtp;
mod urls;

use std::collections::HashMap;

use super::envfile::EnvFile;
use super::finding::{Finding, Report};
use super::mask;

/// What a check needs besides the file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A project name to check as well (the Dokploy application name).
    pub project_name: Option<String>,
    /// The time keys are judged at (Unix seconds; default: now).
    pub now: Option<i64>,
}

/// The file with its values resolved as Compose reads them.
pub(crate) struct Context<'a> {
    pub file: &'a EnvFile,
    vars: HashMap<String, String>,
    pub now: i64,
    pub opts: &'a Options,
}

impl<'a> Context<'a> {
    fn new(file: &'a EnvFile, opts: &'a Options) -> Context<'a> {
        Context {
            file,
            vars: file.resolved(),
            now: opts.now.unwrap_or_else(super::jwt::now),
            opts,
        }
    }

    /// The value Compose sees, when set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// True when the variable is assigned at all (even empty).
    pub fn has(&self, key: &str) -> bool {
        self.vars.contains_key(key)
    }

    pub fn line(&self, key: &str) -> Option<usize> {
        self.file.get(key).map(|a| a.line)
    }

    /// The value as reports show it (masked when secret).
    pub fn shown(&self, key: &str) -> Option<String> {
        self.vars.get(key).map(|v| mask::shown(key, v))
    }

    /// Every variable name with its resolved value, in file order.
    pub fn vars_in_order(&self) -> Vec<(&str, &str)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for a in self.file.assignments() {
            if seen.insert(a.key.as_str())
                && let Some(v) = self.vars.get(&a.key)
            {
                out.push((a.key.as_str(), v.as_str()));
            }
        }
        out
    }

    /// A finding about `key`, with its line and shown value filled in.
    pub fn finding(
        &self,
        rule: &'static str,
        severity: super::finding::Severity,
        key: &str,
    ) -> Finding {
        let f = Finding::new(rule, severity, Some(key)).line(self.line(key));
        match self.shown(key) {
            Some(v) => f.current(v),
            None => f,
        }
    }
}

/// Runs every check.
pub fn validate(file: &EnvFile, opts: &Options) -> Report {
    let ctx = Context::new(file, opts);
    let mut findings = Vec::new();
    findings.extend(naming::check(&ctx));
    findings.extend(secrets::check(&ctx));
    findings.extend(keys::check(&ctx));
    findings.extend(urls::check(&ctx));
    findings.extend(smtp::check(&ctx));
    findings.extend(required::check(&ctx));
    findings.extend(infra::check(&ctx));
    Report::new(findings)
}

/// Every rule name, for argument checks and documentation.
pub const RULES: &[&str] = &[
    "project_name",
    "container_prefix",
    "template_default",
    "jwt_secret_short",
    "default_secret",
    "weak_secret",
    "secret_length",
    "password_url_chars",
    "compose_interpolation",
    "dashboard_password_digits",
    "jwt_invalid",
    "jwt_signature",
    "jwt_role",
    "jwt_issuer",
    "jwt_claims",
    "jwt_expired",
    "jwt_expiring",
    "jwt_keys_identical",
    "dokploy_broken_keys",
    "demo_keys",
    "http_url",
    "invalid_url",
    "mixed_protocols",
    "fake_smtp",
    "smtp_port",
    "missing_variable",
    "logflare_mode",
    "duplicate_variable",
    "syntax",
    "infrastructure_changed",
    "invalid_port",
    "port_conflict",
];

#[cfg(test)]
mod tests;
