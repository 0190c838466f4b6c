//! One file being tailed: its identity, its open handle (if any), where reading stands.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::fingerprint::{FileKey, Fingerprint};
use super::lines::{Line, LineReader};

/// What a stat of a tracked file found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Same file, maybe grown.
    Same,
    /// Shorter than what we read, or its first bytes changed: a new file in the same inode.
    Replaced,
    /// Unreachable: closed and its path now names another file or nothing.
    Lost,
}

#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) key: FileKey,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) path: Arc<Path>,
    /// `None` while closed to respect `max_open_files`; reopened by path when it changes.
    pub(crate) file: Option<File>,
    pub(crate) reader: LineReader,
    /// Size at the last stat.
    pub(crate) size: u64,
    /// Modification time at the last stat: a same-size rewrite still changes it.
    mtime: (i64, i64),
    /// When bytes were last read (or tracking began): drives partial flush, closing and LRU.
    pub(crate) last_data: Instant,
    /// Since when the file is no longer reachable by a matching path (rotated away or
    /// deleted); it is read to its end and dropped after `rotate_wait` without data.
    pub(crate) gone_since: Option<Instant>,
    /// The last read reached the end of the file.
    pub(crate) at_eof: bool,
}

impl Tracked {
    pub(crate) fn new(
        key: FileKey,
        fingerprint: Fingerprint,
        path: Arc<Path>,
        file: File,
        offset: u64,
        max_line_bytes: usize,
        now: Instant,
    ) -> Self {
        Self {
            key,
            fingerprint,
            path,
            file: Some(file),
            reader: LineReader::new(max_line_bytes, offset),
            size: 0,
            mtime: (0, 0),
            last_data: now,
            gone_since: None,
            at_eof: false,
        }
    }

    /// Re-stats the file; upgrades a short fingerprint as the file grows and notices when the
    /// inode now holds other content.
    pub(crate) fn refresh(&mut self, fingerprint_size: usize) -> io::Result<Change> {
        let (metadata, file) = match &self.file {
            Some(file) => (file.metadata()?, None),
            None => {
                // A stat by path is much cheaper than an open; reopen only on change.
                let Some(metadata) = std::fs::metadata(&self.path)
                    .ok()
                    .filter(|m| FileKey::of(m) == self.key)
                else {
                    return Ok(Change::Lost);
                };
                let unchanged = metadata.len() == self.size
                    && (metadata.mtime(), metadata.mtime_nsec()) == self.mtime;
                if unchanged {
                    return Ok(Change::Same);
                }
                match reopen(&self.path, self.key) {
                    Some((metadata, file)) => (metadata, Some(file)),
                    None => return Ok(Change::Lost),
                }
            }
        };
        let size = metadata.len();
        let mtime = (metadata.mtime(), metadata.mtime_nsec());
        let changed = size != self.size || mtime != self.mtime;
        self.size = size;
        self.mtime = mtime;
        if !changed {
            return Ok(Change::Same);
        }
        if let Some(file) = file {
            self.file = Some(file);
        }
        let Some(file) = &self.file else {
            return Ok(Change::Same);
        };
        if size < self.reader.next_offset() || !self.fingerprint.matches(file)? {
            return Ok(Change::Replaced);
        }
        let full = fingerprint_size as u32;
        if self.fingerprint.len < full && size > u64::from(self.fingerprint.len) {
            self.fingerprint = Fingerprint::read(file, fingerprint_size)?;
        }
        self.at_eof = false;
        Ok(Change::Same)
    }

    /// Starts over at byte 0 after the file was truncated or rewritten in place; the open
    /// handle is kept, since the path may already name another file.
    pub(crate) fn restart_from_zero(
        &mut self,
        fingerprint_size: usize,
        max_line_bytes: usize,
    ) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Err(io::Error::other("file is closed"));
        };
        self.fingerprint = Fingerprint::read(file, fingerprint_size)?;
        self.reader = LineReader::new(max_line_bytes, 0);
        self.at_eof = false;
        Ok(())
    }

    /// Whether this file was deleted (its last link removed) while open.
    pub(crate) fn is_deleted(&self) -> bool {
        self.file
            .as_ref()
            .and_then(|file| file.metadata().ok())
            .is_some_and(|metadata| metadata.nlink() == 0)
    }

    /// Reads at most `buf.len()` bytes at the reading position and cuts them into lines.
    /// Returns the number of bytes read (0 at the end of the file or while closed).
    pub(crate) fn read_chunk(&mut self, buf: &mut [u8], out: &mut Vec<Line>) -> io::Result<usize> {
        let Some(file) = &self.file else {
            return Ok(0);
        };
        let n = file.read_at(buf, self.reader.next_offset())?;
        if n == 0 {
            self.at_eof = true;
        }
        self.reader.push(&buf[..n], out);
        Ok(n)
    }
}

/// Opens `path` if it still names the file `key`.
fn reopen(path: &Path, key: FileKey) -> Option<(std::fs::Metadata, File)> {
    let file = File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    (FileKey::of(&metadata) == key).then_some((metadata, file))
}
