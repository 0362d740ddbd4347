//! The offline error table behind `explain_error`: what common PostgreSQL
//! SQLSTATEs, PostgREST `PGRST` codes, Supabase Auth error codes and
//! Supabase Storage errors mean, why Supabase users meet them, how to fix
//! them and which tools of this server help; and the matching of a code or
//! a pasted error message against that table.

mod auth;
mod postgres;
mod postgrest;
mod storage;

use serde::Serialize;

/// Which system an error code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A PostgreSQL SQLSTATE.
    Postgres,
    /// A PostgREST (Data API) `PGRST` code.
    Postgrest,
    /// A Supabase Auth (GoTrue) error code.
    Auth,
    /// A Supabase Storage error.
    Storage,
}

/// One known error.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The code as the system reports it.
    pub code: &'static str,
    pub source: Source,
    /// The condition's name (e.g. `insufficient_privilege`).
    pub name: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// Likely causes in a Supabase project.
    pub causes: &'static [&'static str],
    /// What to do.
    pub fixes: &'static [&'static str],
    /// SQL that often fixes or inspects it (placeholders in angle brackets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<&'static str>,
    /// Tools of this server that help.
    pub tools: &'static [&'static str],
    /// Lower-case patterns recognised in error messages; `*` stands for any
    /// text between the parts, which must appear in order.
    #[serde(skip)]
    pub phrases: &'static [&'static str],
}

/// Every entry of the table.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    postgres::ENTRIES
        .iter()
        .chain(postgrest::ENTRIES)
        .chain(auth::ENTRIES)
        .chain(storage::ENTRIES)
}

/// The entry with exactly this code (case-insensitive).
pub fn lookup(code: &str) -> Option<&'static Entry> {
    let code = code.trim();
    entries().find(|e| e.code.eq_ignore_ascii_case(code))
}

/// How an entry was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "text")]
pub enum MatchedBy {
    /// The code itself (given, or seen in the message).
    Code(String),
    /// A known phrase of the message.
    Phrase(String),
}

/// One answer: an entry, how it was found and how strongly.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    #[serde(flatten)]
    pub entry: &'static Entry,
    pub matched: MatchedBy,
    #[serde(skip)]
    pub score: usize,
}

/// Most matches returned for one message.
pub const MAX_MATCHES: usize = 3;

/// Score of a code seen in a message: above any phrase.
const CODE_SCORE: usize = 1000;

/// Finds the entries for a code and/or a message: an exact code first, then
/// codes and known phrases recognised in the message (case-insensitive),
/// best first, at most [`MAX_MATCHES`].
pub fn explain(code: Option<&str>, message: Option<&str>) -> Vec<Match> {
    let mut out: Vec<Match> = Vec::new();
    if let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) {
        if let Some(e) = lookup(code) {
            out.push(Match {
                entry: e,
                matched: MatchedBy::Code(e.code.to_owned()),
                score: usize::MAX,
            });
        } else {
            // A code field holding more than a code (`ERROR 42501: ...`).
            out.extend(scan(code));
        }
    }
    if let Some(message) = message.filter(|m| !m.trim().is_empty()) {
        out.extend(scan(message));
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.score));
    let mut seen: Vec<&str> = Vec::new();
    out.retain(|m| {
        if seen.contains(&m.entry.code) {
            false
        } else {
            seen.push(m.entry.code);
            true
        }
    });
    out.truncate(MAX_MATCHES);
    out
}

/// Codes and phrases recognised in a text.
fn scan(text: &str) -> Vec<Match> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.len() >= 5)
        .collect();
    for e in entries() {
        if let Some(t) = tokens.iter().find(|t| code_token(t, e.code)) {
            out.push(Match {
                entry: e,
                matched: MatchedBy::Code((*t).to_owned()),
                score: CODE_SCORE + e.code.len(),
            });
            continue;
        }
        let best = e
            .phrases
            .iter()
            .filter_map(|p| phrase_score(&lower, p).map(|s| (s, *p)))
            .max_by_key(|(s, _)| *s);
        if let Some((score, phrase)) = best {
            out.push(Match {
                entry: e,
                matched: MatchedBy::Phrase(phrase.replace('*', "…")),
                score,
            });
        }
    }
    out
}

/// Whether a word of a message is this code: codes with a digit or an
/// underscore in any case, word-like codes (`NoSuchKey`) only as written;
/// a code that is a plain lower-case word (`conflict`) never, as prose
/// uses it too.
fn code_token(token: &str, code: &str) -> bool {
    if code.chars().any(|c| c.is_ascii_digit() || c == '_') {
        token.eq_ignore_ascii_case(code)
    } else {
        code.chars().any(|c| c.is_ascii_uppercase()) && token == code
    }
}

/// The length of a pattern's fixed parts when they all appear in `text` in
/// order, else `None`.
fn phrase_score(text: &str, pattern: &str) -> Option<usize> {
    let mut rest = text;
    let mut score = 0;
    for part in pattern.split('*').map(str::trim).filter(|p| !p.is_empty()) {
        let at = rest.find(part)?;
        rest = &rest[at + part.len()..];
        score += part.len();
    }
    (score > 0).then_some(score)
}

