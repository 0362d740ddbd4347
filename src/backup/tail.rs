//! Reading a file back while it is still being written.
//!
//! A backup is verified by re-reading the stored file. Doing that after the
//! file is complete costs a second pass over it; instead, a [`TailWriter`]
//! wraps the file being written and announces every write, and a
//! [`TailReader`] on a second handle of the same file reads the bytes as
//! they land, waiting at the current end until more arrive or the writer
//! says it has finished. The reader sees exactly the bytes in the file (the
//! writer only appends), so checking them is checking the stored file.
//!
//! The writer ends the file with [`Tail::finish`]; when it fails or is
//! cancelled it calls [`Tail::abandon`] and the reader reports an error
//! instead of waiting for bytes that will never come.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a reader waits at the end of the file before looking again
/// (a safety net; writes and the end are announced).
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Default)]
struct State {
    /// Bumped after every write that reached the file.
    writes: u64,
    /// `Some(true)`: the file is complete; `Some(false)`: it never will be.
    end: Option<bool>,
}

/// The link between one writer and its readers.
#[derive(Debug, Default)]
pub struct Tail {
    state: Mutex<State>,
    changed: Condvar,
}

impl Tail {
    pub fn new() -> Arc<Tail> {
        Arc::new(Tail::default())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut s = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut s);
        self.changed.notify_all();
    }

    /// Every byte is in the file: readers read to its end and stop.
    pub fn finish(&self) {
        self.update(|s| {
            if s.end.is_none() {
                s.end = Some(true);
            }
        });
    }

    /// The file will not be completed: readers stop with an error.
    pub fn abandon(&self) {
        self.update(|s| {
            if s.end.is_none() {
                s.end = Some(false);
            }
        });
    }

    fn snapshot(&self) -> (u64, Option<bool>) {
        match self.state.lock() {
            Ok(s) => (s.writes, s.end),
            Err(poisoned) => {
                let s = poisoned.into_inner();
                (s.writes, s.end)
            }
        }
    }

    /// Waits until something changes after `seen` writes (or [`POLL`] passes).
    fn wait_past(&self, seen: u64) {
        let guard = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.writes == seen && guard.end.is_none() {
            let _ = self.changed.wait_timeout(guard, POLL);
        }
    }
}

/// A file being written whose every write is announced to a [`Tail`].
pub struct TailWriter {
    file: File,
    tail: Arc<Tail>,
}

impl TailWriter {
    pub fn new(file: File, tail: Arc<Tail>) -> TailWriter {
        TailWriter { file, tail }
    }

    /// The file, e.g. to sync it.
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Write for TailWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.tail.update(|s| s.writes += 1);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Reads a file as a [`TailWriter`] writes it; end of input only once the
/// writer has finished and every byte has been read.
pub struct TailReader {
    file: File,
    tail: Arc<Tail>,
}

impl TailReader {
    pub fn new(file: File, tail: Arc<Tail>) -> TailReader {
        TailReader { file, tail }
    }
}

impl Read for TailReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // Look at the state before reading: a 0-byte read after the
            // writer finished is the true end of the file.
            let (writes, end) = self.tail.snapshot();
            let n = self.file.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match end {
                Some(true) => return Ok(0),
                Some(false) => {
                    return Err(io::Error::other(
                        "the file stopped being written before it was complete",
                    ));
                }
                None => self.tail.wait_past(writes),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (tempfile::TempDir, TailWriter, TailReader, Arc<Tail>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let w = File::create(&path).unwrap();
        let r = File::open(&path).unwrap();
        let tail = Tail::new();
        (
            dir,
            TailWriter::new(w, tail.clone()),
            TailReader::new(r, tail.clone()),
            tail,
        )
    }

    #[test]
    fn reader_sees_every_byte_written_while_it_reads() {
        let (_d, mut w, mut r, tail) = pair();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            got
        });
        for chunk in data.chunks(70_001) {
            w.write_all(chunk).unwrap();
            std::thread::yield_now();
        }
        tail.finish();
        assert_eq!(reader.join().unwrap(), expected);
    }

    #[test]
    fn reader_waits_at_the_end_until_the_writer_finishes() {
        let (_d, mut w, mut r, tail) = pair();
        w.write_all(b"abc").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        let reader = std::thread::spawn(move || {
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).unwrap();
            rest
        });
        // The reader is now waiting: a late write still reaches it.
        std::thread::sleep(Duration::from_millis(50));
        w.write_all(b"def").unwrap();
        tail.finish();
        assert_eq!(reader.join().unwrap(), b"def");
    }

    #[test]
    fn an_abandoned_file_is_an_error_for_the_reader() {
        let (_d, mut w, mut r, tail) = pair();
        w.write_all(b"partial").unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            r.read_to_end(&mut got)
        });
        tail.abandon();
        let err = reader.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("stopped being written"), "{err}");
        // Finishing after abandoning does not turn it into a success.
        tail.finish();
        assert_eq!(tail.snapshot().1, Some(false));
    }
}
