//! The catalogue of Management API operations: every operation of
//! `specs/supabase-management.yaml` (the spec the generated client comes
//! from), read once per process, with its method, path, parameters, request
//! body schema and what it does to the project (read, write, destructive).
//! It backs `api_operations` (search) and `call_api_operation` (a generic,
//! checked caller for the long tail of the API).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, RequestBody};
use serde::Serialize;
use serde_json::{Map, Value};

/// The spec the Management client is generated from.
const SPEC: &str = include_str!("../../specs/supabase-management.yaml");

/// How deep `$ref`s are expanded when a body schema is shown.
const MAX_SCHEMA_DEPTH: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the Management API spec built into this binary cannot be read: {0}")]
    Spec(String),
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Nature {
    /// Only reads (GET).
    Read,
    /// Changes something that can be changed back.
    Write,
    /// Deletes, restores over, pauses, resets or otherwise loses state: asks first.
    Destructive,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Path,
    Query,
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    #[serde(rename = "in")]
    pub location: Location,
    pub required: bool,
    /// The parameter's schema (references expanded).
    pub schema: Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Body {
    pub required: bool,
    pub content_type: String,
    /// The body's schema (references expanded a few levels deep).
    pub schema: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub operation_id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub tags: Vec<String>,
    pub nature: Nature,
    pub parameters: Vec<Param>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

impl Operation {
    /// The short form listed by a search.
    pub fn summary_json(&self) -> Value {
        serde_json::json!({
            "operation_id": self.operation_id,
            "method": self.method,
            "path": self.path,
            "summary": self.summary,
            "nature": self.nature,
        })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// Words a search matches against.
    fn haystack(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.operation_id,
            self.method,
            self.path,
            self.summary,
            self.description,
            self.tags.join(" ")
        )
        .to_lowercase()
    }
}

/// Every operation of the spec, by operation id.
#[derive(Debug)]
pub struct Catalog {
    operations: BTreeMap<String, Operation>,
}

impl Catalog {
    /// The catalogue of the built-in spec, parsed on first use.
    pub fn get() -> Result<&'static Catalog, CatalogError> {
        static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
        CATALOG
            .get_or_init(|| Catalog::parse(SPEC).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| CatalogError::Spec(e.clone()))
    }

    pub fn parse(yaml: &str) -> Result<Catalog, CatalogError> {
        let doc: OpenAPI =
            serde_yaml::from_str(yaml).map_err(|e| CatalogError::Spec(e.to_string()))?;
        let schemas: Map<String, Value> = doc
            .components
            .as_ref()
            .map(|c| {
                c.schemas
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        let mut operations = BTreeMap::new();
        for (path, method, op) in doc.operations() {
            let Some(id) = op.operation_id.clone() else {
                continue;
            };
            let path_item_params = match doc.paths.paths.get(path) {
                Some(ReferenceOr::Item(item)) => item.parameters.clone(),
                _ => Vec::new(),
            };
            let mut parameters = Vec::new();
            for p in path_item_params.iter().chain(op.parameters.iter()) {
                let Some(p) = resolve_parameter(&doc, p) else {
                    continue;
                };
                if let Some(param) = convert_parameter(p, &schemas) {
                    parameters.retain(|q: &Param| q.name != param.name);
                    parameters.push(param);
                }
            }
            let body = op
                .request_body
                .as_ref()
                .and_then(|b| resolve_body(&doc, b))
                .and_then(|b| {
                    let (content_type, media) = b.content.iter().next()?;
                    let schema = media
                        .schema
                        .as_ref()
                        .and_then(|s| serde_json::to_value(s).ok())
                        .map(|s| expand(&s, &schemas, 0))
                        .unwrap_or(Value::Null);
                    Some(Body {
                        required: b.required,
                        content_type: content_type.clone(),
                        schema,
                    })
                });
            let method = method.to_ascii_uppercase();
            let nature = nature_of(&method, path, &id);
            operations.insert(
                id.clone(),
                Operation {
                    operation_id: id,
                    method,
                    path: path.to_owned(),
                    summary: op.summary.clone().unwrap_or_default(),
                    description: op.description.clone().unwrap_or_default(),
                    tags: op.tags.clone(),
                    nature,
                    parameters,
                    body,
                },
            );
        }
        Ok(Catalog { operations })
    }

    pub fn len(&self) -> usize {
        self.operations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.get(id)
    }

    pub fn all(&self) -> impl Iterator<Item = &Operation> {
        self.operations.values()
    }

    /// Operations whose id, path, summary, description or tags contain
    /// every word of `query` (case-insensitive), best first: more words in
    /// the id and path rank higher, then by path.
    pub fn search(&self, query: &str, method: Option<&str>) -> Vec<&Operation> {
        let words: Vec<String> = query
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut hits: Vec<(usize, &Operation)> = self
            .operations
            .values()
            .filter(|op| method.is_none_or(|m| op.method.eq_ignore_ascii_case(m)))
            .filter_map(|op| {
                let hay = op.haystack();
                if !words.iter().all(|w| hay.contains(w.as_str())) {
                    return None;
                }
                let key = format!("{} {}", op.operation_id, op.path).to_lowercase();
                let score = words.iter().filter(|w| key.contains(w.as_str())).count();
                Some((score, op))
            })
            .collect();
        hits.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.path.cmp(&b.1.path))
                .then_with(|| a.1.method.cmp(&b.1.method))
        });
        hits.into_iter().map(|(_, op)| op).collect()
    }

    /// The operation ids closest to `id` (for a typo), at most three.
    pub fn closest(&self, id: &str) -> Vec<&str> {
        let id = id.to_lowercase();
        let mut scored: Vec<(usize, &str)> = self
            .operations
            .keys()
            .map(|k| (edit_distance(&id, &k.to_lowercase()), k.as_str()))
            .collect();
        scored.sort();
        scored
            .into_iter()
            .filter(|(d, _)| *d <= id.len().max(4) / 2)
            .take(3)
            .map(|(_, k)| k)
            .collect()
    }
}

