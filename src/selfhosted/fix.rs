//! Applying the fixes of chosen findings to a copy of the parsed file: new
//! secrets where the fix is a new secret (and the API keys re-signed
//! whenever `JWT_SECRET` changes, so they always match), `https://` for
//! public URLs, template values for infrastructure variables. Only the
//! values change; comments, order and quoting stay. The list of changes
//! shows secrets masked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::envfile::EnvFile;
use super::finding::{FixAction, Report};
use super::jwt::{self, JwtError};
use super::mask;
use super::protocols;
use super::rules::RULES;
use super::secrets::{self, SecretsError};
use super::strength;

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("nothing is selected")]
    NothingSelected,
    #[error("unknown rule(s): {0}")]
    UnknownRule(String),
    #[error("this file has no finding with id(s) {0}")]
    UnknownId(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Jwt(#[from] JwtError),
}

/// Which findings to fix: by id, by rule, or every fixable one.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub ids: Vec<String>,
    pub rules: Vec<String>,
    pub all: bool,
}

/// One changed or added variable.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Change {
    pub line: usize,
    pub variable: String,
    /// `changed` or `added`.
    pub kind: &'static str,
    /// The old value, masked when secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The new value, masked when secret.
    pub after: String,
    /// The findings this change fixes.
    pub because: Vec<String>,
}

/// A selected finding that was not applied.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// The fixed file and what happened.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: EnvFile,
    pub changes: Vec<Change>,
    pub applied: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// What the changes mean for a running deployment.
    pub notes: Vec<String>,
}

/// Checks a selection against the rules and the report's findings.
pub fn check_selection(report: &Report, sel: &Selection) -> Result<(), FixError> {
    if !sel.all && sel.ids.is_empty() && sel.rules.is_empty() {
        return Err(FixError::NothingSelected);
    }
    let unknown: Vec<&str> = sel
        .rules
        .iter()
        .map(String::as_str)
        .filter(|r| !RULES.contains(r))
        .collect();
    if !unknown.is_empty() {
        return Err(FixError::UnknownRule(unknown.join(", ")));
    }
    let missing: Vec<&str> = sel
        .ids
        .iter()
        .map(String::as_str)
        .filter(|id| !report.findings.iter().any(|f| f.id == *id))
        .collect();
    if !missing.is_empty() {
        return Err(FixError::UnknownId(missing.join(", ")));
    }
    Ok(())
}

/// True when `JWT_SECRET` can sign keys as it is.
fn usable_jwt_secret(v: Option<&str>) -> bool {
    v.is_some_and(|s| s.len() >= 32 && strength::weakness(s).is_none())
}

