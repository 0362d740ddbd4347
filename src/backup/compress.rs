//! Streaming compression of backups: the [`Compression`] setting (parsed from
//! `zstd`, `zstd:19`, `gzip`, `gzip:6`, `none`, or read with serde), the
//! streaming [`Encoder`] whose end is explicit ([`Encoder::finish`] returns
//! the inner writer), the streaming [`Decoder`], and detection of the
//! compression from a stream's magic bytes ([`Codec::detect`], [`sniff`]) for
//! restoring files that have no manifest.
//!
//! zstd frames carry a content checksum, and gzip members a CRC-32, so an
//! unencrypted backup that was damaged fails to decode instead of restoring
//! wrong data. zstd compresses on worker threads (`zstdmt`); by default one
//! per available core.

use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The zstd levels accepted.
pub const ZSTD_LEVELS: RangeInclusive<i32> = 1..=22;
/// The gzip levels accepted (0 stores without compressing).
pub const GZIP_LEVELS: RangeInclusive<u32> = 0..=9;
/// The zstd level used when none is given.
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;
/// The gzip level used when none is given.
pub const GZIP_DEFAULT_LEVEL: u32 = 6;
/// The most zstd worker threads accepted (zstd's own limit).
pub const ZSTD_MAX_THREADS: u32 = 200;

/// The first bytes of every zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The first bytes of every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

const EXPECTED_FORMS: &str = "zstd, zstd:LEVEL, gzip, gzip:LEVEL or none";

/// Everything that can go wrong in this module.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("unknown compression {given:?}: expected {EXPECTED_FORMS}")]
    Unknown { given: String },
    #[error("{algorithm} level {given:?} is not a whole number")]
    LevelNotANumber {
        algorithm: &'static str,
        given: String,
    },
    #[error("{algorithm} level {level} is out of range: choose {min} to {max}")]
    LevelOutOfRange {
        algorithm: &'static str,
        level: i64,
        min: i64,
        max: i64,
    },
    #[error("compression \"none\" takes no level (got {given:?})")]
    NoneTakesNoLevel { given: String },
    #[error(
        "zstd threads {threads} is out of range: choose 0 (compress on the calling thread) to {ZSTD_MAX_THREADS}"
    )]
    ThreadsOutOfRange { threads: u32 },
    #[error("could not start the {codec} {role}: {source}")]
    Start {
        codec: Codec,
        role: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("could not read the start of the stream to detect its compression: {0}")]
    Sniff(#[source] io::Error),
}

/// How a backup is compressed, with the settings that matter when writing.
///
/// Parsed from `zstd`, `zstd:LEVEL`, `gzip`, `gzip:LEVEL` or `none`
/// ([`FromStr`]); shown the same way ([`fmt::Display`], without the thread
/// count). With serde it is written as a map tagged by `algorithm`
/// (`{"algorithm": "zstd", "level": 3, "threads": 8}`) and read from either
/// that map or the string form. Every way in validates the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Tagged")]
pub enum Compression {
    /// zstd at `level` (1..=22) on `threads` worker threads; 0 threads
    /// compresses on the calling thread.
    Zstd { level: i32, threads: u32 },
    /// gzip at `level` (0..=9).
    Gzip { level: u32 },
    /// Bytes written as they are.
    None,
}

impl Compression {
    /// zstd at `level`, one worker thread per available core.
    pub fn zstd(level: i32) -> Result<Self, CompressError> {
        let c = Self::Zstd {
            level,
            threads: default_zstd_threads(),
        };
        c.validate()?;
        Ok(c)
    }

    /// gzip at `level`.
    pub fn gzip(level: u32) -> Result<Self, CompressError> {
        let c = Self::Gzip { level };
        c.validate()?;
        Ok(c)
    }

    /// Checks the level (and the zstd thread count).
    pub fn validate(&self) -> Result<(), CompressError> {
        match *self {
            Self::Zstd { level, threads } => {
                check_level("zstd", i64::from(level), &ZSTD_LEVELS)?;
                if threads > ZSTD_MAX_THREADS {
                    return Err(CompressError::ThreadsOutOfRange { threads });
                }
                Ok(())
            }
            Self::Gzip { level } => check_level("gzip", i64::from(level), &GZIP_LEVELS),
            Self::None => Ok(()),
        }
    }

