//! The set of files of one source: discovery, identity decisions, fair reading.
//!
//! Identity rules (shared/RELIABILITY.md §2.2, shared/COMPAT.md §13):
//! * A file is known by device + inode *and* the fingerprint of its first bytes. A rename keeps
//!   both, so a rotated file continues where it was, never re-read.
//! * A file shorter than what we read, or whose first bytes changed, was truncated or
//!   rewritten: it is read again from 0, and what we had read of its old content becomes an
//!   *orphan* (fingerprint + offset). A new inode with that fingerprint (the copy made by
//!   copytruncate) continues from the orphan's offset.
//! * A new inode with the same fingerprint as a live tracked file is either that copy, caught
//!   before the truncation, or an unrelated file with the same header: it waits up to
//!   `ambiguity_wait` for the original to be truncated, then counts as a new file.
//! * A file smaller than the fingerprint size waits until it grows or stays unchanged for
//!   `small_file_wait`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod identify;

use super::discover::Discovery;
use super::fingerprint::{FileKey, Fingerprint};
use super::lines::Line;
use super::tracked::{Change, Tracked};
use crate::config::{FileSourceConfig, StartAt};

/// Runtime settings of a tailer, derived from the source config.
#[derive(Debug, Clone)]
pub struct TailConfig {
    /// Include globs.
    pub include: Vec<String>,
    /// Exclude globs.
    pub exclude: Vec<String>,
    /// Where files found on the very first run start.
    pub start_at: StartAt,
    /// Line length limit.
    pub max_line_bytes: usize,
    /// Fingerprint length.
    pub fingerprint_size: usize,
    /// Glob evaluation interval.
    pub glob_interval: Duration,
    /// How long a rotated-away or deleted file is kept after its last data.
    pub rotate_wait: Duration,
    /// Idle time after which a partial last line is emitted.
    pub partial_flush: Duration,
    /// Open file limit.
    pub max_open_files: usize,
    /// How long a small file waits to grow before it is fingerprinted as it is.
    pub small_file_wait: Duration,
    /// How long a possible copy of a live file waits for the original's truncation.
    pub ambiguity_wait: Duration,
    /// How long an orphan waits for its copy to appear.
    pub orphan_ttl: Duration,
    /// Bytes read from one file before moving on to the next (fairness).
    pub read_chunk: usize,
}

impl TailConfig {
    /// Settings for a configured file source.
    pub fn from_source(source: &FileSourceConfig) -> Self {
        Self {
            include: source.include.clone(),
            exclude: source.exclude.clone(),
            start_at: source.start_at,
            max_line_bytes: source.max_line_bytes,
            fingerprint_size: source.fingerprint_size,
            glob_interval: Duration::from_millis(source.glob_interval_ms),
            rotate_wait: Duration::from_millis(source.rotate_wait_ms),
            partial_flush: Duration::from_millis(source.partial_flush_ms),
            max_open_files: source.max_open_files,
            small_file_wait: Duration::from_secs(1),
            ambiguity_wait: Duration::from_secs(2),
            orphan_ttl: Duration::from_secs(60),
            read_chunk: 64 * 1024,
        }
    }
}

/// A file remembered from a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    /// Device and inode it had.
    pub key: FileKey,
    /// Its fingerprint then.
    pub fingerprint: Fingerprint,
    /// Everything before this offset is in custody.
    pub offset: u64,
}

/// What the tailer reports, in file order per file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailEvent {
    /// Tracking of a file begins at `offset` (a checkpoint mark, so a restart resumes here).
    Started {
        /// The file.
        key: FileKey,
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// Where it was found.
        path: Arc<Path>,
        /// First byte that will be read.
        offset: u64,
    },
    /// A line.
    Line {
        /// The file.
        key: FileKey,
        /// Its current fingerprint.
        fingerprint: Fingerprint,
        /// Its current path.
        path: Arc<Path>,
        /// The line.
        line: Line,
    },
    /// No more lines will come from this file under this identity (closed, truncated or
    /// rewritten): flush whatever is pending for it.
    Ended {
        /// The file.
        key: FileKey,
    },
}

#[derive(Debug)]
struct Candidate {
    path: PathBuf,
    first_seen: Instant,
    /// Found by the very first scan of a source with no checkpoints.
    first_run: bool,
    size_at_first_sight: Option<u64>,
    last_size: u64,
    size_changed_at: Instant,
}

#[derive(Debug)]
struct Orphan {
    /// The inode the content was read from; a file never continues its own orphan.
    from: FileKey,
    fingerprint: Fingerprint,
    offset: u64,
    since: Instant,
}

/// Tails the files of one source. Call [`Tailer::poll`] every poll interval.
#[derive(Debug)]
pub struct Tailer {
    config: TailConfig,
    discovery: Discovery,
    tracked: BTreeMap<FileKey, Tracked>,
    candidates: BTreeMap<FileKey, Candidate>,
    /// From the checkpoint, not yet matched to a file.
    known: HashMap<FileKey, KnownFile>,
    orphans: Vec<Orphan>,
    /// No checkpoint existed for this source: `start_at` applies to the first scan.
    first_run: bool,
    next_scan: Option<Instant>,
    /// Round-robin start, so no file is always read first.
    rotation: usize,
    buf: Vec<u8>,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy)]
