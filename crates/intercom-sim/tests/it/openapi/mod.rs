//! Validates HTTP responses against Intercom's official OpenAPI description (2.15).
//!
//! The description is OpenAPI 3.0, whose schema dialect is not quite JSON Schema: `nullable: true`
//! instead of a `null` type, `$ref` whose siblings are ignored, `example` and `x-*` keywords.
//! [`Spec::load`] converts every component schema to JSON Schema 2020-12 once and
//! [`Spec::validate`] checks a response against the schema the description gives for its
//! operation and status, after applying the [`EXCEPTIONS`] where Intercom's real responses are
//! known to differ from its description.

mod exceptions;
mod known_violations;
#[cfg(test)]
mod selftest;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value, json};

pub use exceptions::{EXCEPTIONS, UNDOCUMENTED_ERROR_STATUS};
pub use known_violations::KNOWN_VIOLATIONS;

/// The environment variable that points the test at another copy of the description.
pub const PATH_VAR: &str = "INTERCOM_OPENAPI";

/// Where the description lives: beside the project's root, as CI lays it out.
pub fn default_path() -> PathBuf {
    // CARGO_MANIFEST_DIR is crates/intercom-sim; the workspace root is two levels up and the shared
    // reference folder sits beside the root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/intercom-openapi-2.15.yaml")
}

/// The description to use: `$INTERCOM_OPENAPI` if set, else [`default_path`].
pub fn spec_path() -> PathBuf {
    std::env::var_os(PATH_VAR).map_or_else(default_path, PathBuf::from)
}

/// Why the description could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file is not there.
    #[error(
        "Intercom's OpenAPI description was not found at {path}.\n\
         The conformance test validates the simulator against it and cannot run without it.\n\
         Provide it in one of two ways:\n  \
         - place intercom-openapi-2.15.yaml in ../shared/reference/ beside the project's root \
           (where CI has it), or\n  \
         - set {PATH_VAR}=/path/to/intercom-openapi-2.15.yaml\n\
         (the file is Intercom's MIT-licensed descriptions/2.15/api.intercom.io.yaml from intercom/Intercom-OpenAPI)."
    )]
    Missing {
        /// The path tried.
        path: String,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML of the expected shape.
    #[error("{path} is not a usable OpenAPI description: {reason}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The loaded description, with its component schemas converted to JSON Schema.
#[derive(Debug)]
pub struct Spec {
    /// Path templates with their operations: (template segments, method, operation object).
    operations: Vec<Operation>,
    /// `components.schemas`, converted, keyed by name.
    defs: Map<String, Value>,
    /// `components.responses`, raw.
    responses: Map<String, Value>,
    /// Compiled validators by (operation id, status key).
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// One operation of the description.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// Upper-case method.
    pub method: String,
    /// The path template, e.g. `/contacts/{contact_id}`.
    pub template: String,
    /// The raw operation object.
    pub raw: Value,
}

impl Operation {
    fn matches(&self, method: &str, path: &str) -> Option<usize> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let template: Vec<&str> = self.template.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        if template.len() != actual.len() {
            return None;
        }
        let mut literal = 0;
        for (t, a) in template.iter().zip(&actual) {
            if t.starts_with('{') && t.ends_with('}') {
                if a.is_empty() {
                    return None;
                }
            } else if t == a {
                literal += 1;
            } else {
                return None;
            }
        }
        Some(literal)
    }
}

/// One way an instance fails a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON pointer into the instance (empty for the whole body or for non-schema problems).
    pub at: String,
    /// What is wrong, in the validator's words.
    pub message: String,
    /// Where in the schema the failing keyword is (empty for non-schema problems).
    pub schema: String,
}

impl SchemaError {
    fn plain(message: impl Into<String>) -> Self {
        SchemaError { at: String::new(), message: message.into(), schema: String::new() }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.at.is_empty() { "(root)" } else { &self.at };
        if self.schema.is_empty() {
            write!(f, "at {at}: {}", self.message)
        } else {
            write!(f, "at {at}: {} (schema {})", self.message, self.schema)
        }
    }
}

