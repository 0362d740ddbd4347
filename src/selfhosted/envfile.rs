//! A Supabase `.env` file as text: every line kept as written (comments,
//! blank lines, order, quoting, `export`, inline comments, line endings),
//! the assignments parsed as Docker Compose and `dotenvy` read them, and
//! edits that rewrite only the value of the lines they touch.
//!
//! Values are read like this: unquoted values end at the end of the line or
//! at whitespace followed by `#` and are trimmed; single-quoted values are
//! literal; double-quoted values understand `\n`, `\r`, `\t`, `\"`, `\\` and
//! `\$`; quoted values may span lines. `${VAR}`, `${VAR:-default}` and `$VAR`
//! in unquoted and double-quoted values refer to variables defined earlier
//! in the file ([`EnvFile::resolved`]). Error messages name line numbers,
//! never the text of a line (it may hold a secret).

use std::collections::HashMap;
use std::path::Path;

/// Largest `.env` file read (a Supabase `.env` is a few kilobytes).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is {size} bytes; a .env file of more than {max} bytes is not read")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
}

/// How a value was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    None,
    Single,
    Double,
}

/// One `KEY=VALUE` assignment.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// The variable name.
    pub key: String,
    /// The value after unquoting (before interpolation).
    pub value: String,
    /// 1-based line number where the assignment starts.
    pub line: usize,
    pub quote: Quote,
    /// Everything before the value (`export `, the key, `=`, spaces).
    prefix: String,
    /// Everything after the value on its last line (spaces, inline comment).
    suffix: String,
    /// The original text (possibly several lines), kept while unchanged.
    raw: String,
    changed: bool,
}

impl Assignment {
    /// True when Compose interpolates `$` references in this value.
    pub fn interpolates(&self) -> bool {
        self.quote != Quote::Single
    }

    fn render(&self) -> String {
        if !self.changed {
            return self.raw.clone();
        }
        format!(
            "{}{}{}",
            self.prefix,
            quote_value(&self.value, self.quote),
            self.suffix
        )
    }
}

#[derive(Debug, Clone)]
enum Line {
    /// Blank lines, comments and lines that are not assignments, verbatim.
    Other {
        text: String,
    },
    Var(Assignment),
}

/// A line that could not be read as an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxIssue {
    pub line: usize,
    pub problem: &'static str,
}

/// A parsed `.env` file.
#[derive(Debug, Clone)]
pub struct EnvFile {
    lines: Vec<Line>,
    newline: &'static str,
    trailing_newline: bool,
    bom: bool,
    /// Lines that are neither blank, comments nor assignments.
    pub issues: Vec<SyntaxIssue>,
    /// Variables appended by [`EnvFile::set`] (a header comment goes first).
    appended: bool,
}

