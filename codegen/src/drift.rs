//! Drift between one of our specs and the upstream document it was written
//! from: operations we use that upstream no longer has, operations upstream
//! has that we do not use, and, for shared operations, parameters and
//! request/response fields that were added, removed or changed type.
//!
//! Operations are matched by method and path with parameter names ignored
//! (see [`operation_key`]), so our `{wildcard}` matches upstream's `{*}`.
//! Both documents may be OpenAPI 3.0 or 3.1; schemas are compared through a
//! small type signature (`string(uuid)?`, `array<object>`, ...).
//!
//! Our spec may mark an operation, or the schema of a request body, with
//! [`UPSTREAM_MISSING`] (`x-upstream-missing: true`): the server implements
//! it but the upstream document does not describe it. Marked parts are listed
//! on their own ([`DriftReport::documented_here`]) and never count as missing
//! upstream or as breaking changes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::Api;
use crate::document::{self, DocumentError};
use crate::preprocess::operation_key;
use crate::preprocess::walk::{METHODS, resolve_local};

/// How deep nested object properties are compared.
const MAX_DEPTH: usize = 3;

/// Vendor extension that marks an operation or a request body schema of our
/// spec as absent from the upstream document on purpose.
pub const UPSTREAM_MISSING: &str = "x-upstream-missing";

/// Errors raised while comparing documents.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A document could not be loaded.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A document has no `paths`.
    #[error("{0} has no `paths` mapping")]
    NoPaths(String),
}

/// When `codegen drift` should exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Only when an operation we use is missing upstream (the default).
    #[default]
    Missing,
    /// Also when something we use was removed, retyped or made required upstream.
    Changes,
    /// Never.
    Never,
}

/// An operation, as named in one of the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRef {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// operationId, when the document has one.
    pub operation_id: Option<String>,
}

impl fmt::Display for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(id) = &self.operation_id {
            write!(f, " ({id})")?;
        }
        Ok(())
    }
}

/// Which part of an operation a change is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// A path, query or header parameter.
    Parameter,
    /// The JSON request body.
    RequestBody,
    /// The success response body.
    Response,
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Area::Parameter => "parameter",
            Area::RequestBody => "request field",
            Area::Response => "response field",
        })
    }
}

/// How an item differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// We declare it; upstream does not.
    OnlyOurs,
    /// Upstream declares it; we do not.
    OnlyUpstream {
        /// Whether upstream requires it.
        required: bool,
    },
    /// Both declare it with different types.
    Type {
        /// Our type signature.
        ours: String,
        /// Upstream's type signature.
        upstream: String,
    },
    /// Both declare it; required-ness differs.
    Required {
        /// Whether we require it.
        ours: bool,
        /// Whether upstream requires it.
        upstream: bool,
    },
    /// The success status codes differ.
    Status {
        /// Our success codes.
        ours: String,
        /// Upstream's success codes.
        upstream: String,
    },
}

/// One difference inside a shared operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where.
    pub area: Area,
    /// Parameter (`query limit`) or field path (`config.items[].name`).
    pub name: String,
    /// What.
    pub kind: ChangeKind,
}

