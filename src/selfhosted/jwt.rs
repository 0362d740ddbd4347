//! Supabase's legacy API keys: HS256 JWTs with a `role` claim (`anon` or
//! `service_role`), issuer `supabase`, `iat` and `exp`, signed with
//! `JWT_SECRET` used as raw bytes (as GoTrue, PostgREST and Realtime read
//! it). Decoding reads header and claims without verifying anything;
//! verification checks the HS256 signature; signing makes new keys.
//! Nothing here ever puts a token or a secret into an error message.

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Map, Value};

/// Issuer of keys Supabase expects.
pub const ISSUER: &str = "supabase";
/// Validity of generated keys by default.
pub const DEFAULT_YEARS: u32 = 5;
/// Longest validity accepted.
pub const MAX_YEARS: u32 = 50;
const YEAR_SECS: i64 = 365 * 24 * 3600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the key is signed with {0}; Supabase's JWT_SECRET keys use HS256")]
    Algorithm(String),
    #[error("the signature does not match the JWT secret")]
    Signature,
    #[error("the JWT secret is empty")]
    EmptySecret,
    #[error("validity must be 1 to {MAX_YEARS} years, not {0}")]
    Years(u32),
    #[error("JWT signing is unavailable in this build: {0}")]
    Crypto(String),
}

/// The role a key grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Anon,
    ServiceRole,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anon => "anon",
            Role::ServiceRole => "service_role",
        }
    }

    /// The `.env` variable holding this role's key.
    pub fn variable(self) -> &'static str {
        match self {
            Role::Anon => "ANON_KEY",
            Role::ServiceRole => "SERVICE_ROLE_KEY",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "anon" => Some(Role::Anon),
            "service_role" => Some(Role::ServiceRole),
            _ => None,
        }
    }
}

/// A token's header and claims, read without verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl Decoded {
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
    pub fn role(&self) -> Option<&str> {
        self.claims.get("role").and_then(Value::as_str)
    }
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
    pub fn iat(&self) -> Option<i64> {
        self.claims.get("iat").and_then(Value::as_i64)
    }
    pub fn exp(&self) -> Option<i64> {
        self.claims.get("exp").and_then(Value::as_i64)
    }

    /// Header, claims, and readable times: what `decode_jwt` shows.
    pub fn describe(&self, now: i64) -> Value {
        let mut out = Map::new();
        out.insert("header".into(), Value::Object(self.header.clone()));
        out.insert("claims".into(), Value::Object(self.claims.clone()));
        if let Some(iat) = self.iat() {
            out.insert("issued_at".into(), Value::from(iso(iat)));
        }
        match self.exp() {
            Some(exp) => {
                out.insert("expires_at".into(), Value::from(iso(exp)));
                out.insert("expired".into(), Value::Bool(exp <= now));
                out.insert("expires_in_days".into(), Value::from((exp - now) / 86_400));
            }
            None => {
                out.insert("expired".into(), Value::Bool(false));
            }
        }
        out.insert("looks_like".into(), Value::from(self.looks_like()));
        Value::Object(out)
    }

    /// A short verdict on the claims: a Supabase key, a Dokploy-generated
    /// key, or something else.
    pub fn looks_like(&self) -> &'static str {
        match (self.role(), self.issuer()) {
            (_, Some("dokploy")) => {
                "a key from Dokploy's generator (issuer `dokploy`): regenerate it"
            }
            (None, _) => "a JWT without a `role` claim: Supabase will reject it as an API key",
            (Some("anon"), Some(ISSUER)) => "a Supabase anon key",
            (Some("service_role"), Some(ISSUER)) => "a Supabase service_role key",
            (Some("anon" | "service_role"), Some("supabase-demo")) => {
                "a Supabase demo key from the template: public, regenerate it"
            }
            (Some("anon" | "service_role"), _) => "a Supabase API key with an unusual issuer",
            (Some("authenticated"), _) => "a user session token",
            _ => "a JWT with a role Supabase's API keys do not use",
        }
    }
}

/// What makes a key unusable as a Supabase API key (problems), and what
/// is merely unusual (notes). The signature is judged by [`verify`].
pub fn judge(d: &Decoded, expected: Option<Role>, now: i64) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    match (d.role(), expected) {
        (None, _) => problems.push("no `role` claim".to_owned()),
        (Some(r), Some(want)) if r != want.as_str() => {
            problems.push(format!("role is `{r}`, expected `{}`", want.as_str()));
        }
        _ => {}
    }
    if let Some(exp) = d.exp()
        && exp <= now
    {
        problems.push(format!("expired on {}", iso(exp)));
    }
    if d.issuer() != Some(ISSUER) {
        notes.push(format!(
            "issuer is {}; Supabase's keys use `supabase`",
            d.issuer()
                .map_or("missing".to_owned(), |i| format!("`{i}`"))
        ));
    }
    if d.exp().is_none() {
        notes.push("no `exp` claim: the key never expires".to_owned());
    }
    (problems, notes)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time.
pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn part(seg: &str, what: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed(what))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed(what)),
    }
}

/// Reads header and claims. Verifies nothing.
pub fn decode(token: &str) -> Result<Decoded, JwtError> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Malformed(
            "a JWT has three base64url parts separated by dots",
        ));
    }
    if parts[2].is_empty() {
        return Err(JwtError::Malformed("the signature part is empty"));
    }
    Ok(Decoded {
        header: part(parts[0], "the header is not base64url-encoded JSON")?,
        claims: part(parts[1], "the claims are not base64url-encoded JSON")?,
    })
}

fn provider_ready() -> Result<(), JwtError> {
    if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
        return Err(JwtError::Crypto("no crypto provider".into()));
    }
    Ok(())
}

