//! Statement classification with PostgreSQL's own parser (libpg_query).
//!
//! Every statement gets a kind (`SELECT`, `DROP TABLE`...), a safety level
//! and the reason for it:
//!
//! * `read`: SELECT without a locking clause and calling only functions
//!   known to be read-only, VALUES, SHOW, EXPLAIN without ANALYZE, FETCH;
//! * `write`: INSERT, UPDATE/DELETE with WHERE, CREATE, ALTER without DROP,
//!   GRANT, COMMENT, DO, CALL, SET, transaction control, SELECT ... FOR
//!   UPDATE/SHARE, and any statement calling a function not known to be
//!   read-only;
//! * `destructive`: DROP, TRUNCATE, DELETE/UPDATE without WHERE (also in a
//!   data-modifying WITH), ALTER ... DROP, REVOKE, `pg_terminate_backend`,
//!   DO blocks and functions whose body does one of these;
//! * `forbidden`: reaching outside the database: COPY ... PROGRAM, COPY
//!   to/from a server file, `pg_read_file` and friends, `lo_import`/
//!   `lo_export`, `dblink*`, ALTER SYSTEM, LOAD, roles with SUPERUSER,
//!   granting `pg_read_server_files`/`pg_write_server_files`/
//!   `pg_execute_server_program`, functions in untrusted languages.
//!
//! A string of several statements is as bad as its worst statement. SQL the
//! parser rejects is `invalid`; its statements are then guessed by the
//! keyword lexer of [`super::lexer`], which is only a fallback. The level is
//! a static judgement: read-only execution does not rely on it (see
//! [`super::run`]).

use serde::Serialize;
use serde_json::Value;

use super::functions::{self, Effect};
use super::lexer;
use super::syntax::{self, SyntaxError};

/// How much a statement can change, from harmless to refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Destructive,
    Forbidden,
    /// The SQL does not parse (whole input only).
    Invalid,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Destructive => "destructive",
            Level::Forbidden => "forbidden",
            Level::Invalid => "invalid",
        }
    }
}

/// A change of the current role or session user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleSwitch {
    /// `SET ROLE name`, `SET SESSION AUTHORIZATION name`, `set_config('role', 'name', ..)`.
    To(String),
    /// Back to the session's own role (`RESET ROLE`, `SET ROLE NONE`).
    Reset,
    /// The target is computed at run time.
    Computed,
}

/// What one statement does.
#[derive(Debug, Clone, Serialize)]
pub struct StatementInfo {
    /// `SELECT`, `INSERT`, `DROP TABLE`, `CREATE FUNCTION`...
    pub kind: String,
    pub level: Level,
    /// Why the statement has this level.
    pub reason: String,
    /// What the statement does, without any identifier or value from the
    /// SQL (safe to show unscrubbed, e.g. in confirmation prompts).
    #[serde(skip)]
    pub action: String,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// Byte range of the statement in the input.
    #[serde(skip)]
    pub start: usize,
    #[serde(skip)]
    pub end: usize,
    /// Set for transaction and session control (BEGIN, COMMIT, SET, RESET,
    /// DISCARD, PREPARE, LISTEN, `set_config`...), refused in read-only mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_control: Option<String>,
    /// The level is `write` only because of functions not known to be
    /// read-only (a read-only transaction decides whether they write).
    #[serde(skip)]
    pub functions_only: bool,
    /// Leaves state in the session beyond the transaction (session SET,
    /// temporary objects, prepared statements, LISTEN, session locks).
    #[serde(skip)]
    pub changes_session: bool,
    #[serde(skip)]
    pub role_switch: Option<RoleSwitch>,
    /// May return rows.
    #[serde(skip)]
    pub returns_rows: bool,
    /// Can be prepared (`PREPARE name AS ...`): SELECT, VALUES, INSERT, UPDATE, DELETE, MERGE.
    #[serde(skip)]
    pub preparable: bool,
    /// Can follow `EXPLAIN`.
    #[serde(skip)]
    pub explainable: bool,
    /// COPY FROM STDIN / TO STDOUT (needs the COPY sub-protocol).
    #[serde(skip)]
    pub copy_protocol: bool,
    /// The command tag carries a row count (SELECT n, INSERT 0 n...).
    #[serde(skip)]
    pub counts_rows: bool,
    /// Highest `$n` parameter used.
    #[serde(skip)]
    pub max_param: usize,
}

/// The verdict on a whole SQL string.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// The worst level of its statements, or `invalid`.
    pub level: Level,
    pub statements: Vec<StatementInfo>,
    /// The parse error, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SyntaxError>,
}

impl Classification {
    /// Why the SQL needs confirmation: what its destructive statements do
    /// (without identifiers or values from the SQL).
    pub fn destructive_reason(&self) -> Option<String> {
        let reasons: Vec<&str> = self
            .statements
            .iter()
            .filter(|s| s.level == Level::Destructive)
            .map(|s| s.action.as_str())
            .collect();
        match reasons.len() {
            0 => None,
            1..=3 => Some(reasons.join("; ")),
            n => Some(format!("{} (and {} more)", reasons[..3].join("; "), n - 3)),
        }
    }

    /// The first forbidden statement.
    pub fn forbidden(&self) -> Option<&StatementInfo> {
        self.statements.iter().find(|s| s.level == Level::Forbidden)
    }

    /// The first statement doing transaction or session control.
    pub fn session_control(&self) -> Option<&StatementInfo> {
        self.statements.iter().find(|s| s.session_control.is_some())
    }

    /// True when a statement leaves state in the session after the call.
    pub fn changes_session(&self) -> bool {
        self.statements.iter().any(|s| s.changes_session)
    }

    /// Highest `$n` used by any statement.
    pub fn max_param(&self) -> usize {
        self.statements
            .iter()
            .map(|s| s.max_param)
            .max()
            .unwrap_or(0)
    }
}

/// Classifies every statement of `sql`.
pub fn classify(sql: &str) -> Classification {
    classify_at(sql, 0)
}

/// Why `sql` needs confirmation, if it does. Uses the parser, and the
/// keyword lexer when the SQL does not parse.
pub fn destructive_reason(sql: &str) -> Option<String> {
    classify(sql).destructive_reason()
}

/// Bodies (DO, functions, EXECUTE of a literal) are analysed this deep.
const MAX_DEPTH: u8 = 3;

fn classify_at(sql: &str, depth: u8) -> Classification {
    if let Some(p) = sql.find('\0') {
        let (line, column) = syntax::line_column(sql, p);
        return invalid(
            sql,
            SyntaxError {
                message: "the SQL contains a NUL character".to_owned(),
                position: p,
                line,
                column,
                near: None,
                suggestion: Some(
                    "Remove the NUL (\\0) character: PostgreSQL text cannot contain it.".to_owned(),
                ),
            },
        );
    }
    match pg_query::parse(sql, 0) {
        Ok(parsed) => {
            let statements = parsed
                .protobuf
                .stmts
                .iter()
                .filter_map(|raw| {
                    let node = raw.stmt.as_ref()?.node.as_ref()?;
                    let (start, end) = span(sql, raw.stmt_location, raw.stmt_len);
                    Some(statement(node, sql, start, end, depth))
                })
                .collect();
            finish(statements)
        }
        Err(pg_query::Error::Parse(message)) => invalid(sql, syntax::diagnose(sql, &message)),
        // The tree is too deep for the protobuf decoder: analyse statement
        // by statement, conservatively for the deep ones.
        Err(pg_query::Error::Decode(_)) => too_deep(sql, depth),
        Err(other) => invalid(
            sql,
            SyntaxError {
                message: other.to_string(),
                position: 0,
                line: 1,
                column: 1,
                near: None,
                suggestion: None,
            },
        ),
    }
}