/// Path segments whose POST/PUT/PATCH loses state or takes a project down.
const DESTRUCTIVE_SEGMENTS: [&str; 14] = [
    "restore",
    "restore-pitr",
    "undo",
    "pause",
    "reset",
    "remove",
    "merge",
    "push",
    "upgrade",
    "password",
    "shutdown",
    "temporary-disable",
    "apply",
    "cancel",
];

/// Words of an operation id that name a state-losing action.
const DESTRUCTIVE_WORDS: [&str; 11] = [
    "delete", "remove", "reset", "restore", "pause", "merge", "undo", "disable", "rollback",
    "push", "upgrade",
];

/// GET reads; DELETE, and a write whose last path segment (or operation
/// id) names a state-losing action, or that changes network restrictions
/// (which can lock every client out) or legacy keys, is destructive; the
/// rest writes.
pub fn nature_of(method: &str, path: &str, operation_id: &str) -> Nature {
    match method {
        "GET" | "HEAD" | "OPTIONS" => Nature::Read,
        "DELETE" => Nature::Destructive,
        _ => {
            let last = path.rsplit('/').next().unwrap_or("");
            let id = operation_id.to_lowercase();
            let named = |w: &str| id.split(['-', '_']).any(|part| part == w);
            if DESTRUCTIVE_SEGMENTS.contains(&last)
                || path.contains("/network-restrictions")
                || path.ends_with("/legacy")
                || DESTRUCTIVE_WORDS.iter().any(|w| named(w))
            {
                Nature::Destructive
            } else {
                Nature::Write
            }
        }
    }
}

