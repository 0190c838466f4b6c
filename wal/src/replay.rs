//! Reading all segments in order, skipping and counting whatever is damaged.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::config::WalReport;
use crate::error::WalError;
use crate::scan::{ScanItem, Scanner};
use crate::segment::{self, HeaderError, SEGMENT_HEADER_LEN};

/// One segment file to replay.
pub(crate) struct ReplaySegment<'a> {
    /// The segment file.
    pub(crate) path: &'a Path,
    /// First seq according to the file name.
    pub(crate) first_seq: u64,
    /// Read at most this many bytes (the active segment's known-valid length).
    pub(crate) limit: Option<u64>,
}

/// Replays `segments` (ascending by first seq), see `Wal::replay`.
///
/// Guarantees strictly increasing seqs across the whole replay: a record whose seq is not below
/// the first seq of the next valid segment is dropped, because the writer only creates a segment
/// starting at `next_seq`, so the later segment is the one that reflects the writer's view.
pub(crate) fn replay(
    segments: &[ReplaySegment<'_>],
    from_seq: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), WalError>,
) -> Result<WalReport, WalError> {
    let mut report = WalReport::default();
    // First pass over the headers only, so each segment's upper bound is known before its
    // records are handed out.
    let headers = segments
        .iter()
        .map(|s| {
            segment::read_header(s.path, s.first_seq)
                .map_err(WalError::io("read segment header", s.path))
        })
        .collect::<Result<Vec<Result<u64, HeaderError>>, WalError>>()?;
    let mut bounds = vec![None; segments.len()];
    let mut next_valid = None;
    for (i, header) in headers.iter().enumerate().rev() {
        bounds[i] = next_valid;
        if let Ok(first_seq) = header {
            next_valid = Some(*first_seq);
        }
    }

    let mut last_emitted: Option<u64> = None;
    // Seq the next segment should start at, known only if the previous one ended cleanly.
    let mut expected_next: Option<u64> = None;
    for ((seg, header), bound) in segments.iter().zip(&headers).zip(bounds) {
        let name = seg.path.display();
        if bound.is_some_and(|b| b <= from_seq) {
            // Everything in it is below from_seq: don't read it (and don't report on it).
            expected_next = None;
            continue;
        }
        let first_seq = match header {
            Ok(first_seq) => *first_seq,
            Err(reason) => {
                tracing::warn!(segment = %name, %reason, "skipping unusable wal segment");
                report.skipped_segments += 1;
                expected_next = None;
                continue;
            }
        };
        if let Some(expected) = expected_next
            && first_seq > expected
        {
            tracing::warn!(segment = %name, missing_from = expected, missing_to = first_seq - 1, "wal segment missing: gap in seqs");
            report.skipped_segments += 1;
        }
        let buf = match read(seg) {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::warn!(segment = %name, "wal segment vanished during replay");
                report.skipped_segments += 1;
                expected_next = None;
                continue;
            }
            Err(e) => return Err(WalError::io("read segment", seg.path)(e)),
        };
        let mut scanner = Scanner::new(&buf, SEGMENT_HEADER_LEN, first_seq);
        for item in scanner.by_ref() {
            match item {
                ScanItem::Record {
                    offset,
                    seq,
                    payload,
                } => {
                    let overlaps = bound.is_some_and(|b| seq >= b);
                    if overlaps || last_emitted.is_some_and(|l| seq <= l) {
                        tracing::warn!(segment = %name, offset, seq, "dropping wal record whose seq overlaps another segment");
                        report.corrupt_records += 1;
                        continue;
                    }
                    last_emitted = Some(seq);
                    if seq >= from_seq {
                        report.replayed_records += 1;
                        report.replayed_bytes += payload.len() as u64;
                        visit(seq, payload)?;
                    }
                }
                ScanItem::Corrupt { offset, len } => {
                    tracing::warn!(segment = %name, offset, bytes = len, "skipping corrupt wal record");
                    report.corrupt_records += 1;
                }
            }
        }
        let ended_clean = scanner.valid_end() == buf.len();
        expected_next = scanner
            .last_seq()
            .filter(|_| ended_clean)
            .and_then(|s| s.checked_add(1));
    }
    Ok(report)
}

/// Reads a whole segment (up to its limit) into memory.
fn read(seg: &ReplaySegment<'_>) -> std::io::Result<Vec<u8>> {
    let mut buf = fs::read(seg.path)?;
    if let Some(limit) = seg.limit.and_then(|l| usize::try_from(l).ok()) {
        buf.truncate(limit);
    }
    Ok(buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::{open, replay_all, test_dir};

    #[test]
    fn from_seq_filters_and_skips_old_segments() {
        let dir = test_dir();
        let (mut wal, _) = open(dir.path(), 100);
        for i in 0..20u8 {
            wal.append(&[i; 30]).unwrap();
        }
        let (all, _) = replay_all(&wal);
        assert_eq!(all.len(), 20);
        let mut got = Vec::new();
        let report = wal
            .replay(13, |seq, p| {
                got.push((seq, p.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(got, all[13..].to_vec());
        assert_eq!(
            (report.replayed_records, report.replayed_bytes),
            (7, 7 * 30)
        );
    }

    #[test]
    fn visitor_error_stops_replay() {
        let dir = test_dir();
        let (mut wal, _) = open(dir.path(), 4096);
        for _ in 0..5 {
            wal.append(b"x").unwrap();
        }
        let mut seen = 0;
        let err = wal
            .replay(0, |seq, _| {
                seen += 1;
                if seq == 2 {
                    return Err(WalError::Visitor("stop here".into()));
                }
                Ok(())
            })
            .unwrap_err();
        assert_eq!(seen, 3);
        assert_eq!(err.to_string(), "wal replay visitor failed: stop here");
    }
}
