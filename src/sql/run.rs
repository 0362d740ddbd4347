//! Running user SQL for `execute_sql` and `explain_query`.
//!
//! * Everything runs in one transaction, sent as one simple-query batch
//!   (setup, the user's statements, checks), then COMMIT or ROLLBACK.
//! * Read-only calls do not trust the classifier: `BEGIN READ ONLY`, the
//!   role `supabase_read_only_user` when it exists and the connected role may
//!   use it, `default_transaction_read_only` on, all set inside the
//!   transaction so the final ROLLBACK restores them (and a COMMIT smuggled
//!   past the classifier would leave the rest of the batch read-only). A
//!   guard value set for the transaction and `txid_current_if_assigned()`
//!   prove at the end that the query stayed in its transaction and wrote
//!   nothing; otherwise the call fails and the connection is discarded.
//! * Column types come from describing the statement with an extended-
//!   protocol Parse (a named statement, closed at once) on direct
//!   connections. On the transaction pooler (port 6543) named protocol
//!   statements are never used: the statement is prepared with SQL
//!   `PREPARE` inside the transaction and its types read from
//!   `pg_prepared_statements` (PostgreSQL 16+; untyped before).
//! * `params` are bound with SQL `PREPARE`/`EXECUTE` inside the transaction,
//!   each value a quoted literal the server casts to the parameter's type.
//! * Rows stream into a [`RowCollector`] (bounded memory, spill file).
//! * Notices reach the call through [`super::notices`] when the pool routes them.
//! * A statement timeout is set in the transaction; a client-side timer and
//!   the caller's cancellation cancel the query on the server too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use futures::StreamExt;
use futures::future::BoxFuture;
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::types::{Kind, Type};
use tokio_postgres::{CancelToken, SimpleColumn, SimpleQueryMessage, SimpleQueryRow};
use tokio_util::sync::CancellationToken;

use super::classify::{Classification, Level, RoleSwitch, StatementInfo};
use super::notices::{Capture, Notice};
use super::syntax;
use crate::db::pool::describe_pg_error;
use crate::db::rows::text_to_json;
use crate::result::{ErrorCode, ToolError};
use crate::spill::{Collected, Format, RowCollector, SpillStore};

/// The role read-only calls switch to when they can.
pub const READ_ONLY_ROLE: &str = "supabase_read_only_user";
/// Extra time after the statement timeout before the client cancels.
const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// Rows between progress notifications.
const PROGRESS_EVERY: u64 = 10_000;

/// Reports progress (rows read so far).
pub type Progress<'a> = &'a (dyn Fn(u64) -> BoxFuture<'static, ()> + Send + Sync);

/// Cancels the query running on a connection (with the pool's TLS settings).
pub type Canceller = Arc<dyn Fn(CancelToken) -> BoxFuture<'static, ()> + Send + Sync>;

/// How to run one `execute_sql` call.
#[derive(Clone)]
pub struct ExecOptions {
    pub read_only: bool,
    pub timeout: Duration,
    pub params: Option<Vec<Value>>,
    /// The connection goes through a transaction-mode pooler (port 6543):
    /// no named protocol-level prepared statements.
    pub pooled: bool,
    pub canceller: Canceller,
    pub spill: SpillStore,
    pub format: Format,
    pub max_rows: usize,
    pub budget: usize,
}

/// A result column.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// PostgreSQL type (`integer`, `text`, `jsonb`...), when known.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
}

/// What `execute_sql` ran and got.
#[derive(Debug)]
pub struct Executed {
    /// Columns of the last result set.
    pub columns: Vec<Column>,
    pub collected: Option<Collected>,
    /// One entry per statement: its command and row count.
    pub commands: Vec<Value>,
    /// Notices, when the pool routes them.
    pub notices: Option<Vec<Notice>>,
    /// Time from sending the SQL to the end of its results.
    pub duration: Duration,
    /// The role the query ran as, when it was switched.
    pub role: Option<String>,
    pub warnings: Vec<String>,
}

/// Refusals that need no database: invalid SQL, forbidden statements, COPY
/// over the wire, parameter mismatches, and anything read-only mode cannot run.
pub fn check(
    cls: &Classification,
    read_only: bool,
    params: Option<&[Value]>,
) -> Result<(), ToolError> {
    check_with(cls, read_only, params, false)
}