pub struct PollStats {
    /// Bytes read from files.
    pub bytes_read: u64,
    /// The byte budget ran out with data left: poll again without waiting.
    pub more: bool,
}

impl Tailer {
    /// A tailer resuming from `known` (its checkpoint entries). `initialized` says whether
    /// the source ever ran before; if not, `start_at` applies to the files found first.
    ///
    /// # Errors
    /// An invalid glob (the config validation rules them out).
    pub fn new(
        config: TailConfig,
        known: Vec<KnownFile>,
        initialized: bool,
    ) -> Result<Self, globset::Error> {
        let discovery = Discovery::new(&config.include, &config.exclude)?;
        let buf = vec![0; config.read_chunk];
        Ok(Self {
            config,
            discovery,
            tracked: BTreeMap::new(),
            candidates: BTreeMap::new(),
            known: known.into_iter().map(|k| (k.key, k)).collect(),
            orphans: Vec::new(),
            first_run: !initialized,
            next_scan: None,
            rotation: 0,
            buf,
        })
    }

    /// Files currently tracked (open or closed), with their path, read offset and size.
    pub fn files(&self) -> impl Iterator<Item = (FileKey, &Path, u64, u64)> {
        self.tracked
            .values()
            .map(|t| (t.key, &*t.path, t.reader.emitted_offset(), t.size))
    }

    /// Number of open file handles.
    pub fn open_files(&self) -> usize {
        self.tracked.values().filter(|t| t.file.is_some()).count()
    }

    /// One round: evaluates globs when due, settles identities, notices rotation and
    /// truncation, reads up to `budget` bytes fairly across files, flushes idle partial
    /// lines and closes drained files. Events are appended to `out`.
    pub fn poll(&mut self, now: Instant, budget: usize, out: &mut Vec<TailEvent>) -> PollStats {
        if self.next_scan.is_none_or(|due| now >= due) {
            self.scan(now);
            self.next_scan = Some(now + self.config.glob_interval);
        }
        self.resolve_candidates(now, out);
        self.first_run = false;
        self.refresh_tracked(now, out);
        let stats = self.read(now, budget, out);
        self.flush_and_close(now, out);
        self.limit_open_files();
        self.orphans.retain(|orphan| {
            let keep = now.duration_since(orphan.since) < self.config.orphan_ttl;
            if !keep {
                tracing::debug!(
                    offset = orphan.offset,
                    "no copy of a truncated file turned up; its unread remainder is not read"
                );
            }
            keep
        });
        stats
    }

    /// Emits every partial line and ends every file (shutdown).
    pub fn finish(&mut self, out: &mut Vec<TailEvent>) {
        for tracked in self.tracked.values_mut() {
            let mut lines = Vec::new();
            tracked.reader.flush_partial(&mut lines);
            push_lines(tracked, lines, out);
            out.push(TailEvent::Ended { key: tracked.key });
        }
    }

    fn scan(&mut self, now: Instant) {
        let mut seen = Vec::new();
        for path in self.discovery.scan() {
            let Ok(metadata) = std::fs::metadata(&path) else {
                continue;
            };
            let key = FileKey::of(&metadata);
            seen.push(key);
            if let Some(tracked) = self.tracked.get_mut(&key) {
                if *tracked.path != *path {
                    tracked.path = Arc::from(path.as_path());
                }
                tracked.gone_since = None;
            } else if let Some(candidate) = self.candidates.get_mut(&key) {
                candidate.path = path;
            } else {
                self.candidates.insert(
                    key,
                    Candidate {
                        path,
                        first_seen: now,
                        first_run: self.first_run,
                        size_at_first_sight: Some(metadata.len()),
                        last_size: metadata.len(),
                        size_changed_at: now,
                    },
                );
            }
        }
        seen.sort_unstable();
        if self.next_scan.is_none() {
            self.report_missing_known(&seen);
        }
        for tracked in self.tracked.values_mut() {
            if seen.binary_search(&tracked.key).is_err() && tracked.gone_since.is_none() {
                tracked.gone_since = Some(now);
            }
        }
        // Candidates no glob finds any more are forgotten; they come back if they reappear.
        let known = &self.known;
        self.candidates.retain(|key, candidate| {
            let found = seen.binary_search(key).is_ok();
            if !found && let Some(entry) = known.get(key) {
                tracing::debug!(path = %candidate.path.display(), offset = entry.offset,
                    "a checkpointed file left the include globs before it was resumed");
            }
            found
        });
    }

    /// After a restart: checkpointed files no glob finds any more cannot be resumed. Mostly
    /// files read to their end that rotated away since; a debug line, said at the first scan.
    fn report_missing_known(&self, seen: &[FileKey]) {
        for known in self.known.values() {
            if seen.binary_search(&known.key).is_err() {
                tracing::debug!(
                    dev = known.key.dev,
                    ino = known.key.ino,
                    offset = known.offset,
                    "a checkpointed file is not found by the include globs"
                );
            }
        }
    }

