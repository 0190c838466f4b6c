//! Segment files: naming, header codec, listing the directory and creating new segments.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::frame::{le_u32, le_u64};

/// First bytes of every segment; lets us reject foreign files that happen to be named `*.wal`.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"PSCWAL\0\0";
/// The only format version this code reads or writes.
pub(crate) const SEGMENT_VERSION: u32 = 1;
/// magic (8) + version (4) + first_seq (8) + crc (4).
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
/// [`SEGMENT_HEADER_LEN`] as a file offset.
pub(crate) const SEGMENT_HEADER_LEN_U64: u64 = SEGMENT_HEADER_LEN as u64;

/// A segment file found in the WAL directory.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    /// First seq according to the file name.
    pub(crate) first_seq: u64,
    /// Full path of the file.
    pub(crate) path: PathBuf,
    /// File length when listed.
    pub(crate) len: u64,
}

/// Why a segment header was rejected; only used for log messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// The file is shorter than a header.
    Short(usize),
    /// The first 8 bytes are not [`SEGMENT_MAGIC`].
    BadMagic,
    /// A version this code cannot read (e.g. written by a newer release).
    UnknownVersion(u32),
    /// The header CRC does not match.
    BadCrc,
    /// The header is intact but names a different first seq than the file name does, e.g. a
    /// segment copied under another name; trusting either would break the name-order invariant.
    SeqMismatch {
        /// first_seq stored in the header.
        header: u64,
    },
    /// The file disappeared between listing and reading it.
    Missing,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Short(len) => write!(f, "file of {len} bytes is shorter than a segment header"),
            Self::BadMagic => f.write_str("bad magic"),
            Self::UnknownVersion(v) => write!(f, "unknown segment version {v}"),
            Self::BadCrc => f.write_str("header crc mismatch"),
            Self::SeqMismatch { header } => write!(f, "header says first seq {header}"),
            Self::Missing => f.write_str("segment file vanished"),
        }
    }
}

/// `{first_seq:020}.wal`: zero padding makes lexical and numeric order agree.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

/// Inverse of [`file_name`]; `None` for anything else, so stray files are ignored.
pub(crate) fn parse_file_name(name: &OsStr) -> Option<u64> {
    let digits = name.to_str()?.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a segment starting at `first_seq`.
pub(crate) fn encode_header(first_seq: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks the header at the start of `bytes` against the first seq from the file name.
pub(crate) fn decode_header(bytes: &[u8], name_seq: u64) -> Result<u64, HeaderError> {
    let Some(h) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return Err(HeaderError::Short(bytes.len()));
    };
    if h[..8] != SEGMENT_MAGIC {
        return Err(HeaderError::BadMagic);
    }
    // Version before CRC: a future version may lay out (and checksum) its header differently,
    // and "unknown version" is the more useful diagnosis then.
    let version = le_u32(h, 8).ok_or(HeaderError::Short(bytes.len()))?;
    if version != SEGMENT_VERSION {
        return Err(HeaderError::UnknownVersion(version));
    }
    let first_seq = le_u64(h, 12).ok_or(HeaderError::Short(bytes.len()))?;
    let crc = le_u32(h, 20).ok_or(HeaderError::Short(bytes.len()))?;
    if crc != crc32c::crc32c(&h[..20]) {
        return Err(HeaderError::BadCrc);
    }
    if first_seq != name_seq {
        return Err(HeaderError::SeqMismatch { header: first_seq });
    }
    Ok(first_seq)
}

/// Reads just the header of a segment file and validates it.
/// A vanished file is reported as [`HeaderError::Missing`], other IO errors as errors.
pub(crate) fn read_header(path: &Path, name_seq: u64) -> std::io::Result<Result<u64, HeaderError>> {
    let mut buf = Vec::with_capacity(SEGMENT_HEADER_LEN);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err(HeaderError::Missing)),
        Err(e) => return Err(e),
    };
    file.take(SEGMENT_HEADER_LEN_U64).read_to_end(&mut buf)?;
    Ok(decode_header(&buf, name_seq))
}