/// A response that does not conform.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The operation id, when the request matched one.
    pub operation: Option<String>,
    /// e.g. `GET /contacts/{contact_id} 404 (ShowContact)`.
    pub context: String,
    /// Every problem found.
    pub errors: Vec<SchemaError>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} does not conform to the OpenAPI description:", self.context)?;
        for error in &self.errors {
            writeln!(f, "  - {error}")?;
        }
        Ok(())
    }
}

/// What [`Spec::validate`] checked, for the test's own assertions and report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The operation id.
    pub operation: String,
    /// The response key used (`"200"`, `"404"`, `"default"`, or `"error"` for the fallback).
    pub schema_key: String,
    /// Exceptions that applied, by pointer.
    pub exceptions_applied: Vec<&'static str>,
}

static SPEC: OnceLock<Result<Spec, String>> = OnceLock::new();

impl Spec {
    /// The description at [`spec_path`], loaded once per test binary; panics with instructions if it
    /// is missing, so that the test fails loudly instead of passing without checking anything.
    pub fn get() -> &'static Spec {
        match SPEC.get_or_init(|| Spec::load(&spec_path()).map_err(|e| e.to_string())) {
            Ok(spec) => spec,
            Err(message) => panic!("{message}"),
        }
    }

    /// Loads and converts a description file.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(SpecError::Missing { path: shown });
        }
        let text = std::fs::read_to_string(path)
            .map_err(|source| SpecError::Read { path: shown.clone(), source })?;
        let doc: Value = serde_norway::from_str(&text)
            .map_err(|e| SpecError::Invalid { path: shown.clone(), reason: e.to_string() })?;
        Spec::from_document(&doc).map_err(|reason| SpecError::Invalid { path: shown, reason })
    }

    /// Builds from an already parsed description.
    pub fn from_document(doc: &Value) -> Result<Spec, String> {
        let version = doc.get("openapi").and_then(Value::as_str).unwrap_or_default();
        if !version.starts_with("3.0") {
            return Err(format!("expected OpenAPI 3.0.x, found {version:?}"));
        }
        let paths = doc.get("paths").and_then(Value::as_object).ok_or("no paths")?;
        let mut operations = Vec::new();
        for (template, item) in paths {
            let Some(item) = item.as_object() else { continue };
            for (method, op) in item {
                if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete" | "head") {
                    continue;
                }
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{} {template}", method.to_uppercase()), str::to_owned);
                operations.push(Operation {
                    id,
                    method: method.to_uppercase(),
                    template: template.clone(),
                    raw: op.clone(),
                });
            }
        }
        let components = doc.get("components").and_then(Value::as_object).ok_or("no components")?;
        let schemas = components.get("schemas").and_then(Value::as_object).ok_or("no components.schemas")?;
        let defs = schemas.iter().map(|(name, schema)| (name.clone(), convert(schema))).collect();
        let responses = components.get("responses").and_then(Value::as_object).cloned().unwrap_or_default();
        Ok(Spec { operations, defs, responses, validators: Mutex::new(HashMap::new()) })
    }

    /// All operations.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation for a method and a concrete path (`/contacts/abc`), preferring the template with
    /// the most literal segments (`/contacts/search` over `/contacts/{id}`).
    pub fn operation_for(&self, method: &str, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or(path);
        self.operations
            .iter()
            .filter_map(|op| op.matches(method, path).map(|score| (score, op)))
            .max_by_key(|(score, _)| *score)
            .map(|(_, op)| op)
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// The response object for a status: the exact code, then `4XX`-style ranges, then `default`.
    fn response_for<'a>(&'a self, op: &'a Operation, status: u16) -> Option<(String, &'a Value)> {
        let responses = op.raw.get("responses")?.as_object()?;
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let (key, response) = [exact.as_str(), range.as_str(), "default"]
            .into_iter()
            .find_map(|key| responses.get(key).map(|r| (key.to_owned(), r)))?;
        let response = match response.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.strip_prefix("#/components/responses/")?;
                self.responses.get(name)?
            }
            None => response,
        };
        Some((key, response))
    }

    /// The JSON Schema (converted) of an operation's response for `status`, if it documents a JSON body.
    pub fn response_schema(&self, op: &Operation, status: u16) -> Option<(String, Value)> {
        let (key, response) = self.response_for(op, status)?;
        let schema = response.get("content")?.get("application/json")?.get("schema")?;
        Some((key, convert(schema)))
    }

    /// The documented statuses of an operation.
    pub fn documented_statuses(&self, op: &Operation) -> Vec<String> {
        op.raw
            .get("responses")
            .and_then(Value::as_object)
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn validator(&self, cache_key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().map_err(|_| "validator cache poisoned".to_owned())?;
        if let Some(validator) = cache.get(cache_key) {
            return Ok(Arc::clone(validator));
        }
        let mut root = schema.as_object().cloned().unwrap_or_else(|| {
            let mut wrapped = Map::new();
            wrapped.insert("allOf".into(), json!([schema]));
            wrapped
        });
        root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
        root.insert("$defs".into(), Value::Object(self.defs.clone()));
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| format!("schema for {cache_key} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(cache_key.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }

    /// Validates a JSON schema (already converted) against an instance, listing every error.
    pub fn check_against(
        &self,
        cache_key: &str,
        schema: &Value,
        instance: &Value,
    ) -> Result<(), Vec<SchemaError>> {
        let validator = self.validator(cache_key, schema).map_err(|e| vec![SchemaError::plain(e)])?;
        let errors: Vec<SchemaError> = validator
            .iter_errors(instance)
            .map(|e| SchemaError {
                at: e.instance_path().to_string(),
                message: e.to_string(),
                schema: e.schema_path().to_string(),
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Validates the response of `method path` with `status` and JSON `body` (`None` for an empty
    /// body) against the description, applying [`EXCEPTIONS`].
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<Checked, Violation> {
        match self.operation_for(method, path) {
            Some(op) => self.validate_operation(op, status, body),
            None => Err(Violation {
                operation: None,
                context: format!("{method} {path} {status}"),
                errors: vec![SchemaError::plain("the description has no operation for this method and path")],
            }),
        }
    }

    /// [`Spec::validate`] for a known operation.
    pub fn validate_operation(
        &self,
        op: &Operation,
        status: u16,
        body: Option<&Value>,
    ) -> Result<Checked, Violation> {
        let context = format!("{} {} {status} ({})", op.method, op.template, op.id);
        let violation = |errors: Vec<SchemaError>| Violation {
            operation: Some(op.id.clone()),
            context: context.clone(),
            errors,
        };
        let checked = |schema_key: String, exceptions_applied: Vec<&'static str>| Checked {
            operation: op.id.clone(),
            schema_key,
            exceptions_applied,
        };
        let (schema_key, schema) = match self.response_schema(op, status) {
            Some(found) => found,
            // The status is documented without a JSON body (e.g. 202 for events).
            None if self.response_for(op, status).is_some() => {
                return match body {
                    None => Ok(checked(status.to_string(), Vec::new())),
                    Some(_) => Err(violation(vec![SchemaError::plain(
                        "documented without a body, but a JSON body was sent",
                    )])),
                };
            }
            // See UNDOCUMENTED_ERROR_STATUS: any 4xx/5xx may come back, always as an error list.
            None if status >= 400 => ("error".to_owned(), json!({"$ref": "#/$defs/error"})),
            None => {
                return Err(violation(vec![SchemaError::plain(format!(
                    "status {status} is not documented for this operation (documented: {})",
                    self.documented_statuses(op).join(", ")
                ))]));
            }
        };
        let Some(body) = body else {
            return Err(violation(vec![SchemaError::plain(
                "the description documents a JSON body, none was sent",
            )]));
        };
        let mut instance = body.clone();
        let mut errors = Vec::new();
        let mut applied = Vec::new();
        for exception in EXCEPTIONS.iter().filter(|e| e.applies_to(&op.id)) {
            for (location, value) in take_at(&mut instance, exception.pointer) {
                applied.push(exception.pointer);
                let key = format!("exception {}", exception.pointer);
                if let Err(found) = self.check_against(&key, &(exception.real_schema)(), &value) {
                    errors.extend(found.into_iter().map(|e| SchemaError {
                        at: format!("{location}{}", e.at),
                        message: format!("{} (real-behaviour exception {})", e.message, exception.pointer),
                        schema: e.schema,
                    }));
                }
            }
        }
        let cache_key = format!("{} {schema_key}", op.id);
        if let Err(found) = self.check_against(&cache_key, &schema, &instance) {
            errors.extend(found);
        }
        if errors.is_empty() { Ok(checked(schema_key, applied)) } else { Err(violation(errors)) }
    }
}

/// Removes and returns the values at `pointer` (a JSON pointer whose `*` segments match every array
/// element or object member), with their concrete locations.
pub fn take_at(instance: &mut Value, pointer: &str) -> Vec<(String, Value)> {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let mut out = Vec::new();
    take_rec(instance, &segments, String::new(), &mut out);
    out
}

fn take_rec(node: &mut Value, segments: &[&str], at: String, out: &mut Vec<(String, Value)>) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let leaf = rest.is_empty();
    match node {
        Value::Object(map) => {
            let keys: Vec<String> =
                if *first == "*" { map.keys().cloned().collect() } else { vec![(*first).to_owned()] };
            for key in keys {
                let here = format!("{at}/{key}");
                if leaf {
                    if let Some(value) = map.remove(&key) {
                        out.push((here, value));
                    }
                } else if let Some(child) = map.get_mut(&key) {
                    take_rec(child, rest, here, out);
                }
            }
        }
        Value::Array(items) if *first == "*" || first.parse::<usize>().is_ok() => {
            // Removing array elements would shift the rest; exceptions only ever remove object members.
            let indexes: Vec<usize> = if *first == "*" {
                (0..items.len()).collect()
            } else {
                first.parse::<usize>().into_iter().filter(|i| *i < items.len()).collect()
            };
            if !leaf {
                for index in indexes {
                    take_rec(&mut items[index], rest, format!("{at}/{index}"), out);
                }
            }
        }
        _ => {}
    }
}

/// Converts an OpenAPI 3.0 schema object to JSON Schema 2020-12.
pub fn convert(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        // `true`/`false` schemas and anything odd pass through.
        return schema.clone();
    };
    let nullable = object.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        // OpenAPI 3.0 ignores a $ref's siblings; JSON Schema 2020-12 would apply them. The one sibling
        // whose intent is clear, and common in this description, is `nullable` (e.g.
        // `company: {$ref: company, nullable: true}`), so it is honoured.
        let target = json!({"$ref": rewrite_ref(reference)});
        return if nullable { json!({"anyOf": [target, {"type": "null"}]}) } else { target };
    }
    let mut out = Map::new();
    for (key, value) in object {
        match key.as_str() {
            "properties" | "patternProperties" => {
                let converted = value
                    .as_object()
                    .map(|props| {
                        props.iter().map(|(name, s)| (name.clone(), convert(s))).collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(converted));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(key.clone(), convert(value));
            }
            "oneOf" | "anyOf" | "allOf" => {
                let converted =
                    value.as_array().map(|list| list.iter().map(convert).collect()).unwrap_or_default();
                out.insert(key.clone(), Value::Array(converted));
            }
            // The description uses `format: uri` for relative URLs throughout: its own examples
            // ("url": "/contacts/<id>/tags") and descriptions ("The relative URL of the company") say so,
            // and OpenAPI 3.0 does not define the format. JSON Schema's `uri` means an absolute URI, so
            // it is read as `uri-reference`, which is what the description means.
            "format" if value == "uri" => {
                out.insert(key.clone(), json!("uri-reference"));
            }
            // OpenAPI-only or annotation keywords with no validation meaning (and `example`, whose
            // value is data, not a schema).
            "nullable" | "example" | "discriminator" | "xml" | "externalDocs" | "deprecated" | "readOnly"
            | "writeOnly" => {}
            k if k.starts_with("x-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if nullable {
        if let Some(ty) = out.get("type").and_then(Value::as_str).map(str::to_owned) {
            out.insert("type".into(), json!([ty, "null"]));
            if let Some(Value::Array(options)) = out.get_mut("enum")
                && !options.contains(&Value::Null)
            {
                options.push(Value::Null);
            }
        } else {
            return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
        }
    }
    Value::Object(out)
}

fn rewrite_ref(reference: &str) -> String {
    match reference.strip_prefix("#/components/schemas/") {
        Some(name) => format!("#/$defs/{name}"),
        None => reference.to_owned(),
    }
}