fn finish(statements: Vec<StatementInfo>) -> Classification {
    let level = statements
        .iter()
        .map(|s| s.level)
        .max()
        .unwrap_or(Level::Read);
    Classification {
        level,
        statements,
        error: None,
    }
}

/// Byte range of a parsed statement (`len` 0 means "to the end").
fn span(sql: &str, location: i32, len: i32) -> (usize, usize) {
    let start = usize::try_from(location).unwrap_or(0).min(sql.len());
    let end = match usize::try_from(len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(n) => (start + n).min(sql.len()),
    };
    (start, end)
}

fn statement(
    node: &pg_query::NodeEnum,
    sql: &str,
    start: usize,
    end: usize,
    depth: u8,
) -> StatementInfo {
    let text = sql.get(start..end).unwrap_or("");
    let (line, _) = syntax::line_column(sql, start);
    let json = serde_json::to_value(node).unwrap_or(Value::Null);
    let v = match tagged(&json) {
        Some((tag, body)) => verdict(tag, body, text, depth),
        None => V::new(
            "UNKNOWN",
            Level::Write,
            "the statement could not be analysed",
        ),
    };
    v.into_info(line, start, end)
}

/// Analysis when the tree is too deep to decode: statements that decode are
/// analysed fully, the others are at least writes and checked by keywords.
fn too_deep(sql: &str, depth: u8) -> Classification {
    let Ok(pieces) = pg_query::split_with_parser(sql) else {
        return invalid(
            sql,
            SyntaxError {
                message: "the SQL could not be split into statements".to_owned(),
                position: 0,
                line: 1,
                column: 1,
                near: None,
                suggestion: None,
            },
        );
    };
    let base = sql.as_ptr() as usize;
    let mut statements = Vec::new();
    for piece in pieces {
        let start = (piece.as_ptr() as usize).saturating_sub(base);
        let end = start + piece.len();
        match pg_query::parse(piece, 0) {
            Ok(parsed) => {
                for raw in &parsed.protobuf.stmts {
                    if let Some(node) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) {
                        statements.push(statement(node, sql, start, end, depth));
                    }
                }
            }
            Err(_) => {
                for s in lexer::statements(piece) {
                    let mut info = guess(&s, sql, start + s.start, end);
                    if info.level < Level::Write {
                        info.level = Level::Write;
                    }
                    info.reason = format!(
                        "nested too deeply to analyse in full, treated as at least a write ({})",
                        info.reason
                    );
                    statements.push(info);
                }
            }
        }
    }
    finish(statements)
}

fn invalid(sql: &str, error: SyntaxError) -> Classification {
    let statements = lexer::statements(sql)
        .iter()
        .map(|s| {
            let end = sql.len();
            guess(s, sql, s.start, end)
        })
        .collect();
    Classification {
        level: Level::Invalid,
        statements,
        error: Some(error),
    }
}

/// A statement's level guessed from its keywords (fallback only).
fn guess(s: &lexer::Statement, sql: &str, start: usize, end: usize) -> StatementInfo {
    let first = s.first();
    let kind = match first {
        "CREATE" | "DROP" | "ALTER" => match s.words.get(1) {
            Some(w) => format!("{first} {w}"),
            None => first.to_owned(),
        },
        _ => first.to_owned(),
    };
    let forbidden =
        s.words
            .iter()
            .find_map(|w| match functions::effect(None, &w.to_ascii_lowercase()) {
                Effect::Forbidden(why) => {
                    Some(format!("mentions {}: {why}", w.to_ascii_lowercase()))
                }
                _ => None,
            });
    let (level, reason) = if let Some(why) = forbidden {
        (Level::Forbidden, why)
    } else if first == "COPY" && s.words.iter().any(|w| w == "PROGRAM") {
        (
            Level::Forbidden,
            "COPY ... PROGRAM runs a program on the database server".to_owned(),
        )
    } else if let Some(d) = s.destructive() {
        (Level::Destructive, d)
    } else if matches!(first, "SELECT" | "SHOW" | "VALUES" | "TABLE")
        && !s.words.iter().any(|w| w == "INTO" || w == "FOR")
    {
        (Level::Read, format!("{first} reads data"))
    } else {
        (Level::Write, format!("{kind} may change the database"))
    };
    let action = (level == Level::Destructive).then(|| reason.clone());
    let mut info = V::new(kind, level, format!("guessed from keywords: {reason}"));
    info.action = action;
    if s.escapes_transaction() {
        info.session_control = Some("is transaction or session control".to_owned());
    }
    let (line, _) = syntax::line_column(sql, start);
    info.into_info(line, start, end)
}

/// Which facts of the tree count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Facts {
    /// The statement runs its expressions: functions, locking, nested writes.
    Full,
    /// A definition (CREATE VIEW, DEFAULT expressions...): only forbidden calls.
    ForbiddenOnly,
    None,
}

/// A verdict being built.
struct V {
    kind: String,
    level: Level,
    reason: String,
    /// Name-free description; the kind when unset.
    action: Option<String>,
    facts: Facts,
    session_control: Option<String>,
    functions_only: bool,
    changes_session: bool,
    role_switch: Option<RoleSwitch>,
    returns_rows: bool,
    preparable: bool,
    explainable: bool,
    copy_protocol: bool,
    counts_rows: bool,
    max_param: usize,
}

impl V {
    fn new(kind: impl Into<String>, level: Level, reason: impl Into<String>) -> Self {
        V {
            kind: kind.into(),
            level,
            reason: reason.into(),
            action: None,
            facts: Facts::ForbiddenOnly,
            session_control: None,
            functions_only: false,
            changes_session: false,
            role_switch: None,
            returns_rows: false,
            preparable: false,
            explainable: false,
            copy_protocol: false,
            counts_rows: false,
            max_param: 0,
        }
    }

    fn raise(&mut self, level: Level, reason: impl Into<String>) {
        if level > self.level {
            self.level = level;
            self.reason = reason.into();
            self.action = None;
            self.functions_only = false;
        }
    }

    /// [`V::raise`] with a name-free action.
    fn raise_as(&mut self, level: Level, reason: impl Into<String>, action: impl Into<String>) {
        if level > self.level {
            self.raise(level, reason);
            self.action = Some(action.into());
        }
    }

    fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    fn session(&mut self, why: impl Into<String>) {
        if self.session_control.is_none() {
            self.session_control = Some(why.into());
        }
    }

