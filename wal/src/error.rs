//! The WAL's error type.

use std::path::PathBuf;

/// Everything that can make a WAL operation fail.
///
/// Corrupt content is deliberately *not* an error: it is skipped and counted in
/// [`WalReport`](crate::WalReport), because a log that refuses to open after one bad sector would
/// take the whole server down with it.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An IO operation on the WAL directory or on a segment file failed.
    #[error("wal {op} failed for {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create segment".
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a record failed (e.g. ENOSPC). The partial record was cut off again, so the log is
    /// still valid and the next append may succeed once the cause is gone.
    #[error("wal append of seq {seq} failed for {} at offset {offset}: {source}", path.display())]
    Append {
        /// The active segment file.
        path: PathBuf,
        /// Where the record would have started.
        offset: u64,
        /// The seq the record would have had; it was not consumed.
        seq: u64,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// The payload is larger than `WalConfig::max_record_bytes`.
    #[error("wal record of {len} bytes exceeds max_record_bytes {max}")]
    RecordTooLarge {
        /// Length of the rejected payload.
        len: usize,
        /// The configured limit.
        max: u32,
    },
    /// The seq counter reached `u64::MAX`; no further record can be numbered.
    #[error("wal seq space exhausted at seq {seq}")]
    SeqExhausted {
        /// The next seq that could not be handed out.
        seq: u64,
    },
    /// An fsync failed earlier. The kernel may have dropped the dirty pages, so a later fsync
    /// could "succeed" without the data being on disk; the only safe way on is to reopen the WAL,
    /// which re-reads what really is in the file.
    #[error("wal is unusable since fsync of {} failed; reopen it", path.display())]
    Poisoned {
        /// The segment whose fsync failed.
        path: PathBuf,
    },
    /// Returned by a replay visitor to stop the replay with its own error.
    #[error("wal replay visitor failed: {0}")]
    Visitor(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl WalError {
    /// Builds a closure for `map_err` that wraps an IO error with what was done to which path.
    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io { op, path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_carry_context() {
        let err = WalError::Append {
            path: PathBuf::from("/w/00000000000000000007.wal"),
            offset: 44,
            seq: 9,
            source: std::io::Error::other("disk full"),
        };
        let msg = err.to_string();
        assert!(msg.starts_with("wal append of seq 9"), "{msg}");
        assert!(
            msg.contains("00000000000000000007.wal at offset 44"),
            "{msg}"
        );
        let err = WalError::io("fsync", std::path::Path::new("/w"))(std::io::Error::other("eio"));
        assert_eq!(err.to_string(), "wal fsync failed for /w: eio");
    }
}
