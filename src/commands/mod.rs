//! Subcommands for humans and scripts beyond `serve`: `doctor`, `tools`,
//! `demo`. They share the server's code paths.

pub mod demo;
pub mod doctor;
pub mod tools;
