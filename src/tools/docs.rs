//! The `docs` group: `search_docs` sends a GraphQL query to the Supabase
//! docs content API and returns its answer as outside data, size-capped.
//!
//! The API's GraphQL schema is fetched on first need, at most once per
//! process (a [`OnceCell`]), and shown with the first result and with every
//! rejected query so the model can write the next query against it. Nothing
//! is fetched at start: `tools/list` works without the docs API.
//!
//! The endpoint is `https://supabase.com/docs/api/graphql`, or the URL in
//! the environment variable `SUPABASE_DOCS_URL`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;
use url::Url;

use super::{Kind, ToolDef, tool};
use crate::groups::Group;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

/// The docs content API.
pub const DEFAULT_DOCS_URL: &str = "https://supabase.com/docs/api/graphql";
/// Environment variable that points `search_docs` at another endpoint.
pub const DOCS_URL_ENV: &str = "SUPABASE_DOCS_URL";
/// The query that returns the API's schema (SDL) as `data.schema`.
pub const SCHEMA_QUERY: &str = "{ schema }";
/// Longest query accepted.
pub const MAX_QUERY_CHARS: usize = 10_000;
/// Largest answer read from the docs API.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Most characters of the schema shown.
const MAX_SCHEMA_CHARS: usize = 24_000;
/// Longest wait for the docs API.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// The docs API's schema, once fetched.
static SCHEMA: OnceCell<String> = OnceCell::const_new();
/// Whether a result has shown the schema yet.
static SCHEMA_SHOWN: AtomicBool = AtomicBool::new(false);

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("search_docs", Group::Docs, Kind::Read)
            .title("Search docs")
            .description(
                "Search the Supabase docs with GraphQL (the schema comes with the first result).",
            )
            .open_world()
            .handler(search_docs),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchDocsArgs {
    /// GraphQL query, e.g. { searchDocs(query: "rls", limit: 5) { nodes { title href content } } }
    pub graphql_query: String,
}

/// The endpoint: `--docs-url` (`SUPABASE_DOCS_URL`, or `docs_url` in the
/// config file) when set, else [`DEFAULT_DOCS_URL`].
fn docs_url(call: &Call) -> Result<Url, ToolError> {
    let raw = call
        .state
        .config
        .docs_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DOCS_URL.to_owned());
    match Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.username().is_empty() && u.password().is_none() => Ok(u),
        _ => Err(ToolError::new(
            ErrorCode::NotConfigured,
            format!("the docs URL (--docs-url / {DOCS_URL_ENV}) is not usable: `{raw}`"),
        )
        .suggestion(format!(
            "Set --docs-url ({DOCS_URL_ENV}) to an http(s) URL without credentials, or leave it out to use {DEFAULT_DOCS_URL}."
        ))),
    }
}

/// Checks a query before it is sent: not empty, not too long, a query (not
/// a mutation or subscription), braces balanced outside strings and comments.
pub fn check_query(raw: &str) -> Result<&str, ToolError> {
    let q = raw.trim();
    let example = "Write a query such as { searchDocs(query: \"storage policies\", limit: 5) { nodes { title href content } } }.";
    if q.is_empty() {
        return Err(ToolError::invalid("`graphql_query` is empty").suggestion(example));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ToolError::invalid(format!(
            "`graphql_query` is longer than {MAX_QUERY_CHARS} characters"
        ))
        .suggestion("Ask for fewer fields or fewer results."));
    }
    let first = q
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let keyword: String = first
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    if keyword == "mutation" || keyword == "subscription" {
        return Err(ToolError::invalid(format!(
            "`graphql_query` is a {keyword}; the docs API only answers queries"
        ))
        .suggestion(example));
    }
    let mut depth: i64 = 0;
    let mut seen_brace = false;
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' => {
                let block = chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"');
                if block {
                    i += 3;
                    while i < chars.len()
                        && !(chars[i] == '"'
                            && chars.get(i + 1) == Some(&'"')
                            && chars.get(i + 2) == Some(&'"'))
                    {
                        i += 1;
                    }
                    i += 2;
                } else {
                    i += 1;
                    while i < chars.len() && chars[i] != '"' {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                if i >= chars.len() {
                    return Err(ToolError::invalid(
                        "`graphql_query` has a string that is never closed",
                    )
                    .suggestion("Close every string with a double quote (\")."));
                }
            }
            '{' => {
                depth += 1;
                seen_brace = true;
            }
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return Err(ToolError::invalid(
                        "`graphql_query` closes a brace it never opened",
                    )
                    .suggestion(example));
                }
            }
            _ => {}
        }
        i += 1;
    }
    if !seen_brace {
        return Err(
            ToolError::invalid("`graphql_query` has no selection set ({ ... })")
                .suggestion(example),
        );
    }
    if depth != 0 {
        return Err(
            ToolError::invalid(format!("`graphql_query` leaves {depth} brace(s) open"))
                .suggestion("Close every { with a }."),
        );
    }
    Ok(q)
}

