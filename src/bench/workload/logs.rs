//! Log requests: real lines replayed from a corpus (or built-in application lines) with
//! numbers randomised, severities, thread names, and trace ids on 30 % of records. One record
//! in [`NEEDLE_EVERY`] carries the rare token [`NEEDLE`], so needle searches find something.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;

use super::{SERVICES, int, kv, now_nanos, resource, string};
use crate::bench::rng::Rng;

/// The rare token of S7.
pub(crate) const NEEDLE: &str = "periscopeneedle";
/// One record in this many (per client, by sequence number) carries [`NEEDLE`].
pub(crate) const NEEDLE_EVERY: u64 = 10_000;

/// Generates log requests from a corpus of real lines.
pub(crate) struct LogWorkload {
    rng: Rng,
    client: String,
    lines: Vec<String>,
    next_seq: u64,
    /// Raw bytes of the bodies sent (the "raw log bytes" of size ratios).
    pub(crate) body_bytes: u64,
    /// Bytes of the log records sent as OTLP encodes them (protobuf): body, attributes, ids,
    /// times and severity, without the request's resource and framing.
    pub(crate) record_bytes: u64,
    /// Every 1000th trace id sent, for trace-id searches.
    pub(crate) sampled_trace_ids: Vec<[u8; 16]>,
    num_correlated: u64,
}

/// Lines used when no corpus directory is given: varied, with numbers and ids.
const BUILTIN_LINES: [&str; 8] = [
    "GET /api/v1/items/4821 200 12ms user=31 agent=Mozilla/5.0",
    "payment declined for order 99812: card expired (gateway=stripe attempt=2)",
    "connection pool exhausted: 64/64 in use, waited 250ms for a connection to db-primary:5432",
    "user 7731 logged in from 10.2.3.4 via sso provider=okta session=ab93f1",
    "cache miss key=item:1902 ttl=300 size=2048 region=eu-west-1",
    "slow query took 1834ms: SELECT * FROM orders WHERE customer_id = 4411 ORDER BY created_at",
    "retrying request to inventory (attempt 3 of 5) after 503 Service Unavailable",
    "{\"level\":\"info\",\"msg\":\"order shipped\",\"order_id\":77120,\"carrier\":\"dhl\"}",
];

impl LogWorkload {
    /// A generator over the `*.log` files of `corpus_dir`, or built-in lines.
    pub(crate) fn new(
        client: &str,
        seed: u64,
        corpus_dir: Option<&std::path::Path>,
    ) -> std::io::Result<LogWorkload> {
        let mut lines = Vec::new();
        if let Some(dir) = corpus_dir {
            let mut paths: Vec<_> = std::fs::read_dir(dir)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
                .collect();
            paths.sort();
            for path in paths {
                let bytes = std::fs::read(&path)?;
                lines.extend(
                    String::from_utf8_lossy(&bytes)
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                );
            }
        }
        if lines.is_empty() {
            lines = BUILTIN_LINES.iter().map(|line| line.to_string()).collect();
        }
        Ok(LogWorkload {
            rng: Rng::new(seed),
            client: client.to_string(),
            lines,
            next_seq: 0,
            body_bytes: 0,
            record_bytes: 0,
            sampled_trace_ids: Vec::new(),
            num_correlated: 0,
        })
    }

    /// The alphabetic word found in the most lines of the corpus (at least 4 letters,
    /// lowercase as the index sees it): the "common term" of the log aggregate scenario.
    pub(crate) fn common_term(&self) -> String {
        let mut lines_with: std::collections::HashMap<String, usize> = Default::default();
        for line in &self.lines {
            let mut words: Vec<String> = line
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|word| word.len() >= 4 && word.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(str::to_ascii_lowercase)
                .collect();
            words.sort();
            words.dedup();
            for word in words {
                *lines_with.entry(word).or_default() += 1;
            }
        }
        lines_with
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map_or_else(|| "order".to_string(), |(word, _)| word)
    }

    /// Replaces every digit run with random digits, so the index sees realistic variety
    /// instead of the same few thousand lines over and over.
    fn randomise(&mut self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        for character in line.chars() {
            if character.is_ascii_digit() {
                out.push(char::from(b'0' + self.rng.below(10) as u8));
            } else {
                out.push(character);
            }
        }
        out
    }

    /// One request with `num_records` log records.
    pub(crate) fn next_request(&mut self, num_records: usize) -> ExportLogsServiceRequest {
        let now = now_nanos();
        let mut records = Vec::with_capacity(num_records);
        for index in 0..num_records {
            let template = self.lines[self.rng.below(self.lines.len() as u64) as usize].clone();
            let seq = self.next_seq;
            self.next_seq += 1;
            let mut body = self.randomise(&template);
            if seq.is_multiple_of(NEEDLE_EVERY) {
                body.push(' ');
                body.push_str(NEEDLE);
            }
            self.body_bytes += body.len() as u64;
            let severity = *self.rng.pick(&[
                (9, "INFO"),
                (9, "INFO"),
                (13, "WARN"),
                (17, "ERROR"),
                (5, "DEBUG"),
            ]);
            let correlated = self.rng.chance(30);
            let trace_id = if correlated {
                let id = self.rng.trace_id();
                if self.num_correlated.is_multiple_of(1000) {
                    self.sampled_trace_ids.push(id);
                }
                self.num_correlated += 1;
                id.to_vec()
            } else {
                Vec::new()
            };
            let record = LogRecord {
                time_unix_nano: now - (num_records - index) as u64 * 1000,
                observed_time_unix_nano: now,
                severity_number: severity.0,
                severity_text: severity.1.to_string(),
                body: string(body),
                attributes: vec![
                    kv("bench.client", string(self.client.as_str())),
                    kv("bench.seq", int(seq as i64)),
                    kv("log.file.name", string("app.log")),
                    kv(
                        "thread.name",
                        string(format!("worker-{}", self.rng.below(16))),
                    ),
                ],
                trace_id,
                span_id: if correlated {
                    self.rng.span_id().to_vec()
                } else {
                    Vec::new()
                },
                flags: u32::from(correlated),
                ..Default::default()
            };
            self.record_bytes += record.encoded_len() as u64;
            records.push(record);
        }
        let service = SERVICES[self.rng.below(4) as usize];
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource(service, 1)),
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}