/// Checks the HS256 signature of `token` with `secret` (claims are not
/// judged here: see the rules).
pub fn verify(token: &str, secret: &[u8]) -> Result<Decoded, JwtError> {
    let decoded = decode(token)?;
    match decoded.alg() {
        Some("HS256") => {}
        Some(other) => return Err(JwtError::Algorithm(other.to_owned())),
        None => return Err(JwtError::Malformed("the header has no `alg`")),
    }
    if secret.is_empty() {
        return Err(JwtError::EmptySecret);
    }
    provider_ready()?;
    let key = DecodingKey::from_secret(secret).map_err(|e| JwtError::Crypto(e.to_string()))?;
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.validate_nbf = false;
    v.required_spec_claims.clear();
    match jsonwebtoken::decode::<Value>(token.trim(), &key, &v) {
        Ok(_) => Ok(decoded),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => JwtError::Signature,
            ErrorKind::InvalidAlgorithm => JwtError::Algorithm("another algorithm".into()),
            ErrorKind::Provider(p) => JwtError::Crypto(p.clone()),
            _ => JwtError::Malformed("the token could not be read"),
        }),
    }
}

/// True when `token` is an HS256 JWT signed with `secret`.
pub fn signed_with(token: &str, secret: &[u8]) -> bool {
    verify(token, secret).is_ok()
}

#[derive(Serialize)]
struct Claims<'a> {
    role: &'a str,
    iss: &'a str,
    iat: i64,
    exp: i64,
}

/// A new API key for `role`: `{role, iss: "supabase", iat, exp}`, HS256.
pub fn sign(role: Role, secret: &[u8], iat: i64, exp: i64) -> Result<String, JwtError> {
    if secret.is_empty() {
        return Err(JwtError::EmptySecret);
    }
    provider_ready()?;
    let claims = Claims {
        role: role.as_str(),
        iss: ISSUER,
        iat,
        exp,
    };
    let key = EncodingKey::from_secret(secret).map_err(|e| JwtError::Crypto(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| JwtError::Crypto(e.to_string()))
}

/// `iat` (now) and `exp` (`years` later).
pub fn validity(years: u32) -> Result<(i64, i64), JwtError> {
    if years == 0 || years > MAX_YEARS {
        return Err(JwtError::Years(years));
    }
    let iat = now();
    Ok((iat, iat + i64::from(years) * YEAR_SECS))
}

/// Both API keys, signed with `secret`, valid for `years`.
pub fn sign_pair(secret: &[u8], years: u32) -> Result<(String, String), JwtError> {
    let (iat, exp) = validity(years)?;
    Ok((
        sign(Role::Anon, secret, iat, exp)?,
        sign(Role::ServiceRole, secret, iat, exp)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-secret-that-is-long-enough-0123456789";

    #[test]
    fn signs_and_verifies_supabase_keys() {
        let (anon, service) = sign_pair(SECRET, 5).unwrap();
        assert_ne!(anon, service);
        let a = verify(&anon, SECRET).unwrap();
        assert_eq!(a.role(), Some("anon"));
        assert_eq!(a.issuer(), Some("supabase"));
        assert_eq!(a.alg(), Some("HS256"));
        let s = verify(&service, SECRET).unwrap();
        assert_eq!(s.role(), Some("service_role"));
        let (iat, exp) = (s.iat().unwrap(), s.exp().unwrap());
        assert_eq!(exp - iat, 5 * YEAR_SECS);
        assert!((iat - now()).abs() < 60);
        // Claims are in Supabase's order.
        let keys: Vec<&String> = a.claims.keys().collect();
        assert_eq!(keys, ["role", "iss", "iat", "exp"]);
    }

    #[test]
    fn wrong_secret_and_tampering_fail() {
        let anon = sign(Role::Anon, SECRET, 1, 2).unwrap();
        assert_eq!(verify(&anon, b"another-secret"), Err(JwtError::Signature));
        let mut parts: Vec<String> = anon.split('.').map(str::to_owned).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"role":"service_role","iss":"supabase","iat":1,"exp":2}"#);
        assert_eq!(verify(&parts.join("."), SECRET), Err(JwtError::Signature));
        assert_eq!(sign(Role::Anon, b"", 1, 2), Err(JwtError::EmptySecret));
    }

    #[test]
    fn decode_reports_shape_problems_without_quoting_the_token() {
        for bad in ["", "abc", "a.b", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9.%%%.sig"] {
            let e = decode(bad).unwrap_err();
            assert!(matches!(e, JwtError::Malformed(_)), "{bad}");
            if !bad.is_empty() {
                assert!(!e.to_string().contains(bad), "{bad}");
            }
        }
        let none = format!(
            "{}.{}.sig",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"role":"anon"}"#)
        );
        assert_eq!(
            verify(&none, SECRET),
            Err(JwtError::Algorithm("none".into()))
        );
    }

    #[test]
    fn describes_dokploy_and_demo_keys() {
        let d = Decoded {
            header: Map::new(),
            claims: serde_json::json!({"iss": "dokploy", "iat": 1, "exp": 2})
                .as_object()
                .cloned()
                .unwrap(),
        };
        assert!(d.looks_like().contains("Dokploy"));
        let v = d.describe(10);
        assert_eq!(v["expired"], true);
        assert_eq!(v["expires_at"], "1970-01-01T00:00:02Z");
    }

    #[test]
    fn years_are_bounded() {
        assert_eq!(validity(0), Err(JwtError::Years(0)));
        assert_eq!(validity(51), Err(JwtError::Years(51)));
        assert!(validity(50).is_ok());
    }
}