    /// The format of the bytes this setting writes.
    pub fn codec(&self) -> Codec {
        match self {
            Self::Zstd { .. } => Codec::Zstd,
            Self::Gzip { .. } => Codec::Gzip,
            Self::None => Codec::None,
        }
    }
}

impl Default for Compression {
    /// zstd level 3 on every available core.
    fn default() -> Self {
        Self::Zstd {
            level: ZSTD_DEFAULT_LEVEL,
            threads: default_zstd_threads(),
        }
    }
}

/// One zstd worker per available core (1 when that cannot be known).
pub fn default_zstd_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(ZSTD_MAX_THREADS))
        .unwrap_or(1)
        .min(ZSTD_MAX_THREADS)
}

fn check_level<T: Copy + Into<i64>>(
    algorithm: &'static str,
    level: i64,
    range: &RangeInclusive<T>,
) -> Result<(), CompressError> {
    let (min, max) = ((*range.start()).into(), (*range.end()).into());
    if (min..=max).contains(&level) {
        Ok(())
    } else {
        Err(CompressError::LevelOutOfRange {
            algorithm,
            level,
            min,
            max,
        })
    }
}

fn parse_level(algorithm: &'static str, text: &str) -> Result<i64, CompressError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| CompressError::LevelNotANumber {
            algorithm,
            given: text.to_owned(),
        })
}

impl FromStr for Compression {
    type Err = CompressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let lower = trimmed.to_ascii_lowercase();
        let (name, level) = match lower.split_once(':') {
            Some((name, level)) => (name.trim(), Some(level)),
            None => (lower.as_str(), None),
        };
        match name {
            "zstd" => {
                let level = match level {
                    Some(text) => parse_level("zstd", text)?,
                    None => i64::from(ZSTD_DEFAULT_LEVEL),
                };
                check_level("zstd", level, &ZSTD_LEVELS)?;
                Self::zstd(i32::try_from(level).unwrap_or(ZSTD_DEFAULT_LEVEL))
            }
            "gzip" => {
                let level = match level {
                    Some(text) => parse_level("gzip", text)?,
                    None => i64::from(GZIP_DEFAULT_LEVEL),
                };
                check_level("gzip", level, &GZIP_LEVELS)?;
                Self::gzip(u32::try_from(level).unwrap_or(GZIP_DEFAULT_LEVEL))
            }
            "none" => match level {
                Some(_) => Err(CompressError::NoneTakesNoLevel {
                    given: trimmed.to_owned(),
                }),
                None => Ok(Self::None),
            },
            _ => Err(CompressError::Unknown {
                given: trimmed.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zstd { level, .. } => write!(f, "zstd:{level}"),
            Self::Gzip { level } => write!(f, "gzip:{level}"),
            Self::None => f.write_str("none"),
        }
    }
}

/// The serde map form.
#[derive(Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase", deny_unknown_fields)]
enum Tagged {
    Zstd {
        #[serde(default = "zstd_default_level")]
        level: i32,
        #[serde(default = "default_zstd_threads")]
        threads: u32,
    },
    Gzip {
        #[serde(default = "gzip_default_level")]
        level: u32,
    },
    None,
}

fn zstd_default_level() -> i32 {
    ZSTD_DEFAULT_LEVEL
}

fn gzip_default_level() -> u32 {
    GZIP_DEFAULT_LEVEL
}

/// What serde accepts: the string form or the map form.
#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Tagged(Tagged),
}

impl TryFrom<Repr> for Compression {
    type Error = CompressError;

    fn try_from(repr: Repr) -> Result<Self, Self::Error> {
        let c = match repr {
            Repr::Text(text) => return text.parse(),
            Repr::Tagged(Tagged::Zstd { level, threads }) => Self::Zstd { level, threads },
            Repr::Tagged(Tagged::Gzip { level }) => Self::Gzip { level },
            Repr::Tagged(Tagged::None) => Self::None,
        };
        c.validate()?;
        Ok(c)
    }
}

