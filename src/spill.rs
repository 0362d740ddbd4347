//! Spill files: tool output larger than the output budget is written to a
//! file under `<data-dir>/results/` (JSON lines or CSV) and the tool returns
//! its id, path, size and first rows. Pages are read back with
//! `get_result_page`; files older than the configured age are deleted.
//! A file appears under its final name only once it is complete.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("cannot write spill file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read result `{id}`: {reason}")]
    Read { id: String, reason: String },
    #[error("result id `{0}` is not valid: ids look like r_0123456789abcdef.jsonl")]
    BadId(String),
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// Where spill files live.
#[derive(Debug, Clone)]
pub struct SpillStore {
    dir: PathBuf,
    max_age: Duration,
}

/// What a result that spilled says about its file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpillInfo {
    pub result_id: String,
    pub path: String,
    pub format: Format,
    pub rows: u64,
    pub bytes: u64,
}

impl SpillStore {
    pub fn new(dir: PathBuf, max_age: Duration) -> Self {
        Self { dir, max_age }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn writer(&self, format: Format, columns: &[String]) -> Result<SpillWriter, SpillError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| SpillError::Write {
            path: self.dir.clone(),
            source,
        })?;
        let mut bytes = [0u8; 8];
        rand::rng().fill(&mut bytes);
        let id = format!("r_{}.{}", hex::encode(bytes), format.ext());
        let final_path = self.dir.join(&id);
        let tmp_path = self.dir.join(format!("{id}.partial"));
        let file = File::create(&tmp_path).map_err(|source| SpillError::Write {
            path: tmp_path.clone(),
            source,
        })?;
        let mut w = SpillWriter {
            id,
            format,
            tmp_path,
            final_path,
            out: Some(BufWriter::new(file)),
            csv_columns: columns.to_vec(),
            rows: 0,
            bytes: 0,
        };
        if format == Format::Csv {
            let header = csv_line(columns.iter().map(|c| c.as_str()));
            w.write_raw(&header)?;
        }
        Ok(w)
    }

    /// Deletes spill files (and abandoned partial files) older than the max age.
    pub fn cleanup(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("r_") {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= self.max_age);
            if old && std::fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn resolve(&self, id: &str) -> Result<PathBuf, SpillError> {
        let ok = id.starts_with("r_")
            && (id.ends_with(".jsonl") || id.ends_with(".csv"))
            && id.len() <= 32
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !ok || id.contains("..") {
            return Err(SpillError::BadId(id.to_owned()));
        }
        Ok(self.dir.join(id))
    }

    /// Reads rows `offset..offset+limit` of a spilled result, stopping early at
    /// `max_bytes`. CSV rows come back as objects keyed by the header.
    pub fn read_page(
        &self,
        id: &str,
        offset: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Page, SpillError> {
        let path = self.resolve(id)?;
        let file = File::open(&path).map_err(|e| SpillError::Read {
            id: id.to_owned(),
            reason: if e.kind() == std::io::ErrorKind::NotFound {
                "it does not exist or was cleaned up; run the query again".to_owned()
            } else {
                e.to_string()
            },
        })?;
        let read_err = |e: String| SpillError::Read {
            id: id.to_owned(),
            reason: e,
        };
        let mut rows = Vec::new();
        let mut bytes = 0usize;
        let mut index = 0u64;
        let mut more = false;
        if id.ends_with(".csv") {
            let mut rdr = csv::Reader::from_reader(BufReader::new(file));
            let headers = rdr.headers().map_err(|e| read_err(e.to_string()))?.clone();
            for rec in rdr.records() {
                let rec = rec.map_err(|e| read_err(e.to_string()))?;
                if index < offset {
                    index += 1;
                    continue;
                }
                if rows.len() >= limit {
                    more = true;
                    break;
                }
                let obj: serde_json::Map<String, Value> = headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_owned(), Value::String(v.to_owned())))
                    .collect();
                let v = Value::Object(obj);
                bytes += v.to_string().len();
                if bytes > max_bytes && !rows.is_empty() {
                    more = true;
                    break;
                }
                rows.push(v);
                index += 1;
            }
        } else {
            for line in BufReader::new(file).lines() {
                let line = line.map_err(|e| read_err(e.to_string()))?;
                if index < offset {
                    index += 1;
                    continue;
                }
                if rows.len() >= limit {
                    more = true;
                    break;
                }
                bytes += line.len();
                if bytes > max_bytes && !rows.is_empty() {
                    more = true;
                    break;
                }
                rows.push(serde_json::from_str(&line).map_err(|e| read_err(e.to_string()))?);
                index += 1;
            }
        }
        let next_offset = more.then_some(offset + rows.len() as u64);
        Ok(Page {
            result_id: id.to_owned(),
            offset,
            rows,
            next_offset,
        })
    }
}

