//! Local migration files in the Supabase CLI's layout:
//! `<dir>/<version>_<name>.sql`, where the version is ASCII digits (the CLI
//! writes a UTC timestamp `YYYYMMDDHHMMSS`). The CLI reads only the top
//! level of the directory, treats every file matching
//! `^([0-9]+)_(.*)\.sql$` as a migration and runs all of it, so what this
//! module adds stays inert for the CLI:
//!
//! - a down migration is a trailing block comment opened by a line
//!   `/* migrate:down` and closed by a line `*/` (checked to be exactly one
//!   balanced PostgreSQL comment), or a companion file
//!   `<dir>/down/<version>_<name>.sql` (the CLI does not read
//!   subdirectories);
//! - dependencies are header comment lines `-- requires: <version>, ...`;
//! - temporary files are named `.<file>.<pid>.<n>.tmp`, which the CLI's
//!   pattern does not match.
//!
//! Also owned here: the statements the history table records (split the
//! way psql splits a script, with PostgreSQL's own scanner), the checksum
//! that says whether a file changed since it was applied (blind to
//! comments, whitespace and statement splitting), version and name rules,
//! and writing new files atomically without ever replacing one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pg_query::protobuf::{KeywordKind, ScanToken, Token};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The line that opens a down block.
const DOWN_OPEN: &str = "/* migrate:down";
/// The line that closes it.
const DOWN_CLOSE: &str = "*/";
/// The subdirectory holding companion down files.
const DOWN_DIR: &str = "down";
/// Longest accepted version.
const MAX_VERSION_LEN: usize = 32;
/// Longest accepted (sanitized) name.
const MAX_NAME_LEN: usize = 100;

/// What can go wrong with local migration files.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(
        "the migrations directory {path} does not exist, so there are no local migrations yet; create one with create_migration"
    )]
    DirMissing { path: String },
    #[error(
        "cannot list the migrations directory {path}: {message}; check that it is a directory this server may read"
    )]
    ReadDir { path: String, message: String },
    #[error("cannot read {path}: {message}; check that the file exists and may be read")]
    Read { path: String, message: String },
    #[error(
        "{path} is not UTF-8 text (invalid byte at offset {offset}); save it with UTF-8 encoding"
    )]
    NotUtf8 { path: String, offset: usize },
    #[error(
        "cannot write {path}: {message}; check that the directory is writable and the disk is not full"
    )]
    Write { path: String, message: String },
    #[error(
        "two migration files have version {version}: {first} and {second}; the Supabase CLI needs versions to be unique, so rename one of them to a new version"
    )]
    Duplicate {
        version: String,
        first: String,
        second: String,
    },
    #[error("{path}: {problem}")]
    DownBlock { path: String, problem: String },
    #[error(
        "{path}: the header line `-- requires:` names `{value}`, which is not a version (1 to 32 ASCII digits); list versions such as 20240101000000 separated by commas or spaces, or reword the comment"
    )]
    Requires { path: String, value: String },
    #[error("{what} does not scan at line {line}, column {column}: {message}; {hint}")]
    Scan {
        what: String,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    },
    #[error(
        "invalid version `{0}`: a version is 1 to 32 ASCII digits (the CLI writes a UTC timestamp such as 20240101120000); pass one like that, or omit it to use the current time"
    )]
    Version(String),
    #[error("invalid migration name `{given}`: {problem}; try `{suggestion}`")]
    Name {
        given: String,
        problem: String,
        suggestion: String,
    },
    #[error(
        "a migration file with version {version} already exists: {path}; choose another version (or omit it to use the current time)"
    )]
    Exists { version: String, path: String },
    #[error(
        "the down migration cannot go in a comment block: {problem}; pass it as a separate file instead (down_style `file`)"
    )]
    DownNotInert { problem: String },
    #[error(
        "line {line} of the up SQL is `/* migrate:down`, which would be read as the start of the file's down block; pass the down migration separately in `down` instead"
    )]
    UpHasDownMarker { line: usize },
}

/// One local migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationFile {
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    /// The SQL that applies the migration: the whole file minus a trailing
    /// down block.
    pub up: String,
    /// The SQL that reverts it, if any: the trailing down block of the
    /// file, else the companion file `down/<version>_<name>.sql` in the
    /// migrations directory.
    pub down: Option<String>,
    /// Versions this migration needs applied first, from header lines
    /// `-- requires: 20240101000000, 20240102000000` (comments before the
    /// first statement).
    pub requires: Vec<String>,
    /// [`checksum_sql`] of `up`.
    pub checksum: String,
}

/// Where a new file's down migration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownStyle {
    /// A trailing down block in the file.
    Block,
    /// A companion file `down/<version>_<name>.sql`.
    File,
}

// ---------------------------------------------------------------------------
// Directory listing
// ---------------------------------------------------------------------------

/// `(version, name)` of a file name matching the CLI's pattern
/// `^([0-9]+)_(.*)\.sql$` (Go's `.` does not match a newline).
fn split_name(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.strip_suffix(".sql")?;
    let (version, name) = stem.split_once('_')?;
    let digits = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
    (digits && !name.contains('\n')).then_some((version, name))
}

/// Numeric order of digit strings: by length, then lexically.
pub fn version_key(v: &str) -> (usize, &str) {
    (v.len(), v)
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// A top-level migration file found in a directory.
struct Entry {
    version: String,
    name: String,
    path: PathBuf,
}

/// The migration files directly in `dir` (unsorted) and the names of the
/// other files; subdirectories are skipped.
fn list(dir: &Path) -> Result<(Vec<Entry>, Vec<String>), FilesError> {
    let read_dir_error = |e: std::io::Error| FilesError::ReadDir {
        path: shown(dir),
        message: e.to_string(),
    };
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FilesError::DirMissing { path: shown(dir) });
        }
        Err(e) => return Err(read_dir_error(e)),
    };
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_dir_error)?;
        let path = entry.path();
        // Follows symbolic links, so a link to a directory is skipped too.
        if path.is_dir() {
            continue;
        }
        let file_name = entry.file_name().to_string_lossy().into_owned();
        match split_name(&file_name) {
            Some((version, name)) => found.push(Entry {
                version: version.to_owned(),
                name: name.to_owned(),
                path,
            }),
            None => ignored.push(file_name),
        }
    }
    Ok((found, ignored))
}

