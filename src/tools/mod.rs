//! The tool registry: every tool's name, group, kind, annotations and input
//! schema, and the handler that runs it. One module per feature group
//! registers its tools here; the server decides which are visible.

pub mod account;
pub mod api_catalog;
pub mod auth;
pub mod backup_wal;
pub mod backups;
pub mod branching;
pub mod cloud_storage;
pub mod connection;
pub mod database;
pub mod debugging;
pub mod development;
pub mod docs;
pub mod dokploy;
pub mod functions;
pub mod introspect;
pub mod knowledge;
pub mod management;
pub mod migrations;
pub mod monitoring;
pub mod realtime;
pub mod schema_diff;
pub mod seed;
pub mod selfhosted;
pub mod sql_tools;
pub mod storage;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;

/// What a tool does to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads only.
    Read,
    /// May change data; hidden in read-only mode unless `read_only_capable`.
    Write,
    /// Always destructive (deletes, drops, overwrites): needs confirmation.
    Destructive,
}

/// What a tool's project parameter means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Acts on an instance (optional `instance` argument).
    Instance,
    /// Acts on one cloud project (`project_id` argument, injected when scoped).
    Project,
    /// Account-level (organizations, project lists): hidden when scoped.
    Account,
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler =
    Arc<dyn Fn(Call, Map<String, Value>) -> BoxFuture<Result<ToolOutput, ToolError>> + Send + Sync>;
/// Says whether one call is destructive: `Some(description)` when it needs confirmation.
type Assess = Arc<dyn Fn(&Map<String, Value>) -> Option<String> + Send + Sync>;

#[derive(Clone)]
pub struct ToolDef {
    pub name: &'static str,
    pub group: Group,
    pub title: &'static str,
    pub description: &'static str,
    pub kind: Kind,
    /// Stays visible in read-only mode (it then runs read-only).
    pub read_only_capable: bool,
    pub idempotent: bool,
    pub open_world: bool,
    /// Runs for minutes or hours (backups, restores): no default time
    /// limit; cancellation still stops it.
    pub long_running: bool,
    pub scope: Scope,
    /// Schema of the arguments (JSON Schema object).
    pub input_schema: Map<String, Value>,
    /// Schema of `data` in the result, when its shape is fixed.
    pub output_schema: Option<Value>,
    handler: Handler,
    assess: Option<Assess>,
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Builds the JSON schema of an argument type, trimmed for `tools/list`.
pub fn schema_of<A: JsonSchema>() -> Map<String, Value> {
    let schema = schemars::SchemaGenerator::new(
        schemars::generate::SchemaSettings::draft2020_12().with(|s| {
            s.meta_schema = None;
        }),
    )
    .into_root_schema_for::<A>();
    let mut v = serde_json::to_value(schema).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("title");
        obj.remove("$schema");
        if !obj.contains_key("properties") {
            obj.insert("properties".into(), Value::Object(Map::new()));
        }
        obj.insert("additionalProperties".into(), Value::Bool(false));
    }
    strip_null_defaults(&mut v);
    inline_enums(&mut v);
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Replaces references to definitions that are plain string enums with
/// the enum itself (`{"$ref": "#/$defs/Format"}` or an `anyOf` of it and
/// null becomes `{"type": "string", "enum": [...]}`), and drops `$defs`
/// left unused: shorter schemas that every client reads the same way.
fn inline_enums(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    let Some(Value::Object(defs)) = obj.get("$defs").cloned() else {
        return;
    };
    let simple: Map<String, Value> = defs
        .into_iter()
        .filter(|(_, d)| d.get("enum").is_some() && d.get("properties").is_none())
        .map(|(k, mut d)| {
            if let Some(m) = d.as_object_mut() {
                m.remove("title");
                if !m.contains_key("type") {
                    m.insert("type".into(), Value::from("string"));
                }
            }
            (k, d)
        })
        .collect();
    fn walk(v: &mut Value, simple: &Map<String, Value>) {
        match v {
            Value::Object(m) => {
                let target = |r: &Value| {
                    r.as_str()
                        .and_then(|r| r.strip_prefix("#/$defs/"))
                        .and_then(|name| simple.get(name))
                        .cloned()
                };
                let mut replacement = m.get("$ref").and_then(target);
                if replacement.is_none()
                    && let Some(Value::Array(any)) = m.get("anyOf")
                    && any.len() == 2
                    && any
                        .iter()
                        .any(|a| a.get("type").and_then(Value::as_str) == Some("null"))
                {
                    replacement = any.iter().find_map(|a| a.get("$ref").and_then(target));
                }
                if let Some(Value::Object(enum_schema)) = replacement {
                    m.remove("$ref");
                    m.remove("anyOf");
                    for (k, val) in enum_schema {
                        m.entry(k).or_insert(val);
                    }
                }
                m.values_mut().for_each(|x| walk(x, simple));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, simple)),
            _ => {}
        }
    }
    for (k, val) in obj.iter_mut() {
        if k != "$defs" {
            walk(val, &simple);
        }
    }
    let text = serde_json::to_string(&*obj).unwrap_or_default();
    if let Some(Value::Object(defs)) = obj.get_mut("$defs") {
        defs.retain(|name, _| text.contains(&format!("\"#/$defs/{name}\"")));
        if defs.is_empty() {
            obj.remove("$defs");
        }
    }
}