/// As [`check`]; `allow_forbidden` (the `--allow-forbidden-sql` setting) lets
/// forbidden statements through outside read-only mode.
pub fn check_with(
    cls: &Classification,
    read_only: bool,
    params: Option<&[Value]>,
    allow_forbidden: bool,
) -> Result<(), ToolError> {
    if let Some(e) = &cls.error {
        return Err(syntax_error(e));
    }
    if cls.statements.is_empty() {
        return Err(
            ToolError::invalid("the query has no statement (only whitespace or comments)")
                .suggestion("Pass the SQL to run in `query`."),
        );
    }
    let n = cls.statements.len();
    let label = |i: usize, s: &StatementInfo| {
        if n == 1 {
            format!("the statement ({})", s.kind)
        } else {
            format!("statement {} of {n} ({})", i + 1, s.kind)
        }
    };
    if let Some((i, s)) = cls
        .statements
        .iter()
        .enumerate()
        .find(|(_, s)| s.level == Level::Forbidden && (read_only || !allow_forbidden))
    {
        return Err(forbidden(&label(i, s), &s.reason));
    }
    if let Some((i, s)) = cls
        .statements
        .iter()
        .enumerate()
        .find(|(_, s)| s.copy_protocol)
    {
        return Err(ToolError::invalid(format!("{} cannot run here", label(i, s)))
            .reason("COPY FROM STDIN / TO STDOUT needs the COPY sub-protocol, which tool calls do not carry")
            .suggestion("Read rows with SELECT (large results spill to a file) and add them with INSERT."));
    }
    check_params(cls, params)?;
    if read_only {
        if let Some((i, s)) = cls
            .statements
            .iter()
            .enumerate()
            .find(|(_, s)| s.session_control.is_some())
        {
            return Err(ToolError::new(
                ErrorCode::ReadOnly,
                format!(
                    "read-only queries may not contain transaction or session control: {} {}",
                    label(i, s),
                    s.session_control.as_deref().unwrap_or("")
                ),
            )
            .suggestion("Remove it: the query already runs in its own read-only transaction, which is rolled back at the end."));
        }
        if let Some((i, s)) = cls
            .statements
            .iter()
            .enumerate()
            .find(|(_, s)| s.level >= Level::Write && !s.functions_only)
        {
            return Err(ToolError::new(
                ErrorCode::ReadOnly,
                format!("{} is not read-only: {}", label(i, s), s.reason),
            )
            .reason("this call runs read-only (the server's --read-only, or `read_only: true`)")
            .suggestion(
                "Run it on a server started without --read-only, and without `read_only: true`.",
            ));
        }
    }
    Ok(())
}

fn check_params(cls: &Classification, params: Option<&[Value]>) -> Result<(), ToolError> {
    let used = cls.max_param();
    let Some(params) = params else {
        if used > 0 {
            return Err(ToolError::invalid(format!(
                "the query uses ${used} but no `params` were given"
            ))
            .suggestion("Pass the values in `params`: the first is $1."));
        }
        return Ok(());
    };
    if cls.statements.len() != 1 {
        return Err(
            ToolError::invalid("`params` work with a single statement only")
                .reason(format!("the query has {} statements", cls.statements.len()))
                .suggestion("Send one statement per call when it uses parameters."),
        );
    }
    let s = &cls.statements[0];
    if !s.preparable {
        return Err(
            ToolError::invalid(format!("`params` cannot be used with {}", s.kind)).suggestion(
                "Parameters work with SELECT, VALUES, INSERT, UPDATE, DELETE and MERGE.",
            ),
        );
    }
    if params.len() != used {
        return Err(ToolError::invalid(format!(
            "`params` has {} value(s) but the query uses {}",
            params.len(),
            if used == 0 {
                "no $n parameter".to_owned()
            } else {
                format!("$1 to ${used}")
            }
        ))
        .suggestion("Pass exactly one value per parameter, in order: the first is $1."));
    }
    if params
        .iter()
        .any(|p| p.as_str().is_some_and(|s| s.contains('\0')))
    {
        return Err(
            ToolError::invalid("a value in `params` contains a NUL character")
                .suggestion("PostgreSQL text cannot contain \\0: remove it."),
        );
    }
    Ok(())
}

/// The error for SQL that does not parse.
pub fn syntax_error(e: &syntax::SyntaxError) -> ToolError {
    ToolError::new(ErrorCode::QueryFailed, "the SQL does not parse")
        .reason(e.to_string())
        .suggestion(
            e.suggestion
                .clone()
                .unwrap_or_else(|| "Check the SQL syntax near the position named.".to_owned()),
        )
}

/// The refusal of a forbidden statement.
pub fn forbidden(what: &str, why: &str) -> ToolError {
    ToolError::new(
        ErrorCode::PermissionDenied,
        format!("refused: {what} is forbidden: {why}"),
    )
    .reason("it reaches outside the database (server files, programs, other servers) or escalates privileges")
    .suggestion("If it is really needed, run it yourself with a database client, or restart the server with --allow-forbidden-sql (never in read-only mode).")
}

