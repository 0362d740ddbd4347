//! Backups of a database: the output of `pg_dump` written to a file, and the
//! file streamed back for a restore.
//!
//! A backup is never held in memory as a whole. Bytes flow from `pg_dump`'s
//! stdout through [`compress`] (zstd, gzip or none) and then [`crypt`]
//! (AES-256-GCM in the STREAM construction, optional) into the file; a
//! restore reads the file back through the decryptor and the decompressor.
//! Each stage is a `std::io::Write` or `std::io::Read` adapter whose memory
//! use is bounded by its buffer, whatever the size of the backup.
//!
//! This module owns the backup feature. Its submodules:
//! - [`compress`]: the compression setting, streaming encoders and
//!   decoders, and detection of the compression from a stream's magic bytes;
//! - [`crypt`]: the encrypted file format, key sources (passphrase through
//!   Argon2id, key file) and the streaming encryptor and decryptor;
//! - [`custom_archive`]: the data offsets of a custom-format archive, written
//!   into a restore's spool so that `pg_restore -j` seeks instead of scanning;
//! - [`fingerprint`]: the schema fingerprint stored with a backup and
//!   compared after a restore (which objects differ, by name);
//! - [`manifest`]: the record of the backups stored in a directory (what
//!   each holds and how it was written);
//! - [`readahead`]: running a reader ahead on its own thread, so that a
//!   restore's decoding stages use separate cores;
//! - [`retention`]: which backups to keep;
//! - [`pgtools`]: finding `pg_dump`/`pg_restore`/`psql` new enough for the server;
//! - [`pipeline`]: running them and wiring the streams to files;
//! - [`s3`]: S3-compatible object storage as a backup destination;
//! - [`service`]: backup and restore of a configured instance, end to end;
//! - [`schedule`]: the backups `serve` makes on its own;
//! - [`tail`]: reading a file back while it is written (verification
//!   during the backup instead of a second pass after it);
//! - [`basebackup`]: physical base backups (`pg_basebackup`), the start of
//!   a point-in-time recovery;
//! - [`wal`]: WAL archiving with `pg_receivewal`, whether WAL is reachable,
//!   and the checked point-in-time recovery plan.

pub mod basebackup;
pub mod compress;
pub mod crypt;
pub mod custom_archive;
pub mod fingerprint;
pub mod manifest;
pub mod pgtools;
pub mod pipeline;
pub mod readahead;
pub mod retention;
pub mod s3;
pub mod schedule;
pub mod service;
pub mod tail;
pub mod wal;

/// Test data shared by the submodules' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use rand::{Rng, RngCore, SeedableRng};

    /// Semi-compressible bytes: runs of SQL-like text mixed with random runs.
    pub fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let words: [&[u8]; 6] = [
            b"INSERT INTO public.orders VALUES (",
            b"'2024-01-01 00:00:00+00', ",
            b"NULL, ",
            b"true);\n",
            b"COPY public.items (id, name) FROM stdin;\n",
            b"\\N\t",
        ];
        let mut out = Vec::with_capacity(len + 64);
        while out.len() < len {
            if rng.random_bool(0.3) {
                let mut noise = [0u8; 48];
                rng.fill_bytes(&mut noise);
                out.extend_from_slice(&noise[..rng.random_range(1..48)]);
            } else {
                out.extend_from_slice(words[rng.random_range(0..words.len())]);
                out.extend_from_slice(rng.random::<u32>().to_string().as_bytes());
            }
        }
        out.truncate(len);
        out
    }
}
