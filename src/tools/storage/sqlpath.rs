//! Reads of the `storage` schema's tables for instances without the Storage
//! API: buckets, one folder level of objects, one object. Values are bound
//! parameters; sort columns come from a fixed list.

use serde_json::{Value, json};

use super::readable;
use crate::db::backend::{Backend, SqlRow};
use crate::result::{ErrorCode, ToolError};
use crate::tools::introspect::col;

/// The size in `metadata->>'size'` as int8, NULL when not a whole number.
pub(crate) const SIZE_EXPR: &str =
    "CASE WHEN o.metadata->>'size' ~ '^[0-9]{1,18}$' THEN (o.metadata->>'size')::int8 END";

const BUCKET_COLUMNS: &str = "b.id::text AS id, b.name::text AS name, coalesce(b.public, false) AS public, \
     b.file_size_limit::int8 AS file_size_limit, b.allowed_mime_types::text[] AS allowed_mime_types, \
     b.owner_id::text AS owner_id, b.created_at::text AS created_at, b.updated_at::text AS updated_at";

/// A missing `storage` schema, said plainly.
pub(crate) fn missing_schema(e: ToolError) -> ToolError {
    let text = format!("{} {}", e.message, e.reason.clone().unwrap_or_default());
    if text.contains("storage.") && text.contains("does not exist") {
        return ToolError::new(
            ErrorCode::NotFound,
            "this database has no Storage tables (storage.buckets / storage.objects)",
        )
        .reason(e.reason.unwrap_or(e.message))
        .suggestion(
            "Storage creates them when it first starts; check that the Storage service runs against this database, \
             or configure --supabase-url and --service-role-key to use the Storage API.",
        );
    }
    e
}

pub(crate) fn bucket_json(r: &SqlRow) -> Result<Value, ToolError> {
    let limit: Option<i64> = col(r, "file_size_limit")?;
    Ok(json!({
        "id": col::<String>(r, "id")?,
        "name": col::<String>(r, "name")?,
        "public": col::<bool>(r, "public")?,
        "file_size_limit": limit,
        "file_size_limit_readable": readable(limit),
        "allowed_mime_types": col::<Option<Vec<String>>>(r, "allowed_mime_types")?,
        "owner_id": col::<Option<String>>(r, "owner_id")?,
        "created_at": col::<Option<String>>(r, "created_at")?,
        "updated_at": col::<Option<String>>(r, "updated_at")?,
    }))
}

pub(crate) async fn list_buckets(
    db: &Backend,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Value>, ToolError> {
    let search = search.map(str::to_owned);
    let sql = format!(
        "SELECT {BUCKET_COLUMNS} FROM storage.buckets b \
         WHERE $1::text IS NULL OR strpos(lower(b.name), lower($1::text)) > 0 \
         ORDER BY b.name LIMIT $2::int8 OFFSET $3::int8"
    );
    let rows = db
        .query(&sql, &[&search, &limit, &offset])
        .await
        .map_err(missing_schema)?;
    rows.iter().map(bucket_json).collect()
}

pub(crate) async fn get_bucket(db: &Backend, id: &str) -> Result<Option<Value>, ToolError> {
    let id = id.to_owned();
    let sql = format!("SELECT {BUCKET_COLUMNS} FROM storage.buckets b WHERE b.id = $1::text");
    let row = db.query_opt(&sql, &[&id]).await.map_err(missing_schema)?;
    row.as_ref().map(bucket_json).transpose()
}

/// Sort column and direction of a listing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sort {
    pub column: &'static str,
    pub desc: bool,
}

