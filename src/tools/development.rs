//! The `development` group: what building an app on a project needs: its
//! API URL, its client-safe API keys (publishable or legacy anon; never a
//! secret or service role key) and TypeScript types of its database:
//! generated from the catalogs when the server reaches the database
//! directly ([`crate::typegen`]), else by the Management API. Also
//! `generate_schema_docs` (registered in the `migrations` group): Markdown
//! documentation of schemas with an entity-relationship diagram, written to
//! a file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine;
use deadpool_postgres::Object;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::CallOptions;
use crate::api::generated::management::types::{ApiKeyResponse, ApiKeyResponseType, ProjectRef};
use crate::config::Mode;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::{Call, parse_project_ref};
use crate::spill::{Format, RowCollector};
use crate::typegen::{self, Detail, TypegenError};

/// Most schemas `generate_typescript_types` accepts.
const MAX_SCHEMAS: usize = 50;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("get_project_url", Group::Development, Kind::Read)
            .title("Get project URL")
            .description("API URL of a cloud project or of the self-hosted instance.")
            .scope(Scope::Project)
            .handler(get_project_url),
        tool("get_publishable_keys", Group::Development, Kind::Read)
            .title("Get publishable keys")
            .description(
                "Client-safe keys (publishable, legacy anon); never secret ones.",
            )
            .scope(Scope::Project)
            .open_world()
            .handler(get_publishable_keys),
        tool("generate_typescript_types", Group::Development, Kind::Read)
            .title("Generate TypeScript types")
            .description("TypeScript types of a database's schemas, for supabase-js.")
            .scope(Scope::Project)
            .open_world()
            .handler(generate_typescript_types),
        // Not in a default group: the default tools/list has a byte budget.
        tool("generate_schema_docs", Group::Migrations, Kind::Write)
            .title("Generate schema documentation")
            .description("Writes Markdown documentation of schemas (tables, columns, keys, indexes, RLS and policies, views, functions, enums) with a Mermaid ER diagram to a file; returns its path and a summary.")
            .read_only_capable()
            .idempotent(true)
            .handler(generate_schema_docs),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Project ref (20 lowercase letters and digits). Optional for self-hosted instances.
    #[serde(default)]
    pub project_id: Option<String>,
}

async fn get_project_url(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    if let Some(r) = a
        .project_id
        .as_deref()
        .or(call.instance.project_ref.as_deref())
    {
        if r.len() != 20
            || !r
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(ToolError::invalid(format!("`{r}` is not a project ref"))
                .suggestion("A project ref is 20 lowercase letters and digits, as in https://<ref>.supabase.co."));
        }
        return Ok(ToolOutput::trusted(
            json!({"project_id": r, "url": format!("https://{r}.supabase.co")}),
        ));
    }
    match (&call.instance.supabase_url, call.instance.mode) {
        (Some(u), _) => Ok(ToolOutput::trusted(json!({"url": u}))),
        (None, Mode::Cloud) => Err(ToolError::invalid("`project_id` is required in cloud mode")
            .suggestion("Pass project_id, or start the server with --project-ref.")),
        (None, Mode::SelfHosted) => Err(ToolError::new(
            ErrorCode::NotConfigured,
            "no Supabase URL is configured for this instance",
        )
        .suggestion(
            "Pass --supabase-url (or SUPABASE_URL), or --env-file with SUPABASE_PUBLIC_URL.",
        )),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudProjectArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypesArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Schemas to include (default: public).
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocsArgs {
    /// Schemas to document (default: public).
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    /// Markdown file to write (default: docs/schema_<schemas>.md in the data directory).
    #[serde(default)]
    pub output_path: Option<String>,
    /// Replace `output_path` when it exists.
    #[serde(default)]
    pub overwrite: bool,
}

/// The project of a cloud tool, and its Management API client; a clear
/// error without an access token (self-hosted instances), saying `instead`.
fn cloud_project(
    call: &Call,
    given: Option<&str>,
    instead: &str,
) -> Result<(ProjectRef, crate::api::ManagementApi), ToolError> {
    if call.instance.access_token.is_none() {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!(
                "`{}` needs the Supabase Management API (a cloud project), and no access token is configured",
                call.tool
            ),
        )
        .suggestion(format!(
            "Pass --access-token (or SUPABASE_ACCESS_TOKEN) for a cloud project. {instead}"
        )));
    }
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required")
            .suggestion("Pass project_id (list_projects shows the refs), or start the server with --project-ref."));
    };
    let project = parse_project_ref(r.trim())?;
    let api = call.state.clients.management(&call.instance)?;
    Ok((project, api))
}

