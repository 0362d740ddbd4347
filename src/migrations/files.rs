//! Local migration files in the Supabase CLI's layout:
//! `<dir>/<version>_<name>.sql`, where the version is ASCII digits (the CLI
//! writes a UTC timestamp `YYYYMMDDHHMMSS`). The CLI treats every top-level
//! file matching `^([0-9]+)_(.*)\.sql$` as a migration and runs all of it,
//! so what this module adds stays inert for the CLI:
//!
//! - a down migration is a trailing block comment opened by a line
//!   `/* migrate:down` and closed by a line `*/`, or a companion file
//!   `<dir>/down/<version>_<name>.sql` (the CLI does not read
//!   subdirectories);
//! - dependencies are header comment lines `-- requires: <version>, ...`.
//!
//! Also the checksum that says whether a file changed since it was applied
//! (blind to comments, whitespace and statement splitting), the statements
//! the history records, and writing new files atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The line that opens a down block.
const DOWN_OPEN: &str = "/* migrate:down";
/// The line that closes it.
const DOWN_CLOSE: &str = "*/";

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("the migrations directory {path} does not exist")]
    DirMissing { path: String },
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("two migration files have version {version}: {first} and {second}; rename one of them")]
    Duplicate {
        version: String,
        first: String,
        second: String,
    },
    #[error("{path}: {problem}")]
    DownBlock { path: String, problem: String },
    #[error(
        "the SQL does not scan at line {line}, column {column}: {message}; check for an unterminated quote, dollar quote or comment"
    )]
    Scan {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid version `{0}`: a version is 1 to 32 ASCII digits, e.g. 20240101120000")]
    Version(String),
    #[error(
        "invalid migration name `{0}`: use 1 to 100 letters, digits and underscores, e.g. add_profiles_table"
    )]
    Name(String),
    #[error("a migration file with version {version} already exists: {path}")]
    Exists { version: String, path: String },
    #[error(
        "the down migration contains `*/`, which would end its comment block early; use down_style `file`"
    )]
    DownNotInert,
}

/// One local migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationFile {
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    /// The SQL that applies it: the file without its down block.
    pub up: String,
    /// The SQL that reverts it: the down block, else the companion file.
    pub down: Option<String>,
    /// Versions it needs applied first (`-- requires:` header lines).
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

/// `(version, name)` of a file name matching the CLI's pattern.
fn split_name(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.strip_suffix(".sql")?;
    let (version, name) = stem.split_once('_')?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some((version, name))
}

/// Numeric order of digit strings.
fn version_key(v: &str) -> (usize, &str) {
    (v.len(), v)
}

fn read_text(path: &Path) -> Result<String, FilesError> {
    let bytes = fs::read(path).map_err(|e| FilesError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| FilesError::Read {
        path: path.display().to_string(),
        message: "not UTF-8 text".into(),
    })
}

/// Every migration file in `dir`, in version order, and the names of the
/// files that are not migrations (subdirectories are skipped).
pub fn scan_dir(dir: &Path) -> Result<(Vec<MigrationFile>, Vec<String>), FilesError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FilesError::DirMissing {
                path: dir.display().to_string(),
            });
        }
        Err(e) => {
            return Err(FilesError::Read {
                path: dir.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    let mut found: Vec<(String, String, PathBuf)> = Vec::new();
    let mut ignored = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FilesError::Read {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            continue;
        }
        let file_name = entry.file_name().to_string_lossy().into_owned();
        match split_name(&file_name) {
            Some((v, n)) => found.push((v.to_owned(), n.to_owned(), entry.path())),
            None => ignored.push(file_name),
        }
    }
    found.sort_by(|a, b| {
        version_key(&a.0)
            .cmp(&version_key(&b.0))
            .then(a.2.cmp(&b.2))
    });
    for w in found.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(FilesError::Duplicate {
                version: w[0].0.clone(),
                first: w[0].2.display().to_string(),
                second: w[1].2.display().to_string(),
            });
        }
    }
    ignored.sort();
    let mut out = Vec::with_capacity(found.len());
    for (version, name, path) in found {
        let text = read_text(&path)?;
        let companion = dir.join("down").join(format!("{version}_{name}.sql"));
        let down = if companion.is_file() {
            Some(read_text(&companion)?.trim().to_owned())
        } else {
            None
        };
        out.push(parse_text(&version, &name, &path, &text, down)?);
    }
    Ok((out, ignored))
}

/// Parses one migration's text (a file's, or inline SQL).
pub fn parse_text(
    version: &str,
    name: &str,
    path: &Path,
    text: &str,
    companion_down: Option<String>,
) -> Result<MigrationFile, FilesError> {
    let (up, block) = split_down(text).map_err(|problem| FilesError::DownBlock {
        path: path.display().to_string(),
        problem,
    })?;
    Ok(MigrationFile {
        version: version.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        requires: requires(&up),
        checksum: checksum_sql(&up),
        down: block.or(companion_down),
        up,
    })
}