    fn refresh_tracked(&mut self, now: Instant, out: &mut Vec<TailEvent>) {
        let mut replaced = Vec::new();
        let mut lost = Vec::new();
        for tracked in self.tracked.values_mut() {
            match tracked.refresh(self.config.fingerprint_size) {
                Ok(Change::Same) => {
                    if tracked.gone_since.is_none() && tracked.is_deleted() {
                        tracked.gone_since = Some(now);
                    }
                }
                Ok(Change::Replaced) => replaced.push(tracked.key),
                Ok(Change::Lost) | Err(_) => lost.push(tracked.key),
            }
        }
        for key in replaced {
            let Some(tracked) = self.tracked.get_mut(&key) else {
                continue;
            };
            // Lines emitted so far keep their custody; the rest of the old content (a partial
            // line included) is read from the copy, if one turns up.
            self.orphans.push(Orphan {
                from: key,
                fingerprint: tracked.fingerprint,
                offset: tracked.reader.emitted_offset(),
                since: now,
            });
            out.push(TailEvent::Ended { key });
            let restarted =
                tracked.restart_from_zero(self.config.fingerprint_size, self.config.max_line_bytes);
            if restarted.is_err() {
                lost.push(key);
                continue;
            }
            tracked.last_data = now;
            out.push(TailEvent::Started {
                key,
                fingerprint: tracked.fingerprint,
                path: tracked.path.clone(),
                offset: 0,
            });
        }
        for key in lost {
            if let Some(tracked) = self.tracked.remove(&key) {
                let read = tracked.reader.emitted_offset();
                if tracked.size > read {
                    tracing::warn!(path = %tracked.path.display(), read, size = tracked.size,
                        "a file became unreachable before it was read to its end");
                }
                out.push(TailEvent::Ended { key });
            }
        }
    }

    fn read(&mut self, now: Instant, budget: usize, out: &mut Vec<TailEvent>) -> PollStats {
        let mut stats = PollStats::default();
        let keys: Vec<FileKey> = self.tracked.keys().copied().collect();
        if keys.is_empty() {
            return stats;
        }
        self.rotation = (self.rotation + 1) % keys.len();
        let mut remaining = budget;
        let mut lines = Vec::new();
        loop {
            let mut progressed = false;
            for i in 0..keys.len() {
                let key = keys[(self.rotation + i) % keys.len()];
                let Some(tracked) = self.tracked.get_mut(&key) else {
                    continue;
                };
                if remaining == 0 {
                    stats.more = true;
                    return stats;
                }
                if tracked.at_eof {
                    continue;
                }
                let take = remaining.min(self.buf.len());
                let n = tracked
                    .read_chunk(&mut self.buf[..take], &mut lines)
                    .unwrap_or(0);
                if n > 0 {
                    progressed = true;
                    remaining -= n;
                    stats.bytes_read += n as u64;
                    tracked.last_data = now;
                    push_lines(tracked, std::mem::take(&mut lines), out);
                }
            }
            if !progressed {
                return stats;
            }
        }
    }

    fn flush_and_close(&mut self, now: Instant, out: &mut Vec<TailEvent>) {
        let mut done = Vec::new();
        for tracked in self.tracked.values_mut() {
            let idle = now.duration_since(tracked.last_data);
            if tracked.reader.has_partial() && idle >= self.config.partial_flush {
                let mut lines = Vec::new();
                tracked.reader.flush_partial(&mut lines);
                push_lines(tracked, lines, out);
            }
            if tracked.gone_since.is_some() && tracked.at_eof && idle >= self.config.rotate_wait {
                done.push(tracked.key);
            }
        }
        for key in done {
            self.tracked.remove(&key);
            out.push(TailEvent::Ended { key });
        }
    }

    /// Closes the least recently active files beyond `max_open_files`. Files without a live
    /// path are never closed: they could not be reopened.
    fn limit_open_files(&mut self) {
        let open = self.open_files();
        if open <= self.config.max_open_files {
            return;
        }
        let mut closable: Vec<(Instant, FileKey)> = self
            .tracked
            .values()
            .filter(|t| t.file.is_some() && t.gone_since.is_none() && t.at_eof)
            .map(|t| (t.last_data, t.key))
            .collect();
        closable.sort_unstable();
        for (_, key) in closable.into_iter().take(open - self.config.max_open_files) {
            if let Some(tracked) = self.tracked.get_mut(&key) {
                tracked.file = None;
            }
        }
    }
}

fn push_lines(tracked: &Tracked, lines: Vec<Line>, out: &mut Vec<TailEvent>) {
    for line in lines {
        out.push(TailEvent::Line {
            key: tracked.key,
            fingerprint: tracked.fingerprint,
            path: tracked.path.clone(),
            line,
        });
    }
}
