//! Fixtures shared by the backup tests: a blank database beside a test
//! database, and a tiny file system for "disk full".
#![allow(dead_code)]

use std::process::Command;

use supabase_mcp::pg::testdb::TestDb;
use tokio_postgres::NoTls;

/// A blank database (from template0) beside `source`, dropped when this
/// value is dropped.
pub struct Blank {
    pub admin: String,
    pub name: String,
    pub url: String,
}

impl Blank {
    pub async fn new(source: &TestDb) -> Blank {
        let name = format!("{}_r{}", source.name, rand_suffix());
        let admin = source.admin_url().to_owned();
        let (c, conn) = tokio_postgres::connect(&admin, NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
            .await
            .unwrap();
        let url = source.url.replace(&source.name, &name);
        Blank { admin, name, url }
    }
}

impl Drop for Blank {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-qc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn rand_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// A tiny tmpfs (mounting needs root; CI runs as root), unmounted on drop.
pub struct TinyFs(pub tempfile::TempDir);

impl TinyFs {
    pub fn new(size: &str) -> TinyFs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a small tmpfs needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TinyFs(dir)
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).output();
    }
}
