//! Catalog and pipeline tests with synthetic tools: visibility rules
//! (read-only, groups, scoping, selection) and refusals of hidden tools.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pipeline::{self, Incoming};
use super::*;
use crate::cli::Options;
use crate::groups::Group;
use crate::result::{ToolError, ToolOutput};
use crate::server::call::Call;
use crate::tools::{Kind, Scope, ToolDef, tool};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    n: Option<u32>,
}

async fn echo(call: Call, a: Args) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::trusted(
        json!({"project_id": a.project_id, "n": a.n, "instance": call.instance.name}),
    ))
}

async fn big(_call: Call, _a: Args) -> Result<ToolOutput, ToolError> {
    let items: Vec<Value> = (0..5000)
        .map(|i| json!({"i": i, "pad": "y".repeat(40)}))
        .collect();
    Ok(ToolOutput::untrusted(json!({"items": items, "note": "n"})))
}

fn fake_tools() -> Vec<ToolDef> {
    vec![
        tool("read_thing", Group::Database, Kind::Read)
            .description("r")
            .handler(echo),
        tool("write_thing", Group::Database, Kind::Write)
            .description("w")
            .handler(echo),
        tool("delete_thing", Group::Storage, Kind::Destructive)
            .description("d")
            .handler(echo),
        tool("project_thing", Group::Database, Kind::Read)
            .description("p")
            .scope(Scope::Project)
            .handler(echo),
        tool("account_thing", Group::Database, Kind::Read)
            .description("a")
            .scope(Scope::Account)
            .handler(echo),
        tool("big_thing", Group::Database, Kind::Read)
            .description("b")
            .handler(big),
    ]
}

fn state(opts: Options) -> (std::sync::Arc<State>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = opts;
    opts.data_dir = Some(dir.path().to_owned());
    let config = Config::resolve(&opts, None).unwrap();
    let catalog = Catalog::build_from(&config, fake_tools()).unwrap();
    (State::with_catalog(config, catalog), dir)
}

fn names(s: &State) -> Vec<String> {
    s.catalog
        .tools()
        .iter()
        .map(|t| t.name.to_string())
        .collect()
}

async fn call(s: &std::sync::Arc<State>, name: &str, args: Value) -> Value {
    let r = pipeline::run(s, name, args.as_object().cloned(), Incoming::detached())
        .await
        .expect("known tool");
    serde_json::to_value(r).unwrap()
}

#[tokio::test]
async fn read_only_hides_and_refuses_write_tools() {
    let (s, _d) = state(Options {
        read_only: true,
        features: Some(vec!["all".into()]),
        ..Options::default()
    });
    let n = names(&s);
    assert!(n.contains(&"read_thing".to_owned()));
    assert!(!n.contains(&"write_thing".to_owned()));
    assert!(!n.contains(&"delete_thing".to_owned()));
    let r = call(&s, "write_thing", json!({})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(r["structuredContent"]["error"]["code"], "read_only");
    assert!(
        pipeline::run(&s, "nonexistent", None, Incoming::detached())
            .await
            .is_none()
    );
}

#[tokio::test]
async fn disabled_group_hides_its_tools() {
    let (s, _d) = state(Options::default());
    assert!(
        !names(&s).contains(&"delete_thing".to_owned()),
        "storage is not a default group"
    );
    let r = call(&s, "delete_thing", json!({})).await;
    assert_eq!(r["structuredContent"]["error"]["code"], "not_configured");
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("--features")
    );
}

#[tokio::test]
async fn destructive_tool_confirmation_flow() {
    let (s, d) = state(Options {
        features: Some(vec!["storage".into()]),
        ..Options::default()
    });
    let r = call(&s, "delete_thing", json!({"n": 1})).await;
    assert_eq!(r["structuredContent"]["status"], "confirmation_required");
    let token = r["structuredContent"]["data"]["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &s,
        "delete_thing",
        json!({"n": 2, "confirmation_token": token}),
    )
    .await;
    assert_eq!(
        r["structuredContent"]["error"]["code"],
        "confirmation_required"
    );
    let r = call(&s, "delete_thing", json!({"n": 1})).await;
    let token = r["structuredContent"]["data"]["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &s,
        "delete_thing",
        json!({"n": 1, "confirmation_token": token}),
    )
    .await;
    assert_eq!(r["structuredContent"]["status"], "ok");
    let audit = std::fs::read_to_string(d.path().join("audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 4, "{audit}");
    assert!(
        !audit.contains("confirm_"),
        "tokens are not written to the audit log"
    );
}

#[tokio::test]
async fn scoping_hides_account_tools_and_injects_project() {
    let (s, _d) = state(Options {
        project_ref: Some("abcdefghijklmnopqrst".into()),
        ..Options::default()
    });
    let n = names(&s);
    assert!(!n.contains(&"account_thing".to_owned()));
    let t = s.catalog.get("project_thing").unwrap().1;
    assert!(t.input_schema["properties"].get("project_id").is_none());
    let r = call(&s, "project_thing", json!({})).await;
    assert_eq!(
        r["structuredContent"]["data"]["project_id"],
        "abcdefghijklmnopqrst"
    );
    let r = call(
        &s,
        "project_thing",
        json!({"project_id": "zzzzzzzzzzzzzzzzzzzz"}),
    )
    .await;
    assert_eq!(r["structuredContent"]["error"]["code"], "invalid_arguments");
    let r = call(&s, "account_thing", json!({})).await;
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("--project-ref")
    );
}

#[tokio::test]
async fn oversized_results_spill_within_budget() {
    let (s, d) = state(Options {
        output_budget: Some(8192),
        ..Options::default()
    });
    let r = call(&s, "big_thing", json!({})).await;
    let size = r.to_string().len();
    assert!(size <= 8192, "{size}");
    let data = &r["structuredContent"]["data"];
    assert_eq!(data["note"], "n", "other fields survive");
    assert_eq!(data["spill"]["rows"], 5000);
    let path = data["spill"]["path"].as_str().unwrap();
    assert!(path.starts_with(d.path().to_str().unwrap()));
    assert_eq!(std::fs::read_to_string(path).unwrap().lines().count(), 5000);
    assert!(
        !r["structuredContent"]["warnings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("<untrusted-data-")
    );
}

#[test]
fn unknown_tool_in_selection_is_an_error() {
    let config = Config::resolve(
        &Options {
            tools: Some(vec!["read_thingy".into()]),
            ..Options::default()
        },
        None,
    )
    .unwrap();
    let err = Catalog::build_from(&config, fake_tools()).unwrap_err();
    assert!(err.to_string().contains("read_thingy") && err.to_string().contains("read_thing,"));
}
