//! The `storage` group's tools for a project's Storage service: buckets,
//! objects, signed URLs, policies and metrics (Storage API, or SQL on the
//! `storage` schema where the API cannot be reached).
//!
//! Path choice: the Storage API when the instance has a Supabase URL and a
//! service role key; reads (listing, info, metrics) fall back to SQL on the
//! `storage` schema when only a database path is configured, and metrics
//! fall back to the API when SQL is refused. Every result says which path
//! answered (`"via": "api"` or `"sql"`). Uploads, downloads and every
//! change to buckets or objects need the API: the SQL path cannot touch the
//! stored files.

mod buckets;
mod metrics;
mod objects;
mod policies;
mod signed;
mod sqlpath;
mod transfer;

use serde_json::Value;

use super::{Kind, ToolDef, tool};
use crate::api::StorageApi;
use crate::config::Instance;
use crate::db::backend::Backend;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError};
use crate::server::call::Call;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_buckets", Group::Storage, Kind::Read)
            .title("List buckets")
            .description("Storage buckets with visibility, size limit and allowed MIME types (Storage API or SQL).")
            .handler(buckets::list_buckets),
        tool("get_bucket", Group::Storage, Kind::Read)
            .title("Get a bucket")
            .description("One storage bucket's settings.")
            .handler(buckets::get_bucket),
        tool("create_bucket", Group::Storage, Kind::Write)
            .title("Create a bucket")
            .description("Create a storage bucket (private unless `public`), with optional size limit and MIME types.")
            .assess(buckets::assess_create)
            .handler(buckets::create_bucket),
        tool("update_bucket", Group::Storage, Kind::Write)
            .title("Update a bucket")
            .description("Change a bucket's visibility, size limit or allowed MIME types.")
            .idempotent(true)
            .assess(buckets::assess_update)
            .handler(buckets::update_bucket),
        tool("empty_bucket", Group::Storage, Kind::Destructive)
            .title("Empty a bucket")
            .description("Delete every object in a bucket (the bucket stays).")
            .assess(buckets::assess_empty)
            .handler(buckets::empty_bucket),
        tool("delete_bucket", Group::Storage, Kind::Destructive)
            .title("Delete a bucket")
            .description("Delete a bucket; refused while it holds objects unless `empty_first`.")
            .assess(buckets::assess_delete)
            .handler(buckets::delete_bucket),
        tool("list_objects", Group::Storage, Kind::Read)
            .title("List objects")
            .description("Objects and folders directly under a prefix in a bucket, with size and type.")
            .handler(objects::list_objects),
        tool("get_object_info", Group::Storage, Kind::Read)
            .title("Get object info")
            .description("One object's metadata (size, type, timestamps) without its content.")
            .handler(objects::get_object_info),
        tool("upload_object", Group::Storage, Kind::Write)
            .title("Upload an object")
            .description("Upload a local file into a bucket, streamed from disk (Storage API).")
            .long_running()
            .assess(transfer::assess_upload)
            .handler(transfer::upload_object),
        tool("download_object", Group::Storage, Kind::Write)
            .title("Download an object")
            .description("Download an object to a local file, streamed; never overwrites unless asked.")
            .read_only_capable()
            .idempotent(true)
            .long_running()
            .assess(transfer::assess_download)
            .handler(transfer::download_object),
        tool("move_object", Group::Storage, Kind::Write)
            .title("Move an object")
            .description("Rename an object, optionally into another bucket.")
            .handler(objects::move_object),
        tool("copy_object", Group::Storage, Kind::Write)
            .title("Copy an object")
            .description("Copy an object to a new key, optionally into another bucket.")
            .handler(objects::copy_object),
        tool("delete_objects", Group::Storage, Kind::Destructive)
            .title("Delete objects")
            .description("Delete one or more objects from a bucket by key.")
            .assess(objects::assess_delete)
            .handler(objects::delete_objects),
        tool("create_signed_urls", Group::Storage, Kind::Read)
            .title("Create signed URLs")
            .description("Time-limited download URLs for objects (at most 7 days); anyone holding one can download.")
            .idempotent(false)
            .handler(signed::create_signed_urls),
        tool("list_storage_policies", Group::Storage, Kind::Read)
            .title("List storage policies")
            .description("RLS policies on storage.objects and storage.buckets, restated in plain words.")
            .handler(policies::list_storage_policies),
        tool("create_storage_policy", Group::Storage, Kind::Write)
            .title("Create a storage policy")
            .description("Add an RLS policy for a bucket from a template; shows the SQL for confirmation first.")
            .assess(policies::assess_create)
            .handler(policies::create_storage_policy),
        tool("storage_metrics", Group::Storage, Kind::Read)
            .title("Storage metrics")
            .description("Object count and total size per bucket, and the largest objects.")
            .handler(metrics::storage_metrics),
    ]
}

/// Which path answered a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Api,
    Sql,
}

impl Via {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Sql => "sql",
        }
    }
}

/// Where a read goes.
pub(crate) enum Source {
    Api(StorageApi),
    Sql(Backend),
}

/// True when the Storage API can be used (Supabase URL + service role key).
pub(crate) fn api_configured(inst: &Instance) -> bool {
    inst.supabase_url.is_some() && inst.service_role_key.is_some()
}

/// True when a database path other than the REST RPC is configured.
pub(crate) fn sql_configured(inst: &Instance) -> bool {
    inst.db_url.is_some() || inst.pooler_url.is_some() || inst.access_token.is_some()
}

