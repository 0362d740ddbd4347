//! A parallel restore that starts while the archive is still arriving.
//!
//! `pg_restore -j` needs the whole archive in a seekable file. Waiting for
//! the spool to be complete leaves the database idle while the backup is
//! decrypted and decompressed; here the restore runs in stages alongside:
//!
//! 1. As soon as the table of contents is in the spool, `pg_restore -L`
//!    creates the schema: every entry of the pre-data section (tables,
//!    types, functions, ...; a comment or grant goes with the entry before
//!    it, as `pg_restore --section` decides).
//! 2. Each data block, once its last byte is in the spool, has its offset
//!    written into the spool's table of contents (as `pg_dump` does for a
//!    file), and goes to one of `jobs` loaders: a `pg_restore -L` of the
//!    largest ready block, with small ready blocks added up to
//!    [`BATCH_BYTES`].
//! 3. When every data block is loaded, one `pg_restore -j` restores the
//!    rest (sequence values, indexes, constraints, triggers, policies,
//!    grants), `jobs` at a time, in `pg_restore`'s own dependency order.
//!
//! Every entry of the archive is in exactly one stage's list, and a stage
//! that depends on another starts only after it succeeded. Post-data
//! entries never run beside a loader: a foreign key checked while its
//! referenced table is still loading would fail.
//!
//! When the archive's table of contents cannot be followed (an unknown
//! archive version), the restore is the plain one: the whole spool, then
//! one `pg_restore -j`. When the data blocks stop being followable part
//! way, the blocks not yet loaded go to the last stage, where
//! `pg_restore -j` finds them itself.
//!
//! The first failing stage stops the others: every child is killed and
//! waited for (also when the caller's thread unwinds), and the list files
//! are removed.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{
    BUF, PipelineError, collect_restore_stderr, damaged, join_stderr, program_failed, spawn,
};
use crate::backup::custom_archive::{Block, OffsetRecorder, Section, TocEntry, restore_sections};

/// A loader takes the largest ready block, then small ones while the
/// batch holds less than this.
pub const BATCH_BYTES: u64 = 32 << 20;
/// At most this many blocks per loader.
const BATCH_MAX: usize = 200;
/// How often finished stages are looked for once the spool is complete.
const POLL: Duration = Duration::from_millis(2);

/// What the staged restore runs.
pub struct Staged<'a> {
    /// `pg_restore`.
    pub program: &'a Path,
    /// Connection and restore options; no `--jobs`, no file.
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub jobs: u32,
    /// The spool file's path (the caller removes it).
    pub spool: &'a Path,
    /// Counts the archive's bytes as they are spooled.
    pub progress: Option<&'a AtomicU64>,
    /// Counts the tables whose data is restored.
    pub tables_done: Arc<AtomicU64>,
}

/// What [`run`] did.
#[derive(Debug)]
pub struct StagedOutcome {
    pub spooled: u64,
    pub warnings: String,
    /// Until the spool was complete (the restore ran alongside).
    pub spool_ms: u64,
    /// Loader processes started (0 when the archive could not be followed).
    pub loaders: usize,
}

/// The entries of each stage.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Pre-data entries, in archive order.
    pre: Vec<i64>,
    /// Data entries with a data block.
    data: HashSet<i64>,
    /// Every entry, in archive order.
    all: Vec<i64>,
}

impl Plan {
    fn of(toc: &[TocEntry]) -> Plan {
        let mut plan = Plan::default();
        for (e, section) in toc.iter().zip(restore_sections(toc)) {
            match section {
                Section::PreData => plan.pre.push(e.dump_id),
                Section::Data if e.has_data => {
                    plan.data.insert(e.dump_id);
                }
                _ => {}
            }
            plan.all.push(e.dump_id);
        }
        plan
    }
}

/// A `pg_restore` being run; killed and waited for if dropped unfinished.
struct Stage {
    /// 1 for the first stage started.
    number: usize,
    child: Option<Child>,
    stderr: Option<JoinHandle<String>>,
    list: Option<PathBuf>,
}