/// The text before a down block, and the block's SQL.
fn split_down(text: &str) -> Result<(String, Option<String>), String> {
    let mut offset = 0;
    let mut open: Option<(usize, usize)> = None;
    let mut close: Option<(usize, usize)> = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t == DOWN_OPEN {
            if open.is_some() {
                return Err("more than one `/* migrate:down` block".into());
            }
            open = Some((offset, offset + line.len()));
        } else if t == DOWN_CLOSE && open.is_some() {
            close = Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    let Some((open_start, body_start)) = open else {
        return Ok((text.to_owned(), None));
    };
    let Some((close_start, close_end)) = close else {
        return Err("the `/* migrate:down` block is not closed by a line `*/`".into());
    };
    if !text[close_end..].trim().is_empty() {
        return Err(
            "text after the down block's closing `*/`: the down block must end the file".into(),
        );
    }
    let up = text[..open_start].trim_end().to_owned() + "\n";
    let down = text[body_start..close_start].trim().to_owned();
    Ok((up, (!down.is_empty()).then_some(down)))
}

/// Versions named by `-- requires:` lines before the first statement.
fn requires(up: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in up.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let Some(comment) = t.strip_prefix("--") else {
            break;
        };
        if let Some(list) = comment.trim().strip_prefix("requires:") {
            out.extend(
                list.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    out
}

fn position(text: &str, byte: usize) -> (usize, usize) {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[start..].chars().count() + 1)
}

fn scan_error(sql: &str, e: pg_query::Error) -> FilesError {
    let message = e.to_string();
    let diag = crate::sql::syntax::diagnose(sql, &message);
    let (line, column) = if diag.line > 0 {
        (diag.line, diag.column)
    } else {
        position(sql, 0)
    };
    FilesError::Scan {
        line,
        column,
        message: diag.message,
    }
}

/// The statements of `sql` as the history records them (see module docs).
pub fn split_statements(sql: &str) -> Result<Vec<String>, FilesError> {
    pg_query::scan(sql).map_err(|e| scan_error(sql, e))?;
    let pieces = pg_query::split_with_scanner(sql).map_err(|e| scan_error(sql, e))?;
    Ok(pieces
        .into_iter()
        .map(|p| {
            let t = p.trim();
            t.strip_suffix(';').unwrap_or(t).trim().to_owned()
        })
        .filter(|t| !t.is_empty() && has_tokens(t))
        .collect())
}

/// The statement is more than comments.
fn has_tokens(s: &str) -> bool {
    tokens(s).is_some_and(|t| !t.is_empty())
}

/// The texts of the scanner's tokens, comments and `;` left out; `None`
/// when the text does not scan.
fn tokens(sql: &str) -> Option<Vec<&str>> {
    let scanned = pg_query::scan(sql).ok()?;
    let mut out = Vec::with_capacity(scanned.tokens.len());
    for t in &scanned.tokens {
        let (Ok(start), Ok(end)) = (usize::try_from(t.start), usize::try_from(t.end)) else {
            continue;
        };
        let text = sql.get(start..end)?;
        let comment = matches!(
            pg_query::protobuf::Token::try_from(t.token),
            Ok(pg_query::protobuf::Token::SqlComment | pg_query::protobuf::Token::CComment)
        );
        if comment || text == ";" {
            continue;
        }
        out.push(text);
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

/// Checksum of SQL, blind to comments, whitespace and statement splitting.
/// Text that does not scan is hashed as it is.
pub fn checksum_sql(sql: &str) -> String {
    match tokens(sql) {
        Some(t) => digest(&t),
        None => digest(&[sql]),
    }
}

/// [`checksum_sql`] of recorded statements.
pub fn checksum_statements(statements: &[String]) -> String {
    let joined = statements
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";\n");
    checksum_sql(&joined)
}

/// A new version: `YYYYMMDDHHMMSS` in UTC.
pub fn new_version(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%d%H%M%S").to_string()
}

/// Checks a caller-given version.
pub fn check_version(v: &str) -> Result<(), FilesError> {
    if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FilesError::Version(v.to_owned()));
    }
    Ok(())
}

/// A name made safe for a file name (see module docs).
pub fn sanitize_name(name: &str) -> Result<String, FilesError> {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
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
    if out.is_empty() || out.len() > 100 {
        return Err(FilesError::Name(name.to_owned()));
    }
    Ok(out)
}

/// Writes `text` to `path` through a hidden temporary file in the same
/// directory, failing if `path` exists. Nothing is left on error.
fn write_atomic(path: &Path, text: &str) -> Result<(), FilesError> {
    let err = |p: &Path, e: std::io::Error| FilesError::Write {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| err(&temp, e))?;
        f.write_all(text.as_bytes()).map_err(|e| err(&temp, e))?;
        f.sync_all().map_err(|e| err(&temp, e))?;
        // A hard link never replaces an existing file.
        fs::hard_link(&temp, path).map_err(|e| err(path, e))
    })();
    let _ = fs::remove_file(&temp);
    result
}

