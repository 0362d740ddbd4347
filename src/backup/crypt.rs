//! Streaming encryption of backups: AES-256-GCM in the STREAM construction
//! (`aead-stream`'s `StreamBE32`: a 7-byte random nonce prefix, a 32-bit
//! chunk counter and a last-chunk flag in each nonce), so that every chunk
//! is authenticated and a changed, reordered, dropped or missing last chunk
//! is detected. This module owns the encrypted file format, the key sources
//! ([`KeySource`]: a passphrase stretched with Argon2id, or a key file), the
//! streaming [`EncryptWriter`] and [`DecryptReader`], and their errors.
//!
//! # File format (version 1; integers big-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `SBMCPENC` |
//! | 8 | 1 | format version, 1 |
//! | 9 | 1 | cipher: 1 = AES-256-GCM, STREAM BE32 |
//! | 10 | 1 | key derivation: 0 = key file, 1 = Argon2id (v1.3) |
//! | 11 | 4 | Argon2 memory in KiB (0 for a key file) |
//! | 15 | 4 | Argon2 iterations (0 for a key file) |
//! | 19 | 4 | Argon2 parallelism (0 for a key file) |
//! | 23 | 16 | Argon2 salt (zero for a key file) |
//! | 39 | 7 | STREAM nonce prefix (random) |
//! | 46 | 4 | chunk size: plaintext bytes per chunk |
//!
//! The 50 header bytes are the associated data of every chunk, so a changed
//! header fails authentication. Chunks follow, each a 4-byte length and that
//! many bytes of ciphertext (plaintext and a 16-byte tag). Every chunk but the
//! last holds exactly `chunk size` plaintext bytes; the last holds 0 to
//! `chunk size` bytes and is sealed with the STREAM last-chunk flag. An empty
//! input is one empty last chunk.
//!
//! Key material (passphrases, keys read from files, derived keys and the
//! cipher's key schedule) is zeroized on drop and never shown by `Debug` or in
//! an error.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use aead_stream::{EncryptorBE32, NewStream, StreamBE32, StreamPrimitive};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use rand::TryRngCore as _;
use zeroize::Zeroizing;

/// The first bytes of every encrypted backup.
pub const MAGIC: [u8; 8] = *b"SBMCPENC";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the header, which is also every chunk's associated data.
pub const HEADER_LEN: usize = 50;
/// Length of the authentication tag at the end of every chunk.
pub const TAG_LEN: usize = 16;
/// Length of the length prefix before every chunk.
pub const CHUNK_LEN_PREFIX: usize = 4;
/// Plaintext bytes per chunk unless set otherwise.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;
/// The smallest chunk size accepted.
pub const MIN_CHUNK_SIZE: u32 = 1 << 10;
/// The largest chunk size accepted (bounds the memory a reader allocates).
pub const MAX_CHUNK_SIZE: u32 = 64 << 20;

const CIPHER_AES256GCM_STREAM_BE32: u8 = 1;
const KDF_KEY_FILE: u8 = 0;
const KDF_ARGON2ID: u8 = 1;
const KEY_LEN: usize = 32;
const SALT_LEN: usize = 16;
const NONCE_PREFIX_LEN: usize = 7;
const MAX_KEY_FILE_LEN: u64 = 4096;

const OFF_VERSION: usize = 8;
const OFF_CIPHER: usize = 9;
const OFF_KDF: usize = 10;
const OFF_MEMORY: usize = 11;
const OFF_ITERATIONS: usize = 15;
const OFF_PARALLELISM: usize = 19;
const OFF_SALT: usize = 23;
const OFF_NONCE: usize = OFF_SALT + SALT_LEN;
const OFF_CHUNK_SIZE: usize = OFF_NONCE + NONCE_PREFIX_LEN;
const _: () = assert!(OFF_CHUNK_SIZE + 4 == HEADER_LEN);

type Stream = StreamBE32<Aes256Gcm>;

/// Everything that can go wrong in this module. No variant holds key
/// material.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("not an encrypted backup: the file does not start with the expected magic bytes")]
    NotEncrypted,
    #[error(
        "unsupported encrypted backup format version {found}: this build reads version {FORMAT_VERSION}"
    )]
    UnsupportedVersion { found: u8 },
    #[error("invalid encrypted backup header: {0}")]
    InvalidHeader(String),
    #[error("this backup was encrypted with {expected}, but {given} was given")]
    KeyKindMismatch {
        expected: &'static str,
        given: &'static str,
    },
    #[error("wrong passphrase or key, or the file was altered")]
    WrongKeyOrAltered,
    #[error("the encrypted backup is corrupted at chunk {chunk}: {detail}")]
    Corrupted { chunk: u64, detail: &'static str },
    #[error("the encrypted backup is truncated: {0}")]
    Truncated(&'static str),
    #[error("invalid key file: {0}")]
    InvalidKey(String),
    #[error("could not read key file {}: {source}", path.display())]
    KeyFileRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("invalid Argon2 parameters: {0}")]
    InvalidKdfParams(String),
    #[error("invalid chunk size {size}: choose {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} bytes")]
    InvalidChunkSize { size: u32 },
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),
    #[error("the stream is too long for one encrypted backup (the chunk counter is exhausted)")]
    TooLong,
    #[error("an earlier error ended this encryption stream")]
    Poisoned,
    #[error("{0}")]
    Io(#[source] io::Error),
}

