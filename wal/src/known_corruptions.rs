//! Hand-made damage of known kinds: each test checks that `open` succeeds, that the right
//! counter moves, and that everything before and after the damage is still readable.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use crate::frame::{self, FRAME_HEADER_LEN};
use crate::segment::{self, SEGMENT_HEADER_LEN, SegmentFile};
use crate::test_util::{locate, open, replay_all, segment_bytes, test_dir};
use crate::{Wal, WalReport};

/// 40-byte payloads make 60-byte frames: three records per 256-byte segment.
const SEGMENT_MAX: u64 = 256;
const RECORDS: u64 = 15;

fn payload(seq: u64) -> Vec<u8> {
    let mut p = format!("record-{seq:04}").into_bytes();
    p.resize(40, b'.');
    p
}

/// Writes records 0..15 into segments starting at 0, 3, 6, 9 and 12.
fn build(dir: &Path) -> Vec<SegmentFile> {
    let (mut wal, _) = open(dir, SEGMENT_MAX);
    for seq in 0..RECORDS {
        assert_eq!(wal.append(&payload(seq)).unwrap(), seq);
    }
    wal.sync().unwrap();
    let segs = segment::list(dir).unwrap();
    let firsts: Vec<u64> = segs.iter().map(|s| s.first_seq).collect();
    assert_eq!(firsts, vec![0, 3, 6, 9, 12]);
    segs
}

struct Reopened {
    wal: Wal,
    opened: WalReport,
    replayed: WalReport,
    seqs: Vec<u64>,
}

/// Opens `dir` again and replays everything, checking order and payloads on the way.
fn reopen(dir: &Path) -> Reopened {
    let (wal, opened) = open(dir, SEGMENT_MAX);
    let (records, replayed) = replay_all(&wal);
    assert!(
        records.windows(2).all(|w| w[0].0 < w[1].0),
        "seqs must strictly increase"
    );
    for (seq, p) in &records {
        assert!(
            *p == payload(*seq) || p.starts_with(b"dup-"),
            "wrong payload for {seq}"
        );
    }
    let seqs = records.iter().map(|r| r.0).collect();
    Reopened {
        wal,
        opened,
        replayed,
        seqs,
    }
}

fn all_but(missing: &[u64]) -> Vec<u64> {
    (0..RECORDS).filter(|s| !missing.contains(s)).collect()
}

/// Counters as (corrupt_records, torn_tail_bytes, skipped_segments).
fn counters(r: &WalReport) -> (u64, u64, u64) {
    (r.corrupt_records, r.torn_tail_bytes, r.skipped_segments)
}

/// The WAL keeps working after the damage: a new record comes back after the old ones.
fn assert_appendable(mut r: Reopened) {
    let seq = r.wal.append(&payload(99)).unwrap();
    assert!(r.seqs.last().is_none_or(|last| seq > *last));
    let (records, _) = replay_all(&r.wal);
    assert_eq!(records.last().unwrap(), &(seq, payload(99)));
}

fn patch(path: &Path, offset: usize, bytes: &[u8]) {
    let mut content = fs::read(path).unwrap();
    content[offset..offset + bytes.len()].copy_from_slice(bytes);
    fs::write(path, content).unwrap();
}

/// Rewrites the length field of record `seq` and fixes its header CRC, so only the length lies.
fn set_len_with_valid_crc(dir: &Path, seq: u64, len: u32) {
    let at = locate(dir, seq).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(&len.to_le_bytes());
    header.extend_from_slice(&seq.to_le_bytes());
    header.extend_from_slice(&frame::header_crc(len, seq).to_le_bytes());
    patch(&at.path, at.offset, &header);
}

#[test]
fn zeroed_length_field() {
    for seq in [4, 13] {
        let dir = test_dir();
        build(dir.path());
        let at = locate(dir.path(), seq).unwrap();
        patch(&at.path, at.offset, &[0; 4]);
        let r = reopen(dir.path());
        assert_eq!(
            counters(&r.opened),
            (0, 0, 0),
            "damage in the middle is not a torn tail"
        );
        assert_eq!(counters(&r.replayed), (1, 0, 0));
        assert_eq!(r.seqs, all_but(&[seq]));
        assert_appendable(r);
    }
}

#[test]
fn length_past_eof_in_the_middle() {
    let dir = test_dir();
    build(dir.path());
    set_len_with_valid_crc(dir.path(), 4, 1_000_000);
    let r = reopen(dir.path());
    assert_eq!(counters(&r.replayed), (1, 0, 0));
    assert_eq!(r.seqs, all_but(&[4]));
    assert_appendable(r);
}

