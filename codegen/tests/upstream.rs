//! Proves the unmodified upstream documents (kept beside the repository,
//! never in it) can still be generated from after preprocessing: whole, and
//! restricted to the operations our specs use.

mod common;

use codegen::Api;
use codegen::preprocess::Options;
use codegen::{document, upstream};

/// Lower bounds on the operations each upstream document yields.
fn minimum_operations(api: Api) -> usize {
    match api {
        Api::Management => 150,
        Api::Auth => 55,
        Api::Storage => 70,
        Api::Dokploy => 500,
    }
}

#[test]
fn upstream_documents_generate() {
    for api in Api::ALL {
        let Some(path) = common::upstream_file(api) else {
            continue;
        };
        let out = upstream::generate(api.name(), &path, &Options::default())
            .unwrap_or_else(|e| panic!("{api}: {e}"));
        println!("{api}: {} operations\n{}", out.operations, out.report);
        assert!(
            out.operations >= minimum_operations(api),
            "{api}: only {} operations generated",
            out.operations
        );
        assert!(!out.tokens.is_empty());
    }
}

#[test]
fn our_operations_generate_from_upstream() {
    for api in Api::ALL {
        let (Some(path), Some(ours)) = (common::upstream_file(api), common::our_spec(api)) else {
            continue;
        };
        let ours = document::load(&ours).unwrap_or_else(|e| panic!("{e}"));
        let options = upstream::options_from_ours(&ours);
        let wanted = options.allowlist.as_ref().map_or(0, Vec::len);
        let out = upstream::generate(api.name(), &path, &options)
            .unwrap_or_else(|e| panic!("{api}: {e}"));
        println!(
            "{api}: {} of our {wanted} operations from upstream",
            out.operations
        );
        for note in &out.report.notes {
            println!("  {note}");
        }
        assert!(out.operations > 0, "{api}: nothing generated");
    }
}
