//! The secrets of a self-hosted Supabase `.env`, their formats, and their
//! generation from the operating system's random number generator.
//!
//! Formats: `JWT_SECRET` is 44 base64 characters (33 random bytes);
//! passwords and keys are lowercase letters and digits (URL-safe, no
//! quoting needed): `POSTGRES_PASSWORD`, `DASHBOARD_PASSWORD`,
//! `VAULT_ENC_KEY` (exactly 32: Supavisor's AES-256 key),
//! `PG_META_CRYPTO_KEY`, the Logflare tokens and `MINIO_ROOT_PASSWORD` 32
//! characters, `SECRET_KEY_BASE` 64; the S3 protocol keys are hex (32 and
//! 64). A generated value that fails the strength checks is drawn again.

use base64::Engine;
use rand::TryRngCore;
use rand::rngs::OsRng;

use super::strength;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    #[error("no random value passed the strength checks after {0} attempts")]
    Exhausted(usize),
}

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// How a secret is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `n` lowercase letters and digits.
    LowerAlnum(usize),
    /// `n` lowercase hex digits.
    Hex(usize),
    /// Standard base64 of `n` random bytes (`n` a multiple of 3: no padding).
    Base64(usize),
}

impl Format {
    pub fn describe(self) -> String {
        match self {
            Format::LowerAlnum(n) => format!("{n} random lowercase letters and digits"),
            Format::Hex(n) => format!("{n} random hex digits"),
            Format::Base64(n) => format!("{} random base64 characters", n / 3 * 4),
        }
    }

    pub fn length(self) -> usize {
        match self {
            Format::LowerAlnum(n) | Format::Hex(n) => n,
            Format::Base64(n) => n.div_ceil(3) * 4,
        }
    }
}

/// A secret variable of the `.env`.
#[derive(Debug, Clone, Copy)]
pub struct SecretSpec {
    pub name: &'static str,
    pub format: Format,
    /// What it protects (for messages).
    pub purpose: &'static str,
}

/// Every random secret the generator writes, in template order. The JWT
/// keys are not here: they are signed, see [`super::jwt`].
pub const SECRETS: &[SecretSpec] = &[
    SecretSpec {
        name: "POSTGRES_PASSWORD",
        format: Format::LowerAlnum(32),
        purpose: "the database superuser and service roles",
    },
    SecretSpec {
        name: "JWT_SECRET",
        format: Format::Base64(33),
        purpose: "signs every API key and user session",
    },
    SecretSpec {
        name: "DASHBOARD_PASSWORD",
        format: Format::LowerAlnum(32),
        purpose: "the Studio dashboard login",
    },
    SecretSpec {
        name: "SECRET_KEY_BASE",
        format: Format::LowerAlnum(64),
        purpose: "Realtime and Supavisor sessions",
    },
    SecretSpec {
        name: "VAULT_ENC_KEY",
        format: Format::LowerAlnum(32),
        purpose: "Supavisor's encryption of tenant settings",
    },
    SecretSpec {
        name: "PG_META_CRYPTO_KEY",
        format: Format::LowerAlnum(32),
        purpose: "Studio's encryption of connection strings",
    },
    SecretSpec {
        name: "LOGFLARE_PUBLIC_ACCESS_TOKEN",
        format: Format::LowerAlnum(32),
        purpose: "log ingestion",
    },
    SecretSpec {
        name: "LOGFLARE_PRIVATE_ACCESS_TOKEN",
        format: Format::LowerAlnum(32),
        purpose: "log queries and management",
    },
    SecretSpec {
        name: "S3_PROTOCOL_ACCESS_KEY_ID",
        format: Format::Hex(32),
        purpose: "Storage's S3 endpoint",
    },
    SecretSpec {
        name: "S3_PROTOCOL_ACCESS_KEY_SECRET",
        format: Format::Hex(64),
        purpose: "Storage's S3 endpoint",
    },
    SecretSpec {
        name: "MINIO_ROOT_PASSWORD",
        format: Format::LowerAlnum(32),
        purpose: "MinIO (when Storage uses it)",
    },
];

