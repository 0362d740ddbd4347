//! `storage_metrics`: object count and total size per bucket, and the
//! largest objects. SQL on `storage.objects` (`metadata->>'size'`) first;
//! when SQL is not configured or refused and the Storage API is, the
//! buckets are walked through the API instead, up to a bounded number of
//! entries (the result says when it stopped early).

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::sqlpath::{SIZE_EXPR, missing_schema};
use super::{Via, api_configured, check_bucket, readable, sql_configured, with_via};
use crate::api::generated::storage::types::{
    ListBucketsSortColumn, ListBucketsSortOrder, ListObjectsRequest,
};
use crate::api::{CallOptions, StorageApi};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::introspect::col;

/// Default and largest number of largest objects listed.
const DEFAULT_TOP: u32 = 10;
const MAX_TOP: u32 = 100;
/// Most listing entries the API walk reads in one call.
pub const API_WALK_LIMIT: usize = 20_000;
/// Page size of the API walk.
const API_PAGE: u64 = 1000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsArgs {
    /// Only this bucket.
    #[serde(default)]
    pub bucket: Option<String>,
    /// How many of the largest objects to list (default 10, at most 100).
    #[serde(default)]
    pub top: Option<u32>,
}

#[derive(Debug, Default, Clone)]
struct BucketTotals {
    public: Option<bool>,
    objects: i64,
    bytes: i64,
}

#[derive(Debug, Clone)]
struct Big {
    bucket: String,
    path: String,
    size: i64,
    mimetype: Option<String>,
    updated_at: Option<String>,
}

struct Metrics {
    buckets: BTreeMap<String, BucketTotals>,
    largest: Vec<Big>,
    truncated: bool,
}

pub(super) async fn storage_metrics(call: Call, a: MetricsArgs) -> Result<ToolOutput, ToolError> {
    let bucket = a.bucket.as_deref().map(check_bucket).transpose()?;
    let top = a.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(
            ToolError::invalid(format!("`top` is {top}; pass 1 to {MAX_TOP}"))
                .suggestion("Ask for fewer largest objects."),
        );
    }
    let api_ok = api_configured(&call.instance);
    let mut sql_refused = None;
    let (metrics, via) = if sql_configured(&call.instance) || !api_ok {
        match by_sql(&call, bucket.as_deref(), top).await {
            Ok(m) => (m, Via::Sql),
            Err(e) if api_ok => {
                sql_refused = Some(e.message.clone());
                (by_api(&call, bucket.as_deref(), top).await?, Via::Api)
            }
            Err(e) => return Err(e),
        }
    } else {
        (by_api(&call, bucket.as_deref(), top).await?, Via::Api)
    };
    if let Some(b) = &bucket
        && !metrics.buckets.contains_key(b)
    {
        return Err(
            ToolError::new(ErrorCode::NotFound, format!("bucket `{b}` does not exist"))
                .suggestion("Bucket names are case-sensitive; list_buckets shows them."),
        );
    }
    let total_objects: i64 = metrics.buckets.values().map(|b| b.objects).sum();
    let total_bytes: i64 = metrics.buckets.values().map(|b| b.bytes).sum();
    let mut per_bucket: Vec<(&String, &BucketTotals)> = metrics.buckets.iter().collect();
    per_bucket.sort_by(|x, y| y.1.bytes.cmp(&x.1.bytes).then(x.0.cmp(y.0)));
    let buckets: Vec<Value> = per_bucket
        .iter()
        .map(|(name, t)| {
            json!({
                "bucket": name,
                "public": t.public,
                "objects": t.objects,
                "bytes": t.bytes,
                "size_readable": readable(Some(t.bytes)),
            })
        })
        .collect();
    let largest: Vec<Value> = metrics
        .largest
        .iter()
        .map(|b| {
            json!({
                "bucket": b.bucket,
                "path": b.path,
                "bytes": b.size,
                "size_readable": readable(Some(b.size)),
                "mimetype": b.mimetype,
                "updated_at": b.updated_at,
            })
        })
        .collect();
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "totals": {"buckets": buckets.len(), "objects": total_objects, "bytes": total_bytes,
                       "size_readable": readable(Some(total_bytes))},
            "buckets": buckets,
            "largest_objects": largest,
            "complete": !metrics.truncated,
        }),
        via,
    ));
    if let Some(why) = sql_refused {
        out = out.warn(format!("SQL on the storage schema failed ({why}); these figures come from walking the Storage API"));
    }
    if metrics.truncated {
        out = out.warn(format!(
            "stopped after {API_WALK_LIMIT} listing entries: the figures cover part of the storage; pass `bucket` or use a database connection for exact totals"
        ));
    }
    Ok(out)
}

