//! Tools of the `database` group: connection (being written).

use super::ToolDef;

pub fn tools() -> Vec<ToolDef> {
    Vec::new()
}