/// One level of a bucket under `folder` (empty, or ending with `/`):
/// objects directly in it, and one entry per sub-folder.
pub(crate) async fn list_level(
    db: &Backend,
    bucket: &str,
    folder: &str,
    search: Option<&str>,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<Vec<Value>, ToolError> {
    // Folders sort first by name whatever the column, as Storage lists them.
    let order = format!(
        "folder DESC, {} {} NULLS LAST, name",
        match sort.column {
            "updated_at" => "updated_at",
            "created_at" => "created_at",
            "last_accessed_at" => "last_accessed_at",
            _ => "name",
        },
        if sort.desc { "DESC" } else { "ASC" }
    );
    let sql = format!(
        "WITH items AS ( \
           SELECT o.id::text AS id, substr(o.name, length($2::text) + 1) AS rest, {SIZE_EXPR} AS size, \
                  o.metadata->>'mimetype' AS mimetype, o.created_at, o.updated_at, o.last_accessed_at \
           FROM storage.objects o \
           WHERE o.bucket_id = $1::text AND left(o.name, length($2::text)) = $2::text \
         ), entries AS ( \
           SELECT split_part(rest, '/', 1) AS name, bool_or(strpos(rest, '/') > 0) AS folder, \
                  max(id) FILTER (WHERE strpos(rest, '/') = 0) AS id, \
                  max(size) FILTER (WHERE strpos(rest, '/') = 0) AS size, \
                  max(mimetype) FILTER (WHERE strpos(rest, '/') = 0) AS mimetype, \
                  max(created_at) FILTER (WHERE strpos(rest, '/') = 0) AS created_at, \
                  max(updated_at) FILTER (WHERE strpos(rest, '/') = 0) AS updated_at, \
                  max(last_accessed_at) FILTER (WHERE strpos(rest, '/') = 0) AS last_accessed_at \
           FROM items GROUP BY split_part(rest, '/', 1), strpos(rest, '/') > 0 \
         ) \
         SELECT name, folder, id, size, mimetype, created_at::text AS created_at, updated_at::text AS updated_at, \
                last_accessed_at::text AS last_accessed_at \
         FROM entries WHERE name <> '' AND ($3::text IS NULL OR strpos(lower(name), lower($3::text)) > 0) \
         ORDER BY {order} LIMIT $4::int8 OFFSET $5::int8"
    );
    let (bucket, folder, search) = (
        bucket.to_owned(),
        folder.to_owned(),
        search.map(str::to_owned),
    );
    let rows = db
        .query(&sql, &[&bucket, &folder, &search, &limit, &offset])
        .await
        .map_err(missing_schema)?;
    rows.iter()
        .map(|r| {
            let folder_entry: bool = col(r, "folder")?;
            let size: Option<i64> = col(r, "size")?;
            Ok(if folder_entry {
                json!({"name": col::<String>(r, "name")?, "folder": true})
            } else {
                json!({
                    "name": col::<String>(r, "name")?,
                    "folder": false,
                    "id": col::<Option<String>>(r, "id")?,
                    "size": size,
                    "size_readable": readable(size),
                    "mimetype": col::<Option<String>>(r, "mimetype")?,
                    "created_at": col::<Option<String>>(r, "created_at")?,
                    "updated_at": col::<Option<String>>(r, "updated_at")?,
                    "last_accessed_at": col::<Option<String>>(r, "last_accessed_at")?,
                })
            })
        })
        .collect()
}

/// One object's row, when it exists.
pub(crate) async fn object_info(
    db: &Backend,
    bucket: &str,
    key: &str,
) -> Result<Option<Value>, ToolError> {
    let sql = format!(
        "SELECT o.id::text AS id, o.name AS name, o.bucket_id AS bucket_id, {SIZE_EXPR} AS size, \
                o.metadata->>'mimetype' AS mimetype, o.metadata->>'cacheControl' AS cache_control, \
                o.metadata->>'eTag' AS etag, o.version AS version, o.owner_id AS owner_id, \
                o.created_at::text AS created_at, o.updated_at::text AS updated_at, \
                o.last_accessed_at::text AS last_accessed_at, \
                coalesce(o.metadata, '{{}}'::jsonb)::text AS metadata, \
                coalesce(o.user_metadata, '{{}}'::jsonb)::text AS user_metadata \
         FROM storage.objects o WHERE o.bucket_id = $1::text AND o.name = $2::text"
    );
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    let Some(r) = db
        .query_opt(&sql, &[&bucket, &key])
        .await
        .map_err(missing_schema)?
    else {
        return Ok(None);
    };
    let size: Option<i64> = col(&r, "size")?;
    let parse = |name: &str| -> Result<Value, ToolError> {
        let text: String = col(&r, name)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    Ok(Some(json!({
        "id": col::<Option<String>>(&r, "id")?,
        "name": col::<Option<String>>(&r, "name")?,
        "bucket_id": col::<Option<String>>(&r, "bucket_id")?,
        "size": size,
        "size_readable": readable(size),
        "content_type": col::<Option<String>>(&r, "mimetype")?,
        "cache_control": col::<Option<String>>(&r, "cache_control")?,
        "etag": col::<Option<String>>(&r, "etag")?,
        "version": col::<Option<String>>(&r, "version")?,
        "owner_id": col::<Option<String>>(&r, "owner_id")?,
        "created_at": col::<Option<String>>(&r, "created_at")?,
        "updated_at": col::<Option<String>>(&r, "updated_at")?,
        "last_accessed_at": col::<Option<String>>(&r, "last_accessed_at")?,
        "metadata": parse("metadata")?,
        "user_metadata": parse("user_metadata")?,
    })))
}
