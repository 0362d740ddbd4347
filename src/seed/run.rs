//! One seeding run: resolve the tables, order them so parents come before
//! children, and insert generated rows in batches of multi-row INSERTs, all
//! in one transaction (rolled back for a dry run or on any error that is
//! not a row's own constraint violation). A batch that fails on a
//! constraint is retried row by row with fresh values; a table with too
//! many failing rows is left out (its savepoint rolled back) and reported.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::catalog::{self, Table, Ty};
use super::checks::{self, Rule};
use super::values;
use super::{SeedError, ident, literal};

/// Rows per INSERT statement.
pub const BATCH: usize = 200;
/// Most rows for one table.
pub const MAX_ROWS_PER_TABLE: u64 = 100_000;
/// Sample rows shown per table.
const SAMPLE: usize = 3;
/// Parent keys read for foreign keys.
const MAX_PARENT_KEYS: i64 = 10_000;
/// Tries to find a row whose unique keys are new.
const UNIQUE_TRIES: usize = 25;
/// Tries per row after a failed insert.
const ROW_TRIES: usize = 5;

/// What to seed.
#[derive(Debug, Clone)]
pub struct Request {
    /// `(table, rows)`: a table as `name` or `schema.name`. Empty: every
    /// table of `schemas` with `default_rows`.
    pub tables: Vec<(String, u64)>,
    pub default_rows: u64,
    pub schemas: Vec<String>,
    pub seed: u64,
    pub truncate_first: bool,
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct TableReport {
    pub table: String,
    pub requested: u64,
    pub inserted: u64,
    /// Rows generated again after the database refused them.
    #[serde(skip_serializing_if = "is_zero")]
    pub retried: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample: Vec<Map<String, Value>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub dry_run: bool,
    pub committed: bool,
    pub truncated: Vec<String>,
    pub tables: Vec<TableReport>,
}

/// A failure of the whole run, with whatever had been reported so far.
fn fatal(e: tokio_postgres::Error, action: String) -> SeedError {
    SeedError::db(action, e)
}

/// Whether an insert error belongs to the row (bad value, constraint) and
/// may pass with other values.
fn row_error(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|d| matches!(&d.code().code()[..2], "22" | "23"))
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// Reports rows inserted so far and rows asked for in the whole run.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Runs the request on `client` (a connection of its own: the run's
/// transaction is open on it), telling `progress` after every batch.
pub async fn seed(
    client: &Client,
    req: &Request,
    cancel: &CancellationToken,
    progress: Progress<'_>,
) -> Result<Report, SeedError> {
    let mut schemas = req.schemas.clone();
    for (t, _) in &req.tables {
        if let Some((s, _)) = t.split_once('.')
            && !schemas.iter().any(|x| x == s)
        {
            schemas.push(s.to_owned());
        }
    }
    let tables = catalog::load(client, &schemas).await?;
    let targets = resolve(&tables, req)?;
    let order = order(&tables, &targets);
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| SeedError::db("starting the transaction", e))?;
    let total: u64 = targets.values().sum();
    let mut meter = Meter {
        report: progress,
        done: 0,
        total,
    };
    let result = run(client, req, &tables, &targets, &order, cancel, &mut meter).await;
    match result {
        Ok(report) => {
            let end = if req.dry_run { "ROLLBACK" } else { "COMMIT" };
            client
                .batch_execute(end)
                .await
                .map_err(|e| SeedError::db("committing", e))?;
            Ok(report)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

fn resolve(
    tables: &BTreeMap<(String, String), Table>,
    req: &Request,
) -> Result<BTreeMap<(String, String), u64>, SeedError> {
    let mut out = BTreeMap::new();
    if req.tables.is_empty() {
        for k in tables.keys().filter(|k| req.schemas.contains(&k.0)) {
            out.insert(k.clone(), req.default_rows);
        }
        return Ok(out);
    }
    for (name, rows) in &req.tables {
        let key = match name.split_once('.') {
            Some((s, t)) => Some((s.to_owned(), t.to_owned())),
            None => req
                .schemas
                .iter()
                .map(|s| (s.clone(), name.clone()))
                .find(|k| tables.contains_key(k)),
        };
        match key.filter(|k| tables.contains_key(k)) {
            Some(k) => {
                out.insert(k, *rows);
            }
            None => return Err(SeedError::UnknownTable(name.clone())),
        }
    }
    Ok(out)
}

/// Parents before children (among the targets); tables in a cycle after
/// the rest, in name order.
fn order(
    tables: &BTreeMap<(String, String), Table>,
    targets: &BTreeMap<(String, String), u64>,
) -> Vec<(String, String)> {
    let mut deps: BTreeMap<&(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for k in targets.keys() {
        let parents = tables
            .get(k)
            .map(|t| t.foreign_keys.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|f| f.parent.clone())
            .filter(|p| p != k && targets.contains_key(p))
            .collect();
        deps.insert(k, parents);
    }
    let mut done: Vec<(String, String)> = Vec::new();
    loop {
        let ready: Vec<(String, String)> = deps
            .iter()
            .filter(|(k, d)| !done.contains(k) && d.iter().all(|p| done.contains(p)))
            .map(|(k, _)| (*k).clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    for k in targets.keys() {
        if !done.contains(k) {
            done.push(k.clone());
        }
    }
    done
}

fn name_of(k: &(String, String)) -> String {
    format!("{}.{}", k.0, k.1)
}

/// FNV-1a: a stable per-table seed whatever the run's table order.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

async fn run(
    client: &Client,
    req: &Request,
    tables: &BTreeMap<(String, String), Table>,
    targets: &BTreeMap<(String, String), u64>,
    order: &[(String, String)],
    cancel: &CancellationToken,
    meter: &mut Meter<'_>,
) -> Result<Report, SeedError> {
    let mut report = Report {
        seed: req.seed,
        dry_run: req.dry_run,
        committed: false,
        truncated: Vec::new(),
        tables: Vec::new(),
    };
    if req.truncate_first && !order.is_empty() {
        let list: Vec<String> = order
            .iter()
            .filter_map(|k| tables.get(k).map(Table::qualified))
            .collect();
        client
            .batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", list.join(", ")))
            .await
            .map_err(|e| fatal(e, "truncating the tables".into()))?;
        report.truncated = order.iter().map(name_of).collect();
    }
    for k in order {
        if cancel.is_cancelled() {
            return Err(SeedError::Cancelled);
        }
        let (Some(t), Some(&rows)) = (tables.get(k), targets.get(k)) else {
            continue;
        };
        let done = meter.done;
        let r = seed_table(client, t, rows, req.seed, cancel, meter).await?;
        // A table counts whole once done, whatever it inserted.
        meter.set(done + rows);
        report.tables.push(r);
    }
    report.committed = !req.dry_run;
    Ok(report)
}

/// Rows done of the run, reported only as they grow.
struct Meter<'a> {
    report: Progress<'a>,
    done: u64,
    total: u64,
}

impl Meter<'_> {
    fn set(&mut self, done: u64) {
        if done > self.done {
            self.done = done.min(self.total);
            (self.report)(self.done, self.total);
        }
    }
}

/// Where a filled column's value comes from.
enum Source {
    Generated {
        unique: bool,
    },
    /// Column `i` of foreign key `fk`.
    Parent {
        fk: usize,
        i: usize,
    },
    Null,
}

struct Fk {
    keys: Vec<Vec<String>>,
    /// Each row takes the next key (the key is unique in this table).
    sequential: bool,
}

async fn seed_table(
    client: &Client,
    t: &Table,
    requested: u64,
    seed: u64,
    cancel: &CancellationToken,
    meter: &mut Meter<'_>,
) -> Result<TableReport, SeedError> {
    let start = meter.done;
    let name = format!("{}.{}", t.schema, t.name);
    let mut rep = TableReport {
        table: name.clone(),
        requested,
        inserted: 0,
        retried: 0,
        skipped: None,
        sample: Vec::new(),
    };
    if requested == 0 {
        return Ok(rep);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ stable_hash(&name));
    let filled: Vec<usize> = (0..t.columns.len())
        .filter(|&i| !t.columns[i].defaulted)
        .collect();
    if filled.is_empty() {
        rep.skipped = Some("every column has a default, identity or generated value; nothing to generate (insert default rows with INSERT ... DEFAULT VALUES)".into());
        return Ok(rep);
    }
    // Foreign keys: the parents' existing keys.
    let mut fks: Vec<Fk> = Vec::new();
    let mut source: BTreeMap<usize, Source> = BTreeMap::new();
    for (fi, fk) in t.foreign_keys.iter().enumerate() {
        let nullable = fk.columns.iter().all(|&c| !t.columns[c].not_null);
        let fills = fk.columns.iter().any(|c| filled.contains(c));
        if !fills {
            fks.push(Fk {
                keys: Vec::new(),
                sequential: false,
            });
            continue;
        }
        let keys = if fk.parent == t.key() {
            Vec::new()
        } else {
            parent_keys(client, fk).await?
        };
        if keys.is_empty() {
            if !nullable {
                rep.skipped = Some(format!(
                    "its foreign key to {}.{} needs parent rows and that table has none{}",
                    fk.parent.0,
                    fk.parent.1,
                    if fk.parent == t.key() {
                        " (a NOT NULL reference to itself)"
                    } else {
                        "; seed it too, or first"
                    }
                ));
                return Ok(rep);
            }
            for &c in &fk.columns {
                source.entry(c).or_insert(Source::Null);
            }
        } else {
            for (i, &c) in fk.columns.iter().enumerate() {
                source.entry(c).or_insert(Source::Parent { fk: fi, i });
            }
        }
        let sequential = t
            .uniques
            .iter()
            .any(|u| u.iter().all(|c| fk.columns.contains(c)));
        fks.push(Fk { keys, sequential });
    }
    let single_unique: HashSet<usize> = t
        .uniques
        .iter()
        .filter(|u| u.len() == 1)
        .map(|u| u[0])
        .collect();
    for &c in &filled {
        if source.contains_key(&c) {
            continue;
        }
        let col = &t.columns[c];
        let unusable = match &col.ty {
            Ty::Other(n) => Some(format!("type `{n}`")),
            Ty::Enum(l) if l.is_empty() => Some("an enum without labels".to_owned()),
            Ty::Array(inner) if matches!(**inner, Ty::Other(_)) => {
                Some(format!("type `{}`", col.sql_type))
            }
            _ => None,
        };
        if let Some(why) = unusable {
            if col.not_null {
                rep.skipped = Some(format!(
                    "column `{}` is NOT NULL without a default and has {why}, which the generator cannot fill",
                    col.name
                ));
                return Ok(rep);
            }
            source.insert(c, Source::Null);
        } else {
            source.insert(
                c,
                Source::Generated {
                    unique: single_unique.contains(&c),
                },
            );
        }
    }
    let rules = checks::rules(&t.checks);
    // Unique keys made only of filled columns, with the values already there.
    let uniques: Vec<Vec<usize>> = t
        .uniques
        .iter()
        .filter(|u| u.iter().all(|c| filled.contains(c)))
        .cloned()
        .collect();
    let existing: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}", t.qualified()), &[])
        .await
        .map_err(|e| fatal(e, format!("counting the rows of {name}")))?
        .get(0);
    let mut seen: Vec<HashSet<Vec<String>>> = Vec::new();
    for u in &uniques {
        let mut set = HashSet::new();
        if existing > 0 {
            let cols: Vec<String> = u
                .iter()
                .map(|&c| format!("{}::text", ident(&t.columns[c].name)))
                .collect();
            let sql = format!(
                "SELECT {} FROM {} LIMIT 200000",
                cols.join(", "),
                t.qualified()
            );
            for r in client
                .query(&sql, &[])
                .await
                .map_err(|e| fatal(e, format!("reading the unique keys of {name}")))?
            {
                let v: Option<Vec<String>> = (0..u.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect();
                if let Some(v) = v {
                    set.insert(v);
                }
            }
        }
        seen.push(set);
    }
    // A unique foreign key: each row takes its own parent, among those no
    // existing row has taken.
    let mut requested_rows = requested;
    for (fi, f) in fks.iter_mut().enumerate() {
        if !f.sequential || f.keys.is_empty() {
            continue;
        }
        let fk = &t.foreign_keys[fi];
        for (u, set) in uniques.iter().zip(&seen) {
            if u.len() == fk.columns.len() && u.iter().all(|c| fk.columns.contains(c)) {
                let pos: Vec<usize> = u
                    .iter()
                    .filter_map(|c| fk.columns.iter().position(|x| x == c))
                    .collect();
                f.keys.retain(|k| {
                    let tuple: Vec<String> =
                        pos.iter().filter_map(|&p| k.get(p).cloned()).collect();
                    !set.contains(&tuple)
                });
            }
        }
        f.keys.shuffle(&mut rng);
        if (f.keys.len() as u64) < requested_rows {
            requested_rows = f.keys.len() as u64;
            rep.skipped = Some(format!(
                "only {} rows: each row needs its own parent row of {}.{} (a unique foreign key) and only {} are not taken yet",
                f.keys.len(),
                fk.parent.0,
                fk.parent.1,
                f.keys.len()
            ));
        }
    }
    if requested_rows == 0 {
        return Ok(rep);
    }
    let ctx = Ctx {
        t,
        filled: &filled,
        source: &source,
        fks: &fks,
        rules: &rules,
        uniques: &uniques,
    };
    let columns: Vec<String> = filled.iter().map(|&c| ident(&t.columns[c].name)).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        t.qualified(),
        columns.join(", ")
    );
    client
        .batch_execute("SAVEPOINT seed_table")
        .await
        .map_err(|e| fatal(e, "setting a savepoint".into()))?;
    let failure_limit = (requested_rows / 2).max(20);
    let mut failures = 0u64;
    let mut last_error: Option<String> = None;
    let mut ordinal = existing.max(0) as u64;
    let mut made = 0u64;
    while made < requested_rows {
        if cancel.is_cancelled() {
            return Err(SeedError::Cancelled);
        }
        let n = (requested_rows - made).min(BATCH as u64);
        let mut batch: Vec<Vec<Option<String>>> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            match ctx.row(&mut rng, &mut seen, ordinal, made + batch.len() as u64) {
                Some(r) => batch.push(r),
                None => failures += 1,
            }
            ordinal += 1;
        }
        made += n;
        if batch.is_empty() {
            if failures > failure_limit {
                break;
            }
            continue;
        }
        client
            .batch_execute("SAVEPOINT seed_batch")
            .await
            .map_err(|e| fatal(e, "setting a savepoint".into()))?;
        let sql = head.clone()
            + &batch
                .iter()
                .map(|r| ctx.tuple(r))
                .collect::<Vec<_>>()
                .join(", ");
        match client.batch_execute(&sql).await {
            Ok(()) => {
                rep.inserted += batch.len() as u64;
                meter.set(start + rep.inserted);
                for r in &batch {
                    if rep.sample.len() < SAMPLE {
                        rep.sample.push(ctx.sample(r));
                    }
                }
            }
            Err(e) if row_error(&e) => {
                client
                    .batch_execute("ROLLBACK TO SAVEPOINT seed_batch")
                    .await
                    .map_err(|e| fatal(e, "rolling back a batch".into()))?;
                // Row by row, each failing row generated again.
                let mut last = db_message(&e);
                last_error = Some(last.clone());
                for (bi, first) in batch.into_iter().enumerate() {
                    let mut row = Some(first);
                    let mut ok = false;
                    for attempt in 0..ROW_TRIES {
                        let Some(r) = row.take() else { break };
                        client
                            .batch_execute("SAVEPOINT seed_row")
                            .await
                            .map_err(|e| fatal(e, "setting a savepoint".into()))?;
                        match client.batch_execute(&(head.clone() + &ctx.tuple(&r))).await {
                            Ok(()) => {
                                rep.inserted += 1;
                                meter.set(start + rep.inserted);
                                if rep.sample.len() < SAMPLE {
                                    rep.sample.push(ctx.sample(&r));
                                }
                                ok = true;
                                break;
                            }
                            Err(e) if row_error(&e) => {
                                last = db_message(&e);
                                last_error = Some(last.clone());
                                client
                                    .batch_execute("ROLLBACK TO SAVEPOINT seed_row")
                                    .await
                                    .map_err(|e| fatal(e, "rolling back a row".into()))?;
                                rep.retried += 1;
                                if attempt + 1 < ROW_TRIES {
                                    row = ctx.row(&mut rng, &mut seen, ordinal, made + bi as u64);
                                    ordinal += 1;
                                }
                            }
                            Err(e) => return Err(fatal(e, format!("inserting into {name}"))),
                        }
                    }
                    if !ok {
                        failures += 1;
                        if failures > failure_limit {
                            client
                                .batch_execute("ROLLBACK TO SAVEPOINT seed_table")
                                .await
                                .map_err(|e| fatal(e, "rolling back a table".into()))?;
                            rep.inserted = 0;
                            rep.sample.clear();
                            rep.skipped = Some(format!(
                                "left out after {failures} rows failed even with new values; last error: {last}. Its constraints (CHECK, triggers) need values the generator does not produce; insert rows for it by hand or with run_seed_file"
                            ));
                            return Ok(rep);
                        }
                    }
                }
            }
            Err(e) => return Err(fatal(e, format!("inserting into {name}"))),
        }
    }
    if rep.inserted < requested_rows && rep.skipped.is_none() {
        rep.skipped = Some(match &last_error {
            Some(last) => format!(
                "only {} of {requested_rows} rows: {failures} rows failed even with new values (last error: {last})",
                rep.inserted
            ),
            None => format!(
                "only {} of {requested_rows} rows: no more distinct values for its unique keys were found",
                rep.inserted
            ),
        });
    }
    client
        .batch_execute("RELEASE SAVEPOINT seed_table")
        .await
        .map_err(|e| fatal(e, "releasing a savepoint".into()))?;
    Ok(rep)
}

async fn parent_keys(
    client: &Client,
    fk: &catalog::ForeignKey,
) -> Result<Vec<Vec<String>>, SeedError> {
    let cols: Vec<String> = fk
        .parent_columns
        .iter()
        .map(|c| format!("{}::text", ident(c)))
        .collect();
    let not_null: Vec<String> = fk
        .parent_columns
        .iter()
        .map(|c| format!("{} IS NOT NULL", ident(c)))
        .collect();
    let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT DISTINCT {} FROM {}.{} WHERE {} ORDER BY {} LIMIT {MAX_PARENT_KEYS}",
        cols.join(", "),
        ident(&fk.parent.0),
        ident(&fk.parent.1),
        not_null.join(" AND "),
        order.join(", ")
    );
    let rows = client.query(&sql, &[]).await.map_err(|e| {
        fatal(
            e,
            format!("reading the keys of {}.{}", fk.parent.0, fk.parent.1),
        )
    })?;
    Ok(rows
        .iter()
        .map(|r| (0..cols.len()).map(|i| r.get::<_, String>(i)).collect())
        .collect())
}

struct Ctx<'a> {
    t: &'a Table,
    filled: &'a [usize],
    source: &'a BTreeMap<usize, Source>,
    fks: &'a [Fk],
    rules: &'a BTreeMap<String, Rule>,
    uniques: &'a [Vec<usize>],
}

