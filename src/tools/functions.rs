//! The `functions` group (cloud projects, through the Management API): list
//! a project's edge functions, read one with its deployed source files, and
//! deploy one from source files with the multipart deploy.
//!
//! Deploying a function that already exists replaces the code it runs, so it
//! needs a confirmation; a new function does not. Whether a function exists
//! is only known over the network, while the pipeline decides about
//! confirmations before a handler runs. So this module remembers the
//! functions it has seen (listed, read, deployed or found by a deploy): a
//! deploy of a known function is confirmed by the pipeline as usual; a
//! deploy whose handler finds the function exists without that confirmation
//! stops, issues a token bound to the exact call itself and remembers the
//! function, so the repeated call with the token goes through the pipeline's
//! check.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use chrono::DateTime;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::generated::management::types::{FunctionSlug, ProjectRef};
use crate::api::{
    ApiError, CallOptions, FunctionDeployMetadata, FunctionFile, ManagementApi, with_retry,
};
use crate::confirm::binding;
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::{Call, parse_project_ref};

/// Most files one deploy may carry.
pub const MAX_DEPLOY_FILES: usize = 500;
/// Most bytes of source one deploy may carry.
pub const MAX_DEPLOY_BYTES: usize = 20 * 1024 * 1024;
/// Largest deployed bundle `get_edge_function` downloads.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Longest file name accepted in a deploy.
const MAX_FILE_NAME_CHARS: usize = 512;
/// Longest function name (slug) accepted.
const MAX_SLUG_CHARS: usize = 128;
/// The directory shared by a project's functions, next to theirs.
const SHARED_DIR: &str = "_shared";
/// Import maps picked up when `import_map_path` is not given, in this order.
pub const IMPORT_MAP_NAMES: [&str; 3] = ["deno.json", "deno.jsonc", "import_map.json"];
/// Most functions remembered as existing (beyond it, new ones are not
/// remembered and a deploy finds them itself).
const MAX_KNOWN: usize = 100_000;
/// Most pending deploy assessments remembered (beyond it they are dropped,
/// which only makes a deploy ask again).
const MAX_ASSESSED: usize = 10_000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_edge_functions", Group::Functions, Kind::Read)
            .title("List edge functions")
            .description("Edge functions of a cloud project: status and version.")
            .scope(Scope::Project)
            .handler(list_edge_functions),
        tool("get_edge_function", Group::Functions, Kind::Read)
            .title("Get an edge function")
            .description("An edge function's settings and deployed source files.")
            .scope(Scope::Project)
            .handler(get_edge_function),
        tool("deploy_edge_function", Group::Functions, Kind::Write)
            .title("Deploy an edge function")
            .description(
                "Create or update an edge function from source files; replacing one asks first.",
            )
            .scope(Scope::Project)
            .assess(assess_deploy)
            .handler(deploy_edge_function),
    ]
}

// ---------------------------------------------------------------------------
// Arguments

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFunctionArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Function slug, from list_edge_functions.
    pub function_slug: String,
}

// One source file of a deploy (no doc comment: `files` describes it).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct DeployFileArg {
    /// Relative path, e.g. index.ts or ../_shared/cors.ts.
    pub name: String,
    /// File contents (text).
    pub content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Function slug: letters, digits, '-' or '_'.
    pub name: String,
    /// Entry file among `files`.
    pub entrypoint_path: String,
    /// Import map among `files` (default: deno.json or import_map.json).
    #[serde(default)]
    pub import_map_path: Option<String>,
    /// Require a valid JWT on calls.
    pub verify_jwt: bool,
    /// Source files.
    pub files: Vec<DeployFileArg>,
}

/// A tool's typed arguments plus the argument map they came from (after
/// the pipeline injected `project_id`), to bind a confirmation to the call.
#[derive(Debug)]
pub struct WithRaw<T> {
    pub raw: Map<String, Value>,
    pub args: T,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for WithRaw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Map::<String, Value>::deserialize(d)?;
        let args = serde_json::from_value(Value::Object(raw.clone())).map_err(D::Error::custom)?;
        Ok(Self { raw, args })
    }
}

impl<T: JsonSchema> JsonSchema for WithRaw<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

fn project_ref(call: &Call, given: Option<&str>) -> Result<ProjectRef, ToolError> {
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required")
            .suggestion("Pass project_id (list_projects shows the refs), or start the server with --project-ref."));
    };
    parse_project_ref(r.trim())
}

/// Reads `function_slug` for a lookup (the API's slug pattern).
fn parse_slug(raw: &str) -> Result<FunctionSlug, ToolError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ToolError::invalid("`function_slug` is empty")
            .suggestion("Pass a function's slug as list_edge_functions shows it."));
    }
    s.parse().map_err(|_| {
        ToolError::invalid(format!("`{s}` is not a function slug")).suggestion(
            "A slug has only letters, digits, '-' and '_'; list_edge_functions shows them.",
        )
    })
}

