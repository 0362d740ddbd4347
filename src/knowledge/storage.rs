//! Supabase Storage errors: the `error`/`code` names its API answers with
//! and the messages users see.

use super::{Entry, Source::Storage as S};

pub(super) static ENTRIES: &[Entry] = &[
    Entry {
        code: "Unauthorized",
        source: S,
        name: "storage_rls_denied",
        meaning: "Storage refused the operation because the row-level security policies on `storage.objects` (or `storage.buckets`) do not allow it.",
        causes: &[
            "No policy on `storage.objects` allows this operation (INSERT for upload, SELECT for download/list, UPDATE for upsert/move, DELETE for remove) to the caller's role.",
            "Upsert (`upsert: true`) needs INSERT, SELECT and UPDATE policies.",
            "The policy's path check does not match the object name, e.g. it expects `<user id>/file.png` and the upload uses another folder.",
            "The request carried only the anon key while the policy is `to authenticated`.",
        ],
        fixes: &[
            "Add policies on `storage.objects` limited to the bucket and, for per-user folders, to the first path segment.",
            "Upload under the folder the policy expects, with a signed-in client.",
        ],
        sql: Some(
            "create policy \"users upload to own folder\" on storage.objects for insert to authenticated\n  with check (bucket_id = '<bucket>' and (storage.foldername(name))[1] = (select auth.uid())::text);\ncreate policy \"users read own files\" on storage.objects for select to authenticated\n  using (bucket_id = '<bucket>' and (storage.foldername(name))[1] = (select auth.uid())::text);",
        ),
        tools: &["list_policies", "check_permissions", "list_storage_buckets"],
        phrases: &[
            "storage.objects",
            "violates row-level security policy for table \"objects\"",
            "new row violates row-level security policy * storage",
            "storage * new row violates row-level security policy",
        ],
    },
    Entry {
        code: "NoSuchBucket",
        source: S,
        name: "bucket_not_found",
        meaning: "The bucket named in the request does not exist.",
        causes: &[
            "A typo or wrong case in the bucket id; the bucket was created on another project or branch; a private bucket's id mistaken for its display name.",
        ],
        fixes: &[
            "List the buckets and use the exact id; create the bucket (migration or dashboard).",
        ],
        sql: Some("select id, name, public from storage.buckets;"),
        tools: &["list_storage_buckets"],
        phrases: &["bucket not found", "the specified bucket does not exist"],
    },
    Entry {
        code: "NoSuchKey",
        source: S,
        name: "object_not_found",
        meaning: "No object exists at that path in the bucket (or the caller may not see it).",
        causes: &[
            "A wrong path (leading slash, missing folder, different case); the object was deleted; a SELECT policy hides it.",
        ],
        fixes: &[
            "List the folder to check the exact name; check the SELECT policy on `storage.objects`.",
        ],
        sql: Some(
            "select name, created_at from storage.objects where bucket_id = '<bucket>' and name like '<folder>/%';",
        ),
        tools: &["list_policies"],
        phrases: &["object not found", "the specified key does not exist"],
    },
    Entry {
        code: "InvalidKey",
        source: S,
        name: "invalid_key",
        meaning: "The object path contains characters Storage does not accept.",
        causes: &[
            "Non-ASCII or special characters in file names (accents, emoji, `#`, `%`), or a leading slash.",
        ],
        fixes: &[
            "Normalise file names before upload (e.g. slugify, or name objects by uuid and keep the original name in metadata).",
        ],
        sql: None,
        tools: &["search_docs"],
        phrases: &["invalid key"],
    },
    Entry {
        code: "EntityTooLarge",
        source: S,
        name: "payload_too_large",
        meaning: "The upload is larger than the bucket's or the project's file size limit.",
        causes: &[
            "The bucket's `file_size_limit` or the global upload limit is lower than the file; plain uploads over about 6 MB should use resumable uploads.",
        ],
        fixes: &[
            "Raise the bucket's or the project's limit; use resumable (TUS) uploads for large files; compress images on the client.",
        ],
        sql: Some(
            "update storage.buckets set file_size_limit = 52428800 where id = '<bucket>'; -- 50 MB",
        ),
        tools: &[
            "get_storage_config",
            "update_storage_config",
            "list_storage_buckets",
        ],
        phrases: &[
            "payload too large",
            "the object exceeded the maximum allowed size",
            "maximum allowed size",
        ],
    },
    Entry {
        code: "InvalidMimeType",
        source: S,
        name: "mime_type_not_allowed",
        meaning: "The file's content type is not in the bucket's allowed MIME types.",
        causes: &[
            "The bucket limits `allowed_mime_types` and the upload's content type (often detected as `text/plain` or `application/octet-stream`) is not among them.",
        ],
        fixes: &[
            "Send the correct `contentType` on upload, or add the type to the bucket's allowed list.",
        ],
        sql: Some(
            "update storage.buckets set allowed_mime_types = array['image/png', 'image/jpeg'] where id = '<bucket>';",
        ),
        tools: &["list_storage_buckets"],
        phrases: &["mime type * is not supported"],
    },
    Entry {
        code: "ResourceAlreadyExists",
        source: S,
        name: "object_already_exists",
        meaning: "An object already exists at that path and the upload did not ask to overwrite it.",
        causes: &["Uploading the same path twice without `upsert: true`."],
        fixes: &[
            "Use `upsert: true` (needs UPDATE and SELECT policies too) or a unique path per upload.",
        ],
        sql: None,
        tools: &["list_policies"],
        phrases: &["the resource already exists"],
    },
    Entry {
        code: "BucketAlreadyExists",
        source: S,
        name: "bucket_already_exists",
        meaning: "A bucket with this id already exists.",
        causes: &["Creating a bucket from code on every start, or a migration run twice."],
        fixes: &["Create buckets once (a migration with `on conflict do nothing`)."],
        sql: Some(
            "insert into storage.buckets (id, name, public) values ('<bucket>', '<bucket>', false) on conflict (id) do nothing;",
        ),
        tools: &["list_storage_buckets"],
        phrases: &["bucket already exists"],
    },
    Entry {
        code: "InvalidJWT",
        source: S,
        name: "storage_invalid_jwt",
        meaning: "Storage could not verify the token sent with the request.",
        causes: &["An expired user token (signed URLs also expire), or a key of another project."],
        fixes: &["Refresh the session; create a new signed URL; use this project's keys."],
        sql: None,
        tools: &["decode_jwt", "get_publishable_keys"],
        phrases: &["invalid compact jws", "exp claim timestamp check failed"],
    },
    Entry {
        code: "InvalidBucketName",
        source: S,
        name: "invalid_bucket_name",
        meaning: "The bucket name is not allowed.",
        causes: &["Characters outside letters, digits and `-_.`, or a name too long."],
        fixes: &["Use a short lower-case name with letters, digits and dashes."],
        sql: None,
        tools: &["list_storage_buckets"],
        phrases: &["bucket name invalid"],
    },
    Entry {
        code: "DatabaseTimeout",
        source: S,
        name: "storage_database_timeout",
        meaning: "Storage's query against the database timed out.",
        causes: &[
            "Listing a folder with very many objects, policies that are slow to evaluate, or a busy database.",
        ],
        fixes: &[
            "Paginate listings; make storage policies cheap (no per-row subqueries without indexes); check database load.",
        ],
        sql: None,
        tools: &["health_check", "monitor_connections"],
        phrases: &["database timeout"],
    },
];
