//! Confirmation tokens for destructive operations: a first call returns a
//! short-lived, single-use token bound to the tool, the instance and the exact
//! arguments; repeating the call with that token performs the operation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use sha2::{Digest, Sha256};

#[derive(Debug)]
struct Pending {
    binding: String,
    expires: Instant,
}

#[derive(Debug)]
pub struct Confirmations {
    ttl: Duration,
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The token matches this exact call; it is now used up.
    Confirmed,
    Missing,
    /// Unknown, expired, already used, or issued for different arguments.
    Invalid,
}

/// Hash of a call: tool, instance and canonical arguments (without the token).
pub fn binding(
    tool: &str,
    instance: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut args = args.clone();
    args.remove("confirmation_token");
    let mut canonical = String::new();
    canonical_json(&serde_json::Value::Object(args), &mut canonical);
    let mut h = Sha256::new();
    h.update(tool.as_bytes());
    h.update([0]);
    h.update(instance.as_bytes());
    h.update([0]);
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// Writes `v` as JSON with object keys sorted at every level, whatever the
/// map type serde_json was built with.
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(val) = m.get(*k) {
                    canonical_json(val, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

impl Confirmations {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `binding`.
    pub fn issue(&self, binding: String) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill(&mut bytes);
        let token = format!("confirm_{}", hex::encode(bytes));
        if let Ok(mut p) = self.pending.lock() {
            let now = Instant::now();
            p.retain(|_, v| v.expires > now);
            p.insert(
                token.clone(),
                Pending {
                    binding,
                    expires: now + self.ttl,
                },
            );
        }
        token
    }

    /// Checks (and consumes) `token` for `binding`.
    pub fn check(&self, token: Option<&str>, binding: &str) -> Check {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Check::Missing;
        };
        let Ok(mut p) = self.pending.lock() else {
            return Check::Invalid;
        };
        match p.get(token) {
            Some(v) if v.expires > Instant::now() && v.binding == binding => {
                p.remove(token);
                Check::Confirmed
            }
            Some(v) if v.expires <= Instant::now() => {
                p.remove(token);
                Check::Invalid
            }
            _ => Check::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn token_is_single_use_and_bound_to_arguments() {
        let c = Confirmations::new(Duration::from_secs(60));
        let b = binding(
            "execute_sql",
            "default",
            &args(json!({"query": "drop table x"})),
        );
        let t = c.issue(b.clone());
        let other = binding(
            "execute_sql",
            "default",
            &args(json!({"query": "drop table y"})),
        );
        assert_eq!(c.check(Some(&t), &other), Check::Invalid);
        assert_eq!(c.check(Some(&t), &b), Check::Confirmed);
        assert_eq!(c.check(Some(&t), &b), Check::Invalid, "single use");
        assert_eq!(c.check(None, &b), Check::Missing);
    }

    #[test]
    fn binding_ignores_the_token_itself_and_key_order() {
        let a = binding(
            "t",
            "i",
            &args(json!({"a": 1, "b": 2, "confirmation_token": "x"})),
        );
        let b = binding("t", "i", &args(json!({"b": 2, "a": 1})));
        assert_eq!(a, b);
        let nested_a = binding(
            "t",
            "i",
            &args(json!({"x": {"q": 1, "p": [{"z": 1, "y": 2}]}})),
        );
        let nested_b = binding(
            "t",
            "i",
            &args(json!({"x": {"p": [{"y": 2, "z": 1}], "q": 1}})),
        );
        assert_eq!(nested_a, nested_b);
        assert_ne!(a, binding("t", "other", &args(json!({"a": 1, "b": 2}))));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let c = Confirmations::new(Duration::from_millis(0));
        let t = c.issue("b".into());
        assert_eq!(c.check(Some(&t), "b"), Check::Invalid);
    }
}
