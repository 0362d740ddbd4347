//! The stdio transport. stdout belongs to MCP: nothing else may write there.

use std::sync::Arc;

use rmcp::ServiceExt;

use crate::server::{McpServer, State};

#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("MCP session failed: {0}")]
    Session(String),
}

/// Serves one MCP session on stdin/stdout until the client disconnects.
pub async fn serve(state: Arc<State>) -> Result<(), StdioError> {
    let service = match McpServer::new(state).serve(rmcp::transport::stdio()).await {
        Ok(s) => s,
        // A client that disconnects before `initialize` (a health probe) is not an error.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(e) => return Err(StdioError::Session(e.to_string())),
    };
    service
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| StdioError::Session(e.to_string()))
}