/// Checks a deploy's function name: `^[A-Za-z][A-Za-z0-9_-]*$`.
pub fn check_function_name(raw: &str) -> Result<String, ToolError> {
    let s = raw.trim();
    let mut chars = s.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ToolError::invalid(format!("`{s}` is not a valid function name"))
            .suggestion("Start with a letter, then use letters, digits, '-' or '_' (e.g. send-email); it becomes the URL /functions/v1/<name>."));
    }
    if s.chars().count() > MAX_SLUG_CHARS {
        return Err(ToolError::invalid(format!(
            "the function name is longer than {MAX_SLUG_CHARS} characters"
        ))
        .suggestion("Pass a shorter name."));
    }
    Ok(s.to_owned())
}

// ---------------------------------------------------------------------------
// Functions seen to exist, and deploys the pipeline confirmed

/// `project/slug` of functions known to exist; never forgotten (see
/// [`take_assessed`] for why).
static KNOWN: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(|| Mutex::new(HashSet::new()));
/// Deploy calls (by their argument hash) that `assess_deploy` marked as
/// needing confirmation, waiting for their handler.
static ASSESSED: LazyLock<Mutex<HashMap<String, usize>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn known_key(project: &str, slug: &str) -> String {
    format!("{}/{}", project.trim(), slug.trim())
}

fn remember(project: &str, slug: &str) {
    if let Ok(mut k) = KNOWN.lock()
        && k.len() < MAX_KNOWN
    {
        k.insert(known_key(project, slug));
    }
}

fn is_known(project: &str, slug: &str) -> bool {
    KNOWN
        .lock()
        .map(|k| k.contains(&known_key(project, slug)))
        .unwrap_or(false)
}

fn call_key(args: &Map<String, Value>) -> String {
    binding("deploy_edge_function", "", args)
}

/// Marks a deploy call as assessed destructive: the pipeline checks its
/// confirmation before the handler runs.
fn mark_assessed(args: &Map<String, Value>) {
    if let Ok(mut m) = ASSESSED.lock() {
        if m.len() >= MAX_ASSESSED {
            m.clear();
        }
        *m.entry(call_key(args)).or_insert(0) += 1;
    }
}

/// True when the pipeline assessed this exact call as replacing a function
/// (and so checked its confirmation, or runs with --allow-destructive).
/// Sound because a remembered function is never forgotten: a mark left by
/// an earlier identical call means this call's own assessment said the same
/// and marked it too.
fn take_assessed(args: &Map<String, Value>) -> bool {
    let Ok(mut m) = ASSESSED.lock() else {
        return false;
    };
    let key = call_key(args);
    match m.get_mut(&key) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            m.remove(&key);
            true
        }
        None => false,
    }
}

/// A deploy needs confirmation when the function is known to exist.
/// Invalid arguments are not assessed: the handler refuses them without
/// asking first.
fn assess_deploy(args: &Map<String, Value>) -> Option<String> {
    let a: DeployArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let project = a.project_id.as_deref().unwrap_or("");
    let slug = check_function_name(&a.name).ok()?;
    let files = check_files(&a.files).ok()?;
    let entry = check_entrypoint(&a.entrypoint_path, &files).ok()?;
    choose_import_map(a.import_map_path.as_deref(), None, &files).ok()?;
    if !is_known(project, &slug) {
        return None;
    }
    mark_assessed(args);
    Some(replace_action(&slug, project, files.files.len(), &entry))
}

fn replace_action(slug: &str, project: &str, files: usize, entry: &str) -> String {
    let project = if project.is_empty() {
        String::new()
    } else {
        format!(" in project `{project}`")
    };
    format!(
        "deploy edge function `{slug}`{project}, which already exists: its deployed code is replaced by the {files} file(s) sent (entrypoint {entry}) and serves calls at once"
    )
}

// ---------------------------------------------------------------------------
// File names

/// Checks one file name of a deploy and returns the name it is sent under:
/// relative, `/`-separated, without `.` segments; `..` only as the leading
/// `../_shared/` of the directory shared between functions.
pub fn normalize_file_name(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("the name is empty".into());
    }
    if s.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(format!(
            "the name is longer than {MAX_FILE_NAME_CHARS} characters"
        ));
    }
    if s.chars().any(char::is_control) {
        return Err("the name contains control characters".into());
    }
    if s.contains('\\') {
        return Err("the name contains '\\'; separate directories with '/'".into());
    }
    let b = s.as_bytes();
    if s.starts_with('/')
        || s.starts_with('~')
        || s.contains("://")
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
    {
        return Err("the name is an absolute path; give it relative to the function's directory (index.ts, lib/util.ts, ../_shared/cors.ts)".into());
    }
    if s.ends_with('/') {
        return Err("the name ends with '/'; name files, not directories".into());
    }
    let mut up = 0usize;
    let mut parts: Vec<&str> = Vec::new();
    for seg in s.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    up += 1;
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err("the name does not name a file".into());
    }
    match up {
        0 => Ok(parts.join("/")),
        1 if parts.len() >= 2 && parts[0] == SHARED_DIR => Ok(format!("../{}", parts.join("/"))),
        _ => Err(format!(
            "the name leaves the function's directory; only ../{SHARED_DIR}/ (code shared between functions) may be reached with '..'"
        )),
    }
}

