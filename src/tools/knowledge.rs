//! `explain_error` (group `docs`): offline causes and fixes for common
//! PostgreSQL, PostgREST and Supabase error codes; and `seed_database`.

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
