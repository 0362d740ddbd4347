//! The files of the `generated/` crate: which modules to emit, the crate's
//! `lib.rs`, the spec hash record, and writing or checking them on disk.

use std::path::{Path, PathBuf};

use crate::Api;
use crate::document::{self, DocumentError};
use crate::generate::{self, GENERATED_MARKER, GenerateError, Module};

/// Workspace-relative path of the spec hash record.
pub const HASH_FILE: &str = "generated/spec-hashes.txt";
/// Workspace-relative directory of the generated modules.
pub const SOURCE_DIR: &str = "generated/src";

/// Errors raised while planning, writing or checking the generated crate.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A required spec file is missing.
    #[error("spec file {} is missing (needed for the `{api}` client; use `--api` to generate one API)", .path.display())]
    MissingSpec {
        /// The API.
        api: Api,
        /// Expected location.
        path: PathBuf,
    },
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// Reading a spec failed.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// The workspace root (the directory holding `specs/` and `generated/`),
/// located from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Which APIs to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// All four; a missing spec is an error.
    All,
    /// Those whose spec exists; modules of missing specs are removed.
    Present,
    /// Only this one; other modules already on disk are kept as they are.
    Only(Api),
}

/// A module in the final crate: generated now, or kept from disk.
#[derive(Debug, Clone)]
pub struct ModuleEntry {
    /// The API.
    pub api: Api,
    /// Workspace-relative spec path recorded in the module header.
    pub spec_path: String,
    /// Spec hash recorded in the module header.
    pub sha256: String,
}

/// Everything a run would write and remove.
#[derive(Debug, Default)]
pub struct Plan {
    /// Modules generated in this run.
    pub generated: Vec<Module>,
    /// Workspace-relative path and contents of every file to write.
    pub files: Vec<(String, String)>,
    /// Workspace-relative paths of module files to remove.
    pub remove: Vec<String>,
    /// Notes for the user (e.g. specs not present yet).
    pub notes: Vec<String>,
}

fn module_path(api: Api) -> String {
    format!("{SOURCE_DIR}/{}.rs", api.name())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, OutputError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Generates in memory every file of the `generated` crate for a selection.
pub fn plan(root: &Path, selection: Selection) -> Result<Plan, OutputError> {
    let mut plan = Plan::default();
    let mut entries: Vec<ModuleEntry> = Vec::new();
    for api in Api::ALL {
        let spec = root.join(api.spec_path());
        let wanted = match selection {
            Selection::All => true,
            Selection::Present => spec.exists(),
            Selection::Only(only) => only == api,
        };
        if !wanted {
            match selection {
                Selection::Only(_) => {
                    // Keep a module generated earlier, if any.
                    let path = root.join(module_path(api));
                    if let Some(code) = read_optional(&path)?
                        && let Some((spec_path, sha256)) = generate::parse_header(&code)
                    {
                        entries.push(ModuleEntry {
                            api,
                            spec_path,
                            sha256,
                        });
                    }
                }
                _ => {
                    plan.notes.push(format!(
                        "{} not present: `{api}` client not generated",
                        api.spec_path()
                    ));
                    plan.remove.push(module_path(api));
                }
            }
            continue;
        }
        let bytes = match document::read_bytes(&spec) {
            Ok(b) => b,
            Err(DocumentError::Missing(path)) => {
                return Err(OutputError::MissingSpec { api, path });
            }
            Err(e) => return Err(e.into()),
        };
        let module = generate::generate_module(api, &bytes)?;
        entries.push(ModuleEntry {
            api,
            spec_path: module.spec_path.clone(),
            sha256: module.sha256.clone(),
        });
        plan.files.push((module_path(api), module.code.clone()));
        plan.generated.push(module);
    }
    entries.sort_by_key(|e| e.api);
    plan.files
        .push((format!("{SOURCE_DIR}/lib.rs"), lib_rs(&entries)));
    plan.files
        .push((HASH_FILE.to_string(), hash_file(&entries)));
    Ok(plan)
}

/// Lints the generated code may trip; allowed per module so `-D warnings` stays clean.
const ALLOWS: &str = "#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    dead_code,
    unused_imports,
    unused_mut,
    irrefutable_let_patterns,
    missing_docs,
    non_camel_case_types,
    mismatched_lifetime_syntaxes,
    rustdoc::all
)]";