/// The checked files of a deploy.
#[derive(Debug)]
pub struct CheckedFiles {
    pub files: Vec<FunctionFile>,
    pub bytes: usize,
}

impl CheckedFiles {
    fn has(&self, name: &str) -> bool {
        self.files.iter().any(|f| f.name == name)
    }
}

/// Checks every file of a deploy: names (see [`normalize_file_name`]), no
/// duplicates, count and total size.
pub fn check_files(files: &[DeployFileArg]) -> Result<CheckedFiles, ToolError> {
    if files.is_empty() {
        return Err(ToolError::invalid("`files` is empty").suggestion(
            "Pass every source file as {name, content}, at least the entrypoint (e.g. index.ts).",
        ));
    }
    if files.len() > MAX_DEPLOY_FILES {
        return Err(ToolError::invalid(format!(
            "{} files were given; at most {MAX_DEPLOY_FILES} are accepted",
            files.len()
        ))
        .suggestion("Deploy large functions with the Supabase CLI (supabase functions deploy)."));
    }
    let mut out: Vec<FunctionFile> = Vec::with_capacity(files.len());
    let mut bytes = 0usize;
    for (i, f) in files.iter().enumerate() {
        let name = normalize_file_name(&f.name).map_err(|reason| {
            ToolError::invalid(format!("files[{i}].name `{}` is not usable", f.name.trim()))
                .reason(reason)
                .suggestion("Name files relative to the function's directory: index.ts, lib/util.ts, or ../_shared/cors.ts for shared code.")
        })?;
        if out.iter().any(|o| o.name == name) {
            return Err(
                ToolError::invalid(format!("the file `{name}` is given twice"))
                    .suggestion("Send each file once."),
            );
        }
        bytes += f.content.len();
        out.push(FunctionFile::new(name, f.content.as_bytes().to_vec()));
    }
    if bytes > MAX_DEPLOY_BYTES {
        return Err(ToolError::invalid(format!(
            "the files hold {bytes} bytes; at most {} MiB are accepted",
            MAX_DEPLOY_BYTES / (1024 * 1024)
        ))
        .suggestion("Deploy large functions with the Supabase CLI (supabase functions deploy)."));
    }
    Ok(CheckedFiles { files: out, bytes })
}

/// Checks `entrypoint_path`: one of the files, inside the function.
fn check_entrypoint(raw: &str, files: &CheckedFiles) -> Result<String, ToolError> {
    let names = file_list(files);
    let entry = normalize_file_name(raw).map_err(|reason| {
        ToolError::invalid(format!("`entrypoint_path` `{}` is not usable", raw.trim()))
            .reason(reason)
            .suggestion(format!(
                "Pass the entry file's name as given in `files` ({names})."
            ))
    })?;
    if entry.starts_with("../") {
        return Err(ToolError::invalid(format!(
            "`entrypoint_path` `{entry}` is in ../{SHARED_DIR}/; the entrypoint must be the function's own file"
        ))
        .suggestion("Pass the function's entry file, usually index.ts."));
    }
    if !files.has(&entry) {
        return Err(ToolError::invalid(format!(
            "`entrypoint_path` `{entry}` is not one of the files sent"
        ))
        .suggestion(format!(
            "Add the entry file to `files`, or pass one of: {names}."
        )));
    }
    Ok(entry)
}

fn file_list(files: &CheckedFiles) -> String {
    let mut names: Vec<&str> = files
        .files
        .iter()
        .map(|f| f.name.as_str())
        .take(10)
        .collect();
    if files.files.len() > 10 {
        names.push("...");
    }
    names.join(", ")
}

/// Where the import map came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMapSource {
    Given,
    Previous,
    Detected,
}

impl ImportMapSource {
    fn name(self) -> &'static str {
        match self {
            ImportMapSource::Given => "given",
            ImportMapSource::Previous => "previous deploy",
            ImportMapSource::Detected => "detected",
        }
    }
}

