//! SQL text analysis that needs no database: splitting statements and
//! classifying them (destructive, transaction control) for the safety rails.

pub mod classify;