fn resolve_parameter<'a>(doc: &'a OpenAPI, p: &'a ReferenceOr<Parameter>) -> Option<&'a Parameter> {
    match p {
        ReferenceOr::Item(p) => Some(p),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/parameters/")?;
            match doc.components.as_ref()?.parameters.get(name)? {
                ReferenceOr::Item(p) => Some(p),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

fn resolve_body<'a>(doc: &'a OpenAPI, b: &'a ReferenceOr<RequestBody>) -> Option<&'a RequestBody> {
    match b {
        ReferenceOr::Item(b) => Some(b),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/requestBodies/")?;
            match doc.components.as_ref()?.request_bodies.get(name)? {
                ReferenceOr::Item(b) => Some(b),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

fn convert_parameter(p: &Parameter, schemas: &Map<String, Value>) -> Option<Param> {
    let (location, data) = match p {
        Parameter::Path { parameter_data, .. } => (Location::Path, parameter_data),
        Parameter::Query { parameter_data, .. } => (Location::Query, parameter_data),
        // Headers and cookies are the client's business (authorization).
        _ => return None,
    };
    let schema = match &data.format {
        ParameterSchemaOrContent::Schema(s) => serde_json::to_value(s)
            .map(|s| expand(&s, schemas, 0))
            .unwrap_or(Value::Null),
        ParameterSchemaOrContent::Content(_) => Value::Null,
    };
    Some(Param {
        name: data.name.clone(),
        location,
        required: data.required || location == Location::Path,
        schema,
        description: data.description.clone().unwrap_or_default(),
    })
}

/// Replaces `$ref`s to component schemas with the schemas themselves, up to
/// [`MAX_SCHEMA_DEPTH`] levels (deeper ones stay references).
fn expand(v: &Value, schemas: &Map<String, Value>, depth: usize) -> Value {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
                && depth < MAX_SCHEMA_DEPTH
                && let Some(target) = schemas.get(name)
            {
                return expand(target, schemas, depth + 1);
            }
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), expand(v, schemas, depth)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| expand(v, schemas, depth)).collect()),
        other => other.clone(),
    }
}

/// Levenshtein distance (for suggesting an operation id or a project ref).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_spec_parses_and_every_operation_has_an_id_and_nature() {
        let c = Catalog::get().unwrap();
        assert!(c.len() > 50, "only {} operations", c.len());
        let list = c.operation("v1-list-all-projects").unwrap();
        assert_eq!(list.method, "GET");
        assert_eq!(list.path, "/v1/projects");
        assert_eq!(list.nature, Nature::Read);
        let keys = c.operation("v1-get-project-api-keys").unwrap();
        let r = keys.param("ref").unwrap();
        assert_eq!(r.location, Location::Path);
        assert!(r.required);
        assert_eq!(keys.param("reveal").unwrap().location, Location::Query);
    }

    #[test]
    fn bodies_are_expanded() {
        let c = Catalog::get().unwrap();
        let op = c.operation("v1-create-project-api-key").unwrap();
        let body = op.body.as_ref().unwrap();
        assert!(body.required);
        assert_eq!(body.content_type, "application/json");
        assert!(body.schema.get("$ref").is_none());
        assert!(body.schema.get("properties").is_some(), "{}", body.schema);
    }

    #[test]
    fn natures() {
        assert_eq!(nature_of("GET", "/v1/projects/{ref}", "x"), Nature::Read);
        assert_eq!(
            nature_of("DELETE", "/v1/projects/{ref}/secrets", "x"),
            Nature::Destructive
        );
        assert_eq!(
            nature_of("POST", "/v1/projects/{ref}/pause", "v1-pause-a-project"),
            Nature::Destructive
        );
        assert_eq!(
            nature_of(
                "POST",
                "/v1/projects/{ref}/database/backups/restore-pitr",
                "v1-restore-pitr-backup"
            ),
            Nature::Destructive
        );
        assert_eq!(
            nature_of(
                "PATCH",
                "/v1/projects/{ref}/postgrest",
                "v1-update-postgrest-service-config"
            ),
            Nature::Write
        );
        assert_eq!(
            nature_of(
                "POST",
                "/v1/projects/{ref}/network-restrictions/apply",
                "v1-update-network-restrictions"
            ),
            Nature::Destructive
        );
        assert_eq!(
            nature_of(
                "PATCH",
                "/v1/projects/{ref}/network-restrictions",
                "v1-patch-network-restrictions"
            ),
            Nature::Destructive
        );
        assert_eq!(
            nature_of(
                "DELETE",
                "/v1/projects/{ref}/branches",
                "v1-disable-preview-branching"
            ),
            Nature::Destructive
        );
        assert_eq!(
            nature_of(
                "POST",
                "/v1/projects/{ref}/database/migrations",
                "v1-rollback-migrations"
            ),
            Nature::Destructive
        );
        assert_eq!(
            nature_of(
                "POST",
                "/v1/projects/{ref}/api-keys",
                "v1-create-project-api-key"
            ),
            Nature::Write
        );
    }

    #[test]
    fn search_needs_every_word_and_ranks_id_matches_first() {
        let c = Catalog::get().unwrap();
        let hits = c.search("api keys", None);
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|o| {
            let h = o.haystack();
            h.contains("api") && h.contains("keys")
        }));
        assert!(hits[0].path.contains("api-keys"), "{}", hits[0].path);
        let gets = c.search("api-keys", Some("get"));
        assert!(gets.iter().all(|o| o.method == "GET"));
        assert!(c.search("no-such-word-anywhere", None).is_empty());
    }

    #[test]
    fn closest_ids_for_a_typo() {
        let c = Catalog::get().unwrap();
        let near = c.closest("v1-list-all-projcts");
        assert_eq!(near.first().copied(), Some("v1-list-all-projects"));
    }
}