impl EnvFile {
    /// Reads and parses a file (at most [`MAX_FILE_BYTES`]).
    pub fn read(path: &Path) -> Result<EnvFile, EnvFileError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| EnvFileError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(EnvFileError::TooLarge {
                path: shown,
                size: meta.len(),
                max: MAX_FILE_BYTES,
            });
        }
        let bytes = std::fs::read(path).map_err(|e| EnvFileError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| EnvFileError::NotText { path: shown })?;
        Ok(EnvFile::parse(&text))
    }

    /// Parses text. Never fails: lines that are not assignments are kept
    /// verbatim and listed in [`EnvFile::issues`].
    pub fn parse(text: &str) -> EnvFile {
        let (bom, text) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let trailing_newline = text.is_empty() || text.ends_with('\n');
        let physical: Vec<&str> = split_lines(text);
        let mut lines = Vec::new();
        let mut issues = Vec::new();
        let mut i = 0;
        while i < physical.len() {
            let number = i + 1;
            match parse_assignment(&physical, i) {
                Parsed::Var(a, consumed) => {
                    lines.push(Line::Var(Assignment { line: number, ..a }));
                    i += consumed;
                }
                Parsed::Other => {
                    lines.push(Line::Other {
                        text: physical[i].to_owned(),
                    });
                    i += 1;
                }
                Parsed::Bad(problem) => {
                    issues.push(SyntaxIssue {
                        line: number,
                        problem,
                    });
                    lines.push(Line::Other {
                        text: physical[i].to_owned(),
                    });
                    i += 1;
                }
            }
        }
        EnvFile {
            lines,
            newline,
            trailing_newline,
            bom,
            issues,
            appended: false,
        }
    }

    /// Every assignment in file order (a variable set twice appears twice).
    pub fn assignments(&self) -> impl Iterator<Item = &Assignment> {
        self.lines.iter().filter_map(|l| match l {
            Line::Var(a) => Some(a),
            Line::Other { .. } => None,
        })
    }

    /// The assignment that counts for `key` (the last one, as Compose reads it).
    pub fn get(&self, key: &str) -> Option<&Assignment> {
        self.assignments().filter(|a| a.key == key).last()
    }

    /// The raw value of `key` (unquoted, not interpolated).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|a| a.value.as_str())
    }

    /// Variable names set more than once, with the lines setting them.
    pub fn duplicates(&self) -> Vec<(String, Vec<usize>)> {
        let mut seen: Vec<(String, Vec<usize>)> = Vec::new();
        for a in self.assignments() {
            match seen.iter_mut().find(|(k, _)| *k == a.key) {
                Some((_, lines)) => lines.push(a.line),
                None => seen.push((a.key.clone(), vec![a.line])),
            }
        }
        seen.retain(|(_, l)| l.len() > 1);
        seen
    }

    /// Every variable with its value as Compose sees it: the last
    /// assignment wins, and `$` references to variables defined earlier in
    /// the file are replaced (unknown ones by nothing).
    pub fn resolved(&self) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = HashMap::new();
        for a in self.assignments() {
            let v = if a.interpolates() {
                interpolate(&a.value, &vars)
            } else {
                a.value.clone()
            };
            vars.insert(a.key.clone(), v);
        }
        vars
    }

    /// The value of `key` as Compose sees it.
    pub fn resolved_value(&self, key: &str) -> Option<String> {
        self.resolved().remove(key)
    }

    /// Sets `key` to `value`: rewrites the value of its (last) assignment,
    /// keeping quoting style and inline comment, or appends a new line at
    /// the end. Returns the line number of the assignment.
    pub fn set(&mut self, key: &str, value: &str) -> usize {
        let last = self
            .lines
            .iter()
            .rposition(|l| matches!(l, Line::Var(a) if a.key == key));
        if let Some(idx) = last
            && let Line::Var(a) = &mut self.lines[idx]
        {
            let (quote, stored) = quoting_for(value, a.quote);
            if a.value != stored || a.quote != quote {
                a.value = stored;
                a.quote = quote;
                a.changed = true;
            }
            return a.line;
        }
        if !self.appended {
            self.appended = true;
            self.push_other(String::new());
            self.push_other("# Added by supabase-mcp env fix".to_owned());
        }
        let line = self.line_count() + 1;
        let (quote, stored) = quoting_for(value, Quote::None);
        self.lines.push(Line::Var(Assignment {
            key: key.to_owned(),
            value: stored,
            line,
            quote,
            prefix: format!("{key}="),
            suffix: String::new(),
            raw: String::new(),
            changed: true,
        }));
        line
    }

    fn push_other(&mut self, text: String) {
        self.lines.push(Line::Other { text });
    }

    /// Number of physical lines.
    fn line_count(&self) -> usize {
        self.lines
            .iter()
            .map(|l| match l {
                Line::Other { .. } => 1,
                Line::Var(a) => a.render().matches('\n').count() + 1,
            })
            .sum()
    }

    /// The file's text: unchanged lines exactly as read.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.bom {
            out.push('\u{feff}');
        }
        let n = self.lines.len();
        for (i, l) in self.lines.iter().enumerate() {
            match l {
                Line::Other { text } => out.push_str(text),
                Line::Var(a) => out.push_str(&a.render()),
            }
            if i + 1 < n || self.trailing_newline || self.appended {
                out.push_str(self.newline);
            }
        }
        out
    }
}

/// Splits into physical lines without their line ending (`\r\n` or `\n`).
fn split_lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

