//! The data offsets of a custom-format (`pg_dump -Fc`) archive.
//!
//! `pg_dump` writing to a file goes back at the end and records, in each
//! table-of-contents entry, where that entry's data block starts. Writing
//! to a pipe (as every backup here does) it cannot, so the entries say
//! "offset not set" and a parallel `pg_restore -j` has each worker scan
//! the archive from the start, block header after block header (one per
//! row, for uncompressed data), to find its table: on a 1 GB archive that
//! doubles the restore's CPU.
//!
//! [`OffsetRecorder`] watches the archive's bytes as they are spooled to a
//! file for a parallel restore: it parses the header and the table of
//! contents, then follows the data blocks (block type, dump id, chunk
//! lengths) without keeping them, and notes where each block starts.
//! [`OffsetRecorder::patch`] then writes those offsets into the spooled
//! file's table of contents, exactly as `pg_dump` does for a file, so the
//! spool restores as fast as an archive `pg_dump` wrote to disk.
//!
//! For a restore that runs while the archive is still arriving
//! (`staged_restore`), the recorder also hands out the table of contents
//! as soon as it is complete ([`OffsetRecorder::toc`]) and each data block
//! as soon as its last byte has passed ([`OffsetRecorder::take_completed`]),
//! with the bytes that record its offset ([`OffsetRecorder::offset_field`]).
//!
//! Safety first: offsets are written only when the whole archive parsed
//! consistently (a known archive version, every block belonging to a
//! table-of-contents entry that expects data, the stream ending on a block
//! boundary). Anything else leaves the spool untouched, which `pg_restore`
//! reads correctly, only more slowly. Memory is bounded: the header and
//! table of contents are buffered (capped at [`MAX_TOC_BYTES`]), the data
//! never.

use std::collections::HashMap;
use std::io::{self, Seek, SeekFrom, Write};

/// The largest table of contents buffered; beyond it, no offsets.
pub const MAX_TOC_BYTES: usize = 64 << 20;

/// Offset flag: the entry has data whose position is not recorded.
const OFFSET_NOT_SET: u8 = 1;
/// Offset flag: the position is recorded.
const OFFSET_SET: u8 = 2;
/// Block types.
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;

/// Why offsets could not be recorded or written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a custom-format archive")]
    NotCustom,
    #[error("archive version {0}.{1} is not one whose layout is known here")]
    UnknownVersion(u8, u8),
    #[error("the archive's table of contents is larger than {MAX_TOC_BYTES} bytes")]
    TocTooLarge,
    #[error("malformed archive: {0}")]
    Malformed(String),
    #[error("the archive ended before its table of contents did")]
    Truncated,
    #[error("could not write the offsets into the spooled archive: {0}")]
    Io(#[from] io::Error),
}

/// The section of the archive a table-of-contents entry belongs to, as
/// `pg_dump` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Comments, grants and the like: they belong where the entry before
    /// them belongs.
    None,
    PreData,
    Data,
    PostData,
}

impl Section {
    fn from_archive(v: i64) -> Option<Self> {
        Some(match v {
            1 => Section::None,
            2 => Section::PreData,
            3 => Section::Data,
            4 => Section::PostData,
            _ => return None,
        })
    }
}

/// The section each entry of `toc` is restored in, as `pg_restore
/// --section` decides: an entry without a section (a comment, a grant)
/// belongs to the section of the entry before it, and the first entries to
/// the pre-data section.
pub fn restore_sections(toc: &[TocEntry]) -> Vec<Section> {
    let mut current = Section::PreData;
    toc.iter()
        .map(|e| {
            if e.section != Section::None {
                current = e.section;
            }
            current
        })
        .collect()
}

/// One table-of-contents entry, in archive order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    pub dump_id: i64,
    /// The object kind: `TABLE`, `TABLE DATA`, `INDEX`, `BLOBS`, ...
    pub desc: String,
    pub section: Section,
    /// The entry has a data block in the archive.
    pub has_data: bool,
}

