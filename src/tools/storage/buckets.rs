//! Bucket tools: `list_buckets`, `get_bucket` (API, or SQL on
//! `storage.buckets`), `create_bucket`, `update_bucket`, `empty_bucket` and
//! `delete_bucket` (API only). Emptying and deleting are confirmed first;
//! a bucket that still holds objects is only deleted with `empty_first`.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Source, Via, check_bucket, read_source, readable, require_api, sqlpath, with_via};
use crate::api::generated::storage::types::{
    Bucket, CreateBucketRequest, FileSizeLimit, ListBucketsSortColumn, ListBucketsSortOrder,
    ListObjectsRequest, UpdateBucketRequest,
};
use crate::api::{CallOptions, StorageApi};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

/// Largest page of buckets.
const MAX_LIMIT: u64 = 1000;
/// How often `delete_bucket` with `empty_first` looks whether emptying finished.
const EMPTY_POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only buckets whose name contains this text.
    #[serde(default)]
    pub search: Option<String>,
    /// 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub offset: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketArgs {
    /// Bucket name (its id).
    pub bucket: String,
}

// A size limit: bytes, or text such as `50MB` (no doc comment: it would
// repeat in every schema that uses it).
#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
#[schemars(inline)]
pub enum SizeLimit {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// Bucket name: 1-100 of letters, digits, spaces, _ ! - . * ' ( ) & $ @ = ; : + , ?
    pub name: String,
    /// Anyone may download without a key (default false).
    #[serde(default)]
    pub public: bool,
    /// Largest upload: bytes, or text like `50MB` (B, KB, MB, GB).
    #[serde(default)]
    #[schemars(with = "SizeLimit")]
    pub file_size_limit: Option<SizeLimit>,
    /// Accepted MIME types, e.g. ["image/png", "image/*"]; any when left out.
    #[serde(default)]
    pub allowed_mime_types: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    pub bucket: String,
    #[serde(default)]
    pub public: Option<bool>,
    /// Bytes or text like `50MB`; 0 removes the bucket's own limit.
    #[serde(default)]
    #[schemars(with = "SizeLimit")]
    pub file_size_limit: Option<SizeLimit>,
    /// Accepted MIME types; [] accepts any.
    #[serde(default)]
    pub allowed_mime_types: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    pub bucket: String,
    /// Delete the bucket's objects first (default false: refuse a non-empty bucket).
    #[serde(default)]
    pub empty_first: bool,
}

/// Checks a size limit; `Ok(None)` for 0 (no bucket-specific limit).
pub(crate) fn check_size(limit: &SizeLimit) -> Result<Option<FileSizeLimit>, ToolError> {
    match limit {
        SizeLimit::Bytes(0) => Ok(None),
        SizeLimit::Bytes(n) => Ok(Some(FileSizeLimit::Bytes(Some(*n)))),
        SizeLimit::Text(t) => {
            let t = t.trim();
            let upper = t.to_ascii_uppercase();
            let digits_end = upper
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(upper.len());
            let (number, unit) = upper.split_at(digits_end);
            let unit = unit.trim();
            let valid_number = !number.is_empty()
                && number
                    .parse::<f64>()
                    .is_ok_and(|n| n.is_finite() && n > 0.0);
            if !valid_number || !matches!(unit, "" | "B" | "KB" | "MB" | "GB") {
                return Err(ToolError::invalid(format!(
                    "`file_size_limit` `{t}` is not a size Storage understands"
                ))
                .suggestion(
                    "Pass a number of bytes (52428800) or a number with B, KB, MB or GB (`50MB`).",
                ));
            }
            Ok(Some(FileSizeLimit::Text(format!("{number}{unit}"))))
        }
    }
}

fn size_text(limit: &Option<FileSizeLimit>) -> String {
    match limit {
        None | Some(FileSizeLimit::Bytes(None)) => "no bucket-specific limit".into(),
        Some(FileSizeLimit::Bytes(Some(n))) => super::super::cloud_storage::human_bytes(*n),
        Some(FileSizeLimit::Text(t)) => t.clone(),
    }
}

