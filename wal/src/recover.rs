//! Open-time recovery: list the segments, repair the end of the log, pick the next seq.

use std::fs;
use std::path::{Path, PathBuf};

use crate::active::ActiveSegment;
use crate::config::WalReport;
use crate::error::WalError;
use crate::frame;
use crate::scan::Scanner;
use crate::segment::{self, SEGMENT_HEADER_LEN, SEGMENT_HEADER_LEN_U64, SegmentFile};

/// A segment that is no longer appended to.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    /// First seq according to the file name.
    pub(crate) first_seq: u64,
    /// The segment file.
    pub(crate) path: PathBuf,
    /// File length.
    pub(crate) len: u64,
    /// Whether the header checked out at open. Only valid segments bound the seqs of their
    /// predecessors (see `truncate_below`).
    pub(crate) valid: bool,
}

/// The state `Wal::open` starts from.
pub(crate) struct Recovery {
    /// Non-active segments, ascending.
    pub(crate) sealed: Vec<SealedSegment>,
    /// The segment to append to.
    pub(crate) active: ActiveSegment,
    /// The seq of the next record.
    pub(crate) next_seq: u64,
    /// A segment was removed and the directory still needs an fsync.
    pub(crate) dir_dirty: bool,
}

/// Brings `dir` into a state the WAL can append to; see `Wal::open` for the rules.
pub(crate) fn recover(
    dir: &Path,
    min_next_seq: u64,
    report: &mut WalReport,
) -> Result<Recovery, WalError> {
    ensure_dir(dir)?;
    let mut files = segment::list(dir)?;
    let mut dir_dirty = false;
    while let Some(last) = files.pop_if(|f| f.len < SEGMENT_HEADER_LEN_U64) {
        // Shorter than a header: segment creation was interrupted before the header was
        // synced, so the file cannot hold a single record. Removing it lets the previous
        // segment continue instead of leaving a gap or an unreadable tail.
        tracing::warn!(segment = %last.path.display(), bytes = last.len, "removing half-created wal segment");
        fs::remove_file(&last.path).map_err(WalError::io("remove segment", &last.path))?;
        report.skipped_segments += 1;
        report.torn_tail_bytes += last.len;
        dir_dirty = true;
    }
    let last = files.pop();
    let mut sealed: Vec<SealedSegment> = files.into_iter().map(seal_listed).collect();
    let (active, next_seq) = match last.map(|f| recover_last(f, report)).transpose()? {
        Some(Recovered::Active { active, next_seq }) => (active, next_seq.max(min_next_seq)),
        Some(Recovered::Unusable { seg, above }) => {
            let next_seq = above.max(min_next_seq);
            sealed.push(seg);
            (ActiveSegment::create(dir, next_seq)?, next_seq)
        }
        None => (ActiveSegment::create(dir, min_next_seq)?, min_next_seq),
    };
    Ok(Recovery {
        sealed,
        active,
        next_seq,
        dir_dirty,
    })
}

/// What `open` makes of the highest-numbered segment.
enum Recovered {
    /// Valid header: it stays the active segment.
    Active {
        active: ActiveSegment,
        next_seq: u64,
    },
    /// Unreadable or bad header: keep it (replay skips it), continue in a new segment whose
    /// first seq is at least `above`.
    Unusable { seg: SealedSegment, above: u64 },
}

