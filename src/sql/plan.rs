//! A short summary of an `EXPLAIN (FORMAT JSON)` plan: total cost, estimated
//! and actual rows, the costliest nodes, sequential scans of big tables and
//! badly estimated nodes.

use serde_json::{Value, json};

use super::run::TableSize;

/// A sequential scan of a table with at least this many rows is reported.
pub const BIG_TABLE_ROWS: f64 = 10_000.0;
/// An estimate off by this factor (either way) is reported.
const MISESTIMATE_FACTOR: f64 = 10.0;

/// One plan node, flattened.
#[derive(Debug, Clone)]
struct Node<'a> {
    plan: &'a Value,
    total_cost: f64,
    self_cost: f64,
    /// Inclusive time over all loops (ms), with ANALYZE.
    time_ms: Option<f64>,
    self_time_ms: Option<f64>,
    actual_rows: Option<f64>,
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The root `Plan` of EXPLAIN's JSON output.
fn root(explain: &Value) -> Option<&Value> {
    explain.get(0)?.get("Plan")
}

fn flatten<'a>(plan: &'a Value, out: &mut Vec<Node<'a>>) {
    let children: &[Value] = plan
        .get("Plans")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let total_cost = num(plan, "Total Cost").unwrap_or(0.0);
    let child_cost: f64 = children
        .iter()
        .map(|c| num(c, "Total Cost").unwrap_or(0.0))
        .sum();
    let loops = num(plan, "Actual Loops").unwrap_or(1.0).max(1.0);
    let time = |p: &Value| {
        num(p, "Actual Total Time").map(|t| t * num(p, "Actual Loops").unwrap_or(1.0).max(1.0))
    };
    let time_ms = time(plan);
    let child_time: f64 = children.iter().filter_map(time).sum();
    out.push(Node {
        plan,
        total_cost,
        self_cost: (total_cost - child_cost).max(0.0),
        time_ms,
        self_time_ms: time_ms.map(|t| (t - child_time).max(0.0)),
        actual_rows: num(plan, "Actual Rows").map(|r| r * loops),
    });
    for c in children {
        flatten(c, out);
    }
}

fn relation(plan: &Value) -> Option<String> {
    let name = plan.get("Relation Name")?.as_str()?;
    Some(match plan.get("Schema").and_then(Value::as_str) {
        Some(s) => format!("{s}.{name}"),
        None => name.to_owned(),
    })
}

