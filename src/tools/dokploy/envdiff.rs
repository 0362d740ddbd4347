//! Changes to a compose service's environment block as text: removing
//! variables while keeping every other line (comments included), the
//! difference between two blocks with secret values masked, and what a
//! change may break in a running Supabase.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Serialize;

use crate::selfhosted::mask;
use crate::selfhosted::{EnvFile, Report, Severity};

/// One variable that differs between two environments.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    /// `added`, `changed` or `removed`.
    pub change: &'static str,
    /// The old value as it may be shown (secrets masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The new value as it may be shown (secrets masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Removes the assignments of `keys` (every one of them, with the lines a
/// quoted value spans); every other line stays as written.
pub fn remove_vars(text: &str, keys: &[String]) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let trailing = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        match assigned_key(line) {
            Some((key, value)) if keys.iter().any(|k| k == key) => {
                i += 1;
                if let Some(q) = open_quote(value) {
                    while i < lines.len() {
                        let l = lines[i];
                        i += 1;
                        if closes(l, q) {
                            break;
                        }
                    }
                }
            }
            _ => {
                out.push(line);
                i += 1;
            }
        }
    }
    let mut s = out.join(newline);
    if trailing && !s.is_empty() {
        s.push_str(newline);
    }
    s
}

/// `KEY` and the text after `=` of an assignment line.
fn assigned_key(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let t = t.strip_prefix("export ").map(str::trim_start).unwrap_or(t);
    let (key, rest) = t.split_once('=')?;
    let key = key.trim_end();
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    valid.then_some((key, rest.trim_start()))
}

/// The quote a value opens and does not close on its first line.
fn open_quote(value: &str) -> Option<char> {
    let q = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &value[1..];
    (!closes(body, q)).then_some(q)
}

/// True when `text` holds an unescaped `q`.
fn closes(text: &str, q: char) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return true;
        }
        escaped = false;
    }
    false
}

/// The variables of `file` with the value that counts, in file order.
fn vars(file: &EnvFile) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in file.assignments() {
        match out.iter_mut().find(|(k, _)| *k == a.key) {
            Some(slot) => slot.1 = a.value.clone(),
            None => out.push((a.key.clone(), a.value.clone())),
        }
    }
    out
}

/// What differs from `before` to `after`, values shown masked.
pub fn diff(before: &EnvFile, after: &EnvFile) -> Vec<Change> {
    let old = vars(before);
    let new = vars(after);
    let mut out = Vec::new();
    for (k, v) in &old {
        match new.iter().find(|(n, _)| n == k) {
            None => out.push(Change {
                name: k.clone(),
                change: "removed",
                before: Some(mask::shown(k, v)),
                after: None,
            }),
            Some((_, nv)) if nv != v => out.push(Change {
                name: k.clone(),
                change: "changed",
                before: Some(shown_pair(k, v, nv).0),
                after: Some(shown_pair(k, v, nv).1),
            }),
            Some(_) => {}
        }
    }
    for (k, v) in &new {
        if !old.iter().any(|(o, _)| o == k) {
            out.push(Change {
                name: k.clone(),
                change: "added",
                before: None,
                after: Some(mask::shown(k, v)),
            });
        }
    }
    out
}

/// Two different secret values that mask alike are told apart by saying so.
fn shown_pair(name: &str, old: &str, new: &str) -> (String, String) {
    let (a, b) = (mask::shown(name, old), mask::shown(name, new));
    if a == b {
        (a, format!("{b} (a different value)"))
    } else {
        (a, b)
    }
}

/// The names of the variables that differ.
pub fn changed_names(before: &EnvFile, after: &EnvFile) -> Vec<String> {
    diff(before, after).into_iter().map(|c| c.name).collect()
}

/// Findings of `after` at error level that `before` did not have.
pub fn new_errors(before: &Report, after: &Report) -> Vec<crate::selfhosted::Finding> {
    let old: BTreeSet<&str> = before
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.id.as_str())
        .collect();
    after
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && !old.contains(f.id.as_str()))
        .cloned()
        .collect()
}

