//! `supabase-mcp demo`: a throwaway local PostgreSQL with Supabase-like
//! sample data, a short real MCP session against this very binary (printed
//! step by step), then cleanup.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::mcp_client::StdioClient;
use crate::pg::cluster::{ClusterOptions, TempCluster};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Cluster(#[from] crate::pg::cluster::ClusterError),
    #[error("the MCP session failed: {0}")]
    Client(#[from] crate::mcp_client::ClientError),
    #[error("cannot find this program's own path: {0}")]
    SelfPath(std::io::Error),
    #[error("demo step `{0}` returned an error: {1}")]
    Step(String, String),
}

/// Starts a cluster with the fixture and sample data loaded.
pub async fn start_cluster() -> Result<TempCluster, DemoError> {
    eprintln!("• starting a throwaway PostgreSQL cluster…");
    let spinner = spinner("initdb and start");
    let cluster = TempCluster::start(ClusterOptions::default()).await;
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    let cluster = cluster?;
    eprintln!("  listening on 127.0.0.1:{}", cluster.port());
    eprintln!("• loading the Supabase-like schema and sample data…");
    cluster.load_fixture().await?;
    Ok(cluster)
}

/// A spinner on stderr when it is a terminal (nothing otherwise).
fn spinner(message: &'static str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner().with_message(message);
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(pb)
}

fn text_of(result: &Value) -> String {
    result["structuredContent"]
        .as_object()
        .map(|o| serde_json::to_string_pretty(&Value::Object(o.clone())).unwrap_or_default())
        .unwrap_or_else(|| result.to_string())
}

fn show(title: &str, body: &str, max_lines: usize) {
    println!("\n── {title}");
    let lines: Vec<&str> = body.lines().collect();
    for l in lines.iter().take(max_lines) {
        println!("   {l}");
    }
    if lines.len() > max_lines {
        println!("   … ({} more lines)", lines.len() - max_lines);
    }
}

/// Runs the whole demo; prints to stdout.
pub async fn run() -> Result<(), DemoError> {
    let cluster = start_cluster().await?;
    let result = session(&cluster.url()).await;
    eprintln!("\n• stopping and removing the cluster…");
    let stopped = cluster.stop().await;
    result?;
    stopped?;
    println!(
        "\nDone. Connect your MCP client with `supabase-mcp serve --demo`, or point --db-url at your own database."
    );
    Ok(())
}

async fn session(db_url: &str) -> Result<(), DemoError> {
    let exe: PathBuf = std::env::current_exe().map_err(DemoError::SelfPath)?;
    let data_dir = std::env::temp_dir().join(format!("supabase-mcp-demo-{}", std::process::id()));
    let args = vec![
        "serve".to_owned(),
        "--features".to_owned(),
        "all".to_owned(),
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
    ];
    let env = vec![("SUPABASE_DB_URL".to_owned(), db_url.to_owned())];
    eprintln!("• starting `supabase-mcp serve` and speaking MCP to it over stdio…");
    let mut client = StdioClient::spawn(&exe, &args, &env, true)?;
    let init = client.initialize().await?;
    show(
        "initialize",
        &format!(
            "server {} {} · protocol {}",
            init["serverInfo"]["name"].as_str().unwrap_or("?"),
            init["serverInfo"]["version"].as_str().unwrap_or("?"),
            init["protocolVersion"].as_str().unwrap_or("?")
        ),
        3,
    );
    let tools = client.list_tools().await?;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    show(
        "tools/list",
        &format!("{} tools: {}", names.len(), names.join(", ")),
        5,
    );

    let steps: Vec<(&str, &str, Value)> = vec![
        (
            "list the tables of `public`",
            "list_tables",
            json!({"schemas": ["public"]}),
        ),
        (
            "describe `public.profiles`",
            "describe_table",
            json!({"schema": "public", "table": "profiles"}),
        ),
        (
            "run a query",
            "execute_sql",
            json!({"query": "select p.username, count(c.*) as posts from public.profiles p left join public.posts c on c.author_id = p.id group by 1 order by 2 desc limit 5", "read_only": true}),
        ),
        (
            "a destructive statement asks for confirmation",
            "execute_sql",
            json!({"query": "drop table public.comments"}),
        ),
    ];
    for (title, tool, args) in steps {
        let r = client.call(tool, args).await?;
        if r["isError"] == Value::Bool(true) {
            let _ = client.shutdown().await;
            let _ = std::fs::remove_dir_all(&data_dir);
            return Err(DemoError::Step(tool.to_owned(), text_of(&r)));
        }
        show(&format!("{title} ({tool})"), &text_of(&r), 25);
    }
    let _ = client.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