    /// A statement that runs a query and may return its rows.
    fn query(mut self) -> Self {
        self.facts = Facts::Full;
        self.returns_rows = true;
        self.preparable = true;
        self.explainable = true;
        self.counts_rows = true;
        self
    }

    fn into_info(self, line: usize, start: usize, end: usize) -> StatementInfo {
        StatementInfo {
            action: self.action.unwrap_or_else(|| self.kind.clone()),
            kind: self.kind,
            level: self.level,
            reason: self.reason,
            line,
            start,
            end,
            session_control: self.session_control,
            functions_only: self.functions_only,
            changes_session: self.changes_session,
            role_switch: self.role_switch,
            returns_rows: self.returns_rows,
            preparable: self.preparable,
            explainable: self.explainable,
            copy_protocol: self.copy_protocol,
            counts_rows: self.counts_rows,
            max_param: self.max_param,
        }
    }
}

fn verdict(tag: &str, b: &Value, text: &str, depth: u8) -> V {
    let mut v = base_verdict(tag, b, text, depth);
    if v.facts != Facts::None {
        let mut f = TreeFacts::default();
        walk(b, &mut f);
        apply_facts(&mut v, &f);
    }
    v
}

fn base_verdict(tag: &str, b: &Value, text: &str, depth: u8) -> V {
    match tag {
        "SelectStmt" => {
            let values = !list(b, "values_lists").is_empty() && list(b, "from_clause").is_empty();
            if let Some(into) = b.get("into_clause").filter(|i| !i.is_null()) {
                let mut v = V::new("SELECT INTO", Level::Write, "SELECT INTO creates a table");
                v.facts = Facts::Full;
                v.counts_rows = true;
                v.changes_session = is_temp(into.get("rel"));
                return v;
            }
            let kind = if values { "VALUES" } else { "SELECT" };
            V::new(kind, Level::Read, format!("{kind} reads data")).query()
        }
        "InsertStmt" => {
            let mut v = V::new("INSERT", Level::Write, "INSERT adds rows").query();
            v.returns_rows = returns(b);
            v
        }
        "UpdateStmt" | "DeleteStmt" => {
            let verb = if tag == "UpdateStmt" {
                "UPDATE"
            } else {
                "DELETE"
            };
            let target = relation_name(b.get("relation"));
            let mut v = if has_where(b) {
                V::new(verb, Level::Write, format!("{verb} with WHERE"))
            } else {
                let what = if verb == "UPDATE" {
                    "changes"
                } else {
                    "removes"
                };
                V::new(
                    verb,
                    Level::Destructive,
                    format!("{verb} without WHERE {what} every row of {target}"),
                )
                .with_action(format!("{verb} without WHERE ({what} every row)"))
            }
            .query();
            v.returns_rows = returns(b);
            if target.ends_with("pg_settings") {
                v.session("changes settings through pg_settings");
                v.changes_session = true;
            }
            v
        }
        "MergeStmt" => {
            let mut v = V::new(
                "MERGE",
                Level::Write,
                "MERGE inserts, updates or deletes rows",
            )
            .query();
            v.returns_rows = returns(b);
            v
        }
        "ExplainStmt" => explain(b, depth),
        "VariableShowStmt" => {
            let mut v = V::new("SHOW", Level::Read, "SHOW reads a setting");
            v.returns_rows = true;
            v.facts = Facts::None;
            v
        }
        "VariableSetStmt" => set_statement(b),
        "TransactionStmt" => {
            let kind = match int(b, "kind") {
                1 => "BEGIN",
                2 => "START TRANSACTION",
                3 => "COMMIT",
                4 => "ROLLBACK",
                5 => "SAVEPOINT",
                6 => "RELEASE SAVEPOINT",
                7 => "ROLLBACK TO SAVEPOINT",
                8 => "PREPARE TRANSACTION",
                9 => "COMMIT PREPARED",
                10 => "ROLLBACK PREPARED",
                _ => "TRANSACTION",
            };
            let mut v = V::new(kind, Level::Write, format!("{kind} is transaction control"));
            v.session("would end or change the transaction the query runs in");
            v.changes_session = int(b, "kind") == 8;
            v.facts = Facts::None;
            v
        }
        "DiscardStmt" => {
            let mut v = V::new("DISCARD", Level::Write, "DISCARD resets session state");
            v.session("resets the session");
            v.changes_session = true;
            v
        }
        "TruncateStmt" => {
            let names: Vec<String> = list(b, "relations")
                .iter()
                .map(|r| relation_name(node(r).map(|(_, x)| x)))
                .collect();
            V::new(
                "TRUNCATE",
                Level::Destructive,
                format!("TRUNCATE {} removes every row", names.join(", ")),
            )
        }
        "DropStmt" => {
            let object = object_type(int(b, "remove_type"));
            let names = object_names(list(b, "objects"));
            let reason = if names.is_empty() {
                format!("DROP {object}")
            } else {
                format!("DROP {object} {}", names.join(", "))
            };
            let mut v = V::new(format!("DROP {object}"), Level::Destructive, reason);
            v.facts = Facts::None;
            v
        }
        "AlterTableStmt" => alter_table(b),
        "AlterDomainStmt" => {
            let sub = b.get("subtype").and_then(Value::as_str).unwrap_or("");
            if sub == "X" || sub == "N" {
                V::new("ALTER DOMAIN", Level::Destructive, "ALTER DOMAIN ... DROP")
            } else {
                V::new(
                    "ALTER DOMAIN",
                    Level::Write,
                    "ALTER DOMAIN changes a domain",
                )
            }
        }
        "AlterPublicationStmt" => {
            if enum_name::<pg_query::protobuf::AlterPublicationAction>(int(b, "action"))
                .contains("Drop")
            {
                V::new(
                    "ALTER PUBLICATION",
                    Level::Destructive,
                    "ALTER PUBLICATION ... DROP removes tables from a publication",
                )
            } else {
                V::new(
                    "ALTER PUBLICATION",
                    Level::Write,
                    "ALTER PUBLICATION changes a publication",
                )
            }
        }
        "AlterExtensionContentsStmt" if int(b, "action") < 0 => V::new(
            "ALTER EXTENSION",
            Level::Destructive,
            "ALTER EXTENSION ... DROP removes an object from an extension",
        ),
        "CreateRoleStmt" | "AlterRoleStmt" => {
            let kind = if tag == "CreateRoleStmt" {
                "CREATE ROLE"
            } else {
                "ALTER ROLE"
            };
            if def_elems(list(b, "options")).any(|(n, a)| n == "superuser" && def_true(a)) {
                V::new(
                    kind,
                    Level::Forbidden,
                    format!("{kind} ... SUPERUSER creates a superuser"),
                )
            } else if tag == "AlterRoleStmt" && int(b, "action") < 0 {
                V::new(
                    kind,
                    Level::Destructive,
                    "ALTER GROUP ... DROP USER removes members",
                )
            } else {
                V::new(kind, Level::Write, format!("{kind} changes roles"))
            }
        }
        "AlterSystemStmt" => V::new(
            "ALTER SYSTEM",
            Level::Forbidden,
            "ALTER SYSTEM rewrites the server configuration file",
        ),
        "LoadStmt" => V::new(
            "LOAD",
            Level::Forbidden,
            "LOAD loads a shared library into the database server",
        ),
        "CopyStmt" => copy(b),
        "GrantStmt" => grant(b),
        "GrantRoleStmt" => {
            if !bool_field(b, "is_grant") {
                return V::new(
                    "REVOKE",
                    Level::Destructive,
                    "REVOKE removes role memberships",
                );
            }
            let dangerous = list(b, "granted_roles").iter().find_map(|r| {
                let name = node(r)?.1.get("priv_name")?.as_str()?;
                matches!(
                    name,
                    "pg_read_server_files" | "pg_write_server_files" | "pg_execute_server_program"
                )
                .then(|| name.to_owned())
            });
            match dangerous {
                Some(role) => V::new(
                    "GRANT",
                    Level::Forbidden,
                    format!("GRANT {role} gives access to the server's files or programs"),
                ),
                None => V::new("GRANT", Level::Write, "GRANT gives role memberships"),
            }
        }
        "AlterDefaultPrivilegesStmt" => {
            let action = b.get("action").unwrap_or(&Value::Null);
            if bool_field(action, "is_grant") {
                V::new(
                    "ALTER DEFAULT PRIVILEGES",
                    Level::Write,
                    "changes default privileges",
                )
            } else {
                V::new(
                    "ALTER DEFAULT PRIVILEGES",
                    Level::Destructive,
                    "ALTER DEFAULT PRIVILEGES ... REVOKE removes default privileges",
                )
            }
        }
        "DoStmt" => do_block(b, depth),
        "CallStmt" => {
            let mut v = V::new("CALL", Level::Write, "CALL runs a procedure");
            v.facts = Facts::Full;
            v.returns_rows = true;
            v
        }
        "CreateFunctionStmt" => create_function(b, text, depth),
        "CreateStmt" => {
            let temp = is_temp(b.get("relation"));
            let kind = if temp {
                "CREATE TEMP TABLE"
            } else {
                "CREATE TABLE"
            };
            let mut v = V::new(kind, Level::Write, format!("{kind} creates a table"));
            v.changes_session = temp;
            v
        }
        "CreateTableAsStmt" => {
            let temp = is_temp(b.get("into").and_then(|i| i.get("rel")));
            let kind = if bool_field(b, "is_select_into") {
                "SELECT INTO"
            } else if object_type(int(b, "objtype")) == "MATERIALIZED VIEW" {
                "CREATE MATERIALIZED VIEW"
            } else if temp {
                "CREATE TEMP TABLE AS"
            } else {
                "CREATE TABLE AS"
            };
            let mut v = V::new(
                kind,
                Level::Write,
                format!("{kind} creates a relation from a query"),
            );
            v.facts = Facts::Full;
            v.explainable = true;
            v.counts_rows = true;
            v.changes_session = temp;
            v
        }
        "ViewStmt" => {
            let mut v = V::new("CREATE VIEW", Level::Write, "CREATE VIEW defines a view");
            v.changes_session = is_temp(b.get("view"));
            v
        }
        "CreateSeqStmt" => {
            let mut v = V::new(
                "CREATE SEQUENCE",
                Level::Write,
                "CREATE SEQUENCE creates a sequence",
            );
            v.changes_session = is_temp(b.get("sequence"));
            v
        }
        "CreateForeignTableStmt" => {
            if def_elems(list(b, "options")).any(|(n, _)| n == "program" || n == "filename") {
                V::new(
                    "CREATE FOREIGN TABLE",
                    Level::Forbidden,
                    "a foreign table with a `program` or `filename` option runs programs or reads files on the server",
                )
            } else {
                V::new(
                    "CREATE FOREIGN TABLE",
                    Level::Write,
                    "creates a foreign table",
                )
            }
        }
        "RuleStmt" => {
            let mut v = V::new(
                "CREATE RULE",
                Level::Write,
                "CREATE RULE rewrites queries on a table",
            );
            v.facts = Facts::Full;
            v
        }
        "DeclareCursorStmt" => {
            let mut v = V::new(
                "DECLARE CURSOR",
                Level::Read,
                "DECLARE opens a cursor on a query",
            );
            v.facts = Facts::Full;
            v.explainable = true;
            // CURSOR_OPT_HOLD
            if int(b, "options") & 0x20 != 0 {
                v.session("opens a WITH HOLD cursor, which outlives the transaction");
                v.changes_session = true;
            }
            v
        }
        "FetchStmt" => {
            let kind = if bool_field(b, "ismove") {
                "MOVE"
            } else {
                "FETCH"
            };
            let mut v = V::new(kind, Level::Read, format!("{kind} reads from a cursor"));
            v.returns_rows = true;
            v.counts_rows = true;
            v
        }
        "ClosePortalStmt" => V::new("CLOSE", Level::Read, "CLOSE closes a cursor"),
        "PrepareStmt" => {
            let mut v = V::new(
                "PREPARE",
                Level::Write,
                "PREPARE stores a statement in the session",
            );
            v.session("creates a prepared statement, which lives in the session");
            v.changes_session = true;
            v.facts = Facts::None;
            v
        }
        "ExecuteStmt" => {
            let mut v = V::new(
                "EXECUTE",
                Level::Write,
                "EXECUTE runs a prepared statement whose text is not part of this query",
            );
            v.session("runs a statement prepared earlier in the session");
            v.returns_rows = true;
            v.counts_rows = true;
            v.explainable = true;
            v
        }
        "DeallocateStmt" => {
            let mut v = V::new(
                "DEALLOCATE",
                Level::Write,
                "DEALLOCATE removes prepared statements",
            );
            v.session("removes prepared statements of the session");
            v.changes_session = true;
            v
        }
        "ListenStmt" | "UnlistenStmt" => {
            let kind = if tag == "ListenStmt" {
                "LISTEN"
            } else {
                "UNLISTEN"
            };
            let mut v = V::new(
                kind,
                Level::Write,
                format!("{kind} changes the session's subscriptions"),
            );
            v.session("changes the session's notification subscriptions");
            v.changes_session = true;
            v
        }
        "NotifyStmt" => V::new("NOTIFY", Level::Write, "NOTIFY sends a notification"),
        "LockStmt" => V::new("LOCK", Level::Write, "LOCK takes table locks"),
        "VacuumStmt" => {
            let kind = if bool_field(b, "is_vacuumcmd") {
                "VACUUM"
            } else {
                "ANALYZE"
            };
            V::new(kind, Level::Write, format!("{kind} maintains tables"))
        }
        "ConstraintsSetStmt" => V::new(
            "SET CONSTRAINTS",
            Level::Write,
            "SET CONSTRAINTS changes when constraints are checked",
        ),
        "RenameStmt" => {
            let object = object_type(int(b, "rename_type"));
            V::new(
                format!("ALTER {object} RENAME"),
                Level::Write,
                format!("renames a {}", object.to_ascii_lowercase()),
            )
        }
        "CommentStmt" => V::new("COMMENT", Level::Write, "COMMENT sets an object's comment"),
        other => {
            let kind = kind_from_tag(other);
            let level = if other.starts_with("Drop") {
                Level::Destructive
            } else {
                Level::Write
            };
            let reason = if level == Level::Destructive {
                kind.clone()
            } else {
                format!("{kind} changes the database")
            };
            V::new(kind, level, reason)
        }
    }
}

