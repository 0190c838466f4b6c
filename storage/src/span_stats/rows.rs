//! The few columns of a span batch that service health needs, read once per batch.

use arrow::array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};

use crate::batch::columns::Columns;
use crate::error::StorageError;

/// SERVER and CONSUMER: the kinds whose spans are a service's requests.
const ENTRY_KINDS: [i32; 2] = [2, 5];
const STATUS_ERROR: i32 = 2;

/// One span as service health sees it.
#[derive(Debug, Clone, Copy)]
pub struct StatRow<'a> {
    /// Its service.
    pub service: &'a str,
    /// Its span name.
    pub name: &'a str,
    /// SERVER or CONSUMER kind, or a root: one of the service's requests.
    pub entry: bool,
    /// Start, ns.
    pub start_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// Status ERROR.
    pub failed: bool,
}

/// The columns of one `spans` batch that service health reads.
pub struct StatRows {
    trace_ids: StringArray,
    span_ids: StringArray,
    parent_ids: StringArray,
    services: StringArray,
    names: StringArray,
    kinds: Int32Array,
    starts: Int64Array,
    durations: Int64Array,
    status: Int32Array,
}

impl StatRows {
    /// Reads the columns of `batch` (the `spans` schema, or any batch with those columns).
    pub fn new(batch: &RecordBatch) -> Result<StatRows, StorageError> {
        let columns = Columns::new(batch);
        Ok(StatRows {
            trace_ids: columns.strings("trace_id")?,
            span_ids: columns.strings("span_id")?,
            parent_ids: columns.strings("parent_span_id")?,
            services: columns.strings("service_name")?,
            names: columns.strings("name")?,
            kinds: columns.i32s("kind")?,
            starts: columns.i64s("start_time_unix_nano")?,
            durations: columns.i64s("duration_ns")?,
            status: columns.i32s("status_code")?,
        })
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start of row `row`, ns.
    pub fn start_ns(&self, row: usize) -> i64 {
        self.starts.value(row)
    }

    /// Row `row`.
    pub fn row(&self, row: usize) -> StatRow<'_> {
        let root = self.parent_ids.is_null(row);
        StatRow {
            service: self.services.value(row),
            name: self.names.value(row),
            entry: root || ENTRY_KINDS.contains(&self.kinds.value(row)),
            start_ns: self.starts.value(row),
            duration_ns: self.durations.value(row),
            failed: self.status.value(row) == STATUS_ERROR,
        }
    }

    /// Service of row `row`.
    pub fn service(&self, row: usize) -> &str {
        self.services.value(row)
    }

    /// Whether row `row` has status ERROR.
    pub fn failed(&self, row: usize) -> bool {
        self.status.value(row) == STATUS_ERROR
    }

    /// The (trace id, span id) key of row `row`; `None` if an id is not hex.
    pub fn span_key(&self, row: usize) -> Option<u64> {
        let trace = u128::from_str_radix(self.trace_ids.value(row), 16).ok()?;
        let span = u64::from_str_radix(self.span_ids.value(row), 16).ok()?;
        Some(span_key(trace, span))
    }

    /// The key of row `row`'s parent span, if it has one.
    pub fn parent_key(&self, row: usize) -> Option<u64> {
        if self.parent_ids.is_null(row) {
            return None;
        }
        let trace = u128::from_str_radix(self.trace_ids.value(row), 16).ok()?;
        let parent = u64::from_str_radix(self.parent_ids.value(row), 16).ok()?;
        Some(span_key(trace, parent))
    }
}

/// A span's (trace id, span id) folded into 64 well-mixed bits. Keys are compared, not just
/// hashed, so two spans could only be confused by a 64-bit collision: at a million spans in
/// memory that is about one chance in 10^7 per flush, and it would move one call.
pub fn span_key(trace: u128, span: u64) -> u64 {
    mix(span ^ mix(trace as u64 ^ mix((trace >> 64) as u64)))
}

/// The splitmix64 finalizer: every input bit flips each output bit with probability ~1/2.
fn mix(value: u64) -> u64 {
    let mut value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// Hashes keys that are already well mixed: the identity, instead of SipHash over them.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Builds [`KeyHasher`]s.
pub type BuildKeyHasher = std::hash::BuildHasherDefault<KeyHasher>;