impl From<Compression> for Tagged {
    fn from(c: Compression) -> Self {
        match c {
            Compression::Zstd { level, threads } => Self::Zstd { level, threads },
            Compression::Gzip { level } => Self::Gzip { level },
            Compression::None => Self::None,
        }
    }
}

/// The format of a compressed stream, without the settings used to write it:
/// all a decoder needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Zstd,
    Gzip,
    None,
}

impl Codec {
    /// The codec of a stream that starts with `prefix`, by its magic bytes.
    /// Anything that is neither zstd nor gzip (a `pg_dump` archive starts with
    /// `PGDMP`, a plain dump with SQL text) is [`Codec::None`]. Four bytes are
    /// enough; a shorter prefix can only match gzip.
    pub fn detect(prefix: &[u8]) -> Self {
        if prefix.starts_with(&ZSTD_MAGIC) {
            Self::Zstd
        } else if prefix.starts_with(&GZIP_MAGIC) {
            Self::Gzip
        } else {
            Self::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
            Self::None => "none",
        }
    }

    /// The usual file name extension, with its dot (empty for none).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Zstd => ".zst",
            Self::Gzip => ".gz",
            Self::None => "",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Compression> for Codec {
    fn from(c: Compression) -> Self {
        c.codec()
    }
}

/// Bytes per zstd worker job (zstd's minimum is 512 KiB).
const ZSTD_JOB_SIZE: u32 = 2 << 20;

/// A compressing writer. Dropping it without [`Encoder::finish`] leaves the
/// stream unterminated, which its decoder reports as an error.
pub struct Encoder<W: Write> {
    inner: EncoderInner<W>,
}

enum EncoderInner<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Gzip(flate2::write::GzEncoder<W>),
    Plain(W),
}

/// A compressing writer for `compression` over `writer`.
pub fn encoder<W: Write>(
    compression: &Compression,
    writer: W,
) -> Result<Encoder<W>, CompressError> {
    compression.validate()?;
    let start = |source| CompressError::Start {
        codec: compression.codec(),
        role: "encoder",
        source,
    };
    let inner = match *compression {
        Compression::Zstd { level, threads } => {
            let mut enc = zstd::stream::write::Encoder::new(writer, level).map_err(start)?;
            enc.include_checksum(true).map_err(start)?;
            if threads > 0 {
                enc.multithread(threads).map_err(start)?;
                // Smaller jobs than zstd's default (4 windows) keep each
                // worker's buffers, and so the process's memory, small.
                enc.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))
                    .map_err(start)?;
            }
            EncoderInner::Zstd(enc)
        }
        Compression::Gzip { level } => EncoderInner::Gzip(flate2::write::GzEncoder::new(
            writer,
            flate2::Compression::new(level),
        )),
        Compression::None => EncoderInner::Plain(writer),
    };
    Ok(Encoder { inner })
}

impl<W: Write> Encoder<W> {
    /// Ends the stream (writes zstd's last block and checksum, gzip's
    /// trailer), flushes, and returns the inner writer — itself still to be
    /// finished when it is an encryptor.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            EncoderInner::Zstd(enc) => enc.finish(),
            EncoderInner::Gzip(enc) => enc.finish(),
            EncoderInner::Plain(mut w) => {
                w.flush()?;
                Ok(w)
            }
        }
    }

    pub fn codec(&self) -> Codec {
        match self.inner {
            EncoderInner::Zstd(_) => Codec::Zstd,
            EncoderInner::Gzip(_) => Codec::Gzip,
            EncoderInner::Plain(_) => Codec::None,
        }
    }

    pub fn get_ref(&self) -> &W {
        match &self.inner {
            EncoderInner::Zstd(enc) => enc.get_ref(),
            EncoderInner::Gzip(enc) => enc.get_ref(),
            EncoderInner::Plain(w) => w,
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            EncoderInner::Zstd(enc) => enc.write(buf),
            EncoderInner::Gzip(enc) => enc.write(buf),
            EncoderInner::Plain(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            EncoderInner::Zstd(enc) => enc.write_all(buf),
            EncoderInner::Gzip(enc) => enc.write_all(buf),
            EncoderInner::Plain(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            EncoderInner::Zstd(enc) => enc.flush(),
            EncoderInner::Gzip(enc) => enc.flush(),
            EncoderInner::Plain(w) => w.flush(),
        }
    }
}

impl<W: Write> fmt::Debug for Encoder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("codec", &self.codec())
            .finish_non_exhaustive()
    }
}

