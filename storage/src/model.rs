//! The row model: one span, one log record, one metric data point, as stored.
//! Collector builds these from OTLP; query reads them back. Ids are newtypes so a span id
//! can never be passed where a trace id is expected.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::value::{AttrValue, Attributes};

/// A 16-byte trace id; never all zeros. Serialized as lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; never all zeros. Serialized as lowercase hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

macro_rules! hex_serde {
    ($id:ty) => {
        impl Serialize for $id {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $id {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$id>::from_hex(&text)
                    .ok_or_else(|| serde::de::Error::custom(format!("invalid id {text:?}")))
            }
        }
    };
}

hex_serde!(TraceId);
hex_serde!(SpanId);

impl TraceId {
    /// Parses 32 hex characters (any case).
    pub fn from_hex(text: &str) -> Option<TraceId> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(TraceId(bytes))
    }

    /// Lowercase hex, 32 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl SpanId {
    /// Parses 16 hex characters (any case).
    pub fn from_hex(text: &str) -> Option<SpanId> {
        let mut bytes = [0u8; 8];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(SpanId(bytes))
    }

    /// Lowercase hex, 16 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

/// Which signal a WAL record or a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Spans (traces).
    Spans,
    /// Log records.
    Logs,
    /// Metric data points.
    Metrics,
}

impl Signal {
    /// All signals, in a fixed order.
    pub const ALL: [Signal; 3] = [Signal::Spans, Signal::Logs, Signal::Metrics];

    /// Lowercase name used in metrics labels and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Spans => "spans",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Signal::Spans => 1,
            Signal::Logs => 2,
            Signal::Metrics => 3,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Option<Signal> {
        match byte {
            1 => Some(Signal::Spans),
            2 => Some(Signal::Logs),
            3 => Some(Signal::Metrics),
            _ => None,
        }
    }
}

/// Resource and instrumentation scope shared by the records of one OTLP group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// `service.name` of the resource (`unknown_service` when absent).
    pub service_name: String,
    /// Resource attributes, `service.name` included.
    pub resource_attributes: Attributes,
    /// Instrumentation scope name.
    pub scope_name: String,
    /// Instrumentation scope version.
    pub scope_version: String,
    /// Instrumentation scope attributes.
    pub scope_attributes: Attributes,
}

/// A timed annotation on a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// When it happened, ns since the epoch.
    pub time_unix_nano: i64,
    /// Event name (`exception` for errors).
    pub name: String,
    /// Event attributes.
    pub attributes: Attributes,
    /// Attributes the sender or we dropped.
    pub dropped_attributes_count: u32,
}

/// A link from a span to another span, possibly in another trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    /// The linked trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// W3C tracestate of the link, verbatim.
    pub trace_state: String,
    /// Link flags, full u32.
    pub flags: u32,
    /// Link attributes.
    pub attributes: Attributes,
    /// Attributes dropped.
    pub dropped_attributes_count: u32,
}

/// One stored span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRow {
    /// Trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Parent span, `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// W3C tracestate, verbatim.
    pub trace_state: String,
    /// OTLP span flags, full u32 (trace flags are `flags & 0xff`).
    pub flags: u32,
    /// Operation name.
    pub name: String,
    /// OTLP span kind number (0..=5).
    pub kind: i32,
    /// Start, ns since the epoch.
    pub start_time_unix_nano: i64,
    /// End, ns since the epoch.
    pub end_time_unix_nano: i64,
    /// Status code: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// Span attributes.
    pub attributes: Attributes,
    /// Attributes dropped by the sender or by our cap.
    pub dropped_attributes_count: u32,
    /// Events.
    pub events: Vec<SpanEvent>,
    /// Events dropped.
    pub dropped_events_count: u32,
    /// Links.
    pub links: Vec<SpanLink>,
    /// Links dropped.
    pub dropped_links_count: u32,
    /// Resource and scope, shared by every record of one OTLP group (cloning it per
    /// record cost a dozen allocations each).
    #[serde(with = "shared_origin")]
    pub origin: Arc<Origin>,
}

impl SpanRow {
    /// Duration in ns (0 if the end precedes the start).
    pub fn duration_ns(&self) -> i64 {
        (self.end_time_unix_nano - self.start_time_unix_nano).max(0)
    }
}