impl From<CryptError> for io::Error {
    /// Wraps the error for `Read`/`Write`; [`CryptError::from`] gets it back.
    fn from(e: CryptError) -> Self {
        match e {
            CryptError::Io(inner) => inner,
            CryptError::Truncated(_) => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

impl From<io::Error> for CryptError {
    /// Unwraps a `CryptError` that travelled through `Read`/`Write` (also
    /// through a decompressor reading a [`DecryptReader`]); any other I/O error
    /// becomes [`CryptError::Io`].
    fn from(e: io::Error) -> Self {
        if !e.get_ref().is_some_and(|inner| inner.is::<CryptError>()) {
            return Self::Io(e);
        }
        let kind = e.kind();
        match e.into_inner().map(|inner| inner.downcast::<CryptError>()) {
            Some(Ok(crypt)) => *crypt,
            Some(Err(other)) => Self::Io(io::Error::new(kind, other)),
            None => Self::Io(kind.into()),
        }
    }
}

/// True when `prefix` starts like an encrypted backup.
pub fn is_encrypted(prefix: &[u8]) -> bool {
    prefix.starts_with(&MAGIC)
}

/// Argon2id cost parameters, stored in the header of every backup encrypted
/// with a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Argon2Params {
    /// 64 MiB, 3 passes, 1 lane: the default.
    pub const RECOMMENDED: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// Almost free to compute: for tests only, never for real backups.
    pub const INSECURE_FAST: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    /// The most memory accepted, in KiB (4 GiB); also the limit a reader
    /// applies to a header, so that a crafted file cannot exhaust memory.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    pub const MAX_ITERATIONS: u32 = 64;
    pub const MAX_PARALLELISM: u32 = 64;

    pub fn validate(&self) -> Result<(), CryptError> {
        let bad = |msg: String| Err(CryptError::InvalidKdfParams(msg));
        if self.parallelism == 0 || self.parallelism > Self::MAX_PARALLELISM {
            return bad(format!(
                "parallelism {} is out of range 1 to {}",
                self.parallelism,
                Self::MAX_PARALLELISM
            ));
        }
        let min_memory = 8 * self.parallelism;
        if self.memory_kib < min_memory || self.memory_kib > Self::MAX_MEMORY_KIB {
            return bad(format!(
                "memory {} KiB is out of range {min_memory} to {} KiB",
                self.memory_kib,
                Self::MAX_MEMORY_KIB
            ));
        }
        if self.iterations == 0 || self.iterations > Self::MAX_ITERATIONS {
            return bad(format!(
                "iterations {} is out of range 1 to {}",
                self.iterations,
                Self::MAX_ITERATIONS
            ));
        }
        Ok(())
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// Settings for writing an encrypted backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Plaintext bytes per chunk ([`MIN_CHUNK_SIZE`]..=[`MAX_CHUNK_SIZE`]).
    pub chunk_size: u32,
    /// Cost of stretching a passphrase (unused with a key file).
    pub argon2: Argon2Params,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            argon2: Argon2Params::RECOMMENDED,
        }
    }
}

fn check_chunk_size(size: u32) -> Result<(), CryptError> {
    if (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(CryptError::InvalidChunkSize { size })
    }
}

/// Where the key comes from. Zeroized on drop; `Debug` shows only the kind.
pub struct KeySource(Source);

enum Source {
    Passphrase(Zeroizing<Vec<u8>>),
    Key(Zeroizing<[u8; KEY_LEN]>),
}

impl KeySource {
    /// A passphrase, stretched with Argon2id and a random salt per backup.
    pub fn passphrase(passphrase: &str) -> Result<Self, CryptError> {
        if passphrase.is_empty() {
            return Err(CryptError::EmptyPassphrase);
        }
        Ok(Self(Source::Passphrase(Zeroizing::new(
            passphrase.as_bytes().to_vec(),
        ))))
    }

    /// A key read from the file at `path`: see [`KeySource::key_bytes`].
    pub fn key_file(path: &Path) -> Result<Self, CryptError> {
        let read_err = |source| CryptError::KeyFileRead {
            path: path.to_path_buf(),
            source,
        };
        let len = fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_KEY_FILE_LEN {
            return Err(CryptError::InvalidKey(format!(
                "{} is {len} bytes, far more than a key: {}",
                path.display(),
                KEY_FILE_FORMS
            )));
        }
        let content = Zeroizing::new(fs::read(path).map_err(read_err)?);
        Self::key_bytes(&content)
    }

    /// A key from the contents of a key file: exactly 32 raw bytes, or 64
    /// hexadecimal characters, or the base64 encoding of 32 bytes (text forms
    /// may be surrounded by whitespace, such as a final newline).
    pub fn key_bytes(content: &[u8]) -> Result<Self, CryptError> {
        parse_key(content).map(|key| Self(Source::Key(key)))
    }

    /// A fresh random key, e.g. to write a new key file.
    pub fn generate_key() -> Result<Self, CryptError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(&mut key[..])?;
        Ok(Self(Source::Key(key)))
    }

    /// The key of a [`KeySource::generate_key`] or key-file source as 64
    /// hexadecimal characters, for writing a key file; `None` for a
    /// passphrase. The caller must not log it.
    pub fn key_hex(&self) -> Option<Zeroizing<String>> {
        match &self.0 {
            Source::Key(key) => Some(Zeroizing::new(hex::encode(&key[..]))),
            Source::Passphrase(_) => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self.0 {
            Source::Passphrase(_) => "a passphrase",
            Source::Key(_) => "a key file",
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Passphrase(_) => f.write_str("KeySource::Passphrase([redacted])"),
            Source::Key(_) => f.write_str("KeySource::Key([redacted])"),
        }
    }
}

const KEY_FILE_FORMS: &str = "a key file must hold exactly 32 raw bytes, 64 hexadecimal characters, \
     or the base64 encoding of 32 bytes";

fn parse_key(content: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if content.len() == KEY_LEN {
        key.copy_from_slice(content);
        return Ok(key);
    }
    let invalid = |why: String| Err(CryptError::InvalidKey(format!("{why}; {KEY_FILE_FORMS}")));
    if content.len() as u64 > MAX_KEY_FILE_LEN {
        return invalid(format!("it holds {} bytes", content.len()));
    }
    let text = content.trim_ascii();
    if text.is_empty() {
        return invalid("it is empty".to_owned());
    }
    let all_hex = text.iter().all(u8::is_ascii_hexdigit);
    if all_hex && text.len() == 2 * KEY_LEN {
        return match hex::decode_to_slice(text, &mut key[..]) {
            Ok(()) => Ok(key),
            Err(_) => invalid("its hexadecimal text does not decode".to_owned()),
        };
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    match engine.decode(text).map(Zeroizing::new) {
        Ok(decoded) if decoded.len() == KEY_LEN => {
            key.copy_from_slice(&decoded);
            Ok(key)
        }
        Ok(decoded) if !all_hex => invalid(format!(
            "its base64 text decodes to {} bytes, not 32",
            decoded.len()
        )),
        _ if all_hex => invalid(format!(
            "it holds {} hexadecimal characters, not 64",
            text.len()
        )),
        _ => invalid(format!(
            "its {} bytes are neither raw key bytes nor hexadecimal nor base64 text",
            content.len()
        )),
    }
}

fn fill_random(buf: &mut [u8]) -> Result<(), CryptError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| CryptError::Random(e.to_string()))
}

/// How the key of a backup was made, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// A 32-byte key from a key file.
    KeyFile,
    /// A passphrase stretched with Argon2id v1.3.
    Argon2id(Argon2Params),
}

/// The parsed header of an encrypted backup. Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    kdf: Kdf,
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    chunk_size: u32,
}

