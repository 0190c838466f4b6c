//! File checkpoints: how far each file is in custody, and how far the disk buffer has been
//! applied and acknowledged. Kept in memory, updated as buffer entries become durable, and
//! written to `checkpoints.json` (versioned JSON, temp file → fsync → rename → fsync of the
//! directory) every `checkpoint_interval_ms` and at shutdown.
//!
//! The buffer entries carry the same marks, so the file is an optimisation: it lets the
//! buffer drop acknowledged segments, and restarts read only the entries after `wal_seq`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::buffer::BufferEntry;
use crate::error::AgentError;
use crate::tail::{FileKey, Fingerprint, KnownFile};

/// Checkpoint entries untouched this long are forgotten (their files are long gone).
const FORGET_AFTER_MS: u64 = 7 * 24 * 3600 * 1000;

/// One file's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheckpoint {
    /// Fingerprint when last updated.
    pub fingerprint: Fingerprint,
    /// Bytes in custody.
    pub offset: u64,
    /// Last known path.
    pub path: String,
    /// When it last changed.
    pub updated_unix_ms: u64,
}

/// Progress of every source, plus the buffer positions the checkpoint reflects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckpointState {
    /// Buffer entries with a seq below this have been applied.
    pub wal_seq: u64,
    /// Buffer entries with a seq below this were acknowledged by the collector (or dropped).
    pub acked_seq: u64,
    /// Per source, per file.
    pub sources: BTreeMap<String, BTreeMap<FileKey, FileCheckpoint>>,
}

impl CheckpointState {
    /// Applies a durable buffer entry's marks (idempotent: older seqs are ignored).
    pub fn apply(&mut self, seq: u64, entry: &BufferEntry, now_unix_ms: u64) {
        if seq < self.wal_seq {
            return;
        }
        self.wal_seq = seq + 1;
        if entry.source.is_empty() {
            return;
        }
        let files = self.sources.entry(entry.source.clone()).or_default();
        for mark in &entry.marks {
            files.insert(
                mark.key,
                FileCheckpoint {
                    fingerprint: mark.fingerprint,
                    offset: mark.offset,
                    path: mark.path.clone(),
                    updated_unix_ms: now_unix_ms,
                },
            );
        }
    }

    /// Whether `source` ever ran (then `start_at` no longer applies to it).
    pub fn is_initialized(&self, source: &str) -> bool {
        self.sources.contains_key(source)
    }