/// One page of a spilled result.
#[derive(Debug, Serialize)]
pub struct Page {
    pub result_id: String,
    pub offset: u64,
    pub rows: Vec<Value>,
    /// Offset of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

fn csv_line<'a>(fields: impl Iterator<Item = &'a str>) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(fields);
    let _ = w.flush();
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A spill file being written. Dropped without [`SpillWriter::finish`], the
/// partial file is removed.
#[derive(Debug)]
pub struct SpillWriter {
    id: String,
    format: Format,
    tmp_path: PathBuf,
    final_path: PathBuf,
    out: Option<BufWriter<File>>,
    csv_columns: Vec<String>,
    rows: u64,
    bytes: u64,
}

impl SpillWriter {
    fn write_raw(&mut self, s: &str) -> Result<(), SpillError> {
        let path = self.tmp_path.clone();
        let out = self.out.as_mut().ok_or_else(|| SpillError::Write {
            path: path.clone(),
            source: std::io::Error::other("writer already finished"),
        })?;
        out.write_all(s.as_bytes())
            .map_err(|source| SpillError::Write { path, source })?;
        self.bytes += s.len() as u64;
        Ok(())
    }

    pub fn push(&mut self, row: &Value) -> Result<(), SpillError> {
        let line = match self.format {
            Format::Jsonl => format!("{row}\n"),
            Format::Csv => {
                let cells: Vec<String> = self
                    .csv_columns
                    .iter()
                    .map(|c| match row.get(c) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                csv_line(cells.iter().map(|s| s.as_str()))
            }
        };
        self.write_raw(&line)?;
        self.rows += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<SpillInfo, SpillError> {
        let path = self.tmp_path.clone();
        if let Some(mut out) = self.out.take() {
            out.flush().map_err(|source| SpillError::Write {
                path: path.clone(),
                source,
            })?;
        }
        std::fs::rename(&self.tmp_path, &self.final_path)
            .map_err(|source| SpillError::Write { path, source })?;
        Ok(SpillInfo {
            result_id: self.id.clone(),
            path: self.final_path.display().to_string(),
            format: self.format,
            rows: self.rows,
            bytes: self.bytes,
        })
    }
}

impl Drop for SpillWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Collects rows for a result: keeps a bounded preview in memory and, once
/// the preview limits are passed, streams every row to a spill file.
#[derive(Debug)]
pub struct RowCollector {
    store: SpillStore,
    format: Format,
    columns: Vec<String>,
    max_rows: usize,
    max_bytes: usize,
    preview: Vec<Value>,
    preview_bytes: usize,
    total: u64,
    spill: Option<SpillWriter>,
}

/// The collected rows: the preview and, if it spilled, the file.
#[derive(Debug, Serialize)]
pub struct Collected {
    pub rows: Vec<Value>,
    pub row_count: u64,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spill: Option<SpillInfo>,
}

impl RowCollector {
    pub fn new(
        store: SpillStore,
        format: Format,
        columns: Vec<String>,
        max_rows: usize,
        max_bytes: usize,
    ) -> Self {
        Self {
            store,
            format,
            columns,
            max_rows: max_rows.max(1),
            max_bytes: max_bytes.max(1024),
            preview: Vec::new(),
            preview_bytes: 0,
            total: 0,
            spill: None,
        }
    }

    /// A collector that writes every row to a file from the start, keeping
    /// only a preview in memory.
    pub fn always_spill(
        store: SpillStore,
        format: Format,
        columns: Vec<String>,
        preview_rows: usize,
        preview_bytes: usize,
    ) -> Result<Self, SpillError> {
        let writer = store.writer(format, &columns)?;
        let mut c = Self::new(store, format, columns, preview_rows, preview_bytes);
        c.spill = Some(writer);
        Ok(c)
    }

    pub fn push(&mut self, row: Value) -> Result<(), SpillError> {
        self.total += 1;
        if let Some(w) = &mut self.spill {
            w.push(&row)?;
            let size = row.to_string().len() + 1;
            if self.preview.len() < self.max_rows.min(20)
                && self.preview_bytes + size <= self.max_bytes / 4
            {
                self.preview_bytes += size;
                self.preview.push(row);
            }
            return Ok(());
        }
        let size = row.to_string().len() + 1;
        if self.preview.len() < self.max_rows && self.preview_bytes + size <= self.max_bytes {
            self.preview_bytes += size;
            self.preview.push(row);
            return Ok(());
        }
        // Over the limits: move everything to a file, keep a short preview.
        let mut w = self.store.writer(self.format, &self.columns)?;
        for r in &self.preview {
            w.push(r)?;
        }
        w.push(&row)?;
        self.spill = Some(w);
        let keep = self.preview.len().min(20);
        self.preview.truncate(keep);
        let mut bytes = 0;
        let limit = self.max_bytes / 4;
        self.preview.retain(|r| {
            bytes += r.to_string().len() + 1;
            bytes <= limit
        });
        self.preview_bytes = self.preview.iter().map(|r| r.to_string().len() + 1).sum();
        Ok(())
    }

    pub fn finish(self) -> Result<Collected, SpillError> {
        let spill = match self.spill {
            Some(w) => Some(w.finish()?),
            None => None,
        };
        Ok(Collected {
            truncated: spill.is_some(),
            rows: self.preview,
            row_count: self.total,
            spill,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(dir: &Path) -> SpillStore {
        SpillStore::new(dir.join("results"), Duration::from_secs(3600))
    }

    #[test]
    fn small_results_stay_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = RowCollector::new(
            store(dir.path()),
            Format::Jsonl,
            vec!["a".into()],
            10,
            10_000,
        );
        for i in 0..5 {
            c.push(json!({"a": i})).unwrap();
        }
        let out = c.finish().unwrap();
        assert_eq!(out.rows.len(), 5);
        assert!(!out.truncated && out.spill.is_none());
        assert!(!dir.path().join("results").exists());
    }

    #[test]
    fn large_results_spill_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut c = RowCollector::new(s.clone(), Format::Jsonl, vec!["a".into()], 10, 10_000);
        for i in 0..1000 {
            c.push(json!({"a": i, "s": "x".repeat(20)})).unwrap();
        }
        let out = c.finish().unwrap();
        assert!(out.truncated);
        assert_eq!(out.row_count, 1000);
        let spill = out.spill.unwrap();
        assert_eq!(spill.rows, 1000);
        assert!(Path::new(&spill.path).exists());
        assert!(out.rows.len() <= 10);
        let page = s.read_page(&spill.result_id, 990, 100, 1 << 20).unwrap();
        assert_eq!(page.rows.len(), 10);
        assert_eq!(page.rows[0]["a"], 990);
        assert!(page.next_offset.is_none());
        let page = s.read_page(&spill.result_id, 0, 5, 1 << 20).unwrap();
        assert_eq!(page.next_offset, Some(5));
        // no partial files left
        let names: Vec<_> = std::fs::read_dir(s.dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.to_string_lossy().ends_with(".partial"))
        );
    }

    #[test]
    fn csv_spill_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut c = RowCollector::new(
            s.clone(),
            Format::Csv,
            vec!["id".into(), "note".into()],
            2,
            10_000,
        );
        for i in 0..5 {
            c.push(json!({"id": i, "note": "a,\"b\""})).unwrap();
        }
        let spill = c.finish().unwrap().spill.unwrap();
        let text = std::fs::read_to_string(&spill.path).unwrap();
        assert!(text.starts_with("id,note\n"));
        let page = s.read_page(&spill.result_id, 1, 1, 1 << 20).unwrap();
        assert_eq!(page.rows[0], json!({"id": "1", "note": "a,\"b\""}));
    }

    #[test]
    fn abandoned_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        {
            let mut c = RowCollector::new(s.clone(), Format::Jsonl, vec![], 1, 10_000);
            c.push(json!(1)).unwrap();
            c.push(json!(2)).unwrap();
        }
        assert_eq!(std::fs::read_dir(s.dir()).unwrap().count(), 0);
    }

    #[test]
    fn bad_ids_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let s = SpillStore::new(dir.path().to_owned(), Duration::from_secs(0));
        assert!(matches!(
            s.read_page("../etc/passwd", 0, 1, 10),
            Err(SpillError::BadId(_))
        ));
        assert!(matches!(
            s.read_page("r_00.jsonl", 0, 1, 10),
            Err(SpillError::Read { .. })
        ));
        std::fs::write(dir.path().join("r_1.jsonl"), "1\n").unwrap();
        std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
        assert_eq!(s.cleanup(), 1);
        assert!(dir.path().join("keep.txt").exists());
    }
}