/// What the docs API answered.
#[derive(Debug)]
enum Answer {
    Data(Value),
    /// The query was rejected: the GraphQL error messages.
    Rejected(Vec<String>),
}

fn client(timeout: Duration) -> Result<reqwest::Client, ToolError> {
    reqwest::Client::builder()
        .user_agent(concat!("supabase-mcp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| ToolError::internal(format!("could not build the HTTP client: {e}")))
}

fn unreachable(url: &Url, err: &reqwest::Error) -> ToolError {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let t = s.to_string();
        if !reason.contains(&t) {
            reason.push_str(": ");
            reason.push_str(&t);
        }
        source = s.source();
    }
    let (code, message) = if err.is_timeout() {
        (
            ErrorCode::Timeout,
            "The Supabase docs API did not answer in time",
        )
    } else {
        (
            ErrorCode::ConnectionFailed,
            "Could not reach the Supabase docs API",
        )
    };
    ToolError::new(code, message)
        .reason(reason)
        .suggestion(format!(
            "Check the network (DNS, proxy, firewall) and retry; the docs API is {url} (--docs-url or {DOCS_URL_ENV} overrides it). The other tools work without it."
        ))
}

fn unusable(message: impl Into<String>) -> ToolError {
    ToolError::new(
        ErrorCode::ApiError,
        "The Supabase docs API sent an answer that could not be used",
    )
    .reason(message)
    .suggestion(format!(
        "Retry later; if it persists, check that --docs-url / {DOCS_URL_ENV} (when set) points at the docs GraphQL endpoint."
    ))
}

/// Reads the GraphQL error messages of an answer, with their positions.
fn graphql_errors(v: &Value) -> Option<Vec<String>> {
    let errors = v.get("errors")?.as_array()?;
    if errors.is_empty() {
        return None;
    }
    Some(
        errors
            .iter()
            .map(|e| {
                let message = e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_owned();
                match e
                    .get("locations")
                    .and_then(Value::as_array)
                    .and_then(|l| l.first())
                {
                    Some(loc) => format!(
                        "{message} (line {}, column {})",
                        loc.get("line").and_then(Value::as_u64).unwrap_or(0),
                        loc.get("column").and_then(Value::as_u64).unwrap_or(0)
                    ),
                    None => message,
                }
            })
            .collect(),
    )
}

/// POSTs one query and reads the answer (at most [`MAX_RESPONSE_BYTES`]).
async fn post(client: &reqwest::Client, url: &Url, query: &str) -> Result<Answer, ToolError> {
    let mut response = client
        .post(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&json!({ "query": query }))
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(url, &e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ToolError::new(
                ErrorCode::ApiError,
                format!(
                    "The Supabase docs API answer is larger than {} MiB",
                    MAX_RESPONSE_BYTES / (1024 * 1024)
                ),
            )
            .suggestion(
                "Ask for fewer results (limit) or fewer fields (content is the largest).",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    // GraphQL servers often reject invalid queries with HTTP 400 and `errors`.
    if let Some(errors) = parsed.as_ref().and_then(graphql_errors) {
        return Ok(Answer::Rejected(errors));
    }
    if !status.is_success() {
        let excerpt: String = String::from_utf8_lossy(&body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        let code = match status.as_u16() {
            404 => ErrorCode::NotFound,
            401 | 403 => ErrorCode::PermissionDenied,
            429 => ErrorCode::RateLimited,
            408 | 504 => ErrorCode::Timeout,
            _ => ErrorCode::ApiError,
        };
        let suggestion = match status.as_u16() {
            404 | 405 => format!(
                "Nothing answers GraphQL at {url}; leave out --docs-url / {DOCS_URL_ENV} to use {DEFAULT_DOCS_URL}, or fix it."
            ),
            429 => "The docs API is rate limiting; wait a little and retry.".to_owned(),
            _ => "The docs API had a problem; retry later.".to_owned(),
        };
        return Err(ToolError::new(
            code,
            format!(
                "The Supabase docs API request failed with HTTP {}",
                status.as_u16()
            ),
        )
        .reason(if excerpt.is_empty() {
            status.canonical_reason().unwrap_or("no details").to_owned()
        } else {
            excerpt
        })
        .suggestion(suggestion));
    }
    let Some(v) = parsed else {
        return Err(unusable("the body is not JSON"));
    };
    match v.get("data") {
        Some(Value::Object(d)) => Ok(Answer::Data(Value::Object(d.clone()))),
        _ => Err(unusable("the body has neither `data` nor `errors`")),
    }
}

/// The docs API's schema: fetched on first need, then kept for the process.
async fn schema(client: &reqwest::Client, url: &Url) -> Result<&'static str, ToolError> {
    SCHEMA
        .get_or_try_init(|| async {
            match post(client, url, SCHEMA_QUERY).await? {
                Answer::Data(d) => match d.get("schema") {
                    Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                    _ => Err(unusable("the schema query returned no `schema` text")),
                },
                Answer::Rejected(e) => Err(unusable(format!(
                    "the schema query was rejected: {}",
                    e.join("; ")
                ))),
            }
        })
        .await
        .map(String::as_str)
}

fn cap_text(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}\n... (cut after {max} characters)", &s[..i]),
        None => s.to_owned(),
    }
}

/// Cuts long strings in place (to `max` characters); true when any was cut.
fn cut_strings(v: &mut Value, max: usize) -> bool {
    match v {
        Value::String(s) => match s.char_indices().nth(max) {
            Some((i, _)) => {
                s.truncate(i);
                s.push_str(" …");
                true
            }
            None => false,
        },
        Value::Array(a) => {
            let mut cut = false;
            for x in a.iter_mut() {
                cut |= cut_strings(x, max);
            }
            cut
        }
        Value::Object(m) => {
            let mut cut = false;
            for x in m.values_mut() {
                cut |= cut_strings(x, max);
            }
            cut
        }
        _ => false,
    }
}

/// Keeps at most `max` items of every array; true when any was cut.
fn cut_arrays(v: &mut Value, max: usize) -> bool {
    match v {
        Value::Array(a) => {
            let mut cut = a.len() > max;
            a.truncate(max);
            for x in a.iter_mut() {
                cut |= cut_arrays(x, max);
            }
            cut
        }
        Value::Object(m) => {
            let mut cut = false;
            for x in m.values_mut() {
                cut |= cut_arrays(x, max);
            }
            cut
        }
        _ => false,
    }
}

/// Fits an answer into `budget` bytes of JSON: long texts are shortened
/// first, then lists. Returns the answer and what was cut.
pub fn fit(mut v: Value, budget: usize) -> (Value, Option<String>) {
    let size = |v: &Value| v.to_string().len();
    if size(&v) <= budget {
        return (v, None);
    }
    let mut cut_text = None;
    for max in [8_000, 4_000, 2_000, 1_000, 500, 200] {
        if cut_strings(&mut v, max) {
            cut_text = Some(max);
        }
        if size(&v) <= budget {
            break;
        }
    }
    let mut cut_list = None;
    if size(&v) > budget {
        for max in [50, 20, 10, 5, 2, 1] {
            if cut_arrays(&mut v, max) {
                cut_list = Some(max);
            }
            if size(&v) <= budget {
                break;
            }
        }
    }
    let mut notes = Vec::new();
    if let Some(n) = cut_text {
        notes.push(format!("texts longer than {n} characters were shortened"));
    }
    if let Some(n) = cut_list {
        notes.push(format!("lists were cut to {n} item(s)"));
    }
    if size(&v) > budget {
        let text = cap_text(&v.to_string(), budget / 2);
        v = Value::String(text);
        notes.push("the answer was cut to its start".to_owned());
    }
    (
        v,
        Some(format!(
            "the docs answer was too large: {}; ask for fewer results or fewer fields",
            notes.join(", ")
        )),
    )
}

async fn search_docs(call: Call, a: SearchDocsArgs) -> Result<ToolOutput, ToolError> {
    let query = check_query(&a.graphql_query)?;
    let url = docs_url(&call)?;
    let client = client(call.timeout.min(MAX_TIMEOUT))?;
    match post(&client, &url, query).await? {
        Answer::Data(data) => {
            let budget = (call.limits().output_budget_bytes / 2)
                .saturating_sub(MAX_SCHEMA_CHARS + 8 * 1024)
                .max(4 * 1024);
            let (data, note) = fit(data, budget);
            let mut out = Map::new();
            out.insert("result".into(), data);
            let mut warnings = Vec::new();
            if !SCHEMA_SHOWN.swap(true, Ordering::SeqCst) {
                match schema(&client, &url).await {
                    Ok(s) => {
                        out.insert("schema".into(), json!(cap_text(s, MAX_SCHEMA_CHARS)));
                    }
                    Err(e) => {
                        SCHEMA_SHOWN.store(false, Ordering::SeqCst);
                        warnings.push(format!(
                            "the docs API's schema could not be fetched ({}); a rejected query shows it when it can",
                            e.reason.as_deref().unwrap_or(&e.message)
                        ));
                    }
                }
            }
            let mut result = ToolOutput::untrusted(Value::Object(out));
            for w in note.into_iter().chain(warnings) {
                result = result.warn(w);
            }
            Ok(result)
        }
        Answer::Rejected(errors) => {
            let suggestion = match schema(&client, &url).await {
                Ok(s) => {
                    SCHEMA_SHOWN.store(true, Ordering::SeqCst);
                    format!(
                        "Fix the query against the docs API's GraphQL schema:\n{}",
                        cap_text(s, MAX_SCHEMA_CHARS)
                    )
                }
                Err(_) => "Fix the query; a working example: { searchDocs(query: \"auth\", limit: 5) { nodes { title href content } } }".to_owned(),
            };
            Err(ToolError::new(
                ErrorCode::QueryFailed,
                "The Supabase docs API rejected the GraphQL query",
            )
            .reason(errors.join("; "))
            .suggestion(suggestion))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked() {
        assert!(check_query("{ searchDocs(query: \"a}\") { nodes { title } } }").is_ok());
        assert!(check_query("query Q { schema } # }}}").is_ok());
        assert!(check_query("  ").is_err());
        assert!(check_query("mutation { x }").is_err());
        assert!(check_query("# c\nsubscription { x }").is_err());
        assert!(check_query("{ a { b }").is_err());
        assert!(check_query("{ a } }").is_err());
        assert!(check_query("searchDocs").is_err());
        assert!(check_query("{ a(q: \"open) }").is_err());
        assert!(check_query(&format!("{{ {} }}", "a ".repeat(MAX_QUERY_CHARS))).is_err());
    }

    #[test]
    fn large_answers_are_fitted() {
        let small = json!({"a": "b"});
        assert_eq!(fit(small.clone(), 100), (small, None));
        let nodes: Vec<Value> = (0..30)
            .map(|i| json!({"title": format!("t{i}"), "content": "x".repeat(20_000)}))
            .collect();
        let (v, note) = fit(json!({"searchDocs": {"nodes": nodes}}), 50_000);
        assert!(v.to_string().len() <= 50_000);
        assert!(note.unwrap().contains("shortened"));
        assert_eq!(v["searchDocs"]["nodes"][0]["title"], "t0");
    }
}