fn explain(b: &Value, depth: u8) -> V {
    let analyze = def_elems(list(b, "options")).any(|(n, a)| n == "analyze" && def_true(a));
    let inner = b.get("query").and_then(node);
    match (analyze, inner) {
        (true, Some((tag, body))) => {
            let inner = verdict(tag, body, "", depth);
            let action = format!(
                "EXPLAIN ANALYZE {}",
                inner.action.clone().unwrap_or_else(|| inner.kind.clone())
            );
            let mut v = V::new(
                format!("EXPLAIN ANALYZE {}", inner.kind),
                inner.level,
                format!("EXPLAIN ANALYZE runs the statement: {}", inner.reason),
            );
            v.action = Some(action);
            v.functions_only = inner.functions_only;
            v.session_control = inner.session_control;
            v.changes_session = inner.changes_session;
            v.role_switch = inner.role_switch;
            v.max_param = inner.max_param;
            v.returns_rows = true;
            v.facts = Facts::None;
            v
        }
        _ => {
            let mut v = V::new(
                "EXPLAIN",
                Level::Read,
                "EXPLAIN shows the plan without running the statement",
            );
            v.returns_rows = true;
            v.facts = Facts::None;
            let mut f = TreeFacts::default();
            walk(b, &mut f);
            v.max_param = f.max_param;
            v
        }
    }
}