/// Picks the import map: the one given (which must be among the files),
/// else the previous deploy's when that file is sent again, else a
/// `deno.json`, `deno.jsonc` or `import_map.json` at the function's top.
/// A `.json` import map must parse as JSON.
pub fn choose_import_map(
    given: Option<&str>,
    previous: Option<&str>,
    files: &CheckedFiles,
) -> Result<Option<(String, ImportMapSource)>, ToolError> {
    let chosen = match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            let name = normalize_file_name(raw).map_err(|reason| {
                ToolError::invalid(format!("`import_map_path` `{raw}` is not usable"))
                    .reason(reason)
                    .suggestion("Pass the import map's name as given in `files` (e.g. deno.json).")
            })?;
            if !files.has(&name) {
                return Err(ToolError::invalid(format!(
                    "`import_map_path` `{name}` is not one of the files sent"
                ))
                .suggestion(format!(
                    "Add the import map to `files`, or leave import_map_path out. Files sent: {}.",
                    file_list(files)
                )));
            }
            Some((name, ImportMapSource::Given))
        }
        None => previous
            .and_then(|p| normalize_file_name(p).ok())
            .filter(|p| files.has(p))
            .map(|p| (p, ImportMapSource::Previous))
            .or_else(|| {
                IMPORT_MAP_NAMES
                    .iter()
                    .find(|n| files.has(n))
                    .map(|n| ((*n).to_owned(), ImportMapSource::Detected))
            }),
    };
    if let Some((name, _)) = &chosen
        && name.ends_with(".json")
        && let Some(f) = files.files.iter().find(|f| &f.name == name)
        && let Err(e) = serde_json::from_slice::<Value>(&f.contents)
    {
        return Err(ToolError::invalid(format!(
            "the import map `{name}` is not valid JSON"
        ))
        .reason(e.to_string())
        .suggestion("Fix the JSON (comments are only allowed in deno.jsonc), or leave the file out."));
    }
    Ok(chosen)
}

// ---------------------------------------------------------------------------
// Deployed file names

/// The directory the platform deploys a function version into.
fn deployment_prefix(project: &str, function_id: &str, version: i64) -> String {
    format!("/tmp/user_fn_{project}_{function_id}_{version}/")
}

/// A deployed file's name as it was deployed: the deployment directory and
/// the `source/` directory taken off, `file://` URLs read as paths.
pub fn deployed_name(raw: &str, prefix: &str) -> String {
    let mut s = raw.trim();
    if let Some(rest) = s.strip_prefix("file://") {
        s = rest;
    }
    let s = s.strip_prefix(prefix).unwrap_or(s);
    let s = s.strip_prefix("./").unwrap_or(s);
    s.strip_prefix("source/").unwrap_or(s).to_owned()
}

fn millis(ms: i64) -> Value {
    DateTime::from_timestamp_millis(ms)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(json!(ms))
}

/// The parts of a function's metadata both response types share.
struct FunctionInfo<'a> {
    id: &'a str,
    slug: &'a str,
    name: &'a str,
    status: String,
    version: i64,
    verify_jwt: Option<bool>,
    entrypoint_path: Option<&'a str>,
    import_map_path: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
}

impl FunctionInfo<'_> {
    fn to_json(&self, project: &str) -> Map<String, Value> {
        let prefix = deployment_prefix(project, self.id, self.version);
        let mut m = Map::new();
        m.insert("slug".into(), json!(self.slug));
        m.insert("name".into(), json!(self.name));
        m.insert("id".into(), json!(self.id));
        m.insert("status".into(), json!(self.status));
        m.insert("version".into(), json!(self.version));
        if let Some(v) = self.verify_jwt {
            m.insert("verify_jwt".into(), json!(v));
        }
        if let Some(p) = self.entrypoint_path {
            m.insert("entrypoint_path".into(), json!(deployed_name(p, &prefix)));
        }
        if let Some(p) = self.import_map_path {
            m.insert("import_map_path".into(), json!(deployed_name(p, &prefix)));
        }
        m.insert("created_at".into(), millis(self.created_at));
        m.insert("updated_at".into(), millis(self.updated_at));
        m
    }
}

// ---------------------------------------------------------------------------
// list_edge_functions

async fn list_edge_functions(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let functions = api
        .idempotent(|c| c.v1_list_all_functions(&project))
        .await
        .map_err(ToolError::from)?;
    let list: Vec<Value> = functions
        .iter()
        .map(|f| {
            remember(project.as_str(), &f.slug);
            Value::Object(
                FunctionInfo {
                    id: &f.id,
                    slug: &f.slug,
                    name: &f.name,
                    status: f.status.to_string(),
                    version: f.version,
                    verify_jwt: f.verify_jwt,
                    entrypoint_path: f.entrypoint_path.as_deref(),
                    import_map_path: f.import_map_path.as_deref(),
                    created_at: f.created_at,
                    updated_at: f.updated_at,
                }
                .to_json(project.as_str()),
            )
        })
        .collect();
    let out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "count": list.len(),
        "functions": list,
    }));
    Ok(if functions.is_empty() {
        out.warn("no edge functions in this project yet; deploy_edge_function creates one")
    } else {
        out
    })
}

// ---------------------------------------------------------------------------
// get_edge_function

/// A deployed function's files, read from the body endpoint.
#[derive(Debug)]
pub enum Bundle {
    Files(Vec<(String, Vec<u8>)>),
    /// Larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not multipart (an older bundle format): the content type.
    Opaque(String),
}