impl Stage {
    /// `Some(Ok(warnings))` or `Some(Err(..))` once the process has ended.
    fn try_finish(&mut self, program: &Path) -> Option<Result<String, PipelineError>> {
        let child = self.child.as_mut()?;
        let status = match child.try_wait() {
            Ok(None) => return None,
            Ok(Some(s)) => s,
            Err(e) => {
                return Some(Err(PipelineError::Spawn {
                    program: program.display().to_string(),
                    message: e.to_string(),
                }));
            }
        };
        self.child = None;
        tracing::debug!("restore stage {} ended: {status}", self.number);
        let text = join_stderr(self.stderr.take());
        self.remove_list();
        Some(if status.success() {
            Ok(text)
        } else {
            Err(program_failed(program, status, text))
        })
    }

    /// Waits for the process to end; kills it when `cancel` is set.
    fn wait(&mut self, program: &Path, cancel: &AtomicBool) -> Result<String, PipelineError> {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(PipelineError::Cancelled);
            }
            if let Some(r) = self.try_finish(program) {
                return r;
            }
            std::thread::sleep(POLL);
        }
    }

    fn remove_list(&mut self) {
        if let Some(l) = self.list.take() {
            let _ = fs::remove_file(l);
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = join_stderr(self.stderr.take());
        self.remove_list();
    }
}

struct Stager<'a> {
    s: &'a Staged<'a>,
    plan: Option<Plan>,
    pre: Option<Stage>,
    pre_done: bool,
    /// Complete blocks of data entries, not yet given to a loader.
    ready: Vec<Block>,
    loaders: Vec<Stage>,
    /// Data entries given to a loader.
    loaded: HashSet<i64>,
    /// `pg_restore` processes started, and how many of them were loaders.
    started: usize,
    loader_count: usize,
    warnings: String,
}

impl Stager<'_> {
    fn start(&mut self, ids: &[i64], jobs: Option<u32>) -> Result<Stage, PipelineError> {
        self.started += 1;
        let list = self.s.spool.with_file_name(format!(
            ".restore-{}-{}.list",
            std::process::id(),
            self.started
        ));
        let mut text = String::with_capacity(ids.len() * 8);
        for id in ids {
            text.push_str(&format!("{id};\n"));
        }
        fs::write(&list, text).map_err(|e| PipelineError::Write {
            path: list.display().to_string(),
            message: e.to_string(),
        })?;
        let mut args = self.s.args.to_vec();
        if let Some(j) = jobs {
            args.push(format!("--jobs={j}"));
        }
        args.push(format!("--use-list={}", list.display()));
        args.push(self.s.spool.display().to_string());
        let mut stage = Stage {
            number: 0,
            child: None,
            stderr: None,
            list: Some(list),
        };
        let mut child = spawn(
            self.s.program,
            &args,
            self.s.env,
            Stdio::null(),
            Stdio::null(),
        )?;
        tracing::debug!(
            "restore stage {} started: {} entries, jobs {}",
            self.started,
            ids.len(),
            jobs.unwrap_or(1)
        );
        stage.stderr = collect_restore_stderr(&mut child, self.s.tables_done.clone());
        stage.child = Some(child);
        stage.number = self.started;
        Ok(stage)
    }

    fn keep_warnings(&mut self, text: String) {
        if !text.is_empty() {
            if !self.warnings.is_empty() {
                self.warnings.push('\n');
            }
            self.warnings.push_str(&text);
        }
    }

    /// The table of contents is in the spool: plan, and create the schema.
    fn on_toc(&mut self, toc: &[TocEntry]) -> Result<(), PipelineError> {
        let plan = Plan::of(toc);
        if plan.pre.is_empty() {
            self.pre_done = true;
        } else {
            self.pre = Some(self.start(&plan.pre, None)?);
        }
        self.plan = Some(plan);
        Ok(())
    }

    /// Reaps finished stages and starts loaders for ready blocks.
    fn poll(&mut self) -> Result<(), PipelineError> {
        let program = self.s.program;
        if let Some(pre) = self.pre.as_mut()
            && let Some(r) = pre.try_finish(program)
        {
            self.pre = None;
            let text = r?;
            self.keep_warnings(text);
            self.pre_done = true;
        }
        let mut i = 0;
        while i < self.loaders.len() {
            match self.loaders[i].try_finish(program) {
                None => i += 1,
                Some(r) => {
                    self.loaders.swap_remove(i);
                    let text = r?;
                    self.keep_warnings(text);
                }
            }
        }
        while self.pre_done
            && !self.ready.is_empty()
            && self.loaders.len() < self.s.jobs.max(1) as usize
        {
            let batch = take_batch(&mut self.ready);
            self.loaded.extend(batch.iter().copied());
            let stage = self.start(&batch, None)?;
            self.loaders.push(stage);
            self.loader_count += 1;
        }
        Ok(())
    }

    fn busy(&self) -> bool {
        !self.pre_done || !self.ready.is_empty() || !self.loaders.is_empty()
    }
}

