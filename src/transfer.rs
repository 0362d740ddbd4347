//! Copying table data from one database to another: per table, the
//! source's `COPY ... TO STDOUT` streamed chunk by chunk into the target's
//! `COPY ... FROM STDIN` (binary format, or text when a column's type is
//! an array or composite of a user-defined type, whose binary form carries
//! type OIDs that differ between databases), never holding a table in
//! memory; then the row count and an order-independent checksum of the
//! rows compared on both sides (the source's stream digested as it passes,
//! the target's table read back; see [`RowDigest`]), and the sequences the
//! table's columns own set to the source's values.
//!
//! What happens to rows already in the target is explicit: `error` (the
//! default) refuses a non-empty target table, `overwrite` empties it first
//! (in the same transaction as the load), `skip` keeps existing rows and
//! adds the others, `merge` updates existing rows by primary key and adds
//! the others (both through a temporary staging table and
//! `INSERT ... ON CONFLICT`). Each table loads in one transaction on the
//! target: a failure leaves that table as it was.
//!
//! A copy reports its figures while it runs ([`Figures`]: rows and bytes
//! streamed, then rows read back), at most every [`PROGRESS_INTERVAL`] or
//! every [`PROGRESS_BYTES`], whichever comes first, so a long table shows
//! progress, not only the tables around it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_postgres::Client;

/// What to do with rows already in a target table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Conflict {
    Error,
    Overwrite,
    Skip,
    Merge,
}

impl std::str::FromStr for Conflict {
    type Err = TransferError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "error" => Conflict::Error,
            "overwrite" => Conflict::Overwrite,
            "skip" => Conflict::Skip,
            "merge" => Conflict::Merge,
            other => {
                return Err(TransferError::Invalid(format!(
                    "unknown conflict strategy `{other}`: use error, overwrite, skip or merge"
                )));
            }
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Invalid(String),
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
    #[error("{what}: {message}")]
    Db { what: String, message: String },
}

fn db(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> TransferError {
    let what = what.into();
    move |e| TransferError::Db {
        what,
        message: crate::pg::describe_error(&e),
    }
}

/// `schema.table`, split and checked to exist on a side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableName {
    pub schema: String,
    pub table: String,
}

impl TableName {
    /// `table` or `schema.table` (default schema `public`; no quoting).
    pub fn parse(s: &str) -> Result<Self, TransferError> {
        let (schema, table) = match s.split_once('.') {
            Some((a, b)) => (a, b),
            None => ("public", s),
        };
        if schema.is_empty() || table.is_empty() || table.contains('.') {
            return Err(TransferError::Invalid(format!(
                "`{s}` is not a table name: use table or schema.table"
            )));
        }
        Ok(TableName {
            schema: schema.to_owned(),
            table: table.to_owned(),
        })
    }

    fn quoted(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.table))
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A column to copy: its name, type as written, and whether its binary
/// form would carry a user type's OID.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    ty: String,
    binary_unsafe: bool,
}

const COLUMNS_SQL: &str = "
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
       EXISTS (
         SELECT 1 FROM pg_type t
         LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
         WHERE t.oid = a.atttypid
           AND ((t.typcategory = 'A' AND e.oid >= 16384) OR (t.typtype = 'c' AND t.oid >= 16384)
                OR (t.typcategory = 'A' AND e.typtype = 'c')))
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum";

async fn columns(c: &Client, t: &TableName, side: &str) -> Result<Vec<Column>, TransferError> {
    let exists: bool = c
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t.quoted()])
        .await
        .map_err(db(format!("cannot look up {t} on the {side}")))?
        .get(0);
    if !exists {
        return Err(TransferError::Table {
            table: t.to_string(),
            message: format!("does not exist on the {side}"),
        });
    }
    Ok(c.query(COLUMNS_SQL, &[&t.quoted()])
        .await
        .map_err(db(format!("cannot read the columns of {t} on the {side}")))?
        .iter()
        .map(|r| Column {
            name: r.get(0),
            ty: r.get(1),
            binary_unsafe: r.get(2),
        })
        .collect())
}

