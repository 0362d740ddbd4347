//! Object tools: `list_objects` and `get_object_info` (API, or SQL on
//! `storage.objects`), `move_object`, `copy_object` and `delete_objects`
//! (API only; deleting is confirmed first).

use std::num::NonZeroU64;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::sqlpath::{self, Sort};
use super::{Source, Via, check_bucket, check_key, read_source, readable, require_api, with_via};
use crate::api::CallOptions;
use crate::api::generated::storage::types::{
    CopyObjectRequest, DeleteObjectsRequest, ListObjectsRequest, MoveObjectRequest, SortBy,
    SortByColumn, SortByOrder, StorageObject,
};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

/// Largest page of a listing.
const MAX_LIMIT: u64 = 1000;
/// Most keys one `delete_objects` call takes (Storage's own limit).
pub const MAX_DELETE: usize = 1000;

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortColumn {
    #[default]
    Name,
    UpdatedAt,
    CreatedAt,
    LastAccessedAt,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    pub bucket: String,
    /// Folder to list, e.g. `users/42`; the bucket root when left out.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Only entries whose name contains this text.
    #[serde(default)]
    pub search: Option<String>,
    /// 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub sort_by: Option<SortColumn>,
    #[serde(default)]
    pub order: Option<SortOrder>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectArgs {
    pub bucket: String,
    /// Object path inside the bucket, e.g. `folder/cat.png`.
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveArgs {
    pub bucket: String,
    /// Current object path.
    pub from: String,
    /// New object path.
    pub to: String,
    /// Target bucket; the same bucket when left out.
    #[serde(default)]
    pub destination_bucket: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    pub bucket: String,
    /// Object paths to delete (1 to 1000).
    pub paths: Vec<String>,
}

/// A folder to list: no leading or trailing `/` (the API form); empty for the root.
fn check_prefix(prefix: Option<&str>) -> Result<String, ToolError> {
    let p = prefix.unwrap_or("").trim_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    check_key("prefix", p)
}

fn entry_value(o: &StorageObject) -> Value {
    // Folder entries have no id.
    if o.id.is_none() {
        return json!({"name": o.name, "folder": true});
    }
    let meta = o.metadata.as_ref();
    let size = meta.and_then(|m| m.get("size")).and_then(Value::as_i64);
    json!({
        "name": o.name,
        "folder": false,
        "id": o.id,
        "size": size,
        "size_readable": readable(size),
        "mimetype": meta.and_then(|m| m.get("mimetype")).cloned().unwrap_or(Value::Null),
        "created_at": o.created_at,
        "updated_at": o.updated_at,
        "last_accessed_at": o.last_accessed_at,
    })
}

pub(super) async fn list_objects(call: Call, a: ListArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let prefix = check_prefix(a.prefix.as_deref())?;
    let limit = a.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(
            ToolError::invalid(format!("`limit` is {limit}; pass 1 to {MAX_LIMIT}"))
                .suggestion("Page with `offset` for more."),
        );
    }
    let offset = a.offset.unwrap_or(0);
    let search = a.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let column = a.sort_by.unwrap_or_default();
    let order = a.order.unwrap_or_default();
    let (entries, via) = match read_source(&call).await? {
        Source::Api(api) => {
            let body = ListObjectsRequest {
                prefix: prefix.clone(),
                limit: NonZeroU64::new(limit),
                offset: Some(offset),
                search: search.map(str::to_owned),
                sort_by: Some(SortBy {
                    column: match column {
                        SortColumn::Name => SortByColumn::Name,
                        SortColumn::UpdatedAt => SortByColumn::UpdatedAt,
                        SortColumn::CreatedAt => SortByColumn::CreatedAt,
                        SortColumn::LastAccessedAt => SortByColumn::LastAccessedAt,
                    },
                    order: Some(match order {
                        SortOrder::Asc => SortByOrder::Asc,
                        SortOrder::Desc => SortByOrder::Desc,
                    }),
                }),
            };
            let list = api
                .call_with(CallOptions::idempotent(), |c| {
                    c.list_objects(&bucket, &body)
                })
                .await?;
            (list.iter().map(entry_value).collect::<Vec<_>>(), Via::Api)
        }
        Source::Sql(db) => {
            if sqlpath::get_bucket(&db, &bucket).await?.is_none() {
                return Err(ToolError::new(
                    ErrorCode::NotFound,
                    format!("bucket `{bucket}` does not exist"),
                )
                .suggestion("Bucket names are case-sensitive; list_buckets shows them."));
            }
            let folder = if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            };
            let sort = Sort {
                column: match column {
                    SortColumn::Name => "name",
                    SortColumn::UpdatedAt => "updated_at",
                    SortColumn::CreatedAt => "created_at",
                    SortColumn::LastAccessedAt => "last_accessed_at",
                },
                desc: order == SortOrder::Desc,
            };
            let entries = sqlpath::list_level(
                &db,
                &bucket,
                &folder,
                search,
                sort,
                limit as i64,
                offset as i64,
            )
            .await?;
            (entries, Via::Sql)
        }
    };
    let folders = entries
        .iter()
        .filter(|e| e["folder"] == json!(true))
        .count();
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "prefix": prefix,
            "count": entries.len(),
            "folders": folders,
            "objects": entries.len() - folders,
            "entries": entries,
            "offset": offset,
            "more_may_exist": entries.len() as u64 == limit,
        }),
        via,
    ));
    if entries.is_empty() {
        out = out.warn(if prefix.is_empty() {
            format!("bucket `{bucket}` holds no objects")
        } else {
            format!(
                "nothing under `{prefix}/` in bucket `{bucket}` (folder names are case-sensitive)"
            )
        });
    }
    Ok(out)
}