/// A data block whose last byte has been seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub dump_id: i64,
    /// Position of the block's first byte (its type byte).
    pub start: u64,
    /// Length of the block in bytes.
    pub len: u64,
}

/// One table-of-contents entry that has data.
#[derive(Debug, Clone, Copy)]
struct DataEntry {
    /// File position of the entry's offset flag byte.
    field_pos: u64,
}

/// The archive's header facts that the parser needs.
#[derive(Debug, Clone, Copy)]
struct Layout {
    int_size: usize,
    off_size: usize,
}

/// What follows in the data section.
#[derive(Debug, Clone, Copy)]
enum Step {
    BlockType,
    DumpId { blobs: bool },
    ChunkLen { blobs: bool },
    ChunkBody { left: u64, blobs: bool },
    BlobOid,
}

/// Parsed table of contents plus the data-section state machine.
struct Data {
    layout: Layout,
    toc: Vec<TocEntry>,
    entries: HashMap<i64, DataEntry>,
    found: HashMap<i64, u64>,
    /// The dump id of the block being read.
    current: i64,
    /// Blocks completed since the last [`OffsetRecorder::take_completed`].
    completed: Vec<Block>,
    step: Step,
    /// Bytes of the integer being read (sign byte first).
    int_buf: Vec<u8>,
    /// Position of the current block's type byte.
    block_start: u64,
}

enum Phase {
    Toc { buf: Vec<u8>, next_attempt: usize },
    Data(Box<Data>),
    Failed(ArchiveError),
}

/// Watches a custom-format archive's bytes (see the module docs).
pub struct OffsetRecorder {
    phase: Phase,
    pos: u64,
}