/// Reads the deployed files of a function (`GET .../functions/{slug}/body`
/// as `multipart/form-data`), retried like any read. Hand-written: the
/// generated call expects JSON.
async fn fetch_bundle(
    api: &ManagementApi,
    project: &ProjectRef,
    slug: &FunctionSlug,
) -> Result<Bundle, ToolError> {
    let url = api.url_with([
        "v1",
        "projects",
        project.as_str(),
        "functions",
        slug.as_str(),
        "body",
    ]);
    let limit = api.timeout_for(CallOptions::idempotent());
    let service = api.service();
    let (content_type, body) = with_retry(&api.config().retry, true, || {
        let url = url.clone();
        async move {
            tokio::time::timeout(limit, async {
                let request = api.http().get(url).header(ACCEPT, "multipart/form-data");
                let response = api.send(request).await?;
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let body = api.read_capped(response, MAX_BODY_BYTES).await?;
                Ok::<_, ApiError>((content_type, body))
            })
            .await
            .unwrap_or_else(|_| Err(ApiError::timeout(service, limit)))
        }
    })
    .await
    .map_err(ToolError::from)?;
    let Some(body) = body else {
        return Ok(Bundle::TooLarge);
    };
    let Some(boundary) = multipart_boundary(&content_type) else {
        return Ok(Bundle::Opaque(content_type));
    };
    let parts = parse_multipart(&body, &boundary).map_err(|reason| {
        ToolError::new(
            ErrorCode::ApiError,
            "The Supabase Management API sent a function body that could not be used",
        )
        .reason(reason)
        .suggestion("Retry; if it persists, download the function with the Supabase CLI (supabase functions download).")
    })?;
    Ok(Bundle::Files(
        parts
            .into_iter()
            .filter_map(|p| p.filename.map(|f| (f, p.data)))
            .collect(),
    ))
}

/// The boundary of a `multipart/*` content type.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let mime = parts.next()?.trim().to_ascii_lowercase();
    if !mime.starts_with("multipart/") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty()).then(|| v.to_owned())
    })
}

/// One part of a multipart body.
#[derive(Debug, PartialEq)]
pub struct MultipartPart {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Parses a multipart body (RFC 7578): the parts between the boundary
/// lines, each with its headers; CRLF or bare LF line ends.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<MultipartPart>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // Later delimiters start a line: text like `--boundary` inside a file
    // does not end its part.
    let line_delimiter = [b"\n".as_slice(), delimiter].concat();
    let Some(mut pos) = find(body, delimiter, 0) else {
        return Err("the multipart boundary does not occur in the body".into());
    };
    let mut parts = Vec::new();
    loop {
        let mut cursor = pos + delimiter.len();
        if body[cursor..].starts_with(b"--") {
            return Ok(parts);
        }
        // The rest of the boundary line.
        let Some(eol) = find(body, b"\n", cursor) else {
            return Err("the body ends inside a boundary line".into());
        };
        cursor = eol + 1;
        let Some(next) = find(body, &line_delimiter, cursor).map(|i| i + 1) else {
            return Err("the body ends before the closing boundary".into());
        };
        // The part ends before the line break that precedes the delimiter.
        let mut end = next;
        if end > cursor && body[end - 1] == b'\n' {
            end -= 1;
            if end > cursor && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        let part = &body[cursor..end];
        let (head, data) = match find(part, b"\r\n\r\n", 0) {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match find(part, b"\n\n", 0) {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => return Err("a part has no blank line after its headers".into()),
            },
        };
        let head = String::from_utf8_lossy(head);
        let mut name = None;
        let mut filename = None;
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = disposition_param(v, "name");
                filename = disposition_param(v, "filename");
            }
        }
        parts.push(MultipartPart {
            name,
            filename,
            data: data.to_vec(),
        });
        pos = next;
    }
}

/// A parameter of a `Content-Disposition` value (quoted or not).
fn disposition_param(value: &str, key: &str) -> Option<String> {
    let mut rest = value;
    while let Some(i) = rest.find(';') {
        rest = rest[i + 1..].trim_start();
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        if !k.trim().eq_ignore_ascii_case(key) {
            continue;
        }
        let v = v.trim_start();
        if let Some(quoted) = v.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => break,
                    c => out.push(c),
                }
            }
            return Some(out);
        }
        return Some(v.split(';').next().unwrap_or("").trim().to_owned());
    }
    None
}