/// A database error as a tool error, with the most useful next step.
pub fn pg_error(e: &tokio_postgres::Error) -> ToolError {
    let mut err =
        ToolError::new(ErrorCode::QueryFailed, "the query failed").reason(describe_pg_error(e));
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let suggestion = match code {
            "42601" => "Check the SQL syntax near the position the database names.".to_owned(),
            "42P01" => "The table does not exist: check its name and schema with list_tables.".to_owned(),
            "42703" => "The column does not exist: check its name with describe_table.".to_owned(),
            "42883" => "No function matches the name and argument types: check the name, or add explicit casts (e.g. $1::int).".to_owned(),
            "42P18" => "A parameter's type cannot be inferred: add a cast such as $1::text.".to_owned(),
            "22P02" => "A value does not have the expected type: check `params` and the casts in the query.".to_owned(),
            "42501" => "The connected role lacks this privilege: connect as a role that has it, or GRANT it.".to_owned(),
            "25006" => "The transaction is read-only: this statement writes. Run it without read_only (and without --read-only).".to_owned(),
            "57014" => "The statement hit its timeout: narrow the query, add an index, or pass a larger timeout_secs.".to_owned(),
            _ => match db.hint() {
                Some(h) => h.to_owned(),
                None => format!("See PostgreSQL error code {code}."),
            },
        };
        err = err.suggestion(suggestion);
        match code {
            "57014" => err.code = ErrorCode::Timeout,
            "42501" => err.code = ErrorCode::PermissionDenied,
            "25006" => err.code = ErrorCode::ReadOnly,
            _ => {}
        }
    }
    err
}

/// What a segment of the batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    Setup,
    RoleRow,
    User(usize),
    Prepare(usize),
    Types,
    Execute(usize),
    Deallocate,
    Check,
    Explain(usize),
}

/// Statements sent as one simple query, and where each one is.
#[derive(Debug, Default)]
struct Batch {
    sql: String,
    /// Kind, and byte offset in `sql` where the user's text starts (for errors).
    segs: Vec<(Seg, Option<usize>)>,
}

impl Batch {
    fn push(&mut self, seg: Seg, text: &str) {
        self.segs.push((seg, None));
        self.sql.push_str(text);
        self.sql.push_str("\n;\n");
    }

    /// `prefix` then the user's text (a trailing line comment cannot swallow the separator).
    fn push_user(&mut self, seg: Seg, prefix: &str, text: &str) {
        self.sql.push_str(prefix);
        self.segs.push((seg, Some(self.sql.len())));
        self.sql.push_str(text);
        self.sql.push_str("\n;\n");
    }
}

/// SQL that starts the transaction.
/// `role`: switch to [`READ_ONLY_ROLE`] (read-only only).
fn setup(
    batch: &mut Batch,
    read_only: bool,
    role: bool,
    timeout: Duration,
    capture: Option<&Capture>,
    guard: &str,
) {
    let ms = timeout.as_millis();
    if read_only {
        batch.push(Seg::Setup, "BEGIN READ ONLY");
        // Session-level inside the transaction: undone by the final ROLLBACK.
        batch.push(Seg::Setup, &format!("SET statement_timeout = {ms}"));
    } else {
        batch.push(Seg::Setup, "BEGIN");
        batch.push(Seg::Setup, &format!("SET LOCAL statement_timeout = {ms}"));
    }
    if let Some(c) = capture {
        batch.push(Seg::Setup, &c.marker_sql());
    }
    if read_only {
        let role_expr = if role {
            format!(
                "CASE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{READ_ONLY_ROLE}') THEN NULL \
                 WHEN pg_catalog.pg_has_role(current_user, '{READ_ONLY_ROLE}', 'MEMBER') \
                 THEN pg_catalog.set_config('role', '{READ_ONLY_ROLE}', false) END"
            )
        } else {
            "NULL::text".to_owned()
        };
        batch.push(
            Seg::RoleRow,
            &format!(
                "SELECT {role_expr}, \
                 pg_catalog.set_config('default_transaction_read_only', 'on', false), \
                 pg_catalog.set_config('supabase_mcp.guard', '{guard}', true)"
            ),
        );
    }
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(bytes.as_mut_slice());
    hex::encode(bytes)
}

/// A JSON value as an SQL literal the server casts to the parameter's type.
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => crate::db::backend::quote_text(s),
        Value::Bool(b) => crate::db::backend::quote_text(&b.to_string()),
        Value::Number(n) => crate::db::backend::quote_text(&n.to_string()),
        other => crate::db::backend::quote_text(&other.to_string()),
    }
}

