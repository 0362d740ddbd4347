//! The `storage` group's cloud tools (through the Management API): a
//! project's buckets, its storage settings (upload limit, features), and
//! changing those settings. A change applies to the whole project, so it is
//! confirmed first; only the fields given are sent.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Kind, Scope, ToolDef, tool};
use crate::api::CallOptions;
use crate::api::generated::management::types::{
    ProjectRef, UpdateStorageConfigBody, UpdateStorageConfigBodyFeatures,
    UpdateStorageConfigBodyFeaturesImageTransformation, UpdateStorageConfigBodyFeaturesS3Protocol,
};
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::{Call, parse_project_ref};

/// The largest upload limit the API accepts: 500 GiB.
pub const MAX_FILE_SIZE_LIMIT: u64 = 536_870_912_000;

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool("list_storage_buckets", Group::Storage, Kind::Read)
            .title("List storage buckets")
            .description("The storage buckets of a cloud project and whether each is public.")
            .scope(Scope::Project)
            .handler(list_storage_buckets),
        tool("get_storage_config", Group::Storage, Kind::Read)
            .title("Get storage settings")
            .description("A cloud project's storage settings: upload size limit and features.")
            .scope(Scope::Project)
            .handler(get_storage_config),
        tool("update_storage_config", Group::Storage, Kind::Write)
            .title("Update storage settings")
            .description("Change a cloud project's upload size limit or storage features.")
            .idempotent(true)
            .scope(Scope::Project)
            .assess(assess_update)
            .handler(update_storage_config),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
}

/// A feature switch.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Toggle {
    pub enabled: bool,
}

/// Storage features to switch.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(inline)]
pub struct FeaturesInput {
    /// Image resizing on download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_transformation: Option<Toggle>,
    /// S3-compatible access to buckets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_protocol: Option<Toggle>,
}

/// Storage settings to change.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(inline)]
pub struct StorageConfigInput {
    /// Largest upload in bytes (1 to 536870912000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<FeaturesInput>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    /// Project ref (20 lowercase letters).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Settings to change; fields left out stay as they are.
    pub config: StorageConfigInput,
}

fn project_ref(call: &Call, given: Option<&str>) -> Result<ProjectRef, ToolError> {
    let Some(r) = given.or(call.instance.project_ref.as_deref()) else {
        return Err(ToolError::invalid("`project_id` is required")
            .suggestion("Pass project_id (list_projects shows the refs), or start the server with --project-ref."));
    };
    parse_project_ref(r.trim())
}

/// A byte count for people: `50 MiB (52428800 bytes)`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let shown = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    format!("{shown} {} ({n} bytes)", UNITS[unit])
}

/// Checks the settings to change and says what changes, one item each.
pub fn check_config(c: &StorageConfigInput) -> Result<Vec<String>, ToolError> {
    let mut changes = Vec::new();
    if let Some(n) = c.file_size_limit {
        if n == 0 {
            return Err(ToolError::invalid(
                "`config.fileSizeLimit` is 0, which would refuse every upload",
            )
            .suggestion("Pass the largest upload in bytes, e.g. 52428800 for 50 MiB."));
        }
        if n > MAX_FILE_SIZE_LIMIT {
            return Err(ToolError::invalid(format!(
                "`config.fileSizeLimit` is {n} bytes; at most {MAX_FILE_SIZE_LIMIT} (500 GiB) is accepted"
            ))
            .suggestion("Pass a smaller limit in bytes; the project's plan may allow less (Free: 50 MiB)."));
        }
        changes.push(format!("upload size limit → {}", human_bytes(n)));
    }
    if let Some(f) = &c.features {
        if f.image_transformation.is_none() && f.s3_protocol.is_none() {
            return Err(ToolError::invalid("`config.features` names no feature")
                .suggestion("Pass features.imageTransformation.enabled and/or features.s3Protocol.enabled, or leave features out."));
        }
        let state = |t: Toggle| if t.enabled { "on" } else { "off" };
        if let Some(t) = f.image_transformation {
            changes.push(format!("image transformation → {}", state(t)));
        }
        if let Some(t) = f.s3_protocol {
            changes.push(format!("S3 protocol → {}", state(t)));
        }
    }
    if changes.is_empty() {
        return Err(ToolError::invalid("`config` changes nothing").suggestion(
            "Pass fileSizeLimit (bytes) and/or features, e.g. {\"fileSizeLimit\": 52428800} or {\"features\": {\"s3Protocol\": {\"enabled\": false}}}.",
        ));
    }
    Ok(changes)
}

