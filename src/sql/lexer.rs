//! The fallback lexer, used only when PostgreSQL's parser rejects the SQL:
//! it skips comments, string literals, dollar-quoted bodies and quoted
//! identifiers, splits statements on `;`, and guesses what each statement
//! does from its keywords.

/// What one statement does, as far as the rails care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Upper-case keywords of the statement, outside literals and comments.
    pub words: Vec<String>,
    /// Byte offset of the statement's first keyword in the input.
    pub start: usize,
}

impl Statement {
    /// The first keyword (`SELECT`, `DROP`...), or "" for an empty statement.
    pub fn first(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }

    fn has(&self, w: &str) -> bool {
        self.words.iter().any(|x| x == w)
    }

    /// `Some(why)` when the statement destroys data or objects.
    pub fn destructive(&self) -> Option<String> {
        let w = &self.words;
        match self.first() {
            "DROP" => Some(format!(
                "DROP {}",
                w.get(1).map(String::as_str).unwrap_or("")
            )),
            "TRUNCATE" => Some("TRUNCATE".to_owned()),
            "DELETE" if !self.has("WHERE") => Some("DELETE without WHERE".to_owned()),
            "UPDATE" if !self.has("WHERE") => Some("UPDATE without WHERE".to_owned()),
            "ALTER" if self.has("DROP") => Some("ALTER ... DROP".to_owned()),
            "WITH" if (self.has("DELETE") || self.has("UPDATE")) && !self.has("WHERE") => {
                Some("data-modifying WITH without WHERE".to_owned())
            }
            _ => None,
        }
    }

    /// True for statements that end, start or reconfigure transactions or the
    /// session's read-only setting: refused in read-only mode so a query cannot
    /// step out of its read-only transaction.
    pub fn escapes_transaction(&self) -> bool {
        match self.first() {
            "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT"
            | "RELEASE" | "PREPARE" | "RESET" | "DISCARD" | "SET" | "CALL" | "DO" => true,
            // SELECT set_config('transaction_read_only', ...)
            _ => self.words.iter().any(|x| x == "SET_CONFIG"),
        }
    }
}

/// Splits `sql` into statements (empty ones dropped).
pub fn statements(sql: &str) -> Vec<Statement> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // nested block comments
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                let escapes = i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e');
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // $tag$ ... $tag$ (a tag is empty or an identifier), or $1 parameters
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j < b.len()
                    && b[j] == b'$'
                    && !b[i + 1..j].first().is_some_and(|c| c.is_ascii_digit())
                {
                    let tag = &sql[i..=j];
                    match sql[j + 1..].find(tag) {
                        Some(end) => i = j + 1 + end + tag.len(),
                        None => i = b.len(),
                    }
                } else {
                    i = j;
                }
            }
            b';' => {
                if !words.is_empty() {
                    out.push(Statement {
                        words: std::mem::take(&mut words),
                        start,
                    });
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let word_start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if words.is_empty() {
                    start = word_start;
                }
                // a word directly followed by a quote is a prefix (E'..'): keep it
                words.push(sql[word_start..i].to_ascii_uppercase());
            }
            _ => i += 1,
        }
    }
    if !words.is_empty() {
        out.push(Statement { words, start });
    }
    out
}

/// Why `sql` needs confirmation, if it does (the first destructive statement).
pub fn destructive_reason(sql: &str) -> Option<String> {
    statements(sql).iter().find_map(Statement::destructive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_destructive_statements() {
        assert_eq!(
            destructive_reason("drop table users").as_deref(),
            Some("DROP TABLE")
        );
        assert!(destructive_reason("TRUNCATE t").is_some());
        assert!(destructive_reason("delete from t").is_some());
        assert!(destructive_reason("delete from t where id = 1").is_none());
        assert!(destructive_reason("update t set a = 1").is_some());
        assert!(destructive_reason("alter table t drop column c").is_some());
        assert!(destructive_reason("select 1; drop schema s cascade").is_some());
        assert!(
            destructive_reason("with d as (delete from t returning *) select * from d").is_some()
        );
    }

    #[test]
    fn ignores_keywords_in_literals_and_comments() {
        assert!(destructive_reason("select 'drop table x'").is_none());
        assert!(destructive_reason("select 1 -- drop table x").is_none());
        assert!(destructive_reason("select /* drop /* nested */ table */ 1").is_none());
        assert!(destructive_reason("select \"drop\" from t").is_none());
        assert!(
            destructive_reason(
                "create function f() returns void as $$ delete from t $$ language sql"
            )
            .is_none()
        );
        assert!(
            destructive_reason(
                "create function f() returns void as $body$ truncate t $body$ language sql"
            )
            .is_none()
        );
        assert!(destructive_reason("select E'it\\'s; drop table x'").is_none());
        assert!(destructive_reason("select 'it''s; drop table x'").is_none());
        assert!(destructive_reason("select $1::text").is_none());
    }

    #[test]
    fn splits_statements_and_finds_transaction_control() {
        let s = statements("select 1; ; commit; select 'a;b'");
        assert_eq!(s.len(), 3);
        assert!(s[1].escapes_transaction());
        assert!(!s[0].escapes_transaction());
        assert!(
            statements("set transaction read write")
                .iter()
                .any(Statement::escapes_transaction)
        );
        assert!(
            statements("select set_config('transaction_read_only','off',true)")
                .iter()
                .any(Statement::escapes_transaction)
        );
    }
}
