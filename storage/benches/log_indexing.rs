//! Throughput of the Tantivy indexing stage alone: log rows in, one commit, index on disk.
//!
//! The rows look like the `periscope bench` S3 workload: real Loghub lines with their digits
//! randomised (so numbers are as unique as in real traffic), four attributes, a resource of
//! six attributes shared by the rows of a request, trace context on 30 % of the rows. Compare
//! the figures with the limit of one core for Tantivy itself (12–25 MB/s of log text,
//! shared/PERFORMANCE.md) to see how far this stage is from it.
//!
//! `cargo bench -p periscope-storage --bench log_indexing`; the corpus is
//! `../shared/data/loghub-2k` from the workspace root, or `PERISCOPE_BENCH_CORPUS`, and
//! built-in lines when neither exists.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use periscope_storage::logindex::open_log_index;
use periscope_storage::{AttrValue, LogRow, Origin, SpanId, TraceId};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows indexed per iteration: enough for the writer to reach a steady state, few enough
/// that one iteration stays around a second.
const ROWS: usize = 20_000;
/// Rows per request (they share one resource), as in the S3 workload.
const ROWS_PER_REQUEST: usize = 1_000;
/// The server's default writer memory budget (`storage.log_index_memory_bytes`).
const WRITER_MEMORY: usize = 64 << 20;

const BUILTIN_LINES: [&str; 4] = [
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
    "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
    "connection pool exhausted: 64/64 in use, waited 250ms for a connection to db-primary:5432",
    "2017-05-16 00:00:00.008 INFO nova.compute.manager [req-3ea4] [instance: b9000564] VM Started (Lifecycle Event)",
];

/// xorshift64*: deterministic, so every run indexes the same rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PERISCOPE_BENCH_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    // Benches run in the package directory; the corpus sits beside the workspace.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/loghub-2k");
    dir.is_dir().then_some(dir)
}

fn corpus_lines() -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(dir) = corpus_dir()
        && let Ok(entries) = std::fs::read_dir(&dir)
    {
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .collect();
        paths.sort();
        for path in paths {
            if let Ok(bytes) = std::fs::read(&path) {
                lines.extend(
                    String::from_utf8_lossy(&bytes)
                        .lines()
                        .filter(|line| !line.is_empty())
                        .map(str::to_string),
                );
            }
        }
    }
    if lines.is_empty() {
        lines = BUILTIN_LINES.iter().map(|line| line.to_string()).collect();
    }
    lines
}

fn resource(service: &str) -> Origin {
    let text = |value: &str| AttrValue::Str(value.to_string());
    Origin {
        service_name: service.to_string(),
        resource_attributes: vec![
            ("service.name".into(), text(service)),
            ("service.version".into(), text("1.4.2")),
            ("deployment.environment.name".into(), text("production")),
            ("host.name".into(), text("host-1")),
            ("telemetry.sdk.language".into(), text("rust")),
            ("telemetry.sdk.name".into(), text("opentelemetry")),
        ],
        ..Origin::default()
    }
}

/// The rows and the bytes of their bodies.
fn workload() -> (Vec<LogRow>, u64) {
    let lines = corpus_lines();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rows = Vec::with_capacity(ROWS);
    let mut body_bytes = 0;
    let mut origin = std::sync::Arc::new(resource("checkout"));
    let now = 1_700_000_000_000_000_000_i64;
    for seq in 0..ROWS {
        if seq % ROWS_PER_REQUEST == 0 {
            let services = ["frontend", "checkout", "payments", "inventory"];
            origin = std::sync::Arc::new(resource(services[rng.below(4) as usize]));
        }
        let template = &lines[rng.below(lines.len() as u64) as usize];
        let body: String = template
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    char::from(b'0' + rng.below(10) as u8)
                } else {
                    c
                }
            })
            .collect();
        body_bytes += body.len() as u64;
        let (severity_number, severity_text) = [
            (9, "INFO"),
            (9, "INFO"),
            (13, "WARN"),
            (17, "ERROR"),
            (5, "DEBUG"),
        ][rng.below(5) as usize];
        let correlated = rng.below(100) < 30;
        rows.push(LogRow {
            time_unix_nano: now + seq as i64 * 1000,
            observed_time_unix_nano: now + (seq / ROWS_PER_REQUEST) as i64 * 1_000_000,
            severity_number,
            severity_text: severity_text.to_string(),
            body: AttrValue::Str(body),
            attributes: vec![
                ("bench.client".into(), AttrValue::Str("bench-0".into())),
                ("bench.seq".into(), AttrValue::Int(seq as i64)),
                ("log.file.name".into(), AttrValue::Str("app.log".into())),
                (
                    "thread.name".into(),
                    AttrValue::Str(format!("worker-{}", rng.below(16))),
                ),
            ],
            dropped_attributes_count: 0,
            trace_id: correlated.then(|| TraceId((u128::from(rng.next()) << 64 | 1).to_be_bytes())),
            span_id: correlated.then(|| SpanId((rng.next() | 1).to_be_bytes())),
            flags: u32::from(correlated),
            event_name: String::new(),
            origin: origin.clone(),
        });
    }
    (rows, body_bytes)
}