impl Header {
    pub fn kdf(&self) -> Kdf {
        self.kdf
    }

    /// Plaintext bytes per chunk.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// True when the backup needs a passphrase (rather than a key file).
    pub fn needs_passphrase(&self) -> bool {
        matches!(self.kdf, Kdf::Argon2id(_))
    }

    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..OFF_VERSION].copy_from_slice(&MAGIC);
        out[OFF_VERSION] = FORMAT_VERSION;
        out[OFF_CIPHER] = CIPHER_AES256GCM_STREAM_BE32;
        let params = match self.kdf {
            Kdf::KeyFile => {
                out[OFF_KDF] = KDF_KEY_FILE;
                Argon2Params {
                    memory_kib: 0,
                    iterations: 0,
                    parallelism: 0,
                }
            }
            Kdf::Argon2id(params) => {
                out[OFF_KDF] = KDF_ARGON2ID;
                params
            }
        };
        out[OFF_MEMORY..OFF_ITERATIONS].copy_from_slice(&params.memory_kib.to_be_bytes());
        out[OFF_ITERATIONS..OFF_PARALLELISM].copy_from_slice(&params.iterations.to_be_bytes());
        out[OFF_PARALLELISM..OFF_SALT].copy_from_slice(&params.parallelism.to_be_bytes());
        out[OFF_SALT..OFF_NONCE].copy_from_slice(&self.salt);
        out[OFF_NONCE..OFF_CHUNK_SIZE].copy_from_slice(&self.nonce_prefix);
        out[OFF_CHUNK_SIZE..].copy_from_slice(&self.chunk_size.to_be_bytes());
        out
    }

    /// Parses a header whose magic and version were already checked.
    fn parse(raw: &[u8; HEADER_LEN]) -> Result<Self, CryptError> {
        let invalid = |msg: String| Err(CryptError::InvalidHeader(msg));
        if raw[OFF_CIPHER] != CIPHER_AES256GCM_STREAM_BE32 {
            return invalid(format!("unknown cipher {}", raw[OFF_CIPHER]));
        }
        let be32 = |at: usize| u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
        let params = Argon2Params {
            memory_kib: be32(OFF_MEMORY),
            iterations: be32(OFF_ITERATIONS),
            parallelism: be32(OFF_PARALLELISM),
        };
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&raw[OFF_SALT..OFF_NONCE]);
        let kdf = match raw[OFF_KDF] {
            KDF_KEY_FILE => {
                if params.memory_kib != 0
                    || params.iterations != 0
                    || params.parallelism != 0
                    || salt != [0u8; SALT_LEN]
                {
                    return invalid("key-file backup with key derivation parameters".to_owned());
                }
                Kdf::KeyFile
            }
            KDF_ARGON2ID => {
                if let Err(e) = params.validate() {
                    return invalid(e.to_string());
                }
                Kdf::Argon2id(params)
            }
            other => return invalid(format!("unknown key derivation {other}")),
        };
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&raw[OFF_NONCE..OFF_CHUNK_SIZE]);
        let chunk_size = be32(OFF_CHUNK_SIZE);
        if let Err(e) = check_chunk_size(chunk_size) {
            return invalid(e.to_string());
        }
        Ok(Self {
            kdf,
            salt,
            nonce_prefix,
            chunk_size,
        })
    }
}

/// Reads and checks the header at the start of `reader`, leaving the reader
/// at the first chunk. Returns the raw bytes too: they are the chunks'
/// associated data.
fn read_header_raw<R: Read>(reader: &mut R) -> Result<(Header, [u8; HEADER_LEN]), CryptError> {
    let mut raw = [0u8; HEADER_LEN];
    let got = read_full(reader, &mut raw[..MAGIC.len()])?;
    if raw[..MAGIC.len()] != MAGIC {
        return Err(
            if got > 0 && got < MAGIC.len() && raw[..got] == MAGIC[..got] {
                CryptError::Truncated("the file ends inside the header")
            } else {
                CryptError::NotEncrypted
            },
        );
    }
    if read_full(reader, &mut raw[OFF_VERSION..=OFF_VERSION])? == 0 {
        return Err(CryptError::Truncated("the file ends inside the header"));
    }
    if raw[OFF_VERSION] != FORMAT_VERSION {
        return Err(CryptError::UnsupportedVersion {
            found: raw[OFF_VERSION],
        });
    }
    if read_full(reader, &mut raw[OFF_CIPHER..])? < HEADER_LEN - OFF_CIPHER {
        return Err(CryptError::Truncated("the file ends inside the header"));
    }
    Ok((Header::parse(&raw)?, raw))
}

/// Reads and checks the header of an encrypted backup, e.g. to learn whether
/// it needs a passphrase or a key file before asking for one.
pub fn read_header<R: Read>(reader: &mut R) -> Result<Header, CryptError> {
    read_header_raw(reader).map(|(header, _)| header)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn derive_key(
    passphrase: &[u8],
    params: Argon2Params,
    salt: &[u8; SALT_LEN],
) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptError> {
    params.validate()?;
    let argon_params = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|e| CryptError::InvalidKdfParams(e.to_string()))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase, salt, &mut key[..])
        .map_err(|e| CryptError::Kdf(e.to_string()))?;
    Ok(key)
}

/// The STREAM primitive for `header` with the key from `source`.
fn stream_for(header: &Header, source: &KeySource) -> Result<Stream, CryptError> {
    let key = match (&source.0, header.kdf) {
        (Source::Key(key), Kdf::KeyFile) => Zeroizing::new(**key),
        (Source::Passphrase(pass), Kdf::Argon2id(params)) => {
            derive_key(pass, params, &header.salt)?
        }
        (_, kdf) => {
            return Err(CryptError::KeyKindMismatch {
                expected: match kdf {
                    Kdf::KeyFile => "a key file",
                    Kdf::Argon2id(_) => "a passphrase",
                },
                given: source.kind(),
            });
        }
    };
    let aead = Aes256Gcm::new((&*key).into());
    Ok(Stream::from_aead(aead, (&header.nonce_prefix).into()))
}

/// Encrypts everything written to it into `W` as chunks of the format above.
///
/// The header is written by the constructor. Writes are buffered into
/// chunks; [`EncryptWriter::finish`] seals the last chunk and returns `W`.
/// Dropped without `finish`, the output has no last chunk and its decryption
/// reports it truncated. `flush` flushes `W` but cannot emit a partial chunk.
pub struct EncryptWriter<W: Write> {
    inner: W,
    encryptor: EncryptorBE32<Aes256Gcm>,
    header: Header,
    aad: [u8; HEADER_LEN],
    /// Plaintext of the chunk being filled; sealed in place (the tag is
    /// appended), written, and cleared. Capacity `chunk_size + TAG_LEN`.
    buf: Vec<u8>,
    chunk_size: usize,
    chunks_written: u64,
    failed: bool,
}