/// A decompressing reader. zstd input may hold several frames and gzip input
/// several members, as the command-line tools allow.
pub struct Decoder<R: Read> {
    inner: DecoderInner<R>,
}

enum DecoderInner<R: Read> {
    Zstd(zstd::stream::read::Decoder<'static, BufReader<R>>),
    Gzip(flate2::read::MultiGzDecoder<R>),
    Plain(R),
}

/// A decompressing reader for a stream written as `codec`.
pub fn decoder<R: Read>(codec: Codec, reader: R) -> Result<Decoder<R>, CompressError> {
    let inner = match codec {
        Codec::Zstd => {
            DecoderInner::Zstd(zstd::stream::read::Decoder::new(reader).map_err(|source| {
                CompressError::Start {
                    codec,
                    role: "decoder",
                    source,
                }
            })?)
        }
        Codec::Gzip => DecoderInner::Gzip(flate2::read::MultiGzDecoder::new(reader)),
        Codec::None => DecoderInner::Plain(reader),
    };
    Ok(Decoder { inner })
}

impl<R: Read> Decoder<R> {
    pub fn codec(&self) -> Codec {
        match self.inner {
            DecoderInner::Zstd(_) => Codec::Zstd,
            DecoderInner::Gzip(_) => Codec::Gzip,
            DecoderInner::Plain(_) => Codec::None,
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            DecoderInner::Zstd(dec) => dec.read(buf),
            DecoderInner::Gzip(dec) => dec.read(buf),
            DecoderInner::Plain(r) => r.read(buf),
        }
    }
}

impl<R: Read> fmt::Debug for Decoder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.codec())
            .finish_non_exhaustive()
    }
}

/// A reader whose first bytes were read to detect the codec, then put back.
pub type Sniffed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads the first bytes of `reader` to detect its codec by magic bytes, and
/// returns the codec with a reader that yields the whole stream again.
pub fn sniff<R: Read>(mut reader: R) -> Result<(Codec, Sniffed<R>), CompressError> {
    let mut prefix = [0u8; ZSTD_MAGIC.len()];
    let mut filled = 0;
    while filled < prefix.len() {
        match reader.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CompressError::Sniff(e)),
        }
    }
    let head = &prefix[..filled];
    Ok((
        Codec::detect(head),
        io::Cursor::new(head.to_vec()).chain(reader),
    ))
}

