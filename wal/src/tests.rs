//! Model-based property test: random operation sequences run against the WAL and against a
//! plain in-memory model of which records must, may, or must not come back after a reopen.
//!
//! `PROPTEST_CASES` overrides the default of 10 000 cases; failures are shrunk, printed and
//! persisted for replay as proptest always does.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::sample::Index;
use tempfile::TempDir;

use crate::frame::FRAME_HEADER_LEN;
use crate::test_util::{locate, segment_bytes, test_dir};
use crate::{Wal, WalConfig, WalError, WalReport};

#[derive(Debug, Clone)]
enum Op {
    /// Append a payload of `len` pseudo-random bytes derived from `seed`.
    Append {
        len: usize,
        seed: u64,
    },
    /// Append whose write fails after `keep` (an index into the frame) bytes, like ENOSPC.
    FailedAppend {
        len: usize,
        seed: u64,
        keep: Index,
    },
    Sync,
    /// Truncate below a seq picked from 0..=next_seq+1.
    TruncateBelow(Index),
    /// Clean close and open; `bump` > 0 passes min_next_seq = old next_seq + bump.
    Reopen {
        bump: u8,
    },
    /// Drop, cut the active segment somewhere between synced_len and its length, open.
    Crash {
        cut: Index,
        bump: u8,
    },
    /// Flip one bit of one synced record, then reopen.
    BitFlip {
        record: Index,
        bit: Index,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let len = prop_oneof![1 => Just(0usize), 6 => 0usize..300];
    let bump = prop_oneof![3 => Just(0u8), 1 => 1u8..5];
    prop_oneof![
        12 => (len.clone(), any::<u64>()).prop_map(|(len, seed)| Op::Append { len, seed }),
        1 => (len, any::<u64>(), any::<Index>())
            .prop_map(|(len, seed, keep)| Op::FailedAppend { len, seed, keep }),
        3 => Just(Op::Sync),
        1 => any::<Index>().prop_map(Op::TruncateBelow),
        1 => bump.clone().prop_map(|bump| Op::Reopen { bump }),
        2 => (any::<Index>(), bump).prop_map(|(cut, bump)| Op::Crash { cut, bump }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(record, bit)| Op::BitFlip { record, bit }),
    ]
}

/// Deterministic payload bytes: generating them from a seed is much cheaper than letting
/// proptest build (and shrink) a byte vector value tree for every append.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

struct Harness {
    _dir: TempDir,
    config: WalConfig,
    wal: Option<Wal>,
    /// Records that must survive (unless flipped or below `truncated_below`).
    synced: Vec<(u64, Vec<u8>)>,
    /// Appended but not synced: after a crash some prefix of them survives.
    pending: Vec<(u64, Vec<u8>)>,
    /// Seqs whose frame got a flipped bit since the last verification.
    flipped: BTreeSet<u64>,
    /// Some flipped bytes may still be on disk, so corruption counters may be non-zero.
    damaged: bool,
    /// Records below this may have been deleted.
    truncated_below: u64,
}

impl Harness {
    fn new(segment_max_bytes: u64, max_record_bytes: u32) -> Self {
        let dir = test_dir();
        let config = WalConfig {
            dir: PathBuf::from(dir.path()),
            segment_max_bytes,
            max_record_bytes,
        };
        let (wal, report) = Wal::open(config.clone(), 0).unwrap();
        assert_eq!(report.torn_tail_bytes + report.skipped_segments, 0);
        Self {
            _dir: dir,
            config,
            wal: Some(wal),
            synced: Vec::new(),
            pending: Vec::new(),
            flipped: BTreeSet::new(),
            damaged: false,
            truncated_below: 0,
        }
    }

    fn wal(&mut self) -> &mut Wal {
        self.wal.as_mut().unwrap()
    }

