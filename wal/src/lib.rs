//! Write-ahead log: an append-only sequence of numbered records, split into segment files.
//!
//! # On-disk format (all integers little-endian)
//!
//! A segment is a file named `{first_seq:020}.wal` that starts with a 24-byte header:
//!
//! | bytes | field                                   |
//! |-------|-----------------------------------------|
//! | 8     | magic `PSCWAL\0\0`                      |
//! | 4     | version, currently 1                    |
//! | 8     | first_seq (must match the file name)    |
//! | 4     | crc32c of the 20 bytes above            |
//!
//! followed by record frames:
//!
//! | bytes | field                                   |
//! |-------|-----------------------------------------|
//! | 4     | payload length                          |
//! | 8     | seq                                     |
//! | 4     | crc32c of the 12 bytes above            |
//! | 4     | crc32c of the payload                   |
//! | len   | payload                                 |
//!
//! The separate header CRC lets a reader that hit damage resynchronise cheaply: it slides over the
//! bytes one at a time and only checks a payload CRC where a 12-byte header already matched.
//!
//! # Invariants the reader relies on
//!
//! * Seqs strictly increase within a segment (they may jump, e.g. after `min_next_seq`).
//! * A segment's first_seq is a lower bound for its records; a new segment is named right after
//!   the last record of its predecessor, so clean neighbours have no gap between them and a gap
//!   means a segment went missing.
//! * Every record of a segment has a seq below the `first_seq` of the next valid segment, so the
//!   file names alone say which segments `truncate_below` may delete.
//! * A segment is fsynced before its successor is created, so syncing the active segment makes
//!   every earlier record durable as well.

mod active;
mod config;
mod error;
mod frame;
mod log;
mod recover;
mod replay;
mod scan;
mod segment;

#[cfg(test)]
mod known_corruptions;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

pub use config::{WalConfig, WalReport};
pub use error::WalError;
pub use log::Wal;