/// A message of the batch's result stream.
enum Msg<'a> {
    Columns(&'a Arc<[SimpleColumn]>),
    Row(&'a SimpleQueryRow),
    Done(u64),
}

/// Why driving the batch stopped.
enum Stop {
    Db(tokio_postgres::Error, usize),
    Tool(ToolError),
    Cancelled,
    TimedOut,
}

/// Sends the batch and feeds every message to `on(segment index, message)`.
/// `on` returns a row count when progress should be reported.
async fn drive<F>(
    db: &Object,
    batch: &Batch,
    timeout: Duration,
    cancel: &CancellationToken,
    canceller: &Canceller,
    progress: Option<Progress<'_>>,
    mut on: F,
) -> Result<(), Stop>
where
    F: FnMut(usize, Msg<'_>) -> Result<Option<u64>, ToolError>,
{
    let cancel_token = db.cancel_token();
    let run = async {
        let stream = db
            .simple_query_raw(&batch.sql)
            .await
            .map_err(|e| Stop::Db(e, 0))?;
        futures::pin_mut!(stream);
        let mut k = 0usize;
        while let Some(msg) = stream.next().await {
            let msg = msg.map_err(|e| Stop::Db(e, k))?;
            let report = match &msg {
                SimpleQueryMessage::RowDescription(cols) => on(k, Msg::Columns(cols)),
                SimpleQueryMessage::Row(row) => on(k, Msg::Row(row)),
                SimpleQueryMessage::CommandComplete(n) => {
                    let r = on(k, Msg::Done(*n));
                    k += 1;
                    r
                }
                _ => Ok(None),
            }
            .map_err(Stop::Tool)?;
            if let (Some(n), Some(p)) = (report, progress) {
                p(n).await;
            }
        }
        Ok(())
    };
    tokio::select! {
        r = run => r,
        _ = cancel.cancelled() => {
            canceller(cancel_token).await;
            Err(Stop::Cancelled)
        }
        _ = tokio::time::sleep(timeout + CANCEL_GRACE) => {
            canceller(cancel_token).await;
            Err(Stop::TimedOut)
        }
    }
}

/// Maps a failure of the batch to the caller's error.
fn stop_error(
    stop: Stop,
    batch: &Batch,
    sql: &str,
    cls: &Classification,
    timeout: Duration,
    role: Option<&str>,
) -> ToolError {
    match stop {
        Stop::Tool(e) => e,
        Stop::Cancelled => ToolError::new(ErrorCode::Cancelled, "the query was cancelled")
            .reason("the client cancelled the call; the query was cancelled on the server"),
        Stop::TimedOut => ToolError::new(
            ErrorCode::Timeout,
            format!("the query did not finish within {} s", timeout.as_secs()),
        )
        .reason("it was cancelled on the server")
        .suggestion("Narrow the query, add an index, or pass a larger timeout_secs."),
        Stop::Db(e, k) => {
            let mut err = pg_error(&e);
            let (seg, user_at) = batch.segs.get(k).copied().unwrap_or((Seg::Setup, None));
            let stmt = match seg {
                Seg::User(i) | Seg::Prepare(i) | Seg::Execute(i) | Seg::Explain(i) => Some(i),
                _ => None,
            };
            let n = cls.statements.len();
            match (seg, stmt) {
                (Seg::Setup | Seg::RoleRow, _) => {
                    err.message = "the transaction for the query could not be started".to_owned();
                }
                (_, Some(i)) if n > 1 => {
                    let kind = cls.statements.get(i).map(|s| s.kind.as_str()).unwrap_or("");
                    err.message = format!("statement {} of {n} ({kind}) failed", i + 1);
                }
                _ => {}
            }
            if let (Some(i), Some(at), Some(db)) = (stmt, user_at, e.as_db_error())
                && let Some(ErrorPosition::Original(p)) = db.position()
                && let Some(s) = cls.statements.get(i)
            {
                // `p` counts characters from 1 in the batch.
                let byte = batch
                    .sql
                    .char_indices()
                    .nth((*p as usize).saturating_sub(1))
                    .map(|(b, _)| b)
                    .unwrap_or(0);
                if byte >= at && byte <= at + (s.end - s.start) {
                    let (line, column) = syntax::line_column(sql, s.start + (byte - at));
                    if let Some(r) = err.reason.as_mut() {
                        r.push_str(&format!(" (line {line}, column {column})"));
                    }
                }
            }
            if err.code == ErrorCode::PermissionDenied && role.is_some() {
                err = err.suggestion(format!(
                    "Read-only queries run as {READ_ONLY_ROLE}, which lacks this privilege: GRANT it (for example GRANT pg_read_all_data TO {READ_ONLY_ROLE})."
                ));
            }
            if err.code == ErrorCode::ReadOnly {
                err.message = "the query tried to write, and this call is read-only".to_owned();
            }
            err
        }
    }
}

/// Ends the transaction after a failure; discards the connection when its
/// state is not certain.
async fn abandon(db: Object, deallocate: Option<&str>, certain: bool) {
    let sql = match deallocate {
        Some(name) => format!("ROLLBACK; DEALLOCATE {name}"),
        None => "ROLLBACK".to_owned(),
    };
    if !certain || db.batch_execute(&sql).await.is_err() {
        discard(db);
    }
}

/// Closes the connection instead of returning it to the pool.
fn discard(db: Object) {
    drop(Object::take(db));
}

/// Refuses switching to a superuser role (the connected role is not one).
async fn check_role_switches(db: &Object, cls: &Classification) -> Result<(), ToolError> {
    let mut targets: Vec<String> = Vec::new();
    let mut computed = false;
    for s in &cls.statements {
        match &s.role_switch {
            Some(RoleSwitch::To(r)) => targets.push(r.clone()),
            Some(RoleSwitch::Computed) => computed = true,
            _ => {}
        }
    }
    if targets.is_empty() && !computed {
        return Ok(());
    }
    let rows = db
        .query_typed(
            "SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), \
             coalesce((SELECT array_agg(rolname::text) FROM pg_catalog.pg_roles WHERE rolsuper AND rolname = ANY($1)), '{}')",
            &[(&targets as &(dyn tokio_postgres::types::ToSql + Sync), Type::TEXT_ARRAY)],
        )
        .await
        .map_err(|e| pg_error(&e))?;
    let (me_super, supers): (bool, Vec<String>) = match rows.first() {
        Some(r) => (
            r.try_get::<_, Option<bool>>(0)
                .ok()
                .flatten()
                .unwrap_or(false),
            r.try_get(1).unwrap_or_default(),
        ),
        None => (false, Vec::new()),
    };
    if me_super {
        return Ok(());
    }
    if let Some(role) = supers.first() {
        return Err(forbidden(
            "switching role",
            &format!("{role} is a superuser and the connected role is not"),
        ));
    }
    if computed {
        return Err(forbidden(
            "switching role",
            "the target role is computed at run time, so it cannot be checked not to be a superuser",
        ));
    }
    Ok(())
}

/// The display name of a type, as PostgreSQL's `format_type` writes it.
pub fn type_name(t: &Type) -> String {
    if let Kind::Array(inner) = t.kind() {
        return format!("{}[]", type_name(inner));
    }
    match t.name() {
        "int2" => "smallint",
        "int4" => "integer",
        "int8" => "bigint",
        "float4" => "real",
        "float8" => "double precision",
        "bool" => "boolean",
        "varchar" => "character varying",
        "bpchar" => "character",
        "timestamptz" => "timestamp with time zone",
        "timestamp" => "timestamp without time zone",
        "timetz" => "time with time zone",
        "time" => "time without time zone",
        "varbit" => "bit varying",
        other => other,
    }
    .to_owned()
}

/// The driver type for a `regtype` name, for the types that convert to JSON.
fn type_for_regtype(name: &str) -> Option<Type> {
    Some(match name {
        "boolean" => Type::BOOL,
        "smallint" => Type::INT2,
        "integer" => Type::INT4,
        "bigint" => Type::INT8,
        "oid" => Type::OID,
        "real" => Type::FLOAT4,
        "double precision" => Type::FLOAT8,
        "json" => Type::JSON,
        "jsonb" => Type::JSONB,
        _ => return None,
    })
}

/// Column names made unique (`id`, `id_2`), so rows as objects keep every value.
fn unique_names(cols: &[SimpleColumn]) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = Vec::with_capacity(cols.len());
    let mut renamed = Vec::new();
    for c in cols {
        let base = c.name().to_owned();
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        if name != base {
            renamed.push(format!("{base} → {name}"));
        }
        names.push(name);
    }
    (names, renamed)
}

/// Runs `sql` (already [`check`]ed) for `execute_sql`.
pub async fn execute(
    db: Object,
    sql: &str,
    cls: &Classification,
    opts: &ExecOptions,
    cancel: &CancellationToken,
    progress: Progress<'_>,
) -> Result<Executed, ToolError> {
    let n = cls.statements.len();
    let text = |s: &StatementInfo| sql.get(s.start..s.end).unwrap_or("").to_owned();
    let typed = (n == 1 && cls.statements[0].preparable && cls.statements[0].returns_rows)
        .then_some(0usize);
    let use_prepare = opts.params.is_some() || (opts.pooled && typed.is_some());

    if !opts.read_only {
        check_role_switches(&db, cls).await?;
    }

    // Column types, by describing the statement (never on the pooler).
    let mut types: Option<Vec<Option<Type>>> = None;
    let mut type_names: Option<Vec<Option<String>>> = None;
    if let (Some(i), false) = (typed, opts.pooled) {
        match db.prepare(&text(&cls.statements[i])).await {
            Ok(st) => {
                types = Some(
                    st.columns()
                        .iter()
                        .map(|c| Some(c.type_().clone()))
                        .collect(),
                );
                type_names = Some(
                    st.columns()
                        .iter()
                        .map(|c| Some(type_name(c.type_())))
                        .collect(),
                );
            }
            Err(e) => {
                let mut err = pg_error(&e);
                if let Some(db_err) = e.as_db_error()
                    && let Some(ErrorPosition::Original(p)) = db_err.position()
                {
                    let s = &cls.statements[i];
                    let t = text(s);
                    let byte = t
                        .char_indices()
                        .nth((*p as usize).saturating_sub(1))
                        .map(|(b, _)| b)
                        .unwrap_or(0);
                    let (line, column) = syntax::line_column(sql, s.start + byte);
                    if let Some(r) = err.reason.as_mut() {
                        r.push_str(&format!(" (line {line}, column {column})"));
                    }
                }
                return Err(err);
            }
        }
    }

    let capture = Capture::start();
    let guard = random_hex(8);
    let name = format!("smcp_{}", random_hex(8));
    let mut batch = Batch::default();
    setup(
        &mut batch,
        opts.read_only,
        opts.read_only,
        opts.timeout,
        capture.as_ref(),
        &guard,
    );
    for (i, s) in cls.statements.iter().enumerate() {
        if use_prepare && i == 0 {
            batch.push_user(Seg::Prepare(i), &format!("PREPARE {name} AS\n"), &text(s));
            if opts.pooled && typed.is_some() {
                batch.push(
                    Seg::Types,
                    &format!(
                        "SELECT (pg_catalog.to_jsonb(p) -> 'result_types')::text FROM pg_catalog.pg_prepared_statements p WHERE p.name = '{name}'"
                    ),
                );
            }
            let args: Vec<String> = opts
                .params
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(literal)
                .collect();
            let exec = if args.is_empty() {
                format!("EXECUTE {name}")
            } else {
                format!("EXECUTE {name}({})", args.join(", "))
            };
            batch.push(Seg::Execute(i), &exec);
            batch.push(Seg::Deallocate, &format!("DEALLOCATE {name}"));
        } else {
            batch.push_user(Seg::User(i), "", &text(s));
        }
    }
    if opts.read_only {
        batch.push(
            Seg::Check,
            "SELECT pg_catalog.txid_current_if_assigned()::text, pg_catalog.current_setting('supabase_mcp.guard', true), pg_catalog.current_setting('transaction_read_only')",
        );
    }

    // State filled while the results stream in.
    let mut role: Option<String> = None;
    let mut columns: Vec<Column> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut col_types: Vec<Option<Type>> = Vec::new();
    let mut collector: Option<RowCollector> = None;
    let mut commands: Vec<Value> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut check_row: Option<(Option<String>, Option<String>, Option<String>)> = None;
    let mut prepared = false;
    let mut deallocated = false;
    let mut rows_read = 0u64;
    let spill_err = |e: crate::spill::SpillError| {
        ToolError::new(ErrorCode::Io, "cannot write the large result to a file")
            .reason(e.to_string())
            .suggestion("Check that --data-dir is writable and has free space.")
    };

    let started = Instant::now();
    let outcome = drive(
        &db,
        &batch,
        opts.timeout,
        cancel,
        &opts.canceller,
        Some(progress),
        |k, msg| {
            let seg = batch.segs.get(k).map(|s| s.0).unwrap_or(Seg::Setup);
            match (seg, msg) {
                (Seg::User(_) | Seg::Execute(_), Msg::Columns(cols)) => {
                    let (names, renamed) = unique_names(cols);
                    if !renamed.is_empty() {
                        warnings.push(format!(
                            "duplicate column names were renamed in the rows: {}",
                            renamed.join(", ")
                        ));
                    }
                    let typed_here = matches!(seg, Seg::Execute(_)) || typed.is_some();
                    col_types = (0..cols.len())
                        .map(|c| {
                            typed_here
                                .then(|| types.as_ref().and_then(|t| t.get(c).cloned().flatten()))
                                .flatten()
                        })
                        .collect();
                    columns = cols
                        .iter()
                        .enumerate()
                        .map(|(c, col)| Column {
                            name: col.name().to_owned(),
                            type_name: typed_here
                                .then(|| {
                                    type_names
                                        .as_ref()
                                        .and_then(|t| t.get(c).cloned().flatten())
                                })
                                .flatten(),
                        })
                        .collect();
                    keys = names.clone();
                    collector = Some(RowCollector::new(
                        opts.spill.clone(),
                        opts.format,
                        names,
                        opts.max_rows,
                        opts.budget,
                    ));
                    Ok(None)
                }
                (Seg::User(_) | Seg::Execute(_), Msg::Row(row)) => {
                    let mut obj = Map::with_capacity(keys.len());
                    for (c, key) in keys.iter().enumerate() {
                        let v = row.try_get(c).ok().flatten();
                        obj.insert(
                            key.clone(),
                            text_to_json(v, col_types.get(c).and_then(Option::as_ref)),
                        );
                    }
                    if let Some(col) = collector.as_mut() {
                        col.push(Value::Object(obj)).map_err(spill_err)?;
                    }
                    rows_read += 1;
                    Ok(rows_read
                        .is_multiple_of(PROGRESS_EVERY)
                        .then_some(rows_read))
                }
                (Seg::User(i) | Seg::Execute(i), Msg::Done(count)) => {
                    let s = &cls.statements[i];
                    let mut c = json!({ "statement": i + 1, "command": s.kind });
                    if s.counts_rows {
                        c["rows"] = json!(count);
                    }
                    commands.push(c);
                    Ok(None)
                }
                (Seg::Prepare(_), Msg::Done(_)) => {
                    prepared = true;
                    Ok(None)
                }
                (Seg::Deallocate, Msg::Done(_)) => {
                    deallocated = true;
                    Ok(None)
                }
                (Seg::RoleRow, Msg::Row(row)) => {
                    role = row.try_get(0).ok().flatten().map(str::to_owned);
                    Ok(None)
                }
                (Seg::Types, Msg::Row(row)) => {
                    let names: Vec<Option<String>> = row
                        .try_get(0)
                        .ok()
                        .flatten()
                        .and_then(|j| serde_json::from_str::<Vec<Option<String>>>(j).ok())
                        .unwrap_or_default();
                    if !names.is_empty() {
                        types = Some(
                            names
                                .iter()
                                .map(|n| n.as_deref().and_then(type_for_regtype))
                                .collect(),
                        );
                        type_names = Some(names);
                    }
                    Ok(None)
                }
                (Seg::Check, Msg::Row(row)) => {
                    let get = |c: usize| row.try_get(c).ok().flatten().map(str::to_owned);
                    check_row = Some((get(0), get(1), get(2)));
                    Ok(None)
                }
                _ => Ok(None),
            }
        },
    )
    .await;
    let duration = started.elapsed();
    let leftover = (prepared && !deallocated).then_some(name.as_str());

    if let Err(stop) = outcome {
        let certain = matches!(stop, Stop::Db(..) | Stop::Tool(_));
        let err = stop_error(stop, &batch, sql, cls, opts.timeout, role.as_deref());
        abandon(db, leftover, certain).await;
        return Err(err);
    }

    if opts.read_only {
        let (txid, guard_now, ro) = check_row.unwrap_or((Some(String::new()), None, None));
        let escaped = guard_now.as_deref() != Some(guard.as_str()) || ro.as_deref() != Some("on");
        if txid.is_some() || escaped {
            discard(db);
            return Err(ToolError::new(
                ErrorCode::ReadOnly,
                if escaped {
                    "the query left its read-only transaction; its results are discarded"
                } else {
                    "the query wrote in read-only mode; the transaction was rolled back"
                },
            )
            .reason("a read-only call must leave the database unchanged, and this one did not verifiably do so")
            .suggestion("Remove transaction control and writing statements from the query."));
        }
        if db.batch_execute("ROLLBACK").await.is_err() {
            discard(db);
        }
    } else {
        if let Err(e) = db.batch_execute("COMMIT").await {
            let err = pg_error(&e);
            abandon(db, None, true).await;
            return Err(err);
        }
        if cls.changes_session() {
            // Session state (SET, temporary tables, prepared statements...)
            // must not leak into later calls that get this connection.
            discard(db);
        }
    }
    if opts.pooled && typed.is_some() && type_names.is_none() {
        warnings.push("column types are not available through the transaction pooler (port 6543) before PostgreSQL 16: values are returned as text".to_owned());
    }
    let collected = match collector {
        Some(c) => Some(c.finish().map_err(|e| {
            ToolError::new(ErrorCode::Io, "cannot finish the result file").reason(e.to_string())
        })?),
        None => None,
    };
    Ok(Executed {
        columns,
        collected,
        commands,
        notices: capture.map(|c| c.take()),
        duration,
        role,
        warnings,
    })
}

/// How to run one `explain_query` call.
#[derive(Clone)]
pub struct ExplainOptions {
    pub analyze: bool,
    pub buffers: bool,
    pub verbose: bool,
    pub settings: bool,
    /// Run in a read-only transaction.
    pub read_only: bool,
    /// Also switch to [`READ_ONLY_ROLE`] (not for plans of writes: planning
    /// them checks the write privileges, which that role lacks).
    pub switch_role: bool,
    pub timeout: Duration,
    pub params: Option<Vec<Value>>,
    pub canceller: Canceller,
}

/// Sizes of the tables named in text[] `$1` (columns: schema, name, rows, bytes).
pub const TABLE_SIZES_SQL: &str = "SELECT n.nspname::text AS schema, c.relname::text AS name, c.reltuples::float8 AS rows, \
     pg_catalog.pg_relation_size(c.oid)::int8 AS bytes \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'm')";

/// Size of a table, for spotting sequential scans of big ones.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSize {
    pub schema: String,
    pub name: String,
    pub rows: f64,
    pub bytes: i64,
}