/// Secrets some templates have and others do not: regenerated when present.
pub const OPTIONAL_SECRETS: &[SecretSpec] = &[SecretSpec {
    name: "LOGFLARE_API_KEY",
    format: Format::LowerAlnum(32),
    purpose: "Logflare (older templates)",
}];

/// The spec of a secret variable, if it is one the generator knows.
pub fn spec(name: &str) -> Option<&'static SecretSpec> {
    SECRETS
        .iter()
        .chain(OPTIONAL_SECRETS)
        .find(|s| s.name == name)
}

/// Random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, SecretsError> {
    let mut buf = vec![0u8; n];
    OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| SecretsError::Rng(e.to_string()))?;
    Ok(buf)
}

/// `n` characters drawn uniformly from `alphabet` (rejection sampling).
fn random_from(alphabet: &[u8], n: usize) -> Result<String, SecretsError> {
    let size = alphabet.len();
    // The largest multiple of the alphabet size that fits in a byte.
    let limit = 256 - 256 % size;
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n * 2)? {
            if (b as usize) < limit {
                out.push(alphabet[b as usize % size] as char);
                if out.len() == n {
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// One random value in `format`.
pub fn random(format: Format) -> Result<String, SecretsError> {
    match format {
        Format::LowerAlnum(n) => random_from(LOWER_ALNUM, n),
        Format::Hex(n) => random_from(HEX, n),
        Format::Base64(n) => Ok(base64::engine::general_purpose::STANDARD.encode(random_bytes(n)?)),
    }
}

const ATTEMPTS: usize = 64;

/// A random value in `format` that passes every strength check (and, for
/// the dashboard password, contains a letter).
pub fn generate(format: Format) -> Result<String, SecretsError> {
    for _ in 0..ATTEMPTS {
        let v = random(format)?;
        let has_letter = v.chars().any(|c| c.is_ascii_alphabetic());
        if strength::weakness(&v).is_none() && has_letter {
            return Ok(v);
        }
    }
    Err(SecretsError::Exhausted(ATTEMPTS))
}

/// A new value for the named secret (its documented format).
pub fn generate_for(name: &str) -> Result<String, SecretsError> {
    let format = spec(name).map_or(Format::LowerAlnum(32), |s| s.format);
    generate(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_their_length_and_alphabet() {
        for _ in 0..200 {
            let a = generate(Format::LowerAlnum(32)).unwrap();
            assert_eq!(a.len(), 32);
            assert!(a.bytes().all(|b| LOWER_ALNUM.contains(&b)));
            let h = generate(Format::Hex(64)).unwrap();
            assert_eq!(h.len(), 64);
            assert!(h.bytes().all(|b| HEX.contains(&b)));
            let b = generate(Format::Base64(33)).unwrap();
            assert_eq!(b.len(), 44);
            assert!(!b.contains('='));
            assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(&b)
                    .unwrap()
                    .len(),
                33
            );
        }
        assert_eq!(Format::Base64(33).length(), 44);
    }

    #[test]
    fn every_character_of_the_alphabet_turns_up() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            seen.extend(generate(Format::LowerAlnum(32)).unwrap().chars());
        }
        assert_eq!(seen.len(), LOWER_ALNUM.len());
    }

    #[test]
    fn values_differ_and_carry_entropy() {
        let mut seen = std::collections::HashSet::new();
        for spec in SECRETS.iter().chain(OPTIONAL_SECRETS) {
            for _ in 0..50 {
                let v = generate_for(spec.name).unwrap();
                assert_eq!(v.len(), spec.format.length(), "{}", spec.name);
                assert!(strength::entropy_bits(&v) > 80.0, "{}", spec.name);
                assert!(seen.insert(v), "a repeated value");
            }
        }
    }
}
