//! Tailer tests on real files with a simulated clock: the model test of
//! shared/RELIABILITY.md A3, fingerprint collisions (A7) and rotation cases.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::config::StartAt;

const POLL: Duration = Duration::from_millis(250);

pub(crate) fn test_config(dir: &Path, pattern: &str) -> TailConfig {
    TailConfig {
        include: vec![format!("{}/{pattern}", dir.display())],
        exclude: Vec::new(),
        start_at: StartAt::Beginning,
        max_line_bytes: 4096,
        fingerprint_size: 1024,
        glob_interval: POLL,
        rotate_wait: Duration::from_secs(1),
        partial_flush: Duration::from_millis(500),
        max_open_files: 1024,
        small_file_wait: Duration::from_secs(1),
        ambiguity_wait: Duration::from_secs(2),
        orphan_ttl: Duration::from_secs(60),
        read_chunk: 64 * 1024,
    }
}

/// Drives a tailer with a simulated clock and records what it emitted.
pub(super) struct Harness {
    pub(super) tailer: Tailer,
    config: TailConfig,
    pub(super) now: Instant,
    pub(super) lines: Vec<String>,
    /// Per file: fingerprint and end offset of its last line, as a checkpoint would hold.
    checkpoint: HashMap<FileKey, KnownFile>,
}

impl Harness {
    pub(super) fn new(config: TailConfig) -> Self {
        Self {
            tailer: Tailer::new(config.clone(), Vec::new(), false).unwrap(),
            config,
            now: Instant::now(),
            lines: Vec::new(),
            checkpoint: HashMap::new(),
        }
    }

    pub(super) fn poll(&mut self) {
        self.now += POLL;
        let mut events = Vec::new();
        loop {
            let stats = self.tailer.poll(self.now, 1 << 20, &mut events);
            if !stats.more {
                break;
            }
        }
        for event in events {
            match event {
                TailEvent::Started {
                    key,
                    fingerprint,
                    offset,
                    ..
                } => {
                    self.checkpoint.insert(
                        key,
                        KnownFile {
                            key,
                            fingerprint,
                            offset,
                        },
                    );
                }
                TailEvent::Line {
                    key,
                    fingerprint,
                    line,
                    ..
                } => {
                    self.checkpoint.insert(
                        key,
                        KnownFile {
                            key,
                            fingerprint,
                            offset: line.end,
                        },
                    );
                    self.lines.push(line.text);
                }
                TailEvent::Ended { .. } => {}
            }
        }
    }

    pub(super) fn poll_for(&mut self, duration: Duration) {
        let until = self.now + duration;
        while self.now < until {
            self.poll();
        }
    }

    /// The lines read, but the shared 1 KiB header lines.
    pub(super) fn body_lines(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| !l.starts_with('H'))
            .map(String::as_str)
            .collect()
    }

    /// A restart: a new tailer resuming from the checkpoint.
    pub(super) fn restart(&mut self) {
        let known = self.checkpoint.values().cloned().collect();
        self.tailer = Tailer::new(self.config.clone(), known, true).unwrap();
    }
}

pub(super) fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Truncates in place, as copytruncate does after its copy.
fn truncate(path: &Path) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

fn header() -> String {
    // The same first 1 KiB in every file.
    format!("{}\n", "H".repeat(1023))
}

#[test]
fn same_first_kib_files_are_tailed_independently() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(test_config(dir.path(), "*.log"));
    harness.poll();
    let mut expected = HashSet::new();
    for i in 0..200 {
        let path = dir.path().join(format!("f{i:03}.log"));
        let mut text = header();
        for j in 0..5 {
            let line = format!("file {i} line {j}");
            text.push_str(&line);
            text.push('\n');
            expected.insert(line);
        }
        append(&path, &text);
    }
    harness.poll_for(Duration::from_secs(4));
    let got: Vec<&String> = harness
        .lines
        .iter()
        .filter(|l| !l.starts_with('H'))
        .collect();
    assert_eq!(got.len(), expected.len(), "every line once");
    assert_eq!(got.into_iter().cloned().collect::<HashSet<_>>(), expected);
    let headers = harness.lines.iter().filter(|l| l.starts_with('H')).count();
    assert_eq!(headers, 200, "each file's header read once per file");
}

#[test]
fn small_files_are_deferred_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(test_config(dir.path(), "*.log"));
    for i in 0..20 {
        append(
            &dir.path().join(format!("s{i}.log")),
            &format!("small {i}\n"),
        );
    }
    harness.poll();
    assert!(
        harness.lines.is_empty(),
        "files under the fingerprint size wait"
    );
    harness.poll_for(Duration::from_millis(1500));
    assert_eq!(harness.lines.len(), 20);
    // Growing past the fingerprint size later does not re-read them.
    for i in 0..20 {
        append(
            &dir.path().join(format!("s{i}.log")),
            &format!("{}\n", "x".repeat(1100)),
        );
    }
    harness.poll_for(Duration::from_secs(1));
    assert_eq!(harness.lines.len(), 40);
}

