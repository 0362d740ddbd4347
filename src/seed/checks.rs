//! Simple CHECK constraints understood before generating: a list of
//! allowed values (`col = ANY (ARRAY[...])`), numeric bounds (`col >= 0`)
//! and text length bounds (`char_length(col) >= 3`). Anything else is
//! left to the database: a row that fails is generated again.

use std::collections::BTreeMap;

/// What the checks say about one column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub choices: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub min_len: Option<usize>,
    pub max_len: Option<usize>,
}

/// The rules of every column named by a simple check of `defs`
/// (`pg_get_constraintdef` texts).
pub fn rules(defs: &[String]) -> BTreeMap<String, Rule> {
    let mut out: BTreeMap<String, Rule> = BTreeMap::new();
    for def in defs {
        let body = def.trim().strip_prefix("CHECK").unwrap_or(def).trim();
        for part in split_and(strip_parens(body)) {
            apply(strip_parens(part), &mut out);
        }
    }
    out
}

fn strip_parens(mut s: &str) -> &str {
    loop {
        let t = s.trim();
        if t.starts_with('(') && t.ends_with(')') && balanced(&t[1..t.len() - 1]) {
            s = &t[1..t.len() - 1];
        } else {
            return t;
        }
    }
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Splits on top-level ` AND `.
fn split_and(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b' ' if !quoted && depth == 0 && s[i..].starts_with(" AND ") => {
                parts.push(&s[start..i]);
                start = i + 5;
                i += 4;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

fn unquote_ident(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_owned(),
    }
}

/// A number as the deparser writes it: `5`, `(0)::numeric`, `'1.5'::numeric`.
fn number(s: &str) -> Option<f64> {
    let s = strip_parens(s);
    let s = s.split("::").next().unwrap_or(s);
    let s = strip_parens(s).trim_matches('\'');
    s.parse().ok()
}

fn apply(part: &str, out: &mut BTreeMap<String, Rule>) {
    if let Some((lhs, rhs)) = part.split_once(" = ANY ") {
        let lhs = strip_parens(lhs);
        let col = unquote_ident(strip_parens(lhs.split("::").next().unwrap_or(lhs)));
        let list = strip_parens(rhs);
        // A trailing cast of the whole array (`(ARRAY[...])::text[]`).
        let list = match list.rfind(")::").or_else(|| list.rfind("]::")) {
            Some(i) if !list[i..].contains('\'') => strip_parens(&list[..=i]),
            _ => list,
        };
        if let Some(items) = list
            .trim()
            .strip_prefix("ARRAY[")
            .and_then(|x| x.strip_suffix(']'))
        {
            let values: Option<Vec<String>> = items.split(", ").map(string_item).collect();
            if let Some(values) = values.filter(|v| !v.is_empty()) {
                out.entry(col).or_default().choices = Some(values);
            }
        }
        return;
    }
    for op in [">=", "<=", ">", "<"] {
        let Some((lhs, rhs)) = part.split_once(&format!(" {op} ")) else {
            continue;
        };
        let Some(n) = number(rhs) else {
            return;
        };
        let lhs = strip_parens(lhs);
        let (col, length) = match lhs
            .strip_prefix("char_length(")
            .or_else(|| lhs.strip_prefix("length("))
            .and_then(|x| x.strip_suffix(')'))
        {
            Some(inner) => (unquote_ident(strip_parens(inner)), true),
            None => (unquote_ident(lhs.split("::").next().unwrap_or(lhs)), false),
        };
        if col.contains(['(', ' ', ')']) {
            return;
        }
        let rule = out.entry(col).or_default();
        let strict = !op.ends_with('=');
        if length {
            let n = n.max(0.0) as usize;
            if op.starts_with('>') {
                rule.min_len = Some(if strict { n + 1 } else { n });
            } else {
                rule.max_len = Some(if strict { n.saturating_sub(1) } else { n });
            }
        } else if op.starts_with('>') {
            rule.min = Some(if strict { n + 1.0 } else { n });
        } else {
            rule.max = Some(if strict { n - 1.0 } else { n });
        }
        return;
    }
}

/// `'a'::text` → `a`.
fn string_item(s: &str) -> Option<String> {
    let s = strip_parens(s.trim());
    let s = match s.rfind("::") {
        Some(i) if s[..i].ends_with('\'') => &s[..i],
        _ => s,
    };
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn understands_lists_bounds_and_lengths() {
        let r = rules(&[
            "CHECK ((status = ANY (ARRAY['draft'::text, 'it''s live'::text])))".into(),
            "CHECK (((rating >= 1) AND (rating <= 5)))".into(),
            "CHECK ((price > (0)::numeric))".into(),
            "CHECK ((char_length(username) >= 3))".into(),
            "CHECK ((lower(email) = email))".into(),
            "CHECK (((kind)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))".into(),
        ]);
        assert_eq!(
            r["status"].choices,
            Some(vec!["draft".to_owned(), "it's live".to_owned()])
        );
        assert_eq!((r["rating"].min, r["rating"].max), (Some(1.0), Some(5.0)));
        assert_eq!(r["price"].min, Some(1.0));
        assert_eq!(r["username"].min_len, Some(3));
        assert!(!r.contains_key("email"));
        assert_eq!(
            r["kind"].choices,
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
    }
}