#[test]
fn length_past_eof_at_the_tail_is_cut_and_its_seq_not_reused() {
    let dir = test_dir();
    build(dir.path());
    set_len_with_valid_crc(dir.path(), 14, 1_000_000);
    let mut r = reopen(dir.path());
    assert_eq!(counters(&r.opened), (0, 60, 0));
    assert_eq!(counters(&r.replayed), (0, 0, 0));
    assert_eq!(r.seqs, all_but(&[14]));
    assert_eq!(
        r.wal.next_seq(),
        15,
        "the torn record's header named seq 14"
    );
    assert_eq!(r.wal.disk_bytes(), segment_bytes(dir.path()));
    r.wal.append(&payload(15)).unwrap();
    assert_eq!(counters(&reopen(dir.path()).replayed), (0, 0, 0));
}

#[test]
fn scrambled_payload() {
    let dir = test_dir();
    build(dir.path());
    let at = locate(dir.path(), 7).unwrap();
    patch(&at.path, at.offset + FRAME_HEADER_LEN + 3, b"XXXXXXXX");
    let r = reopen(dir.path());
    assert_eq!(counters(&r.replayed), (1, 0, 0));
    assert_eq!(r.seqs, all_but(&[7]));
    assert_appendable(r);
}

#[test]
fn partial_record_in_sealed_segment() {
    let dir = test_dir();
    build(dir.path());
    let at = locate(dir.path(), 5).unwrap();
    let cut = u64::try_from(at.offset + 30).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&at.path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let r = reopen(dir.path());
    assert_eq!(
        counters(&r.opened),
        (0, 0, 0),
        "open only repairs the last segment"
    );
    assert_eq!(fs::metadata(&at.path).unwrap().len(), cut);
    assert_eq!(counters(&r.replayed), (1, 0, 0));
    assert_eq!(r.seqs, all_but(&[5]));
    assert_appendable(r);
}

#[test]
fn missing_segment() {
    let dir = test_dir();
    let segs = build(dir.path());
    fs::remove_file(&segs[2].path).unwrap();
    let r = reopen(dir.path());
    assert_eq!(counters(&r.replayed), (0, 0, 1));
    assert_eq!(r.seqs, all_but(&[6, 7, 8]));
    assert_appendable(r);
}

#[test]
fn duplicate_segment_copied_under_another_name() {
    let dir = test_dir();
    let segs = build(dir.path());
    fs::copy(&segs[1].path, dir.path().join(segment::file_name(4))).unwrap();
    let r = reopen(dir.path());
    assert_eq!(
        counters(&r.replayed),
        (0, 0, 1),
        "header first_seq 3 != name 4"
    );
    assert_eq!(r.seqs, all_but(&[]));
    assert_appendable(r);
}

#[test]
fn duplicate_segment_claiming_overlapping_seqs() {
    let dir = test_dir();
    build(dir.path());
    // A well-formed segment starting at 4 that re-uses seqs 4 and 5 of segment 3..=5.
    let mut content = segment::encode_header(4).to_vec();
    let mut frame_buf = Vec::new();
    for seq in [4, 5] {
        let p = format!("dup-{seq}").into_bytes();
        frame::encode(&mut frame_buf, seq, u32::try_from(p.len()).unwrap(), &p);
        content.extend_from_slice(&frame_buf);
    }
    fs::write(dir.path().join(segment::file_name(4)), content).unwrap();
    let r = reopen(dir.path());
    // The later segment wins: the older copies of 4 and 5 are dropped and counted.
    assert_eq!(counters(&r.replayed), (2, 0, 0));
    assert_eq!(r.seqs, all_but(&[]));
    let (records, _) = replay_all(&r.wal);
    assert_eq!(records[4].1, b"dup-4");
    assert_eq!(records[5].1, b"dup-5");
    assert_appendable(r);
}

#[test]
fn empty_segment_file_in_the_middle() {
    let dir = test_dir();
    build(dir.path());
    let empty = dir.path().join(segment::file_name(7));
    fs::write(&empty, b"").unwrap();
    let r = reopen(dir.path());
    assert_eq!(counters(&r.opened), (0, 0, 0));
    assert_eq!(counters(&r.replayed), (0, 0, 1));
    assert_eq!(r.seqs, all_but(&[]));
    assert_appendable(r);
}

