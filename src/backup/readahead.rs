//! Reading ahead on another thread: [`ReadAhead`] runs a reader (and all
//! the work behind it: file reads, hashing, decryption, decompression) on
//! its own thread and hands its output over in buffers, so that the stages
//! of a restore's decoding run on separate cores instead of one after the
//! other on one.
//!
//! Memory is bounded by `depth` buffers of [`CHUNK`] bytes. Dropping the
//! [`ReadAhead`] stops the thread when it next hands a buffer over; an
//! error of the inner reader reaches the consumer at the point in the
//! stream where it happened.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes per buffer handed over.
pub const CHUNK: usize = 1 << 20;

enum Piece {
    Data(Vec<u8>),
    Failed(io::Error),
}

/// A reader whose inner reader runs ahead on its own thread.
pub struct ReadAhead {
    rx: Option<Receiver<Piece>>,
    /// Buffers that come back to the reading thread for reuse.
    back: Option<SyncSender<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
    /// Kept for its lifetime only: the thread ends on its own.
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts reading `inner` ahead, up to `depth` buffers.
    pub fn new<R: Read + Send + 'static>(mut inner: R, depth: usize) -> ReadAhead {
        let depth = depth.max(1);
        let (tx, rx) = sync_channel::<Piece>(depth);
        let (back_tx, back_rx) = sync_channel::<Vec<u8>>(depth + 2);
        let thread = std::thread::spawn(move || {
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let mut filled = 0;
                // Fill the buffer (short reads are common from decoders).
                let end = loop {
                    match inner.read(&mut buf[filled..]) {
                        Ok(0) => break true,
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break false;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            if filled > 0 {
                                buf.truncate(filled);
                                let _ = tx.send(Piece::Data(buf));
                            }
                            let _ = tx.send(Piece::Failed(e));
                            return;
                        }
                    }
                };
                buf.truncate(filled);
                if filled > 0 && tx.send(Piece::Data(buf)).is_err() {
                    return; // the consumer is gone
                }
                if end {
                    let _ = tx.send(Piece::Data(Vec::new()));
                    return;
                }
            }
        });
        ReadAhead {
            rx: Some(rx),
            back: Some(back_tx),
            current: Vec::new(),
            at: 0,
            done: false,
            thread: Some(thread),
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            let piece = match &self.rx {
                Some(rx) => rx.recv(),
                None => return Ok(0),
            };
            match piece {
                Ok(Piece::Data(d)) if d.is_empty() => {
                    self.done = true;
                    return Ok(0);
                }
                Ok(Piece::Data(d)) => {
                    let old = std::mem::replace(&mut self.current, d);
                    if let Some(b) = &self.back {
                        let _ = b.try_send(old);
                    }
                    self.at = 0;
                }
                Ok(Piece::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other(
                        "the read-ahead thread stopped without finishing",
                    ));
                }
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channels makes the thread stop at its next buffer; it
        // is not waited for, since its reader may be slow to return.
        self.rx = None;
        self.back = None;
        self.thread = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `data` a few bytes at a time, then fails if told to.
    struct Dribble {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Dribble {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail_at_end {
                    Err(io::Error::new(io::ErrorKind::InvalidData, "tampered"))
                } else {
                    Ok(0)
                };
            }
            let n = out.len().min(7919).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn the_bytes_come_through_unchanged_and_in_order() {
        let data = crate::backup::test_support::sample(3 * CHUNK + 12_345, 5);
        let mut r = ReadAhead::new(
            Dribble {
                data: data.clone(),
                at: 0,
                fail_at_end: false,
            },
            2,
        );
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // At the end it stays at the end.
        assert_eq!(r.read(&mut [0u8; 16]).unwrap(), 0);
    }

    #[test]
    fn an_error_arrives_after_the_bytes_before_it() {
        let data = crate::backup::test_support::sample(CHUNK + 99, 6);
        let mut r = ReadAhead::new(
            Dribble {
                data: data.clone(),
                at: 0,
                fail_at_end: true,
            },
            3,
        );
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(out, data);
    }

    /// Counts how much of its data was read.
    struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Read for Counting {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.0
                .fetch_add(out.len(), std::sync::atomic::Ordering::SeqCst);
            out.fill(1);
            Ok(out.len())
        }
    }

    #[test]
    fn dropping_it_early_stops_the_thread() {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut r = ReadAhead::new(Counting(count.clone()), 1);
        let mut first = [0u8; 10];
        r.read_exact(&mut first).unwrap();
        drop(r);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let after = count.load(std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(200));
        // An endless reader: reading stopped, bounded by the depth.
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), after);
        assert!(after <= 4 * CHUNK, "{after}");
    }
}
