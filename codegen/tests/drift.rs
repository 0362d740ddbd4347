//! Compares each of our specs with its upstream document: every operation
//! we use must still exist upstream.

mod common;

use codegen::Api;
use codegen::drift;

#[test]
fn no_operation_we_use_is_missing_upstream() {
    let mut failures = Vec::new();
    for api in Api::ALL {
        let (Some(upstream), Some(ours)) = (common::upstream_file(api), common::our_spec(api))
        else {
            continue;
        };
        let report = drift::run(api, &ours, &upstream).unwrap_or_else(|e| panic!("{api}: {e}"));
        let breaking: usize = report
            .changed
            .iter()
            .map(|op| op.changes.iter().filter(|c| c.is_breaking()).count())
            .sum();
        println!(
            "{api}: {} ours, {} upstream, {} missing upstream, {} documented here only, {} changed ({breaking} possibly breaking)",
            report.ours_total,
            report.upstream_total,
            report.missing_upstream.len(),
            report.documented_here.len(),
            report.changed.len()
        );
        if !report.missing_upstream.is_empty() {
            failures.push(format!("{report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "operations we use are missing upstream:\n{}",
        failures.join("\n")
    );
}