/// Writes a new migration (see module docs); returns the up file's path.
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
    if style == DownStyle::Block
        && let Some(d) = down
        && (d.contains("*/") || d.lines().any(|l| l.trim() == DOWN_OPEN))
    {
        return Err(FilesError::DownNotInert);
    }
    fs::create_dir_all(dir).map_err(|e| FilesError::Write {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let (existing, _) = scan_dir(dir)?;
    if let Some(f) = existing.iter().find(|f| f.version == version) {
        return Err(FilesError::Exists {
            version: version.to_owned(),
            path: f.path.display().to_string(),
        });
    }
    let file = format!("{version}_{name}.sql");
    let path = dir.join(&file);
    let mut text = format!("-- {name}\n");
    let body = up.trim_end();
    if !body.is_empty() {
        text.push_str(body);
        text.push('\n');
    }
    match (down, style) {
        (Some(d), DownStyle::Block) => {
            text.push_str(&format!("\n{DOWN_OPEN}\n{}\n{DOWN_CLOSE}\n", d.trim()));
        }
        (Some(d), DownStyle::File) => {
            let down_dir = dir.join("down");
            fs::create_dir_all(&down_dir).map_err(|e| FilesError::Write {
                path: down_dir.display().to_string(),
                message: e.to_string(),
            })?;
            write_atomic(&down_dir.join(&file), &format!("{}\n", d.trim()))?;
        }
        (None, _) => {}
    }
    if let Err(e) = write_atomic(&path, &text) {
        if down.is_some() && style == DownStyle::File {
            let _ = fs::remove_file(dir.join("down").join(&file));
        }
        return Err(e);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn scanning_orders_numerically_ignores_others_and_finds_companions() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("10_b.sql"), "SELECT 2;").unwrap();
        fs::write(d.path().join("9_a.sql"), "SELECT 1;").unwrap();
        fs::write(d.path().join("README.md"), "x").unwrap();
        fs::write(d.path().join("x.sql"), "x").unwrap();
        fs::write(d.path().join(".9_hidden.sql.partial"), "x").unwrap();
        fs::create_dir(d.path().join("down")).unwrap();
        fs::write(d.path().join("down/9_a.sql"), "SELECT -1;").unwrap();
        let (files, ignored) = scan_dir(d.path()).unwrap();
        let versions: Vec<&str> = files.iter().map(|f| f.version.as_str()).collect();
        assert_eq!(versions, ["9", "10"]);
        assert_eq!(files[0].down.as_deref(), Some("SELECT -1;"));
        assert_eq!(files[1].down, None);
        assert_eq!(ignored, [".9_hidden.sql.partial", "README.md", "x.sql"]);
        fs::write(d.path().join("10_c.sql"), "SELECT 3;").unwrap();
        let e = scan_dir(d.path()).unwrap_err();
        assert!(
            matches!(e, FilesError::Duplicate { ref version, .. } if version == "10"),
            "{e}"
        );
        assert!(e.to_string().contains("10_b.sql") && e.to_string().contains("10_c.sql"));
        assert!(matches!(
            scan_dir(&d.path().join("nope")),
            Err(FilesError::DirMissing { .. })
        ));
    }

    #[test]
    fn down_blocks_are_split_off_and_checked() {
        let p = Path::new("m.sql");
        let f = parse_text(
            "1",
            "a",
            p,
            "CREATE TABLE t (id int);\n\n/* migrate:down\n/* a nested comment */\nDROP TABLE t;\n*/\n",
            Some("ignored".into()),
        )
        .unwrap();
        assert_eq!(f.up, "CREATE TABLE t (id int);\n");
        assert_eq!(
            f.down.as_deref(),
            Some("/* a nested comment */\nDROP TABLE t;")
        );
        // Without a block: the companion.
        let f = parse_text("1", "a", p, "SELECT 1;", Some("SELECT 2;".into())).unwrap();
        assert_eq!(f.down.as_deref(), Some("SELECT 2;"));
        for bad in [
            "SELECT 1;\n/* migrate:down\nDROP TABLE t;\n",
            "SELECT 1;\n/* migrate:down\nDROP TABLE t;\n*/\nSELECT 2;\n",
            "/* migrate:down\n*/\n/* migrate:down\n*/\n",
        ] {
            assert!(
                matches!(
                    parse_text("1", "a", p, bad, None),
                    Err(FilesError::DownBlock { .. })
                ),
                "{bad}"
            );
        }
        // The whole file, block included, is valid SQL for the CLI.
        let text = "CREATE TABLE t (id int);\n/* migrate:down\nDROP TABLE t;\n*/\n";
        assert_eq!(split_statements(text).unwrap(), ["CREATE TABLE t (id int)"]);
    }

    #[test]
    fn requires_are_read_from_the_header_only() {
        let f = parse_text(
            "3",
            "c",
            Path::new("c.sql"),
            "-- my migration\n-- requires: 1, 2\n--requires: 5\n\nCREATE TABLE t (id int);\n-- requires: 9\n",
            None,
        )
        .unwrap();
        assert_eq!(f.requires, ["1", "2", "5"]);
    }

    #[test]
    fn statements_split_like_postgresql_reads_them() {
        let sql = "-- header\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\nINSERT INTO t VALUES ('a;b'); /* c; */\nSELECT 1";
        let s = split_statements(sql).unwrap();
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(s[0].contains("RETURN 1; END $$"), "{s:?}");
        assert!(
            s[1].starts_with("INSERT") && s[1].ends_with("('a;b')"),
            "{s:?}"
        );
        // A comment between statements goes with the one after it.
        assert!(s[2].ends_with("SELECT 1"), "{s:?}");
        let e = split_statements("SELECT 1;\nSELECT 'open").unwrap_err();
        assert!(matches!(e, FilesError::Scan { line: 2, .. }), "{e}");
    }

    #[test]
    fn checksums_ignore_comments_whitespace_and_splitting() {
        let a = "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1, 'a');";
        let b = "-- note\nCREATE   TABLE t(id int) ;\n\n/* x */ INSERT INTO t\n VALUES (1,'a')";
        assert_eq!(checksum_sql(a), checksum_sql(b));
        assert_eq!(
            checksum_sql(a),
            checksum_statements(&split_statements(b).unwrap())
        );
        assert_ne!(checksum_sql(a), checksum_sql(&a.replace("'a'", "'b'")));
        assert_ne!(checksum_sql("SELECT 1"), checksum_sql("SELECT 2"));
    }

    #[test]
    fn new_files_round_trip_and_leave_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("migrations");
        let p = write_new(
            &dir,
            "20240101000000",
            "Add Notes!",
            "CREATE TABLE n (id int);",
            Some("DROP TABLE n;"),
            DownStyle::Block,
        )
        .unwrap();
        assert_eq!(p.file_name().unwrap(), "20240101000000_add_notes.sql");
        write_new(
            &dir,
            "20240102000000",
            "b",
            "SELECT 1;",
            Some("SELECT 2;"),
            DownStyle::File,
        )
        .unwrap();
        let (files, ignored) = scan_dir(&dir).unwrap();
        assert!(ignored.is_empty(), "{ignored:?}");
        assert_eq!(files[0].name, "add_notes");
        assert_eq!(files[0].down.as_deref(), Some("DROP TABLE n;"));
        assert_eq!(files[0].checksum, checksum_sql("CREATE TABLE n (id int)"));
        assert_eq!(files[1].down.as_deref(), Some("SELECT 2;"));
        // An existing version, and a down that would end its block early.
        let e = write_new(&dir, "20240101000000", "other", "", None, DownStyle::Block).unwrap_err();
        assert!(matches!(e, FilesError::Exists { .. }), "{e}");
        let e = write_new(
            &dir,
            "3",
            "c",
            "",
            Some("SELECT 1; */ DROP TABLE x;"),
            DownStyle::Block,
        )
        .unwrap_err();
        assert!(matches!(e, FilesError::DownNotInert), "{e}");
        assert_eq!(
            names(&dir),
            [
                "20240101000000_add_notes.sql",
                "20240102000000_b.sql",
                "down"
            ]
        );
        assert_eq!(names(&dir.join("down")), ["20240102000000_b.sql"]);
    }

    #[test]
    fn names_and_versions_are_checked() {
        assert_eq!(
            sanitize_name("  Add user-Profiles table ").unwrap(),
            "add_user_profiles_table"
        );
        assert_eq!(sanitize_name("__x__").unwrap(), "x");
        assert!(sanitize_name("!!!").is_err());
        assert!(sanitize_name(&"a".repeat(101)).is_err());
        assert!(check_version("20240101000000").is_ok());
        for bad in ["", "2024-01-01", "12a", &"1".repeat(33)] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        let t = chrono::DateTime::parse_from_rfc3339("2024-03-05T07:08:09Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(new_version(t), "20240305070809");
    }
}