impl Ctx<'_> {
    /// A row (values of `filled`, in order) whose unique keys are new, or
    /// `None` when none was found.
    fn row(
        &self,
        rng: &mut ChaCha8Rng,
        seen: &mut [HashSet<Vec<String>>],
        ordinal: u64,
        index: u64,
    ) -> Option<Vec<Option<String>>> {
        for attempt in 0..UNIQUE_TRIES {
            let picks: Vec<usize> = self
                .fks
                .iter()
                .map(|f| {
                    if f.keys.is_empty() {
                        0
                    } else if f.sequential && attempt == 0 {
                        (index as usize) % f.keys.len()
                    } else {
                        rand::Rng::random_range(rng, 0..f.keys.len())
                    }
                })
                .collect();
            let mut row: Vec<Option<String>> = Vec::with_capacity(self.filled.len());
            for &c in self.filled {
                let col = &self.t.columns[c];
                let v = match self.source.get(&c) {
                    Some(Source::Parent { fk, i }) => self.fks[*fk]
                        .keys
                        .get(picks[*fk])
                        .and_then(|k| k.get(*i))
                        .cloned(),
                    Some(Source::Generated { unique }) => {
                        let ord = ordinal + attempt as u64 * 1_000_003;
                        values::value(rng, col, self.rules.get(&col.name), ord, *unique)
                    }
                    Some(Source::Null) | None => None,
                };
                row.push(v);
            }
            let keys: Vec<Option<Vec<String>>> = self
                .uniques
                .iter()
                .map(|u| {
                    u.iter()
                        .map(|c| {
                            let pos = self.filled.iter().position(|f| f == c)?;
                            row[pos].clone()
                        })
                        .collect()
                })
                .collect();
            let clash = keys
                .iter()
                .zip(seen.iter())
                .any(|(k, s)| k.as_ref().is_some_and(|k| s.contains(k)));
            if !clash {
                for (k, s) in keys.into_iter().zip(seen.iter_mut()) {
                    if let Some(k) = k {
                        s.insert(k);
                    }
                }
                return Some(row);
            }
        }
        None
    }

    fn tuple(&self, row: &[Option<String>]) -> String {
        let vals: Vec<String> = row
            .iter()
            .zip(self.filled)
            .map(|(v, &c)| match v {
                Some(v) => format!("{}::{}", literal(v), self.t.columns[c].sql_type),
                None => "NULL".to_owned(),
            })
            .collect();
        format!("({})", vals.join(", "))
    }

    fn sample(&self, row: &[Option<String>]) -> Map<String, Value> {
        row.iter()
            .zip(self.filled)
            .map(|(v, &c)| {
                (
                    self.t.columns[c].name.clone(),
                    v.clone().map_or(Value::Null, Value::String),
                )
            })
            .collect()
    }
}
