//! Logging: tracing to stderr (stdout belongs to MCP), every line scrubbed of
//! configured secrets before it is written.

use std::io::Write;
use std::sync::OnceLock;

use tracing_subscriber::fmt::MakeWriter;

use crate::secret::Redactor;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Secrets registered here are removed from every log line from now on.
pub fn set_redactor(r: Redactor) {
    let _ = REDACTOR.set(r);
}

/// A stderr writer that scrubs each event before writing it.
pub struct ScrubbingStderr;

pub struct EventWriter {
    buf: Vec<u8>,
}

impl Write for EventWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let out = match REDACTOR.get() {
            Some(r) => r.scrub(&text),
            None => text.into_owned(),
        };
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }
}

impl<'a> MakeWriter<'a> for ScrubbingStderr {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter { buf: Vec::new() }
    }
}

/// Installs the subscriber. `RUST_LOG` wins over `level`; the default is `warn`.
pub fn init(level: Option<&str>) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| level.map(str::to_owned))
        .unwrap_or_else(|| "warn".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(ScrubbingStderr)
        .with_ansi(false)
        .try_init();
}
