//! Build script of the server: a cheap guard that the committed clients in
//! `generated/` were generated from the current `specs/`. It compares the
//! SHA-256 of every `specs/*.yaml` with `generated/spec-hashes.txt` (written
//! by `cargo codegen`) and fails the build when they differ. It never runs
//! the code generator itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

const SPECS_DIR: &str = "specs";
const HASH_FILE: &str = "generated/spec-hashes.txt";

fn main() {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = Path::new(&root);
    println!("cargo::rerun-if-changed={SPECS_DIR}");
    println!("cargo::rerun-if-changed={HASH_FILE}");
    match problems(root) {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            eprintln!("error: the generated API clients are out of date:");
            for p in &problems {
                eprintln!("  - {p}");
            }
            eprintln!("run `cargo codegen` to regenerate generated/ from specs/");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("error: cannot check generated/ against specs/: {e}");
            std::process::exit(1);
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `specs/<file>.yaml` → SHA-256 for every spec present.
fn current_specs(root: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut specs = BTreeMap::new();
    let dir = root.join(SPECS_DIR);
    if !dir.exists() {
        return Ok(specs);
    }
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") && path.is_file() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let Some(name) = name {
                let rel = format!("{SPECS_DIR}/{name}");
                println!("cargo::rerun-if-changed={rel}");
                specs.insert(rel, sha256_hex(&std::fs::read(&path)?));
            }
        }
    }
    Ok(specs)
}

/// `specs/<file>.yaml` → SHA-256 as recorded by `cargo codegen`.
fn recorded_specs(root: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let text = match std::fs::read_to_string(root.join(HASH_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(hash, path)| (path.trim().to_string(), hash.to_ascii_lowercase()))
        .collect())
}

fn problems(root: &Path) -> std::io::Result<Vec<String>> {
    let current = current_specs(root)?;
    let recorded = recorded_specs(root)?;
    let mut problems = Vec::new();
    for (path, hash) in &current {
        match recorded.get(path) {
            None => problems.push(format!(
                "{path} has no generated client (not in {HASH_FILE})"
            )),
            Some(r) if r != hash => {
                problems.push(format!("{path} changed since the clients were generated"))
            }
            Some(_) => {}
        }
    }
    for path in recorded.keys() {
        if !current.contains_key(path) {
            problems.push(format!(
                "{path} is recorded in {HASH_FILE} but no longer exists"
            ));
        }
    }
    Ok(problems)
}
