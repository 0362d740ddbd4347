//! Helpers the benchmarks share: the median of timings, a numeric
//! command-line option, database URLs and connections.

use std::time::Duration;

use supabase_mcp::pg::{connect, describe_error};
use tokio_postgres::Client;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The URL of `database` on the server of `admin_url`.
pub fn database_url(admin_url: &str, database: &str) -> Result<String, String> {
    let mut url = url::Url::parse(admin_url).map_err(|e| format!("bad admin URL: {e}"))?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

pub async fn client(url: &str) -> Result<Client, String> {
    connect(url, CONNECT_TIMEOUT)
        .await
        .map_err(|e| format!("connecting failed: {}", describe_error(&e)))
}

pub async fn run(client: &Client, what: &str, sql: &str) -> Result<(), String> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| format!("{what} failed: {}", describe_error(&e)))
}