/// The columns both sides have, checked to have the same types.
async fn common_columns(
    src: &Client,
    dst: &Client,
    t: &TableName,
) -> Result<Vec<Column>, TransferError> {
    let s = columns(src, t, "source").await?;
    let d = columns(dst, t, "target").await?;
    let mut out = Vec::new();
    for col in &s {
        match d.iter().find(|x| x.name == col.name) {
            Some(x) if x.ty == col.ty => out.push(Column {
                binary_unsafe: col.binary_unsafe || x.binary_unsafe,
                ..col.clone()
            }),
            Some(x) => {
                return Err(TransferError::Table {
                    table: t.to_string(),
                    message: format!(
                        "column {} is {} on the source but {} on the target",
                        col.name, col.ty, x.ty
                    ),
                });
            }
            None => {
                return Err(TransferError::Table {
                    table: t.to_string(),
                    message: format!(
                        "column {} is missing on the target; bring the schemas in line first",
                        col.name
                    ),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(TransferError::Table {
            table: t.to_string(),
            message: "has no columns to copy".into(),
        });
    }
    Ok(out)
}

async fn primary_key(c: &Client, t: &TableName) -> Result<Vec<String>, TransferError> {
    Ok(c.query(
        "SELECT a.attname::text FROM pg_index i
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n",
        &[&t.quoted()],
    )
    .await
    .map_err(db(format!("cannot read the primary key of {t}")))?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// Row count and an order-independent checksum of a `COPY ... TO STDOUT`
/// stream, computed on the fly: a 64-bit hash of each row's bytes, summed.
/// The source's stream is hashed as it is copied (no extra scan), the
/// target's by reading the table back in the same format; equal figures
/// mean the same multiset of rows.
#[derive(Debug, Default)]
pub struct RowDigest {
    binary: bool,
    /// Bytes of a row not complete yet (at most one row).
    pending: Vec<u8>,
    /// Binary: the file header is behind us.
    header_done: bool,
    pub rows: u64,
    pub sum: u128,
}

/// The fixed start of a binary COPY stream.
const BINARY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

impl RowDigest {
    pub fn new(binary: bool) -> Self {
        RowDigest {
            binary,
            ..Default::default()
        }
    }

    fn add(&mut self, row: &[u8]) {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        row.hash(&mut h);
        self.sum = self.sum.wrapping_add(u128::from(h.finish()));
        self.rows += 1;
    }

    /// Follows the next bytes of the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.binary {
            // Text format: one row per line (newlines in values are escaped).
            let mut rest = bytes;
            while let Some(n) = rest.iter().position(|b| *b == b'\n') {
                if self.pending.is_empty() {
                    self.add(&rest[..n]);
                } else {
                    self.pending.extend_from_slice(&rest[..n]);
                    let row = std::mem::take(&mut self.pending);
                    self.add(&row);
                }
                rest = &rest[n + 1..];
            }
            self.pending.extend_from_slice(rest);
            return;
        }
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        let buf = std::mem::take(&mut self.pending);
        if !self.header_done {
            // Signature, flags (4), extension length (4) and extension.
            if buf.len() < BINARY_SIGNATURE.len() + 8 {
                self.pending = buf;
                return;
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            if buf.len() < 19 + ext {
                self.pending = buf;
                return;
            }
            at = 19 + ext;
            self.header_done = true;
        }
        loop {
            let start = at;
            if buf.len() < at + 2 {
                break;
            }
            let fields = i16::from_be_bytes([buf[at], buf[at + 1]]);
            if fields < 0 {
                // The trailer.
                at = buf.len();
                break;
            }
            let mut p = at + 2;
            let mut complete = true;
            for _ in 0..fields {
                if buf.len() < p + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes([buf[p], buf[p + 1], buf[p + 2], buf[p + 3]]);
                p += 4;
                if len > 0 {
                    let len = len as usize;
                    if buf.len() < p + len {
                        complete = false;
                        break;
                    }
                    p += len;
                }
            }
            if !complete {
                at = start;
                break;
            }
            self.add(&buf[start..p]);
            at = p;
        }
        self.pending = buf[at..].to_vec();
    }
}

/// Reads `t`'s columns back from `c` in `format` and digests the rows.
async fn digest_table(
    c: &Client,
    t: &TableName,
    list: &str,
    format: &str,
    observe: &(dyn Fn(Figures) + Sync),
) -> Result<RowDigest, TransferError> {
    let out = c
        .copy_out(&format!(
            "COPY (SELECT {list} FROM {}) TO STDOUT (FORMAT {format})",
            t.quoted()
        ))
        .await
        .map_err(db(format!("cannot read {t} back from the target")))?;
    futures::pin_mut!(out);
    let mut d = RowDigest::new(format == "binary");
    let (mut read, mut throttle) = (0u64, Throttle::new());
    while let Some(chunk) = out.next().await {
        let chunk = chunk.map_err(db(format!("reading {t} back from the target failed")))?;
        read += chunk.len() as u64;
        d.feed(&chunk);
        if throttle.due(read) {
            observe(Figures {
                stage: Stage::Verifying,
                rows: d.rows,
                bytes: read,
            });
        }
    }
    Ok(d)
}

/// How often a running copy reports its figures at most (see [`Figures`]).
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// ... or after this many more bytes, whichever comes first.
pub const PROGRESS_BYTES: u64 = 8 * 1024 * 1024;

/// What a table's copy is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Streaming the source's rows into the target.
    Copying,
    /// Reading the target's rows back to compare them.
    Verifying,
}

/// The figures of a table's copy in flight: rows and bytes streamed so far
/// in `stage` (for `Verifying`, rows and bytes read back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub stage: Stage,
    pub rows: u64,
    pub bytes: u64,
}

/// Decides when a stream's figures are worth reporting: after
/// [`PROGRESS_BYTES`] more bytes, or [`PROGRESS_INTERVAL`] after the last
/// report (the clock read only every 64 chunks: a chunk is a row).
struct Throttle {
    last: Instant,
    bytes_at: u64,
    chunks: u32,
}

impl Throttle {
    fn new() -> Self {
        Throttle {
            last: Instant::now(),
            bytes_at: 0,
            chunks: 0,
        }
    }

    fn due(&mut self, bytes: u64) -> bool {
        self.chunks = self.chunks.wrapping_add(1);
        let by_bytes = bytes.saturating_sub(self.bytes_at) >= PROGRESS_BYTES;
        let by_time = self.chunks.is_multiple_of(64) && self.last.elapsed() >= PROGRESS_INTERVAL;
        if by_bytes || by_time {
            self.last = Instant::now();
            self.bytes_at = bytes;
            true
        } else {
            false
        }
    }
}

/// `1.5 MB`-style size (units of 1024).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The size of each of `tables` on the source (heap and TOAST, not
/// indexes: what a copy moves), 0 for a table it cannot size; in order.
/// An estimate of the bytes a copy streams, for progress.
pub async fn table_sizes(src: &Client, tables: &[TableName]) -> Result<Vec<u64>, TransferError> {
    let names: Vec<String> = tables.iter().map(TableName::quoted).collect();
    let rows = src
        .query(
            "SELECT coalesce(pg_table_size(to_regclass(x)), 0)
             FROM unnest($1::text[]) WITH ORDINALITY u(x, n) ORDER BY n",
            &[&names],
        )
        .await
        .map_err(db("cannot read the sizes of the source's tables"))?;
    Ok(rows
        .iter()
        .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
        .collect())
}

/// Rows in `t` on `c` (the target).
pub async fn count_rows(c: &Client, t: &TableName) -> Result<i64, TransferError> {
    Ok(
        c.query_one(&format!("SELECT count(*) FROM {}", t.quoted()), &[])
            .await
            .map_err(db(format!("cannot count {t} on the target")))?
            .get(0),
    )
}

/// What copying one table did.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub format: &'static str,
    pub rows_read: i64,
    /// Bytes of this table's `COPY` stream.
    pub bytes: u64,
    pub target_rows_before: i64,
    pub target_rows_after: i64,
    /// Source and target hold the same rows (for `error` and `overwrite`);
    /// for `skip` and `merge`, whether every source row is in the target.
    pub verified: bool,
    pub sequences_set: Vec<String>,
    pub duration_ms: u64,
}

/// Tables in an order where a referenced table comes before the tables
/// that reference it (among `tables`); cycles keep their given order.
pub async fn dependency_order(
    src: &Client,
    tables: &[TableName],
) -> Result<Vec<TableName>, TransferError> {
    let names: Vec<String> = tables.iter().map(TableName::quoted).collect();
    let edges = src
        .query(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.conrelid <> c.confrelid
               AND c.conrelid = ANY (SELECT to_regclass(x) FROM unnest($1::text[]) x)
               AND c.confrelid = ANY (SELECT to_regclass(x) FROM unnest($1::text[]) x)",
            &[&names],
        )
        .await
        .map_err(db("cannot read foreign keys on the source"))?;
    let mut keyed = Vec::new();
    for t in tables {
        let name = src
            .query_one("SELECT to_regclass($1)::text", &[&t.quoted()])
            .await
            .ok()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .unwrap_or_default();
        keyed.push((name, t.clone()));
    }
    let deps: Vec<(String, String)> = edges.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut out: Vec<TableName> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let mut left = keyed;
    while !left.is_empty() {
        let before = left.len();
        let mut i = 0;
        while i < left.len() {
            let name = &left[i].0;
            let ready = deps
                .iter()
                .filter(|(from, _)| from == name)
                .all(|(_, to)| done.contains(to) || to == name);
            if ready {
                let (n, t) = left.remove(i);
                done.push(n);
                out.push(t);
            } else {
                i += 1;
            }
        }
        if left.len() == before {
            // A cycle: the rest in the given order.
            out.extend(left.drain(..).map(|(_, t)| t));
        }
    }
    Ok(out)
}

/// Copies one table (see the module docs). `bytes` counts the bytes moved.
pub async fn copy_table(
    src: &Client,
    dst: &Client,
    t: &TableName,
    conflict: Conflict,
    bytes: &AtomicU64,
) -> Result<TableReport, TransferError> {
    copy_table_observed(src, dst, t, conflict, bytes, &|_| {}).await
}

/// As [`copy_table`], calling `observe` with the table's figures while it
/// streams and while it is read back (see [`Figures`]).
pub async fn copy_table_observed(
    src: &Client,
    dst: &Client,
    t: &TableName,
    conflict: Conflict,
    bytes: &AtomicU64,
    observe: &(dyn Fn(Figures) + Sync),
) -> Result<TableReport, TransferError> {
    let started = Instant::now();
    let cols = common_columns(src, dst, t).await?;
    let binary = !cols.iter().any(|c| c.binary_unsafe);
    let target_rows_before = count_rows(dst, t).await?;
    if conflict == Conflict::Error && target_rows_before > 0 {
        return Err(TransferError::Table {
            table: t.to_string(),
            message: format!(
                "the target table already has {target_rows_before} rows; choose conflict overwrite, skip or merge"
            ),
        });
    }
    let pk = if matches!(conflict, Conflict::Skip | Conflict::Merge) {
        let pk = primary_key(dst, t).await?;
        if pk.is_empty() {
            return Err(TransferError::Table {
                table: t.to_string(),
                message: format!(
                    "has no primary key on the target, which {} needs to match rows; use overwrite",
                    if conflict == Conflict::Skip {
                        "skip"
                    } else {
                        "merge"
                    }
                ),
            });
        }
        pk
    } else {
        Vec::new()
    };
    let list = cols
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let format = if binary { "binary" } else { "text" };
    // An empty plain table nothing else points at is truncated in the load's
    // transaction and loaded frozen: its rows need no hint-bit writes when
    // they are read back (verification, index builds) and no freezing later.
    let freeze = target_rows_before == 0
        && matches!(conflict, Conflict::Error | Conflict::Overwrite)
        && can_freeze(dst, t).await?;
    dst.batch_execute("BEGIN")
        .await
        .map_err(db("cannot start the target transaction"))?;
    let mut source_digest = RowDigest::new(binary);
    let r = load(
        src,
        dst,
        t,
        conflict,
        &list,
        &cols,
        &pk,
        format,
        freeze,
        bytes,
        &mut source_digest,
        observe,
    )
    .await;
    let (rows_read, moved) = match r {
        Ok(x) => x,
        Err(e) => {
            let _ = dst.batch_execute("ROLLBACK").await;
            return Err(e);
        }
    };
    if let Err(e) = dst.batch_execute("COMMIT").await {
        let _ = dst.batch_execute("ROLLBACK").await;
        return Err(db(format!("cannot commit {t} on the target"))(e));
    }
    let sequences_set = copy_sequences(src, dst, t).await?;
    let (dst_rows, verified) = match conflict {
        Conflict::Error | Conflict::Overwrite => {
            let d = digest_table(dst, t, &list, format, observe).await?;
            (
                d.rows as i64,
                d.rows == source_digest.rows && d.sum == source_digest.sum,
            )
        }
        Conflict::Skip | Conflict::Merge => {
            let n = count_rows(dst, t).await?;
            (n, n >= rows_read)
        }
    };
    Ok(TableReport {
        table: t.to_string(),
        format,
        rows_read,
        bytes: moved,
        target_rows_before,
        target_rows_after: dst_rows,
        verified,
        sequences_set,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

#[allow(clippy::too_many_arguments)]
async fn load(
    src: &Client,
    dst: &Client,
    t: &TableName,
    conflict: Conflict,
    list: &str,
    cols: &[Column],
    pk: &[String],
    format: &str,
    freeze: bool,
    bytes: &AtomicU64,
    digest: &mut RowDigest,
    observe: &(dyn Fn(Figures) + Sync),
) -> Result<(i64, u64), TransferError> {
    // Frozen load: TRUNCATE and COPY in one subtransaction; when the target
    // refuses either (privileges, prior activity), back to a plain COPY.
    let mut frozen = false;
    if freeze {
        dst.batch_execute("SAVEPOINT smcp_freeze")
            .await
            .map_err(db(format!("cannot prepare the load of {t}")))?;
        match dst
            .batch_execute(&format!("TRUNCATE ONLY {}", t.quoted()))
            .await
        {
            Ok(()) => frozen = true,
            Err(_) => dst
                .batch_execute("ROLLBACK TO SAVEPOINT smcp_freeze")
                .await
                .map_err(db(format!("cannot prepare the load of {t}")))?,
        }
    }
    let into = match conflict {
        Conflict::Error | Conflict::Overwrite => {
            if conflict == Conflict::Overwrite && !frozen {
                dst.batch_execute(&format!("DELETE FROM {}", t.quoted()))
                    .await
                    .map_err(db(format!("cannot empty {t} on the target")))?;
            }
            t.quoted()
        }
        Conflict::Skip | Conflict::Merge => {
            dst.batch_execute(&format!(
                "CREATE TEMP TABLE smcp_stage ON COMMIT DROP AS SELECT {list} FROM {} WITH NO DATA",
                t.quoted()
            ))
            .await
            .map_err(db(format!("cannot create the staging table for {t}")))?;
            "smcp_stage".to_owned()
        }
    };
    let plain = format!("COPY {into} ({list}) FROM STDIN (FORMAT {format})");
    let sink = if frozen {
        match dst
            .copy_in(&format!(
                "COPY {into} ({list}) FROM STDIN (FORMAT {format}, FREEZE)"
            ))
            .await
        {
            Ok(sink) => sink,
            Err(_) => {
                dst.batch_execute("ROLLBACK TO SAVEPOINT smcp_freeze")
                    .await
                    .map_err(db(format!("cannot prepare the load of {t}")))?;
                dst.copy_in(&plain)
                    .await
                    .map_err(db(format!("cannot write {t} on the target")))?
            }
        }
    } else {
        dst.copy_in(&plain)
            .await
            .map_err(db(format!("cannot write {t} on the target")))?
    };
    let out = src
        .copy_out(&format!(
            "COPY (SELECT {list} FROM {}) TO STDOUT (FORMAT {format})",
            t.quoted()
        ))
        .await
        .map_err(db(format!("cannot read {t} from the source")))?;
    futures::pin_mut!(out);
    futures::pin_mut!(sink);
    let (mut moved, mut throttle) = (0u64, Throttle::new());
    while let Some(chunk) = out.next().await {
        let chunk = chunk.map_err(db(format!("reading {t} from the source failed")))?;
        bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        moved += chunk.len() as u64;
        digest.feed(&chunk);
        sink.send(chunk)
            .await
            .map_err(db(format!("writing {t} on the target failed")))?;
        if throttle.due(moved) {
            observe(Figures {
                stage: Stage::Copying,
                rows: digest.rows,
                bytes: moved,
            });
        }
    }
    let rows = sink
        .finish()
        .await
        .map_err(db(format!("writing {t} on the target failed")))?;
    if matches!(conflict, Conflict::Skip | Conflict::Merge) {
        let keys = pk.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ");
        let action = if conflict == Conflict::Skip {
            "DO NOTHING".to_owned()
        } else {
            let sets: Vec<String> = cols
                .iter()
                .filter(|c| !pk.contains(&c.name))
                .map(|c| format!("{0} = EXCLUDED.{0}", quote(&c.name)))
                .collect();
            if sets.is_empty() {
                "DO NOTHING".to_owned()
            } else {
                format!("DO UPDATE SET {}", sets.join(", "))
            }
        };
        dst.batch_execute(&format!(
            "INSERT INTO {} ({list}) SELECT {list} FROM smcp_stage ON CONFLICT ({keys}) {action}",
            t.quoted()
        ))
        .await
        .map_err(db(format!("cannot merge the staged rows into {t}")))?;
    }
    Ok((rows as i64, moved))
}

/// Whether `t` on the target can be truncated and loaded frozen without
/// effects beyond itself: a plain table (not partitioned, not a partition's
/// parent) with no triggers and no foreign keys pointing at it.
async fn can_freeze(dst: &Client, t: &TableName) -> Result<bool, TransferError> {
    let row = dst
        .query_one(
            "SELECT c.relkind = 'r'
                    AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid)
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.confrelid = c.oid)
                    AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid)
             FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[&t.quoted()],
        )
        .await
        .map_err(db(format!("cannot look at {t} on the target")))?;
    Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
}

/// Sets the sequences owned by `t`'s columns on the target to the
/// source's values.
async fn copy_sequences(
    src: &Client,
    dst: &Client,
    t: &TableName,
) -> Result<Vec<String>, TransferError> {
    let seqs = src
        .query(
            "SELECT s.oid::regclass::text FROM pg_depend d
             JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
             WHERE d.refobjid = to_regclass($1) AND d.deptype IN ('a', 'i')",
            &[&t.quoted()],
        )
        .await
        .map_err(db(format!("cannot read the sequences of {t}")))?;
    let mut out = Vec::new();
    for r in seqs {
        let name: String = r.get(0);
        let row = src
            .query_one(&format!("SELECT last_value, is_called FROM {name}"), &[])
            .await
            .map_err(db(format!("cannot read sequence {name}")))?;
        let (last, called): (i64, bool) = (row.get(0), row.get(1));
        dst.query_one(
            "SELECT setval(to_regclass($1), $2, $3)",
            &[&name, &last, &called],
        )
        .await
        .map_err(db(format!("cannot set sequence {name} on the target")))?;
        out.push(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_stream(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut v = BINARY_SIGNATURE.to_vec();
        v.extend(0u32.to_be_bytes());
        v.extend(4u32.to_be_bytes());
        v.extend(b"ext!");
        for r in rows {
            v.extend((r.len() as i16).to_be_bytes());
            for f in *r {
                match f {
                    None => v.extend((-1i32).to_be_bytes()),
                    Some(b) => {
                        v.extend((b.len() as i32).to_be_bytes());
                        v.extend(*b);
                    }
                }
            }
        }
        v.extend((-1i16).to_be_bytes());
        v
    }

    #[test]
    fn row_digests_ignore_order_and_chunking_and_see_every_change() {
        let a: &[Option<&[u8]>] = &[Some(b"1"), None, Some(b"")];
        let b: &[Option<&[u8]>] = &[Some(b"2"), Some(b"xyz"), None];
        let one = binary_stream(&[a, b]);
        let two = binary_stream(&[b, a]);
        let digest = |bytes: &[u8], piece: usize| {
            let mut d = RowDigest::new(true);
            for c in bytes.chunks(piece) {
                d.feed(c);
            }
            (d.rows, d.sum)
        };
        let whole = digest(&one, one.len());
        assert_eq!(whole.0, 2);
        for piece in [1, 2, 3, 7, 19, 20] {
            assert_eq!(digest(&one, piece), whole, "piece {piece}");
            assert_eq!(digest(&two, piece), whole, "order, piece {piece}");
        }
        let c: &[Option<&[u8]>] = &[Some(b"2"), Some(b"xyZ"), None];
        assert_ne!(digest(&binary_stream(&[a, c]), 5), whole);
        assert_ne!(digest(&binary_stream(&[a]), 5), whole);
        // Text: a row per line.
        let t = |s: &[u8], piece: usize| {
            let mut d = RowDigest::new(false);
            for c in s.chunks(piece) {
                d.feed(c);
            }
            (d.rows, d.sum)
        };
        let x = t(b"1\ta\n2\tb\\nc\n", 3);
        assert_eq!(x.0, 2);
        assert_eq!(x, t(b"2\tb\\nc\n1\ta\n", 1));
        assert_ne!(x, t(b"1\ta\n2\tb\\nC\n", 4));
    }

    #[test]
    fn figures_are_due_every_few_megabytes_and_sizes_read_well() {
        let mut t = Throttle::new();
        // Within the interval, only the bytes count.
        assert!(!t.due(1));
        assert!(!t.due(PROGRESS_BYTES - 1));
        assert!(t.due(PROGRESS_BYTES));
        assert!(!t.due(PROGRESS_BYTES + 10));
        assert!(t.due(2 * PROGRESS_BYTES + 10));
        // After the interval, the next 64th chunk is due whatever its bytes.
        let mut t = Throttle::new();
        t.last = Instant::now() - PROGRESS_INTERVAL;
        assert!((0..64).any(|_| t.due(1)));
        assert!(!t.due(2));
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 kB");
        assert_eq!(human_bytes(1_258_291), "1.2 MB");
    }

    #[test]
    fn names_and_strategies_parse() {
        assert_eq!(
            TableName::parse("t").unwrap(),
            TableName {
                schema: "public".into(),
                table: "t".into()
            }
        );
        assert_eq!(TableName::parse("a.b").unwrap().quoted(), "\"a\".\"b\"");
        assert_eq!(
            TableName::parse("we\"ird.t").unwrap().quoted(),
            "\"we\"\"ird\".\"t\""
        );
        for bad in ["", ".t", "a.", "a.b.c"] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!("merge".parse::<Conflict>().unwrap(), Conflict::Merge);
        assert!("upsert".parse::<Conflict>().is_err());
    }
}

/// A problem found before a whole-database transfer starts.
#[derive(Debug, Clone, Serialize)]
pub struct Incompatibility {
    /// `error` stops the transfer; `warning` is reported.
    pub severity: &'static str,
    pub problem: String,
}

/// Checks that the target can take the source's `schemas`: server major
/// versions, extensions the source uses available on the target, roles
/// that own objects in those schemas, encoding and collation.
pub async fn compatibility(
    src: &Client,
    dst: &Client,
    schemas: &[String],
) -> Result<Vec<Incompatibility>, TransferError> {
    let mut out = Vec::new();
    let q = "SELECT current_setting('server_version_num')::int / 10000,
                    pg_encoding_to_char(d.encoding)::text, d.datcollate::text
             FROM pg_database d WHERE d.datname = current_database()";
    let s = src
        .query_one(q, &[])
        .await
        .map_err(db("cannot read the source's settings"))?;
    let d = dst
        .query_one(q, &[])
        .await
        .map_err(db("cannot read the target's settings"))?;
    let (smaj, dmaj): (i32, i32) = (s.get(0), d.get(0));
    if dmaj < smaj {
        out.push(Incompatibility {
            severity: "error",
            problem: format!("the target runs PostgreSQL {dmaj}, older than the source's {smaj}"),
        });
    }
    let (senc, denc): (String, String) = (s.get(1), d.get(1));
    if senc != denc {
        out.push(Incompatibility {
            severity: "error",
            problem: format!("the source's encoding is {senc}, the target's {denc}"),
        });
    }
    let (scoll, dcoll): (String, String) = (s.get(2), d.get(2));
    if scoll != dcoll {
        out.push(Incompatibility {
            severity: "warning",
            problem: format!(
                "the source's collation is {scoll}, the target's {dcoll}: text sorts and unique indexes on text may differ"
            ),
        });
    }
    let exts = src
        .query(
            "SELECT e.extname::text, e.extversion FROM pg_extension e WHERE e.extname <> 'plpgsql' ORDER BY 1",
            &[],
        )
        .await
        .map_err(db("cannot list the source's extensions"))?;
    for e in exts {
        let (name, version): (String, String) = (e.get(0), e.get(1));
        let avail = dst
            .query(
                "SELECT version FROM pg_available_extension_versions WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(db("cannot list the target's extensions"))?;
        if avail.is_empty() {
            out.push(Incompatibility {
                severity: "error",
                problem: format!("extension {name} is not available on the target"),
            });
        } else if !avail.iter().any(|r| r.get::<_, String>(0) == version) {
            out.push(Incompatibility {
                severity: "warning",
                problem: format!(
                    "extension {name} {version} is not available on the target in that version"
                ),
            });
        }
    }
    let owners = src
        .query(
            "SELECT DISTINCT pg_get_userbyid(c.relowner)::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1)
             UNION SELECT DISTINCT pg_get_userbyid(p.proowner)::text FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1)
             UNION SELECT DISTINCT pg_get_userbyid(n.nspowner)::text FROM pg_namespace n WHERE n.nspname = ANY($1)",
            &[&schemas],
        )
        .await
        .map_err(db("cannot list the owners of the source's objects"))?;
    for o in owners {
        let role: String = o.get(0);
        let exists: bool = dst
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
                &[&role],
            )
            .await
            .map_err(db("cannot list the target's roles"))?
            .get(0);
        if !exists {
            out.push(Incompatibility {
                severity: "error",
                problem: format!(
                    "role {role} owns objects on the source but does not exist on the target"
                ),
            });
        }
    }
    Ok(out)
}

/// The ordinary tables (and partitions) of `schemas` on the source.
pub async fn tables_of(src: &Client, schemas: &[String]) -> Result<Vec<TableName>, TransferError> {
    Ok(src
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname = ANY($1) ORDER BY 1, 2",
            &[&schemas],
        )
        .await
        .map_err(db("cannot list the source's tables"))?
        .iter()
        .map(|r| TableName {
            schema: r.get(0),
            table: r.get(1),
        })
        .collect())
}

/// Which tables of a transfer are done, kept in a file so a later run can
/// resume: written atomically after each table.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// What the transfer is (source, target, schemas), so a checkpoint of
    /// another transfer is never used.
    pub key: String,
    /// The schema without indexes and constraints is on the target.
    pub schema_done: bool,
    pub tables_done: Vec<String>,
    /// Tables a run started and has not finished: checked empty on the
    /// target (conflict `error`) and recorded before their rows are
    /// committed, so rows a run committed before it was stopped (without
    /// recording the table as done) are known to be its own and replaced
    /// when it resumes.
    #[serde(default)]
    pub tables_started: Vec<String>,
    /// Indexes, constraints and triggers are on the target.
    #[serde(default)]
    pub post_done: bool,
    /// The schema step was started (recorded before it runs): a run stopped
    /// after its transaction committed but before `schema_done` was saved
    /// finds the schema on the target and goes on.
    #[serde(default)]
    pub schema_started: bool,
    /// The same for the indexes-and-constraints step.
    #[serde(default)]
    pub post_started: bool,
}

impl Checkpoint {
    pub fn load(path: &std::path::Path, key: &str) -> Option<Checkpoint> {
        let text = std::fs::read_to_string(path).ok()?;
        let c: Checkpoint = serde_json::from_str(&text).ok()?;
        (c.key == key).then_some(c)
    }

    pub fn save(&self, path: &std::path::Path) -> Result<(), TransferError> {
        let err = |e: std::io::Error| {
            TransferError::Invalid(format!(
                "cannot write the checkpoint {}: {e}",
                path.display()
            ))
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let temp = path.with_extension("partial");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&temp, text).map_err(err)?;
        std::fs::rename(&temp, path).map_err(err)
    }
}

/// Indexes plus constraints of `schemas` (what the post-data step adds, and
/// what a resumed run compares between source and target to see whether
/// that step's transaction committed).
pub async fn index_and_constraint_count(
    c: &Client,
    schemas: &[String],
) -> Result<i64, TransferError> {
    let row = c
        .query_one(
            "SELECT (SELECT count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                     JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = ANY($1))
                  + (SELECT count(*) FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
                     WHERE n.nspname = ANY($1))
                  + (SELECT count(*) FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
                     JOIN pg_namespace n ON n.oid = t.relnamespace
                     WHERE n.nspname = ANY($1) AND NOT g.tgisinternal)",
            &[&schemas],
        )
        .await
        .map_err(db("counting indexes and constraints"))?;
    Ok(row.get(0))
}

/// Copies the schema of `schemas`: `pg_dump --schema-only` (custom format,
/// into a temporary file in `work_dir`; a schema holds no data, so it is
/// small), then `pg_restore --single-transaction` on the target, leaving out
/// the `CREATE SCHEMA` of schemas the target already has (`public` in
/// every new database). `section` (`pre-data`, `post-data`) restores only
/// that part: tables load fastest between the two, before their indexes and
/// constraints exist. All or nothing on the target; the temporary files
/// are removed on every path.
pub fn copy_schema(
    tools: &crate::backup::pgtools::PgTools,
    src: &crate::db::connstr::ConnParams,
    dst: &crate::db::connstr::ConnParams,
    schemas: &[String],
    existing: &[String],
    section: Option<&str>,
    work_dir: &std::path::Path,
) -> Result<(), TransferError> {
    use std::process::{Command, Stdio};
    let fail = |what: &str, e: String| TransferError::Invalid(format!("{what}: {e}"));
    std::fs::create_dir_all(work_dir)
        .map_err(|e| fail("cannot create the work directory", e.to_string()))?;
    let stem = format!(".schema-{}-{}", std::process::id(), rand::random::<u32>());
    let dump_path = work_dir.join(format!("{stem}.dump"));
    let list_path = work_dir.join(format!("{stem}.list"));
    let run = || -> Result<(), TransferError> {
        let (sargs, senv) = crate::backup::pipeline::connection(src);
        let out = Command::new(&tools.pg_dump.path)
            .args(&sargs)
            .args([
                "--schema-only",
                "--no-password",
                "--format=custom",
                "--file",
            ])
            .arg(&dump_path)
            .args(schemas.iter().map(|s| format!("--schema={s}")))
            .envs(senv)
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail("cannot run pg_dump", e.to_string()))?;
        if !out.status.success() {
            return Err(fail(
                "pg_dump --schema-only failed",
                String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            ));
        }
        let listed = Command::new(&tools.pg_restore.path)
            .arg("--list")
            .arg(&dump_path)
            .output()
            .map_err(|e| fail("cannot run pg_restore --list", e.to_string()))?;
        if !listed.status.success() {
            return Err(fail(
                "pg_restore --list failed",
                String::from_utf8_lossy(&listed.stderr).trim().to_owned(),
            ));
        }
        let list: String = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter(|l| {
                !existing
                    .iter()
                    .any(|n| l.contains(&format!(" SCHEMA - {n} ")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&list_path, list)
            .map_err(|e| fail("cannot write the restore list", e.to_string()))?;
        let (dargs, denv) = crate::backup::pipeline::connection(dst);
        let restored = Command::new(&tools.pg_restore.path)
            .args(&dargs)
            .args(["--single-transaction", "--exit-on-error", "--no-password"])
            .args(section.map(|x| format!("--section={x}")))
            .arg("--use-list")
            .arg(&list_path)
            .arg(&dump_path)
            .envs(denv)
            .env_remove("PGSERVICE")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail("cannot run pg_restore", e.to_string()))?;
        if !restored.status.success() {
            return Err(fail(
                "creating the schema on the target failed (nothing of it was kept)",
                String::from_utf8_lossy(&restored.stderr).trim().to_owned(),
            ));
        }
        Ok(())
    };
    let r = run();
    let _ = std::fs::remove_file(&dump_path);
    let _ = std::fs::remove_file(&list_path);
    r
}
