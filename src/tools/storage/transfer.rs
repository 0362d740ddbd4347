//! `upload_object` and `download_object`: a local file streamed to or from
//! Storage through [`crate::api::StorageApi`]; file contents never pass
//! through the conversation. Downloads land in a temporary file next to the
//! destination and are renamed into place when complete; an existing file
//! is only replaced when asked (and confirmed). Both need the Storage API.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Via, check_bucket, check_key, readable, require_api, with_via};
use crate::api::{ObjectRoute, UploadOptions};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadArgs {
    pub bucket: String,
    /// Object path inside the bucket, e.g. `users/42/avatar.png`.
    pub path: String,
    /// Absolute path of the local file to upload.
    pub file: String,
    /// MIME type; guessed from the file extension when left out.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Replace an existing object at `path` (default false).
    #[serde(default)]
    pub upsert: bool,
    /// Cache-Control stored with the object, e.g. `max-age=3600`.
    #[serde(default)]
    pub cache_control: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadArgs {
    pub bucket: String,
    /// Object path inside the bucket.
    pub path: String,
    /// Absolute path of the local file to write.
    pub destination: String,
    /// Replace an existing local file (default false).
    #[serde(default)]
    pub overwrite: bool,
}

/// An absolute local path.
fn local_path(what: &str, p: &str) -> Result<PathBuf, ToolError> {
    let path = PathBuf::from(p.trim());
    if p.trim().is_empty() || !path.is_absolute() {
        return Err(ToolError::invalid(format!("`{what}` must be an absolute path, got `{p}`"))
            .suggestion("Pass the full path, such as /home/me/photo.png: the server's working directory is not the caller's."));
    }
    Ok(path)
}

/// The content type to store: the one given (checked), else a guess from
/// the extension, else `application/octet-stream`.
pub(crate) fn content_type(given: Option<&str>, file: &Path) -> Result<(String, bool), ToolError> {
    if let Some(t) = given.map(str::trim).filter(|t| !t.is_empty()) {
        let ok = t
            .split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            && !t
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() && c != ' ');
        if !ok {
            return Err(
                ToolError::invalid(format!("`content_type` `{t}` is not a MIME type")).suggestion(
                    "Pass a type like image/png, or leave it out to guess from the extension.",
                ),
            );
        }
        return Ok((t.to_owned(), false));
    }
    let guessed = mime_guess::from_path(file)
        .first()
        .map(|m| m.essence_str().to_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok((guessed, true))
}

/// Replacing an existing object is confirmed first.
pub(super) fn assess_upload(args: &Map<String, Value>) -> Option<String> {
    if args.get("upsert").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let bucket = args.get("bucket").and_then(Value::as_str).unwrap_or("?");
    let path = args.get("path").and_then(Value::as_str).unwrap_or("?");
    Some(format!(
        "upload with upsert: an existing object `{path}` in bucket `{bucket}` is replaced and its old content lost"
    ))
}

pub(super) async fn upload_object(call: Call, a: UploadArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let key = check_key("path", &a.path)?;
    let file = local_path("file", &a.file)?;
    let meta = tokio::fs::metadata(&file).await.map_err(|e| {
        ToolError::new(ErrorCode::Io, format!("cannot read `{}`", file.display()))
            .reason(e.to_string())
            .suggestion("Check the path and that the server's user may read the file.")
    })?;
    if !meta.is_file() {
        return Err(
            ToolError::invalid(format!("`{}` is not a regular file", file.display()))
                .suggestion("Pass the path of one file; upload a folder's files one by one."),
        );
    }
    let (content_type, guessed) = content_type(a.content_type.as_deref(), &file)?;
    let cache_control = a
        .cache_control
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if let Some(cc) = cache_control
        && cc.chars().any(char::is_control)
    {
        return Err(
            ToolError::invalid("`cache_control` contains a control character")
                .suggestion("Pass a value like max-age=3600."),
        );
    }
    let api = require_api(&call, "uploading a file")?;
    let options = UploadOptions {
        content_type: content_type.clone(),
        upsert: a.upsert,
        cache_control: cache_control.map(str::to_owned),
    };
    let answer = api
        .upload_object(&bucket, &key, &file, &options)
        .await
        .map_err(|e| {
            let text = e.message().to_lowercase();
            let err = ToolError::from(e);
            if text.contains("already exists") || text.contains("duplicate") {
                err.suggestion("An object already has this path; pass upsert: true to replace it, or pick another path.")
            } else if text.contains("mime") || text.contains("too large") || text.contains("size") {
                err.suggestion("The bucket's rules refuse this file (type or size); get_bucket shows its allowed_mime_types and file_size_limit.")
            } else {
                err
            }
        })?;
    let size = i64::try_from(meta.len()).ok();
    Ok(ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "path": key,
            "size": size,
            "size_readable": readable(size),
            "content_type": content_type,
            "content_type_guessed": guessed,
            "upsert": a.upsert,
            "key": answer.get("Key").cloned().unwrap_or(Value::Null),
            "id": answer.get("Id").cloned().unwrap_or(Value::Null),
        }),
        Via::Api,
    )))
}