/// Indexes every row into a fresh index and commits: what the indexer thread does for
/// `ROWS` records, merges of earlier segments aside. Returns the index's bytes on disk.
fn index_all(rows: &[LogRow]) -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut writer, _searcher, _) =
        open_log_index(dir.path(), WRITER_MEMORY).expect("open log index");
    for request in rows.chunks(ROWS_PER_REQUEST) {
        writer.add(black_box(request)).expect("add rows");
    }
    writer.commit(1).expect("commit");
    // Bytes per kind of file: `store` (rows), `idx`/`pos`/`term` (postings, positions,
    // dictionary), `fast` (columns).
    let mut sizes: Vec<(String, u64)> = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("list index").flatten() {
        let path = entry.path();
        let kind = path
            .extension()
            .map_or_else(String::new, |ext| ext.to_string_lossy().into_owned());
        let len = entry.metadata().map_or(0, |metadata| metadata.len());
        match sizes.iter_mut().find(|(name, _)| *name == kind) {
            Some((_, total)) => *total += len,
            None => sizes.push((kind, len)),
        }
    }
    sizes.sort();
    sizes
}

/// Bytes on disk per body byte of one committed segment (the server's merged index is a
/// little smaller): printed once, since criterion only times.
fn report_size() {
    let (rows, body_bytes) = workload();
    let sizes = index_all(&rows);
    let per_body_byte = |bytes: u64| bytes as f64 / body_bytes as f64;
    let parts: Vec<String> = sizes
        .iter()
        .filter(|(_, bytes)| per_body_byte(*bytes) >= 0.001)
        .map(|(kind, bytes)| format!("{kind} {:.3}", per_body_byte(*bytes)))
        .collect();
    println!(
        "log_indexing: {} rows, {body_bytes} body bytes; index bytes per body byte {:.3} ({})",
        rows.len(),
        per_body_byte(sizes.iter().map(|(_, bytes)| bytes).sum()),
        parts.join(", ")
    );
}

/// Process CPU time (user + system, every thread, finished ones included) from
/// `/proc/self/stat`, in ns. Tantivy indexes and compresses on threads of its own, so wall time
/// on a shared 2-core machine says little; CPU time is what the S3 floor counts.
struct CpuTime;

/// `/proc` counts in clock ticks; Linux fixes USER_HZ at 100 on every architecture we run.
const NS_PER_TICK: u64 = 10_000_000;

fn process_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |index: usize| fields[index].parse::<u64>().expect("tick count");
    (ticks(11) + ticks(12)) * NS_PER_TICK
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// CPU time in ms, throughputs per CPU-second in decimal MB and thousands of records.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|ns| *ns /= 1e6);
        "ms CPU"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per_iteration, divisor, unit) = match *throughput {
            Throughput::Bytes(bytes) | Throughput::BytesDecimal(bytes) => {
                (bytes as f64, 1e6, "MB/CPU-s")
            }
            Throughput::Elements(elements) | Throughput::ElementsAndBytes { elements, .. } => {
                (elements as f64, 1e3, "k rec/CPU-s")
            }
            Throughput::Bits(bits) => (bits as f64, 1e6, "Mbit/CPU-s"),
        };
        values
            .iter_mut()
            .for_each(|ns| *ns = per_iteration / (*ns / 1e9).max(1e-9) / divisor);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn log_indexing<M: Measurement>(criterion: &mut Criterion<M>, name: &str) {
    let (rows, body_bytes) = workload();
    let mut group = criterion.benchmark_group(name);
    group.throughput(Throughput::ElementsAndBytes {
        elements: rows.len() as u64,
        bytes: body_bytes,
    });
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("index_and_commit", |bencher| {
        bencher.iter(|| index_all(&rows))
    });
    group.finish();
}

fn wall_time(criterion: &mut Criterion) {
    log_indexing(criterion, "log_indexing_wall");
}

fn cpu_time(criterion: &mut Criterion<CpuTime>) {
    log_indexing(criterion, "log_indexing_cpu");
}

criterion_group!(wall, wall_time);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu_time
}
fn main() {
    report_size();
    wall();
    cpu();
    Criterion::default().configure_from_args().final_summary();
}