/// The `role` claim of a JWT (unverified: only used to refuse keys).
fn jwt_role(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("role")?.as_str().map(str::to_owned)
}

/// True for a key that may ship in client code: a publishable key
/// (`sb_publishable_...`) or the legacy anon JWT (role `anon`). A secret
/// key, a service role key, or a key whose value says otherwise than its
/// labels is never one.
pub fn is_client_key(k: &ApiKeyResponse) -> bool {
    let value = k.api_key.as_deref().unwrap_or("").trim();
    if value.is_empty()
        || value.starts_with("sb_secret_")
        || k.name.to_ascii_lowercase().contains("service_role")
    {
        return false;
    }
    let anon_jwt = || jwt_role(value).is_some_and(|r| r == "anon");
    match k.type_ {
        Some(ApiKeyResponseType::Secret) => false,
        Some(ApiKeyResponseType::Publishable) => value.starts_with("sb_publishable_") || anon_jwt(),
        Some(ApiKeyResponseType::Legacy) | None => k.name == "anon" && anon_jwt(),
    }
}

async fn get_publishable_keys(call: Call, a: CloudProjectArgs) -> Result<ToolOutput, ToolError> {
    let (project, api) = cloud_project(
        &call,
        a.project_id.as_deref(),
        "A self-hosted instance's anon key is ANON_KEY in its .env.",
    )?;
    // Never `reveal`: secret keys stay masked in the answer too.
    let keys = api
        .idempotent(|c| c.v1_get_project_api_keys(&project, None))
        .await
        .map_err(ToolError::from)?;
    // Whether the legacy keys still work; the answer is complete without it.
    let legacy_enabled = api
        .idempotent(|c| c.v1_get_project_legacy_api_keys(&project))
        .await
        .ok()
        .map(|r| r.enabled);
    let client_keys: Vec<Value> = keys
        .iter()
        .filter(|k| is_client_key(k))
        .map(|k| {
            let publishable = k.type_ == Some(ApiKeyResponseType::Publishable);
            let mut m = Map::new();
            m.insert("name".into(), json!(k.name));
            m.insert(
                "type".into(),
                json!(if publishable { "publishable" } else { "legacy" }),
            );
            m.insert("api_key".into(), json!(k.api_key));
            if let Some(id) = &k.id {
                m.insert("id".into(), json!(id));
            }
            if let Some(d) = k.description.as_deref().filter(|d| !d.is_empty()) {
                m.insert("description".into(), json!(d));
            }
            if !publishable && let Some(enabled) = legacy_enabled {
                m.insert("disabled".into(), json!(!enabled));
            }
            Value::Object(m)
        })
        .collect();
    if client_keys.is_empty() {
        return Err(ToolError::new(
            ErrorCode::NotFound,
            format!(
                "project `{}` has no publishable or anon API key",
                project.as_str()
            ),
        )
        .suggestion("Create a publishable key in the dashboard (Project Settings > API Keys)."));
    }
    let mut out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "url": format!("https://{}.supabase.co", project.as_str()),
        "keys": client_keys,
        "note": "Safe in browsers and apps; row level security decides what they can read and write.",
    }));
    if legacy_enabled == Some(false) {
        out = out.warn("the legacy anon key is disabled for this project; use a publishable key");
    }
    Ok(out)
}