/// Removes `"default": null` and a boolean's `"default": false` (implied
/// for optional fields), `null` from
/// optional fields' types, and the Rust
/// integer widths schemars adds as `format` (`uint32`...; not JSON Schema
/// formats, and `minimum` already says what matters) to keep schemas small.
fn strip_null_defaults(v: &mut Value) {
    match v {
        Value::Object(m) => {
            // Examples cost context on every tools/list; descriptions say enough.
            m.remove("examples");
            if m.get("default") == Some(&Value::Null)
                || (m.get("default") == Some(&Value::Bool(false))
                    && m.get("type").and_then(Value::as_str) == Some("boolean"))
            {
                m.remove("default");
            }
            if m.get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("uint") || f.starts_with("int"))
            {
                m.remove("format");
            }
            // An optional argument is left out rather than sent as null (null
            // is still accepted): `["string", "null"]` is just `"string"`.
            if let Some(Value::Array(types)) = m.get("type")
                && types.len() == 2
                && let Some(other) = types.iter().find(|t| t.as_str() != Some("null"))
                && types.iter().any(|t| t.as_str() == Some("null"))
            {
                let other = other.clone();
                m.insert("type".into(), other);
            }
            m.values_mut().for_each(strip_null_defaults);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_null_defaults),
        _ => {}
    }
}

/// Parses validated arguments into the tool's argument type; unknown or
/// mistyped fields become an `invalid_arguments` error naming the field.
pub fn parse_args<A: DeserializeOwned>(
    tool: &str,
    args: Map<String, Value>,
) -> Result<A, ToolError> {
    serde_json::from_value(Value::Object(args)).map_err(|e| {
        ToolError::invalid(format!("invalid arguments for `{tool}`"))
            .reason(e.to_string())
            .suggestion("Check the argument names and types against the tool's input schema.")
    })
}

/// Start of a tool definition.
pub struct ToolBuilder {
    name: &'static str,
    group: Group,
    title: &'static str,
    description: &'static str,
    kind: Kind,
    read_only_capable: bool,
    idempotent: bool,
    open_world: bool,
    long_running: bool,
    scope: Scope,
    output_schema: Option<Value>,
    assess: Option<Assess>,
}

pub fn tool(name: &'static str, group: Group, kind: Kind) -> ToolBuilder {
    ToolBuilder {
        name,
        group,
        title: "",
        description: "",
        kind,
        read_only_capable: false,
        idempotent: kind == Kind::Read,
        open_world: false,
        long_running: false,
        scope: Scope::Instance,
        output_schema: None,
        assess: None,
    }
}