/// Replacing an existing local file is confirmed first.
pub(super) fn assess_download(args: &Map<String, Value>) -> Option<String> {
    if args.get("overwrite").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let dest = args.get("destination").and_then(Value::as_str)?;
    Path::new(dest).exists().then(|| {
        format!("download over the existing local file `{dest}`: its current content is replaced")
    })
}

pub(super) async fn download_object(call: Call, a: DownloadArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let key = check_key("path", &a.path)?;
    let dest = local_path("destination", &a.destination)?;
    if dest.is_dir() {
        return Err(
            ToolError::invalid(format!("`{}` is a directory", dest.display()))
                .suggestion("Pass the path of the file to create, including its name."),
        );
    }
    if dest.exists() && !a.overwrite {
        return Err(
            ToolError::invalid(format!("`{}` already exists", dest.display()))
                .suggestion("Pass another destination, or overwrite: true to replace it."),
        );
    }
    match dest.parent() {
        Some(dir) if dir.is_dir() => {}
        _ => {
            return Err(ToolError::invalid(format!(
                "the folder of `{}` does not exist",
                dest.display()
            ))
            .suggestion("Create the folder first, or pass a path in an existing one."));
        }
    }
    let api = require_api(&call, "downloading a file")?;
    let got = api
        .download_object(&bucket, &key, &dest, ObjectRoute::Direct)
        .await?;
    let size = i64::try_from(got.bytes).ok();
    Ok(ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "path": key,
            "written_to": got.path.display().to_string(),
            "size": size,
            "size_readable": readable(size),
            "content_type": got.content_type,
        }),
        Via::Api,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_guessed_or_checked() {
        let p = Path::new("/x/photo.PNG");
        assert_eq!(content_type(None, p).unwrap(), ("image/png".into(), true));
        assert_eq!(
            content_type(None, Path::new("/x/noext")).unwrap(),
            ("application/octet-stream".into(), true)
        );
        assert_eq!(
            content_type(Some("text/csv"), p).unwrap(),
            ("text/csv".into(), false)
        );
        assert!(content_type(Some("png"), p).is_err());
    }

    #[test]
    fn local_paths_must_be_absolute() {
        assert!(local_path("file", "rel/x").is_err());
        assert!(local_path("file", "").is_err());
        assert!(local_path("file", "/tmp/x").is_ok());
    }

    #[test]
    fn only_replacing_is_confirmed() {
        let args = |v: Value| v.as_object().unwrap().clone();
        assert!(assess_upload(&args(json!({"bucket": "b", "path": "k"}))).is_none());
        assert!(
            assess_upload(&args(json!({"bucket": "b", "path": "k", "upsert": true}))).is_some()
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let a = args(json!({"destination": f.display().to_string(), "overwrite": true}));
        assert!(assess_download(&a).is_none());
        std::fs::write(&f, b"x").unwrap();
        assert!(assess_download(&a).is_some());
    }
}
