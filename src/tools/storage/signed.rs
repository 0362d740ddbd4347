//! `create_signed_urls`: time-limited download URLs for one or many objects.
//! A signed URL is a credential: whoever holds it can download the object
//! until it expires. Returning it is the tool's purpose, so it is returned,
//! but its lifetime is capped at 7 days and the result says so.

use std::num::NonZeroU64;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Via, check_bucket, check_key, require_api, with_via};
use crate::api::generated::storage::types::SignObjectsRequest;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;

/// The longest lifetime handed out: 7 days.
pub const MAX_EXPIRY_SECS: u64 = 7 * 24 * 3600;
/// Lifetime when none is given: 1 hour.
pub const DEFAULT_EXPIRY_SECS: u64 = 3600;
/// Most paths signed in one call.
const MAX_PATHS: usize = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignArgs {
    pub bucket: String,
    /// Object paths to sign (1 to 1000).
    pub paths: Vec<String>,
    /// Lifetime in seconds (default 3600; at most 604800 = 7 days).
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The lifetime to ask for and whether it was capped.
pub(crate) fn expiry(given: Option<u64>) -> Result<(u64, bool), ToolError> {
    match given {
        None => Ok((DEFAULT_EXPIRY_SECS, false)),
        Some(0) => Err(ToolError::invalid("`expires_in` is 0")
            .suggestion("Pass a lifetime in seconds, e.g. 3600 for one hour.")),
        Some(n) if n > MAX_EXPIRY_SECS => Ok((MAX_EXPIRY_SECS, true)),
        Some(n) => Ok((n, false)),
    }
}

pub(super) async fn create_signed_urls(call: Call, a: SignArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    if a.paths.is_empty() {
        return Err(
            ToolError::invalid("`paths` is empty").suggestion("Pass at least one object path.")
        );
    }
    if a.paths.len() > MAX_PATHS {
        return Err(ToolError::invalid(format!(
            "`paths` has {} entries; at most {MAX_PATHS} per call",
            a.paths.len()
        ))
        .suggestion("Split the list into several calls."));
    }
    let mut keys: Vec<String> = Vec::with_capacity(a.paths.len());
    for p in &a.paths {
        let k = check_key("paths", p)?;
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let (secs, capped) = expiry(a.expires_in)?;
    let api = require_api(&call, "signing URLs")?;
    let body = SignObjectsRequest {
        expires_in: NonZeroU64::new(secs).unwrap_or(NonZeroU64::MIN),
        paths: keys.clone(),
    };
    let items = api.call(|c| c.create_signed_urls(&bucket, &body)).await?;
    let base = api.base_url().as_str().trim_end_matches('/').to_owned();
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(secs as i64);
    let mut failed = 0usize;
    let urls: Vec<Value> = items
        .iter()
        .map(|i| match (&i.signed_url, &i.error) {
            (Some(u), None) => json!({"path": i.path, "signed_url": absolute(&base, u)}),
            (_, e) => {
                failed += 1;
                json!({"path": i.path, "error": e.clone().unwrap_or_else(|| "no URL returned".into())})
            }
        })
        .collect();
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "expires_in": secs,
            "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "urls": urls,
            "note": "Each URL lets anyone who holds it download the object until it expires; share it only with its intended reader. \
                     Signed URLs cannot be revoked early, except by moving or deleting the object.",
        }),
        Via::Api,
    ));
    if capped {
        out = out.warn(format!(
            "expires_in was capped at {MAX_EXPIRY_SECS} s (7 days): longer-lived links are too risky to hand out"
        ));
    }
    if failed > 0 {
        out = out.warn(format!(
            "{failed} path(s) could not be signed (see `error`; paths are case-sensitive)"
        ));
    }
    Ok(out)
}

/// A signed URL as Storage returns it (relative to `/storage/v1`) made absolute.
fn absolute(base: &str, signed: &str) -> String {
    if signed.starts_with("http://") || signed.starts_with("https://") {
        return signed.to_owned();
    }
    format!("{base}/{}", signed.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_capped_at_seven_days() {
        assert_eq!(expiry(None).unwrap(), (3600, false));
        assert_eq!(expiry(Some(60)).unwrap(), (60, false));
        assert_eq!(
            expiry(Some(MAX_EXPIRY_SECS)).unwrap(),
            (MAX_EXPIRY_SECS, false)
        );
        assert_eq!(
            expiry(Some(MAX_EXPIRY_SECS + 1)).unwrap(),
            (MAX_EXPIRY_SECS, true)
        );
        assert!(expiry(Some(0)).is_err());
    }

    #[test]
    fn urls_are_made_absolute() {
        assert_eq!(
            absolute("http://h/storage/v1", "/object/sign/b/k?token=t"),
            "http://h/storage/v1/object/sign/b/k?token=t"
        );
        assert_eq!(
            absolute("http://h/storage/v1", "https://x/y"),
            "https://x/y"
        );
    }
}
