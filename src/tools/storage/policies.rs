//! Storage access rules: `list_storage_policies` restates the RLS policies on
//! `storage.objects` and `storage.buckets` in plain words, and
//! `create_storage_policy` adds one for a bucket from a template. The SQL is
//! shown for confirmation before it runs (always through the database path:
//! policies are not reachable through the Storage API).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::sqlpath::missing_schema;
use super::{Via, check_bucket, with_via};
use crate::db::backend::Backend;
use crate::pg::quote_ident;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::introspect::col;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only policies that can apply to this bucket.
    #[serde(default)]
    pub bucket: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    // Anyone may download the bucket's objects.
    PublicRead,
    // Signed-in users may upload into a folder named after their user id.
    AuthenticatedUploadOwnFolder,
    // Signed-in users may read, upload, change and delete only objects they own.
    OwnerOnly,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    pub bucket: String,
    /// public_read: anyone downloads; authenticated_upload_own_folder: users upload under `<user id>/`; owner_only: users manage only their own files.
    pub template: Template,
    /// Policy name; a descriptive default when left out.
    #[serde(default)]
    pub name: Option<String>,
}

/// Who a policy applies to, in words.
fn who(roles: &[String]) -> String {
    if roles.is_empty() || roles.iter().any(|r| r == "public") {
        "every role".into()
    } else {
        roles
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// What a command lets a role do with files.
fn action(table: &str, command: &str) -> &'static str {
    match (table, command) {
        ("buckets", "SELECT") => "see buckets",
        ("buckets", "INSERT") => "create buckets",
        ("buckets", "UPDATE") => "change bucket settings",
        ("buckets", "DELETE") => "delete buckets",
        ("buckets", _) => "see, create, change and delete buckets",
        (_, "SELECT") => "download and list files",
        (_, "INSERT") => "upload new files",
        (_, "UPDATE") => "replace, move and change files",
        (_, "DELETE") => "delete files",
        _ => "download, list, upload, replace and delete files",
    }
}

/// The buckets a policy expression names (`bucket_id = 'x'`, `id = 'x'`).
pub(crate) fn buckets_named(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = expr.to_ascii_lowercase();
    for key in ["bucket_id", "id"] {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(key) {
            let start = from + pos;
            from = start + key.len();
            // `bucket_id` also contains `id`; only whole words count.
            let before = lower[..start].chars().next_back();
            if before
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' && key == "id")
            {
                continue;
            }
            let rest = expr[from..].trim_start_matches([' ', ')']);
            let Some(rest) = rest.strip_prefix('=') else {
                continue;
            };
            let rest = rest.trim_start();
            if let Some(lit) = rest.strip_prefix('\'') {
                let mut name = String::new();
                let mut chars = lit.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            name.push('\'');
                            continue;
                        }
                        break;
                    }
                    name.push(c);
                }
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// The condition of a policy, in words.
fn condition(expr: Option<&str>) -> String {
    let Some(e) = expr.map(str::trim).filter(|e| !e.is_empty()) else {
        return "on everything".into();
    };
    if e.eq_ignore_ascii_case("true") {
        return "on everything".into();
    }
    let lower = e.to_ascii_lowercase();
    let mut parts = Vec::new();
    let buckets = buckets_named(e);
    if !buckets.is_empty() {
        parts.push(format!(
            "in bucket {}",
            buckets
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    if lower.contains("foldername")
        && (lower.contains("auth.uid()") || lower.contains("auth.jwt()"))
    {
        parts.push("only inside a top folder named after their user id".into());
    } else if (lower.contains("owner") || lower.contains("owner_id"))
        && lower.contains("auth.uid()")
    {
        parts.push("only for files they own".into());
    } else if lower.contains("auth.uid()")
        || lower.contains("auth.jwt()")
        || lower.contains("auth.role()")
    {
        parts.push("depending on the signed-in user".into());
    }
    if parts.is_empty() {
        format!("when `{e}` holds")
    } else {
        format!("{} (`{e}`)", parts.join(", "))
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// One policy restated in a sentence.
pub(crate) fn describe(
    table: &str,
    roles: &[String],
    command: &str,
    permissive: bool,
    using: Option<&str>,
    check: Option<&str>,
) -> String {
    let expr = if command == "INSERT" {
        check
    } else {
        using.or(check)
    };
    let who = who(roles);
    if permissive {
        format!(
            "{} may {} {}.",
            capitalize(&who),
            action(table, command),
            condition(expr)
        )
    } else {
        format!(
            "Restrictive: {who} may {} only {}, on top of a permissive policy that allows it.",
            action(table, command),
            condition(expr)
        )
    }
}

pub(super) async fn list_storage_policies(
    call: Call,
    a: ListArgs,
) -> Result<ToolOutput, ToolError> {
    let bucket = a.bucket.as_deref().map(check_bucket).transpose()?;
    let db = call.sql().await?;
    let rows = db
        .query(
            "SELECT c.relname::text AS table_name, c.relrowsecurity AS rls, p.polname::text AS name, \
               p.polpermissive AS permissive, \
               CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' \
                 WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command, \
               CASE WHEN p.polroles = '{0}' THEN ARRAY['public'] \
                 ELSE ARRAY(SELECT r.rolname::text FROM pg_roles r WHERE r.oid = ANY (p.polroles) ORDER BY 1) END AS roles, \
               pg_get_expr(p.polqual, p.polrelid) AS using_expr, \
               pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_policy p ON p.polrelid = c.oid \
             WHERE n.nspname = 'storage' AND c.relname IN ('objects', 'buckets') \
             ORDER BY c.relname DESC, p.polcmd, p.polname",
            &[],
        )
        .await
        .map_err(missing_schema)?;
    if rows.is_empty() {
        return Err(missing_schema(ToolError::new(
            ErrorCode::NotFound,
            "storage.objects does not exist",
        )));
    }
    let mut tables = Map::new();
    let mut policies = Vec::new();
    let mut objects_readable = false;
    let mut objects_writable = false;
    for r in &rows {
        let table: String = col(r, "table_name")?;
        tables.insert(
            table.clone(),
            json!({"rls_enabled": col::<bool>(r, "rls")?}),
        );
        let Some(name) = col::<Option<String>>(r, "name")? else {
            continue;
        };
        let command: String = col(r, "command")?;
        let roles: Vec<String> = col(r, "roles")?;
        let permissive: bool = col(r, "permissive")?;
        let using: Option<String> = col(r, "using_expr")?;
        let check: Option<String> = col(r, "check_expr")?;
        let named: Vec<String> = [using.as_deref(), check.as_deref()]
            .into_iter()
            .flatten()
            .flat_map(buckets_named)
            .collect();
        if let Some(b) = &bucket
            && !named.is_empty()
            && !named.contains(b)
        {
            continue;
        }
        if table == "objects" && permissive {
            objects_readable |= matches!(command.as_str(), "SELECT" | "ALL");
            objects_writable |= matches!(command.as_str(), "INSERT" | "UPDATE" | "ALL");
        }
        let mut p = json!({
            "table": format!("storage.{table}"),
            "name": name,
            "command": command,
            "roles": roles,
            "permissive": permissive,
            "buckets": if named.is_empty() { json!("all") } else { json!(named) },
            "meaning": describe(&table, &roles, &command, permissive, using.as_deref(), check.as_deref()),
        });
        if let Some(u) = using {
            p["using"] = json!(u);
        }
        if let Some(c) = check {
            p["with_check"] = json!(c);
        }
        policies.push(p);
    }
    let via = Via::Sql;
    let mut out = ToolOutput::untrusted(with_via(
        json!({
            "bucket": bucket,
            "tables": tables,
            "count": policies.len(),
            "policies": policies,
            "note": "Policies govern requests made with the anon key or a user's token; the service role bypasses them. \
                     Public buckets serve downloads through /object/public without any policy.",
        }),
        via,
    ));
    if tables
        .get("objects")
        .is_some_and(|t| t["rls_enabled"] == json!(false))
    {
        out = out
            .warn("RLS is disabled on storage.objects: every client may read and write every file");
    } else if policies.is_empty() {
        out = out.warn(match &bucket {
            Some(b) => format!("no policy applies to bucket `{b}`: only the service role can reach its files (public downloads aside)"),
            None => "no storage policies: only the service role can reach files (public downloads aside)".into(),
        });
    } else {
        if !objects_readable {
            out = out.warn("no permissive SELECT policy on storage.objects: users cannot list or download private files");
        }
        if !objects_writable {
            out = out.warn(
                "no permissive INSERT or UPDATE policy on storage.objects: users cannot upload",
            );
        }
    }
    Ok(out)
}

/// SQL literal of a checked bucket name (Storage names hold no backslash).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The policy name and SQL of a `create_storage_policy` call.
pub(crate) fn policy_sql(a: &CreateArgs) -> Result<(String, String), ToolError> {
    let bucket = check_bucket(&a.bucket)?;
    let default_name = match a.template {
        Template::PublicRead => format!("Public read on {bucket}"),
        Template::AuthenticatedUploadOwnFolder => format!("Users upload to own folder in {bucket}"),
        Template::OwnerOnly => format!("Owners manage own files in {bucket}"),
    };
    let name = a
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or(default_name);
    if name.len() > 63 {
        return Err(ToolError::invalid(format!(
            "policy name is {} bytes; PostgreSQL keeps at most 63",
            name.len()
        ))
        .suggestion("Pass a shorter `name`."));
    }
    if name.chars().any(char::is_control) {
        return Err(
            ToolError::invalid("policy name contains a control character")
                .suggestion("Pass a plain name."),
        );
    }
    let b = literal(&bucket);
    let uid = "(select auth.uid()::text)";
    let head = format!("CREATE POLICY {} ON storage.objects", quote_ident(&name));
    let sql = match a.template {
        Template::PublicRead => format!("{head} FOR SELECT TO public USING (bucket_id = {b})"),
        Template::AuthenticatedUploadOwnFolder => format!(
            "{head} FOR INSERT TO authenticated WITH CHECK (bucket_id = {b} AND (storage.foldername(name))[1] = {uid})"
        ),
        Template::OwnerOnly => format!(
            "{head} FOR ALL TO authenticated USING (bucket_id = {b} AND owner_id = {uid}) \
             WITH CHECK (bucket_id = {b} AND owner_id = {uid})"
        ),
    };
    Ok((name, sql))
}

pub(super) fn assess_create(args: &Map<String, Value>) -> Option<String> {
    let a: CreateArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let (_, sql) = policy_sql(&a).ok()?;
    let effect = match a.template {
        Template::PublicRead => {
            "ANYONE, signed in or not, may download and list the bucket's files"
        }
        Template::AuthenticatedUploadOwnFolder => {
            "signed-in users may upload into the folder named after their user id"
        }
        Template::OwnerOnly => {
            "signed-in users may read, upload, change and delete only the files they own"
        }
    };
    Some(format!("run this SQL: {sql}; — effect: {effect}"))
}

/// Runs one statement in a transaction with short lock and statement limits.
async fn run(db: &Backend, sql: &str, call: &Call) -> Result<(), ToolError> {
    match db.direct() {
        Some(conn) => {
            let script = format!(
                "BEGIN; SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '{}ms';\n{sql};\nCOMMIT;",
                call.timeout.as_millis().max(1)
            );
            if let Err(e) = conn.batch_execute(&script).await {
                if let Err(rollback) = conn.batch_execute("ROLLBACK").await {
                    tracing::debug!("rollback after a failed policy: {rollback}");
                }
                let mut err = crate::sql::run::pg_error(&e);
                err.message = "the policy was not created".into();
                if let Some(db) = e.as_db_error() {
                    err = match db.code().code() {
                        "42710" => err.suggestion("A policy with this name exists on storage.objects; pass another `name` (list_storage_policies shows them)."),
                        "42501" => err.suggestion("Connect as the owner of storage.objects (supabase_storage_admin) or as postgres on Supabase."),
                        _ => err,
                    };
                }
                return Err(err);
            }
            Ok(())
        }
        None => db.remote_rows(&format!("{sql};"), false).await.map(|_| ()),
    }
}

pub(super) async fn create_storage_policy(
    call: Call,
    a: CreateArgs,
) -> Result<ToolOutput, ToolError> {
    let (name, sql) = policy_sql(&a)?;
    let bucket = check_bucket(&a.bucket)?;
    let db = call.sql().await?;
    let b = bucket.clone();
    let found = db
        .query_opt(
            "SELECT coalesce(public, false) AS public FROM storage.buckets WHERE id = $1::text",
            &[&b],
        )
        .await
        .map_err(missing_schema)?;
    let Some(row) = found else {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!("bucket `{bucket}` does not exist"),
        )
        .suggestion("Create it first (create_bucket), or check the name with list_buckets."));
    };
    let public: bool = col(&row, "public")?;
    run(&db, &sql, &call).await?;
    let mut out = ToolOutput::trusted(with_via(
        json!({
            "created": name,
            "bucket": bucket,
            "template": a.template,
            "sql": sql,
            "meaning": describe_template(a.template, &bucket),
            "next_step": "list_storage_policies shows every rule on the bucket now.",
        }),
        Via::Sql,
    ));
    if public && a.template != Template::PublicRead {
        out = out.warn(format!(
            "bucket `{bucket}` is public: downloads through its public URL skip policies; update_bucket with public: false makes reads follow them"
        ));
    }
    Ok(out)
}

fn describe_template(t: Template, bucket: &str) -> String {
    match t {
        Template::PublicRead => {
            format!("Every role may download and list files in bucket `{bucket}`.")
        }
        Template::AuthenticatedUploadOwnFolder => format!(
            "`authenticated` may upload new files in bucket `{bucket}`, only inside a top folder named after their user id."
        ),
        Template::OwnerOnly => format!(
            "`authenticated` may download, list, upload, replace and delete files in bucket `{bucket}`, only for files they own."
        ),
    }
}

impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Template::PublicRead => "public_read",
            Template::AuthenticatedUploadOwnFolder => "authenticated_upload_own_folder",
            Template::OwnerOnly => "owner_only",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_found_in_expressions() {
        assert_eq!(
            buckets_named("(bucket_id = 'avatars'::text)"),
            vec!["avatars"]
        );
        assert_eq!(
            buckets_named("((bucket_id = 'a''b'::text) OR (bucket_id = 'c'::text))"),
            vec!["a'b", "c"]
        );
        assert_eq!(buckets_named("(id = 'x'::text)"), vec!["x"]);
        assert!(buckets_named("(owner_id = (auth.uid())::text)").is_empty());
    }

    #[test]
    fn templates_make_the_expected_sql() {
        let a = CreateArgs {
            bucket: "it's".into(),
            template: Template::AuthenticatedUploadOwnFolder,
            name: None,
        };
        let (name, sql) = policy_sql(&a).unwrap();
        assert_eq!(name, "Users upload to own folder in it's");
        assert_eq!(
            sql,
            "CREATE POLICY \"Users upload to own folder in it's\" ON storage.objects FOR INSERT TO authenticated \
             WITH CHECK (bucket_id = 'it''s' AND (storage.foldername(name))[1] = (select auth.uid()::text))"
        );
        let a = CreateArgs {
            bucket: "b".into(),
            template: Template::PublicRead,
            name: Some("x\"y".into()),
        };
        assert_eq!(
            policy_sql(&a).unwrap().1,
            "CREATE POLICY \"x\"\"y\" ON storage.objects FOR SELECT TO public USING (bucket_id = 'b')"
        );
        let a = CreateArgs {
            bucket: "b/c".into(),
            template: Template::OwnerOnly,
            name: None,
        };
        assert!(policy_sql(&a).is_err());
    }

    #[test]
    fn policies_read_as_sentences() {
        let s = describe(
            "objects",
            &["authenticated".into()],
            "INSERT",
            true,
            None,
            Some(
                "((bucket_id = 'avatars'::text) AND ((storage.foldername(name))[1] = (auth.uid())::text))",
            ),
        );
        assert!(
            s.starts_with("`authenticated` may upload new files in bucket `avatars`"),
            "{s}"
        );
        assert!(s.contains("their user id"), "{s}");
        let s = describe(
            "objects",
            &["public".into()],
            "SELECT",
            true,
            Some("(bucket_id = 'avatars'::text)"),
            None,
        );
        assert!(s.starts_with("Every role may download"), "{s}");
    }
}