impl Change {
    /// Whether the change can break what we generate or send.
    pub fn is_breaking(&self) -> bool {
        match &self.kind {
            ChangeKind::OnlyOurs | ChangeKind::Type { .. } | ChangeKind::Status { .. } => true,
            ChangeKind::OnlyUpstream { required } => *required && self.area != Area::Response,
            ChangeKind::Required { ours, upstream } => match self.area {
                Area::Response => *ours && !*upstream,
                _ => *upstream && !*ours,
            },
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`: ", self.area, self.name)?;
        match &self.kind {
            ChangeKind::OnlyOurs => write!(f, "ours only (missing upstream)"),
            ChangeKind::OnlyUpstream { required: true } => write!(f, "added upstream (required)"),
            ChangeKind::OnlyUpstream { required: false } => write!(f, "added upstream"),
            ChangeKind::Type { ours, upstream } => {
                write!(f, "type {ours} (ours) vs {upstream} (upstream)")
            }
            ChangeKind::Required { ours, upstream } => write!(
                f,
                "{} (ours) vs {} (upstream)",
                if *ours { "required" } else { "optional" },
                if *upstream { "required" } else { "optional" }
            ),
            ChangeKind::Status { ours, upstream } => {
                write!(f, "success status {ours} (ours) vs {upstream} (upstream)")
            }
        }?;
        if self.is_breaking() {
            write!(f, "  [!]")?;
        }
        Ok(())
    }
}

/// Which part of one of our operations is marked [`UPSTREAM_MISSING`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentedPart {
    /// The whole operation; upstream has no operation with its method and path.
    Operation,
    /// The request body, whose schema has this name (`(inline)` when it has none).
    RequestBody(String),
}

/// A part of our spec that the upstream document does not describe, marked
/// [`UPSTREAM_MISSING`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documented {
    /// The operation, as our spec names it.
    pub op: OpRef,
    /// Which part of it.
    pub part: DocumentedPart,
}

impl fmt::Display for Documented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.part {
            DocumentedPart::Operation => write!(f, "{}", self.op),
            DocumentedPart::RequestBody(schema) => {
                write!(f, "{}: request body {schema}", self.op)
            }
        }
    }
}

/// Differences found in one shared operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationDrift {
    /// The operation as our spec names it.
    pub ours: OpRef,
    /// The operation as upstream names it.
    pub upstream: OpRef,
    /// What differs.
    pub changes: Vec<Change>,
}

/// The result of comparing our spec with an upstream document.
#[derive(Debug, Clone, Default)]
pub struct DriftReport {
    /// What was compared (for the heading).
    pub title: String,
    /// Number of operations in our spec.
    pub ours_total: usize,
    /// Number of operations upstream.
    pub upstream_total: usize,
    /// Operations in our spec that upstream does not have (and that are not
    /// marked [`UPSTREAM_MISSING`]).
    pub missing_upstream: Vec<OpRef>,
    /// Marked operations and request bodies: documented in our spec, absent
    /// from the upstream document. Informational.
    pub documented_here: Vec<Documented>,
    /// Operations marked [`UPSTREAM_MISSING`] that upstream does have, so the
    /// marker can be removed. Informational; they are compared as usual.
    pub stale_markers: Vec<OpRef>,
    /// Operations upstream that our spec does not use.
    pub upstream_only: Vec<OpRef>,
    /// Shared operations that differ.
    pub changed: Vec<OperationDrift>,
}

impl DriftReport {
    /// Number of whole operations listed in [`DriftReport::documented_here`].
    fn documented_operations(&self) -> usize {
        self.documented_here
            .iter()
            .filter(|d| d.part == DocumentedPart::Operation)
            .count()
    }

    /// Whether the exit code should be non-zero under a policy.
    pub fn should_fail(&self, policy: FailOn) -> bool {
        match policy {
            FailOn::Never => false,
            FailOn::Missing => !self.missing_upstream.is_empty(),
            FailOn::Changes => {
                !self.missing_upstream.is_empty()
                    || self
                        .changed
                        .iter()
                        .any(|op| op.changes.iter().any(Change::is_breaking))
            }
        }
    }
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "drift: {}", self.title)?;
        writeln!(
            f,
            "  {} operations ours, {} upstream, {} shared, {} shared with differences",
            self.ours_total,
            self.upstream_total,
            self.ours_total - self.missing_upstream.len() - self.documented_operations(),
            self.changed.len()
        )?;
        writeln!(f)?;
        if self.missing_upstream.is_empty() {
            writeln!(
                f,
                "MISSING UPSTREAM: none (every operation we use exists upstream)"
            )?;
        } else {
            writeln!(
                f,
                "MISSING UPSTREAM ({}): operations we use that upstream does not have",
                self.missing_upstream.len()
            )?;
            for op in &self.missing_upstream {
                writeln!(f, "  {op}")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "DOCUMENTED HERE, ABSENT FROM THE UPSTREAM DOCUMENT ({}): marked `{UPSTREAM_MISSING}`, \
             not counted as missing upstream",
            self.documented_here.len()
        )?;
        for item in &self.documented_here {
            writeln!(f, "  {item}")?;
        }
        if !self.stale_markers.is_empty() {
            writeln!(
                f,
                "  marked `{UPSTREAM_MISSING}` but present upstream (the marker can go):"
            )?;
            for op in &self.stale_markers {
                writeln!(f, "    {op}")?;
            }
        }
        writeln!(f)?;
        if self.changed.is_empty() {
            writeln!(f, "CHANGED: none")?;
        } else {
            writeln!(
                f,
                "CHANGED ({} operations; [!] may break the generated client):",
                self.changed.len()
            )?;
            for op in &self.changed {
                writeln!(f, "  {}", op.ours)?;
                if op.upstream.path != op.ours.path {
                    writeln!(f, "    upstream path: {}", op.upstream.path)?;
                }
                for change in &op.changes {
                    writeln!(f, "    {change}")?;
                }
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "UPSTREAM ONLY ({}): operations upstream that our spec does not use",
            self.upstream_only.len()
        )?;
        for op in &self.upstream_only {
            writeln!(f, "  {op}")?;
        }
        Ok(())
    }
}

struct Operation<'a> {
    op_ref: OpRef,
    path_params: &'a [Value],
    op: &'a Map<String, Value>,
}

fn operations(doc: &Value) -> Option<BTreeMap<String, Operation<'_>>> {
    let paths = doc.get("paths")?.as_object()?;
    let mut out = BTreeMap::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        let path_params = item
            .get("parameters")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(op) = op.as_object() else {
                continue;
            };
            out.insert(
                operation_key(method, path),
                Operation {
                    op_ref: OpRef {
                        method: method.to_ascii_uppercase(),
                        path: path.clone(),
                        operation_id: op
                            .get("operationId")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    },
                    path_params,
                    op,
                },
            );
        }
    }
    Some(out)
}

/// Compares two parsed documents.
pub fn compare(title: &str, ours: &Value, upstream: &Value) -> Result<DriftReport, DriftError> {
    let our_ops = operations(ours).ok_or_else(|| DriftError::NoPaths("our spec".to_string()))?;
    let their_ops = operations(upstream)
        .ok_or_else(|| DriftError::NoPaths("the upstream document".to_string()))?;
    let mut report = DriftReport {
        title: title.to_string(),
        ours_total: our_ops.len(),
        upstream_total: their_ops.len(),
        ..DriftReport::default()
    };
    for (key, op) in &our_ops {
        let marked = is_marked(op.op.get(UPSTREAM_MISSING));
        match their_ops.get(key) {
            None if marked => report.documented_here.push(Documented {
                op: op.op_ref.clone(),
                part: DocumentedPart::Operation,
            }),
            None => report.missing_upstream.push(op.op_ref.clone()),
            Some(theirs) => {
                if marked {
                    report.stale_markers.push(op.op_ref.clone());
                }
                let mut changes = Vec::new();
                compare_parameters(ours, op, upstream, theirs, &mut changes);
                match marked_body(ours, op) {
                    Some(schema) => report.documented_here.push(Documented {
                        op: op.op_ref.clone(),
                        part: DocumentedPart::RequestBody(schema),
                    }),
                    None => compare_bodies(ours, op, upstream, theirs, &mut changes),
                }
                compare_responses(ours, op, upstream, theirs, &mut changes);
                if !changes.is_empty() {
                    report.changed.push(OperationDrift {
                        ours: op.op_ref.clone(),
                        upstream: theirs.op_ref.clone(),
                        changes,
                    });
                }
            }
        }
    }
    report.upstream_only = their_ops
        .iter()
        .filter(|(key, _)| !our_ops.contains_key(*key))
        .map(|(_, op)| op.op_ref.clone())
        .collect();
    Ok(report)
}

/// Whether an extension value is `true`.
fn is_marked(value: Option<&Value>) -> bool {
    value == Some(&Value::Bool(true))
}

/// When our operation's request body, or the schema it names (after `$ref`s
/// and single-member wrappers), is marked [`UPSTREAM_MISSING`]: the schema's
/// name, or `(inline)`.
fn marked_body(doc: &Value, op: &Operation<'_>) -> Option<String> {
    let body = op.op.get("requestBody")?;
    let schema = content_schema(doc, body);
    let marked = is_marked(deref(doc, body).get(UPSTREAM_MISSING))
        || schema.is_some_and(|s| {
            is_marked(deref(doc, s).get(UPSTREAM_MISSING))
                || is_marked(unwrap_single(doc, s).get(UPSTREAM_MISSING))
        });
    if !marked {
        return None;
    }
    let name = schema
        .and_then(|s| s.get("$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("(inline)");
    Some(name.to_string())
}

/// Loads our spec and an upstream document and compares them.
pub fn run(api: Api, ours: &Path, upstream: &Path) -> Result<DriftReport, DriftError> {
    let our_doc = document::load(ours)?;
    let their_doc = document::load(upstream)?;
    compare(
        &format!("{api}: {} vs {}", ours.display(), upstream.display()),
        &our_doc,
        &their_doc,
    )
}

/// Follows `$ref`s (local only) to the target object.
fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolve_local(doc, r) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

struct Param {
    sig: String,
    required: bool,
}

/// Parameters keyed by `in name`; path parameters by position (`path #1`).
fn parameters(doc: &Value, op: &Operation<'_>) -> BTreeMap<String, (String, Param)> {
    let mut by_name: BTreeMap<(String, String), Param> = BTreeMap::new();
    for p in op.path_params.iter().chain(
        op.op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    ) {
        let p = deref(doc, p);
        let (Some(location), Some(name)) = (
            p.get("in").and_then(Value::as_str),
            p.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let schema = p.get("schema").cloned().unwrap_or(Value::Null);
        by_name.insert(
            (location.to_string(), name.to_string()),
            Param {
                sig: signature(doc, &schema, 0),
                required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
            },
        );
    }
    let template: Vec<String> = op
        .op_ref
        .path
        .split('{')
        .skip(1)
        .filter_map(|s| s.split('}').next())
        .map(str::to_string)
        .collect();
    let mut out = BTreeMap::new();
    for ((location, name), param) in by_name {
        let key = if location == "path" {
            match template.iter().position(|t| *t == name) {
                Some(i) => format!("path #{}", i + 1),
                None => format!("path {name}"),
            }
        } else {
            format!("{location} {name}")
        };
        out.insert(key, (name, param));
    }
    out
}

fn compare_parameters(
    ours_doc: &Value,
    ours: &Operation<'_>,
    their_doc: &Value,
    theirs: &Operation<'_>,
    changes: &mut Vec<Change>,
) {
    let a = parameters(ours_doc, ours);
    let b = parameters(their_doc, theirs);
    let label = |key: &str, name: &str| {
        if key.starts_with("path #") {
            format!("path {name}")
        } else {
            key.to_string()
        }
    };
    for (key, (name, pa)) in &a {
        let name = label(key, name);
        match b.get(key) {
            None => changes.push(Change {
                area: Area::Parameter,
                name,
                kind: ChangeKind::OnlyOurs,
            }),
            Some((_, pb)) => {
                if pa.sig != pb.sig {
                    changes.push(Change {
                        area: Area::Parameter,
                        name: name.clone(),
                        kind: ChangeKind::Type {
                            ours: pa.sig.clone(),
                            upstream: pb.sig.clone(),
                        },
                    });
                }
                if pa.required != pb.required {
                    changes.push(Change {
                        area: Area::Parameter,
                        name,
                        kind: ChangeKind::Required {
                            ours: pa.required,
                            upstream: pb.required,
                        },
                    });
                }
            }
        }
    }
    for (key, (name, pb)) in &b {
        // Header parameters upstream (auth tokens, versions) are not part of
        // what we model; report only query and path ones.
        if !a.contains_key(key) && !key.starts_with("header ") && !key.starts_with("cookie ") {
            changes.push(Change {
                area: Area::Parameter,
                name: label(key, name),
                kind: ChangeKind::OnlyUpstream {
                    required: pb.required,
                },
            });
        }
    }
}

/// The schema of a body or response: its JSON media type's, else the first one's.
fn content_schema<'a>(doc: &'a Value, holder: &'a Value) -> Option<&'a Value> {
    let holder = deref(doc, holder);
    let content = holder.get("content")?.as_object()?;
    content
        .iter()
        .find(|(k, _)| k.starts_with("application/json"))
        .or_else(|| content.iter().next())
        .and_then(|(_, media)| media.get("schema"))
}

fn compare_bodies(
    ours_doc: &Value,
    ours: &Operation<'_>,
    their_doc: &Value,
    theirs: &Operation<'_>,
    changes: &mut Vec<Change>,
) {
    let a = ours
        .op
        .get("requestBody")
        .and_then(|b| content_schema(ours_doc, b));
    let b = theirs
        .op
        .get("requestBody")
        .and_then(|b| content_schema(their_doc, b));
    compare_schemas(Area::RequestBody, ours_doc, a, their_doc, b, changes);
}

/// Success status codes, sorted, and the first one's response object.
fn success<'a>(op: &Operation<'a>) -> (Vec<String>, Option<&'a Value>) {
    let Some(responses) = op.op.get("responses").and_then(Value::as_object) else {
        return (Vec::new(), None);
    };
    let mut codes: Vec<&String> = responses.keys().filter(|k| k.starts_with('2')).collect();
    codes.sort();
    let first = codes.first().and_then(|c| responses.get(*c));
    (codes.into_iter().cloned().collect(), first)
}

fn compare_responses(
    ours_doc: &Value,
    ours: &Operation<'_>,
    their_doc: &Value,
    theirs: &Operation<'_>,
    changes: &mut Vec<Change>,
) {
    let (our_codes, our_response) = success(ours);
    let (their_codes, their_response) = success(theirs);
    if !our_codes.is_empty() && !their_codes.is_empty() && our_codes[0] != their_codes[0] {
        changes.push(Change {
            area: Area::Response,
            name: "(status)".to_string(),
            kind: ChangeKind::Status {
                ours: our_codes.join(","),
                upstream: their_codes.join(","),
            },
        });
    }
    let a = our_response.and_then(|r| content_schema(ours_doc, r));
    let b = their_response.and_then(|r| content_schema(their_doc, r));
    compare_schemas(Area::Response, ours_doc, a, their_doc, b, changes);
}

fn compare_schemas(
    area: Area,
    ours_doc: &Value,
    ours: Option<&Value>,
    their_doc: &Value,
    theirs: Option<&Value>,
    changes: &mut Vec<Change>,
) {
    let a = ours.map(|s| fields(ours_doc, s)).unwrap_or_default();
    let b = theirs.map(|s| fields(their_doc, s)).unwrap_or_default();
    if ours.is_some() && theirs.is_none() {
        changes.push(Change {
            area,
            name: "(body)".to_string(),
            kind: ChangeKind::OnlyOurs,
        });
        return;
    }
    for (name, fa) in &a {
        match b.get(name) {
            None => {
                // Only report the topmost missing field, not each nested one.
                if !has_missing_parent(name, &b) {
                    changes.push(Change {
                        area,
                        name: name.clone(),
                        kind: ChangeKind::OnlyOurs,
                    });
                }
            }
            Some(fb) => {
                if fa.sig != fb.sig && !(fa.sig == "any" || fb.sig == "any") {
                    changes.push(Change {
                        area,
                        name: name.clone(),
                        kind: ChangeKind::Type {
                            ours: fa.sig.clone(),
                            upstream: fb.sig.clone(),
                        },
                    });
                }
                if fa.required != fb.required {
                    changes.push(Change {
                        area,
                        name: name.clone(),
                        kind: ChangeKind::Required {
                            ours: fa.required,
                            upstream: fb.required,
                        },
                    });
                }
            }
        }
    }
    for (name, fb) in &b {
        if !a.contains_key(name) && !has_missing_parent(name, &a) {
            changes.push(Change {
                area,
                name: name.clone(),
                kind: ChangeKind::OnlyUpstream {
                    required: fb.required,
                },
            });
        }
    }
}

/// Whether some ancestor of `name` is absent from `other` (so `name` is
/// already covered by the ancestor's report).
fn has_missing_parent(name: &str, other: &BTreeMap<String, Field>) -> bool {
    let mut prefix = name;
    while let Some(i) = prefix.rfind('.') {
        prefix = &prefix[..i];
        let parent = prefix.trim_end_matches("[]");
        if !parent.is_empty() && !other.contains_key(parent) {
            return true;
        }
    }
    false
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    sig: String,
    required: bool,
}

/// Field paths of a body schema: `(root)` for the body itself, then
/// `name`, `name.child`, `list[].child` down to [`MAX_DEPTH`].
fn fields(doc: &Value, schema: &Value) -> BTreeMap<String, Field> {
    let mut out = BTreeMap::new();
    out.insert(
        "(root)".to_string(),
        Field {
            sig: signature(doc, schema, 0),
            required: true,
        },
    );
    collect_fields(doc, schema, "", 0, &mut out);
    out
}

fn collect_fields(
    doc: &Value,
    schema: &Value,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, Field>,
) {
    if depth >= MAX_DEPTH {
        return;
    }
    let schema = unwrap_single(doc, schema);
    if let Some(items) = schema.get("items")
        && schema_types(schema).iter().any(|t| t == "array")
    {
        collect_fields(doc, items, &format!("{prefix}[]"), depth, out);
        return;
    }
    let (props, required) = object_properties(doc, schema);
    for (name, prop) in props {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        out.insert(
            path.clone(),
            Field {
                sig: signature(doc, prop, 0),
                required: required.contains(&name),
            },
        );
        collect_fields(doc, prop, &path, depth + 1, out);
    }
}

/// Follows `$ref`s and single-member wrappers (`allOf: [x]`, `anyOf: [x, null]`)
/// down to the schema that carries the shape.
fn unwrap_single<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = deref(doc, schema);
    for _ in 0..16 {
        let next = ["allOf", "anyOf", "oneOf"].iter().find_map(|key| {
            let members = current.get(*key)?.as_array()?;
            let non_null: Vec<&Value> = members.iter().filter(|m| !is_null(doc, m)).collect();
            match non_null.as_slice() {
                [only] if current.get("properties").is_none() => Some(deref(doc, only)),
                _ => None,
            }
        });
        match next {
            Some(n) => current = n,
            None => break,
        }
    }
    current
}

/// Properties and required names of an object schema, merging `allOf` and a
/// single non-null `anyOf`/`oneOf` member.
fn object_properties<'a>(
    doc: &'a Value,
    schema: &'a Value,
) -> (Vec<(String, &'a Value)>, BTreeSet<String>) {
    let mut props = Vec::new();
    let mut required = BTreeSet::new();
    let mut stack = vec![schema];
    let mut guard = 0;
    while let Some(s) = stack.pop() {
        guard += 1;
        if guard > 64 {
            break;
        }
        let s = deref(doc, s);
        if let Some(p) = s.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                if !props.iter().any(|(n, _)| n == k) {
                    props.push((k.clone(), v));
                }
            }
        }
        if let Some(r) = s.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(Value::as_str).map(str::to_string));
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            stack.extend(all.iter().rev());
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(members) = s.get(key).and_then(Value::as_array) {
                let non_null: Vec<&Value> = members.iter().filter(|m| !is_null(doc, m)).collect();
                if let [only] = non_null.as_slice() {
                    stack.push(only);
                }
            }
        }
    }
    props.sort_by(|a, b| a.0.cmp(&b.0));
    (props, required)
}