fn set_statement(b: &Value) -> V {
    let name = b.get("name").and_then(Value::as_str).unwrap_or("");
    let kind_n = int(b, "kind");
    let reset = kind_n == 5 || kind_n == 6;
    let local = bool_field(b, "is_local");
    let kind = match (kind_n, name) {
        (6, _) => "RESET ALL".to_owned(),
        (_, "TRANSACTION") => "SET TRANSACTION".to_owned(),
        (_, "SESSION CHARACTERISTICS") => "SET SESSION CHARACTERISTICS".to_owned(),
        (_, "session_authorization") if reset => "RESET SESSION AUTHORIZATION".to_owned(),
        (_, "session_authorization") => "SET SESSION AUTHORIZATION".to_owned(),
        (_, "role") if reset => "RESET ROLE".to_owned(),
        (_, "role") => "SET ROLE".to_owned(),
        _ if reset => "RESET".to_owned(),
        _ if local => "SET LOCAL".to_owned(),
        _ => "SET".to_owned(),
    };
    let reason = match name {
        "TRANSACTION" => "changes the transaction's mode".to_owned(),
        "SESSION CHARACTERISTICS" => "changes the session's default transaction mode".to_owned(),
        "role" => "changes the current role".to_owned(),
        "session_authorization" => "changes the session user".to_owned(),
        "" => "resets every setting".to_owned(),
        n => format!("changes the setting {n}"),
    };
    let mut v = V::new(kind.clone(), Level::Write, format!("{kind} {reason}"));
    v.session(reason);
    v.changes_session = !local && name != "TRANSACTION";
    v.facts = Facts::None;
    if name == "role" || name == "session_authorization" {
        let target = list(b, "args").first().and_then(const_str);
        v.role_switch = Some(match (reset || kind_n == 2, target) {
            (false, Some(t)) if !t.eq_ignore_ascii_case("none") => RoleSwitch::To(t.to_owned()),
            _ => RoleSwitch::Reset,
        });
    }
    v
}

fn alter_table(b: &Value) -> V {
    let object = object_type(int(b, "objtype"));
    let kind = format!("ALTER {object}");
    let name = relation_name(b.get("relation"));
    for cmd in list(b, "cmds") {
        let Some(("AlterTableCmd", c)) = node(cmd) else {
            continue;
        };
        let sub = enum_name::<pg_query::protobuf::AlterTableType>(int(c, "subtype"));
        let col = c.get("name").and_then(Value::as_str).unwrap_or("");
        let what = if let Some(rest) = sub.strip_prefix("AtDrop") {
            Some(split_camel(rest))
        } else if sub == "AtColumnDefault" && c.get("def").is_none_or(Value::is_null) {
            Some("DEFAULT".to_owned())
        } else {
            None
        };
        if let Some(what) = what {
            let target = if col.is_empty() {
                String::new()
            } else {
                format!(" {col}")
            };
            return V::new(
                kind.clone(),
                Level::Destructive,
                format!("{kind} {name} ... DROP {what}{target}"),
            )
            .with_action(format!("{kind} ... DROP {what}"));
        }
    }
    V::new(kind.clone(), Level::Write, format!("{kind} changes {name}"))
}

fn copy(b: &Value) -> V {
    let from = bool_field(b, "is_from");
    let kind = if from { "COPY FROM" } else { "COPY TO" };
    if bool_field(b, "is_program") {
        return V::new(
            kind,
            Level::Forbidden,
            "COPY ... PROGRAM runs a shell command on the database server",
        );
    }
    if b.get("filename")
        .and_then(Value::as_str)
        .is_some_and(|f| !f.is_empty())
    {
        return V::new(
            kind,
            Level::Forbidden,
            "COPY to or from a file reads or writes the database server's file system",
        );
    }
    let mut v = if from {
        V::new(kind, Level::Write, "COPY FROM STDIN loads rows")
    } else {
        V::new(kind, Level::Read, "COPY TO STDOUT reads rows")
    };
    v.facts = Facts::Full;
    v.copy_protocol = true;
    v.counts_rows = true;
    v
}

fn grant(b: &Value) -> V {
    let object = object_type(int(b, "objtype"));
    if bool_field(b, "is_grant") {
        V::new(
            "GRANT",
            Level::Write,
            format!(
                "GRANT gives privileges on a {}",
                object.to_ascii_lowercase()
            ),
        )
    } else {
        V::new(
            "REVOKE",
            Level::Destructive,
            format!(
                "REVOKE removes privileges on a {}",
                object.to_ascii_lowercase()
            ),
        )
    }
}

/// Languages that run arbitrary code in the server process.
fn untrusted_language(lang: &str) -> bool {
    matches!(
        lang,
        "c" | "internal"
            | "plpythonu"
            | "plpython2u"
            | "plpython3u"
            | "plperlu"
            | "pltclu"
            | "plsh"
    )
}

fn do_block(b: &Value, depth: u8) -> V {
    let mut lang = "plpgsql".to_owned();
    let mut body = "";
    for (name, arg) in def_elems(list(b, "args")) {
        match (name, arg.and_then(str_node)) {
            ("language", Some(l)) => lang = l.to_ascii_lowercase(),
            ("as", Some(s)) => body = s,
            _ => {}
        }
    }
    let mut v = V::new("DO", Level::Write, "DO runs a procedural code block");
    v.facts = Facts::None;
    if untrusted_language(&lang) {
        v.raise(
            Level::Forbidden,
            format!("DO in the untrusted language {lang} runs arbitrary code on the server"),
        );
        return v;
    }
    if let Some((level, why, action)) = body_verdict(&lang, body, None, depth) {
        v.raise_as(
            level,
            format!("the DO block {why}"),
            format!("a DO block that runs {action}"),
        );
    }
    v
}