/// What a change may break in a running Supabase, one sentence each.
pub fn breaking(changes: &[Change], deployed: bool) -> Vec<String> {
    let touched = |n: &str| changes.iter().any(|c| c.name == n);
    let mut out = Vec::new();
    if touched("POSTGRES_PASSWORD") && deployed {
        out.push("POSTGRES_PASSWORD changes, but the database volume keeps the password it was created with: the services will fail to connect until the password is also changed inside the database (ALTER ROLE ... PASSWORD for postgres, authenticator, supabase_admin and the other service roles) or the volume is recreated".to_owned());
    }
    if touched("JWT_SECRET") && !(touched("ANON_KEY") && touched("SERVICE_ROLE_KEY")) {
        out.push("JWT_SECRET changes without new ANON_KEY and SERVICE_ROLE_KEY: the old keys stop working; sign new ones (resign_keys: true) and give them to every client".to_owned());
    }
    if (touched("ANON_KEY") || touched("SERVICE_ROLE_KEY")) && deployed {
        out.push("the API keys change: every client holding the old ANON_KEY or SERVICE_ROLE_KEY must be updated".to_owned());
    }
    for v in ["POSTGRES_DB", "POSTGRES_HOST", "POSTGRES_PORT"] {
        if touched(v) && deployed {
            out.push(format!(
                "{v} changes on a deployed instance: the services may no longer find the database"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_keeps_comments_and_other_lines() {
        let text = "# top\nA=1\nexport B=\"two\nlines\"\nC=3 # note\n\nB2='x'\n";
        let out = remove_vars(text, &["B".to_owned(), "A".to_owned()]);
        assert_eq!(out, "# top\nC=3 # note\n\nB2='x'\n");
        let f = EnvFile::parse(&out);
        assert!(f.issues.is_empty());
        assert_eq!(f.value("C"), Some("3"));
        assert_eq!(remove_vars("A=1\r\nB=2", &["A".to_owned()]), "B=2");
        assert_eq!(
            remove_vars("A=\"a\\\"b\"\nB=2\n", &["A".to_owned()]),
            "B=2\n"
        );
    }

    #[test]
    fn diffs_mask_secrets() {
        let a = EnvFile::parse(
            "SITE_URL=http://a\nJWT_SECRET=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nGONE=1\n",
        );
        let b = EnvFile::parse(
            "SITE_URL=https://a\nJWT_SECRET=aabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\nNEW=2\n",
        );
        let d = diff(&a, &b);
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("bbbbbbbb"), "{text}");
        assert!(!text.contains("aaaaaaaa"), "{text}");
        let names: Vec<(&str, &str)> = d.iter().map(|c| (c.name.as_str(), c.change)).collect();
        assert_eq!(
            names,
            vec![
                ("SITE_URL", "changed"),
                ("JWT_SECRET", "changed"),
                ("GONE", "removed"),
                ("NEW", "added")
            ]
        );
        assert!(d[1].after.as_deref().unwrap().contains("a different value"));
        assert_eq!(d[0].after.as_deref(), Some("https://a"));
    }

    #[test]
    fn breaking_changes_are_named() {
        let c = |n: &str| Change {
            name: n.to_owned(),
            change: "changed",
            before: None,
            after: None,
        };
        assert_eq!(breaking(&[c("POSTGRES_PASSWORD")], true).len(), 1);
        assert!(breaking(&[c("POSTGRES_PASSWORD")], false).is_empty());
        assert_eq!(breaking(&[c("JWT_SECRET")], false).len(), 1);
        let w = breaking(
            &[c("JWT_SECRET"), c("ANON_KEY"), c("SERVICE_ROLE_KEY")],
            true,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(breaking(&[c("SITE_URL")], true).is_empty());
    }
}