fn read_text(path: &Path) -> Result<String, FilesError> {
    let bytes = fs::read(path).map_err(|e| FilesError::Read {
        path: shown(path),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|e| FilesError::NotUtf8 {
        path: shown(path),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Every migration file in `dir`, sorted by version (numerically: "9"
/// before "10"), and the names of the top-level files that are not
/// migrations (sorted) so callers can warn about them. Subdirectories
/// (like `down/`) are skipped.
pub fn scan_dir(dir: &Path) -> Result<(Vec<MigrationFile>, Vec<String>), FilesError> {
    let (mut found, mut ignored) = list(dir)?;
    found.sort_by(|a, b| {
        version_key(&a.version)
            .cmp(&version_key(&b.version))
            .then_with(|| a.path.cmp(&b.path))
    });
    for pair in found.windows(2) {
        if let [a, b] = pair
            && a.version == b.version
        {
            return Err(FilesError::Duplicate {
                version: a.version.clone(),
                first: shown(&a.path),
                second: shown(&b.path),
            });
        }
    }
    ignored.sort();
    let mut out = Vec::with_capacity(found.len());
    for e in found {
        let text = read_text(&e.path)?;
        let companion = dir
            .join(DOWN_DIR)
            .join(format!("{}_{}.sql", e.version, e.name));
        let down = if companion.is_file() {
            Some(read_text(&companion)?.trim().to_owned()).filter(|d| !d.is_empty())
        } else {
            None
        };
        out.push(parse_text(&e.version, &e.name, &e.path, &text, down)?);
    }
    Ok((out, ignored))
}

// ---------------------------------------------------------------------------
// Parsing one file
// ---------------------------------------------------------------------------

/// Parses one migration's text (a file's, or inline SQL): splits off a
/// trailing down block (else uses `companion_down`), reads the
/// `-- requires:` header and computes the checksum.
pub fn parse_text(
    version: &str,
    name: &str,
    path: &Path,
    text: &str,
    companion_down: Option<String>,
) -> Result<MigrationFile, FilesError> {
    let (up, block) = split_down(text).map_err(|problem| FilesError::DownBlock {
        path: shown(path),
        problem,
    })?;
    let requires = header_requires(&up).map_err(|value| FilesError::Requires {
        path: shown(path),
        value,
    })?;
    Ok(MigrationFile {
        version: version.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        requires,
        checksum: checksum_sql(&up),
        down: block.or(companion_down),
        up,
    })
}

/// Where the down block's lines are in a text.
struct DownLines {
    /// Start of the `/* migrate:down` line.
    open_start: usize,
    /// Just after that line (after its newline).
    body_start: usize,
    /// Start of the last `*/` line.
    close_start: usize,
    /// Just after that line.
    close_end: usize,
}

/// Finds the down block's lines; `Ok(None)` when there is none.
fn find_down(text: &str) -> Result<Option<DownLines>, String> {
    let mut offset = 0;
    let mut open: Option<(usize, usize)> = None;
    let mut close: Option<(usize, usize)> = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t == DOWN_OPEN {
            if open.is_some() {
                return Err("the file has more than one `/* migrate:down` line; keep only the one that opens the down block at the end of the file".into());
            }
            open = Some((offset, offset + line.len()));
        } else if t == DOWN_CLOSE && open.is_some() {
            close = Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    let Some((open_start, body_start)) = open else {
        return Ok(None);
    };
    let Some((close_start, close_end)) = close else {
        return Err("the down block opened by `/* migrate:down` is not closed: add a line `*/` at the end of the file".into());
    };
    Ok(Some(DownLines {
        open_start,
        body_start,
        close_start,
        close_end,
    }))
}

/// The text before a down block (trailing whitespace trimmed, one newline
/// kept), and the block's SQL (trimmed; `None` when empty).
fn split_down(text: &str) -> Result<(String, Option<String>), String> {
    let Some(d) = find_down(text)? else {
        return Ok((text.to_owned(), None));
    };
    let after = &text[d.close_end..];
    if !after.trim().is_empty() {
        return Err("there is text after the down block's closing `*/` line; the down block must end the file, so move that text above the `/* migrate:down` line".into());
    }
    let block = text[d.open_start..d.close_end].trim();
    if let Err(why) = is_one_comment(block) {
        return Err(format!(
            "the down block is not one balanced comment ({why}), so the Supabase CLI, which runs the whole file, would run part of it or fail; balance the `/*` and `*/` in the down SQL, or move it to the companion file {DOWN_DIR}/<this file's name>"
        ));
    }
    let before = text[..d.open_start].trim_end();
    let up = if before.is_empty() {
        String::new()
    } else {
        format!("{before}\n")
    };
    let down = text[d.body_start..d.close_start].trim();
    Ok((up, (!down.is_empty()).then(|| down.to_owned())))
}

/// Whether `block` is exactly one PostgreSQL block comment (they nest).
fn is_one_comment(block: &str) -> Result<(), String> {
    let tokens = scan(block).map_err(|e| match e {
        ScanFailure::Nul(_) => "it contains a NUL byte".to_owned(),
        ScanFailure::Scanner(m) => format!("scanning it fails: {m}"),
    })?;
    match tokens.as_slice() {
        [t] if t.token == Token::CComment as i32
            && t.start == 0
            && usize::try_from(t.end).ok() == Some(block.len()) =>
        {
            Ok(())
        }
        _ => Err("a `*/` ends the comment before its last line".into()),
    }
}

/// Versions named by `-- requires:` comments before the first statement;
/// `Err` with the first entry that is not a version.
fn header_requires(up: &str) -> Result<Vec<String>, String> {
    let mut lists: Vec<&str> = Vec::new();
    match scan(up) {
        Ok(tokens) => {
            for t in &tokens {
                if t.token == Token::SqlComment as i32 {
                    if let Some(text) = token_text(up, t) {
                        lists.extend(requires_list(text));
                    }
                } else if t.token != Token::CComment as i32 {
                    break;
                }
            }
        }
        // Text that does not scan: read the leading `--` lines.
        Err(_) => {
            for line in up.lines() {
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                if !t.starts_with("--") {
                    break;
                }
                lists.extend(requires_list(t));
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for list in lists {
        for v in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|v| !v.is_empty())
        {
            if check_version(v).is_err() {
                return Err(v.to_owned());
            }
            if !out.iter().any(|o| o == v) {
                out.push(v.to_owned());
            }
        }
    }
    Ok(out)
}

/// The list after `-- requires:` in a line comment, if it is one.
fn requires_list(comment: &str) -> Option<&str> {
    let body = comment.strip_prefix("--")?.trim_start();
    let key = "requires:";
    let head = body.get(..key.len())?;
    head.eq_ignore_ascii_case(key).then(|| &body[key.len()..])
}

// ---------------------------------------------------------------------------
// Scanning, statements and checksums
// ---------------------------------------------------------------------------

enum ScanFailure {
    /// Byte offset of a NUL, which PostgreSQL never accepts.
    Nul(usize),
    /// The scanner's message.
    Scanner(String),
}

/// PostgreSQL's scanner tokens of `sql`, comments included.
fn scan(sql: &str) -> Result<Vec<ScanToken>, ScanFailure> {
    if let Some(p) = sql.find('\0') {
        return Err(ScanFailure::Nul(p));
    }
    // Not `pg_query::scan_tokens`: it builds a slice from a null pointer
    // when there are no tokens.
    pg_query::scan(sql).map(|r| r.tokens).map_err(|e| match e {
        pg_query::Error::Scan(m) => ScanFailure::Scanner(m),
        other => ScanFailure::Scanner(other.to_string()),
    })
}

fn token_text<'a>(sql: &'a str, t: &ScanToken) -> Option<&'a str> {
    let start = usize::try_from(t.start).ok()?;
    let end = usize::try_from(t.end).ok()?;
    sql.get(start..end)
}

fn is_comment(t: &ScanToken) -> bool {
    t.token == Token::SqlComment as i32 || t.token == Token::CComment as i32
}

fn scan_error(what: &str, sql: &str, failure: ScanFailure) -> FilesError {
    match failure {
        ScanFailure::Nul(p) => {
            let (line, column) = crate::sql::syntax::line_column(sql, p);
            FilesError::Scan {
                what: what.to_owned(),
                line,
                column,
                message: "a NUL byte".into(),
                hint: "PostgreSQL does not accept NUL bytes in SQL text; remove it".into(),
            }
        }
        ScanFailure::Scanner(message) => {
            let d = crate::sql::syntax::diagnose(sql, &message);
            FilesError::Scan {
                what: what.to_owned(),
                line: d.line,
                column: d.column,
                message: d.message,
                hint: d.suggestion.unwrap_or_else(|| {
                    "check for an unterminated quote, dollar quote or comment".into()
                }),
            }
        }
    }
}

/// PostgreSQL's whitespace (`[ \t\n\r\f\v]`): other Unicode spaces are
/// identifier characters to its scanner, so they must not be trimmed.
fn pg_trim(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}' | '\u{b}'))
}

/// psql's statement boundaries: a `;` ends a statement unless it is inside
/// parentheses or inside the `BEGIN ... END` body of
/// `CREATE [OR REPLACE] {FUNCTION|PROCEDURE}` (the heuristic of psql's
/// lexer, `psqlscan.l`).
#[derive(Default)]
struct Splitter {
    parens: usize,
    begins: usize,
    words: usize,
    /// First letters of create/or/replace/function/procedure among the
    /// statement's first four words (0 for other words).
    leading: [u8; 4],
}

impl Splitter {
    /// Whether the token ends the statement.
    fn feed(&mut self, sql: &str, t: &ScanToken) -> bool {
        if t.token == Token::Ascii59 as i32 {
            if self.parens == 0 && self.begins == 0 {
                *self = Splitter::default();
                return true;
            }
            return false;
        }
        if t.token == Token::Ascii40 as i32 {
            self.parens += 1;
            return false;
        }
        if t.token == Token::Ascii41 as i32 {
            self.parens = self.parens.saturating_sub(1);
            return false;
        }
        let Some(text) = token_text(sql, t) else {
            return false;
        };
        let word = t.keyword_kind != KeywordKind::NoKeyword as i32
            || (t.token == Token::Ident as i32 && !text.starts_with('"'));
        if !word {
            return false;
        }
        let lower = text.to_ascii_lowercase();
        if self.words < self.leading.len()
            && matches!(
                lower.as_str(),
                "create" | "or" | "replace" | "function" | "procedure"
            )
        {
            self.leading[self.words] = lower.bytes().next().unwrap_or(0);
        }
        self.words += 1;
        let l = self.leading;
        let routine = l[0] == b'c'
            && (l[1] == b'f'
                || l[1] == b'p'
                || (l[1] == b'o' && l[2] == b'r' && (l[3] == b'f' || l[3] == b'p')));
        if routine && self.parens == 0 {
            match lower.as_str() {
                "begin" => self.begins += 1,
                "case" if self.begins > 0 => self.begins += 1,
                "end" => self.begins = self.begins.saturating_sub(1),
                _ => {}
            }
        }
        false
    }
}

/// The statements of `sql`, as the history table records them: split with
/// PostgreSQL's scanner where psql would split the script (at `;` outside
/// parentheses and `BEGIN ATOMIC ... END` bodies), each trimmed, without
/// its terminating `;`; statements that are only comments are dropped.
/// Nothing else is dropped. A scanner error (e.g. an unterminated quote)
/// is an error with the line and column.
pub fn split_statements(sql: &str) -> Result<Vec<String>, FilesError> {
    let tokens = scan(sql).map_err(|f| scan_error("the SQL", sql, f))?;
    let mut out = Vec::new();
    let mut splitter = Splitter::default();
    let mut start = 0usize;
    let mut has_code = false;
    let mut push = |piece: &str, has_code: bool| {
        let piece = pg_trim(piece);
        if has_code && !piece.is_empty() {
            out.push(piece.to_owned());
        }
    };
    for t in &tokens {
        if is_comment(t) {
            continue;
        }
        if splitter.feed(sql, t) {
            let end = usize::try_from(t.start).unwrap_or(start).max(start);
            push(sql.get(start..end).unwrap_or(""), has_code);
            start = usize::try_from(t.end).unwrap_or(end).max(end);
            has_code = false;
        } else {
            has_code = true;
        }
    }
    push(sql.get(start..).unwrap_or(""), has_code);
    Ok(out)
}

/// The texts of the scanner's tokens, comments and `;` left out; `None`
/// when the text does not scan.
fn code_tokens(sql: &str) -> Option<Vec<&str>> {
    let scanned = scan(sql).ok()?;
    let mut out = Vec::with_capacity(scanned.len());
    for t in &scanned {
        if is_comment(t) || t.token == Token::Ascii59 as i32 {
            continue;
        }
        out.push(token_text(sql, t)?);
    }
    Some(out)
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A checksum that ignores comments, whitespace and how the text is split
/// into statements: SHA-256 (hex) of the texts of the scanner's tokens,
/// comments and `;` excluded, joined by single spaces. Text that does not
/// scan is hashed as it is.
pub fn checksum_sql(sql: &str) -> String {
    match code_tokens(sql) {
        Some(t) => digest(&t),
        None => digest(&[sql]),
    }
}

/// [`checksum_sql`] of recorded statements (e.g. the history table's):
/// `checksum_sql(s) == checksum_statements(&split_statements(s)?)`.
pub fn checksum_statements(statements: &[String]) -> String {
    // The newline ends a trailing `--` comment of a statement; `;` and
    // whitespace do not count in the checksum.
    let joined = statements
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";\n");
    checksum_sql(&joined)
}

// ---------------------------------------------------------------------------
// Versions and names
// ---------------------------------------------------------------------------

/// A new version from a time: `YYYYMMDDHHMMSS` in UTC.
pub fn new_version(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%d%H%M%S").to_string()
}

/// Checks a caller-given version: non-empty ASCII digits, at most 32.
pub fn check_version(v: &str) -> Result<(), FilesError> {
    if v.is_empty() || v.len() > MAX_VERSION_LEN || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FilesError::Version(v.to_owned()));
    }
    Ok(())
}

/// A migration name made safe for a file name: lowercase; runs of
/// characters other than `[a-z0-9]` become one `_`; trimmed of `_`; 1 to
/// 100 characters.
pub fn sanitize_name(name: &str) -> Result<String, FilesError> {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if out.is_empty() {
        return Err(FilesError::Name {
            given: name.to_owned(),
            problem: "it has no ASCII letters or digits".into(),
            suggestion: "add_profiles_table".into(),
        });
    }
    if out.len() > MAX_NAME_LEN {
        // `out` is ASCII, so any byte index is a character boundary.
        let short = out
            .get(..MAX_NAME_LEN)
            .unwrap_or("")
            .trim_end_matches('_')
            .to_owned();
        return Err(FilesError::Name {
            given: name.to_owned(),
            problem: format!(
                "it is {} characters long after making it safe, more than {MAX_NAME_LEN}",
                out.len()
            ),
            suggestion: short,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn write_error(path: &Path, e: &std::io::Error) -> FilesError {
    FilesError::Write {
        path: shown(path),
        message: e.to_string(),
    }
}

/// Creates `dir` and its missing parents; returns the ones it created,
/// deepest first, so a failure can remove them again.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, FilesError> {
    let mut missing = Vec::new();
    let mut p = Some(dir);
    while let Some(d) = p {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_owned());
        p = d.parent();
    }
    fs::create_dir_all(dir).map_err(|e| write_error(dir, &e))?;
    Ok(missing)
}

fn remove_dirs(dirs: &[PathBuf]) {
    for d in dirs {
        // Only empty directories go; anything else was not ours.
        let _ = fs::remove_dir(d);
    }
}

/// Writes `text` to `path` through a temporary file in the same directory
/// whose name the CLI ignores, fsynced, then linked into place without
/// ever replacing an existing file. Nothing is left on error.
fn write_atomic(path: &Path, version: &str, text: &str) -> Result<(), FilesError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0;
    let (temp, mut f) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{file}.{}.{n}.tmp", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(f) => break (temp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => return Err(write_error(&temp, &e)),
        }
    };
    let result = (|| {
        f.write_all(text.as_bytes())
            .map_err(|e| write_error(&temp, &e))?;
        f.sync_all().map_err(|e| write_error(&temp, &e))?;
        drop(f);
        let exists = || FilesError::Exists {
            version: version.to_owned(),
            path: shown(path),
        };
        // A hard link never replaces an existing file.
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
            // A file system without hard links: rename after a check (a
            // rename would replace a file created since).
            Err(_) if path.exists() => Err(exists()),
            Err(_) => fs::rename(&temp, path).map_err(|e| write_error(path, &e)),
        }
    })();
    // After a link, the temporary name goes; after a rename or a failure,
    // this removes what is left, if anything.
    let _ = fs::remove_file(&temp);
    if result.is_ok() {
        // Make the new directory entry durable too (best effort).
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    result
}

/// A line of `text` that is the down block's opening line, 1-based.
fn marker_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim() == DOWN_OPEN)
        .map(|i| i + 1)
}