/// Fits file contents into `budget` bytes: whole files while they fit, then
/// the start of the next one; later ones are listed without content.
/// Returns the file entries and a note for each file cut or left out.
pub fn cap_files(files: Vec<(String, Vec<u8>)>, budget: usize) -> (Vec<Value>, Vec<String>) {
    let mut left = budget;
    let mut entries = Vec::with_capacity(files.len());
    let mut notes = Vec::new();
    for (name, data) in files {
        let size = data.len();
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        m.insert("size".into(), json!(size));
        match String::from_utf8(data) {
            Err(_) => {
                m.insert("content".into(), Value::Null);
                m.insert("binary".into(), json!(true));
                notes.push(format!("{name} is binary; its content is not shown"));
            }
            Ok(text) => {
                // JSON escaping grows the text; count it as the model sees it.
                let cost = serde_json::to_string(&text)
                    .map(|s| s.len())
                    .unwrap_or(size);
                if cost <= left {
                    left -= cost;
                    m.insert("content".into(), json!(text));
                } else if left >= 1024 {
                    let mut cut = text.len().min(left * size.max(1) / cost.max(1));
                    while cut > 0 && !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    left = 0;
                    m.insert("content".into(), json!(&text[..cut]));
                    m.insert("truncated".into(), json!(true));
                    notes.push(format!("{name} is cut after {cut} of {size} bytes"));
                } else {
                    m.insert("content".into(), Value::Null);
                    m.insert("truncated".into(), json!(true));
                    notes.push(format!("{name} ({size} bytes) is not shown"));
                }
            }
        }
        entries.push(Value::Object(m));
    }
    (entries, notes)
}

async fn get_edge_function(call: Call, a: GetFunctionArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let slug = parse_slug(&a.function_slug)?;
    let api = call.state.clients.management(&call.instance)?;
    let f = api
        .idempotent(|c| c.v1_get_a_function(&project, &slug))
        .await
        .map_err(ToolError::from)?;
    remember(project.as_str(), &f.slug);
    remember(project.as_str(), slug.as_str());
    let mut out = FunctionInfo {
        id: &f.id,
        slug: &f.slug,
        name: &f.name,
        status: f.status.to_string(),
        version: f.version,
        verify_jwt: f.verify_jwt,
        entrypoint_path: f.entrypoint_path.as_deref(),
        import_map_path: f.import_map_path.as_deref(),
        created_at: f.created_at,
        updated_at: f.updated_at,
    }
    .to_json(project.as_str());
    out.insert("project_id".into(), json!(project.as_str()));
    let mut warnings = Vec::new();
    match fetch_bundle(&api, &project, &slug).await? {
        Bundle::Files(files) => {
            let prefix = deployment_prefix(project.as_str(), &f.id, f.version);
            let files: Vec<(String, Vec<u8>)> = files
                .into_iter()
                .map(|(n, d)| (deployed_name(&n, &prefix), d))
                .collect();
            let budget = (call.limits().output_budget_bytes / 2).saturating_sub(16 * 1024) * 3 / 4;
            let count = files.len();
            let (entries, notes) = cap_files(files, budget);
            out.insert("file_count".into(), json!(count));
            out.insert("files".into(), Value::Array(entries));
            if !notes.is_empty() {
                warnings.push(format!(
                    "file contents were cut to fit the result: {}; the Supabase CLI downloads the whole source (supabase functions download {})",
                    notes.join("; "),
                    slug.as_str()
                ));
            }
            if count == 0 {
                warnings.push("the deployed bundle holds no source files".to_owned());
            }
        }
        Bundle::TooLarge => {
            out.insert("files".into(), json!([]));
            warnings.push(format!(
                "the deployed bundle is larger than {} MiB and was not read; the Supabase CLI downloads it (supabase functions download {})",
                MAX_BODY_BYTES / (1024 * 1024),
                slug.as_str()
            ));
        }
        Bundle::Opaque(content_type) => {
            out.insert("files".into(), json!([]));
            warnings.push(format!(
                "the API sent the bundle as `{}`, not as source files; the Supabase CLI downloads the source (supabase functions download {})",
                if content_type.is_empty() { "no content type" } else { &content_type },
                slug.as_str()
            ));
        }
    }
    let mut result = ToolOutput::untrusted(Value::Object(out));
    for w in warnings {
        result = result.warn(w);
    }
    Ok(result)
}

// ---------------------------------------------------------------------------
// deploy_edge_function

