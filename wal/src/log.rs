//! The [`Wal`] handle: appending, syncing, truncating, and the entry points for open and replay.

use std::fs;
use std::path::{Path, PathBuf};

use crate::active::ActiveSegment;
use crate::config::{WalConfig, WalReport};
use crate::error::WalError;
use crate::frame::{self, FRAME_HEADER_LEN};
use crate::recover::{self, Recovery, SealedSegment};
use crate::replay::{self, ReplaySegment};
use crate::segment;

/// A write-ahead log in one directory. Writing needs `&mut self`; share it behind a mutex.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segment_max_bytes: u64,
    max_record_bytes: u32,
    /// Older segments, ascending by first seq; all of them are fully synced.
    sealed: Vec<SealedSegment>,
    active: ActiveSegment,
    next_seq: u64,
    /// A segment was deleted and the directory not fsynced since.
    dir_dirty: bool,
    /// Reused encode buffer, so appends don't allocate.
    frame_buf: Vec<u8>,
    /// Test hook, see `inject_write_failure`.
    #[cfg(test)]
    fail_next_write: Option<usize>,
}

impl Wal {
    /// Opens (creating dir if needed) the WAL. `min_next_seq`: the next sequence number is at least this
    /// (so seq never goes backwards even if every segment was truncated away). Validates the last segment's
    /// tail: a torn/corrupt tail is truncated (counted in report.torn_tail_bytes). Never fails because of
    /// corrupt content, only for IO errors on the directory itself.
    ///
    /// Details: a last segment shorter than a header (a crash while creating it) is deleted and
    /// the one before it continues as the active segment. A last segment with a bad or
    /// unknown-version header is left alone (replay skips it) and a new segment is started above
    /// every seq it may hold. Segments whose first seq is below `min_next_seq` are kept as they
    /// are; appends then simply jump ahead in seq.
    pub fn open(config: WalConfig, min_next_seq: u64) -> Result<(Wal, WalReport), WalError> {
        let mut report = WalReport::default();
        let Recovery {
            sealed,
            active,
            next_seq,
            dir_dirty,
        } = recover::recover(&config.dir, min_next_seq, &mut report)?;
        let mut wal = Wal {
            dir: config.dir,
            segment_max_bytes: config.segment_max_bytes,
            max_record_bytes: config.max_record_bytes,
            sealed,
            active,
            next_seq,
            dir_dirty,
            frame_buf: Vec::new(),
            #[cfg(test)]
            fail_next_write: None,
        };
        wal.sync()?;
        tracing::debug!(dir = %wal.dir.display(), segments = wal.sealed.len() + 1, next_seq, "opened wal");
        Ok((wal, report))
    }

    /// Reads every valid record with seq >= from_seq, in order, calling `visit(seq, payload)`. Corrupt records
    /// are skipped (resync to the next valid record by scanning), counted in the report and logged with
    /// tracing::warn!(segment=..., offset=..., "skipping corrupt wal record"). A segment with a bad header /
    /// unknown version is skipped whole and counted. Must not hang on any input. If `visit` returns Err, stop and return it.
    ///
    /// Each segment is read into memory whole, so peak memory is about one segment.
    pub fn replay(
        &self,
        from_seq: u64,
        visit: impl FnMut(u64, &[u8]) -> Result<(), WalError>,
    ) -> Result<WalReport, WalError> {
        let mut segments: Vec<ReplaySegment<'_>> = self
            .sealed
            .iter()
            .map(|s| ReplaySegment {
                path: &s.path,
                first_seq: s.first_seq,
                limit: None,
            })
            .collect();
        segments.push(ReplaySegment {
            path: self.active.path(),
            first_seq: self.active.first_seq(),
            // Never read past what we know is valid, e.g. a failed write not yet cut off.
            limit: Some(self.active.len()),
        });
        replay::replay(&segments, from_seq, visit)
    }

