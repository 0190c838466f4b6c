//! Identity decisions for newly found files: resume from a checkpoint, continue an orphan
//! (the copy of a truncated file), wait out an ambiguity, or start as a new file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::{KnownFile, Orphan, TailEvent, Tailer};
use crate::config::StartAt;
use crate::tail::fingerprint::{FileKey, Fingerprint};
use crate::tail::tracked::Tracked;

impl Tailer {
    pub(super) fn resolve_candidates(&mut self, now: Instant, out: &mut Vec<TailEvent>) {
        let keys: Vec<FileKey> = self.candidates.keys().copied().collect();
        for key in &keys {
            self.orphan_if_truncated(*key);
        }
        // Known-by-inode matches first: they turn stale checkpoint entries into orphans that
        // the second pass can hand to copies.
        let mut ready = Vec::new();
        for key in keys {
            match self.identify(key, now) {
                Some((file, fingerprint)) => ready.push((key, file, fingerprint)),
                None => continue,
            }
        }
        let mut unknown = Vec::new();
        for (key, file, fingerprint) in ready {
            match self.resume_known(key, &file, fingerprint) {
                Some(offset) => self.start(key, file, fingerprint, offset, now, out),
                None => unknown.push((key, file, fingerprint)),
            }
        }
        // Only after every known inode is settled: a copy with a smaller inode than its
        // truncated original must find the original's orphan, or it is read from 0 again.
        for (key, file, fingerprint) in unknown {
            self.start_unknown(key, file, fingerprint, now, out);
        }
    }

    /// Opens a candidate and fingerprints it once it is ready to be identified.
    fn identify(&mut self, key: FileKey, now: Instant) -> Option<(File, Fingerprint)> {
        let candidate = self.candidates.get_mut(&key)?;
        let Some((metadata, file)) = File::open(&candidate.path)
            .and_then(|f| f.metadata().map(|m| (m, f)))
            .ok()
            .filter(|(m, _)| FileKey::of(m) == key)
        else {
            // Gone or replaced since the scan; the next scan sorts it out.
            self.candidates.remove(&key);
            return None;
        };
        let size = metadata.len();
        if size != candidate.last_size {
            candidate.last_size = size;
            candidate.size_changed_at = now;
        }
        if size == 0 {
            return None;
        }
        let small = (size as usize) < self.config.fingerprint_size;
        if small && now.duration_since(candidate.size_changed_at) < self.config.small_file_wait {
            return None;
        }
        let fingerprint = Fingerprint::read(&file, self.config.fingerprint_size).ok()?;
        Some((file, fingerprint))
    }

    /// The offset to resume at if the checkpoint knows this inode with this content.
    fn resume_known(&mut self, key: FileKey, file: &File, fingerprint: Fingerprint) -> Option<u64> {
        let known = self.known.remove(&key)?;
        let same_content = if known.fingerprint.len == fingerprint.len {
            known.fingerprint == fingerprint
        } else {
            known.fingerprint.len < fingerprint.len
                && known.fingerprint.matches(file).unwrap_or(false)
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if same_content && size >= known.offset {
            return Some(known.offset);
        }
        // Rewritten or truncated while we were away: its old content may live on in a copy.
        self.orphan(key, known);
        None
    }

    /// A known file now shorter than what had been read of it was truncated while we were
    /// away. It may stay too small to fingerprint (empty after copytruncate), so its size
    /// alone makes its checkpoint entry an orphan for the copy to resume from.
    fn orphan_if_truncated(&mut self, key: FileKey) {
        let (Some(known), Some(candidate)) = (self.known.get(&key), self.candidates.get(&key))
        else {
            return;
        };
        let truncated = std::fs::metadata(&candidate.path)
            .is_ok_and(|metadata| FileKey::of(&metadata) == key && metadata.len() < known.offset);
        if !truncated {
            return;
        }
        if let Some(known) = self.known.remove(&key) {
            self.orphan(key, known);
        }
    }

    fn orphan(&mut self, key: FileKey, known: KnownFile) {
        self.orphans.push(Orphan {
            from: key,
            fingerprint: known.fingerprint,
            offset: known.offset,
            since: self
                .candidates
                .get(&key)
                .map_or_else(Instant::now, |c| c.first_seen),
        });
    }

    fn start_unknown(
        &mut self,
        key: FileKey,
        file: File,
        fingerprint: Fingerprint,
        now: Instant,
        out: &mut Vec<TailEvent>,
    ) {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let Some(candidate) = self.candidates.get(&key) else {
            return;
        };
        let waited = now.duration_since(candidate.first_seen);
        if let Some(index) = self.orphans.iter().position(|o| {
            o.from != key
                && u64::from(o.fingerprint.len) <= size
                && (o.fingerprint == fingerprint || o.fingerprint.matches(&file).unwrap_or(false))
        }) {
            let orphan_offset = self.orphans[index].offset;
            if orphan_offset > size && waited < self.config.ambiguity_wait {
                // A copy still being written: wait for it to reach what we had read.
                return;
            }
            self.orphans.swap_remove(index);
            let offset = if orphan_offset <= size {
                orphan_offset
            } else {
                0
            };
            self.start(key, file, fingerprint, offset, now, out);
            return;
        }
        // A known inode not identified yet (a small file waiting out `small_file_wait`, as a
        // truncated original is) may be this copy's original: its checkpoint entry becomes
        // the orphan this copy should resume from only once it is identified.
        let known_pending = self
            .candidates
            .keys()
            .any(|other| *other != key && self.known.contains_key(other));
        if known_pending && waited < self.config.ambiguity_wait {
            return;
        }
        let full = fingerprint.len as usize == self.config.fingerprint_size;
        let twin_is_live = full
            && self
                .tracked
                .values()
                .any(|t| t.key != key && t.fingerprint == fingerprint && t.gone_since.is_none());
        if twin_is_live && waited < self.config.ambiguity_wait {
            return;
        }
        let offset = match (candidate.first_run, self.config.start_at) {
            (true, StartAt::End) => candidate.size_at_first_sight.unwrap_or(size).min(size),
            _ => 0,
        };
        self.start(key, file, fingerprint, offset, now, out);
    }

    fn start(
        &mut self,
        key: FileKey,
        file: File,
        fingerprint: Fingerprint,
        offset: u64,
        now: Instant,
        out: &mut Vec<TailEvent>,
    ) {
        let Some(candidate) = self.candidates.remove(&key) else {
            return;
        };
        let path: Arc<Path> = Arc::from(candidate.path.as_path());
        out.push(TailEvent::Started {
            key,
            fingerprint,
            path: path.clone(),
            offset,
        });
        let tracked = Tracked::new(
            key,
            fingerprint,
            path,
            file,
            offset,
            self.config.max_line_bytes,
            now,
        );
        self.tracked.insert(key, tracked);
    }
}