fn nothing_configured(inst: &Instance) -> ToolError {
    ToolError::new(
        ErrorCode::NotConfigured,
        format!(
            "instance `{}` has neither the Storage API nor a database configured",
            inst.name
        ),
    )
    .suggestion(
        "Pass --supabase-url and --service-role-key for the Storage API, or --db-url to read the storage schema.",
    )
}

/// The path of a read: the API when configured, else SQL.
pub(crate) async fn read_source(call: &Call) -> Result<Source, ToolError> {
    if api_configured(&call.instance) {
        return Ok(Source::Api(call.state.clients.storage(&call.instance)?));
    }
    if sql_configured(&call.instance) {
        return Ok(Source::Sql(call.sql().await?));
    }
    Err(nothing_configured(&call.instance))
}

/// The Storage API client, for what only the API can do (`what`).
pub(crate) fn require_api(call: &Call, what: &str) -> Result<StorageApi, ToolError> {
    if !api_configured(&call.instance) {
        let mut e = ToolError::new(
            ErrorCode::NotConfigured,
            format!("{what} needs the Storage API, which is not configured for instance `{}`", call.instance.name),
        )
        .suggestion(
            "Pass --supabase-url and --service-role-key (or --env-file with SUPABASE_PUBLIC_URL and SERVICE_ROLE_KEY).",
        );
        if sql_configured(&call.instance) {
            e = e.reason(
                "the database connection only reaches the storage schema's rows, not the stored files; \
                 changing rows directly would leave files and rows out of step",
            );
        }
        return Err(e);
    }
    call.state.clients.storage(&call.instance)
}

/// Adds `"via"` to a JSON object.
pub(crate) fn with_via(mut v: Value, via: Via) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.insert("via".into(), Value::from(via.as_str()));
    }
    v
}

/// Longest bucket name Storage accepts.
const MAX_BUCKET_NAME: usize = 100;
/// Longest object key Storage accepts (bytes).
const MAX_KEY_BYTES: usize = 1024;

/// A character Storage accepts in bucket names (besides letters, digits
/// and `_`).
fn bucket_punct(c: char) -> bool {
    "!-.*'() &$@=;:+,?".contains(c)
}

/// Checks a bucket name the way Storage does: 1 to 100 characters, ASCII
/// letters, digits, spaces and `_ ! - . * ' ( ) & $ @ = ; : + , ?`.
pub(crate) fn check_bucket(name: &str) -> Result<String, ToolError> {
    let fix = "Use 1 to 100 characters: letters, digits, spaces and _ ! - . * ' ( ) & $ @ = ; : + , ? \
               (lowercase with dashes, like `user-avatars`, is safest).";
    if name.is_empty() {
        return Err(ToolError::invalid("`bucket` is empty").suggestion(fix));
    }
    if name.chars().count() > MAX_BUCKET_NAME {
        return Err(ToolError::invalid(format!(
            "bucket name is {} characters; Storage accepts at most {MAX_BUCKET_NAME}",
            name.chars().count()
        ))
        .suggestion(fix));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || bucket_punct(c)))
    {
        return Err(ToolError::invalid(format!(
            "bucket name `{}` contains {c:?}, which Storage does not accept",
            name.escape_debug()
        ))
        .suggestion(fix));
    }
    if name.trim() != name {
        return Err(
            ToolError::invalid("bucket name starts or ends with a space")
                .suggestion("Remove the leading and trailing spaces."),
        );
    }
    Ok(name.to_owned())
}

/// Checks an object key (its path inside the bucket).
pub(crate) fn check_key(what: &str, key: &str) -> Result<String, ToolError> {
    let fix = "Pass the object's path inside the bucket, such as `folder/cat.png` \
               (no leading or trailing `/`, no empty, `.` or `..` parts).";
    if key.is_empty() {
        return Err(ToolError::invalid(format!("`{what}` is empty")).suggestion(fix));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ToolError::invalid(format!(
            "`{what}` is {} bytes; Storage accepts keys of at most {MAX_KEY_BYTES}",
            key.len()
        ))
        .suggestion("Use a shorter path."));
    }
    if key.chars().any(char::is_control) {
        return Err(
            ToolError::invalid(format!("`{what}` contains a control character")).suggestion(fix),
        );
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(
            ToolError::invalid(format!("`{what}` `{key}` is not a valid object key"))
                .suggestion(fix),
        );
    }
    Ok(key.to_owned())
}

/// A human size next to a byte count, when known.
pub(crate) fn readable(bytes: Option<i64>) -> Value {
    match bytes.and_then(|b| u64::try_from(b).ok()) {
        Some(b) => Value::from(super::cloud_storage::human_bytes(b)),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_storage_rules() {
        for ok in ["avatars", "user-avatars", "A_b.c", "with space", "x(1)&y"] {
            assert_eq!(check_bucket(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "a/b",
            "é",
            "a\\b",
            "tab\there",
            " lead",
            "trail ",
            "a#b",
            "a%b",
        ] {
            assert!(check_bucket(bad).is_err(), "{bad:?}");
        }
        assert!(check_bucket(&"a".repeat(100)).is_ok());
        assert!(check_bucket(&"a".repeat(101)).is_err());
    }

    #[test]
    fn object_keys_are_checked() {
        assert!(check_key("path", "folder/cat.png").is_ok());
        assert!(check_key("path", "a b/ü.txt").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a/./b", "../x", "a\nb"] {
            assert!(check_key("path", bad).is_err(), "{bad:?}");
        }
        assert!(check_key("path", &"k".repeat(1025)).is_err());
    }
}