/// Runs `EXPLAIN (FORMAT JSON ...)` on the single statement of `sql` in a
/// transaction that is always rolled back; returns the plan and the sizes
/// of the tables named in `tables(plan)`.
pub async fn explain(
    db: Object,
    sql: &str,
    cls: &Classification,
    opts: &ExplainOptions,
    cancel: &CancellationToken,
    tables: impl Fn(&Value) -> Vec<String>,
) -> Result<(Value, Vec<TableSize>), ToolError> {
    let s = &cls.statements[0];
    let text = sql.get(s.start..s.end).unwrap_or("");
    let guard = random_hex(8);
    let name = format!("smcp_{}", random_hex(8));
    let mut batch = Batch::default();
    setup(
        &mut batch,
        opts.read_only,
        opts.switch_role,
        opts.timeout,
        None,
        &guard,
    );
    let flag = |b: bool| if b { "true" } else { "false" };
    let explain = format!(
        "EXPLAIN (FORMAT JSON, ANALYZE {}, BUFFERS {}, VERBOSE {}, SETTINGS {}) ",
        flag(opts.analyze),
        flag(opts.buffers),
        flag(opts.verbose),
        flag(opts.settings)
    );
    match &opts.params {
        Some(params) => {
            batch.push_user(Seg::Prepare(0), &format!("PREPARE {name} AS\n"), text);
            let args: Vec<String> = params.iter().map(literal).collect();
            let exec = if args.is_empty() {
                format!("EXECUTE {name}")
            } else {
                format!("EXECUTE {name}({})", args.join(", "))
            };
            batch.push(Seg::Explain(0), &format!("{explain}{exec}"));
            batch.push(Seg::Deallocate, &format!("DEALLOCATE {name}"));
        }
        None => batch.push_user(Seg::Explain(0), &explain, text),
    }
    let mut plan_text: Option<String> = None;
    let mut role: Option<String> = None;
    let mut prepared = false;
    let mut deallocated = false;
    let outcome = drive(
        &db,
        &batch,
        opts.timeout,
        cancel,
        &opts.canceller,
        None,
        |k, msg| {
            let seg = batch.segs.get(k).map(|s| s.0).unwrap_or(Seg::Setup);
            match (seg, msg) {
                (Seg::Explain(_), Msg::Row(row)) => {
                    let line = row.try_get(0).ok().flatten().unwrap_or("");
                    plan_text.get_or_insert_with(String::new).push_str(line);
                }
                (Seg::RoleRow, Msg::Row(row)) => {
                    role = row.try_get(0).ok().flatten().map(str::to_owned)
                }
                (Seg::Prepare(_), Msg::Done(_)) => prepared = true,
                (Seg::Deallocate, Msg::Done(_)) => deallocated = true,
                _ => {}
            }
            Ok(None)
        },
    )
    .await;
    let leftover = (prepared && !deallocated).then_some(name.as_str());
    if let Err(stop) = outcome {
        let certain = matches!(stop, Stop::Db(..) | Stop::Tool(_));
        let err = stop_error(stop, &batch, sql, cls, opts.timeout, role.as_deref());
        abandon(db, leftover, certain).await;
        return Err(err);
    }
    let plan: Value = match plan_text.as_deref().map(serde_json::from_str) {
        Some(Ok(v)) => v,
        _ => {
            abandon(db, None, true).await;
            return Err(ToolError::internal("EXPLAIN returned no JSON plan"));
        }
    };
    let names = tables(&plan);
    let mut sizes = Vec::new();
    if !names.is_empty() {
        let rows = db
            .query_typed(
                TABLE_SIZES_SQL,
                &[(
                    &names as &(dyn tokio_postgres::types::ToSql + Sync),
                    Type::TEXT_ARRAY,
                )],
            )
            .await;
        match rows {
            Ok(rows) => {
                for r in rows {
                    sizes.push(TableSize {
                        schema: r.try_get(0).unwrap_or_default(),
                        name: r.try_get(1).unwrap_or_default(),
                        rows: r.try_get(2).unwrap_or(0.0),
                        bytes: r.try_get(3).unwrap_or(0),
                    });
                }
            }
            Err(e) => tracing::debug!("table sizes for the plan summary: {e}"),
        }
    }
    if db.batch_execute("ROLLBACK").await.is_err() {
        discard(db);
    }
    Ok((plan, sizes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::classify::classify;

    #[test]
    fn literals_are_quoted() {
        assert_eq!(literal(&json!(null)), "NULL");
        assert_eq!(literal(&json!(42)), "E'42'");
        assert_eq!(literal(&json!("it's \\ ok")), "E'it''s \\\\ ok'");
        assert_eq!(literal(&json!({"a": [1]})), "E'{\"a\":[1]}'");
        assert_eq!(literal(&json!(true)), "E'true'");
    }

    #[test]
    fn type_names_follow_format_type() {
        assert_eq!(type_name(&Type::INT4), "integer");
        assert_eq!(type_name(&Type::INT4_ARRAY), "integer[]");
        assert_eq!(type_name(&Type::JSONB), "jsonb");
        assert_eq!(type_for_regtype("bigint"), Some(Type::INT8));
    }

    #[test]
    fn checks_refuse_without_the_database() {
        let e = check(&classify("SELCT 1"), false, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::QueryFailed);
        assert!(e.reason.unwrap().contains("SELCT"));
        let e = check(&classify("copy t to program 'x'"), false, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        let e = check(&classify("commit"), true, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::ReadOnly);
        assert!(check(&classify("select my_function()"), true, None).is_ok());
        assert!(check(&classify("select nextval('s')"), true, None).is_err());
        let e = check(&classify("select $1; select 2"), false, Some(&[json!(1)])).unwrap_err();
        assert!(e.message.contains("single statement"));
        let e = check(&classify("select $2::int"), false, Some(&[json!(1)])).unwrap_err();
        assert!(e.message.contains("$1 to $2"), "{e:?}");
        assert!(check(&classify("select $1::int"), false, Some(&[json!(1)])).is_ok());
        assert!(check(&classify("select $1::int"), false, None).is_err());
    }
}