/// The largest ready block, then the smallest ones while the batch is
/// under [`BATCH_BYTES`]; the dump ids, largest first.
fn take_batch(ready: &mut Vec<Block>) -> Vec<i64> {
    ready.sort_by(|a, b| b.len.cmp(&a.len).then(a.dump_id.cmp(&b.dump_id)));
    let first = ready.remove(0);
    let mut total = first.len;
    let mut ids = vec![first.dump_id];
    while ids.len() < BATCH_MAX
        && let Some(small) = ready.last()
        && total + small.len <= BATCH_BYTES
    {
        total += small.len;
        ids.push(small.dump_id);
        ready.pop();
    }
    ids
}

/// Spools `reader` into `file` (at `s.spool`) while restoring it in stages
/// (see the module docs).
pub fn run(
    reader: &mut dyn Read,
    file: File,
    s: &Staged<'_>,
    cancel: &AtomicBool,
) -> Result<StagedOutcome, PipelineError> {
    let started = Instant::now();
    let write_err = |e: io::Error| PipelineError::Write {
        path: s.spool.display().to_string(),
        message: e.to_string(),
    };
    let patcher = file.try_clone().map_err(write_err)?;
    let mut out = io::BufWriter::with_capacity(BUF, file);
    let mut recorder = OffsetRecorder::new();
    let mut st = Stager {
        s,
        plan: None,
        pre: None,
        pre_done: false,
        ready: Vec::new(),
        loaders: Vec::new(),
        loaded: HashSet::new(),
        started: 0,
        loader_count: 0,
        warnings: String::new(),
    };
    let mut buf = vec![0u8; BUF];
    let mut spooled = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(damaged(e)),
        };
        out.write_all(&buf[..n]).map_err(write_err)?;
        spooled += n as u64;
        if let Some(p) = s.progress {
            p.fetch_add(n as u64, Ordering::Relaxed);
        }
        recorder.feed(&buf[..n]);
        if st.plan.is_none()
            && let Some(toc) = recorder.toc()
        {
            out.flush().map_err(write_err)?;
            st.on_toc(toc)?;
        }
        let done = recorder.take_completed();
        if !done.is_empty() {
            // The blocks' bytes reach the file before anyone is told where
            // they are.
            out.flush().map_err(write_err)?;
            for b in done {
                if let Some((pos, field)) = recorder.offset_field(&b) {
                    patcher.write_all_at(&field, pos).map_err(write_err)?;
                    if st
                        .plan
                        .as_ref()
                        .is_some_and(|p| p.data.contains(&b.dump_id))
                    {
                        st.ready.push(b);
                    }
                }
            }
        }
        st.poll()?;
    }
    out.flush().map_err(write_err)?;
    let spool_ms = started.elapsed().as_millis() as u64;
    drop(out);

    let Some(plan) = st.plan.take() else {
        // Not followed while it arrived (an archive this parser does not
        // know, or one so small its table of contents was never tried):
        // the whole archive, with its offsets where they can be written,
        // then one parallel restore.
        let mut patcher = patcher;
        if let Err(e) = recorder.patch(&mut patcher) {
            tracing::debug!("restoring without stages or data offsets: {e}");
        }
        let mut all = Stage {
            number: 0,
            child: None,
            stderr: None,
            list: None,
        };
        let mut args = s.args.to_vec();
        args.push(format!("--jobs={}", s.jobs));
        args.push(s.spool.display().to_string());
        let mut child = spawn(s.program, &args, s.env, Stdio::null(), Stdio::null())?;
        all.stderr = collect_restore_stderr(&mut child, s.tables_done.clone());
        all.child = Some(child);
        let warnings = all.wait(s.program, cancel)?;
        return Ok(StagedOutcome {
            spooled,
            warnings,
            spool_ms,
            loaders: 0,
        });
    };
    if let Some(e) = recorder.failure() {
        tracing::debug!("data blocks not followed to the end: {e}");
    }
    st.plan = Some(plan);
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(PipelineError::Cancelled);
        }
        st.poll()?;
        if !st.busy() {
            break;
        }
        std::thread::sleep(POLL);
    }
    let rest: Vec<i64> = match &st.plan {
        Some(plan) => {
            let pre: HashSet<i64> = plan.pre.iter().copied().collect();
            plan.all
                .iter()
                .copied()
                .filter(|id| !pre.contains(id) && !st.loaded.contains(id))
                .collect()
        }
        None => Vec::new(),
    };
    if !rest.is_empty() {
        let text = st.start(&rest, Some(s.jobs))?.wait(s.program, cancel)?;
        st.keep_warnings(text);
    }
    Ok(StagedOutcome {
        spooled,
        warnings: std::mem::take(&mut st.warnings),
        spool_ms,
        loaders: st.loader_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: i64, desc: &str, section: Section, has_data: bool) -> TocEntry {
        TocEntry {
            dump_id: id,
            desc: desc.into(),
            section,
            has_data,
        }
    }

    #[test]
    fn every_entry_is_in_one_stage_and_unsectioned_entries_follow_the_one_before() {
        let toc = vec![
            e(1, "ENCODING", Section::PreData, false),
            e(2, "SCHEMA", Section::PreData, false),
            e(3, "TABLE", Section::PreData, false),
            e(4, "COMMENT", Section::None, false),
            e(5, "TABLE DATA", Section::Data, true),
            e(6, "SEQUENCE SET", Section::Data, false),
            e(7, "BLOBS", Section::Data, true),
            e(8, "COMMENT", Section::None, false),
            e(9, "INDEX", Section::PostData, false),
            e(10, "ACL", Section::None, false),
        ];
        let plan = Plan::of(&toc);
        assert_eq!(plan.pre, vec![1, 2, 3, 4]);
        assert_eq!(plan.data, HashSet::from([5, 7]));
        assert_eq!(plan.all, (1..=10).collect::<Vec<_>>());
    }

    fn b(id: i64, len: u64) -> Block {
        Block {
            dump_id: id,
            start: 0,
            len,
        }
    }

    #[test]
    fn a_batch_is_the_largest_block_and_small_ones_up_to_the_budget() {
        let mut ready = vec![
            b(1, 10 << 20),
            b(2, 100 << 20),
            b(3, 1 << 20),
            b(4, 20 << 20),
            b(5, 2 << 20),
        ];
        // 100 MiB alone: nothing fits beside it.
        assert_eq!(take_batch(&mut ready), vec![2]);
        // 20 MiB, then 1 and 2 MiB (23 MiB); 10 more would exceed 32.
        assert_eq!(take_batch(&mut ready), vec![4, 3, 5]);
        assert_eq!(take_batch(&mut ready), vec![1]);
        assert!(ready.is_empty());
        // Many tiny blocks: capped by count.
        let mut tiny: Vec<Block> = (0..500).map(|i| b(i, 100)).collect();
        assert_eq!(take_batch(&mut tiny).len(), BATCH_MAX);
        assert_eq!(tiny.len(), 500 - BATCH_MAX);
    }
}