impl ToolBuilder {
    pub fn title(mut self, t: &'static str) -> Self {
        self.title = t;
        self
    }
    pub fn description(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
    pub fn read_only_capable(mut self) -> Self {
        self.read_only_capable = true;
        self
    }
    pub fn idempotent(mut self, v: bool) -> Self {
        self.idempotent = v;
        self
    }
    pub fn open_world(mut self) -> Self {
        self.open_world = true;
        self
    }
    pub fn long_running(mut self) -> Self {
        self.long_running = true;
        self
    }
    pub fn scope(mut self, s: Scope) -> Self {
        self.scope = s;
        self
    }
    pub fn output<O: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(Value::Object(schema_of::<O>()));
        self
    }
    /// A per-call check that decides whether this call needs confirmation.
    pub fn assess(
        mut self,
        f: impl Fn(&Map<String, Value>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.assess = Some(Arc::new(f));
        self
    }

    /// Finishes the definition with a typed handler.
    pub fn handler<A, F, Fut>(self, f: F) -> ToolDef
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        F: Fn(Call, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
    {
        let f = Arc::new(f);
        let name = self.name;
        let handler: Handler = Arc::new(move |call, args| {
            let f = f.clone();
            Box::pin(async move {
                let a: A = parse_args(name, args)?;
                f(call, a).await
            })
        });
        ToolDef {
            name: self.name,
            group: self.group,
            title: self.title,
            description: self.description,
            kind: self.kind,
            read_only_capable: self.read_only_capable,
            idempotent: self.idempotent,
            open_world: self.open_world,
            long_running: self.long_running,
            scope: self.scope,
            input_schema: schema_of::<A>(),
            output_schema: self.output_schema,
            handler,
            assess: self.assess,
        }
    }
}

impl ToolDef {
    pub fn run(
        &self,
        call: Call,
        args: Map<String, Value>,
    ) -> BoxFuture<Result<ToolOutput, ToolError>> {
        (self.handler)(call, args)
    }

    /// `Some(description)` when this call is destructive.
    pub fn destructive_action(&self, args: &Map<String, Value>) -> Option<String> {
        if let Some(a) = &self.assess {
            return a(args);
        }
        (self.kind == Kind::Destructive)
            .then(|| format!("`{}` makes a destructive change", self.name))
    }

    /// True when the tool may need a confirmation token.
    pub fn may_need_confirmation(&self) -> bool {
        self.kind == Kind::Destructive || self.assess.is_some()
    }
}

/// Every tool the product has, in a stable order.
pub fn all_tools() -> Vec<ToolDef> {
    let mut v = Vec::new();
    v.extend(database::tools());
    v.extend(introspect::tools());
    v.extend(sql_tools::tools());
    v.extend(monitoring::tools());
    v.extend(connection::tools());
    v.extend(backups::tools());
    v.extend(migrations::tools());
    v.extend(schema_diff::tools());
    v.extend(backup_wal::tools());
    v.extend(development::tools());
    v.extend(selfhosted::tools());
    v.extend(realtime::tools());
    v.extend(auth::tools());
    v.extend(storage::tools());
    v.extend(dokploy::tools());
    v.extend(knowledge::tools());
    v.extend(seed::tools());
    // Tools that talk to Supabase's hosted APIs act on an open world.
    let hosted = |tools: Vec<ToolDef>| {
        tools.into_iter().map(|mut t| {
            t.open_world = true;
            t
        })
    };
    v.extend(hosted(account::tools()));
    v.extend(hosted(debugging::tools()));
    v.extend(hosted(branching::tools()));
    v.extend(hosted(functions::tools()));
    v.extend(hosted(cloud_storage::tools()));
    v.extend(hosted(docs::tools()));
    v.extend(hosted(management::tools()));
    v.extend(hosted(api_catalog::tools()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_valid() {
        let tools = all_tools();
        let mut names: Vec<_> = tools.iter().map(|t| t.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate tool names");
        for t in &tools {
            assert!(
                t.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                t.name
            );
            assert!(!t.description.is_empty(), "{} has no description", t.name);
            assert_eq!(
                t.input_schema.get("type"),
                Some(&Value::from("object")),
                "{}",
                t.name
            );
            assert_eq!(
                t.input_schema.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{}",
                t.name
            );
        }
    }
}