pub(super) async fn get_object_info(call: Call, a: ObjectArgs) -> Result<ToolOutput, ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let key = check_key("path", &a.path)?;
    let (info, via) = match read_source(&call).await? {
        Source::Api(api) => {
            let info = api
                .idempotent(|c| c.get_object_info(&bucket, &key))
                .await
                .map_err(|e| {
                    let missing =
                        e.status() == Some(404) || e.message().to_lowercase().contains("not found");
                    let err = ToolError::from(e);
                    if missing {
                        ToolError::new(
                            ErrorCode::NotFound,
                            format!("object `{key}` not found in bucket `{bucket}`"),
                        )
                        .reason(err.reason.unwrap_or_default())
                        .suggestion(
                            "Paths are case-sensitive; list_objects shows what the folder holds.",
                        )
                    } else {
                        err
                    }
                })?;
            let mut v = Value::Object(info.0);
            let size = v.get("size").and_then(Value::as_i64);
            v["size_readable"] = readable(size);
            (v, Via::Api)
        }
        Source::Sql(db) => match sqlpath::object_info(&db, &bucket, &key).await? {
            Some(v) => (v, Via::Sql),
            None => {
                return Err(ToolError::new(
                    ErrorCode::NotFound,
                    format!("object `{key}` not found in bucket `{bucket}`"),
                )
                .suggestion(
                    "Paths are case-sensitive; list_objects shows what the folder holds.",
                ));
            }
        },
    };
    Ok(ToolOutput::untrusted(with_via(
        json!({"bucket": bucket, "path": key, "info": info}),
        via,
    )))
}

fn check_move(a: &MoveArgs) -> Result<(String, String, String, Option<String>), ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let from = check_key("from", &a.from)?;
    let to = check_key("to", &a.to)?;
    let dest = a
        .destination_bucket
        .as_deref()
        .map(check_bucket)
        .transpose()?;
    if from == to && dest.as_deref().is_none_or(|d| d == bucket) {
        return Err(ToolError::invalid("`from` and `to` are the same object")
            .suggestion("Pass a different `to` path or a destination_bucket."));
    }
    Ok((bucket, from, to, dest))
}

pub(super) async fn move_object(call: Call, a: MoveArgs) -> Result<ToolOutput, ToolError> {
    let (bucket, from, to, dest) = check_move(&a)?;
    let api = require_api(&call, "moving an object")?;
    let body = MoveObjectRequest {
        bucket_id: bucket.clone(),
        source_key: from.clone(),
        destination_key: to.clone(),
        destination_bucket: dest.clone(),
    };
    let answer = api
        .call(|c| c.move_object(&body))
        .await
        .map_err(exists_hint)?;
    Ok(ToolOutput::untrusted(with_via(
        json!({
            "moved": {"bucket": bucket, "path": from},
            "to": {"bucket": dest.unwrap_or_else(|| bucket.clone()), "path": to},
            "message": answer.message,
        }),
        Via::Api,
    )))
}