fn create_function(b: &Value, text: &str, depth: u8) -> V {
    let procedure = bool_field(b, "is_procedure");
    let replace = bool_field(b, "replace");
    let kind = match (replace, procedure) {
        (false, false) => "CREATE FUNCTION",
        (false, true) => "CREATE PROCEDURE",
        (true, false) => "CREATE OR REPLACE FUNCTION",
        (true, true) => "CREATE OR REPLACE PROCEDURE",
    };
    let mut lang = "sql".to_owned();
    let mut body: Option<&str> = None;
    for (name, arg) in def_elems(list(b, "options")) {
        match name {
            "language" => {
                if let Some(l) = arg.and_then(str_node) {
                    lang = l.to_ascii_lowercase();
                }
            }
            "as" => {
                body = arg
                    .and_then(|a| node(a))
                    .and_then(|(t, l)| (t == "List").then_some(l))
                    .and_then(|l| l.get("items"))
                    .and_then(Value::as_array)
                    .and_then(|items| items.first())
                    .and_then(str_node);
            }
            _ => {}
        }
    }
    let mut v = V::new(kind, Level::Write, format!("{kind} defines code"));
    if untrusted_language(&lang) {
        v.raise(
            Level::Forbidden,
            format!("{kind} in the untrusted language {lang} runs arbitrary code on the server"),
        );
        return v;
    }
    if let Some(body) = body
        && let Some((level, why, action)) = body_verdict(&lang, body, Some(text), depth)
        && level >= Level::Destructive
    {
        v.raise_as(
            level,
            format!("its body {why}: calling it would too"),
            format!("{kind} whose body runs {action}"),
        );
    }
    v
}

/// The worst level of a code body and why, when it can be analysed.
/// `definition` is the whole CREATE FUNCTION statement (plpgsql needs it).
fn body_verdict(
    lang: &str,
    body: &str,
    definition: Option<&str>,
    depth: u8,
) -> Option<(Level, String, String)> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let sqls: Vec<String> = match lang {
        "sql" => vec![body.to_owned()],
        "plpgsql" => plpgsql_statements(body, definition)?,
        _ => return None,
    };
    let mut worst: Option<(Level, String, String)> = None;
    for sql in sqls {
        let c = classify_at(&sql, depth + 1);
        if c.level == Level::Invalid {
            continue;
        }
        for s in &c.statements {
            if worst.as_ref().is_none_or(|(l, _, _)| s.level > *l) {
                worst = Some((
                    s.level,
                    format!("runs {}: {}", s.kind, s.reason),
                    s.action.clone(),
                ));
            }
        }
    }
    worst
}

/// The SQL a PL/pgSQL body runs: its statements and expressions, and the
/// text of `EXECUTE` when it is a string literal.
fn plpgsql_statements(body: &str, definition: Option<&str>) -> Option<Vec<String>> {
    let wrapped;
    let source = match definition {
        Some(d) => d,
        None => {
            let mut n = 0;
            let mut tag = "$smcp$".to_owned();
            while body.contains(&tag) {
                n += 1;
                tag = format!("$smcp{n}$");
            }
            wrapped = format!(
                "CREATE FUNCTION pg_temp.smcp_do() RETURNS void LANGUAGE plpgsql AS {tag}{body}{tag}"
            );
            &wrapped
        }
    };
    let tree = pg_query::parse_plpgsql(source).ok()?;
    let mut out = Vec::new();
    collect_plpgsql(&tree, &mut out);
    Some(out)
}

fn collect_plpgsql(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(e) = m.get("PLpgSQL_expr") {
                let query = e.get("query").and_then(Value::as_str).unwrap_or("");
                let mode = e.get("parseMode").and_then(Value::as_i64).unwrap_or(0);
                match mode {
                    0 => out.push(query.to_owned()),
                    2 => out.push(format!("SELECT {query}")),
                    _ => {
                        // assignment `target := expression`
                        let rhs = query
                            .split_once(":=")
                            .or_else(|| query.split_once('='))
                            .map(|(_, r)| r)
                            .unwrap_or(query);
                        out.push(format!("SELECT {rhs}"));
                    }
                }
            }
            if let Some(d) = m.get("PLpgSQL_stmt_dynexecute") {
                let expr = d
                    .get("query")
                    .and_then(|q| q.get("PLpgSQL_expr"))
                    .and_then(|e| e.get("query"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                out.push(match literal_sql(expr) {
                    Some(sql) => sql,
                    // Not a literal: a call nobody knows, so at least a write.
                    None => "SELECT smcp_dynamic_sql()".to_owned(),
                });
            }
            for x in m.values() {
                collect_plpgsql(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_plpgsql(x, out)),
        _ => {}
    }
}

/// The string of a literal expression (`'drop table t'`, `$$...$$`).
fn literal_sql(expr: &str) -> Option<String> {
    let parsed = pg_query::parse(&format!("SELECT {expr}"), 0).ok()?;
    let json = serde_json::to_value(&parsed.protobuf).ok()?;
    let stmt = json.get("stmts")?.get(0)?.get("stmt")?;
    let (_, select) = node(stmt)?;
    let targets = list(select, "target_list");
    if targets.len() != 1 {
        return None;
    }
    let val = node(&targets[0])?.1.get("val")?;
    const_str(val).map(str::to_owned)
}

/// Facts gathered from anywhere in a statement's tree.
#[derive(Default)]
struct TreeFacts<'a> {
    funcs: Vec<(Option<&'a str>, &'a str, &'a [Value])>,
    /// Data-modifying statements nested in the statement (WITH, rules).
    nested: Vec<(&'static str, bool, String)>,
    locking: bool,
    max_param: usize,
}

fn walk<'a>(v: &'a Value, f: &mut TreeFacts<'a>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match k.as_str() {
                    "FuncCall" => {
                        let names: Vec<&str> =
                            list(val, "funcname").iter().filter_map(str_node).collect();
                        if let Some((name, schema)) = names.split_last() {
                            let args = val
                                .get("args")
                                .and_then(Value::as_array)
                                .map(Vec::as_slice)
                                .unwrap_or(&[]);
                            f.funcs.push((schema.last().copied(), name, args));
                        }
                    }
                    "InsertStmt" => {
                        f.nested
                            .push(("INSERT", true, relation_name(val.get("relation"))))
                    }
                    "MergeStmt" => {
                        f.nested
                            .push(("MERGE", true, relation_name(val.get("relation"))))
                    }
                    "UpdateStmt" => f.nested.push((
                        "UPDATE",
                        has_where(val),
                        relation_name(val.get("relation")),
                    )),
                    "DeleteStmt" => f.nested.push((
                        "DELETE",
                        has_where(val),
                        relation_name(val.get("relation")),
                    )),
                    "LockingClause" => f.locking = true,
                    "ParamRef" => {
                        let n = val.get("number").and_then(Value::as_u64).unwrap_or(0);
                        f.max_param = f.max_param.max(usize::try_from(n).unwrap_or(0));
                    }
                    _ => {}
                }
                walk(val, f);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        _ => {}
    }
}

