//! Loading OpenAPI documents (JSON or YAML) into `serde_json::Value`, and hashing them.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Errors raised while reading a document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The file does not exist.
    #[error("spec file {0} does not exist")]
    Missing(PathBuf),
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is neither valid JSON nor valid YAML.
    #[error("cannot parse {path} as JSON or YAML: {message}")]
    Parse {
        /// File that failed.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// The document is not a mapping at the top level.
    #[error("{0} is not an OpenAPI document (top level is not a mapping)")]
    NotAMapping(PathBuf),
}

/// Reads a file's bytes, reporting a missing file distinctly.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, DocumentError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DocumentError::Missing(path.to_path_buf())
        } else {
            DocumentError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Parses JSON or YAML bytes into a JSON value. `path` is only used in messages.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Value, DocumentError> {
    let looks_like_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    let value = if looks_like_json {
        serde_json::from_slice::<Value>(bytes).map_err(|e| DocumentError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
    } else {
        let yaml = serde_yaml::from_slice::<serde_yaml::Value>(bytes).map_err(|e| {
            DocumentError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        yaml_to_json(yaml)
    };
    if value.is_object() {
        Ok(value)
    } else {
        Err(DocumentError::NotAMapping(path.to_path_buf()))
    }
}

/// Converts a YAML tree to JSON, turning non-string mapping keys (such as
/// unquoted status codes) into their string form.
fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (yaml_key(k), yaml_to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

fn yaml_key(key: serde_yaml::Value) -> String {
    use serde_yaml::Value as Y;
    match key {
        Y::String(s) => s,
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        Y::Null => "null".to_string(),
        other => serde_yaml::to_string(&other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// Reads and parses a document.
pub fn load(path: &Path) -> Result<Value, DocumentError> {
    let bytes = read_bytes(path)?;
    parse(&bytes, path)
}

/// Lower-case hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml() {
        let p = Path::new("x");
        let j = parse(br#" {"openapi": "3.0.3"}"#, p).unwrap();
        let y = parse(b"openapi: 3.0.3\npaths: {}\n", p).unwrap();
        assert_eq!(j["openapi"], "3.0.3");
        assert_eq!(y["openapi"], "3.0.3");
        assert!(parse(b"- a\n- b\n", p).is_err());
    }

    #[test]
    fn yaml_keys_that_look_like_numbers_become_strings() {
        let y = parse(b"responses:\n  200:\n    description: ok\n", Path::new("x")).unwrap();
        assert!(y["responses"]["200"].is_object());
    }

    #[test]
    fn hashes_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