/// The request body: only the fields given.
pub fn update_body(c: &StorageConfigInput) -> UpdateStorageConfigBody {
    UpdateStorageConfigBody {
        external: None,
        file_size_limit: c.file_size_limit.and_then(|n| i64::try_from(n).ok()),
        features: c
            .features
            .as_ref()
            .map(|f| UpdateStorageConfigBodyFeatures {
                image_transformation: f.image_transformation.map(|t| {
                    UpdateStorageConfigBodyFeaturesImageTransformation { enabled: t.enabled }
                }),
                s3_protocol: f
                    .s3_protocol
                    .map(|t| UpdateStorageConfigBodyFeaturesS3Protocol { enabled: t.enabled }),
                ..Default::default()
            }),
    }
}

/// Every valid change asks first: it applies to the whole project.
fn assess_update(args: &Map<String, Value>) -> Option<String> {
    let a: UpdateArgs = serde_json::from_value(Value::Object(args.clone())).ok()?;
    let changes = check_config(&a.config).ok()?;
    let project = match a.project_id.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => format!("project `{p}`"),
        _ => "the project".to_owned(),
    };
    Some(format!(
        "change the storage settings of {project} for every bucket and client: {}",
        changes.join("; ")
    ))
}

async fn list_storage_buckets(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let buckets = api
        .idempotent(|c| c.v1_list_all_buckets(&project))
        .await
        .map_err(ToolError::from)?;
    let public: Vec<&str> = buckets
        .iter()
        .filter(|b| b.public)
        .map(|b| b.name.as_str())
        .collect();
    let list: Vec<Value> = buckets
        .iter()
        .map(|b| {
            json!({
                "id": b.id,
                "name": b.name,
                "public": b.public,
                "owner": b.owner,
                "created_at": b.created_at,
                "updated_at": b.updated_at,
            })
        })
        .collect();
    let out = ToolOutput::untrusted(json!({
        "project_id": project.as_str(),
        "count": list.len(),
        "public_count": public.len(),
        "buckets": list,
    }));
    Ok(if buckets.is_empty() {
        out.warn("no storage buckets in this project")
    } else {
        out
    })
}

async fn get_storage_config(call: Call, a: ProjectArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let api = call.state.clients.management(&call.instance)?;
    let config = api
        .idempotent(|c| c.v1_get_storage_config(&project))
        .await
        .map_err(ToolError::from)?;
    let mut out = Map::new();
    out.insert("project_id".into(), json!(project.as_str()));
    if let Ok(Value::Object(m)) = serde_json::to_value(&config) {
        out.extend(m);
    }
    if let Ok(n) = u64::try_from(config.file_size_limit) {
        out.insert("fileSizeLimitReadable".into(), json!(human_bytes(n)));
    }
    Ok(ToolOutput::untrusted(Value::Object(out)))
}

async fn update_storage_config(call: Call, a: UpdateArgs) -> Result<ToolOutput, ToolError> {
    let project = project_ref(&call, a.project_id.as_deref())?;
    let changes = check_config(&a.config)?;
    let body = update_body(&a.config);
    let api = call.state.clients.management(&call.instance)?;
    api.call_with(CallOptions::idempotent(), |c| {
        c.v1_update_storage_config(&project, &body)
    })
    .await
    .map_err(ToolError::from)?;
    Ok(ToolOutput::trusted(json!({
        "project_id": project.as_str(),
        "updated": serde_json::to_value(&a.config).unwrap_or(Value::Null),
        "changes": changes,
        "next_step": "get_storage_config shows the settings now in effect.",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> StorageConfigInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_the_fields_given_are_sent() {
        let c = input(json!({"fileSizeLimit": 1024}));
        assert_eq!(
            serde_json::to_value(update_body(&c)).unwrap(),
            json!({"fileSizeLimit": 1024})
        );
        let c = input(json!({"features": {"s3Protocol": {"enabled": false}}}));
        assert_eq!(
            serde_json::to_value(update_body(&c)).unwrap(),
            json!({"features": {"s3Protocol": {"enabled": false}}})
        );
    }

    #[test]
    fn configs_are_checked() {
        assert!(check_config(&input(json!({}))).is_err());
        assert!(check_config(&input(json!({"features": {}}))).is_err());
        assert!(check_config(&input(json!({"fileSizeLimit": 0}))).is_err());
        assert!(check_config(&input(json!({"fileSizeLimit": MAX_FILE_SIZE_LIMIT + 1}))).is_err());
        let c = check_config(&input(json!({"fileSizeLimit": 52428800,
            "features": {"imageTransformation": {"enabled": true}}})))
        .unwrap();
        assert_eq!(
            c,
            vec![
                "upload size limit → 50 MiB (52428800 bytes)",
                "image transformation → on"
            ]
        );
        assert!(
            serde_json::from_value::<StorageConfigInput>(json!({"fileSizeLimit": -1})).is_err()
        );
        assert!(
            serde_json::from_value::<StorageConfigInput>(
                json!({"features": {"icebergCatalog": {"enabled": true}}})
            )
            .is_err()
        );
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(human_bytes(10), "10 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(
            human_bytes(MAX_FILE_SIZE_LIMIT),
            "500 GiB (536870912000 bytes)"
        );
    }
}