/// Checks MIME types such as `image/png` or `image/*`.
pub(crate) fn check_mime_types(types: &[String]) -> Result<Vec<String>, ToolError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let t = t.trim().to_ascii_lowercase();
        let ok = match t.split_once('/') {
            Some((kind, sub)) => token(kind) && (sub == "*" || token(sub)),
            None => false,
        };
        if !ok {
            return Err(ToolError::invalid(format!(
                "`{}` is not a MIME type",
                t.escape_debug()
            ))
            .suggestion("Pass types like `image/png`, `application/pdf` or a family like `image/*`."));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn bucket_value(b: &Bucket) -> Value {
    let mut v = serde_json::to_value(b).unwrap_or(Value::Null);
    v["file_size_limit_readable"] = readable(b.file_size_limit);
    v
}

pub(super) async fn list_buckets(call: Call, a: ListArgs) -> Result<ToolOutput, ToolError> {
    let limit = a.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(
            ToolError::invalid(format!("`limit` is {limit}; pass 1 to {MAX_LIMIT}"))
                .suggestion("Page with `offset` for more."),
        );
    }
    let offset = a.offset.unwrap_or(0);
    let search = a.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (buckets, via) = match read_source(&call).await? {
        Source::Api(api) => {
            let list = api
                .idempotent(|c| {
                    c.list_buckets(
                        std::num::NonZeroU64::new(limit),
                        Some(offset),
                        search,
                        Some(ListBucketsSortColumn::Name),
                        Some(ListBucketsSortOrder::Asc),
                    )
                })
                .await?;
            (list.iter().map(bucket_value).collect::<Vec<_>>(), Via::Api)
        }
        Source::Sql(db) => (
            sqlpath::list_buckets(&db, search, limit as i64, offset as i64).await?,
            Via::Sql,
        ),
    };
    let public: Vec<String> = buckets
        .iter()
        .filter(|b| b["public"] == json!(true))
        .filter_map(|b| b["name"].as_str().map(str::to_owned))
        .collect();
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "count": buckets.len(),
            "public_buckets": public,
            "buckets": buckets,
            "offset": offset,
            "more_may_exist": buckets.len() as u64 == limit,
        }),
        via,
    ));
    if buckets.is_empty() {
        out = out.warn(if offset > 0 || search.is_some() {
            "no bucket matches"
        } else {
            "no storage buckets yet; create_bucket makes one"
        });
    }
    Ok(out)
}

pub(super) async fn get_bucket(call: Call, a: BucketArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let (value, via) = match read_source(&call).await? {
        Source::Api(api) => {
            let b = api.idempotent(|c| c.get_bucket(&bucket)).await?;
            (bucket_value(&b), Via::Api)
        }
        Source::Sql(db) => match sqlpath::get_bucket(&db, &bucket).await? {
            Some(v) => (v, Via::Sql),
            None => return Err(no_bucket(&bucket)),
        },
    };
    Ok(ToolOutput::untrusted(with_via(
        json!({"bucket": value}),
        via,
    )))
}

fn no_bucket(bucket: &str) -> ToolError {
    ToolError::new(
        ErrorCode::NotFound,
        format!("bucket `{bucket}` does not exist"),
    )
    .suggestion("Bucket names are case-sensitive; list_buckets shows them.")
}

/// A checked `create_bucket` call.
fn create_request(a: &CreateArgs) -> Result<CreateBucketRequest, ToolError> {
    let name = check_bucket(&a.name)?;
    let file_size_limit = a
        .file_size_limit
        .as_ref()
        .map(check_size)
        .transpose()?
        .flatten();
    let allowed_mime_types = match &a.allowed_mime_types {
        Some(t) if !t.is_empty() => Some(check_mime_types(t)?),
        _ => None,
    };
    Ok(CreateBucketRequest {
        name,
        id: None,
        public: Some(a.public),
        type_: None,
        file_size_limit,
        allowed_mime_types,
    })
}

/// A public bucket is confirmed first: every object becomes downloadable by anyone.
pub(super) fn assess_create(args: &Map<String, Value>) -> Option<String> {
    let a: CreateArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let req = create_request(&a).ok()?;
    a.public.then(|| {
        format!(
            "create the PUBLIC bucket `{}`: anyone who knows an object's path can download it without a key",
            req.name
        )
    })
}