/// All segment files in `dir`, sorted by first seq. Directories, symlinks and files with other
/// names are ignored rather than rejected, so an operator's stray file cannot block startup.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>, WalError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(WalError::io("list directory", dir))? {
        let entry = entry.map_err(WalError::io("list directory", dir))?;
        let Some(first_seq) = parse_file_name(&entry.file_name()) else {
            continue;
        };
        let path = entry.path();
        let meta = entry
            .metadata()
            .map_err(WalError::io("stat segment", &path))?;
        if !meta.file_type().is_file() {
            continue;
        }
        segments.push(SegmentFile {
            first_seq,
            path,
            len: meta.len(),
        });
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// Creates the segment file for `first_seq`, writes its header and makes both the file and its
/// directory entry durable before returning, so that a synced record can never sit in a file
/// that disappears on power loss.
pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<(File, PathBuf), WalError> {
    let path = dir.join(file_name(first_seq));
    let created = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        // A same-named leftover can only be our own failed creation attempt (new names are always
        // above every existing one), so it holds no records and may be overwritten.
        .truncate(true)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(&encode_header(first_seq))?;
            file.sync_all()?;
            Ok(file)
        });
    match created {
        Ok(file) => {
            sync_dir(dir)?;
            Ok((file, path))
        }
        Err(source) => {
            // Best effort: a leftover header-only file is harmless (open() reuses or replaces
            // it), the original error is what the caller needs to see.
            if let Err(e) = fs::remove_file(&path) {
                tracing::debug!(segment = %path.display(), error = %e, "could not remove half-created wal segment");
            }
            Err(WalError::Io {
                op: "create segment",
                path,
                source,
            })
        }
    }
}

/// fsync of a directory, which is what makes creating or deleting a file in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(WalError::io("fsync directory", dir))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::test_dir;

    #[test]
    fn names_roundtrip_and_reject_garbage() {
        assert_eq!(file_name(7), "00000000000000000007.wal");
        assert_eq!(
            parse_file_name(OsStr::new(&file_name(u64::MAX))),
            Some(u64::MAX)
        );
        for bad in [
            "7.wal",
            "0000000000000000000x.wal",
            "00000000000000000007.wal.tmp",
            "00000000000000000007.WAL",
            "99999999999999999999.wal", // > u64::MAX
            "+0000000000000000007.wal",
            "README",
        ] {
            assert_eq!(parse_file_name(OsStr::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn header_roundtrip_and_rejections() {
        let h = encode_header(99);
        assert_eq!(decode_header(&h, 99), Ok(99));
        assert_eq!(
            decode_header(&h, 98),
            Err(HeaderError::SeqMismatch { header: 99 })
        );
        assert_eq!(decode_header(&h[..10], 99), Err(HeaderError::Short(10)));
        let mut bad = h;
        bad[0] ^= 1;
        assert_eq!(decode_header(&bad, 99), Err(HeaderError::BadMagic));
        let mut bad = h;
        bad[8] = 2;
        assert_eq!(decode_header(&bad, 99), Err(HeaderError::UnknownVersion(2)));
        let mut bad = h;
        bad[13] ^= 0x80;
        assert_eq!(decode_header(&bad, 99), Err(HeaderError::BadCrc));
    }

    #[test]
    fn list_sorts_and_ignores_strangers() {
        let dir = test_dir();
        let (_f, p10) = create(dir.path(), 10).unwrap();
        let (_f, p2) = create(dir.path(), 2).unwrap();
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        fs::write(dir.path().join("5.wal"), b"x").unwrap();
        fs::create_dir(dir.path().join(file_name(50))).unwrap();
        let listed = list(dir.path()).unwrap();
        let seqs: Vec<u64> = listed.iter().map(|s| s.first_seq).collect();
        assert_eq!(seqs, vec![2, 10]);
        assert_eq!(listed[0].path, p2);
        assert_eq!(listed[1].path, p10);
        assert!(listed.iter().all(|s| s.len == SEGMENT_HEADER_LEN_U64));
        assert_eq!(read_header(&listed[1].path, 10).unwrap(), Ok(10));
        let gone = dir.path().join(file_name(3));
        assert_eq!(read_header(&gone, 3).unwrap(), Err(HeaderError::Missing));
    }

    #[test]
    fn create_fails_cleanly_in_missing_dir() {
        let dir = test_dir();
        let missing = dir.path().join("nope");
        let err = create(&missing, 1).unwrap_err();
        assert!(
            matches!(
                err,
                WalError::Io {
                    op: "create segment",
                    ..
                }
            ),
            "{err}"
        );
    }
}