/// The `generated` crate's `lib.rs` for a set of modules.
pub fn lib_rs(entries: &[ModuleEntry]) -> String {
    let mut out = String::new();
    out.push_str(
        "//! Typed HTTP clients for the APIs the server calls, generated by `cargo codegen`\n\
         //! from the OpenAPI documents in `specs/`. Do not edit: change a spec and run\n\
         //! `cargo codegen` (the server's build script refuses stale output).\n\
         //!\n\
         //! Each module has a `Client` with one positional method per operation and a\n\
         //! `types` module. Error responses are returned as raw bytes\n\
         //! (`Error<ByteStream>`) so their bodies are never lost.\n",
    );
    out.push_str(GENERATED_MARKER);
    out.push_str("\n\npub use progenitor_client;\n");
    for e in entries {
        out.push_str(&format!(
            "\n/// {} client (from `{}`).\n{ALLOWS}\n#[rustfmt::skip]\npub mod {};\n",
            e.api.title(),
            e.spec_path,
            e.api.name()
        ));
    }
    out
}

/// The spec hash record checked by the server's build script.
pub fn hash_file(entries: &[ModuleEntry]) -> String {
    let mut out = String::from(
        "# SHA-256 of each spec the code in generated/src was generated from.\n\
         # Written by `cargo codegen`; checked by the root build.rs.\n",
    );
    for e in entries {
        out.push_str(&format!("{}  {}\n", e.sha256, e.spec_path));
    }
    out
}

/// Writes the plan, touching only files whose contents change. Returns the
/// workspace-relative paths written or removed.
pub fn write(root: &Path, plan: &Plan) -> Result<Vec<String>, OutputError> {
    let mut changed = Vec::new();
    for (rel, contents) in &plan.files {
        let path = root.join(rel);
        if read_optional(&path)?.as_deref() == Some(contents.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, contents).map_err(io(&path))?;
        changed.push(rel.clone());
    }
    for rel in &plan.remove {
        let path = root.join(rel);
        if path.exists() {
            std::fs::remove_file(&path).map_err(io(&path))?;
            changed.push(format!("{rel} (removed)"));
        }
    }
    Ok(changed)
}

/// Compares the plan with the files on disk; returns the stale paths.
pub fn check(root: &Path, plan: &Plan) -> Result<Vec<String>, OutputError> {
    let mut stale = Vec::new();
    for (rel, contents) in &plan.files {
        match read_optional(&root.join(rel))? {
            None => stale.push(format!("{rel} (missing)")),
            Some(on_disk) if on_disk != *contents => stale.push(rel.clone()),
            Some(_) => {}
        }
    }
    for rel in &plan.remove {
        if root.join(rel).exists() {
            stale.push(format!("{rel} (should not exist)"));
        }
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(api: Api) -> ModuleEntry {
        ModuleEntry {
            api,
            spec_path: api.spec_path(),
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn lib_rs_declares_each_module() {
        let lib = lib_rs(&[entry(Api::Auth), entry(Api::Dokploy)]);
        assert!(lib.starts_with("//! "));
        assert!(lib.contains("pub mod auth;"));
        assert!(lib.contains("pub mod dokploy;"));
        assert!(!lib.contains("pub mod storage;"));
    }

    #[test]
    fn hash_file_lists_specs() {
        let text = hash_file(&[entry(Api::Storage)]);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [format!("{}  specs/supabase-storage.yaml", "ab".repeat(32))]
        );
    }

    #[test]
    fn missing_spec_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("codegen-out-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("specs")).unwrap();
        let err = plan(&dir, Selection::All).unwrap_err().to_string();
        assert!(err.contains("specs/supabase-management.yaml"), "{err}");
        let p = plan(&dir, Selection::Present).unwrap();
        assert!(p.generated.is_empty());
        assert_eq!(p.remove.len(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
