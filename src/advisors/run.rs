//! Runs the lints of one category through an instance's SQL path and shapes
//! the findings like Supabase's hosted advisors: one entry per lint that
//! fired, with its texts once, the number of findings and the first `limit`
//! affected objects, most severe first. A lint whose query fails is reported
//! (with the database's reason) and does not stop the others.

use serde_json::{Map, Value, json};

use super::lints::{Category, Lint, all};
use crate::db::backend::{Backend, SqlRow};
use crate::result::ToolError;

/// The findings of one lint.
#[derive(Debug)]
pub struct LintResult {
    pub lint: Lint,
    pub count: usize,
    /// The first `limit` affected objects.
    pub objects: Vec<Value>,
}

impl LintResult {
    /// The same keys as a hosted advisor group, plus `fix` on each object.
    pub fn into_json(self) -> Value {
        let omitted = self.count.saturating_sub(self.objects.len());
        let mut m = Map::new();
        m.insert("name".into(), json!(self.lint.name));
        m.insert("title".into(), json!(self.lint.title));
        m.insert("level".into(), json!(self.lint.level.name()));
        m.insert("categories".into(), json!([self.lint.category.name()]));
        m.insert("description".into(), json!(self.lint.description));
        m.insert("remediation".into(), json!(self.lint.remediation()));
        m.insert("count".into(), json!(self.count));
        m.insert("objects".into(), Value::Array(self.objects));
        if omitted > 0 {
            m.insert("omitted".into(), json!(omitted));
        }
        Value::Object(m)
    }
}

/// A lint that could not run.
#[derive(Debug)]
pub struct LintFailure {
    pub lint: &'static str,
    pub reason: String,
}

/// Everything one advisor run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Lints with findings, most severe first, then the most frequent.
    pub results: Vec<LintResult>,
    pub failures: Vec<LintFailure>,
}

impl Report {
    pub fn total_findings(&self) -> usize {
        self.results.iter().map(|r| r.count).sum()
    }
}

/// Runs every lint of `category`, listing at most `limit` objects per lint.
pub async fn run(db: &Backend, category: Category, limit: usize) -> Report {
    let mut report = Report::default();
    for lint in all().into_iter().filter(|l| l.category == category) {
        match run_one(db, &lint, limit).await {
            Ok(Some(r)) => report.results.push(r),
            Ok(None) => {}
            Err(e) => report.failures.push(LintFailure {
                lint: lint.name,
                reason: e.reason.unwrap_or(e.message),
            }),
        }
    }
    report.results.sort_by(|a, b| {
        a.lint
            .level
            .cmp(&b.lint.level)
            .then(b.count.cmp(&a.count))
            .then(a.lint.name.cmp(b.lint.name))
    });
    report
}

/// One lint's findings, or `None` when it did not fire.
async fn run_one(db: &Backend, lint: &Lint, limit: usize) -> Result<Option<LintResult>, ToolError> {
    let sql = format!(
        "SELECT q.*, count(*) OVER () AS total__ FROM ({}) q \
         ORDER BY q.schema, q.name, q.detail LIMIT $1::int8",
        lint.sql()
    );
    // One row at least, to learn the count even when no object is listed.
    let fetch = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let rows = db.query(&sql, &[&fetch]).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let count = usize::try_from(first.get::<i64>("total__")?).unwrap_or(0);
    let mut objects = Vec::with_capacity(rows.len().min(limit));
    for r in rows.iter().take(limit) {
        objects.push(object(r)?);
    }
    Ok(Some(LintResult {
        lint: *lint,
        count,
        objects,
    }))
}

/// One affected object: what it is, why it was flagged, and the SQL that fixes it.
fn object(r: &SqlRow) -> Result<Value, ToolError> {
    let mut m = Map::new();
    for key in ["schema", "name", "type", "entity", "fkey_name"] {
        if let Some(v) = r.get::<Option<String>>(key)? {
            m.insert(key.into(), json!(v));
        }
    }
    if let Some(cols) = r.get::<Option<Vec<String>>>("fkey_columns")? {
        m.insert("fkey_columns".into(), json!(cols));
    }
    m.insert("detail".into(), json!(r.get::<String>("detail")?));
    m.insert("fix".into(), json!(r.get::<String>("fix")?));
    Ok(Value::Object(m))
}
