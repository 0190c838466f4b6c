//! Helpers shared by the WAL's tests.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::scan::{ScanItem, Scanner};
use crate::segment::{self, SEGMENT_HEADER_LEN};
use crate::{Wal, WalConfig, WalReport};

/// A temporary directory, on tmpfs when available so that fsync costs nothing.
pub(crate) fn test_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.try_exists().unwrap_or(false)
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

/// A config for `dir` with the given segment size and a 64 KiB record limit.
pub(crate) fn config(dir: &Path, segment_max_bytes: u64) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        segment_max_bytes,
        max_record_bytes: 64 * 1024,
    }
}

/// Opens a WAL in `dir` with [`config`] and `min_next_seq` 0.
pub(crate) fn open(dir: &Path, segment_max_bytes: u64) -> (Wal, WalReport) {
    Wal::open(config(dir, segment_max_bytes), 0).unwrap()
}

/// All records from seq 0, plus the report.
pub(crate) fn replay_all(wal: &Wal) -> (Vec<(u64, Vec<u8>)>, WalReport) {
    let mut out = Vec::new();
    let report = wal
        .replay(0, |seq, payload| {
            out.push((seq, payload.to_vec()));
            Ok(())
        })
        .unwrap();
    (out, report)
}

/// Where a record sits on disk.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    /// The segment file.
    pub(crate) path: PathBuf,
    /// Offset of the frame.
    pub(crate) offset: usize,
    /// Frame length including its header.
    pub(crate) frame_len: usize,
}

/// Finds the valid frame of record `seq` in any segment in `dir`.
pub(crate) fn locate(dir: &Path, seq: u64) -> Option<Located> {
    for seg in segment::list(dir).unwrap() {
        let buf = std::fs::read(&seg.path).unwrap();
        for item in Scanner::new(&buf, SEGMENT_HEADER_LEN, seg.first_seq) {
            if let ScanItem::Record {
                offset,
                seq: s,
                payload,
            } = item
                && s == seq
            {
                return Some(Located {
                    path: seg.path,
                    offset,
                    frame_len: payload.len() + crate::frame::FRAME_HEADER_LEN,
                });
            }
        }
    }
    None
}

/// Sum of the sizes of all segment files in `dir`, as `Wal::disk_bytes` should report.
pub(crate) fn segment_bytes(dir: &Path) -> u64 {
    segment::list(dir).unwrap().iter().map(|s| s.len).sum()
}
