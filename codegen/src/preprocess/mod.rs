//! Rewrites an OpenAPI document (as `serde_json::Value`) into the subset of
//! OpenAPI 3.0 that progenitor 0.15 generates from without panicking, then
//! validates the result into an `openapiv3::OpenAPI`.
//!
//! Our own specs are written to need none of this (every rewrite is a no-op on
//! them); it exists so that unmodified upstream documents can be regenerated
//! and compared. Each rewrite lives in a small submodule and is counted in a
//! [`Report`].

mod downgrade;
mod operations;
mod prune;
mod refs;
mod schemas;
pub mod validate;
pub mod walk;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

pub use validate::ValidationError;

/// Errors raised while preparing a document for generation.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The document is not an object with `paths`.
    #[error("not an OpenAPI document: {0}")]
    NotOpenApi(String),
    /// The rewritten document still cannot be generated from.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// One kind of rewrite, used as a key in [`Report::counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rewrite {
    /// `openapi` version set to 3.0.3.
    OpenApiVersion,
    /// `type: [a, "null"]` arrays.
    TypeArray,
    /// `anyOf`/`oneOf` members `{type: null}` turned into `nullable`.
    NullableUnion,
    /// `const` turned into a one-value `enum`.
    Const,
    /// Schema `examples` turned into `example`.
    Examples,
    /// Numeric `exclusiveMinimum`/`exclusiveMaximum`, or a boolean one without its bound.
    ExclusiveBound,
    /// JSON Schema keywords progenitor cannot use, removed.
    DroppedKeyword,
    /// HEAD, OPTIONS and TRACE operations removed.
    DroppedMethod,
    /// Missing `operationId`s synthesised from method and path.
    SynthesisedOperationId,
    /// `operationId`s replaced by configured names.
    RenamedOperationId,
    /// Operations removed because they are not in the allowlist.
    NotAllowlisted,
    /// Request bodies reduced to their `application/json` media type.
    JsonOnlyBody,
    /// Operations removed because their only body is multipart or otherwise unsupported.
    UnsupportedBody,
    /// Media type `encoding` maps removed.
    DroppedEncoding,
    /// Non-2xx responses made raw `application/octet-stream`.
    RawErrorResponse,
    /// `default` responses removed from operations that declare a 2xx response.
    DroppedDefaultResponse,
    /// JSON responses without a schema given `{}`.
    MissingResponseSchema,
    /// Properties dropped because their snake_case name collides with a sibling.
    SnakeCaseCollision,
    /// Enums whose values collide after case conversion, loosened to plain values.
    EnumCaseCollision,
    /// Empty closed objects (`{type: object, properties: {}, additionalProperties: false}`) made `{}`.
    EmptyClosedObject,
    /// Schema `$ref`s to `#/components/responses/X` replaced by X's schema.
    ResponseRefInSchema,
    /// External `$ref`s replaced by `{}`.
    ExternalRef,
    /// Local `$ref`s to missing targets replaced by `{}`.
    UnresolvedRef,
    /// Component schemas removed because no kept operation uses them.
    PrunedSchema,
}

impl Rewrite {
    /// Short human-readable description.
    pub fn label(self) -> &'static str {
        match self {
            Rewrite::OpenApiVersion => "openapi version set to 3.0.3",
            Rewrite::TypeArray => "type arrays rewritten",
            Rewrite::NullableUnion => "anyOf/oneOf null members made nullable",
            Rewrite::Const => "const made enum",
            Rewrite::Examples => "examples made example",
            Rewrite::ExclusiveBound => "exclusive bounds rewritten",
            Rewrite::DroppedKeyword => "unsupported schema keywords dropped",
            Rewrite::DroppedMethod => "HEAD/OPTIONS/TRACE operations dropped",
            Rewrite::SynthesisedOperationId => "operationIds synthesised",
            Rewrite::RenamedOperationId => "operationIds renamed",
            Rewrite::NotAllowlisted => "operations not in the allowlist dropped",
            Rewrite::JsonOnlyBody => "request bodies reduced to application/json",
            Rewrite::UnsupportedBody => "operations with multipart/unsupported bodies dropped",
            Rewrite::DroppedEncoding => "media type encodings dropped",
            Rewrite::RawErrorResponse => "non-2xx responses made raw",
            Rewrite::DroppedDefaultResponse => "default responses dropped beside 2xx",
            Rewrite::MissingResponseSchema => "schemaless JSON responses given {}",
            Rewrite::SnakeCaseCollision => "snake_case-colliding properties dropped",
            Rewrite::EnumCaseCollision => "case-colliding enums loosened",
            Rewrite::EmptyClosedObject => "empty closed objects made {}",
            Rewrite::ResponseRefInSchema => "schema $refs to responses resolved",
            Rewrite::ExternalRef => "external $refs replaced by {}",
            Rewrite::UnresolvedRef => "unresolved $refs replaced by {}",
            Rewrite::PrunedSchema => "unused component schemas pruned",
        }
    }
}

/// An operation removed by preprocessing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedOperation {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Why it was removed.
    pub reason: String,
}