/// A decompressing reader for a stream of unknown compression (a file
/// without a manifest): the codec is detected by [`sniff`].
pub fn decoder_detect<R: Read>(reader: R) -> Result<Decoder<Sniffed<R>>, CompressError> {
    let (codec, reader) = sniff(reader)?;
    decoder(codec, reader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::crypt::{
        self, Argon2Params, DecryptReader, EncryptOptions, EncryptWriter, KeySource,
    };
    use crate::backup::test_support::sample;

    fn all_compressions() -> [Compression; 4] {
        [
            Compression::Zstd {
                level: 3,
                threads: 2,
            },
            Compression::Zstd {
                level: 1,
                threads: 0,
            },
            Compression::Gzip { level: 6 },
            Compression::None,
        ]
    }

    fn compress(c: &Compression, data: &[u8]) -> Vec<u8> {
        let mut enc = encoder(c, Vec::new()).unwrap();
        // Uneven writes, as pg_dump's pipe delivers them.
        for piece in data.chunks(65_521) {
            enc.write_all(piece).unwrap();
        }
        enc.finish().unwrap()
    }

    fn decompress(codec: Codec, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoder(codec, bytes).unwrap().read_to_end(&mut out)?;
        Ok(out)
    }

    fn test_key() -> KeySource {
        KeySource::passphrase("correct horse battery staple").unwrap()
    }

    fn test_options() -> EncryptOptions {
        EncryptOptions {
            argon2: Argon2Params::INSECURE_FAST,
            ..EncryptOptions::default()
        }
    }

    /// Compress then (optionally) encrypt, the way a backup is written.
    fn write_backup(c: &Compression, encrypted: bool, data: &[u8]) -> Vec<u8> {
        if encrypted {
            let sink =
                EncryptWriter::with_options(Vec::new(), &test_key(), &test_options()).unwrap();
            let mut enc = encoder(c, sink).unwrap();
            for piece in data.chunks(100_003) {
                enc.write_all(piece).unwrap();
            }
            enc.finish().unwrap().finish().unwrap()
        } else {
            compress(c, data)
        }
    }

    /// Decrypt (when encrypted) then decompress, detecting nothing.
    fn read_backup(codec: Codec, encrypted: bool, file: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if encrypted {
            let plain = DecryptReader::new(file, &test_key()).unwrap();
            decoder(codec, plain)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        } else {
            decoder(codec, file).unwrap().read_to_end(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn parse_accepts_documented_forms() {
        let threads = default_zstd_threads();
        let cases = [
            ("zstd", Compression::Zstd { level: 3, threads }),
            ("zstd:19", Compression::Zstd { level: 19, threads }),
            (" ZSTD:22 ", Compression::Zstd { level: 22, threads }),
            ("zstd:1", Compression::Zstd { level: 1, threads }),
            ("gzip", Compression::Gzip { level: 6 }),
            ("gzip:0", Compression::Gzip { level: 0 }),
            ("gzip:9", Compression::Gzip { level: 9 }),
            ("none", Compression::None),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Compression>().unwrap(), want, "{text}");
        }
    }

    #[test]
    fn parse_rejects_bad_names_and_levels_with_clear_errors() {
        let cases = [
            ("zstd:0", "zstd level 0 is out of range: choose 1 to 22"),
            ("zstd:23", "zstd level 23 is out of range: choose 1 to 22"),
            ("zstd:-5", "zstd level -5 is out of range"),
            ("zstd:99999999999", "zstd level 99999999999 is out of range"),
            ("gzip:10", "gzip level 10 is out of range: choose 0 to 9"),
            ("zstd:fast", "zstd level \"fast\" is not a whole number"),
            ("gzip:", "gzip level \"\" is not a whole number"),
            ("none:3", "compression \"none\" takes no level"),
            (
                "lz4",
                "unknown compression \"lz4\": expected zstd, zstd:LEVEL",
            ),
            ("", "unknown compression \"\""),
        ];
        for (text, want) in cases {
            let err = text.parse::<Compression>().unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert!(Compression::zstd(0).is_err());
        assert!(Compression::gzip(10).is_err());
        let too_many = Compression::Zstd {
            level: 3,
            threads: ZSTD_MAX_THREADS + 1,
        };
        assert!(matches!(
            too_many.validate(),
            Err(CompressError::ThreadsOutOfRange { .. })
        ));
        assert!(encoder(&too_many, Vec::new()).is_err());
    }

    #[test]
    fn display_parses_back() {
        for c in [
            Compression::zstd(19).unwrap(),
            Compression::gzip(1).unwrap(),
            Compression::None,
        ] {
            assert_eq!(c.to_string().parse::<Compression>().unwrap(), c);
        }
        assert_eq!(Compression::gzip(1).unwrap().to_string(), "gzip:1");
    }

    #[test]
    fn default_is_zstd_3_on_every_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            Compression::default(),
            Compression::Zstd {
                level: 3,
                threads: u32::try_from(cores).unwrap().min(ZSTD_MAX_THREADS),
            }
        );
        assert!(default_zstd_threads() >= 1);
    }

    #[test]
    fn serde_writes_tagged_map_and_reads_both_forms() {
        let c = Compression::Zstd {
            level: 19,
            threads: 4,
        };
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"algorithm": "zstd", "level": 19, "threads": 4})
        );
        assert_eq!(serde_json::from_value::<Compression>(json).unwrap(), c);
        assert_eq!(
            serde_json::to_value(Compression::None).unwrap(),
            serde_json::json!({"algorithm": "none"})
        );
        assert_eq!(
            serde_json::from_str::<Compression>("\"gzip:9\"").unwrap(),
            Compression::Gzip { level: 9 }
        );
        assert_eq!(
            serde_json::from_str::<Compression>(r#"{"algorithm":"gzip"}"#).unwrap(),
            Compression::Gzip { level: 6 }
        );
        assert_eq!(
            serde_json::from_str::<Compression>(r#"{"algorithm":"zstd","level":5}"#).unwrap(),
            Compression::Zstd {
                level: 5,
                threads: default_zstd_threads()
            }
        );
        assert_eq!(
            serde_json::to_value(Codec::Zstd).unwrap(),
            serde_json::json!("zstd")
        );
    }

    #[test]
    fn serde_rejects_invalid_values() {
        let err = serde_json::from_str::<Compression>(r#"{"algorithm":"zstd","level":40}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("zstd level 40 is out of range"), "{err}");
        let err = serde_json::from_str::<Compression>("\"gzip:12\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gzip level 12 is out of range"), "{err}");
        assert!(serde_json::from_str::<Compression>(r#"{"algorithm":"gzip","levle":3}"#).is_err());
        assert!(serde_json::from_str::<Compression>(r#"{"algorithm":"brotli"}"#).is_err());
        assert!(serde_json::from_str::<Compression>("\"lz4\"").is_err());
    }

    #[test]
    fn round_trip_each_compression_plain_and_encrypted() {
        // 5 MB: five 1 MiB encryption chunks and several zstd jobs.
        let data = sample(5_000_000, 1);
        for c in all_compressions() {
            for encrypted in [false, true] {
                let file = write_backup(&c, encrypted, &data);
                let back = read_backup(c.codec(), encrypted, &file);
                assert!(
                    back == data,
                    "{c} encrypted={encrypted}: round trip differs"
                );
                if encrypted {
                    assert!(crypt::is_encrypted(&file), "{c}: no encryption header");
                } else {
                    assert_eq!(Codec::detect(&file), c.codec(), "{c}");
                }
            }
        }
    }

    #[test]
    fn round_trip_empty_input() {
        for c in all_compressions() {
            for encrypted in [false, true] {
                let file = write_backup(&c, encrypted, &[]);
                if c != Compression::None || encrypted {
                    // A zstd frame, a gzip member or the encryption framing.
                    assert!(!file.is_empty(), "{c} encrypted={encrypted}");
                }
                assert!(read_backup(c.codec(), encrypted, &file).is_empty());
            }
        }
    }

    #[test]
    fn compression_shrinks_compressible_data() {
        let data = sample(1_000_000, 2);
        let zstd = compress(&Compression::zstd(3).unwrap(), &data);
        let zstd19 = compress(
            &Compression::Zstd {
                level: 19,
                threads: 0,
            },
            &data,
        );
        let gzip = compress(&Compression::gzip(6).unwrap(), &data);
        let none = compress(&Compression::None, &data);
        assert!(zstd.len() < data.len() * 3 / 4, "zstd {}", zstd.len());
        assert!(
            zstd19.len() < zstd.len(),
            "zstd19 {} zstd3 {}",
            zstd19.len(),
            zstd.len()
        );
        assert!(gzip.len() < data.len() * 3 / 4, "gzip {}", gzip.len());
        assert_eq!(none, data);
    }

    #[test]
    fn detect_by_magic_bytes() {
        let data = sample(10_000, 3);
        assert_eq!(
            Codec::detect(&compress(&Compression::zstd(3).unwrap(), &data)),
            Codec::Zstd
        );
        assert_eq!(
            Codec::detect(&compress(&Compression::gzip(6).unwrap(), &data)),
            Codec::Gzip
        );
        assert_eq!(Codec::detect(&[0x28, 0xB5, 0x2F, 0xFD, 0x00]), Codec::Zstd);
        assert_eq!(Codec::detect(&[0x1F, 0x8B, 0x08]), Codec::Gzip);
        assert_eq!(Codec::detect(b"PGDMP\x01\x0e"), Codec::None);
        assert_eq!(
            Codec::detect(b"--\n-- PostgreSQL database dump"),
            Codec::None
        );
        assert_eq!(Codec::detect(&[0x28, 0xB5, 0x2F]), Codec::None);
        assert_eq!(Codec::detect(&[0x1F]), Codec::None);
        assert_eq!(Codec::detect(&[]), Codec::None);
        // The encrypted format's magic is not mistaken for a compression.
        assert_eq!(Codec::detect(&crypt::MAGIC), Codec::None);
    }

    #[test]
    fn sniff_restores_files_without_a_manifest() {
        let data = sample(300_000, 4);
        for c in all_compressions() {
            let file = compress(&c, &data);
            // A reader that hands out one byte at a time must still be sniffed.
            let (codec, rest) = sniff(OneByte(&file[..])).unwrap();
            assert_eq!(codec, c.codec());
            let mut out = Vec::new();
            decoder(codec, rest).unwrap().read_to_end(&mut out).unwrap();
            assert!(out == data, "{c}");

            let mut out = Vec::new();
            let mut dec = decoder_detect(&file[..]).unwrap();
            assert_eq!(dec.codec(), c.codec());
            dec.read_to_end(&mut out).unwrap();
            assert!(out == data, "{c} via decoder_detect");
        }
        // Shorter than a magic number: still readable as plain bytes.
        let mut out = Vec::new();
        decoder_detect(&b"ab"[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"ab");
    }

    #[test]
    fn sniff_after_decryption() {
        let data = sample(200_000, 5);
        let c = Compression::gzip(6).unwrap();
        let file = write_backup(&c, true, &data);
        let plain = DecryptReader::new(&file[..], &test_key()).unwrap();
        let mut dec = decoder_detect(plain).unwrap();
        assert_eq!(dec.codec(), Codec::Gzip);
        let mut out = Vec::new();
        dec.read_to_end(&mut out).unwrap();
        assert!(out == data);
    }

    #[test]
    fn truncated_or_damaged_compressed_streams_fail() {
        let data = sample(500_000, 6);
        for c in [Compression::zstd(3).unwrap(), Compression::gzip(6).unwrap()] {
            let file = compress(&c, &data);
            let cut = &file[..file.len() - 10];
            assert!(
                decompress(c.codec(), cut).is_err(),
                "{c}: truncation not detected"
            );
            let mut flipped = file.clone();
            let mid = flipped.len() / 2;
            flipped[mid] ^= 0x01;
            match decompress(c.codec(), &flipped) {
                Err(_) => {}
                Ok(out) => panic!("{c}: damage not detected ({} bytes out)", out.len()),
            }
        }
    }

    #[test]
    fn decryption_errors_surface_through_the_decoder() {
        let data = sample(5_000_000, 7);
        let c = Compression::zstd(3).unwrap();
        let mut file = write_backup(&c, true, &data);
        let chunk = crypt::DEFAULT_CHUNK_SIZE as usize;
        assert!(file.len() > crypt::HEADER_LEN + 2 * chunk, "too few chunks");
        // Damage the second chunk: the zstd decoder passes the decryptor's
        // error through, and CryptError::from recovers it.
        file[crypt::HEADER_LEN + chunk + 1000] ^= 0x80;
        let plain = DecryptReader::new(&file[..], &test_key()).unwrap();
        let mut out = Vec::new();
        let err = decoder(Codec::Zstd, plain)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err();
        match crypt::CryptError::from(err) {
            crypt::CryptError::Corrupted { chunk: 1, .. } => {}
            other => panic!("unexpected error: {other}"),
        }
    }

    /// A reader that returns at most one byte per call.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }
}