impl<W: Write> EncryptWriter<W> {
    /// An encryptor with the default options (1 MiB chunks, Argon2id at
    /// 64 MiB / 3 passes for a passphrase).
    pub fn new(inner: W, key: &KeySource) -> Result<Self, CryptError> {
        Self::with_options(inner, key, &EncryptOptions::default())
    }

    pub fn with_options(
        mut inner: W,
        key: &KeySource,
        options: &EncryptOptions,
    ) -> Result<Self, CryptError> {
        check_chunk_size(options.chunk_size)?;
        let mut salt = [0u8; SALT_LEN];
        let kdf = match key.0 {
            Source::Key(_) => Kdf::KeyFile,
            Source::Passphrase(_) => {
                options.argon2.validate()?;
                fill_random(&mut salt)?;
                Kdf::Argon2id(options.argon2)
            }
        };
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        fill_random(&mut nonce_prefix)?;
        let header = Header {
            kdf,
            salt,
            nonce_prefix,
            chunk_size: options.chunk_size,
        };
        let stream = stream_for(&header, key)?;
        let aad = header.encode();
        inner.write_all(&aad)?;
        let chunk_size = options.chunk_size as usize;
        Ok(Self {
            inner,
            encryptor: EncryptorBE32::from_stream_primitive(stream),
            header,
            aad,
            buf: Vec::with_capacity(chunk_size + TAG_LEN),
            chunk_size,
            chunks_written: 0,
            failed: false,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Seals the last chunk (possibly empty), flushes and returns the inner
    /// writer.
    pub fn finish(self) -> Result<W, CryptError> {
        let Self {
            mut inner,
            encryptor,
            aad,
            mut buf,
            failed,
            ..
        } = self;
        if failed {
            return Err(CryptError::Poisoned);
        }
        encryptor
            .encrypt_last_in_place(&aad, &mut buf)
            .map_err(|_| CryptError::TooLong)?;
        write_chunk(&mut inner, &buf)?;
        inner.flush()?;
        Ok(inner)
    }

    /// Seals the full buffer as a chunk that is not the last.
    fn seal_next(&mut self) -> Result<(), CryptError> {
        self.encryptor
            .encrypt_next_in_place(&self.aad, &mut self.buf)
            .map_err(|_| CryptError::TooLong)?;
        write_chunk(&mut self.inner, &self.buf)?;
        self.buf.clear();
        self.chunks_written += 1;
        Ok(())
    }
}

fn write_chunk<W: Write>(inner: &mut W, sealed: &[u8]) -> Result<(), CryptError> {
    let len = u32::try_from(sealed.len()).map_err(|_| CryptError::TooLong)?;
    inner.write_all(&len.to_be_bytes())?;
    inner.write_all(sealed)?;
    Ok(())
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(CryptError::Poisoned.into());
        }
        if data.is_empty() {
            return Ok(0);
        }
        // A full chunk is sealed only once more data shows it is not the last.
        if self.buf.len() == self.chunk_size
            && let Err(e) = self.seal_next()
        {
            self.failed = true;
            return Err(e.into());
        }
        let n = data.len().min(self.chunk_size - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> fmt::Debug for EncryptWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptWriter")
            .field("header", &self.header)
            .field("chunks_written", &self.chunks_written)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    /// More chunks follow; `next_len` holds the length of the next one.
    Reading,
    /// The last chunk was authenticated; what is left in the buffer is all.
    Finished,
    /// An error was returned; nothing more is read.
    Failed,
}

/// Decrypts an encrypted backup read from `R`, returning only authenticated
/// plaintext.
///
/// The constructor reads the header and authenticates the first chunk, so a
/// wrong passphrase or key fails there. Later failures come from `read` as
/// `io::Error`s that [`CryptError::from`] turns back into the
/// [`CryptError`]: corrupted, truncated (including a missing last chunk,
/// reported at the end of the input) or trailing data.
pub struct DecryptReader<R: Read> {
    inner: R,
    stream: Stream,
    header: Header,
    aad: [u8; HEADER_LEN],
    /// The current chunk: ciphertext while it is loaded, then its plaintext.
    buf: Vec<u8>,
    /// Read position in the plaintext of `buf`.
    pos: usize,
    next_len: Option<u32>,
    /// STREAM position of the next chunk to load.
    position: u32,
    /// Index of the next chunk to load (for errors).
    chunk: u64,
    chunk_size: usize,
    state: ReadState,
}

impl<R: Read> DecryptReader<R> {
    pub fn new(mut inner: R, key: &KeySource) -> Result<Self, CryptError> {
        let (header, aad) = read_header_raw(&mut inner)?;
        Self::after_header(inner, header, aad, key)
    }

    fn after_header(
        mut inner: R,
        header: Header,
        aad: [u8; HEADER_LEN],
        key: &KeySource,
    ) -> Result<Self, CryptError> {
        let stream = stream_for(&header, key)?;
        let chunk_size = header.chunk_size as usize;
        let next_len = match read_len(&mut inner)? {
            Some(len) => len,
            None => return Err(CryptError::Truncated("no chunk follows the header")),
        };
        let mut reader = Self {
            inner,
            stream,
            header,
            aad,
            buf: Vec::with_capacity(chunk_size + TAG_LEN),
            pos: 0,
            next_len: Some(next_len),
            position: 0,
            chunk: 0,
            chunk_size,
            state: ReadState::Reading,
        };
        reader.load_chunk()?;
        Ok(reader)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads, authenticates and decrypts the next chunk into `buf`.
    fn load_chunk(&mut self) -> Result<(), CryptError> {
        let Some(len) = self.next_len.take() else {
            return Err(CryptError::Truncated("the last chunk is missing"));
        };
        let len = len as usize;
        let full = self.chunk_size + TAG_LEN;
        if !(TAG_LEN..=full).contains(&len) {
            return Err(CryptError::Corrupted {
                chunk: self.chunk,
                detail: "impossible chunk length",
            });
        }
        self.buf.resize(len, 0);
        self.pos = 0;
        if read_full(&mut self.inner, &mut self.buf)? < len {
            return Err(CryptError::Truncated("the file ends inside a chunk"));
        }
        let last = if len < full {
            // Only the last chunk may be short: nothing may follow it.
            let mut probe = [0u8; 1];
            if read_full(&mut self.inner, &mut probe)? != 0 {
                return Err(CryptError::Corrupted {
                    chunk: self.chunk,
                    detail: "data follows a short chunk, which must be the last",
                });
            }
            true
        } else {
            match read_len(&mut self.inner)? {
                Some(next) => {
                    self.next_len = Some(next);
                    false
                }
                None => true,
            }
        };
        if !last && self.position == u32::MAX {
            return Err(CryptError::TooLong);
        }
        let opened = self
            .stream
            .decrypt_in_place(self.position, last, &self.aad, &mut self.buf);
        if opened.is_err() {
            // A full chunk at the end that opens as a middle chunk means the
            // chunks after it were cut off. (A failed open leaves the buffer
            // as it was, so it can be tried again.)
            if last
                && len == full
                && self
                    .stream
                    .decrypt_in_place(self.position, false, &self.aad, &mut self.buf)
                    .is_ok()
            {
                self.buf.clear();
                return Err(CryptError::Truncated("the last chunk is missing"));
            }
            return Err(if self.chunk == 0 {
                CryptError::WrongKeyOrAltered
            } else {
                CryptError::Corrupted {
                    chunk: self.chunk,
                    detail: "it fails authentication (changed, moved or from another file)",
                }
            });
        }
        self.chunk += 1;
        if last {
            self.state = ReadState::Finished;
        } else {
            self.position += 1;
        }
        Ok(())
    }
}

/// Reads a chunk length; `None` at a clean end of input.
fn read_len<R: Read>(reader: &mut R) -> Result<Option<u32>, CryptError> {
    let mut len = [0u8; CHUNK_LEN_PREFIX];
    match read_full(reader, &mut len)? {
        0 => Ok(None),
        CHUNK_LEN_PREFIX => Ok(Some(u32::from_be_bytes(len))),
        _ => Err(CryptError::Truncated("the file ends inside a chunk length")),
    }
}

impl<R: Read> BufRead for DecryptReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.buf.len() {
            match self.state {
                ReadState::Finished => return Ok(&[]),
                ReadState::Failed => return Err(CryptError::Poisoned.into()),
                ReadState::Reading => {
                    if let Err(e) = self.load_chunk() {
                        self.state = ReadState::Failed;
                        self.buf.clear();
                        self.pos = 0;
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> fmt::Debug for DecryptReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptReader")
            .field("header", &self.header)
            .field("chunks_read", &self.chunk)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::test_support::sample;

    const SMALL: u32 = 4096;

    fn pass() -> KeySource {
        KeySource::passphrase("correct horse battery staple").unwrap()
    }

    fn opts(chunk_size: u32) -> EncryptOptions {
        EncryptOptions {
            chunk_size,
            argon2: Argon2Params::INSECURE_FAST,
        }
    }

    fn raw_key(byte: u8) -> KeySource {
        KeySource::key_bytes(&[byte; 32]).unwrap()
    }

    fn encrypt(key: &KeySource, chunk_size: u32, data: &[u8]) -> Vec<u8> {
        let mut w = EncryptWriter::with_options(Vec::new(), key, &opts(chunk_size)).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn decrypt(key: &KeySource, file: &[u8]) -> Result<Vec<u8>, CryptError> {
        let mut r = DecryptReader::new(file, key)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Expected file length for `n` plaintext bytes.
    fn file_len(n: usize, chunk: usize) -> usize {
        let chunks = if n == 0 { 1 } else { n.div_ceil(chunk) };
        HEADER_LEN + chunks * (CHUNK_LEN_PREFIX + TAG_LEN) + n
    }

    /// Byte ranges of each framed chunk (length prefix included).
    fn chunk_ranges(file: &[u8]) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut at = HEADER_LEN;
        while at < file.len() {
            let len = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
            out.push(at..at + 4 + len);
            at += 4 + len;
        }
        assert_eq!(at, file.len());
        out
    }

    #[test]
    fn round_trip_passphrase_multi_chunk() {
        let data = sample(5_000_000, 11);
        let file = encrypt(&pass(), DEFAULT_CHUNK_SIZE, &data);
        assert_eq!(
            file.len(),
            file_len(data.len(), DEFAULT_CHUNK_SIZE as usize)
        );
        assert_eq!(chunk_ranges(&file).len(), 5);
        assert!(decrypt(&pass(), &file).unwrap() == data);
        // The plaintext does not show through.
        assert!(
            !file
                .windows(34)
                .any(|w| w == b"INSERT INTO public.orders VALUES (")
        );
    }

    #[test]
    fn round_trip_key_file_multi_chunk() {
        let data = sample(3_500_000, 12);
        let key = KeySource::generate_key().unwrap();
        let file = encrypt(&key, DEFAULT_CHUNK_SIZE, &data);
        assert!(decrypt(&key, &file).unwrap() == data);
        assert_eq!(read_header(&mut &file[..]).unwrap().kdf(), Kdf::KeyFile);
    }

    #[test]
    fn round_trip_empty_input() {
        for key in [pass(), raw_key(7)] {
            let file = encrypt(&key, DEFAULT_CHUNK_SIZE, &[]);
            assert_eq!(file.len(), HEADER_LEN + CHUNK_LEN_PREFIX + TAG_LEN);
            assert_eq!(decrypt(&key, &file).unwrap(), b"");
        }
    }

    #[test]
    fn round_trip_at_chunk_boundaries() {
        let key = raw_key(1);
        let c = SMALL as usize;
        for n in [1, c - 1, c, c + 1, 2 * c - 1, 2 * c, 2 * c + 1, 5 * c] {
            let data = sample(n, n as u64);
            let file = encrypt(&key, SMALL, &data);
            assert_eq!(file.len(), file_len(n, c), "n={n}");
            assert_eq!(decrypt(&key, &file).unwrap(), data, "n={n}");
        }
    }

    #[test]
    fn tiny_writes_and_reads() {
        let key = raw_key(2);
        let data = sample(3 * SMALL as usize + 17, 13);
        let mut w = EncryptWriter::with_options(Vec::new(), &key, &opts(SMALL)).unwrap();
        for b in &data {
            assert_eq!(w.write(std::slice::from_ref(b)).unwrap(), 1);
        }
        w.flush().unwrap();
        let file = w.finish().unwrap();
        // Same framing as one big write: full chunks, then the short last one.
        assert_eq!(file.len(), file_len(data.len(), SMALL as usize));
        assert_eq!(chunk_ranges(&file).len(), 4);
        let mut r = DecryptReader::new(&file[..], &key).unwrap();
        let mut out = Vec::new();
        let mut one = [0u8; 1];
        loop {
            match r.read(&mut one).unwrap() {
                0 => break,
                _ => out.push(one[0]),
            }
        }
        assert_eq!(out, data);
    }

    #[test]
    fn wrong_passphrase_or_key() {
        let data = sample(100_000, 14);
        let file = encrypt(&pass(), SMALL, &data);
        let wrong = KeySource::passphrase("correct horse battery stapler").unwrap();
        let err = DecryptReader::new(&file[..], &wrong).unwrap_err();
        assert!(matches!(err, CryptError::WrongKeyOrAltered), "{err}");
        assert_eq!(
            err.to_string(),
            "wrong passphrase or key, or the file was altered"
        );

        let file = encrypt(&raw_key(3), SMALL, &data);
        let err = DecryptReader::new(&file[..], &raw_key(4)).unwrap_err();
        assert!(matches!(err, CryptError::WrongKeyOrAltered), "{err}");
    }

    #[test]
    fn key_kind_mismatch_is_explained() {
        let file = encrypt(&pass(), SMALL, b"x");
        let err = DecryptReader::new(&file[..], &raw_key(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this backup was encrypted with a passphrase, but a key file was given"
        );
        let file = encrypt(&raw_key(1), SMALL, b"x");
        let err = DecryptReader::new(&file[..], &pass()).unwrap_err();
        assert!(matches!(
            err,
            CryptError::KeyKindMismatch {
                expected: "a key file",
                given: "a passphrase"
            }
        ));
    }

    #[test]
    fn flipped_byte_in_the_middle_is_corruption() {
        let data = sample(5 * SMALL as usize, 15);
        let file = encrypt(&pass(), SMALL, &data);
        let mut bad = file.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x01;
        let err = decrypt(&pass(), &bad).unwrap_err();
        assert!(
            matches!(err, CryptError::Corrupted { chunk: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("corrupted at chunk 2"), "{err}");

        // Every chunk's ciphertext and tag are covered, not only the middle.
        for range in chunk_ranges(&file) {
            for at in [range.start + 4, range.end - 1] {
                let mut bad = file.clone();
                bad[at] ^= 0x80;
                assert!(decrypt(&pass(), &bad).is_err(), "flip at {at} undetected");
            }
        }
    }

    #[test]
    fn flipped_byte_in_first_chunk_reads_as_wrong_key_or_altered() {
        let file = encrypt(&pass(), SMALL, &sample(10_000, 16));
        let mut bad = file.clone();
        bad[HEADER_LEN + 10] ^= 0x01;
        assert!(matches!(
            DecryptReader::new(&bad[..], &pass()),
            Err(CryptError::WrongKeyOrAltered)
        ));
    }

    #[test]
    fn truncated_at_a_chunk_boundary() {
        let data = sample(4 * SMALL as usize + 100, 17);
        let file = encrypt(&pass(), SMALL, &data);
        let ranges = chunk_ranges(&file);
        assert_eq!(ranges.len(), 5);
        // Cut after each full chunk: the last chunk is missing.
        for kept in 1..ranges.len() {
            let cut = &file[..ranges[kept - 1].end];
            let err = decrypt(&pass(), cut).unwrap_err();
            assert!(
                matches!(err, CryptError::Truncated("the last chunk is missing")),
                "kept {kept}: {err}"
            );
        }
        // With exact multiples the last chunk is full-size: cutting it off
        // must still be noticed.
        let data = sample(3 * SMALL as usize, 18);
        let file = encrypt(&pass(), SMALL, &data);
        let ranges = chunk_ranges(&file);
        let err = decrypt(&pass(), &file[..ranges[1].end]).unwrap_err();
        assert!(matches!(err, CryptError::Truncated(_)), "{err}");
        // Just the header.
        let err = decrypt(&pass(), &file[..HEADER_LEN]).unwrap_err();
        assert!(matches!(err, CryptError::Truncated(_)), "{err}");
    }

    #[test]
    fn truncated_mid_chunk_and_mid_header() {
        let data = sample(3 * SMALL as usize + 10, 19);
        let file = encrypt(&pass(), SMALL, &data);
        let ranges = chunk_ranges(&file);
        for cut in [
            ranges[1].start + 2,   // inside a length prefix
            ranges[1].start + 100, // inside a middle chunk
            ranges[3].end - 1,     // inside the last chunk's tag
            HEADER_LEN + 2,        // inside the first length prefix
            HEADER_LEN - 1,        // inside the header
            OFF_VERSION + 1,       // just after the version
            3,                     // inside the magic
        ] {
            let err = decrypt(&pass(), &file[..cut]).unwrap_err();
            assert!(matches!(err, CryptError::Truncated(_)), "cut {cut}: {err}");
            let io: io::Error = err.into();
            assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof, "cut {cut}");
        }
    }

    #[test]
    fn header_tampering() {
        let file = encrypt(&pass(), SMALL, &sample(20_000, 20));
        let tamper = |at: usize, xor: u8| {
            let mut bad = file.clone();
            bad[at] ^= xor;
            DecryptReader::new(&bad[..], &pass())
                .map(|_| ())
                .unwrap_err()
        };
        assert!(matches!(tamper(0, 0x01), CryptError::NotEncrypted));
        assert!(matches!(
            tamper(OFF_VERSION, 0x03),
            CryptError::UnsupportedVersion { found: 2 }
        ));
        assert!(matches!(
            tamper(OFF_CIPHER, 0x02),
            CryptError::InvalidHeader(_)
        ));
        assert!(matches!(
            tamper(OFF_KDF, 0x04),
            CryptError::InvalidHeader(_)
        ));
        // Claims a key file while carrying Argon2 parameters.
        assert!(matches!(
            tamper(OFF_KDF, 0x01),
            CryptError::InvalidHeader(_)
        ));
        // Fields that pass validation but change the header: authentication
        // of the first chunk fails.
        for at in [
            OFF_MEMORY + 3,
            OFF_ITERATIONS + 3,
            OFF_SALT,
            OFF_SALT + SALT_LEN - 1,
            OFF_NONCE,
            OFF_NONCE + NONCE_PREFIX_LEN - 1,
        ] {
            let err = tamper(at, 0x02);
            assert!(
                matches!(err, CryptError::WrongKeyOrAltered),
                "at {at}: {err}"
            );
        }
        // A chunk size that no longer matches the framing.
        let err = tamper(OFF_CHUNK_SIZE + 2, 0x01);
        assert!(
            matches!(
                err,
                CryptError::WrongKeyOrAltered | CryptError::Corrupted { .. }
            ),
            "{err}"
        );
        // An absurd memory cost is refused before any allocation.
        let err = tamper(OFF_MEMORY, 0x80);
        assert!(matches!(err, CryptError::InvalidHeader(_)), "{err}");
        let err = tamper(OFF_CHUNK_SIZE, 0x40);
        assert!(matches!(err, CryptError::InvalidHeader(_)), "{err}");
    }

    #[test]
    fn not_an_encrypted_backup() {
        for input in [
            &b""[..],
            b"PGDMP\x01\x0e\x00 and more bytes",
            &[0x28, 0xB5, 0x2F, 0xFD],
        ] {
            let err = DecryptReader::new(input, &pass()).unwrap_err();
            assert!(matches!(err, CryptError::NotEncrypted), "{err}");
            assert!(!is_encrypted(input));
        }
        assert!(is_encrypted(&encrypt(&pass(), SMALL, b"x")));
    }

    #[test]
    fn chunk_reordering_and_removal() {
        let data = sample(5 * SMALL as usize + 1, 21);
        let file = encrypt(&pass(), SMALL, &data);
        let r = chunk_ranges(&file);
        let assemble = |order: &[usize]| {
            let mut out = file[..HEADER_LEN].to_vec();
            for &i in order {
                out.extend_from_slice(&file[r[i].clone()]);
            }
            out
        };
        assert!(decrypt(&pass(), &assemble(&[0, 1, 2, 3, 4, 5])).unwrap() == data);
        let err = decrypt(&pass(), &assemble(&[0, 2, 1, 3, 4, 5])).unwrap_err();
        assert!(
            matches!(err, CryptError::Corrupted { chunk: 1, .. }),
            "{err}"
        );
        let err = decrypt(&pass(), &assemble(&[1, 0, 2, 3, 4, 5])).unwrap_err();
        assert!(matches!(err, CryptError::WrongKeyOrAltered), "{err}");
        let err = decrypt(&pass(), &assemble(&[0, 1, 3, 4, 5])).unwrap_err();
        assert!(
            matches!(err, CryptError::Corrupted { chunk: 2, .. }),
            "{err}"
        );
        // The last chunk moved before the end.
        let err = decrypt(&pass(), &assemble(&[0, 5, 1, 2, 3, 4])).unwrap_err();
        assert!(
            matches!(err, CryptError::Corrupted { chunk: 1, .. }),
            "{err}"
        );
        // A chunk from another file with the same passphrase.
        let other = encrypt(&pass(), SMALL, &data);
        let mut spliced = assemble(&[0]);
        spliced.extend_from_slice(&other[chunk_ranges(&other)[1].clone()]);
        spliced.extend_from_slice(&file[r[2].start..]);
        let err = decrypt(&pass(), &spliced).unwrap_err();
        assert!(
            matches!(err, CryptError::Corrupted { chunk: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn data_after_the_last_chunk_is_refused() {
        let data = sample(2 * SMALL as usize + 5, 22);
        let mut file = encrypt(&pass(), SMALL, &data);
        file.extend_from_slice(b"junk");
        let err = decrypt(&pass(), &file).unwrap_err();
        assert!(matches!(err, CryptError::Corrupted { .. }), "{err}");
        // A whole extra empty chunk after a full last chunk.
        let data = sample(2 * SMALL as usize, 23);
        let mut file = encrypt(&pass(), SMALL, &data);
        let empty = encrypt(&pass(), SMALL, b"");
        file.extend_from_slice(&empty[HEADER_LEN..]);
        assert!(decrypt(&pass(), &file).is_err());
    }

    #[test]
    fn errors_pass_through_io_and_back() {
        let data = sample(3 * SMALL as usize, 24);
        let mut file = encrypt(&pass(), SMALL, &data);
        let ranges = chunk_ranges(&file);
        file[ranges[2].start + 50] ^= 1;
        let mut r = DecryptReader::new(&file[..], &pass()).unwrap();
        let mut out = Vec::new();
        let io_err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(io_err.kind(), io::ErrorKind::InvalidData);
        // Only authenticated chunks were handed out.
        assert_eq!(out, &data[..2 * SMALL as usize]);
        assert!(matches!(
            CryptError::from(io_err),
            CryptError::Corrupted { chunk: 2, .. }
        ));
        // Once failed, the reader stays failed.
        let again = r.read(&mut [0u8; 16]).unwrap_err();
        assert!(matches!(CryptError::from(again), CryptError::Poisoned));
        // A plain I/O error stays one.
        let plain = CryptError::from(io::Error::other("disk on fire"));
        assert!(matches!(plain, CryptError::Io(_)));
        assert_eq!(plain.to_string(), "disk on fire");
    }

    #[test]
    fn dropped_without_finish_reads_as_truncated() {
        let data = sample(3 * SMALL as usize + 9, 25);
        let mut sink = Vec::new();
        {
            let mut w = EncryptWriter::with_options(&mut sink, &pass(), &opts(SMALL)).unwrap();
            w.write_all(&data).unwrap();
        }
        let err = decrypt(&pass(), &sink).unwrap_err();
        assert!(matches!(err, CryptError::Truncated(_)), "{err}");
    }

    #[test]
    fn key_file_formats() {
        let raw: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(200))
            .collect();
        let hex_lower = hex::encode(&raw);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        let b64_nopad = b64.trim_end_matches('=').to_owned();
        let accepted: Vec<Vec<u8>> = vec![
            raw.clone(),
            hex_lower.clone().into_bytes(),
            format!("{hex_lower}\n").into_bytes(),
            format!("  {}\r\n", hex_lower.to_uppercase()).into_bytes(),
            b64.clone().into_bytes(),
            format!("{b64}\n").into_bytes(),
            b64_nopad.into_bytes(),
        ];
        // All forms give the same key: each decrypts what the raw form wrote.
        let file = encrypt(&KeySource::key_bytes(&raw).unwrap(), SMALL, b"payload");
        for content in &accepted {
            let key = KeySource::key_bytes(content).unwrap();
            assert_eq!(decrypt(&key, &file).unwrap(), b"payload");
            assert_eq!(key.key_hex().unwrap().as_str(), hex_lower);
        }

        let short_b64 = base64::engine::general_purpose::STANDARD.encode([9u8; 16]);
        let rejected: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "it is empty"),
            (b"\n\n".to_vec(), "it is empty"),
            (raw[..31].to_vec(), "neither raw key bytes"),
            ([&raw[..], b"\n"].concat(), "neither raw key bytes"),
            (
                hex_lower.as_bytes()[..62].to_vec(),
                "62 hexadecimal characters, not 64",
            ),
            (
                format!("{hex_lower}00").into_bytes(),
                "66 hexadecimal characters, not 64",
            ),
            (short_b64.into_bytes(), "decodes to 16 bytes, not 32"),
            (
                b"not a key at all, just some words!!".to_vec(),
                "neither raw",
            ),
            (vec![b'a'; 5000], "it holds 5000 bytes"),
        ];
        for (content, want) in rejected {
            let err = KeySource::key_bytes(&content).unwrap_err().to_string();
            assert!(err.starts_with("invalid key file: "), "{err}");
            assert!(err.contains(want), "{err}");
            assert!(
                err.contains("32 raw bytes, 64 hexadecimal characters"),
                "{err}"
            );
            if content.len() >= 8 {
                let text = String::from_utf8_lossy(&content);
                assert!(!err.contains(text.trim()), "content leaked: {err}");
            }
        }
    }

    #[test]
    fn key_file_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.key");
        let key = KeySource::generate_key().unwrap();
        let hex_key = key.key_hex().unwrap();
        fs::write(&path, format!("{}\n", hex_key.as_str())).unwrap();
        let loaded = KeySource::key_file(&path).unwrap();
        let file = encrypt(&key, SMALL, b"abc");
        assert_eq!(decrypt(&loaded, &file).unwrap(), b"abc");

        let missing = dir.path().join("nope.key");
        let err = KeySource::key_file(&missing).unwrap_err();
        assert!(matches!(err, CryptError::KeyFileRead { .. }), "{err}");
        assert!(err.to_string().contains("nope.key"), "{err}");

        let big = dir.path().join("big.key");
        fs::write(&big, vec![b'0'; 10_000]).unwrap();
        let err = KeySource::key_file(&big).unwrap_err();
        assert!(err.to_string().contains("10000 bytes"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_or_errors() {
        let secret = "hunter2-very-secret-passphrase";
        let key = KeySource::passphrase(secret).unwrap();
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "KeySource::Passphrase([redacted])");

        let generated = KeySource::generate_key().unwrap();
        let hex_key = generated.key_hex().unwrap();
        assert!(!format!("{generated:?}").contains(hex_key.as_str()));

        let w = EncryptWriter::with_options(Vec::new(), &generated, &opts(SMALL)).unwrap();
        let dbg = format!("{w:?}");
        assert!(dbg.contains("EncryptWriter"), "{dbg}");
        assert!(!dbg.contains(hex_key.as_str()), "{dbg}");
        let file = w.finish().unwrap();
        let r = DecryptReader::new(&file[..], &generated).unwrap();
        assert!(!format!("{r:?}").contains(hex_key.as_str()));

        let file = encrypt(&key, SMALL, b"data");
        let wrong = KeySource::passphrase("another-secret-passphrase").unwrap();
        let err = DecryptReader::new(&file[..], &wrong).unwrap_err();
        assert!(!err.to_string().contains("another-secret"));
        assert!(!format!("{err:?}").contains("another-secret"));
        assert!(!format!("{err:?}").contains(secret));
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(matches!(
            KeySource::passphrase(""),
            Err(CryptError::EmptyPassphrase)
        ));
        for size in [0, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1] {
            let err =
                EncryptWriter::with_options(Vec::new(), &raw_key(1), &opts(size)).unwrap_err();
            assert!(matches!(err, CryptError::InvalidChunkSize { .. }), "{err}");
        }
        let bad_params = [
            Argon2Params {
                memory_kib: 4,
                iterations: 1,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 64,
                iterations: 0,
                parallelism: 1,
            },
            Argon2Params {
                memory_kib: 64,
                iterations: 1,
                parallelism: 0,
            },
            Argon2Params {
                memory_kib: 64,
                iterations: 1,
                parallelism: 9,
            },
            Argon2Params {
                memory_kib: Argon2Params::MAX_MEMORY_KIB + 1,
                iterations: 1,
                parallelism: 1,
            },
        ];
        for argon2 in bad_params {
            let options = EncryptOptions {
                chunk_size: SMALL,
                argon2,
            };
            let err = EncryptWriter::with_options(Vec::new(), &pass(), &options).unwrap_err();
            assert!(
                matches!(err, CryptError::InvalidKdfParams(_)),
                "{argon2:?}: {err}"
            );
        }
        assert_eq!(
            EncryptOptions::default(),
            EncryptOptions {
                chunk_size: 1024 * 1024,
                argon2: Argon2Params {
                    memory_kib: 65536,
                    iterations: 3,
                    parallelism: 1
                },
            }
        );
        assert!(Argon2Params::RECOMMENDED.validate().is_ok());
    }

    #[test]
    fn header_records_settings_and_fresh_randomness() {
        let a = encrypt(&pass(), SMALL, b"same data");
        let b = encrypt(&pass(), SMALL, b"same data");
        let ha = read_header(&mut &a[..]).unwrap();
        let hb = read_header(&mut &b[..]).unwrap();
        assert_eq!(ha.kdf(), Kdf::Argon2id(Argon2Params::INSECURE_FAST));
        assert_eq!(ha.chunk_size(), SMALL);
        assert!(ha.needs_passphrase());
        assert_ne!(ha.salt, hb.salt);
        assert_ne!(ha.nonce_prefix, hb.nonce_prefix);
        assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
        assert_eq!(&a[..8], b"SBMCPENC");
        assert_eq!(a[OFF_VERSION], 1);
        assert_eq!(
            Header::parse(&a[..HEADER_LEN].try_into().unwrap())
                .unwrap()
                .encode(),
            a[..HEADER_LEN]
        );
    }

    #[test]
    fn passphrase_key_depends_on_salt_and_params() {
        let salt = [1u8; SALT_LEN];
        let p = Argon2Params::INSECURE_FAST;
        let k1 = derive_key(b"pw", p, &salt).unwrap();
        let k2 = derive_key(b"pw", p, &[2u8; SALT_LEN]).unwrap();
        let k3 = derive_key(b"pw", Argon2Params { iterations: 2, ..p }, &salt).unwrap();
        let k4 = derive_key(b"pw", p, &salt).unwrap();
        assert_ne!(*k1, *k2);
        assert_ne!(*k1, *k3);
        assert_eq!(*k1, *k4);
    }
}
