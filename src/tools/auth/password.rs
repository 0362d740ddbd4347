//! Passwords for Auth users: read on the server from a file or an
//! environment variable (never a plain argument), or generated from the
//! operating system's random source. Either way the value is registered
//! with the redactor and never returned.

use crate::result::ToolError;
use crate::secret::Secret;
use crate::selfhosted::secrets::{SecretsError, random_bytes};
use crate::server::call::Call;
use crate::tools::management::common::{Source, SourceError, read_secret};

/// Longest password GoTrue hashes (bcrypt reads 72 bytes).
const MAX_PASSWORD_CHARS: usize = 72;
/// Length of a generated password.
const GENERATED_LEN: usize = 32;
/// Characters of a generated password: every class a password policy may ask for.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-.:=?@_";

/// Why a password could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("could not read the password: {0}")]
    Source(#[from] SourceError),
    #[error("the password is shorter than 6 characters")]
    TooShort,
    #[error("could not generate a password: {0}")]
    Random(#[from] SecretsError),
}

/// Where a password comes from.
pub enum PasswordSource {
    File(String),
    Env(String),
}

/// The password source of the arguments: `password_file` or
/// `password_env`, not both.
pub fn source(file: Option<&str>, env: Option<&str>) -> Result<Option<PasswordSource>, ToolError> {
    let file = file.map(str::trim).filter(|s| !s.is_empty());
    let env = env.map(str::trim).filter(|s| !s.is_empty());
    match (file, env) {
        (Some(_), Some(_)) => Err(ToolError::invalid(
            "`password_file` and `password_env` are both given",
        )
        .suggestion("Give one of them.")),
        (Some(f), None) => Ok(Some(PasswordSource::File(f.to_owned()))),
        (None, Some(e)) => Ok(Some(PasswordSource::Env(e.to_owned()))),
        (None, None) => Ok(None),
    }
}

impl PasswordSource {
    /// Reads the password on the server and registers it with the redactor.
    pub async fn read(&self, call: &Call) -> Result<Secret, ToolError> {
        let src = match self {
            PasswordSource::File(p) => Source::File(p.clone()),
            PasswordSource::Env(n) => Source::Env(n.clone()),
        };
        let value = read_secret(call, &src, MAX_PASSWORD_CHARS)
            .await
            .map_err(PasswordError::from)
            .and_then(|v| {
                if v.expose().chars().count() < 6 {
                    Err(PasswordError::TooShort)
                } else {
                    Ok(v)
                }
            })
            .map_err(|e| {
                ToolError::invalid(e.to_string()).suggestion(format!(
                    "Check the {} on the server's machine (the server reads it, not the client); passwords are 6 to {MAX_PASSWORD_CHARS} characters.",
                    src.describe()
                ))
            })?;
        Ok(value)
    }
}

/// A random password with upper and lower case letters, digits and
/// symbols, registered with the redactor.
pub fn generate(call: &Call) -> Result<Secret, ToolError> {
    let value = random_password().map_err(|e| {
        ToolError::internal(PasswordError::from(e).to_string())
            .suggestion("Pass password_file or password_env instead.")
    })?;
    let secret = Secret::new(value);
    call.state.config.redactor.add(&secret);
    Ok(secret)
}

fn random_password() -> Result<String, SecretsError> {
    let size = ALPHABET.len();
    let limit = 256 - 256 % size;
    loop {
        let mut out = String::with_capacity(GENERATED_LEN);
        while out.len() < GENERATED_LEN {
            for b in random_bytes(GENERATED_LEN * 2)? {
                if (b as usize) < limit && out.len() < GENERATED_LEN {
                    out.push(ALPHABET[b as usize % size] as char);
                }
            }
        }
        let classes = [
            out.chars().any(|c| c.is_ascii_uppercase()),
            out.chars().any(|c| c.is_ascii_lowercase()),
            out.chars().any(|c| c.is_ascii_digit()),
            out.chars().any(|c| !c.is_ascii_alphanumeric()),
        ];
        if classes.iter().all(|c| *c) {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_mix_every_class() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_eq!(a.len(), GENERATED_LEN);
        assert_ne!(a, b);
        assert!(a.chars().any(|c| c.is_ascii_digit()));
        assert!(a.chars().any(|c| !c.is_ascii_alphanumeric()));
    }

    #[test]
    fn one_source_only() {
        assert!(source(Some("/f"), Some("E")).is_err());
        assert!(source(None, None).unwrap().is_none());
        assert!(matches!(
            source(None, Some("PW")).unwrap(),
            Some(PasswordSource::Env(_))
        ));
    }
}
