//! PKCE (RFC 7636, method `S256`) and the random `state` of a sign-in: the
//! code verifier, its challenge, and the comparison of a returned state.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// The only challenge method sent: SHA-256 of the verifier.
pub const METHOD: &str = "S256";

/// A code verifier and its S256 challenge. The verifier stays in the process
/// until the token request; only the challenge goes into the browser URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A fresh verifier: 32 random bytes, base64url without padding
    /// (43 characters from the unreserved set RFC 7636 allows).
    pub fn generate() -> Self {
        Self::from_verifier(random_token())
    }

    /// The pair for a known verifier.
    pub fn from_verifier(verifier: impl Into<String>) -> Self {
        let verifier = verifier.into();
        let challenge = challenge_for(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }

    pub fn verifier(&self) -> &Secret {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `BASE64URL(SHA256(verifier))` without padding.
pub fn challenge_for(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random value for the `state` parameter (32 random bytes, base64url).
pub fn random_state() -> String {
    random_token()
}

/// True when `returned` is the `state` this sign-in sent, compared in
/// constant time.
pub fn state_matches(expected: &str, returned: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == returned.len() && bool::from(expected.as_bytes().ct_eq(returned.as_bytes()))
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_the_rfc_7636_example() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_random_and_well_formed() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert_ne!(a.verifier().expose(), b.verifier().expose());
        for p in [&a, &b] {
            let v = p.verifier().expose();
            assert!((43..=128).contains(&v.len()), "{}", v.len());
            assert!(
                v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
            );
            assert_eq!(p.challenge(), challenge_for(v));
            assert_ne!(p.challenge(), v);
        }
        assert_ne!(random_state(), random_state());
    }

    #[test]
    fn state_comparison() {
        assert!(state_matches("abc123", "abc123"));
        assert!(!state_matches("abc123", "abc124"));
        assert!(!state_matches("abc123", "abc1234"));
        assert!(!state_matches("abc123", ""));
    }
}