/// One stored log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    /// Event time in ns (observed time when the sender gave none).
    pub time_unix_nano: i64,
    /// When a collector or agent saw it.
    pub observed_time_unix_nano: i64,
    /// OTLP severity number (0..=24).
    pub severity_number: i32,
    /// Severity text, verbatim.
    pub severity_text: String,
    /// Body, usually a string.
    pub body: AttrValue,
    /// Record attributes.
    pub attributes: Attributes,
    /// Attributes dropped.
    pub dropped_attributes_count: u32,
    /// Trace context, when the record was emitted inside a span.
    pub trace_id: Option<TraceId>,
    /// Span context.
    pub span_id: Option<SpanId>,
    /// Record flags, full u32.
    pub flags: u32,
    /// OTLP `event_name`.
    pub event_name: String,
    /// Resource and scope, shared by every record of one OTLP group (cloning it per
    /// record cost a dozen allocations each).
    #[serde(with = "shared_origin")]
    pub origin: Arc<Origin>,
}

impl LogRow {
    /// The body as text: strings verbatim, structured bodies as JSON.
    pub fn body_text(&self) -> String {
        self.body.to_display_string()
    }
}

/// The five OTLP metric kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// Last value.
    Gauge,
    /// Cumulative or delta sum.
    Sum,
    /// Explicit-bucket histogram.
    Histogram,
    /// Base-2 exponential histogram.
    ExponentialHistogram,
    /// Quantile summary.
    Summary,
}

impl MetricType {
    /// Name used in the `metric_type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Sum => "sum",
            MetricType::Histogram => "histogram",
            MetricType::ExponentialHistogram => "exponential_histogram",
            MetricType::Summary => "summary",
        }
    }

    /// Inverse of [`MetricType::as_str`].
    pub fn parse(text: &str) -> Option<MetricType> {
        match text {
            "gauge" => Some(MetricType::Gauge),
            "sum" => Some(MetricType::Sum),
            "histogram" => Some(MetricType::Histogram),
            "exponential_histogram" => Some(MetricType::ExponentialHistogram),
            "summary" => Some(MetricType::Summary),
            _ => None,
        }
    }
}

/// One stored metric data point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// Metric name.
    pub metric_name: String,
    /// Description.
    pub description: String,
    /// Unit (UCUM).
    pub unit: String,
    /// Kind of the metric.
    pub metric_type: MetricType,
    /// Aggregation temporality number (0 unspecified, 1 delta, 2 cumulative).
    pub temporality: i32,
    /// Sums only: monotonic.
    pub is_monotonic: bool,
    /// Point time, ns.
    pub time_unix_nano: i64,
    /// Start of the aggregation window, ns.
    pub start_time_unix_nano: i64,
    /// Gauge or sum value as a double (ints converted), histogram/summary: `None`.
    pub value: Option<f64>,
    /// Gauge or sum value when the sender sent an int: exact.
    pub value_int: Option<i64>,
    /// Histogram, exponential histogram and summary count.
    pub count: Option<u64>,
    /// Histogram and summary sum.
    pub sum: Option<f64>,
    /// Histogram min.
    pub min: Option<f64>,
    /// Histogram max.
    pub max: Option<f64>,
    /// Buckets, bounds, scale or quantiles as JSON (kind-specific).
    pub distribution_json: Option<String>,
    /// Exemplars as JSON (`trace_id`, `span_id`, `value`, `time_unix_nano`).
    pub exemplars_json: Option<String>,
    /// Data point flags.
    pub flags: u32,
    /// Point attributes.
    pub attributes: Attributes,
    /// Resource and scope, shared by every record of one OTLP group (cloning it per
    /// record cost a dozen allocations each).
    #[serde(with = "shared_origin")]
    pub origin: Arc<Origin>,
}

/// Serde for `Arc<Origin>` fields, as a plain `Origin` (serde's own `rc` feature would change
/// the feature set of serde for every crate in the build, and so rebuild all of them).
mod shared_origin {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Origin;

    pub(super) fn serialize<S: Serializer>(
        origin: &Arc<Origin>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        origin.as_ref().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Arc<Origin>, D::Error> {
        Origin::deserialize(deserializer).map(Arc::new)
    }
}
