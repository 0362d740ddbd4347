//! Syntax errors as a person wants them: where (line and column), near
//! which token, and what probably fixes it (a misspelled keyword, an
//! unclosed quote or parenthesis).
//!
//! PostgreSQL's parser reports the message but the Rust binding drops the
//! cursor position, so the position is recovered from the message: the
//! token it names is looked up among the scanner's tokens, and the right
//! occurrence is the first one whose prefix of the input fails the same way.

use serde::Serialize;

/// A parse failure, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxError {
    /// The parser's message, e.g. `syntax error at or near "SELCT"`.
    pub message: String,
    /// Byte offset of the error in the input.
    pub position: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The token the parser stopped at, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub near: Option<String>,
    /// The most likely fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (line {}, column {})",
            self.message, self.line, self.column
        )
    }
}

/// Most candidate occurrences of the error token checked by re-parsing.
const MAX_CANDIDATES: usize = 64;
/// Longer inputs are not re-parsed: the first occurrence is taken.
const MAX_REPARSE_BYTES: usize = 256 * 1024;

/// Locates `message` (from parsing `sql`) and suggests a fix.
pub fn diagnose(sql: &str, message: &str) -> SyntaxError {
    let near = near_token(message);
    let position = locate(sql, message, near.as_deref());
    let (line, column) = line_column(sql, position);
    let suggestion = suggest(sql, message, position, near.as_deref());
    SyntaxError {
        message: message.to_owned(),
        position,
        line,
        column,
        near,
        suggestion,
    }
}

/// 1-based line and column (characters) of byte offset `pos` in `text`.
pub fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let pos = floor_char_boundary(text, pos);
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = text[line_start..pos].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, pos: usize) -> usize {
    let mut p = pos.min(text.len());
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    p
}

/// The token in `... at or near "X"`.
fn near_token(message: &str) -> Option<String> {
    let start = message.find(" at or near \"")? + " at or near \"".len();
    let rest = &message[start..];
    let end = rest.rfind('"')?;
    Some(rest[..end].to_owned())
}

fn locate(sql: &str, message: &str, near: Option<&str>) -> usize {
    if message.ends_with("at end of input") {
        return sql.trim_end().len();
    }
    let Some(near) = near else {
        return 0;
    };
    // Unterminated literals and comments run to the end of the input.
    if message.starts_with("unterminated")
        && let Some(p) = sql.rfind(near)
    {
        return p;
    }
    let Ok(scan) = pg_query::scan(sql) else {
        return sql.find(near).unwrap_or(0);
    };
    let candidates: Vec<(usize, usize)> = scan
        .tokens
        .iter()
        .filter_map(|t| {
            let (s, e) = (usize::try_from(t.start).ok()?, usize::try_from(t.end).ok()?);
            (sql.get(s..e) == Some(near)).then_some((s, e))
        })
        .take(MAX_CANDIDATES)
        .collect();
    for &(s, e) in candidates.iter().filter(|_| sql.len() <= MAX_REPARSE_BYTES) {
        // The parser stops at the first token it cannot use: the prefix
        // ending with the right occurrence fails with the same message.
        if let Err(pg_query::Error::Parse(m)) = pg_query::parse(&sql[..e], 0)
            && m == message
        {
            return s;
        }
    }
    candidates
        .first()
        .map(|c| c.0)
        .or_else(|| sql.find(near))
        .unwrap_or(0)
}

fn suggest(sql: &str, message: &str, position: usize, near: Option<&str>) -> Option<String> {
    if message.starts_with("unterminated quoted string") {
        return Some("Close the string with a single quote ('); write a quote inside a string as two quotes ('').".to_owned());
    }
    if message.starts_with("unterminated quoted identifier") {
        return Some("Close the identifier with a double quote (\").".to_owned());
    }
    if message.starts_with("unterminated dollar-quoted string") {
        let tag = near
            .and_then(|n| {
                let end = n.get(1..)?.find('$')? + 2;
                n.get(..end)
            })
            .unwrap_or("$$");
        return Some(format!("Close the dollar-quoted string with {tag}."));
    }
    if message.starts_with("unterminated /* comment") {
        return Some("Close the comment with */ (comments nest in PostgreSQL).".to_owned());
    }
    if let Some(p) = unbalanced_parens(sql) {
        return Some(p);
    }
    if !message.starts_with("syntax error") {
        return None;
    }
    // A misspelled keyword: the error token itself, or the word before it
    // (`select id FORM users` fails at `users`).
    let mut words = Vec::new();
    if let Some(n) = near {
        words.push(n.to_owned());
    }
    if let Some(prev) = previous_word(sql, position) {
        words.push(prev);
    }
    for w in words {
        if let Some(k) = closest_keyword(&w) {
            return Some(format!("`{w}` is not a keyword here: did you mean {k}?"));
        }
    }
    if message.ends_with("at end of input") {
        return Some("The statement is incomplete: check for a missing closing parenthesis, quote or clause.".to_owned());
    }
    None
}