pub(super) async fn create_bucket(call: Call, a: CreateArgs) -> Result<ToolOutput, ToolError> {
    let body = create_request(&a)?;
    let api = require_api(&call, "creating a bucket")?;
    let created = api.call(|c| c.create_bucket(&body)).await.map_err(|e| {
        let conflict =
            e.status() == Some(409) || e.message().to_lowercase().contains("already exists");
        let err = ToolError::from(e);
        if conflict {
            err.suggestion(
                "A bucket with this name exists; pick another name or use update_bucket.",
            )
        } else {
            err
        }
    })?;
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "created": created.name,
            "public": a.public,
            "file_size_limit": size_text(&body.file_size_limit),
            "allowed_mime_types": body.allowed_mime_types.clone().unwrap_or_default(),
            "next_step": if a.public {
                "Objects can be read by anyone at <supabase_url>/storage/v1/object/public/<bucket>/<path>; add policies for uploads (create_storage_policy)."
            } else {
                "The bucket is private: only the service role can read or write until you add policies (create_storage_policy), or share files with create_signed_urls."
            },
        }),
        Via::Api,
    ));
    if body.allowed_mime_types.is_none() {
        out = out.warn("any file type may be uploaded; pass allowed_mime_types to restrict it");
    }
    Ok(out)
}

fn update_request(a: &UpdateArgs) -> Result<(UpdateBucketRequest, Vec<String>), ToolError> {
    check_bucket(&a.bucket)?;
    let mut req = UpdateBucketRequest::default();
    let mut changes = Vec::new();
    if let Some(p) = a.public {
        req.public = Some(p);
        changes.push(if p {
            "visibility → public (anyone may download)".to_owned()
        } else {
            "visibility → private".to_owned()
        });
    }
    if let Some(l) = &a.file_size_limit {
        let checked = check_size(l)?;
        changes.push(format!("size limit → {}", size_text(&checked)));
        req.file_size_limit = Some(checked.unwrap_or(FileSizeLimit::Bytes(None)));
    }
    if let Some(t) = &a.allowed_mime_types {
        let checked = check_mime_types(t)?;
        changes.push(if checked.is_empty() {
            "allowed MIME types → any".to_owned()
        } else {
            format!("allowed MIME types → {}", checked.join(", "))
        });
        // Storage reads null as "any type".
        req.allowed_mime_types = Some(checked);
    }
    if changes.is_empty() {
        return Err(ToolError::invalid("nothing to change")
            .suggestion("Pass at least one of public, file_size_limit or allowed_mime_types."));
    }
    Ok((req, changes))
}

/// Making a bucket public is confirmed first.
pub(super) fn assess_update(args: &Map<String, Value>) -> Option<String> {
    let a: UpdateArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let (_, changes) = update_request(&a).ok()?;
    (a.public == Some(true)).then(|| {
        format!(
            "make bucket `{}` PUBLIC: every object in it becomes downloadable by anyone who knows its path ({})",
            a.bucket,
            changes.join("; ")
        )
    })
}

pub(super) async fn update_bucket(call: Call, a: UpdateArgs) -> Result<ToolOutput, ToolError> {
    let (body, changes) = update_request(&a)?;
    let api = require_api(&call, "changing a bucket")?;
    let mut body_json = serde_json::to_value(&body).unwrap_or(Value::Null);
    // An empty list means "any type": Storage wants null for that.
    if body.allowed_mime_types.as_ref().is_some_and(Vec::is_empty) {
        body_json["allowed_mime_types"] = Value::Null;
        let url = api.url_with(["bucket", a.bucket.as_str()]);
        let response = api.send(api.http().put(url).json(&body_json)).await?;
        drop(response);
    } else {
        api.call_with(CallOptions::idempotent(), |c| {
            c.update_bucket(&a.bucket, &body)
        })
        .await?;
    }
    Ok(ToolOutput::trusted(with_via(
        json!({"bucket": a.bucket, "changes": changes, "next_step": "get_bucket shows the settings now in effect."}),
        Via::Api,
    )))
}

/// Whether a bucket holds any object (one listing entry at its root).
async fn holds_objects(api: &StorageApi, bucket: &str) -> Result<bool, ToolError> {
    let body = ListObjectsRequest {
        prefix: String::new(),
        limit: std::num::NonZeroU64::new(1),
        offset: None,
        search: None,
        sort_by: None,
    };
    let list = api
        .call_with(CallOptions::idempotent(), |c| c.list_objects(bucket, &body))
        .await?;
    Ok(!list.is_empty())
}