/// Applies the fixes of the selected findings of `report` (made from
/// `file`) to a copy of `file`. Keys are signed valid for `years`.
pub fn apply(
    file: &EnvFile,
    report: &Report,
    sel: &Selection,
    years: u32,
) -> Result<Outcome, FixError> {
    check_selection(report, sel)?;
    jwt::validity(years)?;
    let selected = report
        .findings
        .iter()
        .filter(|f| sel.all || sel.ids.contains(&f.id) || sel.rules.iter().any(|r| r == f.rule));
    let mut regen: BTreeSet<String> = BTreeSet::new();
    let mut https: BTreeSet<String> = BTreeSet::new();
    let mut sets: BTreeMap<String, String> = BTreeMap::new();
    let mut resign = false;
    let mut because: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut applied = Vec::new();
    let mut skipped = Vec::new();
    for f in selected {
        let Some(action) = &f.action else {
            if !sel.all {
                skipped.push(Skipped {
                    id: f.id.clone(),
                    reason: format!("not automatic: {}", f.fix),
                });
            }
            continue;
        };
        applied.push(f.id.clone());
        match action {
            FixAction::Regenerate(v) => {
                regen.insert(v.clone());
                because.entry(v.clone()).or_default().push(f.id.clone());
            }
            FixAction::ResignKeys => {
                resign = true;
                for v in ["ANON_KEY", "SERVICE_ROLE_KEY"] {
                    because.entry(v.to_owned()).or_default().push(f.id.clone());
                }
            }
            FixAction::Https(v) => {
                https.insert(v.clone());
                because.entry(v.clone()).or_default().push(f.id.clone());
            }
            FixAction::Set(v, value) => {
                sets.insert(v.clone(), value.clone());
                because.entry(v.clone()).or_default().push(f.id.clone());
            }
        }
    }

    let mut out = file.clone();
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let mut new_jwt_secret = None;
    for var in &regen {
        if var == "ANON_KEY" || var == "SERVICE_ROLE_KEY" {
            resign = true;
            continue;
        }
        let value = secrets::generate_for(var)?;
        record(file, &mut out, &because, var, &value, &mut changes);
        if var == "JWT_SECRET" {
            resign = true;
            new_jwt_secret = Some(value);
        }
    }
    if resign {
        let secret = match new_jwt_secret {
            Some(s) => s,
            None => {
                let current = file.resolved_value("JWT_SECRET");
                if usable_jwt_secret(current.as_deref()) {
                    current.unwrap_or_default()
                } else {
                    let s = secrets::generate_for("JWT_SECRET")?;
                    because
                        .entry("JWT_SECRET".into())
                        .or_default()
                        .push("jwt keys need a strong JWT_SECRET".into());
                    record(file, &mut out, &because, "JWT_SECRET", &s, &mut changes);
                    notes.push("JWT_SECRET was missing or weak, so it was replaced as well: keys signed with a weak secret can be forged.".into());
                    s
                }
            }
        };
        let (anon, service) = jwt::sign_pair(secret.as_bytes(), years)?;
        record(file, &mut out, &because, "ANON_KEY", &anon, &mut changes);
        record(
            file,
            &mut out,
            &because,
            "SERVICE_ROLE_KEY",
            &service,
            &mut changes,
        );
        notes.push(format!(
            "ANON_KEY and SERVICE_ROLE_KEY were signed anew with JWT_SECRET (valid {years} years): give the new keys to every application and client that uses them."
        ));
    }
    if changes.iter().any(|c| c.variable == "JWT_SECRET") {
        notes.push(
            "A new JWT_SECRET ends every signed-in user's session (they sign in again).".into(),
        );
    }
    if regen.contains("POSTGRES_PASSWORD") {
        notes.push("POSTGRES_PASSWORD only takes effect when the database volume is created: on an existing database, change the password of its roles first (for example with the Supabase repository's docker/utils/db-passwd.sh), or the services fail with `password authentication failed`.".into());
    }
    if regen.contains("VAULT_ENC_KEY") {
        notes.push("Supavisor encrypts its stored tenant settings with VAULT_ENC_KEY: on an existing deployment the pooler's tenant may have to be set up again after the change.".into());
    }
    for var in &https {
        let Some(raw) = file.value(var) else {
            continue;
        };
        let value = if raw.contains('$') {
            let resolved = file.resolved_value(var).unwrap_or_default();
            if protocols::to_https(&resolved).0 == resolved {
                continue;
            }
            raw.replace("http://", "https://")
        } else {
            let (v, n) = protocols::to_https(raw);
            notes.extend(n);
            v
        };
        if value != raw {
            record(file, &mut out, &because, var, &value, &mut changes);
        }
    }
    for (var, value) in &sets {
        if file.value(var) != Some(value.as_str()) {
            record(file, &mut out, &because, var, value, &mut changes);
        }
    }
    changes.sort_by_key(|c| c.line);
    notes.dedup();
    Ok(Outcome {
        file: out,
        changes,
        applied,
        skipped,
        notes,
    })
}

/// Sets `var` in `out` and notes the change (values masked).
fn record(
    file: &EnvFile,
    out: &mut EnvFile,
    because: &BTreeMap<String, Vec<String>>,
    var: &str,
    value: &str,
    changes: &mut Vec<Change>,
) {
    let before = file.value(var).map(|v| mask::shown(var, v));
    let existed = file.get(var).is_some();
    let line = out.set(var, value);
    changes.push(Change {
        line,
        variable: var.to_owned(),
        kind: if existed { "changed" } else { "added" },
        before,
        after: mask::shown(var, value),
        because: because.get(var).cloned().unwrap_or_default(),
    });
}

/// The changes as a unified-style diff, secrets masked.
pub fn diff_text(from: &str, to: &str, changes: &[Change]) -> String {
    let mut out = format!("--- {from}\n+++ {to}\n");
    for c in changes {
        out.push_str(&format!("@@ line {} @@\n", c.line));
        if let Some(b) = &c.before {
            out.push_str(&format!("-{}={b}\n", c.variable));
        }
        out.push_str(&format!("+{}={}\n", c.variable, c.after));
    }
    out
}

#[cfg(test)]
#[path = "fix_tests.rs"]
mod tests;