    /// Appends one record (written to the OS, not yet synced); returns its seq. Rolls to a new segment when the
    /// active one would exceed segment_max_bytes. On a write error (e.g. ENOSPC) the partial record is cut off
    /// again (set_len back) so the log stays valid, and the error is returned; the WAL stays usable.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, WalError> {
        let too_large = || WalError::RecordTooLarge {
            len: payload.len(),
            max: self.max_record_bytes,
        };
        let len = u32::try_from(payload.len()).map_err(|_| too_large())?;
        if len > self.max_record_bytes {
            return Err(too_large());
        }
        let seq = self.next_seq;
        // u64::MAX stays unused so that next_seq (seq + 1) can always be represented.
        if seq == u64::MAX {
            return Err(WalError::SeqExhausted { seq });
        }
        let frame_len = FRAME_HEADER_LEN as u64 + u64::from(len);
        if self.active.has_records()
            && self.active.len().saturating_add(frame_len) > self.segment_max_bytes
        {
            self.rotate()?;
        }
        frame::encode(&mut self.frame_buf, seq, len, payload);
        #[cfg(test)]
        if let Some(keep) = self.fail_next_write.take() {
            self.active.inject_write_failure(keep);
        }
        self.active.append(&self.frame_buf, seq)?;
        self.next_seq = seq + 1;
        Ok(seq)
    }

    /// fdatasync of the active segment (and the directory after a segment was created/deleted).
    /// After Ok, every appended record survives a crash/power loss.
    ///
    /// After an fsync error every further `sync`/`append` fails with [`WalError::Poisoned`]; drop
    /// the WAL and open it again.
    pub fn sync(&mut self) -> Result<(), WalError> {
        self.active.sync()?;
        if self.dir_dirty {
            segment::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Deletes whole non-active segments all of whose records have seq < `seq`. Never deletes the active segment.
    ///
    /// Decided from file names alone (no reads): every record of a segment is below the first
    /// seq of the next valid segment. The deletions become durable with the next `sync`.
    pub fn truncate_below(&mut self, seq: u64) -> Result<(), WalError> {
        // bounds[i] = first seq of the next valid segment after sealed[i]; non-decreasing, so
        // the deletable segments form a prefix.
        let mut bound = self.active.first_seq();
        let mut bounds = vec![0; self.sealed.len()];
        for (i, s) in self.sealed.iter().enumerate().rev() {
            bounds[i] = bound;
            if s.valid {
                bound = s.first_seq;
            }
        }
        let deletable = bounds.iter().take_while(|b| **b <= seq).count();
        let mut removed = 0;
        let mut result = Ok(());
        for s in &self.sealed[..deletable] {
            match fs::remove_file(&s.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    result = Err(WalError::io("remove segment", &s.path)(e));
                    break;
                }
            }
            removed += 1;
        }
        if removed > 0 {
            self.sealed.drain(..removed);
            self.dir_dirty = true;
            tracing::debug!(segments = removed, below = seq, "truncated wal");
        }
        result
    }

    /// The seq the next appended record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes of all segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.sealed.iter().map(|s| s.len).sum::<u64>() + self.active.len()
    }

    /// Length of the active segment that is known synced, and its path (used by crash-simulation tests).
    pub fn synced_len(&self) -> u64 {
        self.active.synced_len()
    }

    /// Path of the segment currently appended to.
    pub fn active_segment_path(&self) -> &Path {
        self.active.path()
    }

    /// Seals the active segment and starts the next one.
    fn rotate(&mut self) -> Result<(), WalError> {
        // The old segment must be durable before its successor exists: `sync` only fsyncs the
        // active file, and a crash must never keep later records while losing earlier ones.
        self.active.sync()?;
        // Named right after the last record rather than at next_seq: next_seq may have jumped
        // (min_next_seq, a torn record's seq kept unused), and a name gap would look like a
        // missing segment to replay. The name only needs to be a lower bound for its records.
        let first_seq = self
            .active
            .last_seq()
            .map_or(self.next_seq, |s| s.saturating_add(1));
        let next = ActiveSegment::create(&self.dir, first_seq)?;
        let old = std::mem::replace(&mut self.active, next);
        self.sealed.push(SealedSegment {
            first_seq: old.first_seq(),
            path: old.path().to_path_buf(),
            len: old.len(),
            valid: true,
        });
        Ok(())
    }

    /// Makes the next record write fail after `keep` bytes (test hook for ENOSPC handling).
    /// Applied after a possible rotation, so it always hits the record itself.
    #[cfg(test)]
    pub(crate) fn inject_write_failure(&mut self, keep: usize) {
        self.fail_next_write = Some(keep);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::{config, open, replay_all, segment_bytes, test_dir};

    #[test]
    fn roundtrip_with_rotation_empty_payloads_and_reopen() {
        let dir = test_dir();
        let nested = dir.path().join("a/b");
        let (mut wal, report) = Wal::open(config(&nested, 200), 0).unwrap();
        assert_eq!(report.torn_tail_bytes + report.skipped_segments, 0);
        let mut expected = Vec::new();
        for i in 0..30u64 {
            let payload = vec![i as u8; (i % 4 * 20) as usize];
            assert_eq!(wal.append(&payload).unwrap(), i);
            expected.push((i, payload));
        }
        assert!(
            segment::list(&nested).unwrap().len() > 5,
            "rotation should have happened"
        );
        assert_eq!(wal.disk_bytes(), segment_bytes(&nested));
        assert_eq!(replay_all(&wal).0, expected);
        drop(wal);
        let (wal, report) = Wal::open(config(&nested, 200), 0).unwrap();
        assert_eq!(report.torn_tail_bytes, 0);
        let (got, report) = replay_all(&wal);
        assert_eq!(got, expected);
        assert_eq!((report.corrupt_records, report.skipped_segments), (0, 0));
        assert_eq!(wal.next_seq(), 30);
    }

    #[test]
    fn min_next_seq_only_moves_forward() {
        let dir = test_dir();
        let (mut wal, _) = Wal::open(config(dir.path(), 4096), 50).unwrap();
        assert_eq!(wal.append(b"a").unwrap(), 50);
        drop(wal);
        let (mut wal, _) = Wal::open(config(dir.path(), 4096), 10).unwrap();
        assert_eq!(wal.append(b"b").unwrap(), 51);
        drop(wal);
        // A jump inside the same segment is fine: seqs only have to increase.
        let (mut wal, _) = Wal::open(config(dir.path(), 4096), 1000).unwrap();
        assert_eq!(wal.append(b"c").unwrap(), 1000);
        let seqs: Vec<u64> = replay_all(&wal).0.into_iter().map(|r| r.0).collect();
        assert_eq!(seqs, vec![50, 51, 1000]);
    }

    #[test]
    fn record_too_large_is_rejected_without_side_effects() {
        let dir = test_dir();
        let mut cfg = config(dir.path(), 4096);
        cfg.max_record_bytes = 10;
        let (mut wal, _) = Wal::open(cfg, 0).unwrap();
        wal.append(&[1; 10]).unwrap();
        let err = wal.append(&[1; 11]).unwrap_err();
        assert!(
            matches!(err, WalError::RecordTooLarge { len: 11, max: 10 }),
            "{err}"
        );
        assert_eq!(wal.append(b"").unwrap(), 1);
        assert_eq!(replay_all(&wal).0.len(), 2);
    }

    #[test]
    fn failed_write_is_cut_off_and_wal_stays_usable() {
        let dir = test_dir();
        let (mut wal, _) = open(dir.path(), 4096);
        wal.append(b"first").unwrap();
        wal.sync().unwrap();
        let len_before = fs::metadata(wal.active_segment_path()).unwrap().len();
        for keep in [0, 3, 20, 24] {
            wal.inject_write_failure(keep);
            let err = wal.append(b"doomed").unwrap_err();
            assert!(matches!(err, WalError::Append { seq: 1, .. }), "{err}");
            assert_eq!(
                fs::metadata(wal.active_segment_path()).unwrap().len(),
                len_before
            );
            assert_eq!(wal.next_seq(), 1);
        }
        assert_eq!(wal.append(b"second").unwrap(), 1);
        wal.sync().unwrap();
        drop(wal);
        let (wal, report) = open(dir.path(), 4096);
        assert_eq!(report.torn_tail_bytes, 0);
        let (got, report) = replay_all(&wal);
        assert_eq!(got, vec![(0, b"first".to_vec()), (1, b"second".to_vec())]);
        assert_eq!(report.corrupt_records, 0);
    }

    #[test]
    fn truncate_below_keeps_needed_and_active_segments() {
        let dir = test_dir();
        let (mut wal, _) = open(dir.path(), 100);
        for _ in 0..10 {
            wal.append(&[7; 40]).unwrap(); // 60-byte frames: one record per segment
        }
        assert_eq!(segment::list(dir.path()).unwrap().len(), 10);
        wal.truncate_below(4).unwrap();
        wal.sync().unwrap();
        let seqs: Vec<u64> = replay_all(&wal).0.into_iter().map(|r| r.0).collect();
        assert_eq!(seqs, (4..10).collect::<Vec<_>>());
        assert_eq!(wal.disk_bytes(), segment_bytes(dir.path()));
        wal.truncate_below(u64::MAX).unwrap();
        assert_eq!(
            replay_all(&wal).0.len(),
            1,
            "active segment is never deleted"
        );
        assert!(wal.active_segment_path().try_exists().unwrap());
        assert_eq!(wal.append(b"x").unwrap(), 10);
    }

    #[test]
    fn synced_len_tracks_sync() {
        let dir = test_dir();
        let (mut wal, _) = open(dir.path(), 4096);
        let start = wal.synced_len();
        wal.append(b"abc").unwrap();
        assert_eq!(wal.synced_len(), start);
        wal.sync().unwrap();
        assert_eq!(wal.synced_len(), start + 23);
    }
}