pub(super) fn assess_empty(args: &Map<String, Value>) -> Option<String> {
    let bucket = args.get("bucket").and_then(Value::as_str).unwrap_or("?");
    Some(format!(
        "delete EVERY object in bucket `{bucket}`; the files cannot be recovered"
    ))
}

pub(super) async fn empty_bucket(call: Call, a: BucketArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let api = require_api(&call, "emptying a bucket")?;
    let answer = api
        .call_with(CallOptions::idempotent(), |c| c.empty_bucket(&bucket))
        .await?;
    Ok(ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "message": answer.message,
            "note": "Storage removes the objects in the background; a large bucket takes a while. list_objects shows what is left.",
        }),
        Via::Api,
    )))
}

pub(super) fn assess_delete(args: &Map<String, Value>) -> Option<String> {
    let bucket = args.get("bucket").and_then(Value::as_str).unwrap_or("?");
    let empty_first = args.get("empty_first").and_then(Value::as_bool) == Some(true);
    Some(if empty_first {
        format!(
            "delete EVERY object in bucket `{bucket}`, then the bucket itself; nothing can be recovered"
        )
    } else {
        format!("delete the bucket `{bucket}` (refused if it still holds objects)")
    })
}

pub(super) async fn delete_bucket(call: Call, a: DeleteArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let api = require_api(&call, "deleting a bucket")?;
    let mut emptied = false;
    if holds_objects(&api, &bucket).await? {
        if !a.empty_first {
            return Err(ToolError::invalid(format!("bucket `{bucket}` still holds objects"))
                .reason("Storage refuses to delete a bucket that is not empty")
                .suggestion("Call delete_bucket again with empty_first: true to delete its objects too (list_objects shows them first)."));
        }
        api.call_with(CallOptions::idempotent(), |c| c.empty_bucket(&bucket))
            .await?;
        emptied = true;
        // Emptying runs in the background: wait for it within this call's time.
        let deadline = Instant::now() + call.timeout.saturating_sub(Duration::from_secs(2));
        while holds_objects(&api, &bucket).await? {
            if Instant::now() >= deadline || call.cancel.is_cancelled() {
                return Err(ToolError::new(
                    ErrorCode::Timeout,
                    format!("bucket `{bucket}` is being emptied but still holds objects"),
                )
                .reason("Storage removes objects in the background and had not finished")
                .suggestion("Wait a little, then call delete_bucket again (empty_first is no longer needed once list_objects shows nothing)."));
            }
            tokio::time::sleep(EMPTY_POLL).await;
        }
    }
    let answer = api
        .call_with(CallOptions::idempotent(), |c| c.delete_bucket(&bucket))
        .await?;
    Ok(ToolOutput::untrusted(with_via(
        json!({"deleted": bucket, "emptied_first": emptied, "message": answer.message}),
        Via::Api,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked() {
        assert!(matches!(check_size(&SizeLimit::Bytes(0)), Ok(None)));
        assert!(matches!(
            check_size(&SizeLimit::Bytes(10)),
            Ok(Some(FileSizeLimit::Bytes(Some(10))))
        ));
        match check_size(&SizeLimit::Text(" 50mb ".into())) {
            Ok(Some(FileSizeLimit::Text(t))) => assert_eq!(t, "50MB"),
            other => panic!("{other:?}"),
        }
        for bad in ["", "MB", "50TB", "-1MB", "1e3"] {
            assert!(check_size(&SizeLimit::Text(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn mime_types_are_checked() {
        assert_eq!(
            check_mime_types(&["Image/PNG".into(), "image/*".into(), "image/png".into()]).unwrap(),
            vec!["image/png", "image/*"]
        );
        for bad in ["png", "image/", "*/*x", "a b/c"] {
            assert!(check_mime_types(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_public_changes_are_confirmed() {
        let args = |v: Value| v.as_object().unwrap().clone();
        assert!(assess_create(&args(json!({"name": "a"}))).is_none());
        assert!(assess_create(&args(json!({"name": "a", "public": true}))).is_some());
        assert!(assess_update(&args(json!({"bucket": "a", "public": false}))).is_none());
        assert!(assess_update(&args(json!({"bucket": "a", "public": true}))).is_some());
        assert!(
            assess_delete(&args(json!({"bucket": "a", "empty_first": true})))
                .unwrap()
                .contains("EVERY object")
        );
    }
}