impl fmt::Display for DroppedOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.reason)
    }
}

/// What preprocessing did to one document.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// How many times each rewrite applied.
    pub counts: BTreeMap<Rewrite, usize>,
    /// Operations removed for a reason worth telling (unsupported bodies).
    pub dropped: Vec<DroppedOperation>,
    /// Other remarks (for example allowlist entries that matched nothing).
    pub notes: Vec<String>,
}

impl Report {
    /// Records `n` applications of a rewrite.
    pub fn add(&mut self, rewrite: Rewrite, n: usize) {
        if n > 0 {
            *self.counts.entry(rewrite).or_default() += n;
        }
    }

    /// Records one application of a rewrite.
    pub fn bump(&mut self, rewrite: Rewrite) {
        self.add(rewrite, 1);
    }

    /// How many times a rewrite applied.
    pub fn count(&self, rewrite: Rewrite) -> usize {
        self.counts.get(&rewrite).copied().unwrap_or(0)
    }

    /// True when nothing was rewritten.
    pub fn is_clean(&self) -> bool {
        self.counts.is_empty() && self.dropped.is_empty() && self.notes.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return writeln!(f, "  no rewrites needed");
        }
        for (rewrite, n) in &self.counts {
            writeln!(f, "  {:>5}  {}", n, rewrite.label())?;
        }
        for d in &self.dropped {
            writeln!(f, "  dropped {d}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// Per-run configuration of the preprocessing pass.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep only these operations: each entry is an operationId or `METHOD /path`.
    pub allowlist: Option<Vec<String>>,
    /// operationIds to use, keyed by [`operation_key`] (for example taken from our spec).
    pub operation_names: BTreeMap<String, String>,
}

/// Canonical key of an operation: upper-case method, a space, and the path
/// with every `{parameter}` written as `{}` (so `{*}` and `{wildcard}` match).
pub fn operation_key(method: &str, path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    out.push_str(&method.to_ascii_uppercase());
    out.push(' ');
    let mut in_param = false;
    for c in path.chars() {
        match (c, in_param) {
            ('{', false) => {
                in_param = true;
                out.push('{');
            }
            ('}', true) => {
                in_param = false;
                out.push('}');
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    while out.ends_with('/') && out.len() > method.len() + 2 {
        out.pop();
    }
    out
}

/// Runs every rewrite on `doc` in order. Infallible apart from documents that
/// are not OpenAPI at all; problems that remain are found by [`validate`].
pub fn rewrite(doc: &mut Value, options: &Options) -> Result<Report, PreprocessError> {
    if !doc.get("paths").is_some_and(Value::is_object) {
        return Err(PreprocessError::NotOpenApi(
            "top-level `paths` mapping is missing".to_string(),
        ));
    }
    let mut report = Report::default();
    downgrade::version(doc, &mut report);
    operations::drop_methods(doc, &mut report);
    operations::operation_ids(doc, &options.operation_names, &mut report);
    if let Some(list) = &options.allowlist {
        operations::allowlist(doc, list, &mut report);
    }
    operations::request_bodies(doc, &mut report);
    operations::responses(doc, &mut report);
    refs::response_refs(doc, &mut report);
    refs::dangling_refs(doc, &mut report);
    walk::for_each_schema(doc, &mut |schema| {
        downgrade::schema(schema, &mut report);
        schemas::empty_closed_object(schema, &mut report);
        schemas::snake_case_collisions(schema, &mut report);
        schemas::enum_case_collisions(schema, &mut report);
    });
    if options.allowlist.is_some() {
        prune::unused_schemas(doc, &mut report);
    }
    Ok(report)
}

/// Rewrites and validates: the whole pass from a raw document to something
/// progenitor accepts.
pub fn prepare(
    mut doc: Value,
    options: &Options,
) -> Result<(openapiv3::OpenAPI, Value, Report), PreprocessError> {
    let report = rewrite(&mut doc, options)?;
    let spec = validate::validate(&doc)?;
    Ok((spec, doc, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operation_keys_ignore_parameter_names() {
        assert_eq!(
            operation_key("get", "/object/{bucketName}/{*}"),
            operation_key("GET", "/object/{bucket}/{wildcard}")
        );
        assert_eq!(operation_key("post", "/x/"), "POST /x");
        assert_eq!(operation_key("get", "/"), "GET /");
    }

    #[test]
    fn clean_document_is_untouched() {
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {"/things/{id}": {"get": {
                "operationId": "get_thing",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "4XX": {"description": "error", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
                }
            }}},
            "components": {"schemas": {"Thing": {"type": "object", "properties": {"name": {"type": "string", "nullable": true}}}}}
        });
        let mut copy = doc.clone();
        let report = rewrite(&mut copy, &Options::default()).unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(copy, doc);
        validate::validate(&copy).unwrap();
    }

    #[test]
    fn rejects_non_openapi() {
        let mut doc = json!({"swagger": "2.0"});
        assert!(rewrite(&mut doc, &Options::default()).is_err());
    }
}
