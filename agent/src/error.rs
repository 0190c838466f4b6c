//! The agent's one error type. Variants are categories a caller can act on; the payload says
//! what and where, in lowercase, without a trailing period.

use std::path::PathBuf;

/// Everything that can make an agent operation fail.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration file is unreadable, unparsable or holds an invalid value.
    #[error("invalid config: {0}")]
    Config(String),
    /// A file or directory operation failed.
    #[error("{op} failed for {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "write checkpoint".
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// The disk buffer failed (its WAL reported an IO error).
    #[error("disk buffer: {0}")]
    Buffer(#[from] periscope_wal::WalError),
    /// The disk buffer is full and the policy is `block`; the caller should retry later.
    #[error("disk buffer is full ({used} of {max} bytes)")]
    BufferFull {
        /// Bytes on disk.
        used: u64,
        /// The configured cap.
        max: u64,
    },
    /// A record can never fit in the buffer (larger than the cap or the request limit).
    #[error("record of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the rejected record.
        len: usize,
        /// The limit it exceeds.
        max: usize,
    },
    /// The agent is shutting down and accepts no more data.
    #[error("agent is shutting down")]
    ShuttingDown,
    /// A persisted file (checkpoint) has a version or shape this build cannot read.
    #[error("cannot read {}: {detail}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the config.
        addr: std::net::SocketAddr,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
}

impl AgentError {
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
    fn messages_are_lowercase_with_context() {
        let err = AgentError::io("write checkpoint", std::path::Path::new("/d/c.json"))(
            std::io::Error::other("disk full"),
        );
        assert_eq!(
            err.to_string(),
            "write checkpoint failed for /d/c.json: disk full"
        );
        let err = AgentError::BufferFull { used: 10, max: 8 };
        assert_eq!(err.to_string(), "disk buffer is full (10 of 8 bytes)");
    }
}
