//! `api_operations` and `call_api_operation` (group `management`): the
//! catalogue of every Management API operation in our spec
//! ([`crate::api::catalog`]), searchable by keyword, and a generic caller
//! that reaches the long tail of the API without a tool per endpoint.
//!
//! The caller keeps the rules the dedicated tools keep: arguments are
//! checked against the spec before anything is sent, read-only mode allows
//! only GET, destructive operations need a confirmation, a server scoped to
//! a project reaches only that project (and its branches), operations that a
//! dedicated tool guards more closely (SQL, migrations, paid resources,
//! function deploys) are refused with the tool to use, secret values in
//! answers are masked, and large answers spill to a file.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::catalog::{Catalog, Location, Nature, Operation};
use crate::api::{ApiError, ManagementApi};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::spill::{Format, RowCollector};

/// Results of a search unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 200;

/// Operations a dedicated tool runs with checks this caller cannot make.
const GUARDED: [(&str, &str); 11] = [
    (
        "v1-run-a-query",
        "execute_sql (SQL is classified and guarded there)",
    ),
    ("v1-read-only-query", "execute_sql"),
    ("v1-apply-a-migration", "apply_migration"),
    ("v1-upsert-a-migration", "apply_migration"),
    (
        "v1-create-a-project",
        "get_cost, confirm_cost and create_project (it costs money)",
    ),
    (
        "v1-create-a-branch",
        "get_cost, confirm_cost and create_branch (it costs money)",
    ),
    ("v1-create-a-function", "deploy_edge_function"),
    ("v1-update-a-function", "deploy_edge_function"),
    ("v1-get-a-function-body", "get_edge_function"),
    (
        "v1-bulk-create-secrets",
        "set_secrets (the values never pass through the conversation)",
    ),
    (
        "v1-update-project-legacy-api-keys",
        "the dashboard (turning legacy keys off breaks every client using them)",
    ),
];

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("api_operations", Group::Management, Kind::Read)
            .title("Search Management API operations")
            .description("Find Management API operations by keyword; with operation_id, its parameters and body.")
            .handler(api_operations),
        tool("call_api_operation", Group::Management, Kind::Write)
            .title("Call a Management API operation")
            .description("Call an operation from api_operations; read-only mode allows only GET.")
            .read_only_capable()
            .scope(Scope::Project)
            .assess(assess)
            .handler(call_api_operation),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationsArgs {
    /// Words that must all appear in the id, path, summary or tags, e.g. "pooler config".
    #[serde(default)]
    pub query: Option<String>,
    /// Describe this one operation in full.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// Only this HTTP method (GET, POST, PUT, PATCH, DELETE).
    #[serde(default)]
    pub method: Option<String>,
    /// Most results (default 25, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallArgs {
    /// From api_operations, e.g. v1-get-pooler-config.
    pub operation_id: String,
    /// Path parameters by name; `ref` defaults to project_id.
    #[serde(default)]
    pub path: Map<String, Value>,
    /// Query parameters by name.
    #[serde(default)]
    pub query: Map<String, Value>,
    /// JSON request body.
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub project_id: Option<String>,
}

fn catalog() -> Result<&'static Catalog, ToolError> {
    Catalog::get().map_err(|e| {
        ToolError::internal(e.to_string())
            .suggestion("Report this as a bug: the spec built into the binary is invalid.")
    })
}

fn unknown_operation(c: &Catalog, id: &str) -> ToolError {
    let near = c.closest(id);
    let hint = if near.is_empty() {
        "Search with api_operations (e.g. query \"auth config\") and use an operation_id it lists."
            .to_owned()
    } else {
        format!(
            "Did you mean {}? api_operations lists them all.",
            near.join(", ")
        )
    };
    ToolError::new(
        crate::result::ErrorCode::NotFound,
        format!("no Management API operation `{id}`"),
    )
    .suggestion(hint)
}