/// Tables scanned sequentially in the plan (names without schema).
pub fn seq_scan_tables(explain: &Value) -> Vec<String> {
    let Some(r) = root(explain) else {
        return Vec::new();
    };
    let mut nodes = Vec::new();
    flatten(r, &mut nodes);
    let mut names: Vec<String> = nodes
        .iter()
        .filter(|n| n.plan.get("Node Type").and_then(Value::as_str) == Some("Seq Scan"))
        .filter_map(|n| n.plan.get("Relation Name")?.as_str().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn describe(n: &Node<'_>, analyze: bool) -> Value {
    let mut v = json!({
        "node_type": n.plan.get("Node Type").and_then(Value::as_str).unwrap_or("?"),
        "total_cost": round(n.total_cost),
        "self_cost": round(n.self_cost),
        "estimated_rows": num(n.plan, "Plan Rows"),
    });
    if let Some(r) = relation(n.plan) {
        v["relation"] = json!(r);
    }
    if let Some(i) = n.plan.get("Index Name") {
        v["index"] = i.clone();
    }
    if analyze {
        v["actual_time_ms"] = json!(n.time_ms.map(round));
        v["self_time_ms"] = json!(n.self_time_ms.map(round));
        v["actual_rows"] = json!(n.actual_rows);
    }
    v
}

/// The summary of `explain` (EXPLAIN's JSON output); `tables` are the sizes
/// of the tables it scans.
pub fn summarize(explain: &Value, analyze: bool, tables: &[TableSize]) -> Value {
    let Some(r) = root(explain) else {
        return json!({});
    };
    let mut nodes = Vec::new();
    flatten(r, &mut nodes);
    let top = &explain[0];
    let mut s = json!({
        "total_cost": num(r, "Total Cost").map(round),
        "estimated_rows": num(r, "Plan Rows"),
        "nodes": nodes.len(),
    });
    if analyze {
        s["actual_rows"] = json!(nodes.first().and_then(|n| n.actual_rows));
        s["planning_time_ms"] = json!(num(top, "Planning Time").map(round));
        s["execution_time_ms"] = json!(num(top, "Execution Time").map(round));
    }
    let mut costly: Vec<&Node<'_>> = nodes.iter().collect();
    if analyze {
        costly.sort_by(|a, b| {
            b.self_time_ms
                .unwrap_or(0.0)
                .total_cmp(&a.self_time_ms.unwrap_or(0.0))
        });
    } else {
        costly.sort_by(|a, b| b.self_cost.total_cmp(&a.self_cost));
    }
    s["costliest_nodes"] = Value::Array(
        costly
            .iter()
            .take(3)
            .map(|n| describe(n, analyze))
            .collect(),
    );
    let mut big_scans = Vec::new();
    for n in &nodes {
        if n.plan.get("Node Type").and_then(Value::as_str) != Some("Seq Scan") {
            continue;
        }
        let Some(name) = n.plan.get("Relation Name").and_then(Value::as_str) else {
            continue;
        };
        let schema = n.plan.get("Schema").and_then(Value::as_str);
        let size = tables
            .iter()
            .filter(|t| t.name == name && schema.is_none_or(|s| s == t.schema))
            .max_by(|a, b| a.rows.total_cmp(&b.rows));
        let Some(size) = size.filter(|t| t.rows >= BIG_TABLE_ROWS) else {
            continue;
        };
        let mut scan = json!({
            "relation": format!("{}.{}", size.schema, size.name),
            "table_rows_estimate": size.rows.round(),
            "table_bytes": size.bytes,
        });
        match n.plan.get("Filter").and_then(Value::as_str) {
            Some(f) => {
                scan["filter"] = json!(f);
                scan["suggestion"] = json!(format!(
                    "An index on the columns of {f} would let PostgreSQL skip most of the {} rows.",
                    size.rows.round()
                ));
            }
            None => {
                scan["suggestion"] = json!(
                    "The whole table is read: add a WHERE clause or a LIMIT if not every row is needed."
                );
            }
        }
        big_scans.push(scan);
    }
    s["seq_scans_on_big_tables"] = Value::Array(big_scans);
    if analyze {
        let mut off: Vec<(f64, Value)> = nodes
            .iter()
            .filter_map(|n| {
                let est = num(n.plan, "Plan Rows")?.max(1.0);
                let act = n.actual_rows?.max(1.0);
                let loops = num(n.plan, "Actual Loops").unwrap_or(1.0).max(1.0);
                let factor = (act / (est * loops)).max(est * loops / act);
                (factor >= MISESTIMATE_FACTOR).then(|| {
                    let mut d = describe(n, true);
                    d["estimated_rows"] = json!(est * loops);
                    d["factor"] = json!(round(factor));
                    (factor, d)
                })
            })
            .collect();
        off.sort_by(|a, b| b.0.total_cmp(&a.0));
        s["misestimated_nodes"] = Value::Array(off.into_iter().take(3).map(|(_, d)| d).collect());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Value {
        json!([{
            "Plan": {
                "Node Type": "Hash Join", "Total Cost": 500.0, "Plan Rows": 10,
                "Actual Total Time": 40.0, "Actual Rows": 2000, "Actual Loops": 1,
                "Plans": [
                    {"Node Type": "Seq Scan", "Relation Name": "big", "Total Cost": 400.0, "Plan Rows": 100000,
                     "Filter": "(x = 1)", "Actual Total Time": 35.0, "Actual Rows": 100000, "Actual Loops": 1},
                    {"Node Type": "Hash", "Total Cost": 20.0, "Plan Rows": 50, "Actual Total Time": 1.0,
                     "Actual Rows": 50, "Actual Loops": 1,
                     "Plans": [{"Node Type": "Seq Scan", "Relation Name": "small", "Total Cost": 15.0,
                                "Plan Rows": 50, "Actual Total Time": 0.5, "Actual Rows": 50, "Actual Loops": 1}]}
                ]
            },
            "Planning Time": 0.2, "Execution Time": 41.0
        }])
    }

    #[test]
    fn summary_fields() {
        let tables = vec![
            TableSize {
                schema: "public".into(),
                name: "big".into(),
                rows: 100000.0,
                bytes: 8 << 20,
            },
            TableSize {
                schema: "public".into(),
                name: "small".into(),
                rows: 50.0,
                bytes: 8192,
            },
        ];
        let s = summarize(&plan(), true, &tables);
        assert_eq!(s["total_cost"], 500.0);
        assert_eq!(s["estimated_rows"], 10.0);
        assert_eq!(s["actual_rows"], 2000.0);
        assert_eq!(s["execution_time_ms"], 41.0);
        let top = s["costliest_nodes"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        assert_eq!(top[0]["node_type"], "Seq Scan");
        assert_eq!(top[0]["relation"], "big");
        let scans = s["seq_scans_on_big_tables"].as_array().unwrap();
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0]["relation"], "public.big");
        assert_eq!(s["misestimated_nodes"][0]["node_type"], "Hash Join");
        assert_eq!(seq_scan_tables(&plan()), vec!["big", "small"]);
    }
}
