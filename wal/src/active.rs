//! The segment currently appended to: writes, rollback after a failed write, and fsync.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::segment::{self, SEGMENT_HEADER_LEN_U64};

/// The open, writable tail segment.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    file: File,
    path: PathBuf,
    first_seq: u64,
    /// Length of the valid content; the file position is kept here.
    len: u64,
    /// Prefix of the file known to be on stable storage.
    synced_len: u64,
    /// Seq of the last record in the segment.
    last_seq: Option<u64>,
    /// A failed write could not be cut off yet; retried before the next write or sync.
    needs_rollback: bool,
    /// An fsync failed, see [`WalError::Poisoned`].
    poisoned: bool,
    /// Test hook: the next record write stores only this many bytes, then fails.
    #[cfg(test)]
    fail_next_write: Option<usize>,
}

impl ActiveSegment {
    /// Creates a fresh, durable segment file starting at `first_seq`.
    pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<Self, WalError> {
        let (file, path) = segment::create(dir, first_seq)?;
        Ok(Self::new(
            file,
            path,
            first_seq,
            SEGMENT_HEADER_LEN_U64,
            None,
        ))
    }

    /// Continues an existing segment whose valid content ends at `valid_len` with record
    /// `last_seq`, cutting off whatever follows (a torn tail). Syncs, so `synced_len` is truthful
    /// from the start even if the previous process died before syncing.
    pub(crate) fn resume(
        path: PathBuf,
        first_seq: u64,
        valid_len: u64,
        last_seq: Option<u64>,
    ) -> Result<Self, WalError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(WalError::io("open segment", &path))?;
        let on_disk = file
            .metadata()
            .map_err(WalError::io("stat segment", &path))?
            .len();
        if on_disk != valid_len {
            file.set_len(valid_len)
                .map_err(WalError::io("truncate torn tail of segment", &path))?;
        }
        file.sync_data()
            .map_err(WalError::io("fsync segment", &path))?;
        file.seek(SeekFrom::Start(valid_len))
            .map_err(WalError::io("seek segment", &path))?;
        Ok(Self::new(file, path, first_seq, valid_len, last_seq))
    }

    fn new(file: File, path: PathBuf, first_seq: u64, len: u64, last_seq: Option<u64>) -> Self {
        Self {
            file,
            path,
            first_seq,
            len,
            synced_len: len,
            last_seq,
            needs_rollback: false,
            poisoned: false,
            #[cfg(test)]
            fail_next_write: None,
        }
    }

    /// Path of the segment file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// First seq, as in the file name.
    pub(crate) fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Length of the valid content.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Bytes known to be on stable storage.
    pub(crate) fn synced_len(&self) -> u64 {
        self.synced_len
    }

    /// Seq of the last record written to this segment.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Whether any record follows the header. Only such segments are rolled over, which keeps
    /// header-only segments from piling up when one record exceeds `segment_max_bytes`.
    pub(crate) fn has_records(&self) -> bool {
        self.len > SEGMENT_HEADER_LEN_U64
    }

    /// Appends one encoded frame for record `seq`. On failure the file is cut back to its old
    /// length so no partial frame stays behind: otherwise the next record would sit behind
    /// garbage and, in the last segment, be thrown away with the "torn tail" on the next open.
    pub(crate) fn append(&mut self, frame: &[u8], seq: u64) -> Result<(), WalError> {
        self.ensure_usable()?;
        if let Err(source) = self.write(frame) {
            if let Err(e) = self.rollback() {
                tracing::warn!(segment = %self.path.display(), offset = self.len, error = %e, "could not cut off failed wal write; will retry");
                self.needs_rollback = true;
            }
            return Err(WalError::Append {
                path: self.path.clone(),
                offset: self.len,
                seq,
                source,
            });
        }
        self.len += frame.len() as u64;
        self.last_seq = Some(seq);
        Ok(())
    }

    /// fdatasync of the segment, skipped if nothing was written since the last one.
    pub(crate) fn sync(&mut self) -> Result<(), WalError> {
        self.ensure_usable()?;
        if self.synced_len == self.len {
            return Ok(());
        }
        if let Err(e) = self.file.sync_data() {
            self.poisoned = true;
            return Err(WalError::io("fsync segment", &self.path)(e));
        }
        self.synced_len = self.len;
        Ok(())
    }

    /// Refuses to work after a failed fsync and finishes a pending rollback first.
    fn ensure_usable(&mut self) -> Result<(), WalError> {
        if self.poisoned {
            return Err(WalError::Poisoned {
                path: self.path.clone(),
            });
        }
        if self.needs_rollback {
            self.rollback()
                .map_err(WalError::io("truncate failed write in segment", &self.path))?;
        }
        Ok(())
    }

    fn rollback(&mut self) -> io::Result<()> {
        self.file.set_len(self.len)?;
        self.file.seek(SeekFrom::Start(self.len))?;
        self.needs_rollback = false;
        Ok(())
    }

    fn write(&mut self, frame: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(keep) = self.fail_next_write.take() {
            self.file.write_all(&frame[..keep.min(frame.len())])?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected write failure",
            ));
        }
        self.file.write_all(frame)
    }

    /// Makes the next record write store only `keep` bytes and then fail like ENOSPC would.
    #[cfg(test)]
    pub(crate) fn inject_write_failure(&mut self, keep: usize) {
        self.fail_next_write = Some(keep);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::test_dir;

    #[test]
    fn append_sync_and_failed_write_rollback() {
        let dir = test_dir();
        let mut seg = ActiveSegment::create(dir.path(), 3).unwrap();
        assert_eq!((seg.len(), seg.synced_len()), (24, 24));
        assert!(!seg.has_records());
        seg.append(&[1; 30], 3).unwrap();
        assert_eq!(seg.last_seq(), Some(3));
        assert_eq!((seg.len(), seg.synced_len()), (54, 24));
        seg.sync().unwrap();
        assert_eq!(seg.synced_len(), 54);

        seg.inject_write_failure(7);
        let err = seg.append(&[2; 30], 4).unwrap_err();
        assert!(
            matches!(
                err,
                WalError::Append {
                    offset: 54,
                    seq: 4,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::metadata(seg.path()).unwrap().len(), 54);

        assert_eq!(seg.last_seq(), Some(3));
        seg.append(&[3; 10], 4).unwrap();
        let bytes = std::fs::read(seg.path()).unwrap();
        assert_eq!(bytes.len(), 64);
        assert_eq!(&bytes[54..], &[3; 10]);
    }

    #[test]
    fn resume_cuts_tail() {
        let dir = test_dir();
        let path = {
            let mut seg = ActiveSegment::create(dir.path(), 0).unwrap();
            seg.append(&[9; 40], 0).unwrap();
            seg.path().to_path_buf()
        };
        let mut seg = ActiveSegment::resume(path.clone(), 0, 30, None).unwrap();
        assert_eq!((seg.len(), seg.synced_len()), (30, 30));
        seg.append(&[1; 2], 1).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 32);
    }
}
