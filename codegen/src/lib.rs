//! Code generator for the typed API clients in the `generated/` crate.
//!
//! The crate owns everything between an OpenAPI document and committed Rust
//! code: loading documents ([`document`]), rewriting them into the subset of
//! OpenAPI 3.0 that progenitor accepts ([`preprocess`]), running progenitor
//! and formatting its output ([`generate`]), laying out and checking the files
//! of the `generated/` crate ([`output`]), and comparing our specs with the
//! upstream documents they were derived from ([`drift`]), and generating
//! straight from an upstream document ([`upstream`]).

pub mod api;
pub mod document;
pub mod drift;
pub mod generate;
pub mod output;
pub mod preprocess;
pub mod upstream;

pub use api::Api;
