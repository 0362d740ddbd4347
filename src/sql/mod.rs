//! SQL analysis and execution for the safety rails: classification of
//! statements with PostgreSQL's own parser ([`classify`]), syntax errors
//! with positions and suggestions ([`syntax`]), the keyword lexer used as a
//! fallback ([`lexer`]), what functions do ([`functions`]), running user SQL
//! safely ([`run`]), notices for the call that caused them ([`notices`]) and
//! the summary of a query plan ([`plan`]).

pub mod classify;
pub mod functions;
pub mod lexer;
pub mod notices;
pub mod plan;
pub mod run;
pub mod syntax;