async fn api_operations(_call: Call, a: OperationsArgs) -> Result<ToolOutput, ToolError> {
    let c = catalog()?;
    if let Some(id) = a
        .operation_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let op = c.operation(id).ok_or_else(|| unknown_operation(c, id))?;
        let mut out = serde_json::to_value(op).unwrap_or(Value::Null);
        if let (Some(m), Some((_, tool))) = (
            out.as_object_mut(),
            GUARDED.iter().find(|(g, _)| *g == op.operation_id),
        ) {
            m.insert("use_instead".into(), json!(tool));
        }
        return Ok(ToolOutput::trusted(out));
    }
    let method = match a.method.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(m) => {
            let up = m.to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&up.as_str()) {
                return Err(ToolError::invalid(format!("`{m}` is not an HTTP method"))
                    .suggestion("Pass GET, POST, PUT, PATCH or DELETE, or leave method out."));
            }
            Some(up)
        }
    };
    let limit = a.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ToolError::invalid(format!(
            "`limit` is {limit}; it must be between 1 and {MAX_LIMIT}"
        ))
        .suggestion("Leave limit out for 25 results, or narrow the query."));
    }
    let query = a.query.unwrap_or_default();
    let hits = c.search(&query, method.as_deref());
    let total = hits.len();
    let shown: Vec<Value> = hits.iter().take(limit).map(|o| o.summary_json()).collect();
    let mut out = ToolOutput::trusted(json!({
        "total": total,
        "operations": shown,
        "catalog_size": c.len(),
        "next_step": "call_api_operation with an operation_id; api_operations with operation_id shows its parameters and body first.",
    }));
    if total == 0 {
        out = out.warn(format!(
            "no operation matches `{query}`; try fewer or other words (every word must match)"
        ));
    } else if total > limit {
        out = out.warn(format!(
            "{total} operations match; {limit} shown. Add words to narrow the search."
        ));
    }
    Ok(out)
}

/// A checked request: the operation and the concrete path, query and body.
#[derive(Debug)]
struct Request<'a> {
    op: &'a Operation,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    project: Option<String>,
    branch: Option<String>,
}

fn scalar(name: &str, v: &Value) -> Result<String, ToolError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ToolError::invalid(format!(
            "parameter `{name}` must be a string, number or boolean"
        ))
        .suggestion("Pass lists as arrays of scalars; objects go in `body`.")),
    }
}

