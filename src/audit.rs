//! The audit log: one JSON line per write-capable tool call (time, instance,
//! tool, arguments with secrets redacted, outcome, duration). Appends only.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::secret::{Redactor, redact_secret_keys};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot write the audit log at {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub ts: String,
    pub instance: &'a str,
    pub tool: &'a str,
    pub arguments: serde_json::Value,
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub duration_ms: u128,
}

#[derive(Debug)]
pub struct AuditLog {
    path: Option<PathBuf>,
    redactor: Redactor,
    lock: Mutex<()>,
}

impl AuditLog {
    pub fn new(path: Option<PathBuf>, redactor: Redactor) -> Self {
        Self {
            path,
            redactor,
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Appends one entry. Secrets are removed twice: by key name, then by value.
    pub fn record(&self, mut entry: Entry<'_>) -> Result<(), AuditError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        redact_secret_keys(&mut entry.arguments);
        redact_sql_passwords(&mut entry.arguments);
        self.redactor.scrub_json(&mut entry.arguments);
        let line = serde_json::to_string(&entry).unwrap_or_default();
        let line = self.redactor.scrub(&line);
        let err = |source| AuditError::Write {
            path: path.clone(),
            source,
        };
        let _guard = self.lock.lock();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        writeln!(f, "{line}").map_err(err)
    }
}

/// Hides literals after `PASSWORD` in SQL text (`ALTER ROLE x PASSWORD '...'`).
fn redact_sql_passwords(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let lower = s.to_ascii_lowercase();
            if let Some(pos) = lower.find("password") {
                let rest = &s[pos..];
                if let Some(q1) = rest.find('\'') {
                    let after = &rest[q1 + 1..];
                    let q2 = after
                        .find('\'')
                        .map(|i| i + q1 + 1)
                        .unwrap_or(rest.len() - 1);
                    let start = pos + q1;
                    let end = pos + q2 + 1;
                    if end <= s.len() && start < end {
                        s.replace_range(start..end, "'[redacted]'");
                    }
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_sql_passwords),
        serde_json::Value::Object(m) => m.values_mut().for_each(redact_sql_passwords),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn writes_redacted_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let r = Redactor::new();
        r.add(&Secret::new("supersecretvalue"));
        let log = AuditLog::new(Some(path.clone()), r);
        log.record(Entry {
            ts: "t".into(),
            instance: "default",
            tool: "execute_sql",
            arguments: serde_json::json!({"query": "ALTER ROLE app PASSWORD 'pw123456'; select 'supersecretvalue'", "service_role_key": "abc"}),
            outcome: "ok",
            error_code: None,
            duration_ms: 3,
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(
            !text.contains("pw123456")
                && !text.contains("supersecretvalue")
                && !text.contains("abc\""),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["tool"], "execute_sql");
        assert_eq!(v["outcome"], "ok");
    }
}