/// The identifier token just before byte offset `pos`.
fn previous_word(sql: &str, pos: usize) -> Option<String> {
    let scan = pg_query::scan(sql).ok()?;
    let t = scan
        .tokens
        .iter()
        .take_while(|t| usize::try_from(t.start).is_ok_and(|s| s < pos))
        .filter(|t| !is_comment(t.token))
        .last()?;
    let text = sql.get(usize::try_from(t.start).ok()?..usize::try_from(t.end).ok()?)?;
    text.chars()
        .all(|c| c.is_ascii_alphabetic() || c == '_')
        .then(|| text.to_owned())
}

fn is_comment(token: i32) -> bool {
    token == pg_query::protobuf::Token::SqlComment as i32
        || token == pg_query::protobuf::Token::CComment as i32
}

/// Reports the first unmatched parenthesis, if any (outside literals and comments).
fn unbalanced_parens(sql: &str) -> Option<String> {
    let scan = pg_query::scan(sql).ok()?;
    let mut open: Vec<usize> = Vec::new();
    for t in &scan.tokens {
        let s = usize::try_from(t.start).ok()?;
        match sql.get(s..usize::try_from(t.end).ok()?) {
            Some("(") => open.push(s),
            Some(")") if open.pop().is_none() => {
                let (l, c) = line_column(sql, s);
                return Some(format!(
                    "The `)` at line {l}, column {c} has no matching `(`."
                ));
            }
            _ => {}
        }
    }
    let s = *open.first()?;
    let (l, c) = line_column(sql, s);
    Some(format!(
        "{} `(` not closed; the first one is at line {l}, column {c}.",
        open.len()
    ))
}

/// Keywords a misspelling is compared against.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "DELETE",
    "CREATE",
    "TABLE",
    "DROP",
    "ALTER",
    "GROUP",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "FULL",
    "CROSS",
    "USING",
    "DISTINCT",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "WITH",
    "RETURNING",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "GRANT",
    "REVOKE",
    "INDEX",
    "VIEW",
    "FUNCTION",
    "TRIGGER",
    "SCHEMA",
    "PRIMARY",
    "FOREIGN",
    "REFERENCES",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "CONSTRAINT",
    "CASCADE",
    "TRUNCATE",
    "EXPLAIN",
    "ANALYZE",
    "EXISTS",
    "NULL",
    "TRUE",
    "FALSE",
    "WINDOW",
    "OVER",
    "PARTITION",
    "LATERAL",
    "RECURSIVE",
    "CONFLICT",
    "NOTHING",
    "RETURNS",
    "LANGUAGE",
    "SEQUENCE",
    "COLUMN",
    "EXTENSION",
    "POLICY",
    "DATABASE",
    "ROLE",
    "VACUUM",
    "COMMENT",
    "SET",
    "SHOW",
    "AND",
    "NOT",
];

/// The keyword within edit distance 2 of `word`, if one is clearly closest.
pub fn closest_keyword(word: &str) -> Option<&'static str> {
    let upper = word.to_ascii_uppercase();
    if upper.len() < 3 || KEYWORDS.contains(&upper.as_str()) {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for k in KEYWORDS {
        let d = distance(&upper, k);
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    // Short words only with one edit: `ab` is not `AND`.
    best.filter(|(d, _)| *d == 1 || upper.len() >= 5)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance (Levenshtein plus adjacent swaps).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(sql: &str) -> SyntaxError {
        match pg_query::parse(sql, 0) {
            Err(pg_query::Error::Parse(m)) => diagnose(sql, &m),
            other => panic!("expected a parse error for {sql:?}, got {other:?}"),
        }
    }

    #[test]
    fn misspelled_keyword_is_located_and_named() {
        let e = err("SELCT 1");
        assert_eq!((e.line, e.column, e.position), (1, 1, 0));
        assert_eq!(e.near.as_deref(), Some("SELCT"));
        assert!(e.suggestion.unwrap().contains("SELECT"));
        let e = err("select 1;\nselect id\n  FORM users");
        assert_eq!((e.line, e.column), (3, 8), "{e:?}");
        assert!(e.suggestion.unwrap().contains("FROM"));
    }

    #[test]
    fn the_right_occurrence_of_a_repeated_token() {
        let e = err("select (1), (2) (3)");
        assert_eq!(e.near.as_deref(), Some("("));
        assert_eq!(e.column, 17, "{e:?}");
    }

    #[test]
    fn unterminated_and_unbalanced() {
        let e = err("select 'abc");
        assert_eq!(e.column, 8);
        assert!(e.suggestion.unwrap().contains("single quote"));
        let e = err("select (1 + (2)");
        assert!(e.message.ends_with("end of input"));
        assert!(
            e.suggestion.as_deref().unwrap_or("").contains("not closed"),
            "{e:?}"
        );
        let e = err("select 1)");
        assert!(e.suggestion.unwrap().contains("no matching"));
        let e = err("select $x$abc");
        assert!(e.suggestion.unwrap().contains("$x$"));
    }

    #[test]
    fn keyword_distance() {
        assert_eq!(closest_keyword("SELCT"), Some("SELECT"));
        assert_eq!(closest_keyword("form"), Some("FROM"));
        assert_eq!(closest_keyword("WHRE"), Some("WHERE"));
        assert_eq!(closest_keyword("users"), None);
        assert_eq!(closest_keyword("select"), None);
        assert_eq!(line_column("ab\ncé d", 6), (2, 3));
    }
}