#[test]
fn truncate_and_rewrite_with_the_same_first_line_is_read_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let mut harness = Harness::new(test_config(dir.path(), "*.log"));
    append(&path, &format!("{}first generation\n", header()));
    harness.poll_for(Duration::from_secs(1));
    fs::write(&path, "").unwrap();
    harness.poll();
    append(&path, &format!("{}second generation\n", header()));
    harness.poll_for(Duration::from_secs(3));
    let got = harness.body_lines();
    assert_eq!(got, vec!["first generation", "second generation"]);
}

#[test]
fn copytruncate_copy_continues_where_the_original_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    let mut harness = Harness::new(test_config(dir.path(), "app.log*"));
    append(&path, &format!("{}one\ntwo\n", header()));
    harness.poll();
    // Written and rotated before the next poll: "three" is only in the copy.
    append(&path, "three\n");
    fs::copy(&path, &rotated).unwrap();
    truncate(&path);
    append(&path, "four\n");
    harness.poll_for(Duration::from_secs(4));
    let mut got = harness.body_lines();
    // Two files now: each in order, but they may interleave.
    got.sort_unstable();
    assert_eq!(got, vec!["four", "one", "three", "two"]);
}

#[test]
fn copytruncate_while_stopped_resumes_the_copy_even_when_it_sorts_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    // The copy's inode is older (smaller) than the original's, so a restarted tailer meets
    // the copy first: it must still see the original's checkpoint entry turn into an orphan
    // before it decides where the copy starts.
    fs::File::create(&rotated).unwrap();
    append(&path, &format!("{}one\ntwo\n", header()));
    let mut harness = Harness::new(test_config(dir.path(), "app.log*"));
    harness.poll();
    // Stopped: written, copied (into the older inode) and truncated meanwhile.
    append(&path, "three\n");
    fs::copy(&path, &rotated).unwrap();
    truncate(&path);
    append(&path, "four\n");
    harness.restart();
    harness.poll_for(Duration::from_secs(4));
    let mut got = harness.body_lines();
    got.sort_unstable();
    assert_eq!(
        got,
        vec!["four", "one", "three", "two"],
        "no line twice, none lost"
    );
}

#[test]
fn copytruncate_while_stopped_with_the_original_left_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    append(&path, &format!("{}one\ntwo\n", header()));
    let mut harness = Harness::new(test_config(dir.path(), "app.log*"));
    harness.poll();
    // Stopped: copied and truncated, and nothing written since, so the original cannot be
    // fingerprinted; its size alone says it was truncated.
    append(&path, "three\n");
    fs::copy(&path, &rotated).unwrap();
    truncate(&path);
    harness.restart();
    harness.poll_for(Duration::from_secs(4));
    let got = harness.body_lines();
    assert_eq!(got, vec!["one", "two", "three"], "no line twice, none lost");
}

#[test]
fn copy_seen_before_the_truncation_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    let mut harness = Harness::new(test_config(dir.path(), "app.log*"));
    append(&path, &format!("{}one\n", header()));
    harness.poll();
    fs::copy(&path, &rotated).unwrap();
    harness.poll();
    truncate(&path);
    append(&path, "two\n");
    harness.poll_for(Duration::from_secs(4));
    let got = harness.body_lines();
    assert_eq!(got, vec!["one", "two"]);
}

#[test]
fn rename_rotation_does_not_reread_and_drains_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut harness = Harness::new(test_config(dir.path(), "app.log"));
    append(&path, &format!("{}a\n", header()));
    harness.poll();
    append(&path, "b\n");
    fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    append(&dir.path().join("app.log.1"), "c\n");
    append(&path, &format!("{}d\n", header()));
    harness.poll_for(Duration::from_secs(4));
    let got = harness.body_lines();
    assert_eq!(
        got.iter().copied().collect::<HashSet<_>>(),
        ["a", "b", "c", "d"].into()
    );
    assert_eq!(got.len(), 4);
    assert_eq!(
        harness.tailer.open_files(),
        1,
        "the rotated file is closed after rotate_wait"
    );
}

#[test]
fn deleted_file_is_drained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut harness = Harness::new(test_config(dir.path(), "*.log"));
    append(&path, &format!("{}a\n", header()));
    harness.poll();
    let mut handle = OpenOptions::new().append(true).open(&path).unwrap();
    fs::remove_file(&path).unwrap();
    handle.write_all(b"written after delete\n").unwrap();
    harness.poll_for(Duration::from_secs(3));
    assert!(harness.lines.iter().any(|l| l == "written after delete"));
    assert_eq!(harness.tailer.open_files(), 0);
}