fn apply_facts(v: &mut V, f: &TreeFacts<'_>) {
    v.max_param = v.max_param.max(f.max_param);
    let full = v.facts == Facts::Full;
    let mut unknown: Vec<&str> = Vec::new();
    for &(schema, name, args) in &f.funcs {
        match functions::effect(schema, name) {
            Effect::Forbidden(why) => {
                v.raise(Level::Forbidden, format!("calls {name}(), which {why}"))
            }
            _ if !full => {}
            Effect::Destructive(why) => v.raise_as(
                Level::Destructive,
                format!("calls {name}(), which {why}"),
                format!("calls {name}(), which {why}"),
            ),
            Effect::Session(why) => {
                v.raise(Level::Write, format!("calls {name}(), which {why}"));
                if name == "set_config" {
                    set_config(v, args);
                } else {
                    v.session(format!("calls {name}(), which {why}"));
                    v.changes_session = true;
                }
            }
            Effect::Writes(why) => v.raise(Level::Write, format!("calls {name}(), which {why}")),
            Effect::ReadOnly => {}
            Effect::Unknown => {
                if !unknown.contains(&name) {
                    unknown.push(name);
                }
            }
        }
    }
    if !full {
        return;
    }
    if f.locking {
        v.raise(
            Level::Write,
            format!("{} ... FOR UPDATE/SHARE locks rows", v.kind),
        );
    }
    for (verb, with_where, target) in &f.nested {
        if *with_where {
            v.raise(Level::Write, format!("data-modifying {verb} on {target}"));
        } else {
            v.raise_as(
                Level::Destructive,
                format!("data-modifying {verb} without WHERE on {target} affects every row"),
                format!("data-modifying {verb} without WHERE in a WITH clause"),
            );
        }
    }
    if !unknown.is_empty() && v.level == Level::Read {
        let names: Vec<String> = unknown.iter().take(5).map(|n| format!("{n}()")).collect();
        v.level = Level::Write;
        v.reason = format!("calls {}, not known to be read-only", names.join(", "));
        v.functions_only = true;
    }
}

fn set_config(v: &mut V, args: &[Value]) {
    let setting = args
        .first()
        .and_then(const_str)
        .map(str::to_ascii_lowercase);
    let local = args.get(2).and_then(const_bool) == Some(true);
    v.session(match setting.as_deref() {
        Some(s) => format!("calls set_config(), which changes the setting {s}"),
        None => "calls set_config(), which changes a setting".to_owned(),
    });
    if !local {
        v.changes_session = true;
    }
    match setting.as_deref() {
        Some("role") | Some("session_authorization") => {
            v.role_switch = Some(match args.get(1).and_then(const_str) {
                Some(t) if t.eq_ignore_ascii_case("none") || t.is_empty() => RoleSwitch::Reset,
                Some(t) => RoleSwitch::To(t.to_owned()),
                None => RoleSwitch::Computed,
            });
        }
        None => v.role_switch = Some(RoleSwitch::Computed),
        _ => {}
    }
}

// ---- JSON tree helpers ----

/// `{"Tag": body}` → `("Tag", body)`.
fn tagged(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    m.iter().next().map(|(k, b)| (k.as_str(), b))
}

/// A `Node` (`{"node": {"Tag": body}}`) → `("Tag", body)`.
fn node(v: &Value) -> Option<(&str, &Value)> {
    tagged(v.get("node")?)
}

fn list<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn int(v: &Value, field: &str) -> i64 {
    v.get(field).and_then(Value::as_i64).unwrap_or(0)
}

fn bool_field(v: &Value, field: &str) -> bool {
    v.get(field).and_then(Value::as_bool).unwrap_or(false)
}

/// The text of a `String` node.
fn str_node(v: &Value) -> Option<&str> {
    match node(v)? {
        ("String", b) => b.get("sval")?.as_str(),
        _ => None,
    }
}

/// The string of an `A_Const` string node.
fn const_str(v: &Value) -> Option<&str> {
    match node(v)? {
        ("AConst", b) => b.get("val")?.get("Sval")?.get("sval")?.as_str(),
        _ => None,
    }
}

fn const_bool(v: &Value) -> Option<bool> {
    match node(v)? {
        ("AConst", b) => {
            let val = b.get("val")?;
            if let Some(x) = val.get("Boolval") {
                return Some(x.get("boolval").and_then(Value::as_bool).unwrap_or(false));
            }
            val.get("Sval")?
                .get("sval")?
                .as_str()
                .map(|s| matches!(s, "t" | "true" | "on" | "1" | "yes"))
        }
        ("TypeCast", b) => const_bool(b.get("arg")?),
        _ => None,
    }
}

/// `DefElem`s of a list: `(name, argument)`.
fn def_elems(items: &[Value]) -> impl Iterator<Item = (&str, Option<&Value>)> {
    items.iter().filter_map(|i| match node(i)? {
        ("DefElem", d) => Some((
            d.get("defname")?.as_str()?,
            d.get("arg").filter(|a| !a.is_null()),
        )),
        _ => None,
    })
}

/// A boolean option's value: no argument means true.
fn def_true(arg: Option<&Value>) -> bool {
    let Some(a) = arg else {
        return true;
    };
    match node(a) {
        Some(("Boolean", b)) => b.get("boolval").and_then(Value::as_bool).unwrap_or(false),
        Some(("Integer", b)) => b.get("ival").and_then(Value::as_i64).unwrap_or(0) != 0,
        Some(("String", b)) => matches!(
            b.get("sval")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("true" | "on" | "yes" | "1")
        ),
        _ => true,
    }
}

fn has_where(b: &Value) -> bool {
    match b.get("where_clause") {
        None | Some(Value::Null) => false,
        Some(w) => !trivially_true(w),
    }
}

/// `WHERE true`, `WHERE 1 = 1` and the like.
fn trivially_true(w: &Value) -> bool {
    if const_bool(w) == Some(true) {
        return true;
    }
    match node(w) {
        Some(("AExpr", e)) => {
            let op = list(e, "name").first().and_then(str_node);
            let (Some(l), Some(r)) = (e.get("lexpr"), e.get("rexpr")) else {
                return false;
            };
            let konst = |x: &Value| match node(x) {
                Some(("AConst", c)) => c.get("val").cloned(),
                _ => None,
            };
            op == Some("=") && konst(l).is_some() && konst(l) == konst(r)
        }
        _ => false,
    }
}

fn returns(b: &Value) -> bool {
    match b.get("returning_clause") {
        Some(Value::Object(r)) => r
            .get("exprs")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty()),
        _ => !list(b, "returning_list").is_empty(),
    }
}

