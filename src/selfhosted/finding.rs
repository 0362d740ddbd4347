//! What a check of a `.env` reports: findings with a severity, the variable,
//! its current value (masked when secret), what is expected, how to fix it,
//! and whether `fix_env` can apply the fix; and the report that sums them up.

use schemars::JsonSchema;
use serde::Serialize;

/// How bad a finding is. `error`: Supabase will not work or is insecure;
/// `warning`: likely to break something or weaken security; `info`: worth
/// knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Severity::Error),
            "warning" | "warn" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

/// What `fix_env` does for a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixAction {
    /// A new random value for a secret variable (keys re-signed when it is
    /// `JWT_SECRET`).
    Regenerate(String),
    /// New `ANON_KEY` and `SERVICE_ROLE_KEY` signed with `JWT_SECRET`.
    ResignKeys,
    /// `http://` → `https://` in a URL variable (local hosts kept).
    Https(String),
    /// Set a variable to a fixed value (a default, or `true`).
    Set(String, String),
}

/// One problem (or note) about the file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Finding {
    /// Stable id: `<rule>:<VARIABLE>` (or `<rule>` when no variable applies).
    pub id: String,
    pub rule: &'static str,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// 1-based line of the variable in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
    /// The current value; secrets are masked (first characters and length).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub expected: String,
    pub fix: String,
    /// True when `fix_env` can apply the fix.
    pub fixable: bool,
    #[serde(skip)]
    #[schemars(skip)]
    pub action: Option<FixAction>,
}

impl Finding {
    pub fn new(rule: &'static str, severity: Severity, variable: Option<&str>) -> Finding {
        let id = match variable {
            Some(v) => format!("{rule}:{v}"),
            None => rule.to_owned(),
        };
        Finding {
            id,
            rule,
            severity,
            variable: variable.map(str::to_owned),
            line: None,
            message: String::new(),
            current: None,
            expected: String::new(),
            fix: String::new(),
            fixable: false,
            action: None,
        }
    }

    pub fn line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.message = m.into();
        self
    }
    pub fn current(mut self, c: impl Into<String>) -> Self {
        self.current = Some(c.into());
        self
    }
    pub fn expected(mut self, e: impl Into<String>) -> Self {
        self.expected = e.into();
        self
    }
    pub fn fix(mut self, f: impl Into<String>) -> Self {
        self.fix = f.into();
        self
    }
    pub fn action(mut self, a: FixAction) -> Self {
        self.fixable = true;
        self.action = Some(a);
        self
    }
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
}

/// The result of a check.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// No errors (warnings and notes may remain).
    pub valid: bool,
    pub summary: Summary,
    /// Errors first, then warnings, then notes; within a severity in the
    /// order a setup should address them.
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn new(mut findings: Vec<Finding>) -> Report {
        findings.sort_by_key(|f| (f.severity, step(f), f.line.unwrap_or(usize::MAX)));
        let mut summary = Summary::default();
        for f in &findings {
            match f.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.info += 1,
            }
        }
        Report {
            valid: summary.errors == 0,
            summary,
            findings,
        }
    }

    /// The exit code of `env check`: 0 clean (notes only), 1 warnings, 2 errors.
    pub fn exit_code(&self) -> u8 {
        if self.summary.errors > 0 {
            2
        } else if self.summary.warnings > 0 {
            1
        } else {
            0
        }
    }
}

/// The setup order: project name, JWT secret, API keys, database password,
/// other secrets, SMTP, protocols and domains, then the rest.
fn step(f: &Finding) -> u8 {
    if f.variable.as_deref() == Some("JWT_SECRET") {
        return 1;
    }
    match f.rule {
        "project_name" | "container_prefix" => 0,
        "jwt_secret_short" => 1,
        r if r.starts_with("jwt_") || r == "dokploy_broken_keys" || r == "demo_keys" => 2,
        "default_secret"
        | "weak_secret"
        | "secret_length"
        | "password_url_chars"
        | "compose_interpolation"
        | "dashboard_password_digits" => 3,
        "fake_smtp" | "smtp_port" => 4,
        "http_url" | "mixed_protocols" | "invalid_url" => 5,
        "missing_variable" | "logflare_mode" => 6,
        _ => 7,
    }
}