/// Checks the schema names: no commas (the API takes a comma-separated
/// list), no control characters, at most 63 bytes.
fn check_schemas(schemas: Option<&[String]>) -> Result<Vec<String>, ToolError> {
    let Some(list) = schemas else {
        return Ok(Vec::new());
    };
    if list.len() > MAX_SCHEMAS {
        return Err(ToolError::invalid(format!(
            "{} schemas were given; at most {MAX_SCHEMAS} are accepted",
            list.len()
        ))
        .suggestion("Pass the schemas your app uses, e.g. [\"public\"]."));
    }
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let name = s.trim();
        if name.is_empty()
            || name.len() > 63
            || name.contains(',')
            || name.chars().any(char::is_control)
        {
            return Err(
                ToolError::invalid(format!("`{name}` is not a schema name")).suggestion(
                    "Pass schema names such as public or storage, one per item, without commas.",
                ),
            );
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// The start of `text`: whole lines while their JSON form fits `budget`.
fn preview_lines(text: &str, budget: usize) -> (String, usize) {
    let mut used = 0;
    let mut end = 0;
    let mut lines = 0;
    for line in text.split_inclusive('\n') {
        let cost = serde_json::to_string(line)
            .map(|s| s.len() - 2)
            .unwrap_or(line.len());
        if used + cost > budget {
            break;
        }
        used += cost;
        end += line.len();
        lines += 1;
    }
    (text[..end].to_owned(), lines)
}

async fn generate_typescript_types(call: Call, a: TypesArgs) -> Result<ToolOutput, ToolError> {
    let schemas = check_schemas(a.schemas.as_deref())?;
    if reaches_database(&call, a.project_id.as_deref()) {
        return local_types(call, schemas).await;
    }
    let (project, api) = cloud_project(
        &call,
        a.project_id.as_deref(),
        "Or start the server with --db-url to generate them from the database's catalogs, as supabase gen types typescript --db-url <url> does.",
    )?;
    let included = (!schemas.is_empty()).then(|| schemas.join(","));
    let response = api
        .call_with(CallOptions::idempotent().slow(), |c| {
            c.v1_generate_typescript_types(&project, included.as_deref())
        })
        .await
        .map_err(ToolError::from)?;
    let shown_schemas = if schemas.is_empty() {
        vec!["public".to_owned()]
    } else {
        schemas
    };
    let mut data = Map::new();
    data.insert("source".into(), json!("management_api"));
    data.insert("project_id".into(), json!(project.as_str()));
    data.insert("schemas".into(), json!(shown_schemas));
    fit_types(&call, data, response.types, Vec::new())
}

/// Whether this call's types come from the catalogs: the instance has a
/// direct database (or pooler) URL, and no other project is named.
fn reaches_database(call: &Call, project: Option<&str>) -> bool {
    let inst = &call.instance;
    (inst.db_url.is_some() || inst.pooler_url.is_some())
        && project.is_none_or(|p| inst.project_ref.as_deref().is_none_or(|r| r == p.trim()))
}

/// A pooled connection closed instead of returned to the pool unless the
/// catalog read finished: a read cancelled midway may leave its
/// transaction open.
struct CatalogConn(Option<Object>);

impl Drop for CatalogConn {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(Object::take(conn));
        }
    }
}

fn typegen_error(e: TypegenError) -> ToolError {
    let message = e.to_string();
    match e {
        TypegenError::Query { detail, .. } => ToolError::new(ErrorCode::QueryFailed, message)
            .reason(detail)
            .suggestion("Check that the database role can read the system catalogs (pg_catalog), then retry."),
        TypegenError::UnexpectedRow { .. } => ToolError::internal(message)
            .suggestion("Retry; if it persists, report the PostgreSQL version and the schema that fails."),
    }
}

/// Reads `schemas` (default: public) from this call's database in one
/// read-only snapshot.
async fn read_catalog(
    call: &Call,
    schemas: Vec<String>,
    detail: Detail,
) -> Result<(typegen::Catalog, Vec<String>), ToolError> {
    let schemas = if schemas.is_empty() {
        vec!["public".to_owned()]
    } else {
        schemas
    };
    let mut conn = CatalogConn(Some(call.db().await?));
    let client = conn
        .0
        .as_ref()
        .ok_or_else(|| ToolError::internal("the database connection was lost"))?;
    let cat = typegen::load(client, &schemas, detail)
        .await
        .map_err(typegen_error)?;
    // Finished: the connection goes back to the pool.
    drop(conn.0.take());
    let warnings = cat
        .missing
        .iter()
        .map(|s| {
            format!("schema `{s}` does not exist and is left out (list_schemas shows the schemas)")
        })
        .collect();
    Ok((cat, warnings))
}