/// Checks `a` against the spec and builds the request. Pure: the confirmation
/// hook runs it too.
fn prepare<'a>(c: &'a Catalog, a: &CallArgs) -> Result<Request<'a>, ToolError> {
    let id = a.operation_id.trim();
    let op = c.operation(id).ok_or_else(|| unknown_operation(c, id))?;
    if let Some((_, tool)) = GUARDED.iter().find(|(g, _)| *g == op.operation_id) {
        return Err(
            ToolError::invalid(format!("`{id}` is not run through call_api_operation"))
                .reason("a dedicated tool runs it with checks a generic call cannot make")
                .suggestion(format!("Use {tool}.")),
        );
    }
    // Path parameters.
    let mut path = a.path.clone();
    let project = a
        .project_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if op
        .param("ref")
        .is_some_and(|p| p.location == Location::Path)
    {
        match (path.get("ref"), project) {
            (Some(Value::String(r)), Some(p)) if r != p => {
                return Err(ToolError::invalid(format!(
                    "path.ref `{r}` and project_id `{p}` differ"
                ))
                .suggestion("Pass the project once, as project_id."));
            }
            (None, Some(p)) => {
                path.insert("ref".into(), json!(p));
            }
            _ => {}
        }
    }
    for name in path.keys() {
        if op.param(name).is_none_or(|p| p.location != Location::Path) {
            return Err(
                ToolError::invalid(format!("`{id}` has no path parameter `{name}`")).suggestion(
                    format!(
                        "Its path is {}; see api_operations for its parameters.",
                        op.path
                    ),
                ),
            );
        }
    }
    let mut segments = Vec::new();
    for seg in op.path.trim_start_matches('/').split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let Some(v) = path.get(name) else {
                let how = if name == "ref" {
                    "Pass project_id (list_projects shows the refs)."
                } else {
                    "api_operations with this operation_id lists its parameters."
                };
                return Err(ToolError::invalid(format!(
                    "`{id}` needs the path parameter `{name}` ({})",
                    op.path
                ))
                .suggestion(how));
            };
            let v = scalar(name, v)?;
            if v.is_empty() || v.contains('/') || v == "." || v == ".." {
                return Err(ToolError::invalid(format!(
                    "path parameter `{name}` is `{v}`, which is not a valid path segment"
                ))
                .suggestion("Pass the bare value (an id, ref or slug) without slashes."));
            }
            if name == "ref" && !(v.len() == 20 && v.chars().all(|c| c.is_ascii_lowercase())) {
                return Err(
                    ToolError::invalid(format!("`{v}` is not a project ref")).suggestion(
                        "A project ref is 20 lowercase letters; list_projects shows them.",
                    ),
                );
            }
            segments.push(v);
        } else {
            segments.push(seg.to_owned());
        }
    }
    // Query parameters.
    let mut query = Vec::new();
    for (name, v) in &a.query {
        if op.param(name).is_none_or(|p| p.location != Location::Query) {
            let known: Vec<&str> = op
                .parameters
                .iter()
                .filter(|p| p.location == Location::Query)
                .map(|p| p.name.as_str())
                .collect();
            return Err(
                ToolError::invalid(format!("`{id}` has no query parameter `{name}`")).suggestion(
                    if known.is_empty() {
                        "It takes no query parameters; leave `query` out.".to_owned()
                    } else {
                        format!("Its query parameters: {}.", known.join(", "))
                    },
                ),
            );
        }
        match v {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    query.push((name.clone(), scalar(name, item)?));
                }
            }
            other => query.push((name.clone(), scalar(name, other)?)),
        }
    }
    for p in &op.parameters {
        if p.location == Location::Query && p.required && !a.query.contains_key(&p.name) {
            return Err(ToolError::invalid(format!(
                "`{id}` needs the query parameter `{}`",
                p.name
            ))
            .suggestion("api_operations with this operation_id shows what it takes."));
        }
    }
    // Body.
    let body = match (&op.body, &a.body) {
        (None, Some(_)) => {
            return Err(ToolError::invalid(format!("`{id}` takes no request body"))
                .suggestion("Leave `body` out."));
        }
        (Some(b), None) if b.required => {
            return Err(ToolError::invalid(format!("`{id}` needs a JSON `body`"))
                .suggestion("api_operations with this operation_id shows the body's schema."));
        }
        (Some(b), Some(_)) if b.content_type != "application/json" => {
            return Err(ToolError::invalid(format!(
                "`{id}` takes a `{}` body, which this tool cannot send",
                b.content_type
            ))
            .suggestion("Use the dedicated tool for this operation, or the dashboard."));
        }
        (Some(b), Some(v)) => {
            check_body(id, &b.schema, v)?;
            Some(v.clone())
        }
        (_, None) => None,
    };
    let branch = path
        .get("branch_id_or_ref")
        .and_then(|v| scalar("branch_id_or_ref", v).ok());
    let project = path.get("ref").and_then(|v| scalar("ref", v).ok());
    Ok(Request {
        op,
        segments,
        query,
        body,
        project,
        branch,
    })
}

/// Top-level check of a JSON body against its schema: an object where one
/// is expected, required fields present, no unknown fields when the schema
/// lists its fields.
fn check_body(id: &str, schema: &Value, body: &Value) -> Result<(), ToolError> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    let Some(obj) = body.as_object() else {
        return Err(
            ToolError::invalid(format!("`{id}` needs a JSON object as body"))
                .suggestion("api_operations with this operation_id shows the body's fields."),
        );
    };
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        let missing: Vec<&str> = req
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| !obj.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid(format!(
                "the body of `{id}` lacks {}",
                missing.join(", ")
            ))
            .suggestion("api_operations with this operation_id shows the body's fields."));
        }
    }
    let open = schema
        .get("additionalProperties")
        .is_some_and(|v| v != &Value::Bool(false));
    if !open {
        let unknown: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !props.contains_key(*k))
            .collect();
        if !unknown.is_empty() {
            let mut known: Vec<&str> = props.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(ToolError::invalid(format!(
                "the body of `{id}` has unknown fields: {}",
                unknown.join(", ")
            ))
            .suggestion(format!("Its fields: {}.", known.join(", "))));
        }
    }
    Ok(())
}

/// Destructive operations ask first, saying what they do and where.
fn assess(args: &Map<String, Value>) -> Option<String> {
    let a: CallArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let c = Catalog::get().ok()?;
    let req = prepare(c, &a).ok()?;
    if req.op.nature != Nature::Destructive {
        return None;
    }
    let target = match (&req.branch, &req.project) {
        (Some(b), _) => format!(" on branch `{b}`"),
        (None, Some(p)) => format!(" on project `{p}`"),
        _ => String::new(),
    };
    Some(format!(
        "{} {} ({}){target}: {}",
        req.op.method,
        req.op.path,
        req.op.operation_id,
        req.op.summary.trim_end_matches('.')
    ))
}