    /// The files of `source`, for its tailer.
    pub fn known_files(&self, source: &str) -> Vec<KnownFile> {
        self.sources
            .get(source)
            .map(|files| {
                files
                    .iter()
                    .map(|(key, file)| KnownFile {
                        key: *key,
                        fingerprint: file.fingerprint,
                        offset: file.offset,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets files not updated for a week.
    pub fn forget_stale(&mut self, now_unix_ms: u64) {
        for files in self.sources.values_mut() {
            files.retain(|_, file| {
                now_unix_ms.saturating_sub(file.updated_unix_ms) < FORGET_AFTER_MS
            });
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "version")]
enum CheckpointFile {
    #[serde(rename = "1")]
    V1(V1),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct V1 {
    wal_seq: u64,
    acked_seq: u64,
    sources: BTreeMap<String, Vec<FileV1>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    dev: u64,
    ino: u64,
    fingerprint_crc: u32,
    fingerprint_len: u32,
    offset: u64,
    path: String,
    updated_unix_ms: u64,
}

/// Where the checkpoint file lives in the data dir.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("checkpoints.json")
}

/// Reads the checkpoint file; a missing file is a fresh start.
///
/// # Errors
/// [`AgentError::Io`] if it cannot be read, [`AgentError::Format`] if it is not a checkpoint
/// this build understands (the agent refuses to start rather than re-read or skip files).
pub fn load(path: &Path) -> Result<CheckpointState, AgentError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CheckpointState::default());
        }
        Err(err) => return Err(AgentError::io("read checkpoint", path)(err)),
    };
    let file: CheckpointFile = serde_json::from_str(&text).map_err(|err| AgentError::Format {
        path: path.to_path_buf(),
        detail: err.to_string(),
    })?;
    let CheckpointFile::V1(v1) = file;
    let sources = v1
        .sources
        .into_iter()
        .map(|(name, files)| {
            let files = files
                .into_iter()
                .map(|f| {
                    (
                        FileKey {
                            dev: f.dev,
                            ino: f.ino,
                        },
                        FileCheckpoint {
                            fingerprint: Fingerprint {
                                crc: f.fingerprint_crc,
                                len: f.fingerprint_len,
                            },
                            offset: f.offset,
                            path: f.path,
                            updated_unix_ms: f.updated_unix_ms,
                        },
                    )
                })
                .collect();
            (name, files)
        })
        .collect();
    Ok(CheckpointState {
        wal_seq: v1.wal_seq,
        acked_seq: v1.acked_seq,
        sources,
    })
}

/// Writes the checkpoint atomically: temp file in the same directory, fsync, rename, fsync
/// of the directory. Blocking; call from a blocking context.
///
/// # Errors
/// [`AgentError::Io`] naming the step that failed; the previous file is then intact.
pub fn store(path: &Path, state: &CheckpointState) -> Result<(), AgentError> {
    let file = CheckpointFile::V1(V1 {
        wal_seq: state.wal_seq,
        acked_seq: state.acked_seq,
        sources: state
            .sources
            .iter()
            .map(|(name, files)| {
                let files = files
                    .iter()
                    .map(|(key, f)| FileV1 {
                        dev: key.dev,
                        ino: key.ino,
                        fingerprint_crc: f.fingerprint.crc,
                        fingerprint_len: f.fingerprint.len,
                        offset: f.offset,
                        path: f.path.clone(),
                        updated_unix_ms: f.updated_unix_ms,
                    })
                    .collect();
                (name.clone(), files)
            })
            .collect(),
    });
    let json = serde_json::to_vec_pretty(&file).map_err(|err| AgentError::Format {
        path: path.to_path_buf(),
        detail: err.to_string(),
    })?;
    let temp = path.with_extension("json.tmp");
    let mut out = File::create(&temp).map_err(AgentError::io("create checkpoint", &temp))?;
    out.write_all(&json)
        .map_err(AgentError::io("write checkpoint", &temp))?;
    out.sync_all()
        .map_err(AgentError::io("fsync checkpoint", &temp))?;
    drop(out);
    fs::rename(&temp, path).map_err(AgentError::io("rename checkpoint", path))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(AgentError::io("fsync checkpoint directory", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::buffer::{FileMark, Signal};

    fn entry(source: &str, ino: u64, offset: u64) -> BufferEntry {
        BufferEntry {
            signal: Signal::Logs,
            num_records: 1,
            source: source.to_string(),
            marks: vec![FileMark {
                key: FileKey { dev: 1, ino },
                fingerprint: Fingerprint { crc: 5, len: 1024 },
                offset,
                path: format!("/l/{ino}.log"),
            }],
            payload: Bytes::new(),
        }
    }

    #[test]
    fn apply_store_load_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        assert_eq!(load(&path).unwrap(), CheckpointState::default());
        let mut state = CheckpointState::default();
        state.apply(0, &entry("app", 7, 100), 1);
        state.apply(1, &entry("app", 7, 200), 2);
        state.apply(0, &entry("app", 7, 50), 3);
        state.apply(2, &entry("", 0, 0), 4);
        state.acked_seq = 2;
        assert_eq!(state.wal_seq, 3);
        assert_eq!(
            state.known_files("app")[0].offset,
            200,
            "older seqs are ignored"
        );
        store(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), state);
        assert!(load(&path).unwrap().is_initialized("app"));
        assert!(!load(&path).unwrap().is_initialized("other"));
    }

    #[test]
    fn unknown_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        fs::write(&path, r#"{"version":"9","x":1}"#).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, AgentError::Format { .. }), "{err}");
    }

    #[test]
    fn stale_files_are_forgotten() {
        let mut state = CheckpointState::default();
        state.apply(0, &entry("app", 7, 100), 0);
        state.forget_stale(FORGET_AFTER_MS + 1);
        assert!(state.known_files("app").is_empty());
        assert!(state.is_initialized("app"));
    }
}