async fn local_types(call: Call, schemas: Vec<String>) -> Result<ToolOutput, ToolError> {
    let (cat, warnings) = read_catalog(&call, schemas, Detail::Types).await?;
    let text = typegen::typescript(&cat);
    let mut data = Map::new();
    data.insert("source".into(), json!("catalog"));
    data.insert("schemas".into(), json!(cat.schemas));
    fit_types(&call, data, text, warnings)
}

/// The types in the result: whole when they fit the output budget, else
/// their start, with every line in a spill file.
fn fit_types(
    call: &Call,
    mut data: Map<String, Value>,
    text: String,
    warnings: Vec<String>,
) -> Result<ToolOutput, ToolError> {
    let bytes = text.len();
    let lines = text.lines().count();
    data.insert("lines".into(), json!(lines));
    data.insert("bytes".into(), json!(bytes));
    let budget = (call.limits().output_budget_bytes / 2).saturating_sub(8 * 1024);
    let cost = serde_json::to_string(&text)
        .map(|s| s.len())
        .unwrap_or(bytes);
    let with_warnings = |mut out: ToolOutput| {
        for w in &warnings {
            out = out.warn(w.clone());
        }
        out
    };
    if cost <= budget {
        data.insert("types".into(), Value::String(text));
        return Ok(with_warnings(ToolOutput::untrusted(Value::Object(data))));
    }
    // Too large: every line goes to a spill file, the start is shown.
    let spill_err = |e: crate::spill::SpillError| {
        ToolError::new(
            ErrorCode::Io,
            "the types are too large and could not be written to a spill file",
        )
        .reason(e.to_string())
        .suggestion("Check that --data-dir is writable, or pass fewer schemas.")
    };
    let mut collector =
        RowCollector::always_spill(call.spill().clone(), Format::Jsonl, Vec::new(), 1, 1024)
            .map_err(spill_err)?;
    for line in text.lines() {
        collector.push(json!(line)).map_err(spill_err)?;
    }
    let collected = collector.finish().map_err(spill_err)?;
    let Some(spill) = collected.spill else {
        return Err(ToolError::internal(
            "the types were not written to a spill file",
        ));
    };
    let (preview, shown) = preview_lines(&text, budget / 2);
    let warning = format!(
        "the types are {bytes} bytes ({lines} lines): the first {shown} lines are shown; all lines are in {} as JSON strings, one per line (read them with get_result_page(result_id=\"{}\"), or pass fewer schemas)",
        spill.path, spill.result_id
    );
    data.insert("truncated".into(), json!(true));
    data.insert("types".into(), Value::String(preview));
    data.insert("spill".into(), json!(spill));
    Ok(with_warnings(ToolOutput::untrusted(Value::Object(data))).warn(warning))
}

/// Where the documentation goes: `given`, checked, or the default file
/// in the data directory.
fn docs_path(
    call: &Call,
    given: Option<&str>,
    schemas: &[String],
    overwrite: bool,
) -> Result<PathBuf, ToolError> {
    let Some(given) = given.map(str::trim).filter(|p| !p.is_empty()) else {
        let name: String = schemas
            .join("_")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        let dir = call.state.config.data_dir.join("docs");
        std::fs::create_dir_all(&dir).map_err(|e| {
            ToolError::new(ErrorCode::Io, format!("cannot create {}", dir.display()))
                .reason(e.to_string())
                .suggestion("Check that --data-dir is writable, or pass output_path.")
        })?;
        return Ok(dir.join(format!("schema_{name}.md")));
    };
    let path = PathBuf::from(given);
    let markdown = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
    if !markdown {
        return Err(
            ToolError::invalid(format!("`{given}` is not a Markdown file name"))
                .suggestion("Pass an output_path ending in .md, e.g. docs/schema.md."),
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(ToolError::invalid(format!(
            "the directory of `{given}` does not exist"
        ))
        .suggestion("Create the directory first, or pass a path in an existing one (relative paths start at the server's working directory)."));
    }
    if path.is_dir() {
        return Err(ToolError::invalid(format!("`{given}` is a directory"))
            .suggestion("Pass a file path ending in .md."));
    }
    if path.exists() && !overwrite {
        return Err(ToolError::invalid(format!("`{given}` already exists"))
            .suggestion("Pass overwrite: true to replace it, or another output_path."));
    }
    Ok(path)
}

/// Writes `text` to a temporary file next to `path`, then renames it.
fn write_atomically(path: &Path, text: &str) -> Result<(), ToolError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "schema.md".to_owned());
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let io_err = |what: &str, e: std::io::Error| {
        ToolError::new(ErrorCode::Io, format!("cannot {what} {}", path.display()))
            .reason(e.to_string())
            .suggestion("Check that the directory is writable and has free space.")
    };
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("write", e));
    }
    Ok(())
}

