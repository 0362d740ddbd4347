//! supabase-mcp: an MCP server that gives an assistant safe control of
//! Supabase cloud projects and self-hosted instances.
//!
//! The binary (`src/main.rs`) is a thin edge over this library; see
//! `ARCHITECTURE.md` for the map of modules and their invariants.

pub mod advisors;
pub mod api;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod confirm;
pub mod db;
pub mod fixture;
pub mod groups;
pub mod knowledge;
pub mod logging;
pub mod mcp_client;
pub mod migrations;
pub mod oauth;
pub mod pg;
pub mod ratelimit;
pub mod result;
pub mod schema;
pub mod secret;
pub mod seed;
pub mod selfhosted;
pub mod server;
pub mod spill;
pub mod sql;
pub mod tools;
pub mod transfer;
pub mod transport;
pub mod typegen;
pub mod untrusted;