fn is_temp(rel: Option<&Value>) -> bool {
    rel.is_some_and(|r| {
        r.get("relpersistence").and_then(Value::as_str) == Some("t")
            || r.get("schemaname").and_then(Value::as_str) == Some("pg_temp")
    })
}

/// `schema.name` of a `RangeVar`.
fn relation_name(rel: Option<&Value>) -> String {
    let Some(r) = rel else {
        return "the table".to_owned();
    };
    let name = r.get("relname").and_then(Value::as_str).unwrap_or("");
    match r.get("schemaname").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => format!("{s}.{name}"),
        _ => name.to_owned(),
    }
}

/// Names of dropped objects (`List`s of `String`s, or type names).
fn object_names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .take(5)
        .filter_map(|o| match node(o)? {
            ("List", l) => Some(
                list(l, "items")
                    .iter()
                    .filter_map(str_node)
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            ("String", s) => s.get("sval")?.as_str().map(str::to_owned),
            ("TypeName", t) => Some(
                list(t, "names")
                    .iter()
                    .filter_map(str_node)
                    .filter(|n| *n != "pg_catalog")
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            _ => None,
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// `OBJECT_FOREIGN_TABLE` → `FOREIGN TABLE`.
fn object_type(v: i64) -> String {
    let name = i32::try_from(v)
        .ok()
        .and_then(|v| pg_query::protobuf::ObjectType::try_from(v).ok())
        .map(|t| t.as_str_name())
        .unwrap_or("OBJECT_OBJECT");
    match name.trim_start_matches("OBJECT_") {
        "MATVIEW" => "MATERIALIZED VIEW".to_owned(),
        "TSCONFIGURATION" => "TEXT SEARCH CONFIGURATION".to_owned(),
        "TSDICTIONARY" => "TEXT SEARCH DICTIONARY".to_owned(),
        "FDW" => "FOREIGN DATA WRAPPER".to_owned(),
        "OPCLASS" => "OPERATOR CLASS".to_owned(),
        "OPFAMILY" => "OPERATOR FAMILY".to_owned(),
        other => other.replace('_', " "),
    }
}

/// Rust name of a protobuf enum value (`AtDropColumn`).
fn enum_name<E>(v: i64) -> String
where
    E: TryFrom<i32> + std::fmt::Debug,
{
    i32::try_from(v)
        .ok()
        .and_then(|v| E::try_from(v).ok())
        .map(|e| format!("{e:?}"))
        .unwrap_or_default()
}

/// `CreateExtensionStmt` → `CREATE EXTENSION`.
fn kind_from_tag(tag: &str) -> String {
    match tag {
        "IndexStmt" => "CREATE INDEX".to_owned(),
        "CreatedbStmt" => "CREATE DATABASE".to_owned(),
        "DropdbStmt" => "DROP DATABASE".to_owned(),
        "AlterDatabaseStmt" | "AlterDatabaseSetStmt" => "ALTER DATABASE".to_owned(),
        "CreatePlangStmt" => "CREATE LANGUAGE".to_owned(),
        "CreateTrigStmt" => "CREATE TRIGGER".to_owned(),
        "CreateEventTrigStmt" => "CREATE EVENT TRIGGER".to_owned(),
        "CompositeTypeStmt" | "CreateEnumStmt" | "CreateRangeStmt" => "CREATE TYPE".to_owned(),
        "DefineStmt" => "CREATE".to_owned(),
        "AlterSeqStmt" => "ALTER SEQUENCE".to_owned(),
        "AlterRoleSetStmt" => "ALTER ROLE SET".to_owned(),
        "AlterObjectSchemaStmt" => "ALTER SET SCHEMA".to_owned(),
        "AlterOwnerStmt" => "ALTER OWNER".to_owned(),
        "SecLabelStmt" => "SECURITY LABEL".to_owned(),
        "RefreshMatViewStmt" => "REFRESH MATERIALIZED VIEW".to_owned(),
        "CheckPointStmt" => "CHECKPOINT".to_owned(),
        other => split_camel(other.trim_end_matches("Stmt")),
    }
}

/// `CreateExtension` → `CREATE EXTENSION`.
fn split_camel(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(sql: &str) -> Level {
        classify(sql).level
    }

    #[test]
    fn levels_of_common_statements() {
        assert_eq!(level("select 1"), Level::Read);
        assert_eq!(level("insert into t values (1)"), Level::Write);
        assert_eq!(level("delete from t where id = 1"), Level::Write);
        assert_eq!(level("delete from t"), Level::Destructive);
        assert_eq!(level("delete from t where true"), Level::Destructive);
        assert_eq!(level("drop table t"), Level::Destructive);
        assert_eq!(level("copy t to program 'x'"), Level::Forbidden);
        assert_eq!(level("SELCT 1"), Level::Invalid);
    }

    #[test]
    fn destructive_actions_and_reasons() {
        // Reasons name the objects; confirmation actions carry no identifiers.
        assert_eq!(
            destructive_reason("drop table public.users").as_deref(),
            Some("DROP TABLE")
        );
        let c = classify("drop table public.users");
        assert_eq!(c.statements[0].reason, "DROP TABLE public.users");
        assert_eq!(
            destructive_reason("alter table t drop column c").as_deref(),
            Some("ALTER TABLE ... DROP COLUMN")
        );
        assert_eq!(
            destructive_reason("delete from \"secret\"").as_deref(),
            Some("DELETE without WHERE (removes every row)")
        );
        assert!(destructive_reason("select 1; drop schema s cascade").is_some());
        assert!(
            destructive_reason("with d as (delete from t returning *) select * from d").is_some()
        );
        assert!(destructive_reason("select 'drop table x'").is_none());
        // Invalid SQL falls back to the keyword lexer.
        assert!(destructive_reason("drop table x y z").is_some());
    }

    #[test]
    fn session_control_and_roles() {
        let c = classify("set local role postgres");
        let s = &c.statements[0];
        assert!(s.session_control.is_some());
        assert_eq!(s.role_switch, Some(RoleSwitch::To("postgres".into())));
        assert!(!s.changes_session);
        let c = classify("select set_config('role', 'x', false)");
        assert!(c.statements[0].changes_session);
        assert_eq!(
            c.statements[0].role_switch,
            Some(RoleSwitch::To("x".into()))
        );
        assert!(classify("reset all").statements[0].changes_session);
    }

    #[test]
    fn spans_and_lines() {
        let sql = "select 1;\n-- c\nselect 2 -- tail";
        let c = classify(sql);
        assert_eq!(c.statements.len(), 2);
        assert_eq!(c.statements[1].line, 3);
        assert!(sql[c.statements[1].start..c.statements[1].end].contains("select 2"));
    }

    #[test]
    fn deep_nesting_is_analysed_conservatively() {
        let sql = format!("select 1{}", " + 1".repeat(80));
        let c = classify(&sql);
        assert_eq!(c.level, Level::Write, "{c:?}");
        let sql = format!("select pg_read_file('x') + 1{}", " + 1".repeat(80));
        assert_eq!(classify(&sql).level, Level::Forbidden);
    }
}
