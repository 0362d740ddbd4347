//! Secret values (keys, tokens, passwords, URLs with passwords) and the
//! redactor that scrubs every configured secret out of text before it can
//! reach a log, an error, a tool result or the audit log.

use std::fmt;
use std::sync::{Arc, RwLock};

use serde::{Serialize, Serializer};

/// Text shown in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// A secret string. `Debug`, `Display` and `Serialize` never show the value;
/// only [`Secret::expose`] does, and only code that hands the value to a
/// connection or HTTP header should call it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself. Never log or return it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Replaces every known secret value inside arbitrary text.
///
/// Values shorter than 4 characters are ignored: replacing them would mangle
/// ordinary text and they are not worth hiding from a determined reader anyway.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<RwLock<Vec<String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").finish_non_exhaustive()
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret. The password inside a connection URL is registered
    /// on its own as well, so text that quotes only the password is scrubbed.
    pub fn add(&self, secret: &Secret) {
        let mut extra = Vec::new();
        let raw = secret.expose();
        if let Ok(url) = url::Url::parse(raw)
            && url.has_host()
        {
            match url.password() {
                Some(pw) => {
                    extra.push(pw.to_owned());
                    if let Ok(decoded) = percent_decode(pw) {
                        extra.push(decoded);
                    }
                }
                // A URL with no password and no secret-looking query holds
                // nothing to hide: hiding it would only blank out host names.
                None if !url
                    .query()
                    .is_some_and(|q| q.to_ascii_lowercase().contains("password")) =>
                {
                    return;
                }
                None => {}
            }
        }
        if let Ok(mut values) = self.values.write() {
            for v in std::iter::once(raw.to_owned()).chain(extra) {
                if v.len() >= 4 && !values.contains(&v) {
                    values.push(v);
                }
            }
            // Longest first, so a URL is replaced before the password inside it.
            values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    /// Returns `text` with every registered secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let Ok(values) = self.values.read() else {
            return text.to_owned();
        };
        let mut out = text.to_owned();
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }

    /// Scrubs every string inside a JSON value, in place.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                let scrubbed = self.scrub(s);
                if scrubbed != *s {
                    *s = scrubbed;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.scrub_json(v)),
            _ => {}
        }
    }

    /// True when `text` contains any registered secret.
    pub fn leaks(&self, text: &str) -> bool {
        self.values
            .read()
            .map(|values| values.iter().any(|v| text.contains(v.as_str())))
            .unwrap_or(false)
    }
}

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
}

fn hex(b: Option<&u8>) -> Option<u8> {
    match b? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Names of JSON keys whose values are treated as secrets wherever they appear
/// (tool arguments in the audit log, configuration dumps).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "apikey",
        "api_key",
        "service_role_key",
        "anon_key",
        "authorization",
        "private_key",
        "jwt",
    ]
    .iter()
    .any(|needle| k.contains(needle))
        && k != "confirmation_token"
}

/// Replaces the values of secret-named keys with [`REDACTED`], recursively.
pub fn redact_secret_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_null() {
                    *v = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact_secret_keys(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_secret_keys),
        _ => {}
    }
}

/// Shows a connection URL with its password replaced, for messages.
pub fn mask_url_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), REDACTED);
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            format!("\"{REDACTED}\"")
        );
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redactor_scrubs_urls_and_passwords() {
        let r = Redactor::new();
        r.add(&Secret::new("postgres://u:p%40ssw0rd@host/db"));
        r.add(&Secret::new("eyJhbGciOi.key"));
        let text = "failed for postgres://u:p%40ssw0rd@host/db with p@ssw0rd and eyJhbGciOi.key";
        let out = r.scrub(text);
        assert!(!out.contains("p%40ssw0rd"));
        assert!(!out.contains("p@ssw0rd"));
        assert!(!out.contains("eyJhbGciOi.key"));
        assert!(r.leaks(text));
        assert!(!r.leaks(&out));
    }

    #[test]
    fn urls_without_password_are_not_secrets() {
        let r = Redactor::new();
        r.add(&Secret::new("postgres://postgres@127.0.0.1:5432/postgres"));
        assert_eq!(
            r.scrub("postgres@127.0.0.1:5432/postgres"),
            "postgres@127.0.0.1:5432/postgres"
        );
        r.add(&Secret::new("postgres://u@h/d?password=abcdef"));
        assert!(
            !r.scrub("x postgres://u@h/d?password=abcdef")
                .contains("abcdef")
        );
    }

    #[test]
    fn short_values_are_not_registered() {
        let r = Redactor::new();
        r.add(&Secret::new("ab"));
        assert_eq!(r.scrub("abc"), "abc");
    }

    #[test]
    fn secret_keys_are_redacted_recursively() {
        let mut v = serde_json::json!({"password": "x", "nested": {"service_role_key": "y", "name": "n"},
            "confirmation_token": "keep"});
        redact_secret_keys(&mut v);
        assert_eq!(v["password"], REDACTED);
        assert_eq!(v["nested"]["service_role_key"], REDACTED);
        assert_eq!(v["nested"]["name"], "n");
        assert_eq!(v["confirmation_token"], "keep");
    }

    #[test]
    fn masks_url_password() {
        assert_eq!(
            mask_url_password("postgres://u:pw@h:5432/d"),
            "postgres://u:***@h:5432/d"
        );
        assert_eq!(mask_url_password("postgres://u@h/d"), "postgres://u@h/d");
    }
}
