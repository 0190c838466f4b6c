//! Public configuration and report types.

use std::path::PathBuf;

/// Where the WAL lives and how big its pieces may get.
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Directory holding the segment files; created by `Wal::open` if missing. Files whose names
    /// are not `{20 digits}.wal` are ignored, so the directory may be shared with other files.
    pub dir: PathBuf,
    /// A new segment is started when appending to the active one would make it larger than this.
    /// A record larger than this still gets written (alone in its segment).
    pub segment_max_bytes: u64,
    /// Largest payload `Wal::append` accepts. Only enforced on write, so lowering it never makes
    /// existing records unreadable.
    pub max_record_bytes: u32,
}

/// What `Wal::open` repaired or what `Wal::replay` skipped.
///
/// The two never count the same thing twice: `open` only reports what it changed on disk (cut
/// torn tails, removed half-created segments); `replay` reports what it had to skip while reading.
#[derive(Debug, Default, Clone)]
pub struct WalReport {
    /// Damaged stretches skipped while reading: each contiguous run of unreadable bytes inside a
    /// segment counts once (a bit flip, a partial record at the end of a sealed segment), as does
    /// each record dropped because a later segment claims its seq.
    pub corrupt_records: u64,
    /// Bytes cut off the end of the last segment by `open` because they were not a whole, valid
    /// record (a write interrupted by a crash, or damage at the very end).
    pub torn_tail_bytes: u64,
    /// Segments that could not be used: bad or unknown-version header, shorter than a header,
    /// vanished while reading, or missing (a gap in seqs between two otherwise clean segments).
    pub skipped_segments: u64,
    /// Records handed to the replay visitor.
    pub replayed_records: u64,
    /// Payload bytes handed to the replay visitor.
    pub replayed_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_report_is_all_zero() {
        let r = WalReport::default();
        let sum = r.corrupt_records
            + r.torn_tail_bytes
            + r.skipped_segments
            + r.replayed_records
            + r.replayed_bytes;
        assert_eq!(sum, 0);
    }
}