impl Default for OffsetRecorder {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`OffsetRecorder::patch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// Entries whose data offset was written.
    pub entries: usize,
}

impl OffsetRecorder {
    pub fn new() -> Self {
        OffsetRecorder {
            phase: Phase::Toc {
                buf: Vec::new(),
                next_attempt: 4096,
            },
            pos: 0,
        }
    }

    /// Follows the next bytes of the archive.
    pub fn feed(&mut self, bytes: &[u8]) {
        let start = self.pos;
        self.pos += bytes.len() as u64;
        match &mut self.phase {
            Phase::Failed(_) => {}
            Phase::Data(d) => {
                if let Err(e) = d.feed(bytes, start) {
                    self.phase = Phase::Failed(e);
                }
            }
            Phase::Toc { buf, next_attempt } => {
                buf.extend_from_slice(bytes);
                if buf.len() < *next_attempt {
                    return;
                }
                match after_toc(buf) {
                    None if buf.len() > MAX_TOC_BYTES => {
                        self.phase = Phase::Failed(ArchiveError::TocTooLarge);
                    }
                    None => *next_attempt = buf.len() * 2,
                    Some(next) => self.phase = next,
                }
            }
        }
    }

    /// The table of contents, once all of it has been fed; `None` before,
    /// and for an archive that cannot be followed.
    pub fn toc(&self) -> Option<&[TocEntry]> {
        match &self.phase {
            Phase::Data(d) => Some(&d.toc),
            _ => None,
        }
    }

    /// Why the archive cannot be followed, if it cannot.
    pub fn failure(&self) -> Option<&ArchiveError> {
        match &self.phase {
            Phase::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The data blocks whose last byte was fed since the previous call.
    pub fn take_completed(&mut self) -> Vec<Block> {
        match &mut self.phase {
            Phase::Data(d) => std::mem::take(&mut d.completed),
            _ => Vec::new(),
        }
    }

    /// Where in the archive the offset of `block` is recorded, and the bytes
    /// that record it (what [`OffsetRecorder::patch`] writes for it).
    pub fn offset_field(&self, block: &Block) -> Option<(u64, Vec<u8>)> {
        let Phase::Data(d) = &self.phase else {
            return None;
        };
        let entry = d.entries.get(&block.dump_id)?;
        Some((entry.field_pos, d.layout.offset_bytes(block.start)))
    }

    /// Writes the recorded offsets into `file`, the spooled archive that
    /// received exactly the bytes fed. Leaves the file untouched and says
    /// why when the archive did not parse consistently to its end.
    pub fn patch<F: Write + Seek>(mut self, file: &mut F) -> Result<Patched, ArchiveError> {
        if let Phase::Toc { buf, .. } = &self.phase {
            // A small archive: the last attempt may not have happened yet.
            self.phase = after_toc(buf).unwrap_or(Phase::Failed(ArchiveError::Truncated));
        }
        let d = match self.phase {
            Phase::Failed(e) => return Err(e),
            Phase::Toc { .. } => return Err(ArchiveError::Truncated),
            Phase::Data(d) => d,
        };
        if !matches!(d.step, Step::BlockType) || !d.int_buf.is_empty() {
            return Err(ArchiveError::Malformed(
                "the archive ends inside a data block".into(),
            ));
        }
        let mut written = 0;
        let mut found: Vec<(&i64, &u64)> = d.found.iter().collect();
        found.sort();
        for (id, block_pos) in found {
            let Some(entry) = d.entries.get(id) else {
                continue;
            };
            let field = d.layout.offset_bytes(*block_pos);
            file.seek(SeekFrom::Start(entry.field_pos))?;
            file.write_all(&field)?;
            written += 1;
        }
        file.flush()?;
        file.seek(SeekFrom::End(0))?;
        Ok(Patched { entries: written })
    }
}

impl Layout {
    /// The offset field of an entry whose block starts at `pos`: the flag
    /// "offset set", then the position least significant byte first.
    fn offset_bytes(&self, pos: u64) -> Vec<u8> {
        let mut field = Vec::with_capacity(1 + self.off_size);
        field.push(OFFSET_SET);
        let mut o = pos;
        for _ in 0..self.off_size {
            field.push((o & 0xff) as u8);
            o >>= 8;
        }
        field
    }
}

/// The phase after the table of contents in `buf` (header and table of
/// contents, then the first data bytes), or `None` when `buf` does not
/// hold all of the table of contents yet.
fn after_toc(buf: &[u8]) -> Option<Phase> {
    let Parsed {
        layout,
        toc,
        entries,
        end,
    } = match parse_toc(buf) {
        Ok(None) => return None,
        Ok(Some(toc)) => toc,
        Err(e) => return Some(Phase::Failed(e)),
    };
    let mut d = Box::new(Data {
        layout,
        toc,
        entries,
        found: HashMap::new(),
        current: 0,
        completed: Vec::new(),
        step: Step::BlockType,
        int_buf: Vec::with_capacity(9),
        block_start: 0,
    });
    Some(match d.feed(&buf[end..], end as u64) {
        Ok(()) => Phase::Data(d),
        Err(e) => Phase::Failed(e),
    })
}

impl Data {
    /// Reads one archive integer byte by byte; `Some(value)` when complete.
    fn int_byte(&mut self, b: u8) -> Option<i64> {
        self.int_buf.push(b);
        if self.int_buf.len() < 1 + self.layout.int_size {
            return None;
        }
        let v = int_value(&self.int_buf);
        self.int_buf.clear();
        Some(v)
    }

    fn feed(&mut self, bytes: &[u8], start: u64) -> Result<(), ArchiveError> {
        let mut i = 0;
        while i < bytes.len() {
            match self.step {
                Step::ChunkBody { left, blobs } => {
                    let take = (left as usize).min(bytes.len() - i);
                    i += take;
                    let left = left - take as u64;
                    self.step = if left == 0 {
                        Step::ChunkLen { blobs }
                    } else {
                        Step::ChunkBody { left, blobs }
                    };
                    continue;
                }
                Step::BlockType => {
                    self.block_start = start + i as u64;
                    self.step = match bytes[i] {
                        BLK_DATA => Step::DumpId { blobs: false },
                        BLK_BLOBS => Step::DumpId { blobs: true },
                        other => {
                            return Err(ArchiveError::Malformed(format!(
                                "unknown block type {other} at byte {}",
                                self.block_start
                            )));
                        }
                    };
                }
                Step::DumpId { blobs } => {
                    if let Some(id) = self.int_byte(bytes[i]) {
                        if !self.entries.contains_key(&id) {
                            return Err(ArchiveError::Malformed(format!(
                                "data block for dump id {id}, which the table of contents does not expect"
                            )));
                        }
                        self.current = id;
                        if self.found.insert(id, self.block_start).is_some() {
                            return Err(ArchiveError::Malformed(format!(
                                "two data blocks for dump id {id}"
                            )));
                        }
                        self.step = if blobs {
                            Step::BlobOid
                        } else {
                            Step::ChunkLen { blobs }
                        };
                    }
                }
                Step::ChunkLen { blobs } => {
                    if let Some(len) = self.int_byte(bytes[i]) {
                        self.step = match len {
                            0 if blobs => Step::BlobOid,
                            0 => {
                                self.complete_block(start + i as u64 + 1);
                                Step::BlockType
                            }
                            n if n > 0 => Step::ChunkBody {
                                left: n as u64,
                                blobs,
                            },
                            n => {
                                return Err(ArchiveError::Malformed(format!(
                                    "negative chunk length {n}"
                                )));
                            }
                        };
                    }
                }
                Step::BlobOid => {
                    if let Some(oid) = self.int_byte(bytes[i]) {
                        self.step = if oid == 0 {
                            self.complete_block(start + i as u64 + 1);
                            Step::BlockType
                        } else {
                            Step::ChunkLen { blobs: true }
                        };
                    }
                }
            }
            i += 1;
        }
        Ok(())
    }
}

impl Data {
    /// The current block ends just before `end`.
    fn complete_block(&mut self, end: u64) {
        self.completed.push(Block {
            dump_id: self.current,
            start: self.block_start,
            len: end - self.block_start,
        });
    }
}

/// Sign byte, then `int_size` bytes least significant first.
fn int_value(bytes: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for (k, b) in bytes[1..].iter().enumerate() {
        v |= i64::from(*b) << (8 * k);
    }
    if bytes[0] != 0 { -v } else { v }
}

/// A cursor over the buffered head of the archive; `None` from a read
/// means "not enough bytes yet".
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
    int_size: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        if self.buf.len() - self.at < n {
            return None;
        }
        self.at += n;
        Some(())
    }
    fn int(&mut self) -> Option<i64> {
        let n = 1 + self.int_size;
        if self.buf.len() - self.at < n {
            return None;
        }
        let v = int_value(&self.buf[self.at..self.at + n]);
        self.at += n;
        Some(v)
    }
    /// A string; `Some(None)` for the archive's NULL (length -1).
    fn string(&mut self) -> Option<Option<&[u8]>> {
        let len = self.int()?;
        if len < 0 {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        if self.buf.len() - self.at < len {
            return None;
        }
        let s = &self.buf[self.at..self.at + len];
        self.at += len;
        Some(Some(s))
    }
}

/// A parsed header and table of contents.
struct Parsed {
    layout: Layout,
    toc: Vec<TocEntry>,
    /// The entries that have data, by dump id.
    entries: HashMap<i64, DataEntry>,
    /// Where the table of contents ends.
    end: usize,
}

/// Parses the header and table of contents; `Ok(None)` when `buf` does
/// not hold all of them yet.
fn parse_toc(buf: &[u8]) -> Result<Option<Parsed>, ArchiveError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    if &buf[..5] != b"PGDMP" {
        return Err(ArchiveError::NotCustom);
    }
    let mut c = Cursor {
        buf,
        at: 5,
        int_size: 4,
    };
    parse_after_magic(&mut c)
}

fn parse_after_magic(c: &mut Cursor<'_>) -> Result<Option<Parsed>, ArchiveError> {
    macro_rules! need {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return Ok(None),
            }
        };
    }
    let (vmaj, vmin, _vrev) = (need!(c.byte()), need!(c.byte()), need!(c.byte()));
    // Layouts known here: 1.12 (PostgreSQL 9.x–11) to 1.16 (PostgreSQL 17+).
    if vmaj != 1 || !(12..=16).contains(&vmin) {
        return Err(ArchiveError::UnknownVersion(vmaj, vmin));
    }
    let int_size = need!(c.byte()) as usize;
    let off_size = need!(c.byte()) as usize;
    if !(1..=8).contains(&int_size) || !(1..=8).contains(&off_size) {
        return Err(ArchiveError::Malformed(format!(
            "integer size {int_size}, offset size {off_size}"
        )));
    }
    c.int_size = int_size;
    let format = need!(c.byte());
    if format != 1 {
        return Err(ArchiveError::NotCustom);
    }
    if vmin >= 15 {
        need!(c.byte()); // compression algorithm
    } else {
        need!(c.int()); // compression level
    }
    for _ in 0..7 {
        need!(c.int()); // creation time: sec, min, hour, mday, mon, year, isdst
    }
    need!(c.string()); // database name
    need!(c.string()); // server version
    need!(c.string()); // pg_dump version
    let count = need!(c.int());
    if count < 0 {
        return Err(ArchiveError::Malformed(format!(
            "table of contents with {count} entries"
        )));
    }
    let mut entries = HashMap::new();
    let mut toc = Vec::new();
    for _ in 0..count {
        let dump_id = need!(c.int());
        need!(c.int()); // had dumper
        for _ in 0..2 {
            need!(c.string()); // table oid, oid
        }
        need!(c.string()); // tag
        let desc = String::from_utf8_lossy(need!(c.string()).unwrap_or_default()).into_owned();
        let section_value = need!(c.int());
        let section = Section::from_archive(section_value).ok_or_else(|| {
            ArchiveError::Malformed(format!(
                "entry {dump_id} has section {section_value}, which is not one pg_dump writes"
            ))
        })?;
        for _ in 0..4 {
            need!(c.string()); // defn, drop statement, copy statement, namespace
        }
        need!(c.string()); // tablespace
        if vmin >= 14 {
            need!(c.string()); // table access method
        }
        if vmin >= 16 {
            need!(c.int()); // relkind
        }
        need!(c.string()); // owner
        need!(c.string()); // "false": with oids
        // The dependencies' dump ids, up to a NULL.
        while need!(c.string()).is_some() {}
        let field_pos = c.at as u64;
        let flag = need!(c.byte());
        need!(c.skip(off_size));
        let has_data = flag == OFFSET_NOT_SET || flag == OFFSET_SET;
        if has_data {
            entries.insert(dump_id, DataEntry { field_pos });
        }
        toc.push(TocEntry {
            dump_id,
            desc,
            section,
            has_data,
        });
    }
    Ok(Some(Parsed {
        layout: Layout { int_size, off_size },
        toc,
        entries,
        end: c.at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny archive written by hand in the layout of version 1.14.
    fn int(v: i64) -> Vec<u8> {
        let mut out = vec![u8::from(v < 0)];
        let a = v.unsigned_abs();
        for k in 0..4 {
            out.push(((a >> (8 * k)) & 0xff) as u8);
        }
        out
    }
    fn string(s: Option<&str>) -> Vec<u8> {
        match s {
            None => int(-1),
            Some(s) => {
                let mut out = int(s.len() as i64);
                out.extend_from_slice(s.as_bytes());
                out
            }
        }
    }
    fn entry(id: i64, has_data: bool) -> Vec<u8> {
        let mut out = int(id);
        out.extend(int(i64::from(has_data)));
        for s in [Some("0"), Some("0"), Some("t"), Some("TABLE DATA")] {
            out.extend(string(s));
        }
        out.extend(int(3));
        for _ in 0..5 {
            out.extend(string(Some("")));
        }
        out.extend(string(Some("heap")));
        out.extend(string(Some("postgres")));
        out.extend(string(Some("false")));
        out.extend(string(Some("1")));
        out.extend(string(None));
        out.push(if has_data { OFFSET_NOT_SET } else { 3 });
        out.extend([0u8; 8]);
        out
    }
    fn archive() -> (Vec<u8>, Vec<u64>) {
        let mut a = b"PGDMP".to_vec();
        a.extend([1, 14, 0, 4, 8, 1]);
        a.extend(int(0));
        for _ in 0..7 {
            a.extend(int(1));
        }
        for s in ["db", "15.1", "15.1"] {
            a.extend(string(Some(s)));
        }
        a.extend(int(3));
        a.extend(entry(7, true));
        a.extend(entry(8, false));
        a.extend(entry(9, true));
        let mut starts = Vec::new();
        // Data block for 9 first, then 7 (order need not follow the TOC).
        for id in [9, 7] {
            starts.push(a.len() as u64);
            a.push(BLK_DATA);
            a.extend(int(id));
            for row in ["1\tone\n", "2\ttwo\n"] {
                a.extend(int(row.len() as i64));
                a.extend_from_slice(row.as_bytes());
            }
            a.extend(int(0));
        }
        (a, starts)
    }

    fn field_of(a: &[u8], id: i64) -> (u8, u64) {
        let p = parse_toc(a).unwrap().unwrap().entries[&id].field_pos as usize;
        let mut o = 0u64;
        for k in 0..8 {
            o |= u64::from(a[p + 1 + k]) << (8 * k);
        }
        (a[p], o)
    }

    #[test]
    fn offsets_are_written_for_every_data_block_whatever_the_feed_sizes() {
        let (a, starts) = archive();
        for piece in [1, 2, 3, 7, 64, a.len()] {
            let mut rec = OffsetRecorder::new();
            for chunk in a.chunks(piece) {
                rec.feed(chunk);
            }
            let mut file = io::Cursor::new(a.clone());
            let patched = rec.patch(&mut file).unwrap();
            assert_eq!(patched.entries, 2, "piece {piece}");
            let out = file.into_inner();
            assert_eq!(out.len(), a.len());
            assert_eq!(field_of(&out, 9), (OFFSET_SET, starts[0]));
            assert_eq!(field_of(&out, 7), (OFFSET_SET, starts[1]));
            // Entry 8 has no data and keeps its flag.
            assert!(!parse_toc(&a).unwrap().unwrap().entries.contains_key(&8));
        }
    }

    #[test]
    fn a_truncated_or_inconsistent_archive_is_left_untouched() {
        let (a, _) = archive();
        // Ends inside a data block.
        let mut rec = OffsetRecorder::new();
        rec.feed(&a[..a.len() - 3]);
        let mut file = io::Cursor::new(a[..a.len() - 3].to_vec());
        assert!(matches!(
            rec.patch(&mut file),
            Err(ArchiveError::Malformed(_))
        ));
        assert_eq!(file.into_inner(), a[..a.len() - 3].to_vec());
        // A block for an id the TOC does not expect.
        let mut bad = a.clone();
        bad.push(BLK_DATA);
        bad.extend(int(8));
        bad.extend(int(0));
        let mut rec = OffsetRecorder::new();
        rec.feed(&bad);
        let err = rec.patch(&mut io::Cursor::new(bad.clone())).unwrap_err();
        assert!(err.to_string().contains("dump id 8"), "{err}");
        // Not an archive at all, and an unknown version.
        let mut rec = OffsetRecorder::new();
        rec.feed(b"-- plain SQL\nSELECT 1;\n");
        assert!(matches!(
            rec.patch(&mut io::Cursor::new(Vec::new())),
            Err(ArchiveError::NotCustom)
        ));
        let mut future = a.clone();
        future[6] = 99;
        let mut rec = OffsetRecorder::new();
        rec.feed(&future);
        assert!(matches!(
            rec.patch(&mut io::Cursor::new(Vec::new())),
            Err(ArchiveError::UnknownVersion(1, 99))
        ));
    }

    #[test]
    fn integers_read_sign_and_little_endian_bytes() {
        assert_eq!(int_value(&[0, 1, 1, 0, 0]), 257);
        assert_eq!(int_value(&[1, 5, 0, 0, 0]), -5);
        assert_eq!(int_value(&int(123_456)), 123_456);
    }
}