async fn generate_schema_docs(call: Call, a: DocsArgs) -> Result<ToolOutput, ToolError> {
    let schemas = check_schemas(a.schemas.as_deref())?;
    let inst = &call.instance;
    if inst.db_url.is_none() && inst.pooler_url.is_none() {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!(
                "`generate_schema_docs` reads the catalogs over a direct database connection, and instance `{}` has none",
                inst.name
            ),
        )
        .suggestion("Start the server with --db-url (or a pooler URL) for this instance."));
    }
    let shown = if schemas.is_empty() {
        vec!["public".to_owned()]
    } else {
        schemas.clone()
    };
    let path = docs_path(&call, a.output_path.as_deref(), &shown, a.overwrite)?;
    let (cat, warnings) = read_catalog(&call, schemas, Detail::Docs).await?;
    let (text, summary) = typegen::markdown(&cat);
    write_atomically(&path, &text)?;
    let shown_path = std::fs::canonicalize(&path).unwrap_or(path);
    let mut data = Map::new();
    data.insert("path".into(), json!(shown_path.display().to_string()));
    data.insert("schemas".into(), json!(cat.schemas));
    data.insert("bytes".into(), json!(text.len()));
    data.insert("lines".into(), json!(text.lines().count()));
    data.insert("summary".into(), json!(summary));
    // Small documents are shown too; larger ones only live in the file.
    let cost = serde_json::to_string(&text)
        .map(|s| s.len())
        .unwrap_or(text.len());
    if cost <= call.limits().output_budget_bytes / 4 {
        data.insert("markdown".into(), Value::String(text));
    }
    let mut out = ToolOutput::untrusted(Value::Object(data));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(role: &str) -> String {
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.sig",
            enc(json!({"alg": "HS256"})),
            enc(json!({"role": role, "iss": "supabase"}))
        )
    }

    fn key(name: &str, kind: Option<&str>, value: &str) -> ApiKeyResponse {
        serde_json::from_value(json!({"name": name, "type": kind, "api_key": value})).unwrap()
    }

    #[test]
    fn only_client_keys_pass() {
        assert!(is_client_key(&key("anon", Some("legacy"), &jwt("anon"))));
        assert!(is_client_key(&key("anon", None, &jwt("anon"))));
        assert!(is_client_key(&key(
            "default",
            Some("publishable"),
            "sb_publishable_abc"
        )));
        assert!(!is_client_key(&key(
            "service_role",
            Some("legacy"),
            &jwt("service_role")
        )));
        assert!(!is_client_key(&key(
            "anon",
            Some("legacy"),
            &jwt("service_role")
        )));
        assert!(!is_client_key(&key(
            "default",
            Some("secret"),
            "sb_secret_abc"
        )));
        assert!(!is_client_key(&key(
            "default",
            Some("publishable"),
            "sb_secret_abc"
        )));
        assert!(!is_client_key(&key(
            "default",
            Some("publishable"),
            &jwt("service_role")
        )));
        assert!(!is_client_key(&key("anon", Some("legacy"), "")));
        assert!(!is_client_key(&key("x", Some("publishable"), "opaque")));
    }

    #[test]
    fn schemas_are_checked() {
        assert_eq!(check_schemas(None).unwrap(), Vec::<String>::new());
        let given = vec![
            " public ".to_owned(),
            "storage".to_owned(),
            "public".to_owned(),
        ];
        assert_eq!(
            check_schemas(Some(&given)).unwrap(),
            vec!["public", "storage"]
        );
        assert!(check_schemas(Some(&["a,b".to_owned()])).is_err());
        assert!(check_schemas(Some(&["".to_owned()])).is_err());
    }

    #[test]
    fn previews_end_at_a_line() {
        let (p, n) = preview_lines("ab\ncd\nef\n", 8);
        assert_eq!((p.as_str(), n), ("ab\ncd\n", 2));
    }
}
