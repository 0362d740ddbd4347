//! A small MCP client over a child process's stdio, used by the `demo`
//! command, the benchmark and the end-to-end tests: it matches responses to
//! requests by id and keeps notifications (progress) aside.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot start the server process: {0}")]
    Spawn(std::io::Error),
    #[error("the server closed its output")]
    Closed,
    #[error("i/o with the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server sent invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no answer from the server within {0:?}")]
    Timeout(Duration),
    #[error("protocol error {code}: {message}")]
    Protocol { code: i64, message: String },
}

pub struct StdioClient {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    /// Notifications received so far.
    pub notifications: Vec<Value>,
    pub timeout: Duration,
}

impl StdioClient {
    /// Starts `program args...` with stderr inherited (or discarded when `quiet`).
    pub fn spawn(
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        quiet: bool,
    ) -> Result<Self, ClientError> {
        Self::spawn_with(program, args, envs, &[], quiet)
    }

    /// As [`StdioClient::spawn`], also removing the variables named in `remove`.
    pub fn spawn_with(
        program: &Path,
        args: &[String],
        envs: &[(String, String)],
        remove: &[String],
        quiet: bool,
    ) -> Result<Self, ClientError> {
        let mut cmd = Command::new(program);
        for k in remove {
            cmd.env_remove(k);
        }
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            })
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(ClientError::Spawn)?;
        Self::from_child(child)
    }

    /// Wraps an already spawned child whose stdin and stdout are piped.
    pub fn from_child(mut child: Child) -> Result<Self, ClientError> {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or(ClientError::Closed)?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            next_id: 1,
            notifications: Vec::new(),
            timeout: Duration::from_secs(60),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn send(&mut self, msg: &Value) -> Result<(), ClientError> {
        let stdin = self.stdin.as_mut().ok_or(ClientError::Closed)?;
        let mut line = msg.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Sends a request and waits for the response with the same id.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        self.wait_for(id).await
    }

    /// Waits for the response to request `id`.
    pub async fn wait_for(&mut self, id: i64) -> Result<Value, ClientError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, async {
            loop {
                let mut line = String::new();
                if self.stdout.read_line(&mut line).await? == 0 {
                    return Err(ClientError::Closed);
                }
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&line)?;
                if v.get("id").and_then(Value::as_i64) == Some(id) {
                    if let Some(err) = v.get("error") {
                        return Err(ClientError::Protocol {
                            code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                            message: err
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        });
                    }
                    return Ok(v.get("result").cloned().unwrap_or(Value::Null));
                }
                if v.get("method").is_some() && v.get("id").is_none() {
                    self.notifications.push(v);
                }
            }
        })
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// `initialize` followed by `notifications/initialized`.
    pub async fn initialize(&mut self) -> Result<Value, ClientError> {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "supabase-mcp-client", "version": env!("CARGO_PKG_VERSION")}}),
            )
            .await?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(r)
    }

    pub async fn list_tools(&mut self) -> Result<Value, ClientError> {
        self.request("tools/list", json!({})).await
    }

    pub async fn call(&mut self, tool: &str, args: Value) -> Result<Value, ClientError> {
        self.request("tools/call", json!({"name": tool, "arguments": args}))
            .await
    }

    /// Closes stdin and waits for the process to exit.
    pub async fn shutdown(mut self) -> Result<std::process::ExitStatus, ClientError> {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(r) => Ok(r?),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(ClientError::Timeout(Duration::from_secs(10)))
            }
        }
    }
}