#[test]
fn start_at_end_applies_only_to_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "*.log");
    config.start_at = StartAt::End;
    append(&dir.path().join("old.log"), &format!("{}old\n", header()));
    let mut harness = Harness::new(config);
    harness.poll();
    append(&dir.path().join("old.log"), "new\n");
    append(
        &dir.path().join("later.log"),
        &format!("{}later\n", header()),
    );
    // later.log shares old.log's first KiB, so it waits out the copy ambiguity first.
    harness.poll_for(Duration::from_secs(3));
    let got: HashSet<&str> = harness
        .lines
        .iter()
        .filter(|l| !l.starts_with('H'))
        .map(String::as_str)
        .collect();
    assert_eq!(got, ["new", "later"].into());
    // Written while down: a restart with checkpoints reads it, also from a file it never saw.
    append(&dir.path().join("old.log"), "while down\n");
    append(
        &dir.path().join("unseen.log"),
        &format!("{}unseen\n", header()),
    );
    harness.restart();
    harness.poll_for(Duration::from_secs(3));
    assert!(harness.lines.iter().any(|l| l == "while down"));
    assert!(harness.lines.iter().any(|l| l == "unseen"));
}

#[test]
fn many_files_respect_the_open_file_cap_and_active_ones_progress() {
    // RELIABILITY A6 at CI size: 1 000 files, 20 of them active.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), "*.log");
    config.max_open_files = 64;
    let mut harness = Harness::new(config);
    for i in 0..1000 {
        append(
            &dir.path().join(format!("m{i:04}.log")),
            &format!("{}first {i}\n", header()),
        );
    }
    harness.poll_for(Duration::from_secs(3));
    assert_eq!(
        harness
            .lines
            .iter()
            .filter(|l| l.starts_with("first"))
            .count(),
        1000
    );
    assert!(
        harness.tailer.open_files() <= 64,
        "{}",
        harness.tailer.open_files()
    );
    for round in 0..3 {
        for i in (0..1000).step_by(50) {
            append(
                &dir.path().join(format!("m{i:04}.log")),
                &format!("active {round} {i}\n"),
            );
        }
        harness.poll_for(Duration::from_millis(500));
        assert!(
            harness.tailer.open_files() <= 64,
            "{}",
            harness.tailer.open_files()
        );
    }
    let got = harness
        .lines
        .iter()
        .filter(|l| l.starts_with("active"))
        .count();
    assert_eq!(
        got, 60,
        "every active file's lines are read within half a second"
    );
}

#[test]
fn long_partial_crlf_and_invalid_utf8_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let mut config = test_config(dir.path(), "*.log");
    config.max_line_bytes = 256 * 1024;
    let mut harness = Harness::new(config);
    let mut events = Vec::new();
    let mut long = header().into_bytes();
    long.extend(std::iter::repeat_n(b'L', 10 * 1024 * 1024));
    long.extend_from_slice(b"\nafter long\r\nbad \xff utf8\nno newline yet");
    fs::write(&path, &long).unwrap();
    // Collect events ourselves to see the truncation flag.
    for _ in 0..40 {
        harness.now += POLL;
        while harness.tailer.poll(harness.now, 1 << 20, &mut events).more {}
    }
    let lines: Vec<Line> = events
        .into_iter()
        .filter_map(|e| match e {
            TailEvent::Line { line, .. } => Some(line),
            _ => None,
        })
        .collect();
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        lines.len(),
        5,
        "{:?}",
        texts
            .iter()
            .map(|t| &t[..t.len().min(20)])
            .collect::<Vec<_>>()
    );
    assert!(lines[0].text.starts_with('H'));
    assert_eq!(lines[1].text.len(), 256 * 1024, "cut at max_line_bytes");
    assert!(lines[1].truncated);
    assert_eq!(
        lines[2].text, "after long",
        "CR stripped, file still tailed"
    );
    assert_eq!(lines[3].text, "bad \u{fffd} utf8");
    assert!(lines[3].invalid_utf8);
    // The partial last line came out after the flush delay; its completion does not repeat it.
    assert_eq!(lines[4].text, "no newline yet");
    let mut events = Vec::new();
    append(&path, " -- completed\nnext\n");
    harness.now += POLL;
    harness.tailer.poll(harness.now, 1 << 20, &mut events);
    let texts: Vec<String> = events
        .into_iter()
        .filter_map(|e| match e {
            TailEvent::Line { line, .. } => Some(line.text),
            _ => None,
        })
        .collect();
    assert_eq!(texts, vec![" -- completed", "next"]);
}