async fn deploy_edge_function(call: Call, a: WithRaw<DeployArgs>) -> Result<ToolOutput, ToolError> {
    let WithRaw { raw, args: a } = a;
    // Taken first, whatever happens next: the mark belongs to this call.
    let confirmed = take_assessed(&raw) || call.state.config.allow_destructive;
    let project = project_ref(&call, a.project_id.as_deref())?;
    let name = check_function_name(&a.name)?;
    let files = check_files(&a.files)?;
    let entry = check_entrypoint(&a.entrypoint_path, &files)?;
    // Checked before any request (the previous deploy's map comes later).
    choose_import_map(a.import_map_path.as_deref(), None, &files)?;
    let slug: FunctionSlug = name
        .parse()
        .map_err(|_| ToolError::invalid(format!("`{name}` is not a valid function name")))?;
    let api = call.state.clients.management(&call.instance)?;

    // Does it exist? A replaced function needs a confirmed call.
    let existing = match api
        .idempotent(|c| c.v1_get_a_function(&project, &slug))
        .await
    {
        Ok(f) => Some(f),
        Err(e) if e.status() == Some(404) => None,
        Err(e) => return Err(ToolError::from(e)),
    };
    if let Some(f) = &existing {
        remember(project.as_str(), &name);
        remember(a.project_id.as_deref().unwrap_or(""), &name);
        if !confirmed {
            let token =
                call.state
                    .confirmations
                    .issue(binding(call.tool, &call.instance.name, &raw));
            let ttl = call.state.confirmations.ttl().as_secs();
            return Err(ToolError::new(
                ErrorCode::ConfirmationRequired,
                format!(
                    "{} (now version {}, {})",
                    replace_action(&name, project.as_str(), files.files.len(), &entry),
                    f.version,
                    f.status
                ),
            )
            .reason("replacing a deployed function needs the user's confirmation")
            .suggestion(format!(
                "Show the user what will change and ask them. If they agree, call deploy_edge_function again with the same arguments plus confirmation_token \"{token}\" (valid {ttl} s)."
            )));
        }
    }

    let previous_map = existing.as_ref().and_then(|f| {
        f.import_map_path
            .as_deref()
            .map(|p| deployed_name(p, &deployment_prefix(project.as_str(), &f.id, f.version)))
    });
    let import_map = choose_import_map(
        a.import_map_path.as_deref(),
        previous_map.as_deref(),
        &files,
    )?;
    let metadata = FunctionDeployMetadata {
        entrypoint_path: entry.clone(),
        import_map_path: import_map.as_ref().map(|(n, _)| n.clone()),
        static_patterns: Vec::new(),
        verify_jwt: Some(a.verify_jwt),
        name: Some(name.clone()),
    };
    let response = api
        .deploy_function(project.as_str(), &name, &metadata, &files.files)
        .await
        .map_err(ToolError::from)?;
    remember(project.as_str(), &name);

    let mut out = Map::new();
    out.insert("project_id".into(), json!(project.as_str()));
    out.insert("slug".into(), json!(name));
    out.insert(
        "action".into(),
        json!(if existing.is_some() {
            "updated"
        } else {
            "created"
        }),
    );
    for key in ["id", "version", "status"] {
        if let Some(v) = response.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("verify_jwt".into(), json!(a.verify_jwt));
    out.insert("entrypoint_path".into(), json!(entry));
    if let Some((n, source)) = &import_map {
        out.insert("import_map_path".into(), json!(n));
        out.insert("import_map_source".into(), json!(source.name()));
    }
    out.insert(
        "files".into(),
        json!(
            files
                .files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
        ),
    );
    out.insert("bytes".into(), json!(files.bytes));
    out.insert(
        "url".into(),
        json!(format!(
            "https://{}.supabase.co/functions/v1/{name}",
            project.as_str()
        )),
    );
    let mut result = ToolOutput::untrusted(Value::Object(out));
    if !a.verify_jwt {
        result = result.warn(
            "verify_jwt is false: anyone who knows the URL can call this function; check authorization inside it",
        );
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> CheckedFiles {
        let args: Vec<DeployFileArg> = names
            .iter()
            .map(|n| DeployFileArg {
                name: (*n).into(),
                content: if n.ends_with(".json") {
                    "{}".into()
                } else {
                    "x".into()
                },
            })
            .collect();
        check_files(&args).unwrap()
    }

    #[test]
    fn file_names_are_relative_and_stay_inside() {
        for (raw, want) in [
            ("index.ts", "index.ts"),
            ("./index.ts", "index.ts"),
            ("lib//util.ts", "lib/util.ts"),
            ("lib/../util.ts", "util.ts"),
            ("../_shared/cors.ts", "../_shared/cors.ts"),
            ("./../_shared/x/y.ts", "../_shared/x/y.ts"),
            ("_shared/cors.ts", "_shared/cors.ts"),
        ] {
            assert_eq!(normalize_file_name(raw).as_deref(), Ok(want), "{raw}");
        }
        for raw in [
            "",
            "/etc/passwd",
            "C:/x.ts",
            "file:///tmp/x.ts",
            "..\\x.ts",
            "../x.ts",
            "../../_shared/x.ts",
            "../_shared",
            "../_shared/../x.ts",
            "lib/",
            ".",
            "a/..",
            "a\u{0}b",
            "~/x.ts",
        ] {
            assert!(normalize_file_name(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn names_and_entrypoints_are_checked() {
        assert!(check_function_name("send-email_2").is_ok());
        assert!(check_function_name("2fast").is_err());
        assert!(check_function_name("a/b").is_err());
        let f = files(&["index.ts", "../_shared/cors.ts"]);
        assert_eq!(check_entrypoint("./index.ts", &f).unwrap(), "index.ts");
        assert!(check_entrypoint("main.ts", &f).is_err());
        assert!(check_entrypoint("../_shared/cors.ts", &f).is_err());
        let dup = check_files(&[
            DeployFileArg {
                name: "index.ts".into(),
                content: String::new(),
            },
            DeployFileArg {
                name: "./index.ts".into(),
                content: String::new(),
            },
        ]);
        assert!(dup.unwrap_err().message.contains("twice"));
    }

    #[test]
    fn import_maps_are_picked_in_order() {
        let f = files(&["index.ts", "import_map.json", "deno.json"]);
        let pick = |g: Option<&str>, p: Option<&str>| {
            choose_import_map(g, p, &f)
                .unwrap()
                .map(|(n, s)| (n, s.name()))
        };
        assert_eq!(pick(None, None), Some(("deno.json".into(), "detected")));
        assert_eq!(
            pick(Some("import_map.json"), None),
            Some(("import_map.json".into(), "given"))
        );
        assert_eq!(
            pick(None, Some("import_map.json")),
            Some(("import_map.json".into(), "previous deploy"))
        );
        assert_eq!(
            pick(None, Some("gone.json")),
            Some(("deno.json".into(), "detected"))
        );
        assert!(choose_import_map(Some("other.json"), None, &f).is_err());
        assert_eq!(
            choose_import_map(None, None, &files(&["index.ts"])).unwrap(),
            None
        );
        let bad = check_files(&[DeployFileArg {
            name: "deno.json".into(),
            content: "{nope".into(),
        }])
        .unwrap();
        assert!(choose_import_map(None, None, &bad).is_err());
    }

    #[test]
    fn only_valid_deploys_of_known_functions_are_assessed() {
        let args = |name: &str, file: &str| {
            json!({"project_id": "abcdefghijklmnopqrst", "name": name, "entrypoint_path": "index.ts",
                   "verify_jwt": true, "files": [{"name": file, "content": "x"}]})
            .as_object()
            .cloned()
            .unwrap()
        };
        assert_eq!(assess_deploy(&args("unit-assess", "index.ts")), None);
        remember("abcdefghijklmnopqrst", "unit-assess");
        let a = args("unit-assess", "index.ts");
        let d = assess_deploy(&a).unwrap();
        assert!(
            d.contains("`unit-assess`") && d.contains("already exists"),
            "{d}"
        );
        assert!(take_assessed(&a));
        assert!(!take_assessed(&a), "a mark serves one call");
        assert_eq!(assess_deploy(&args("unit-assess", "/abs.ts")), None);
        assert_eq!(assess_deploy(&args("unit-assess", "main.ts")), None);
    }

    #[test]
    fn deployed_names_lose_the_deployment_directory() {
        let p = deployment_prefix("abcdefghijklmnopqrst", "f1", 3);
        assert_eq!(
            deployed_name(
                "file:///tmp/user_fn_abcdefghijklmnopqrst_f1_3/source/index.ts",
                &p
            ),
            "index.ts"
        );
        assert_eq!(deployed_name("source/lib/a.ts", &p), "lib/a.ts");
        assert_eq!(
            deployed_name("../_shared/cors.ts", &p),
            "../_shared/cors.ts"
        );
    }

    #[test]
    fn multipart_bodies_are_parsed() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(multipart_boundary("application/json"), None);
        let body = b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".ts\"\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--XX--\r\n";
        let parts = parse_multipart(body, "XX").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name.as_deref(), Some("metadata"));
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].filename.as_deref(), Some("a \"b\".ts"));
        assert_eq!(parts[1].data, b"line1\r\nline2");
        let inner = b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.ts\"\r\n\r\nconst s = '--XX';\r\n--XX--";
        let parts = parse_multipart(inner, "XX").unwrap();
        assert_eq!(parts[0].data, b"const s = '--XX';");
        assert!(
            parse_multipart(
                b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
                "XX"
            )
            .is_err()
        );
        assert!(parse_multipart(b"nothing", "XX").is_err());
        let lf =
            b"--B\nContent-Disposition: form-data; name=\"file\"; filename=x.ts\n\nbody\n--B--";
        let parts = parse_multipart(lf, "B").unwrap();
        assert_eq!(parts[0].filename.as_deref(), Some("x.ts"));
        assert_eq!(parts[0].data, b"body");
    }

    #[test]
    fn file_contents_fit_the_budget() {
        let (entries, notes) = cap_files(
            vec![
                ("a.ts".into(), vec![b'a'; 1000]),
                ("b.ts".into(), vec![b'b'; 5000]),
                ("c.ts".into(), vec![b'c'; 10]),
                ("d.bin".into(), vec![0xff, 0xfe]),
            ],
            3000,
        );
        assert_eq!(entries[0]["content"].as_str().unwrap().len(), 1000);
        let b = entries[1]["content"].as_str().unwrap();
        assert!(b.len() < 2000 && b.len() > 1000, "{}", b.len());
        assert_eq!(entries[1]["truncated"], true);
        assert_eq!(entries[2]["content"], Value::Null);
        assert_eq!(entries[3]["binary"], true);
        assert_eq!(notes.len(), 3, "{notes:?}");
    }
}
