//! A file source's thread: tail → join lines → parse → batch → disk buffer. File IO and
//! parsing are blocking work, so each source runs on its own OS thread rather than on the
//! async runtime; the bounded channel to the buffer writer is its backpressure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::buffer::{BufferEntry, WriteRequest};
use crate::checkpoint::CheckpointState;
use crate::config::FileSourceConfig;
use crate::error::AgentError;
use crate::metrics::SourceMetrics;
use crate::multiline::{Assembler, RawRecord};
use crate::parse::Parser;
use crate::record::{self, Batch, BatchLimits};
use crate::tail::{TailConfig, TailEvent, Tailer};

/// Bytes read per poll before the batch is looked at again.
const POLL_BUDGET: usize = 4 * 1024 * 1024;

/// Everything a source thread needs.
pub struct SourceSetup {
    /// Source name.
    pub name: String,
    /// Its config.
    pub config: FileSourceConfig,
    /// Resource `host.name`.
    pub host_name: String,
    /// Batch limits from `[sink.batch]`.
    pub limits: BatchLimits,
    /// Where batches go.
    pub writer: mpsc::Sender<WriteRequest>,
    /// Its counters.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
}

/// Starts the source thread.
///
/// # Errors
/// A glob or regex that does not compile (validation rules this out), or no thread.
pub fn spawn(
    setup: SourceSetup,
    checkpoint: &CheckpointState,
) -> Result<JoinHandle<()>, AgentError> {
    let known = checkpoint.known_files(&setup.name);
    let initialized = checkpoint.is_initialized(&setup.name);
    let tailer = Tailer::new(TailConfig::from_source(&setup.config), known, initialized)
        .map_err(|err| AgentError::Config(format!("sources.{}: {err}", setup.name)))?;
    let parser = Parser::new(&setup.config.parser)
        .map_err(|err| AgentError::Config(format!("sources.{}: {err}", setup.name)))?;
    let pattern = match &setup.config.multiline {
        Some(multiline) => Some(
            crate::config::source::compile_regex(&multiline.line_start_pattern)
                .map_err(|err| AgentError::Config(format!("sources.{}: {err}", setup.name)))?,
        ),
        None => None,
    };
    let timeout = Duration::from_millis(
        setup
            .config
            .multiline
            .as_ref()
            .map_or(500, |m| m.timeout_ms),
    );
    let assembler = Assembler::new(pattern, timeout, setup.config.max_line_bytes);
    let name = setup.name.clone();
    std::thread::Builder::new()
        .name(format!("source-{name}"))
        .spawn(move || run(setup, tailer, parser, assembler, initialized))
        .map_err(|err| AgentError::Io {
            op: "spawn source thread",
            path: std::path::PathBuf::from(name),
            source: err,
        })
}

