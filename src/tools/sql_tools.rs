//! Tools of the `database` group: sql_tools (being written).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