fn is_null(doc: &Value, schema: &Value) -> bool {
    let s = deref(doc, schema);
    s.get("type").and_then(Value::as_str) == Some("null")
}

/// `type` as a list, without `null`.
fn schema_types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) if t != "null" => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn is_nullable(doc: &Value, schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
        || matches!(schema.get("type"), Some(Value::Array(ts)) if ts.iter().any(|t| t == "null"))
        || ["anyOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|ms| ms.iter().any(|m| is_null(doc, m)))
        })
}

/// A short type signature: `string`, `string(date-time)`, `integer?`,
/// `array<string>`, `map<integer>`, `object`, `oneOf`, `any`.
pub fn signature(doc: &Value, schema: &Value, depth: usize) -> String {
    let schema = deref(doc, schema);
    if schema.is_null() {
        return "any".to_string();
    }
    let nullable = is_nullable(doc, schema);
    let base = base_signature(doc, schema, depth);
    if nullable && base != "any" {
        format!("{base}?")
    } else {
        base
    }
}

fn base_signature(doc: &Value, schema: &Value, depth: usize) -> String {
    let types = schema_types(schema);
    if let [t] = types.as_slice() {
        return match t.as_str() {
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some(f) => format!("string({f})"),
                None => "string".to_string(),
            },
            "array" => {
                let items = schema.get("items").cloned().unwrap_or(Value::Null);
                if depth > 4 {
                    "array".to_string()
                } else {
                    format!("array<{}>", signature(doc, &items, depth + 1))
                }
            }
            "object" => object_signature(doc, schema, depth),
            other => other.to_string(),
        };
    }
    if types.len() > 1 {
        return "oneOf".to_string();
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        if let [only] = all.as_slice() {
            return base_signature(doc, deref(doc, only), depth);
        }
        return "object".to_string();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(members) = schema.get(key).and_then(Value::as_array) {
            let non_null: Vec<&Value> = members.iter().filter(|m| !is_null(doc, m)).collect();
            return match non_null.as_slice() {
                [] => "any".to_string(),
                [only] => base_signature(doc, deref(doc, only), depth),
                _ => "oneOf".to_string(),
            };
        }
    }
    if schema.get("properties").is_some() {
        return "object".to_string();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && values.iter().all(|v| v.is_string() || v.is_null())
    {
        return "string".to_string();
    }
    "any".to_string()
}