/// What a SQLSTATE class (its first two characters) covers, for codes not
/// in the table.
pub fn sqlstate_class(code: &str) -> Option<&'static str> {
    let code = code.trim();
    if code.len() != 5 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let class = code.get(..2)?.to_ascii_uppercase();
    Some(match class.as_str() {
        "00" => "successful completion",
        "01" => "warning",
        "02" => "no data",
        "03" => "SQL statement not yet complete",
        "08" => "connection exception",
        "09" => "triggered action exception",
        "0A" => "feature not supported",
        "0B" => "invalid transaction initiation",
        "0L" | "0P" => "invalid grantor or role specification",
        "21" => "cardinality violation",
        "22" => "data exception (a value of the wrong form or out of range)",
        "23" => "integrity constraint violation",
        "24" => "invalid cursor state",
        "25" => "invalid transaction state",
        "26" => "invalid SQL statement name",
        "27" => "triggered data change violation",
        "28" => "invalid authorization specification (login refused)",
        "2B" => "dependent privilege descriptors still exist",
        "2D" => "invalid transaction termination",
        "2F" => "SQL routine exception",
        "34" => "invalid cursor name",
        "38" => "external routine exception",
        "39" => "external routine invocation exception",
        "3B" => "savepoint exception",
        "3D" => "invalid catalog name (database)",
        "3F" => "invalid schema name",
        "40" => "transaction rollback (retry the transaction)",
        "42" => "syntax error or access rule violation",
        "44" => "WITH CHECK OPTION violation",
        "53" => "insufficient resources",
        "54" => "program limit exceeded",
        "55" => "object not in prerequisite state",
        "57" => "operator intervention (cancelled or shut down)",
        "58" => "system error (outside PostgreSQL)",
        "72" => "snapshot failure",
        "F0" => "configuration file error",
        "HV" => "foreign data wrapper error",
        "P0" => "PL/pgSQL error (RAISE or ASSERT in a function)",
        "XX" => "internal error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_entries_complete() {
        let mut codes: Vec<String> = entries().map(|e| e.code.to_lowercase()).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(n, codes.len(), "duplicate codes");
        for e in entries() {
            assert!(!e.meaning.is_empty(), "{}", e.code);
            assert!(!e.causes.is_empty(), "{} has no causes", e.code);
            assert!(!e.fixes.is_empty(), "{} has no fixes", e.code);
            assert!(!e.tools.is_empty(), "{} names no tool", e.code);
            for p in e.phrases {
                assert_eq!(*p, p.to_lowercase(), "{}: phrases are lower case", e.code);
            }
        }
        assert!(n >= 120, "only {n} entries");
    }

    #[test]
    fn every_named_tool_exists() {
        let names: Vec<&str> = crate::tools::all_tools().iter().map(|t| t.name).collect();
        for e in entries() {
            for t in e.tools {
                assert!(names.contains(t), "{} names unknown tool {t}", e.code);
            }
        }
    }

    #[test]
    fn exact_codes_in_any_case() {
        assert_eq!(
            explain(Some("42501"), None)[0].entry.name,
            "insufficient_privilege"
        );
        assert_eq!(explain(Some("pgrst116"), None)[0].entry.code, "PGRST116");
        assert_eq!(
            explain(Some(" Invalid_Credentials "), None)[0].entry.code,
            "invalid_credentials"
        );
        assert_eq!(
            explain(Some("nosuchbucket"), None)[0].entry.code,
            "NoSuchBucket"
        );
        assert!(explain(Some("99999"), None).is_empty());
    }

    #[test]
    fn messages_find_codes_and_phrases() {
        let m = explain(
            None,
            Some(
                "ERROR: 23505: duplicate key value violates unique constraint \"users_email_key\"",
            ),
        );
        assert_eq!(m[0].entry.code, "23505");
        assert!(matches!(m[0].matched, MatchedBy::Code(_)));
        let m = explain(
            None,
            Some("New row violates row-level security policy for table \"todos\""),
        );
        assert_eq!(m[0].entry.code, "42501");
        let m = explain(
            None,
            Some(
                "{\"statusCode\":\"403\",\"error\":\"Unauthorized\",\"message\":\"new row violates row-level security policy\"}",
            ),
        );
        assert_eq!(m[0].entry.source, Source::Storage);
        assert!(m.iter().any(|x| x.entry.code == "42501"), "{m:?}");
        let m = explain(
            None,
            Some("JSON object requested, multiple (or no) rows returned"),
        );
        assert_eq!(m[0].entry.code, "PGRST116");
        let m = explain(None, Some("canceling statement due to statement timeout"));
        assert_eq!(m[0].entry.code, "57014");
        let m = explain(None, Some("column profiles.full_nam does not exist"));
        assert_eq!(m[0].entry.code, "42703");
        let m = explain(None, Some("relation \"public.todo\" does not exist"));
        assert_eq!(m[0].entry.code, "42P01");
        assert!(explain(None, Some("the weather is nice")).is_empty());
        assert!(explain(None, Some("permission denied for table x")).len() <= MAX_MATCHES);
    }

    #[test]
    fn classes_of_unknown_sqlstates() {
        assert_eq!(
            sqlstate_class("23999"),
            Some("integrity constraint violation")
        );
        assert!(sqlstate_class("hello").is_none());
        assert!(sqlstate_class("4").is_none());
    }

    #[test]
    fn phrase_parts_must_be_in_order() {
        assert_eq!(
            phrase_score("column x does not exist", "column * does not exist"),
            Some(20)
        );
        assert_eq!(
            phrase_score("does not exist column", "column * does not exist"),
            None
        );
    }
}