    fn last_seq(&self) -> Option<u64> {
        self.pending.last().or(self.synced.last()).map(|r| r.0)
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Append { len, seed } => self.append(&payload(len, seed), None)?,
            Op::FailedAppend { len, seed, keep } => {
                let keep = keep.index(FRAME_HEADER_LEN + len);
                self.append(&payload(len, seed), Some(keep))?;
            }
            Op::Sync => {
                self.wal().sync().unwrap();
                self.synced.append(&mut self.pending);
                let path = self.wal().active_segment_path().to_path_buf();
                prop_assert_eq!(self.wal().synced_len(), fs::metadata(path).unwrap().len());
            }
            Op::TruncateBelow(pick) => {
                let next = usize::try_from(self.wal().next_seq()).unwrap();
                let below = u64::try_from(pick.index(next + 2)).unwrap();
                self.wal().truncate_below(below).unwrap();
                self.truncated_below = self.truncated_below.max(below);
                prop_assert!(self.wal().active_segment_path().try_exists().unwrap());
            }
            Op::Reopen { bump } => self.reopen(None, bump)?,
            Op::Crash { cut, bump } => self.reopen(Some(cut), bump)?,
            Op::BitFlip { record, bit } => {
                let floor = self.truncated_below;
                let candidates: Vec<u64> = self
                    .synced
                    .iter()
                    .map(|r| r.0)
                    .filter(|s| *s >= floor && !self.flipped.contains(s))
                    .collect();
                if !candidates.is_empty() {
                    let seq = candidates[record.index(candidates.len())];
                    self.flip(seq, bit)?;
                }
                self.reopen(None, 0)?;
            }
        }
        prop_assert_eq!(self.wal().disk_bytes(), segment_bytes(&self.config.dir));
        Ok(())
    }

    fn append(&mut self, payload: &[u8], fail_after: Option<usize>) -> Result<(), TestCaseError> {
        let before = self.wal().next_seq();
        let too_large = payload.len() > self.config.max_record_bytes as usize;
        if let Some(keep) = fail_after.filter(|_| !too_large) {
            self.wal().inject_write_failure(keep);
        }
        let result = self.wal().append(payload);
        if too_large {
            prop_assert!(
                matches!(result, Err(WalError::RecordTooLarge { .. })),
                "{:?}",
                result
            );
        } else if fail_after.is_some() {
            prop_assert!(
                matches!(result, Err(WalError::Append { .. })),
                "{:?}",
                result
            );
        } else {
            let seq = result.unwrap();
            prop_assert_eq!(seq, before);
            prop_assert!(self.last_seq().is_none_or(|l| seq > l));
            prop_assert_eq!(self.wal().next_seq(), seq + 1);
            self.pending.push((seq, payload.to_vec()));
            return Ok(());
        }
        prop_assert_eq!(self.wal().next_seq(), before);
        Ok(())
    }

    /// Flips one bit inside the frame of synced record `seq`.
    fn flip(&mut self, seq: u64, bit: Index) -> Result<(), TestCaseError> {
        let found = locate(&self.config.dir, seq);
        prop_assert!(found.is_some(), "synced record {} not found on disk", seq);
        let Some(at) = found else { return Ok(()) };
        let bit = bit.index(at.frame_len * 8);
        let mut bytes = fs::read(&at.path).unwrap();
        bytes[at.offset + bit / 8] ^= 1 << (bit % 8);
        fs::write(&at.path, bytes).unwrap();
        self.flipped.insert(seq);
        self.damaged = true;
        Ok(())
    }

    /// Closes (cleanly, or as a crash cutting unsynced bytes) and opens again, then checks the
    /// replayed log against the model and makes the model match what survived.
    fn reopen(&mut self, crash_cut: Option<Index>, bump: u8) -> Result<(), TestCaseError> {
        let wal = self.wal.take().unwrap();
        let min_next_seq = if bump > 0 {
            wal.next_seq() + u64::from(bump)
        } else {
            0
        };
        let (path, synced_len) = (wal.active_segment_path().to_path_buf(), wal.synced_len());
        drop(wal);
        if let Some(cut) = crash_cut {
            let len = fs::metadata(&path).unwrap().len();
            prop_assert!(synced_len <= len);
            let span = usize::try_from(len - synced_len).unwrap();
            let keep = synced_len + u64::try_from(cut.index(span + 1)).unwrap();
            fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(keep)
                .unwrap();
        }
        let (wal, open_report) = Wal::open(self.config.clone(), min_next_seq).unwrap();
        self.wal = Some(wal);
        self.verify(crash_cut.is_none(), &open_report, min_next_seq)
    }

