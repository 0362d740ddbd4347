//! Transports: stdio (the default; stdout carries only protocol) and
//! Streamable HTTP with bearer authentication and Host/Origin checks.

pub mod http;
pub mod stdio;