enum Parsed {
    Var(Assignment, usize),
    Other,
    Bad(&'static str),
}

fn is_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn parse_assignment(lines: &[&str], start: usize) -> Parsed {
    let first = lines[start];
    let trimmed = first.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Parsed::Other;
    }
    let Some(eq) = first.find('=') else {
        return Parsed::Bad("no `=` in a line that is not a comment");
    };
    let left = &first[..eq];
    let key_part = left.trim();
    let key = key_part
        .strip_prefix("export")
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map(str::trim)
        .unwrap_or(key_part);
    if !is_key(key) {
        return Parsed::Bad("the name before `=` is not a variable name");
    }
    let after = &first[eq + 1..];
    let lead = after.len() - after.trim_start_matches([' ', '\t']).len();
    let prefix = format!("{}{}", &first[..eq + 1], &after[..lead]);
    let rest = &after[lead..];
    let make = |value: String, quote: Quote, suffix: String, raw: String, consumed: usize| {
        Parsed::Var(
            Assignment {
                key: key.to_owned(),
                value,
                line: 0,
                quote,
                prefix: prefix.clone(),
                suffix,
                raw,
                changed: false,
            },
            consumed,
        )
    };
    match rest.chars().next() {
        Some(q @ ('\'' | '"')) => {
            // The quoted text may continue on the following lines.
            let mut text = rest[1..].to_owned();
            let mut consumed = 1;
            loop {
                if let Some((value, end)) = scan_quoted(&text, q) {
                    let suffix = text[end..].to_owned();
                    if !suffix_is_comment(&suffix) {
                        return Parsed::Bad("text after the closing quote");
                    }
                    let raw = lines[start..start + consumed].join("\n");
                    let quote = if q == '\'' {
                        Quote::Single
                    } else {
                        Quote::Double
                    };
                    return make(value, quote, suffix, raw, consumed);
                }
                if start + consumed >= lines.len() {
                    return Parsed::Bad("a quote that is never closed");
                }
                text.push('\n');
                text.push_str(lines[start + consumed]);
                consumed += 1;
            }
        }
        _ => {
            // Unquoted: ends at whitespace + `#`, trailing spaces trimmed.
            let mut end = rest.len();
            let bytes = rest.as_bytes();
            for i in 0..bytes.len() {
                if bytes[i] == b'#' && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t')) {
                    end = i;
                    break;
                }
            }
            let value = rest[..end].trim_end_matches([' ', '\t']);
            let suffix = rest[value.len()..].to_owned();
            make(value.to_owned(), Quote::None, suffix, first.to_owned(), 1)
        }
    }
}

/// The value inside quotes and the byte offset just past the closing quote.
fn scan_quoted(text: &str, q: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Some((value, i + c.len_utf8()));
        }
        if q == '"' && c == '\\' {
            match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, 't')) => value.push('\t'),
                // `\$` stays escaped so that interpolation leaves it alone.
                Some((_, '$')) => value.push_str("\\$"),
                Some((_, other)) => value.push(other),
                None => return None,
            }
            continue;
        }
        value.push(c);
    }
    None
}

fn suffix_is_comment(s: &str) -> bool {
    let t = s.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

/// True when an unquoted value would not read back as `v`.
fn needs_quotes(v: &str) -> bool {
    v.chars()
        .any(|c| c.is_whitespace() || matches!(c, '#' | '"' | '\'' | '\\' | '$' | '`'))
}

/// The quoting a new literal value needs (the current style when it
/// will do) and the value as stored (`$` kept as `\$` inside double quotes).
fn quoting_for(value: &str, current: Quote) -> (Quote, String) {
    if !needs_quotes(value) {
        return (current, value.to_owned());
    }
    if !value.contains('\'') {
        return (Quote::Single, value.to_owned());
    }
    (Quote::Double, value.replace('$', "\\$"))
}

/// Writes `v` so that it reads back unchanged with the given quoting.
fn quote_value(v: &str, quote: Quote) -> String {
    match quote {
        Quote::None => v.to_owned(),
        Quote::Single => format!("'{v}'"),
        Quote::Double => {
            let mut out = String::from("\"");
            let mut chars = v.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    // An escaped `$` is stored as `\$` already.
                    '\\' if chars.peek() == Some(&'$') => out.push('\\'),
                    '\\' => out.push_str("\\\\"),
                    other => out.push(other),
                }
            }
            out.push('"');
            out
        }
    }
}

