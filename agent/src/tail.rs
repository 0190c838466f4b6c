//! File tailing: finding files by glob, knowing them by device, inode and a fingerprint of
//! their first bytes, following them through rotation, truncation and deletion, and cutting
//! their bytes into lines with the byte offset of each.
//!
//! Everything here is synchronous and takes the current time as an argument, so the model
//! tests drive it step by step; the source thread wraps it.

mod discover;
mod fingerprint;
mod lines;
mod tailer;
mod tracked;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

pub use fingerprint::{FileKey, Fingerprint};
pub use lines::Line;
pub use tailer::{KnownFile, TailConfig, TailEvent, Tailer};
