//! How the server's allocator (mimalloc, `src/main.rs`) keeps and returns freed memory.
//!
//! Span ingest fills the recent buffer with a few hundred MiB of batches and frees them all at
//! each flush (every 250k spans under load). mimalloc returns freed memory to the OS after
//! 1 s by default, so every fill after a flush faulted the same memory in again, zeroed page by
//! page: a third of the server's system time under S1. Kept [`KEEP_FREED_MEMORY`] instead, the
//! next fill reuses it (S1 +12 % spans per CPU-second, system time 3.2 → 1.9 s per 1M spans;
//! peak RSS +60–80 MiB; docs/benchmarks.md, session 16).
//!
//! mimalloc only purges when it is called, so an idle server kept its peak RSS after a burst
//! with either setting. [`return_freed_memory`] gives everything free back at once; `serve`
//! calls it once ingest has been quiet for a while.
//!
//! The two calls below are the workspace's only `unsafe`: plain integers in, nothing out, no
//! pointers, so there is nothing for the caller to uphold beyond what each comment says.
#![allow(unsafe_code)]

use std::time::Duration;

/// How long memory freed by a flush is kept for the next fill before it goes back to the OS.
/// Longer than a flush cycle under load, shorter than anyone would call idle.
pub const KEEP_FREED_MEMORY: Duration = Duration::from_secs(30);

/// `mi_option_purge_delay` of mimalloc v3's `mi_option_t` (include/mimalloc.h): libmimalloc-sys
/// 0.1.49 declares the enum's older members only.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets how long mimalloc keeps freed memory before returning it to the OS, unless the
/// environment sets it (`MIMALLOC_PURGE_DELAY`, milliseconds, read by mimalloc itself). Call it
/// first thing in `main`, before any other thread exists: mimalloc's option setter is not
/// thread safe.
pub fn keep_freed_memory_for(delay: Duration) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    let millis = libc_long(delay.as_millis());
    // SAFETY: stores one integer option; called before other threads start (see above).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, millis) }
}

/// Returns all free memory of every thread's heap to the OS now, whatever the purge delay.
pub fn return_freed_memory() {
    // SAFETY: mi_collect takes no pointers and is safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn libc_long(millis: u128) -> std::ffi::c_long {
    std::ffi::c_long::try_from(millis).unwrap_or(std::ffi::c_long::MAX)
}