/// Replaces `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$VAR` with
/// values from `vars`; `\$` becomes `$`; unknown variables are empty (as
/// Compose and `dotenvy` read them when the shell does not set them).
fn interpolate(v: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(v.len());
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < v.len() {
        let c = bytes[i];
        if c == b'\\' && bytes.get(i + 1) == Some(&b'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if c == b'$' {
            if bytes.get(i + 1) == Some(&b'{')
                && let Some(close) = v[i + 2..].find('}')
            {
                let inner = &v[i + 2..i + 2 + close];
                let (name, default) = match inner.find(":-").or_else(|| inner.find('-')) {
                    Some(p) => {
                        let skip = if inner[p..].starts_with(":-") { 2 } else { 1 };
                        (&inner[..p], Some(&inner[p + skip..]))
                    }
                    None => (inner, None),
                };
                if is_key(name) {
                    let found = vars
                        .get(name)
                        .filter(|s| !(s.is_empty() && inner.contains(":-")));
                    match (found, default) {
                        (Some(val), _) => out.push_str(val),
                        (None, Some(d)) => out.push_str(d),
                        (None, None) => {}
                    }
                    i += 3 + close;
                    continue;
                }
            } else {
                let name_len = v[i + 1..]
                    .chars()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                    .count();
                let name = &v[i + 1..i + 1 + name_len];
                if name_len > 0
                    && name.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
                {
                    if let Some(val) = vars.get(name) {
                        out.push_str(val);
                    }
                    i += 1 + name_len;
                    continue;
                }
            }
        }
        let ch = v[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Secrets\n\nexport POSTGRES_PASSWORD=abc  # inline\nJWT_SECRET='lit $X'\nSITE_URL=\"http://x.test/a#b\"\nMULTI=\"line one\nline two\"\nnot an assignment\nHOST=db\nURL=http://${HOST}:${PORT:-5432}/$HOST\n";

    #[test]
    fn reads_values_as_compose_does() {
        let f = EnvFile::parse(SAMPLE);
        assert_eq!(f.value("POSTGRES_PASSWORD"), Some("abc"));
        assert_eq!(f.value("JWT_SECRET"), Some("lit $X"));
        assert_eq!(f.value("SITE_URL"), Some("http://x.test/a#b"));
        assert_eq!(f.value("MULTI"), Some("line one\nline two"));
        assert_eq!(f.get("HOST").map(|a| a.line), Some(9));
        assert_eq!(
            f.resolved_value("URL").as_deref(),
            Some("http://db:5432/db")
        );
        assert_eq!(
            f.issues,
            vec![SyntaxIssue {
                line: 8,
                problem: "no `=` in a line that is not a comment"
            }]
        );
    }

    #[test]
    fn render_without_changes_is_identical() {
        for text in [
            SAMPLE,
            "A=1",
            "A=1\r\nB=2\r\n",
            "\u{feff}A=1\n",
            "",
            "\n\n# c\n",
        ] {
            assert_eq!(EnvFile::parse(text).render(), text, "{text:?}");
        }
    }

    #[test]
    fn set_rewrites_only_the_value() {
        let mut f = EnvFile::parse(SAMPLE);
        f.set("POSTGRES_PASSWORD", "newpass");
        f.set("SITE_URL", "https://x.test");
        f.set("JWT_SECRET", "it's");
        let out = f.render();
        assert!(out.contains("export POSTGRES_PASSWORD=newpass  # inline\n"));
        assert!(out.contains("SITE_URL=\"https://x.test\"\n"));
        assert!(out.contains("JWT_SECRET=\"it's\"\n"));
        assert!(out.starts_with("# Secrets\n\n"));
        let back = EnvFile::parse(&out);
        assert_eq!(back.value("JWT_SECRET"), Some("it's"));
        assert_eq!(back.value("MULTI"), Some("line one\nline two"));
    }

    #[test]
    fn set_appends_missing_variables_with_crlf_kept() {
        let mut f = EnvFile::parse("A=1\r\nB=2");
        let line = f.set("C", "x y");
        let out = f.render();
        assert_eq!(
            out,
            "A=1\r\nB=2\r\n\r\n# Added by supabase-mcp env fix\r\nC='x y'\r\n"
        );
        assert_eq!(line, 5);
        assert_eq!(EnvFile::parse(&out).value("C"), Some("x y"));
    }

    #[test]
    fn last_assignment_wins_and_duplicates_are_listed() {
        let f = EnvFile::parse("A=1\nB=2\nA=3\n");
        assert_eq!(f.value("A"), Some("3"));
        assert_eq!(f.duplicates(), vec![("A".to_owned(), vec![1, 3])]);
    }

    #[test]
    fn double_quoted_escapes_round_trip() {
        let mut f = EnvFile::parse("A=\"a\\\"b\\\\c\\$D\\n\"\n");
        assert_eq!(f.resolved_value("A").as_deref(), Some("a\"b\\c$D\n"));
        f.set("A", "q\"\\z");
        let out = f.render();
        assert_eq!(EnvFile::parse(&out).value("A"), Some("q\"\\z"));
    }

    #[test]
    fn unclosed_quote_is_an_issue_not_an_error() {
        let f = EnvFile::parse("A=\"open\nB=2\n");
        assert_eq!(f.issues.len(), 1);
        assert_eq!(f.value("B"), Some("2"));
        assert_eq!(f.render(), "A=\"open\nB=2\n");
    }
}
