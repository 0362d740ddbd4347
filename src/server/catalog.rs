//! The catalog: which tools this configuration exposes and the exact schema
//! each one shows (read-only hiding, project scoping, the `instance` and
//! `confirmation_token` arguments). Built once at start.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::groups::Group;
use crate::result::envelope_schema;
use crate::tools::{Kind, Scope, ToolDef, all_tools};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CatalogError {
    #[error("unknown tool `{name}` in {option}; valid tools are: {valid}")]
    UnknownTool {
        name: String,
        option: &'static str,
        valid: String,
    },
}

/// Why a known tool is not callable in this configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Hidden {
    GroupDisabled(Group),
    ReadOnly,
    Scoped,
    NotSelected,
}

#[derive(Debug)]
pub struct Catalog {
    visible: Vec<(ToolDef, Tool)>,
    index: HashMap<&'static str, usize>,
    hidden: HashMap<&'static str, Hidden>,
}

impl Catalog {
    pub fn build(config: &Config) -> Result<Catalog, CatalogError> {
        Self::build_from(config, all_tools())
    }

    /// Builds the catalog from an explicit tool list.
    pub fn build_from(config: &Config, all: Vec<ToolDef>) -> Result<Catalog, CatalogError> {
        let valid = || {
            let mut n: Vec<&str> = all.iter().map(|t| t.name).collect();
            n.sort();
            n.join(", ")
        };
        for (option, list) in [
            ("--tools", config.tools_allow.clone().unwrap_or_default()),
            ("--disable-tools", config.tools_deny.clone()),
        ] {
            for name in list {
                if !all.iter().any(|t| t.name == name) {
                    return Err(CatalogError::UnknownTool {
                        name,
                        option,
                        valid: valid(),
                    });
                }
            }
        }
        let scoped = config.scoped_project_ref().is_some();
        // Limited to listed projects (one or several): account-level tools are hidden.
        let limited = !config.allowed_projects().is_empty();
        let multi = config.instances.len() > 1;
        let mut visible = Vec::new();
        let mut hidden = HashMap::new();
        for def in all {
            let why = if !config.groups.contains(&def.group) {
                Some(Hidden::GroupDisabled(def.group))
            } else if config.read_only && def.kind != Kind::Read && !def.read_only_capable {
                Some(Hidden::ReadOnly)
            } else if limited && def.scope == Scope::Account {
                Some(Hidden::Scoped)
            } else if config.tools_deny.iter().any(|n| n == def.name)
                || config
                    .tools_allow
                    .as_ref()
                    .is_some_and(|a| !a.iter().any(|n| n == def.name))
            {
                Some(Hidden::NotSelected)
            } else {
                None
            };
            match why {
                Some(w) => {
                    hidden.insert(def.name, w);
                }
                None => {
                    let tool = describe(&def, config, scoped, multi);
                    visible.push((def, tool));
                }
            }
        }
        let index = visible
            .iter()
            .enumerate()
            .map(|(i, (d, _))| (d.name, i))
            .collect();
        Ok(Catalog {
            visible,
            index,
            hidden,
        })
    }

    pub fn tools(&self) -> Vec<Tool> {
        self.visible.iter().map(|(_, t)| t.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<(&ToolDef, &Tool)> {
        self.index.get(name).map(|&i| {
            let (d, t) = &self.visible[i];
            (d, t)
        })
    }

    pub fn hidden(&self, name: &str) -> Option<&Hidden> {
        self.hidden.get(name)
    }

    pub fn len(&self) -> usize {
        self.visible.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }
}

/// The official server's database tools, which take a `project_id`.
const OFFICIAL_DATABASE_TOOLS: [&str; 5] = [
    "list_tables",
    "list_extensions",
    "list_migrations",
    "apply_migration",
    "execute_sql",
];

fn describe(def: &ToolDef, config: &Config, scoped: bool, multi: bool) -> Tool {
    let mut schema = def.input_schema.clone();
    let props = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(props) = props.as_object_mut() {
        if multi {
            let names: Vec<Value> = config
                .instances
                .iter()
                .map(|i| Value::from(i.name.clone()))
                .collect();
            props.insert(
                "instance".into(),
                json!({"type": "string", "enum": names, "description": "Instance to act on (default: the first configured)."}),
            );
        }
        if def.may_need_confirmation() && !config.allow_destructive {
            props.insert(
                "confirmation_token".into(),
                json!({"type": "string", "description": "From a confirmation_required result."}),
            );
        }
        if scoped && def.scope == Scope::Project {
            props.remove("project_id");
        }
        // The official server's database tools take `project_id`: accepted
        // (and listed) where it can choose a project, in unscoped cloud mode.
        if !scoped
            && def.scope == Scope::Instance
            && OFFICIAL_DATABASE_TOOLS.contains(&def.name)
            && config
                .instances
                .first()
                .is_some_and(|i| i.mode == crate::config::Mode::Cloud)
        {
            props.insert("project_id".into(), json!({"type": "string"}));
        }
        // Said once per list tool's description ("paginated"), not per field.
        if let Some(Value::Object(offset)) = props.get_mut("offset") {
            offset.remove("description");
        }
        if let Some(Value::Object(project)) = props.get_mut("project_id") {
            project.insert("description".into(), Value::from("Project ref."));
            // Several projects allowed: the model picks one of them.
            let allowed = config.allowed_projects();
            if allowed.len() > 1 {
                project.insert("enum".into(), json!(allowed));
            }
        }
    }
    if scoped
        && def.scope == Scope::Project
        && let Some(Value::Array(req)) = schema.get_mut("required")
    {
        req.retain(|v| v != "project_id");
    }
    let read_only = def.kind == Kind::Read || (config.read_only && def.read_only_capable);
    // Only hints that differ from the protocol's defaults (read-only false,
    // destructive true, idempotent false, open world true) are sent, and
    // the write hints only for tools that write: every byte of tools/list
    // is paid for in the model's context.
    // A title that only spells out the name ("List tables") says nothing
    // the name does not; clients show the name then.
    let spelled: Vec<String> = def
        .title
        .to_lowercase()
        .split(' ')
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .map(str::to_owned)
        .collect();
    let mut annotations = if spelled.join("_") == def.name {
        ToolAnnotations::new()
    } else {
        ToolAnnotations::with_title(def.title)
    };
    if read_only {
        annotations = annotations.read_only(true);
    } else {
        let destructive = def.kind == Kind::Destructive || def.may_need_confirmation();
        if !destructive {
            annotations = annotations.destructive(false);
        }
        if def.idempotent {
            annotations = annotations.idempotent(true);
        }
    }
    if !def.open_world {
        annotations = annotations.open_world(false);
    }
    let mut tool =
        Tool::new(def.name, def.description, Arc::new(schema)).with_annotations(annotations);
    if let Some(data) = &def.output_schema {
        tool = tool.with_raw_output_schema(Arc::new(envelope_schema(Some(data.clone()))));
    }
    tool
}