/// The first existing file in `dir` (not recursing) with `version`.
fn existing_version(dir: &Path, version: &str) -> Result<Option<PathBuf>, FilesError> {
    match list(dir) {
        Ok((found, _)) => Ok(found
            .into_iter()
            .find(|e| e.version == version)
            .map(|e| e.path)),
        Err(FilesError::DirMissing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes a new migration file `<dir>/<version>_<name>.sql` (creating
/// `dir` if needed) with `up` and, if given, `down` in the chosen style;
/// returns the path of the up file. The name is passed through
/// [`sanitize_name`]. Refuses a version that any existing file (or
/// companion down file) already has, a down migration that would not stay
/// a comment in [`DownStyle::Block`], a `/* migrate:down` line in `up`, and
/// SQL that does not scan. Atomic, never replaces a file, and leaves
/// nothing behind on error.
pub fn write_new(
    dir: &Path,
    version: &str,
    name: &str,
    up: &str,
    down: Option<&str>,
    style: DownStyle,
) -> Result<PathBuf, FilesError> {
    check_version(version)?;
    let name = sanitize_name(name)?;
    let down = down.map(str::trim).filter(|d| !d.is_empty());

    // Everything that can be checked before touching the disk.
    if let Some(line) = marker_line(up) {
        return Err(FilesError::UpHasDownMarker { line });
    }
    scan(up).map_err(|f| scan_error("the up SQL", up, f))?;
    let mut text = format!("-- {name}\n");
    let body = up.trim_end();
    if !body.is_empty() {
        text.push_str(body);
        text.push('\n');
    }
    if let Some(d) = down {
        if style == DownStyle::File {
            scan(d).map_err(|f| scan_error("the down SQL", d, f))?;
        } else {
            if marker_line(d).is_some() {
                return Err(FilesError::DownNotInert {
                    problem: "it contains a `/* migrate:down` line, which would make the file have two down blocks".into(),
                });
            }
            let block = format!("{DOWN_OPEN}\n{d}\n{DOWN_CLOSE}");
            is_one_comment(&block).map_err(|_| FilesError::DownNotInert {
                problem: "it has an unbalanced `*/` or `/*` (perhaps inside a string or a `--` comment, which a block comment does not see), so the comment would end early and the Supabase CLI would run the rest".into(),
            })?;
            scan(d).map_err(|f| scan_error("the down SQL", d, f))?;
            text.push('\n');
            text.push_str(&block);
            text.push('\n');
        }
    }
    // The file as the CLI will read it: up, then one inert comment.
    scan(&text).map_err(|f| scan_error("the migration file", &text, f))?;

    let file = format!("{version}_{name}.sql");
    let path = dir.join(&file);
    let down_dir = dir.join(DOWN_DIR);
    let created = create_dirs(dir)?;
    let fail = |e: FilesError, extra: &[PathBuf]| {
        remove_dirs(extra);
        remove_dirs(&created);
        e
    };
    for d in [dir, down_dir.as_path()] {
        match existing_version(d, version) {
            Ok(Some(p)) => {
                return Err(fail(
                    FilesError::Exists {
                        version: version.to_owned(),
                        path: shown(&p),
                    },
                    &[],
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(fail(e, &[])),
        }
    }
    let mut companion = None;
    let mut created_down = Vec::new();
    if let (Some(d), DownStyle::File) = (down, style) {
        created_down = create_dirs(&down_dir).map_err(|e| fail(e, &[]))?;
        let p = down_dir.join(&file);
        write_atomic(&p, version, &format!("{d}\n")).map_err(|e| fail(e, &created_down))?;
        companion = Some(p);
    }
    if let Err(e) = write_atomic(&path, version, &text) {
        if let Some(p) = &companion {
            let _ = fs::remove_file(p);
        }
        return Err(fail(e, &created_down));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorted names of the entries of `dir`.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn parse(text: &str) -> Result<MigrationFile, FilesError> {
        parse_text("1", "a", Path::new("1_a.sql"), text, None)
    }

    // --- scan_dir -------------------------------------------------------

    #[test]
    fn scan_dir_orders_numerically_and_lists_non_migrations() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("10_b.sql"), "SELECT 2;").unwrap();
        fs::write(d.path().join("9_a.sql"), "SELECT 1;").unwrap();
        fs::write(d.path().join("100_c_d.sql"), "SELECT 3;").unwrap();
        fs::write(d.path().join("README.md"), "x").unwrap();
        fs::write(d.path().join("x.sql"), "x").unwrap();
        fs::write(d.path().join("12a_x.sql"), "x").unwrap();
        fs::write(d.path().join(".9_hidden.sql"), "x").unwrap();
        fs::write(d.path().join("11_e.sql.bak"), "x").unwrap();
        let (files, ignored) = scan_dir(d.path()).unwrap();
        let got: Vec<(&str, &str)> = files
            .iter()
            .map(|f| (f.version.as_str(), f.name.as_str()))
            .collect();
        assert_eq!(got, [("9", "a"), ("10", "b"), ("100", "c_d")]);
        assert_eq!(files[0].path, d.path().join("9_a.sql"));
        assert_eq!(files[0].up, "SELECT 1;");
        assert_eq!(files[0].checksum, checksum_sql("SELECT 1"));
        assert_eq!(
            ignored,
            [
                ".9_hidden.sql",
                "11_e.sql.bak",
                "12a_x.sql",
                "README.md",
                "x.sql"
            ]
        );
    }

    #[test]
    fn scan_dir_skips_subdirectories_and_uses_companion_down_files() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("1_a.sql"), "SELECT 1;").unwrap();
        fs::write(d.path().join("2_b.sql"), "SELECT 2;").unwrap();
        fs::create_dir(d.path().join("down")).unwrap();
        fs::write(d.path().join("down/1_a.sql"), "\nSELECT -1;\n").unwrap();
        // A directory whose name matches the pattern is not a migration.
        fs::create_dir(d.path().join("3_dir.sql")).unwrap();
        let (files, ignored) = scan_dir(d.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].down.as_deref(), Some("SELECT -1;"));
        assert_eq!(files[1].down, None);
        assert!(ignored.is_empty(), "{ignored:?}");
    }

    #[test]
    fn scan_dir_names_both_files_sharing_a_version() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("10_b.sql"), "SELECT 2;").unwrap();
        fs::write(d.path().join("10_c.sql"), "SELECT 3;").unwrap();
        fs::write(d.path().join("9_a.sql"), "SELECT 1;").unwrap();
        let e = scan_dir(d.path()).unwrap_err();
        assert!(
            matches!(e, FilesError::Duplicate { ref version, .. } if version == "10"),
            "{e}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("10_b.sql") && msg.contains("10_c.sql"),
            "{msg}"
        );
    }

    #[test]
    fn scan_dir_reports_missing_directory_and_bad_files() {
        let d = tempfile::tempdir().unwrap();
        let e = scan_dir(&d.path().join("nope")).unwrap_err();
        assert!(matches!(e, FilesError::DirMissing { .. }), "{e}");
        assert!(e.to_string().contains("create_migration"), "{e}");
        fs::write(d.path().join("1_a.sql"), b"SELECT '\xff';").unwrap();
        let e = scan_dir(d.path()).unwrap_err();
        assert!(
            matches!(e, FilesError::NotUtf8 { offset: 8, ref path } if path.ends_with("1_a.sql")),
            "{e}"
        );
        fs::write(d.path().join("1_a.sql"), "SELECT 1;\n/* migrate:down\n").unwrap();
        let e = scan_dir(d.path()).unwrap_err();
        assert!(matches!(e, FilesError::DownBlock { .. }), "{e}");
        assert!(e.to_string().contains("1_a.sql"), "{e}");
    }

    // --- down blocks ------------------------------------------------------

    #[test]
    fn down_block_is_split_off_with_nested_comments() {
        let f = parse(
            "CREATE TABLE t (id int);\n\n  /* migrate:down  \n/* a nested comment */\nDROP TABLE t;\n/* two\nlines\n*/\n*/\n\n",
        )
        .unwrap();
        assert_eq!(f.up, "CREATE TABLE t (id int);\n");
        assert_eq!(
            f.down.as_deref(),
            Some("/* a nested comment */\nDROP TABLE t;\n/* two\nlines\n*/")
        );
        assert_eq!(f.checksum, checksum_sql("CREATE TABLE t (id int)"));
    }

    #[test]
    fn without_down_block_up_is_the_whole_text() {
        let text = "-- header\nCREATE TABLE t (id int);\n/* a comment */\n";
        let f = parse(text).unwrap();
        assert_eq!(f.up, text);
        assert_eq!(f.down, None);
    }

    #[test]
    fn companion_down_is_used_only_without_a_block() {
        let p = Path::new("1_a.sql");
        let f = parse_text("1", "a", p, "SELECT 1;", Some("SELECT 2;".into())).unwrap();
        assert_eq!(f.down.as_deref(), Some("SELECT 2;"));
        let with_block = "SELECT 1;\n/* migrate:down\nSELECT 3;\n*/\n";
        let f = parse_text("1", "a", p, with_block, Some("SELECT 2;".into())).unwrap();
        assert_eq!(f.down.as_deref(), Some("SELECT 3;"));
    }

    #[test]
    fn down_block_errors() {
        let cases = [
            ("SELECT 1;\n/* migrate:down\nDROP TABLE t;\n", "not closed"),
            (
                "SELECT 1;\n/* migrate:down\nDROP TABLE t;\n*/\nSELECT 2;\n",
                "text after",
            ),
            (
                "SELECT 1;\n/* migrate:down\n*/\n/* migrate:down\n*/\n",
                "more than one",
            ),
            (
                "SELECT 1;\n/* migrate:down\nSELECT '*/';\n*/\n",
                "not one balanced comment",
            ),
            (
                "SELECT 1;\n/* migrate:down\n/* unclosed\n*/\n",
                "not one balanced comment",
            ),
        ];
        for (text, want) in cases {
            match parse(text) {
                Err(e @ FilesError::DownBlock { .. }) => {
                    assert!(e.to_string().contains(want), "{text:?}: {e}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    // --- requires ---------------------------------------------------------

    #[test]
    fn requires_come_from_header_comments_only() {
        let f = parse(
            "-- my migration\n/* a block\ncomment */\n-- requires: 1, 2 3\n--Requires:5,2\n\nCREATE TABLE t (id int); -- requires: 8\n-- requires: 9\n",
        )
        .unwrap();
        assert_eq!(f.requires, ["1", "2", "3", "5"]);
        let f = parse("SELECT 1;\n-- requires: 9\n").unwrap();
        assert!(f.requires.is_empty(), "{:?}", f.requires);
        // Inside a string, it is no comment at all.
        let f = parse("SELECT '\n-- requires: 9\n';").unwrap();
        assert!(f.requires.is_empty(), "{:?}", f.requires);
    }

    #[test]
    fn requires_with_something_other_than_a_version_is_an_error() {
        let e = parse("-- requires: 1, the auth schema\nSELECT 1;").unwrap_err();
        assert!(
            matches!(e, FilesError::Requires { ref value, .. } if value == "the"),
            "{e}"
        );
        // A comment merely mentioning the word is not a header line.
        assert!(parse("-- this requires care\nSELECT 1;").is_ok());
    }

    // --- split_statements ----------------------------------------------

    #[test]
    fn split_keeps_dollar_quotes_literals_and_comments_intact() {
        let sql = "-- header\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\nINSERT INTO t VALUES ('a;b', E'c\\';d'); /* c; */\nSELECT \"x;y\" FROM t -- last; no terminator\n";
        let s = split_statements(sql).unwrap();
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(
            s[0],
            "-- header\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$"
        );
        assert_eq!(s[1], "INSERT INTO t VALUES ('a;b', E'c\\';d')");
        assert_eq!(
            s[2],
            "/* c; */\nSELECT \"x;y\" FROM t -- last; no terminator"
        );
    }

    #[test]
    fn split_drops_empty_and_comment_only_statements() {
        let s = split_statements(";;  SELECT 1 ;; ; -- done\n/* end */").unwrap();
        assert_eq!(s, ["SELECT 1"]);
        assert!(split_statements("").unwrap().is_empty());
        assert!(split_statements("-- only a comment").unwrap().is_empty());
    }

    #[test]
    fn split_follows_psql_for_parentheses_and_sql_function_bodies() {
        let sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\n\
            CREATE OR REPLACE FUNCTION g(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END;\n\
            BEGIN; SELECT 3; END;";
        let s = split_statements(sql).unwrap();
        assert_eq!(s.len(), 5, "{s:?}");
        assert!(s[0].ends_with("VALUES (2))"), "{s:?}");
        assert!(s[1].ends_with("SELECT 2; END"), "{s:?}");
        assert_eq!(&s[2..], ["BEGIN", "SELECT 3", "END"]);
    }

    #[test]
    fn split_never_drops_text() {
        // libpg_query's splitter drops statements without keywords and
        // everything after an unbalanced `)`; this one does not.
        let s = split_statements("asdf; SELECT 1); SELECT 2; x").unwrap();
        assert_eq!(s, ["asdf", "SELECT 1)", "SELECT 2", "x"]);
        let s = split_statements("SELECT (1; SELECT 2").unwrap();
        assert_eq!(s, ["SELECT (1; SELECT 2"]);
    }

    #[test]
    fn split_reports_scanner_errors_with_line_and_column() {
        let e = split_statements("SELECT 1;\nSELECT 'open").unwrap_err();
        assert!(
            matches!(
                e,
                FilesError::Scan {
                    line: 2,
                    column: 8,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = split_statements("SELECT 1;\n\n/* never closed").unwrap_err();
        assert!(matches!(e, FilesError::Scan { line: 3, .. }), "{e:?}");
        let e = split_statements("SELECT 1;\n  SELECT \0").unwrap_err();
        assert!(
            matches!(
                e,
                FilesError::Scan {
                    line: 2,
                    column: 10,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    // --- checksums -------------------------------------------------------

    #[test]
    fn checksum_ignores_comments_whitespace_and_splitting() {
        let a = "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1, 'a');";
        let b = "-- note\nCREATE   TABLE t(id int) ;;\n\n/* x */ INSERT INTO t\n VALUES (1,'a')";
        assert_eq!(checksum_sql(a), checksum_sql(b));
        assert_eq!(
            checksum_sql(a),
            checksum_statements(&split_statements(b).unwrap())
        );
        // Statements recorded with trailing comments or `;` still match.
        let recorded = vec![
            "CREATE TABLE t (id int) -- the table".to_owned(),
            "INSERT INTO t VALUES (1, 'a');".to_owned(),
        ];
        assert_eq!(checksum_statements(&recorded), checksum_sql(a));
    }

    #[test]
    fn checksum_changes_with_the_code() {
        let a = "INSERT INTO t VALUES (1, 'a');";
        assert_ne!(checksum_sql(a), checksum_sql(&a.replace("'a'", "'b'")));
        assert_ne!(checksum_sql("SELECT 1"), checksum_sql("SELECT 2"));
        assert_ne!(checksum_sql("SELECT a b"), checksum_sql("SELECT ab"));
        assert_eq!(checksum_sql("SELECT 1").len(), 64);
    }

    #[test]
    fn checksum_of_split_statements_equals_checksum_of_text() {
        let samples = [
            "",
            "SELECT 1",
            "-- c\nSELECT 1; -- d\nSELECT 2 -- e",
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT f();",
            "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END; CALL p()",
            "asdf; SELECT (1; SELECT 2",
            "SELECT 'a;b' /* ; */ , \"c;d\";\n\n;",
            "SELECT 1;\u{a0}SELECT 2",
        ];
        for s in samples {
            let statements = split_statements(s).unwrap();
            assert_eq!(
                checksum_sql(s),
                checksum_statements(&statements),
                "{s:?} -> {statements:?}"
            );
        }
    }

    // --- write_new ----------------------------------------------------------

    #[test]
    fn write_new_round_trips_with_a_down_block() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("supabase").join("migrations");
        let up = "-- requires: 20231231000000\nCREATE TABLE n (id int);";
        let down = "/* nested */ DROP TABLE n;";
        let p = write_new(
            &dir,
            "20240101000000",
            "Add Notes!",
            up,
            Some(down),
            DownStyle::Block,
        )
        .unwrap();
        assert_eq!(p, dir.join("20240101000000_add_notes.sql"));
        let text = fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            format!("-- add_notes\n{up}\n\n/* migrate:down\n{down}\n*/\n")
        );
        // The whole file is, for the CLI, just the up SQL.
        assert_eq!(
            split_statements(&text).unwrap(),
            ["-- add_notes\n-- requires: 20231231000000\nCREATE TABLE n (id int)"]
        );
        let (files, ignored) = scan_dir(&dir).unwrap();
        assert!(ignored.is_empty(), "{ignored:?}");
        assert_eq!(files.len(), 1);
        let f = &files[0];
        assert_eq!(
            (f.version.as_str(), f.name.as_str()),
            ("20240101000000", "add_notes")
        );
        assert_eq!(f.up, format!("-- add_notes\n{up}\n"));
        assert_eq!(f.down.as_deref(), Some(down));
        assert_eq!(f.requires, ["20231231000000"]);
        assert_eq!(f.checksum, checksum_sql(up));
        assert_eq!(names(&dir), ["20240101000000_add_notes.sql"]);
    }

    #[test]
    fn write_new_round_trips_with_a_down_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        // This down could not live in a comment, but a file is fine.
        let down = "SELECT '*/';";
        let p = write_new(dir, "2", "b", "SELECT 1;", Some(down), DownStyle::File).unwrap();
        assert_eq!(p, dir.join("2_b.sql"));
        assert_eq!(fs::read_to_string(&p).unwrap(), "-- b\nSELECT 1;\n");
        assert_eq!(
            fs::read_to_string(dir.join("down/2_b.sql")).unwrap(),
            format!("{down}\n")
        );
        write_new(dir, "3", "c", "SELECT 3;", None, DownStyle::File).unwrap();
        let (files, _) = scan_dir(dir).unwrap();
        assert_eq!(files[0].down.as_deref(), Some(down));
        assert_eq!(files[0].checksum, checksum_sql("SELECT 1"));
        assert_eq!(files[1].down, None);
        assert_eq!(names(dir), ["2_b.sql", "3_c.sql", "down"]);
        assert_eq!(names(&dir.join("down")), ["2_b.sql"]);
    }

    #[test]
    fn write_new_refuses_an_existing_version() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        fs::write(dir.join("7_old.sql"), "SELECT 1;").unwrap();
        // Another file being broken does not stop a new one.
        fs::write(dir.join("8_broken.sql"), "/* migrate:down\n").unwrap();
        for name in ["old", "other"] {
            let e = write_new(dir, "7", name, "SELECT 2;", None, DownStyle::Block).unwrap_err();
            assert!(
                matches!(e, FilesError::Exists { ref path, .. } if path.ends_with("7_old.sql")),
                "{e}"
            );
        }
        // An orphaned companion down file counts too.
        fs::create_dir(dir.join("down")).unwrap();
        fs::write(dir.join("down/9_gone.sql"), "SELECT 1;").unwrap();
        let e = write_new(dir, "9", "new", "SELECT 2;", None, DownStyle::Block).unwrap_err();
        assert!(matches!(e, FilesError::Exists { .. }), "{e}");
        assert_eq!(
            fs::read_to_string(dir.join("7_old.sql")).unwrap(),
            "SELECT 1;"
        );
        assert_eq!(names(dir), ["7_old.sql", "8_broken.sql", "down"]);
        assert!(write_new(dir, "10", "fine", "SELECT 2;", None, DownStyle::Block).is_ok());
    }

    #[test]
    fn write_new_refuses_down_sql_that_would_not_stay_a_comment() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("m");
        for down in [
            "SELECT 1; */ DROP TABLE x;",
            "SELECT '*/';",
            "DROP TABLE x; -- see */",
            "/* unclosed\nDROP TABLE x;",
            "/* migrate:down\nDROP TABLE x;",
        ] {
            let e =
                write_new(&dir, "3", "c", "SELECT 1;", Some(down), DownStyle::Block).unwrap_err();
            assert!(
                matches!(e, FilesError::DownNotInert { .. }),
                "{down:?}: {e}"
            );
            assert!(e.to_string().contains("down_style `file`"), "{e}");
        }
        // Nothing was created, not even the directory.
        assert!(!dir.exists());
        // A `*/` line that closes nothing of its own.
        let p = write_new(
            &dir,
            "3",
            "c",
            "SELECT 1;",
            Some("/* a */ /* b /* c */ */\n*/ is not here"),
            DownStyle::Block,
        );
        assert!(
            matches!(p, Err(FilesError::DownNotInert { .. })),
            "an unbalanced `*/` line must be refused: {p:?}"
        );
        // Balanced nested comments, even with a `*/` line, are fine.
        write_new(
            &dir,
            "3",
            "c",
            "SELECT 1;",
            Some("/* a\n*/\nDROP TABLE x; /* b /* c */ */"),
            DownStyle::Block,
        )
        .unwrap();
        let (files, _) = scan_dir(&dir).unwrap();
        assert_eq!(
            files[0].down.as_deref(),
            Some("/* a\n*/\nDROP TABLE x; /* b /* c */ */")
        );
    }

    #[test]
    fn write_new_refuses_bad_up_sql() {
        let d = tempfile::tempdir().unwrap();
        let e = write_new(
            d.path(),
            "1",
            "a",
            "SELECT 1;\n/* migrate:down\nSELECT 2;\n*/",
            None,
            DownStyle::Block,
        )
        .unwrap_err();
        assert!(matches!(e, FilesError::UpHasDownMarker { line: 2 }), "{e}");
        let e = write_new(d.path(), "1", "a", "SELECT 'open", None, DownStyle::Block).unwrap_err();
        assert!(matches!(e, FilesError::Scan { line: 1, .. }), "{e}");
        assert!(e.to_string().contains("up SQL"), "{e}");
        assert!(names(d.path()).is_empty());
    }

    #[test]
    fn write_new_leaves_no_temporary_files() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        write_new(
            dir,
            "1",
            "a",
            "SELECT 1;",
            Some("SELECT 2;"),
            DownStyle::Block,
        )
        .unwrap();
        write_new(
            dir,
            "2",
            "b",
            "SELECT 1;",
            Some("SELECT 2;"),
            DownStyle::File,
        )
        .unwrap();
        assert_eq!(names(dir), ["1_a.sql", "2_b.sql", "down"]);
        // The target appears between the checks and the write: the link
        // fails, nothing is replaced and the temporary file goes.
        let target = dir.join("3_c.sql");
        fs::write(&target, "original").unwrap();
        let e = write_atomic(&target, "3", "new").unwrap_err();
        assert!(matches!(e, FilesError::Exists { .. }), "{e}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "original");
        fs::remove_file(&target).unwrap();
        // The up file cannot be written: its companion is removed again.
        let blocked = dir.join("4_d.sql");
        fs::create_dir(&blocked).unwrap();
        let e = write_new(
            dir,
            "4",
            "d",
            "SELECT 1;",
            Some("SELECT 2;"),
            DownStyle::File,
        )
        .unwrap_err();
        assert!(matches!(e, FilesError::Exists { .. }), "{e}");
        fs::remove_dir(&blocked).unwrap();
        assert_eq!(names(dir), ["1_a.sql", "2_b.sql", "down"]);
        assert_eq!(names(&dir.join("down")), ["2_b.sql"]);
        // Temporary names never look like migrations to the CLI.
        let temp = format!(".4_d.sql.{}.0.tmp", std::process::id());
        assert!(split_name(&temp).is_none());
    }

    // --- names and versions ------------------------------------------------

    #[test]
    fn sanitize_name_edge_cases() {
        assert_eq!(
            sanitize_name("  Add user-Profiles table ").unwrap(),
            "add_user_profiles_table"
        );
        assert_eq!(sanitize_name("__x__").unwrap(), "x");
        assert_eq!(sanitize_name("Crème brûlée 2").unwrap(), "cr_me_br_l_e_2");
        assert_eq!(sanitize_name("../../etc/passwd").unwrap(), "etc_passwd");
        assert_eq!(sanitize_name(&"a".repeat(100)).unwrap().len(), 100);
        for bad in ["", "!!!", "___", "ééé"] {
            let e = sanitize_name(bad).unwrap_err();
            assert!(e.to_string().contains("add_profiles_table"), "{e}");
        }
        let long = format!("{}_{}", "a".repeat(99), "b".repeat(10));
        match sanitize_name(&long) {
            Err(FilesError::Name { suggestion, .. }) => assert_eq!(suggestion, "a".repeat(99)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_version_edge_cases() {
        for good in ["0", "20240101000000", &"1".repeat(32)] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in ["", "2024-01-01", "12a", " 1", "１２", &"1".repeat(33)] {
            assert!(
                matches!(check_version(bad), Err(FilesError::Version(ref v)) if v == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn new_version_is_utc_seconds() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-03-05T07:08:09.999+02:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(new_version(t), "20240305050809");
        assert!(check_version(&new_version(t)).is_ok());
    }
}