fn object_signature(doc: &Value, schema: &Value, depth: usize) -> String {
    let has_props = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    match schema.get("additionalProperties") {
        Some(extra @ Value::Object(_)) if !has_props && depth <= 4 => {
            format!("map<{}>", signature(doc, extra, depth + 1))
        }
        _ => "object".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ours() -> Value {
        json!({
            "openapi": "3.0.3",
            "paths": {
                "/v1/projects/{ref}": {"get": {
                    "operationId": "get_project",
                    "parameters": [
                        {"name": "ref", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}
                    ],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Project"}
                    }}}}
                }},
                "/object/{bucket}/{wildcard}": {"delete": {
                    "operationId": "delete_object",
                    "parameters": [
                        {"name": "bucket", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "wildcard", "in": "path", "required": true, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "ok"}}
                }},
                "/v1/gone": {"post": {"operationId": "gone", "responses": {"204": {"description": "ok"}}}}
            },
            "components": {"schemas": {"Project": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "region": {"type": "string", "nullable": true},
                    "database": {"type": "object", "properties": {
                        "host": {"type": "string"},
                        "version": {"type": "string"}
                    }}
                }
            }}}
        })
    }

    fn upstream() -> Value {
        json!({
            "openapi": "3.1.0",
            "paths": {
                "/v1/projects/{project_ref}": {"get": {
                    "parameters": [
                        {"name": "project_ref", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "include", "in": "query", "required": true, "schema": {"type": "string"}},
                        {"name": "Authorization", "in": "header", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ProjectResponse"}
                    }}}}
                }},
                "/object/{bucketName}/{*}": {"delete": {
                    "parameters": [
                        {"name": "bucketName", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "*", "in": "path", "required": true, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "ok"}}
                }},
                "/v1/new": {"get": {"responses": {"200": {"description": "ok"}}}}
            },
            "components": {"schemas": {"ProjectResponse": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "region": {"type": ["string", "null"]},
                    "database": {"type": "object", "properties": {
                        "host": {"type": "string"},
                        "port": {"type": "integer"}
                    }},
                    "created_at": {"type": "string", "format": "date-time"}
                }
            }}}
        })
    }

    #[test]
    fn finds_missing_and_extra_operations() {
        let r = compare("t", &ours(), &upstream()).unwrap();
        assert_eq!(r.ours_total, 3);
        assert_eq!(r.upstream_total, 3);
        assert_eq!(r.missing_upstream.len(), 1);
        assert_eq!(r.missing_upstream[0].path, "/v1/gone");
        assert_eq!(r.upstream_only.len(), 1);
        assert_eq!(r.upstream_only[0].path, "/v1/new");
        assert!(r.should_fail(FailOn::Missing));
        assert!(!r.should_fail(FailOn::Never));
    }

    #[test]
    fn wildcard_path_matches_and_renamed_path_params_are_not_drift() {
        let r = compare("t", &ours(), &upstream()).unwrap();
        assert!(
            !r.changed.iter().any(|c| c.ours.path.starts_with("/object")),
            "{r}"
        );
    }

    #[test]
    fn reports_parameter_and_field_changes() {
        let r = compare("t", &ours(), &upstream()).unwrap();
        let op = r
            .changed
            .iter()
            .find(|c| c.ours.operation_id.as_deref() == Some("get_project"))
            .unwrap();
        let lines: Vec<String> = op.changes.iter().map(ToString::to_string).collect();
        let all = lines.join("\n");
        assert!(
            all.contains("parameter `query verbose`: ours only"),
            "{all}"
        );
        assert!(
            all.contains("parameter `query include`: added upstream (required)"),
            "{all}"
        );
        assert!(!all.contains("Authorization"), "{all}");
        assert!(
            all.contains("response field `id`: type string (ours) vs integer (upstream)"),
            "{all}"
        );
        assert!(
            all.contains("response field `created_at`: added upstream"),
            "{all}"
        );
        assert!(
            all.contains("response field `database.version`: ours only"),
            "{all}"
        );
        assert!(
            all.contains("response field `database.port`: added upstream"),
            "{all}"
        );
        // 3.0 `nullable` and 3.1 `type: [.., null]` are the same type.
        assert!(!all.contains("`region`"), "{all}");
        assert!(r.should_fail(FailOn::Changes));
    }

    #[test]
    fn identical_documents_have_no_drift() {
        let r = compare("t", &ours(), &ours()).unwrap();
        assert!(r.missing_upstream.is_empty());
        assert!(r.upstream_only.is_empty());
        assert!(r.changed.is_empty(), "{r}");
        assert!(!r.should_fail(FailOn::Changes));
    }

    #[test]
    fn signatures() {
        let doc = json!({"components": {"schemas": {"A": {"type": "string", "format": "uuid"}}}});
        let sig = |s: Value| signature(&doc, &s, 0);
        assert_eq!(
            sig(json!({"$ref": "#/components/schemas/A"})),
            "string(uuid)"
        );
        assert_eq!(
            sig(json!({"type": "array", "items": {"type": "integer"}})),
            "array<integer>"
        );
        assert_eq!(
            sig(json!({"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]})),
            "string(uuid)?"
        );
        assert_eq!(
            sig(json!({"type": "object", "additionalProperties": {"type": "string"}})),
            "map<string>"
        );
        assert_eq!(sig(json!({"enum": ["a", "b"]})), "string");
        assert_eq!(sig(json!({})), "any");
    }

    #[test]
    fn nullable_wrappers_are_looked_through() {
        let a = json!({"paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"list": {"type": "array", "nullable": true, "items": {
                "type": "object", "properties": {"a": {"type": "string"}}
            }}}
        }}}}, "responses": {}}}}});
        let b = json!({"paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"list": {"anyOf": [{"type": "array", "items": {
                "type": "object", "properties": {"a": {"type": "string"}}
            }}, {"type": "null"}]}}
        }}}}, "responses": {}}}}});
        let r = compare("t", &a, &b).unwrap();
        assert!(r.changed.is_empty(), "{r}");
    }

    /// Our spec with operations and request bodies marked `x-upstream-missing`.
    fn marked_ours() -> Value {
        json!({
            "openapi": "3.0.3",
            "paths": {
                "/admin/users": {
                    "get": {"operationId": "list_users", "responses": {"200": {"description": "ok"}}},
                    "post": {
                        "operationId": "create_user",
                        "x-upstream-missing": true,
                        "requestBody": {"content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Params"}
                        }}},
                        "responses": {"200": {"description": "ok"}}
                    }
                },
                "/admin/users/{id}": {
                    "put": {
                        "operationId": "update_user",
                        "parameters": [
                            {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                            {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}}
                        ],
                        "requestBody": {"content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Params"}
                        }}},
                        "responses": {"200": {"description": "ok"}}
                    },
                    "delete": {
                        "operationId": "delete_user",
                        "parameters": [
                            {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}
                        ],
                        "requestBody": {"content": {"application/json": {"schema": {
                            "type": "object",
                            "x-upstream-missing": true,
                            "properties": {"soft": {"type": "boolean"}}
                        }}}},
                        "responses": {"200": {"description": "ok"}}
                    }
                },
                "/admin/audit": {"get": {
                    "operationId": "audit",
                    "x-upstream-missing": true,
                    "responses": {"200": {"description": "ok"}}
                }},
                "/admin/unmarked": {"post": {
                    "operationId": "unmarked",
                    "x-upstream-missing": false,
                    "responses": {"200": {"description": "ok"}}
                }}
            },
            "components": {"schemas": {"Params": {
                "type": "object",
                "x-upstream-missing": true,
                "properties": {
                    "password": {"type": "string"},
                    "email_confirm": {"type": "boolean"}
                }
            }}}
        })
    }

    fn marked_upstream() -> Value {
        json!({
            "openapi": "3.0.3",
            "paths": {
                "/admin/users": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/admin/users/{userId}": {
                    "put": {
                        "parameters": [
                            {"name": "userId", "in": "path", "required": true, "schema": {"type": "string"}}
                        ],
                        "requestBody": {"content": {"application/json": {"schema": {
                            "type": "object",
                            "required": ["email"],
                            "properties": {"email": {"type": "string"}, "banned_until": {"type": "string"}}
                        }}}},
                        "responses": {"200": {"description": "ok"}}
                    },
                    "delete": {
                        "parameters": [
                            {"name": "userId", "in": "path", "required": true, "schema": {"type": "string"}}
                        ],
                        "responses": {"200": {"description": "ok"}}
                    }
                },
                "/admin/audit": {"get": {"responses": {"200": {"description": "ok"}}}}
            }
        })
    }

    #[test]
    fn marked_operations_and_bodies_are_informational() {
        let r = compare("t", &marked_ours(), &marked_upstream()).unwrap();
        let text = r.to_string();

        // A marked operation absent upstream is listed on its own; an
        // operation marked `false` is still missing upstream.
        let ids: Vec<String> = r.missing_upstream.iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["POST /admin/unmarked (unmarked)"], "{text}");
        let documented: Vec<String> = r.documented_here.iter().map(ToString::to_string).collect();
        assert_eq!(
            documented,
            [
                "DELETE /admin/users/{id} (delete_user): request body (inline)",
                "POST /admin/users (create_user)",
                "PUT /admin/users/{id} (update_user): request body Params",
            ],
            "{text}"
        );

        // Marked bodies are not compared field by field, and a body upstream
        // does not have is not reported; other parts still are.
        let changes: Vec<String> = r
            .changed
            .iter()
            .flat_map(|op| op.changes.iter().map(move |c| format!("{}: {c}", op.ours)))
            .collect();
        assert_eq!(
            changes,
            [
                "PUT /admin/users/{id} (update_user): parameter `query dry_run`: ours only (missing upstream)  [!]"
            ],
            "{text}"
        );

        // A marked operation that upstream does have is compared and flagged.
        assert_eq!(r.stale_markers.len(), 1, "{text}");
        assert_eq!(r.stale_markers[0].path, "/admin/audit");

        assert!(text.contains(
            "DOCUMENTED HERE, ABSENT FROM THE UPSTREAM DOCUMENT (3): marked `x-upstream-missing`"
        ), "{text}");
        assert!(text.contains("MISSING UPSTREAM (1)"), "{text}");
        // 6 ours: 1 missing, 1 documented here, so 4 shared.
        assert!(
            text.contains("6 operations ours, 4 upstream, 4 shared"),
            "{text}"
        );
    }

    #[test]
    fn marked_parts_alone_do_not_fail() {
        let mut ours = marked_ours();
        let paths = ours["paths"].as_object_mut().unwrap();
        paths.remove("/admin/unmarked");
        paths["/admin/users/{id}"]["put"]["parameters"]
            .as_array_mut()
            .unwrap()
            .truncate(1);
        let r = compare("t", &ours, &marked_upstream()).unwrap();
        assert!(r.missing_upstream.is_empty(), "{r}");
        assert!(r.changed.is_empty(), "{r}");
        assert_eq!(r.documented_here.len(), 3, "{r}");
        assert!(!r.should_fail(FailOn::Missing), "{r}");
        assert!(!r.should_fail(FailOn::Changes), "{r}");
        assert!(r.to_string().contains("MISSING UPSTREAM: none"), "{r}");

        // Without the markers, the same spec fails.
        let plain: Value = serde_json::from_str(&ours.to_string().replace(
            "\"x-upstream-missing\":true",
            "\"x-upstream-missing\":false",
        ))
        .unwrap();
        let r = compare("t", &plain, &marked_upstream()).unwrap();
        assert_eq!(r.missing_upstream.len(), 1, "{r}");
        assert!(r.documented_here.is_empty(), "{r}");
        assert!(r.should_fail(FailOn::Missing));
        assert!(r.should_fail(FailOn::Changes));
    }

    #[test]
    fn nested_missing_fields_are_reported_once() {
        let a = json!({"paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"cfg": {"type": "object", "properties": {"a": {"type": "string"}}}}
        }}}}, "responses": {}}}}});
        let b = json!({"paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {}
        }}}}, "responses": {}}}}});
        let r = compare("t", &a, &b).unwrap();
        let changes: Vec<String> = r.changed[0]
            .changes
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            ["request field `cfg`: ours only (missing upstream)  [!]"]
        );
    }
}