async fn call_api_operation(call: Call, a: CallArgs) -> Result<ToolOutput, ToolError> {
    let c = catalog()?;
    if let (Some(scoped), Some(Value::String(r))) =
        (call.state.config.scoped_project_ref(), a.path.get("ref"))
        && r != scoped
    {
        return Err(scope_error(
            scoped,
            format!("project `{r}` is not reachable"),
        ));
    }
    let req = prepare(c, &a)?;
    if call.read_only && req.op.method != "GET" {
        return Err(ToolError::new(
            crate::result::ErrorCode::ReadOnly,
            format!(
                "`{}` is a {} operation and the server runs read-only",
                req.op.operation_id, req.op.method
            ),
        )
        .suggestion("Only GET operations run in read-only mode; restart without --read-only to change things."));
    }
    let api = call.state.clients.management(&call.instance)?;
    check_scope(&call, &api, &req).await?;
    let mut url = api.url_with(req.segments.iter().map(String::as_str));
    if !req.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &req.query {
            pairs.append_pair(k, v);
        }
    }
    let method = reqwest::Method::from_bytes(req.op.method.as_bytes())
        .map_err(|e| ToolError::internal(format!("method {}: {e}", req.op.method)))?;
    let mut builder = api.http().request(method, url);
    if let Some(body) = &req.body {
        builder = builder.json(body);
    }
    let limit = api.timeout_for(crate::api::CallOptions::once());
    let max = call.state.config.limits.max_remote_result_bytes;
    let read = async {
        let response = api.send(builder).await?;
        let status = response.status().as_u16();
        let bytes = api.read_capped(response, max).await?;
        Ok::<_, ApiError>((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(limit, read)
        .await
        .unwrap_or_else(|_| Err(ApiError::timeout(api.service(), limit)))
        .map_err(ToolError::from)?;
    let Some(bytes) = bytes else {
        return Err(ToolError::invalid(format!(
            "the answer of `{}` is larger than {max} bytes",
            req.op.operation_id
        ))
        .suggestion(
            "Narrow it with the operation's query parameters, or raise max_remote_result_bytes.",
        ));
    };
    let mut data = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => v,
            Err(_) => json!({ "text": String::from_utf8_lossy(&bytes) }),
        }
    };
    let masked = mask_secrets(&mut data, false);
    let header = json!({
        "operation_id": req.op.operation_id,
        "method": req.op.method,
        "path": format!("/{}", req.segments.join("/")),
        "status": status,
    });
    let mut out = shape(&call, header, data)?;
    if masked > 0 {
        out = out.warn(format!(
            "{masked} secret value(s) in the answer are masked; read them in the dashboard"
        ));
    }
    Ok(out)
}