pub(super) async fn copy_object(call: Call, a: MoveArgs) -> Result<ToolOutput, ToolError> {
    let (bucket, from, to, dest) = check_move(&a)?;
    let api = require_api(&call, "copying an object")?;
    let body = CopyObjectRequest {
        bucket_id: bucket.clone(),
        source_key: from.clone(),
        destination_key: to.clone(),
        destination_bucket: dest.clone(),
        metadata: None,
        copy_metadata: Some(true),
    };
    let answer = api
        .call(|c| c.copy_object(&body))
        .await
        .map_err(exists_hint)?;
    Ok(ToolOutput::untrusted(with_via(
        json!({
            "copied": {"bucket": bucket, "path": from},
            "to": {"bucket": dest.unwrap_or_else(|| bucket.clone()), "path": to},
            "key": answer.key,
        }),
        Via::Api,
    )))
}

/// Move/copy failures, with the usual fixes.
fn exists_hint(e: crate::api::ApiError) -> ToolError {
    let text = e.message().to_lowercase();
    let err = ToolError::from(e);
    if text.contains("already exists") || text.contains("duplicate") {
        err.suggestion("An object already has the target path; delete it first (delete_objects) or pick another path.")
    } else if text.contains("not found") {
        err.suggestion("The source object or bucket does not exist; list_objects shows the paths.")
    } else {
        err
    }
}

fn check_delete(a: &DeleteArgs) -> Result<(String, Vec<String>), ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    if a.paths.is_empty() {
        return Err(
            ToolError::invalid("`paths` is empty").suggestion("Pass at least one object path.")
        );
    }
    if a.paths.len() > MAX_DELETE {
        return Err(ToolError::invalid(format!(
            "`paths` has {} entries; at most {MAX_DELETE} per call",
            a.paths.len()
        ))
        .suggestion(
            "Split the list into several calls, or use empty_bucket to delete everything.",
        ));
    }
    let mut keys = Vec::with_capacity(a.paths.len());
    for p in &a.paths {
        let k = check_key("paths", p)?;
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    Ok((bucket, keys))
}

pub(super) fn assess_delete(args: &Map<String, Value>) -> Option<String> {
    let a: DeleteArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let (bucket, keys) = check_delete(&a).ok()?;
    let shown: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
    let more = if keys.len() > 5 {
        format!(" and {} more", keys.len() - 5)
    } else {
        String::new()
    };
    Some(format!(
        "permanently delete {} object(s) from bucket `{bucket}`: {}{more}",
        keys.len(),
        shown.join(", ")
    ))
}

pub(super) async fn delete_objects(call: Call, a: DeleteArgs) -> Result<ToolOutput, ToolError> {
    let (bucket, keys) = check_delete(&a)?;
    let api = require_api(&call, "deleting objects")?;
    let body = DeleteObjectsRequest {
        prefixes: keys.clone(),
    };
    let deleted = api
        .call_with(CallOptions::idempotent(), |c| {
            c.delete_objects(&bucket, &body)
        })
        .await?;
    let names: Vec<&str> = deleted.iter().map(|o| o.name.as_str()).collect();
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !names.contains(&k.as_str()))
        .collect();
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "deleted_count": names.len(),
            "deleted": names,
            "not_found": missing,
        }),
        Via::Api,
    ));
    if !missing.is_empty() {
        out = out.warn(format!(
            "{} path(s) were not deleted: no such object (paths are case-sensitive)",
            missing.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_lose_their_slashes() {
        assert_eq!(check_prefix(None).unwrap(), "");
        assert_eq!(check_prefix(Some("/")).unwrap(), "");
        assert_eq!(check_prefix(Some("a/b/")).unwrap(), "a/b");
        assert!(check_prefix(Some("a//b")).is_err());
    }

    #[test]
    fn deletes_are_checked_and_described() {
        let a = DeleteArgs {
            bucket: "b".into(),
            paths: vec![],
        };
        assert!(check_delete(&a).is_err());
        let a = DeleteArgs {
            bucket: "b".into(),
            paths: vec!["x".into(); MAX_DELETE + 1],
        };
        assert!(check_delete(&a).is_err());
        let args = json!({"bucket": "b", "paths": ["a", "a", "c/d"]});
        let text = assess_delete(args.as_object().unwrap()).unwrap();
        assert!(
            text.contains("2 object(s)") && text.contains("c/d"),
            "{text}"
        );
    }
}