async fn by_sql(call: &Call, bucket: Option<&str>, top: u32) -> Result<Metrics, ToolError> {
    let db = call.sql().await?;
    let b = bucket.map(str::to_owned);
    let rows = db
        .query(
            &format!(
                "SELECT bk.id::text AS bucket, coalesce(bk.public, false) AS public, count(o.id)::int8 AS objects, \
                   coalesce(sum({SIZE_EXPR}), 0)::int8 AS bytes \
                 FROM storage.buckets bk LEFT JOIN storage.objects o ON o.bucket_id = bk.id \
                 WHERE $1::text IS NULL OR bk.id = $1::text GROUP BY bk.id, bk.public"
            ),
            &[&b],
        )
        .await
        .map_err(missing_schema)?;
    let mut buckets = BTreeMap::new();
    for r in &rows {
        buckets.insert(
            col::<String>(r, "bucket")?,
            BucketTotals {
                public: Some(col(r, "public")?),
                objects: col(r, "objects")?,
                bytes: col(r, "bytes")?,
            },
        );
    }
    let limit = i64::from(top);
    let rows = db
        .query(
            &format!(
                "SELECT o.bucket_id::text AS bucket, o.name AS path, {SIZE_EXPR} AS size, \
                   o.metadata->>'mimetype' AS mimetype, o.updated_at::text AS updated_at \
                 FROM storage.objects o WHERE ($1::text IS NULL OR o.bucket_id = $1::text) AND {SIZE_EXPR} IS NOT NULL \
                 ORDER BY 3 DESC, 1, 2 LIMIT $2::int8"
            ),
            &[&b, &limit],
        )
        .await
        .map_err(missing_schema)?;
    let mut largest = Vec::with_capacity(rows.len());
    for r in &rows {
        largest.push(Big {
            bucket: col(r, "bucket")?,
            path: col(r, "path")?,
            size: col(r, "size")?,
            mimetype: col(r, "mimetype")?,
            updated_at: col(r, "updated_at")?,
        });
    }
    Ok(Metrics {
        buckets,
        largest,
        truncated: false,
    })
}

async fn by_api(call: &Call, bucket: Option<&str>, top: u32) -> Result<Metrics, ToolError> {
    let api = call.state.clients.storage(&call.instance)?;
    let mut buckets = BTreeMap::new();
    match bucket {
        Some(b) => {
            let found = api.idempotent(|c| c.get_bucket(b)).await?;
            buckets.insert(
                found.id.clone(),
                BucketTotals {
                    public: found.public,
                    ..Default::default()
                },
            );
        }
        None => {
            let mut offset = 0u64;
            loop {
                let page = api
                    .idempotent(|c| {
                        c.list_buckets(
                            NonZeroU64::new(API_PAGE),
                            Some(offset),
                            None,
                            Some(ListBucketsSortColumn::Name),
                            Some(ListBucketsSortOrder::Asc),
                        )
                    })
                    .await?;
                let n = page.len() as u64;
                for b in page {
                    buckets.insert(
                        b.id.clone(),
                        BucketTotals {
                            public: b.public,
                            ..Default::default()
                        },
                    );
                }
                if n < API_PAGE {
                    break;
                }
                offset += n;
            }
        }
    }
    let mut seen = 0usize;
    let mut truncated = false;
    let mut largest: Vec<Big> = Vec::new();
    let names: Vec<String> = buckets.keys().cloned().collect();
    'buckets: for name in names {
        let mut folders = vec![String::new()];
        while let Some(folder) = folders.pop() {
            let mut offset = 0u64;
            loop {
                if seen >= API_WALK_LIMIT || call.cancel.is_cancelled() {
                    truncated = true;
                    break 'buckets;
                }
                let page = list_page(&api, &name, &folder, offset).await?;
                let n = page.len() as u64;
                seen += page.len();
                for o in page {
                    let path = if folder.is_empty() {
                        o.name.clone()
                    } else {
                        format!("{folder}/{}", o.name)
                    };
                    if o.id.is_none() {
                        folders.push(path);
                        continue;
                    }
                    let meta = o.metadata.as_ref();
                    let size = meta.and_then(|m| m.get("size")).and_then(Value::as_i64);
                    if let Some(t) = buckets.get_mut(&name) {
                        t.objects += 1;
                        t.bytes += size.unwrap_or(0);
                    }
                    if let Some(size) = size {
                        largest.push(Big {
                            bucket: name.clone(),
                            path,
                            size,
                            mimetype: meta
                                .and_then(|m| m.get("mimetype"))
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            updated_at: o.updated_at.clone(),
                        });
                        largest.sort_by(|x, y| {
                            y.size
                                .cmp(&x.size)
                                .then(x.bucket.cmp(&y.bucket))
                                .then(x.path.cmp(&y.path))
                        });
                        largest.truncate(top as usize);
                    }
                }
                if n < API_PAGE {
                    break;
                }
                offset += n;
            }
        }
    }
    Ok(Metrics {
        buckets,
        largest,
        truncated,
    })
}

async fn list_page(
    api: &StorageApi,
    bucket: &str,
    folder: &str,
    offset: u64,
) -> Result<Vec<crate::api::generated::storage::types::StorageObject>, ToolError> {
    let body = ListObjectsRequest {
        prefix: folder.to_owned(),
        limit: NonZeroU64::new(API_PAGE),
        offset: Some(offset),
        search: None,
        sort_by: None,
    };
    Ok(api
        .call_with(CallOptions::idempotent(), |c| c.list_objects(bucket, &body))
        .await?)
}
