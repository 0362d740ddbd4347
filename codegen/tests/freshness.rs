//! Fails when the committed code in `generated/` no longer matches what
//! `cargo codegen` would produce from `specs/`.

mod common;

use codegen::output::{self, Selection};

#[test]
fn generated_code_is_fresh() {
    let root = common::root();
    let plan = output::plan(&root, Selection::Present)
        .unwrap_or_else(|e| panic!("generation failed: {e}"));
    for note in &plan.notes {
        println!("note: {note}");
    }
    let stale = output::check(&root, &plan).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stale.is_empty(),
        "generated/ is stale; run `cargo codegen` and commit the result:\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn our_specs_need_no_structural_rewrites() {
    // Our specs are written for progenitor: the pass may normalise error
    // responses, but must not have to drop operations.
    let root = common::root();
    let plan = output::plan(&root, Selection::Present).unwrap_or_else(|e| panic!("{e}"));
    for module in &plan.generated {
        assert!(
            module.report.dropped.is_empty(),
            "{}: preprocessing dropped operations:\n{}",
            module.api,
            module.report
        );
        assert!(module.operations > 0, "{} has no operations", module.api);
    }
}
