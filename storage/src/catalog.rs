//! The catalog: which Parquet files are published, and up to which WAL sequence number each
//! signal's files are complete. One small versioned JSON manifest, replaced atomically
//! (temp file, fsync, rename). Files on disk that the manifest does not list are leftovers
//! of a crash between writing a file and publishing it; they are deleted at open.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::StorageError;
use crate::model::Signal;
use crate::parquet_file::sync_dir;

const MANIFEST_NAME: &str = "catalog.json";

/// One published Parquet file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Spans or metrics.
    pub signal: Signal,
    /// Path relative to the data directory.
    pub path: String,
    /// Rows in the file.
    pub num_rows: u64,
    /// Bytes on disk.
    pub num_bytes: u64,
    /// Earliest record time, ns.
    pub min_time_unix_nano: i64,
    /// Latest record time, ns.
    pub max_time_unix_nano: i64,
    /// Last WAL sequence number whose records the file holds.
    pub last_seq: u64,
    /// How the file's columns are laid out; files listed before layouts existed have maps.
    #[serde(default)]
    pub layout: FileLayout,
}

/// The column layout of a published file.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileLayout {
    /// The table's own schema: attribute maps as `Map<Utf8, Utf8>` columns.
    #[default]
    Maps,
    /// Span files since the packed layout: each attribute map as a keys and a values column
    /// (`crate::batch::packed_spans_schema`), turned back into maps when read.
    PackedAttributes,
}

impl FileLayout {
    /// The layout new files of `signal` are written in.
    pub fn for_new_files(signal: Signal) -> FileLayout {
        match signal {
            Signal::Spans => FileLayout::PackedAttributes,
            Signal::Metrics | Signal::Logs => FileLayout::Maps,
        }
    }
}

/// The manifest's current shape. New fields get `#[serde(default)]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CatalogState {
    /// Published files, oldest first.
    pub files: Vec<FileEntry>,
    /// Every span record with a WAL seq up to this is in a published file.
    pub spans_persisted_through: u64,
    /// Every metric record with a WAL seq up to this is in a published file.
    pub metrics_persisted_through: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "version")]
enum Manifest {
    #[serde(rename = "1")]
    V1(CatalogState),
}

impl CatalogState {
    /// Persisted-through seq of a file-backed signal.
    pub fn persisted_through(&self, signal: Signal) -> u64 {
        match signal {
            Signal::Spans => self.spans_persisted_through,
            Signal::Metrics => self.metrics_persisted_through,
            Signal::Logs => 0,
        }
    }

    pub(crate) fn set_persisted_through(&mut self, signal: Signal, seq: u64) {
        match signal {
            Signal::Spans => self.spans_persisted_through = seq,
            Signal::Metrics => self.metrics_persisted_through = seq,
            Signal::Logs => {}
        }
    }

    /// Absolute paths of a signal's files.
    pub fn file_paths(&self, data_dir: &Path, signal: Signal) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|entry| entry.signal == signal)
            .map(|entry| data_dir.join(&entry.path))
            .collect()
    }
}

/// Loads the manifest (an empty catalog if there is none) and removes unlisted files.
pub fn load_catalog(data_dir: &Path) -> Result<CatalogState, StorageError> {
    let path = data_dir.join(MANIFEST_NAME);
    let state = match fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(Manifest::V1(state)) => state,
            Err(err) => {
                return Err(StorageError::Corrupt(format!(
                    "catalog {} is unreadable: {err}",
                    path.display()
                )));
            }
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => CatalogState::default(),
        Err(err) => return Err(err.into()),
    };
    remove_unlisted_files(data_dir, &state)?;
    Ok(state)
}

fn remove_unlisted_files(data_dir: &Path, state: &CatalogState) -> Result<(), StorageError> {
    for signal in [Signal::Spans, Signal::Metrics] {
        let dir = data_dir.join(signal.as_str());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err.into()),
        };
        let listed = state.file_paths(data_dir, signal);
        for entry in entries {
            let path = entry?.path();
            if !listed.contains(&path) {
                info!(path = %path.display(), "removing unpublished file left by a crash");
                if let Err(err) = fs::remove_file(&path) {
                    warn!(path = %path.display(), error = %err, "failed to remove unpublished file");
                }
            }
        }
    }
    Ok(())
}

/// Replaces the manifest atomically.
pub fn save_catalog(data_dir: &Path, state: &CatalogState) -> Result<(), StorageError> {
    let bytes = serde_json::to_vec_pretty(&Manifest::V1(state.clone()))?;
    let temp_path = data_dir.join(format!(".{MANIFEST_NAME}.tmp"));
    fs::write(&temp_path, bytes)?;
    fs::File::open(&temp_path)?.sync_all()?;
    fs::rename(&temp_path, data_dir.join(MANIFEST_NAME))?;
    sync_dir(data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_unlisted_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let spans_dir = dir.path().join("spans");
        fs::create_dir_all(&spans_dir).unwrap();
        fs::write(spans_dir.join("kept.parquet"), b"x").unwrap();
        fs::write(spans_dir.join("orphan.parquet"), b"x").unwrap();
        let state = CatalogState {
            files: vec![FileEntry {
                signal: Signal::Spans,
                path: "spans/kept.parquet".to_string(),
                num_rows: 1,
                num_bytes: 1,
                min_time_unix_nano: 1,
                max_time_unix_nano: 2,
                last_seq: 7,
                layout: FileLayout::PackedAttributes,
            }],
            spans_persisted_through: 7,
            metrics_persisted_through: 0,
        };
        save_catalog(dir.path(), &state).unwrap();
        assert_eq!(load_catalog(dir.path()).unwrap(), state);
        assert!(spans_dir.join("kept.parquet").try_exists().unwrap());
        assert!(!spans_dir.join("orphan.parquet").try_exists().unwrap());
    }

    #[test]
    fn files_listed_before_layouts_existed_have_maps() {
        let dir = tempfile::tempdir().unwrap();
        let written_by_an_older_release = r#"{
            "version": "1",
            "files": [{"signal": "spans", "path": "spans/old.parquet", "num_rows": 3,
                       "num_bytes": 9, "min_time_unix_nano": 1, "max_time_unix_nano": 2,
                       "last_seq": 4}],
            "spans_persisted_through": 4,
            "metrics_persisted_through": 0
        }"#;
        fs::create_dir_all(dir.path().join("spans")).unwrap();
        fs::write(dir.path().join("spans/old.parquet"), b"x").unwrap();
        fs::write(dir.path().join(MANIFEST_NAME), written_by_an_older_release).unwrap();
        let state = load_catalog(dir.path()).unwrap();
        assert_eq!(state.files[0].layout, FileLayout::Maps);
    }

    #[test]
    fn manifest_carries_its_version() {
        let dir = tempfile::tempdir().unwrap();
        save_catalog(dir.path(), &CatalogState::default()).unwrap();
        let text = fs::read_to_string(dir.path().join(MANIFEST_NAME)).unwrap();
        assert!(text.contains("\"version\": \"1\""), "{text}");
    }
}