/// Validates the last segment and cuts its torn tail.
fn recover_last(f: SegmentFile, report: &mut WalReport) -> Result<Recovered, WalError> {
    let buf = match fs::read(&f.path) {
        Ok(buf) => buf,
        Err(e) => {
            // Not fatal: the file is left for an operator, the log carries on next to it.
            tracing::warn!(segment = %f.path.display(), error = %e, "cannot read last wal segment; starting a new one");
            let above = f.first_seq.saturating_add(1);
            return Ok(Recovered::Unusable {
                seg: seal(f, false),
                above,
            });
        }
    };
    let header = segment::decode_header(&buf, f.first_seq);
    let mut scanner = Scanner::new(&buf, SEGMENT_HEADER_LEN, f.first_seq);
    scanner.by_ref().for_each(drop);
    // Seqs this file holds stay unused. That includes the torn record right after the last good
    // one if its header survived: it may have been read by a replica or a reader before the
    // crash, and reusing its seq for different content would be confusing at best.
    let last_seq = scanner.last_seq();
    let torn_seq = buf
        .get(scanner.valid_end()..)
        .and_then(frame::decode_header)
        .map(|h| h.seq)
        .filter(|s| *s >= f.first_seq && last_seq.is_none_or(|l| *s > l));
    let above = last_seq
        .max(torn_seq)
        .map_or(f.first_seq, |s| s.saturating_add(1));
    if let Err(reason) = header {
        tracing::warn!(segment = %f.path.display(), %reason, "last wal segment has an unusable header; starting a new one");
        let above = above.max(f.first_seq.saturating_add(1));
        return Ok(Recovered::Unusable {
            seg: seal(f, false),
            above,
        });
    }
    let valid_end = scanner.valid_end() as u64;
    if valid_end < f.len {
        tracing::warn!(segment = %f.path.display(), offset = valid_end, bytes = f.len - valid_end, "truncating torn wal tail");
        report.torn_tail_bytes += f.len - valid_end;
    }
    let active = ActiveSegment::resume(f.path, f.first_seq, valid_end, scanner.last_seq())?;
    Ok(Recovered::Active {
        active,
        next_seq: above,
    })
}

/// Turns a listed non-last segment into a sealed one, checking its header. An unreadable file
/// counts as invalid rather than failing open: replay will skip and report it.
fn seal_listed(f: SegmentFile) -> SealedSegment {
    let valid = match segment::read_header(&f.path, f.first_seq) {
        Ok(header) => header.is_ok(),
        Err(e) => {
            tracing::warn!(segment = %f.path.display(), error = %e, "cannot read wal segment header");
            false
        }
    };
    seal(f, valid)
}

fn seal(f: SegmentFile, valid: bool) -> SealedSegment {
    SealedSegment {
        first_seq: f.first_seq,
        path: f.path,
        len: f.len,
        valid,
    }
}

/// Creates the WAL directory if needed, making its entry in the parent durable too.
fn ensure_dir(dir: &Path) -> Result<(), WalError> {
    if dir
        .try_exists()
        .map_err(WalError::io("stat directory", dir))?
    {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(WalError::io("create directory", dir))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        segment::sync_dir(parent)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::test_dir;

    #[test]
    fn empty_dir_starts_at_min_next_seq() {
        let dir = test_dir();
        let mut report = WalReport::default();
        let r = recover(&dir.path().join("new"), 42, &mut report).unwrap();
        assert_eq!(r.next_seq, 42);
        assert_eq!(r.active.first_seq(), 42);
        assert!(r.sealed.is_empty());
    }

    #[test]
    fn torn_record_seq_stays_unused_and_tail_is_cut() {
        let dir = test_dir();
        let mut seg = ActiveSegment::create(dir.path(), 5).unwrap();
        let mut buf = Vec::new();
        frame::encode(&mut buf, 5, 3, b"abc");
        seg.append(&buf, 5).unwrap();
        frame::encode(&mut buf, 6, 3, b"def");
        seg.append(&buf[..buf.len() - 1], 6).unwrap(); // torn: last payload byte missing
        let path = seg.path().to_path_buf();
        drop(seg);
        let mut report = WalReport::default();
        let r = recover(dir.path(), 0, &mut report).unwrap();
        assert_eq!(report.torn_tail_bytes, 22);
        assert_eq!(r.next_seq, 7);
        assert_eq!(r.active.last_seq(), Some(5));
        assert_eq!(fs::metadata(path).unwrap().len(), 24 + 23);
    }

    #[test]
    fn unreadable_header_of_sealed_segment_marks_it_invalid() {
        let dir = test_dir();
        fs::write(
            dir.path().join(segment::file_name(0)),
            b"not a wal segment at all",
        )
        .unwrap();
        drop(ActiveSegment::create(dir.path(), 10).unwrap());
        let mut report = WalReport::default();
        let r = recover(dir.path(), 0, &mut report).unwrap();
        assert_eq!(r.sealed.len(), 1);
        assert!(!r.sealed[0].valid);
        assert_eq!((r.active.first_seq(), r.next_seq), (10, 10));
    }
}