fn run(
    setup: SourceSetup,
    mut tailer: Tailer,
    parser: Parser,
    mut assembler: Assembler,
    initialized: bool,
) {
    let service = setup
        .config
        .service_name
        .clone()
        .unwrap_or_else(|| setup.name.clone());
    let resource = record::resource(&setup.host_name, &service, &setup.config.resource);
    let mut batch = Batch::new(setup.name.clone(), resource, setup.limits);
    let poll_interval = Duration::from_millis(setup.config.poll_interval_ms);
    let Some(metrics) = setup.metrics.sources.get(&setup.name) else {
        return;
    };
    if !initialized {
        // Records that this source has run, so `start_at` never applies again.
        batch.force_flush(Instant::now());
    }
    let mut events = Vec::new();
    let mut raw = Vec::new();
    let mut gauges_due = Instant::now();
    while !setup.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let stats = tailer.poll(now, POLL_BUDGET, &mut events);
        metrics
            .bytes_read
            .fetch_add(stats.bytes_read, Ordering::Relaxed);
        for event in events.drain(..) {
            match event {
                TailEvent::Started {
                    key,
                    fingerprint,
                    path,
                    offset,
                } => {
                    tracing::debug!(source = %setup.name, path = %path.display(), ino = key.ino, offset, "tailing a file");
                    batch.mark(key, fingerprint, &path, offset, now);
                }
                TailEvent::Line {
                    key,
                    fingerprint,
                    path,
                    line,
                } => {
                    metrics.lines_read.fetch_add(1, Ordering::Relaxed);
                    if line.truncated {
                        metrics.lines_truncated.fetch_add(1, Ordering::Relaxed);
                    }
                    if line.invalid_utf8 {
                        metrics.lines_invalid_utf8.fetch_add(1, Ordering::Relaxed);
                    }
                    assembler.push(key, fingerprint, &path, line, now, &mut raw);
                }
                TailEvent::Ended { key } => assembler.end(key, &mut raw),
            }
            add_records(&mut raw, &parser, &mut batch, now);
            if batch.is_due(now) && !flush(&mut batch, &setup) {
                return;
            }
        }
        assembler.flush_expired(now, &mut raw);
        add_records(&mut raw, &parser, &mut batch, now);
        if batch.is_due(now) && !flush(&mut batch, &setup) {
            return;
        }
        if now >= gauges_due {
            update_gauges(&tailer, metrics);
            gauges_due = now + Duration::from_secs(1);
        }
        if !stats.more {
            sleep_unless_stopped(poll_interval, &setup.stop);
        }
    }
    // Complete records go out; partial lines and unfinished multiline records are left to
    // be read again after the restart (their offsets were never marked).
    flush(&mut batch, &setup);
}

fn add_records(raw: &mut Vec<RawRecord>, parser: &Parser, batch: &mut Batch, now: Instant) {
    if raw.is_empty() {
        return;
    }
    let observed = record::now_unix_nano();
    for item in raw.drain(..) {
        let parsed = parser.parse(&item.text);
        let log = record::log_record(&item, parsed, observed);
        batch.push(&item, log, now);
    }
}

/// Hands the batch to the buffer writer and waits until it is durable, retrying on errors.
/// Returns false if the agent stopped before that happened.
fn flush(batch: &mut Batch, setup: &SourceSetup) -> bool {
    let Some(entry) = batch.take() else {
        return true;
    };
    loop {
        match write(&entry, setup) {
            Ok(()) => return true,
            Err(WriteFailure::Closed) => return false,
            Err(WriteFailure::Failed(err)) => {
                tracing::error!(source = %setup.name, error = %err, "cannot buffer records; retrying in 1s");
                sleep_unless_stopped(Duration::from_secs(1), &setup.stop);
                if setup.stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
        }
    }
}

enum WriteFailure {
    Closed,
    Failed(AgentError),
}

fn write(entry: &BufferEntry, setup: &SourceSetup) -> Result<(), WriteFailure> {
    let (reply, wait) = oneshot::channel();
    let request = WriteRequest {
        entry: entry.clone(),
        reply: Some(reply),
        wait_when_full: true,
    };
    // Blocks while the writer is behind (or the buffer is full): reading pauses with it.
    setup
        .writer
        .blocking_send(request)
        .map_err(|_| WriteFailure::Closed)?;
    match wait.blocking_recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(WriteFailure::Failed(err)),
        Err(_) => Err(WriteFailure::Closed),
    }
}

fn update_gauges(tailer: &Tailer, metrics: &SourceMetrics) {
    let mut tracked = 0;
    if let Ok(mut lag) = metrics.file_lag.lock() {
        lag.clear();
        for (_, path, offset, size) in tailer.files() {
            tracked += 1;
            lag.insert(
                path.to_string_lossy().into_owned(),
                size.saturating_sub(offset),
            );
        }
    }
    metrics.files_tracked.store(tracked, Ordering::Relaxed);
    metrics
        .files_open
        .store(tailer.open_files() as u64, Ordering::Relaxed);
}

fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let deadline = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep(step.min(deadline - now));
    }
}