#[test]
fn empty_or_half_written_last_segment_is_removed() {
    for len in [0, 10] {
        let dir = test_dir();
        let segs = build(dir.path());
        let torn = dir.path().join(segment::file_name(15));
        fs::write(&torn, &segment::encode_header(15)[..len]).unwrap();
        let r = reopen(dir.path());
        assert_eq!(counters(&r.opened), (0, len as u64, 1));
        assert!(!torn.try_exists().unwrap());
        assert_eq!(counters(&r.replayed), (0, 0, 0));
        assert_eq!(r.seqs, all_but(&[]));
        assert_eq!(
            r.wal.active_segment_path(),
            segs[4].path,
            "previous segment continues"
        );
        assert_appendable(r);
    }
}

/// Sets the version field of a segment header to 2, with a matching header CRC.
fn bump_version(path: &Path, first_seq: u64) {
    let mut header = segment::encode_header(first_seq);
    header[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32c::crc32c(&header[..20]);
    header[20..].copy_from_slice(&crc.to_le_bytes());
    patch(path, 0, &header);
}

#[test]
fn unknown_version_in_a_sealed_segment() {
    let dir = test_dir();
    let segs = build(dir.path());
    bump_version(&segs[2].path, 6);
    let r = reopen(dir.path());
    assert_eq!(counters(&r.replayed), (0, 0, 1));
    assert_eq!(r.seqs, all_but(&[6, 7, 8]));
    assert_appendable(r);
}

#[test]
fn unknown_version_in_the_last_segment() {
    let dir = test_dir();
    let segs = build(dir.path());
    bump_version(&segs[4].path, 12);
    let r = reopen(dir.path());
    assert_eq!(
        counters(&r.opened),
        (0, 0, 0),
        "the file is left for an operator"
    );
    assert_eq!(fs::metadata(&segs[4].path).unwrap().len(), segs[4].len);
    assert_eq!(counters(&r.replayed), (0, 0, 1));
    assert_eq!(r.seqs, all_but(&[12, 13, 14]));
    assert_eq!(
        r.wal.next_seq(),
        15,
        "seqs the unreadable segment holds stay unused"
    );
    assert_ne!(r.wal.active_segment_path(), segs[4].path);
    assert_appendable(r);
}

#[test]
fn bad_header_crc() {
    let dir = test_dir();
    let segs = build(dir.path());
    patch(&segs[1].path, 14, &[0xFF]);
    let r = reopen(dir.path());
    assert_eq!(counters(&r.replayed), (0, 0, 1));
    assert_eq!(r.seqs, all_but(&[3, 4, 5]));
    assert_appendable(r);
}

#[test]
fn garbage_after_the_header() {
    let dir = test_dir();
    let segs = build(dir.path());
    let garbage: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // A sealed segment whose records are all garbage, and garbage appended to the last one.
    let mut sealed = segment::encode_header(3).to_vec();
    sealed.extend_from_slice(&garbage);
    fs::write(&segs[1].path, sealed).unwrap();
    let mut last = fs::read(&segs[4].path).unwrap();
    last.extend_from_slice(&garbage);
    fs::write(&segs[4].path, last).unwrap();
    let r = reopen(dir.path());
    assert_eq!(counters(&r.opened), (0, 50_000, 0));
    assert_eq!(counters(&r.replayed), (1, 0, 0));
    assert_eq!(r.seqs, all_but(&[3, 4, 5]));
    assert_appendable(r);
}

#[test]
fn files_with_other_names_are_ignored() {
    let dir = test_dir();
    let segs = build(dir.path());
    let strangers: Vec<PathBuf> = [
        "foo.wal",
        "12.wal",
        "README",
        "00000000000000000012.wal.bak",
    ]
    .iter()
    .map(|n| dir.path().join(n))
    .collect();
    for p in &strangers {
        fs::copy(&segs[0].path, p).unwrap();
    }
    fs::create_dir(dir.path().join(segment::file_name(99))).unwrap();
    let r = reopen(dir.path());
    assert_eq!(counters(&r.opened), (0, 0, 0));
    assert_eq!(counters(&r.replayed), (0, 0, 0));
    assert_eq!(r.seqs, all_but(&[]));
    assert_eq!(r.wal.disk_bytes(), segs.iter().map(|s| s.len).sum::<u64>());
    assert!(strangers.iter().all(|p| p.try_exists().unwrap()));
    assert_eq!(r.wal.active_segment_path(), segs[4].path);
    assert_appendable(r);
}

#[test]
fn segment_header_offsets_match_the_format() {
    // Guards the offsets the tests above patch by hand.
    let dir = test_dir();
    build(dir.path());
    let at = locate(dir.path(), 3).unwrap();
    assert_eq!(at.offset, SEGMENT_HEADER_LEN);
    assert_eq!(at.frame_len, FRAME_HEADER_LEN + 40);
}