/// The answer inline when it fits the output budget, else its items (or
/// the whole answer) in a spill file with a preview.
fn shape(call: &Call, mut header: Value, data: Value) -> Result<ToolOutput, ToolError> {
    let budget = call.state.config.limits.output_budget_bytes;
    let size = data.to_string().len();
    if size <= budget / 2 {
        if let Some(m) = header.as_object_mut() {
            m.insert("data".into(), data);
        }
        return Ok(ToolOutput::untrusted(header));
    }
    let items = match data {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut collector = RowCollector::always_spill(
        call.spill().clone(),
        Format::Jsonl,
        Vec::new(),
        call.state.config.limits.max_rows.min(20),
        budget / 2,
    )
    .map_err(|e| ToolError::internal(e.to_string()))?;
    for item in items {
        collector
            .push(item)
            .map_err(|e| ToolError::internal(e.to_string()))?;
    }
    let collected = collector
        .finish()
        .map_err(|e| ToolError::internal(e.to_string()))?;
    if let Some(m) = header.as_object_mut() {
        m.insert("preview".into(), json!(collected.rows));
        m.insert("item_count".into(), json!(collected.row_count));
        m.insert("spill".into(), json!(collected.spill));
    }
    Ok(ToolOutput::untrusted(header).warn(format!(
        "the answer ({size} bytes) is larger than the output budget; it is in the spill file (one JSON item per line)"
    )))
}

fn scope_error(scoped: &str, what: String) -> ToolError {
    ToolError::new(
        crate::result::ErrorCode::PermissionDenied,
        format!("this server is limited to project `{scoped}`; {what}"),
    )
    .suggestion("Start the server without --project-ref to act on other projects or the account.")
}

/// A server limited to listed projects (`--project-ref`) reaches those
/// projects and their branches only.
async fn check_scope(call: &Call, api: &ManagementApi, req: &Request<'_>) -> Result<(), ToolError> {
    let allowed = call.state.config.allowed_projects();
    if allowed.is_empty() {
        return Ok(());
    }
    let scoped = allowed.join("`, `");
    let refuse = |what: String| scope_error(&scoped, what);
    if let Some(p) = &req.project {
        if !allowed.iter().any(|a| a == p) {
            return Err(refuse(format!("project `{p}` is not reachable")));
        }
        return Ok(());
    }
    let Some(branch) = &req.branch else {
        return Err(refuse(format!(
            "`{}` acts on the account, not on a project",
            req.op.operation_id
        )));
    };
    for project in allowed {
        let url = api.url_with(["v1", "projects", project.as_str(), "branches"]);
        let limit = api.timeout_for(crate::api::CallOptions::idempotent());
        let list = async {
            let response = api.send(api.http().get(url)).await?;
            response
                .json::<Value>()
                .await
                .map_err(|e| ApiError::from_reqwest(api.service(), e, api.redactor()))
        };
        let branches = tokio::time::timeout(limit, list)
            .await
            .unwrap_or_else(|_| Err(ApiError::timeout(api.service(), limit)))
            .map_err(ToolError::from)?;
        let found = branches.as_array().is_some_and(|list| {
            list.iter().any(|b| {
                ["id", "project_ref", "name"]
                    .iter()
                    .any(|k| b.get(k).and_then(Value::as_str) == Some(branch.as_str()))
            })
        });
        if found {
            return Ok(());
        }
    }
    Err(refuse(format!(
        "branch `{branch}` is not one of its branches"
    )))
}

/// Whether a field name holds a secret.
fn secret_field(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("secret")
        || k.contains("password")
        || k.ends_with("_pass")
        || k.ends_with("token")
        || k.ends_with("_key") && !k.ends_with("public_key") && k != "api_key"
        || k == "private_key"
        || k == "connection_string"
        || k == "connectionstring"
        || k == "db_pass"
}

/// Masks secret string values in place; returns how many it masked. An
/// `api_key` is masked unless its object says it is publishable or anon.
pub fn mask_secrets(v: &mut Value, parent_secret: bool) -> usize {
    match v {
        Value::Object(m) => {
            let public_key = m
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t == "publishable")
                || m.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n == "anon" || n == "publishable");
            let mut n = 0;
            for (k, val) in m.iter_mut() {
                let secret = secret_field(k) || (k == "api_key" && !public_key);
                n += mask_secrets(val, secret);
            }
            n
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|i| mask_secrets(i, parent_secret))
            .sum(),
        Value::String(s) if parent_secret && !s.is_empty() => {
            *s = format!("[masked, {} chars]", s.chars().count());
            1
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> CallArgs {
        serde_json::from_value(v).unwrap()
    }

    const P: &str = "abcdefghijklmnopqrst";

    #[test]
    fn prepare_fills_ref_from_project_id_and_checks_parameters() {
        let c = Catalog::get().unwrap();
        let r = prepare(c, &args(json!({"operation_id": "v1-get-project-api-keys", "project_id": P, "query": {"reveal": false}}))).unwrap();
        assert_eq!(r.segments, vec!["v1", "projects", P, "api-keys"]);
        assert_eq!(r.query, vec![("reveal".to_owned(), "false".to_owned())]);
        let e = prepare(c, &args(json!({"operation_id": "v1-get-project-api-keys", "project_id": P, "query": {"reveel": true}}))).unwrap_err();
        assert!(e.message.contains("reveel"), "{}", e.message);
        let e = prepare(c, &args(json!({"operation_id": "v1-get-project-api-keys"}))).unwrap_err();
        assert!(e.message.contains("`ref`"), "{}", e.message);
        let e = prepare(
            c,
            &args(json!({"operation_id": "v1-get-project-api-keys", "path": {"ref": "../x"}})),
        )
        .unwrap_err();
        assert!(
            e.message.contains("not a valid path segment"),
            "{}",
            e.message
        );
        let e = prepare(
            c,
            &args(json!({"operation_id": "v1-get-project-api-keys", "path": {"ref": "short"}})),
        )
        .unwrap_err();
        assert!(e.message.contains("not a project ref"), "{}", e.message);
        let e = prepare(c, &args(json!({"operation_id": "v1-get-project-api-keys", "project_id": P, "path": {"ref": "bbbbbbbbbbbbbbbbbbbb"}}))).unwrap_err();
        assert!(e.message.contains("differ"), "{}", e.message);
    }

    #[test]
    fn guarded_operations_are_refused_with_the_tool_to_use() {
        let c = Catalog::get().unwrap();
        let e = prepare(c, &args(json!({"operation_id": "v1-run-a-query", "project_id": P, "body": {"query": "drop table x"}}))).unwrap_err();
        assert!(
            e.suggestion
                .as_deref()
                .unwrap_or("")
                .contains("execute_sql")
        );
        let e = prepare(
            c,
            &args(json!({"operation_id": "v1-create-a-project", "body": {}})),
        )
        .unwrap_err();
        assert!(
            e.suggestion
                .as_deref()
                .unwrap_or("")
                .contains("create_project")
        );
    }

    #[test]
    fn bodies_are_checked_at_the_top_level() {
        let c = Catalog::get().unwrap();
        let e = prepare(
            c,
            &args(json!({"operation_id": "v1-update-postgrest-service-config", "project_id": P})),
        )
        .unwrap_err();
        assert!(e.message.contains("needs a JSON `body`"), "{}", e.message);
        let e = prepare(c, &args(json!({"operation_id": "v1-update-postgrest-service-config", "project_id": P, "body": {"max_rowz": 5}}))).unwrap_err();
        assert!(e.message.contains("max_rowz"), "{}", e.message);
        prepare(c, &args(json!({"operation_id": "v1-update-postgrest-service-config", "project_id": P, "body": {"max_rows": 5}}))).unwrap();
        let e = prepare(
            c,
            &args(json!({"operation_id": "v1-get-project", "project_id": P, "body": {}})),
        )
        .unwrap_err();
        assert!(e.message.contains("takes no request body"), "{}", e.message);
    }

    #[test]
    fn destructive_operations_ask_first_and_reads_do_not() {
        let ask = assess(
            json!({"operation_id": "v1-delete-a-project", "project_id": P})
                .as_object()
                .unwrap(),
        );
        let text = ask.unwrap();
        assert!(text.contains("DELETE") && text.contains(P), "{text}");
        assert!(
            assess(
                json!({"operation_id": "v1-get-project", "project_id": P})
                    .as_object()
                    .unwrap()
            )
            .is_none()
        );
        assert!(
            assess(
                json!({"operation_id": "v1-pause-a-project", "project_id": P})
                    .as_object()
                    .unwrap()
            )
            .is_some()
        );
        // Invalid calls are refused by the handler without a question.
        assert!(
            assess(
                json!({"operation_id": "v1-delete-a-project"})
                    .as_object()
                    .unwrap()
            )
            .is_none()
        );
    }

    #[test]
    fn secrets_are_masked_publishable_keys_are_not() {
        let mut v = json!([
            {"name": "anon", "api_key": "eyJpublic", "type": "legacy"},
            {"name": "service_role", "api_key": "eyJsecret", "type": "legacy"},
            {"name": "default", "api_key": "sb_publishable_x", "type": "publishable"},
            {"name": "default", "api_key": "sb_secret_y", "type": "secret"},
            {"smtp_pass": "hunter2", "jwt_exp": 3600, "refresh_token_rotation_enabled": true,
             "external_github_secret": "s3", "site_url": "https://x"}
        ]);
        let n = mask_secrets(&mut v, false);
        let text = v.to_string();
        assert_eq!(n, 4, "{text}");
        for secret in ["eyJsecret", "sb_secret_y", "hunter2", "\"s3\""] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        for public in ["eyJpublic", "sb_publishable_x", "https://x", "3600"] {
            assert!(text.contains(public), "{public} missing in {text}");
        }
    }
}