    fn verify(
        &mut self,
        clean: bool,
        opened: &WalReport,
        min_next_seq: u64,
    ) -> Result<(), TestCaseError> {
        let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
        let report = self
            .wal()
            .replay(0, |seq, p| {
                got.push((seq, p.to_vec()));
                Ok(())
            })
            .unwrap();
        prop_assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "seqs not increasing"
        );
        prop_assert_eq!(report.replayed_records, got.len() as u64);

        // Nothing that was never written, and never a wrong payload.
        let model: BTreeMap<u64, &[u8]> = self
            .synced
            .iter()
            .chain(&self.pending)
            .map(|(s, p)| (*s, p.as_slice()))
            .collect();
        for (seq, p) in &got {
            let expected = model.get(seq);
            prop_assert!(
                expected == Some(&p.as_slice()),
                "seq {} unknown or wrong payload",
                seq
            );
            prop_assert!(
                !self.flipped.contains(seq),
                "flipped record {} came back",
                seq
            );
        }
        let present: BTreeSet<u64> = got.iter().map(|r| r.0).collect();
        for (seq, _) in &self.synced {
            if *seq >= self.truncated_below && !self.flipped.contains(seq) {
                prop_assert!(present.contains(seq), "synced record {} lost", seq);
            }
        }
        // Of the unsynced records not truncated away, a prefix survives (all of them if clean).
        let floor = self.truncated_below;
        let kept: Vec<u64> = self
            .pending
            .iter()
            .map(|r| r.0)
            .filter(|s| *s >= floor)
            .collect();
        let survivors = kept.iter().take_while(|s| present.contains(s)).count();
        prop_assert!(
            kept[survivors..].iter().all(|s| !present.contains(s)),
            "not a prefix"
        );
        if clean {
            prop_assert_eq!(survivors, kept.len(), "clean reopen lost unsynced records");
        }

        let lost_flipped = self.flipped.iter().any(|s| *s >= self.truncated_below);
        if lost_flipped {
            prop_assert!(
                report.corrupt_records + opened.torn_tail_bytes > 0,
                "corruption not reported"
            );
        }
        if !self.damaged {
            prop_assert_eq!((report.corrupt_records, report.skipped_segments), (0, 0));
            prop_assert_eq!(opened.skipped_segments, 0);
            if clean {
                prop_assert_eq!(opened.torn_tail_bytes, 0);
            }
        }
        let next = self.wal().next_seq();
        prop_assert!(next >= min_next_seq);
        prop_assert!(got.last().is_none_or(|r| next > r.0));

        // A partial replay is exactly the matching suffix.
        if let Some(&(from, _)) = got.get(got.len() / 2) {
            let mut tail = Vec::new();
            self.wal()
                .replay(from, |seq, _| {
                    tail.push(seq);
                    Ok(())
                })
                .unwrap();
            prop_assert_eq!(
                tail,
                got[got.len() / 2..].iter().map(|r| r.0).collect::<Vec<_>>()
            );
        }

        // What came back is now durable (open syncs); flipped records are gone for good.
        self.synced = got;
        self.pending.clear();
        self.flipped.clear();
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn wal_behaves_like_model(
        // Mostly small segments so that rotation happens often.
        segment_max_bytes in prop_oneof![3 => 512u64..1024, 1 => 1024u64..=4096],
        max_record_bytes in 200u32..400,
        ops in proptest::collection::vec(op_strategy(), 1..40),
    ) {
        let mut h = Harness::new(segment_max_bytes, max_record_bytes);
        for op in ops {
            h.apply(op)?;
        }
        h.reopen(None, 0)?;
    }
}
