//! Subcommands for humans and scripts beyond `serve`: `doctor`, `tools`,
//! `demo`, `backup`, `restore`. They share the server's code paths.

pub mod backup;
pub mod demo;
pub mod doctor;
pub mod tools;
