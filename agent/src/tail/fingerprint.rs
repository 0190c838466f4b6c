//! File identity: device and inode, plus a CRC of the first bytes so that a reused inode or a
//! rewritten file is not mistaken for the one we read before.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use serde::{Deserialize, Serialize};

/// Device and inode: which file this is while it exists (renames keep it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileKey {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl FileKey {
    /// The key of an open file or a stat result.
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
}

/// CRC32C of the first `len` bytes of a file. `len` is the configured fingerprint size, or
/// less for a file that was smaller when first identified (upgraded as it grows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// CRC32C of the bytes.
    pub crc: u32,
    /// How many bytes it covers.
    pub len: u32,
}

impl Fingerprint {
    /// Reads the first `len` bytes (fewer if the file is shorter) and fingerprints them.
    ///
    /// # Errors
    /// The read error.
    pub fn read(file: &File, len: usize) -> io::Result<Self> {
        let mut buf = vec![0; len];
        let mut filled = 0;
        while filled < len {
            let n = file.read_at(&mut buf[filled..], filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(Self {
            crc: crc32c::crc32c(&buf[..filled]),
            len: filled as u32,
        })
    }

    /// Whether `file` still starts with the bytes this fingerprint covers.
    ///
    /// # Errors
    /// The read error.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let now = Self::read(file, self.len as usize)?;
        Ok(now == *self)
    }
}
