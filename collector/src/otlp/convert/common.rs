//! Shared conversion state: limits, the clock, rejection reasons and soft-limit counters.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use periscope_storage::{AttrValue, Attributes, Origin};

use crate::error::CollectorError;

use crate::otlp::wire::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::wire::resource::v1::Resource;

/// The limits conversion enforces, in the units it needs.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_attributes: usize,
    pub(crate) max_attribute_bytes: usize,
    pub(crate) max_nesting_depth: usize,
    pub(crate) min_time_unix_nano: i64,
    pub(crate) max_time_unix_nano: i64,
    pub(crate) now_unix_nano: i64,
}

impl Limits {
    /// The limits of `config` around the clock reading `now_unix_nano`.
    pub(crate) fn from_config(config: &crate::config::IngestConfig, now_unix_nano: i64) -> Limits {
        Limits {
            max_attributes: config.max_attributes,
            max_attribute_bytes: config.max_attribute_bytes,
            max_nesting_depth: config.max_nesting_depth,
            min_time_unix_nano: now_unix_nano
                - (config.max_age_secs as i64).saturating_mul(1_000_000_000),
            max_time_unix_nano: now_unix_nano
                + (config.max_future_secs as i64).saturating_mul(1_000_000_000),
            now_unix_nano,
        }
    }

    /// The wall clock in ns since the epoch.
    pub(crate) fn now_unix_nano() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    }
}

/// Rows converted from one request (a `Vec` of rows, or span columns), plus what was
/// rejected and why.
#[derive(Debug)]
pub(crate) struct Conversion<Rows> {
    pub(crate) rows: Rows,
    pub(crate) rejected: u64,
    /// Rejection reason → count, for the partial-success message and metrics.
    pub(crate) reasons: BTreeMap<&'static str, u64>,
    pub(crate) invalid_utf8: u64,
    pub(crate) truncated_values: u64,
    pub(crate) dropped_attributes: u64,
}

impl<Rows> Conversion<Rows> {
    pub(crate) fn new() -> Self
    where
        Rows: Default,
    {
        Conversion::with_rows(Rows::default())
    }

    pub(crate) fn with_rows(rows: Rows) -> Self {
        Conversion {
            rows,
            rejected: 0,
            reasons: BTreeMap::new(),
            invalid_utf8: 0,
            truncated_values: 0,
            dropped_attributes: 0,
        }
    }

    pub(crate) fn reject(&mut self, reason: &'static str) {
        self.rejected += 1;
        *self.reasons.entry(reason).or_insert(0) += 1;
    }

    /// "rejected 2 spans: 1 invalid trace id; 1 timestamp outside the accepted window".
    pub(crate) fn message(&self, noun: &str) -> String {
        if self.rejected == 0 {
            return String::new();
        }
        let details: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        format!("rejected {} {noun}: {}", self.rejected, details.join("; "))
    }
}

/// Why one record is refused; the text goes into the partial-success message.
pub(crate) type Rejection = &'static str;

pub(crate) const TOO_DEEP: Rejection = "attribute value nested deeper than the limit";
pub(crate) const OUT_OF_WINDOW: Rejection =
    "timestamp outside the accepted window (now - max_age_secs .. now + max_future_secs)";

/// Lossy UTF-8: invalid sequences become U+FFFD and are counted, never fatal.
pub(crate) fn text<Row>(bytes: Vec<u8>, conversion: &mut Conversion<Row>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            conversion.invalid_utf8 += 1;
            String::from_utf8_lossy(err.as_bytes()).into_owned()
        }
    }
}

/// [`text`] borrowed from the request: no copy unless the bytes are not UTF-8.
pub(crate) fn text_ref<'a, Row>(bytes: &'a [u8], conversion: &mut Conversion<Row>) -> Cow<'a, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            conversion.invalid_utf8 += 1;
            Cow::Owned(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

/// Where to cut `text` to fit `max_bytes` on a character boundary; `None` if it fits.
fn cut_point(text: &str, max_bytes: usize) -> Option<usize> {
    if text.len() <= max_bytes {
        return None;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(cut)
}

fn truncate_to(mut text: String, max_bytes: usize, truncated: &mut u64) -> String {
    if let Some(cut) = cut_point(&text, max_bytes) {
        text.truncate(cut);
        *truncated += 1;
    }
    text
}

/// [`truncate_to`] for borrowed text.
pub(crate) fn truncate_ref<'a>(
    text: Cow<'a, str>,
    max_bytes: usize,
    truncated: &mut u64,
) -> Cow<'a, str> {
    let Some(cut) = cut_point(&text, max_bytes) else {
        return text;
    };
    *truncated += 1;
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[..cut]),
        Cow::Owned(mut text) => {
            text.truncate(cut);
            Cow::Owned(text)
        }
    }
}

/// Converts an `AnyValue`; `Err` when nested deeper than allowed.
pub(crate) fn any_value<Row>(
    value: Option<AnyValue>,
    depth: usize,
    limits: &Limits,
    conversion: &mut Conversion<Row>,
) -> Result<AttrValue, Rejection> {
    if depth > limits.max_nesting_depth {
        return Err(TOO_DEEP);
    }
    let Some(inner) = value.and_then(|value| value.value) else {
        return Ok(AttrValue::Empty);
    };
    Ok(match inner {
        any_value::Value::StringValue(bytes) => {
            let value = text(bytes, conversion);
            AttrValue::Str(truncate_to(
                value,
                limits.max_attribute_bytes,
                &mut conversion.truncated_values,
            ))
        }
        any_value::Value::BoolValue(flag) => AttrValue::Bool(flag),
        any_value::Value::IntValue(number) => AttrValue::Int(number),
        any_value::Value::DoubleValue(number) => AttrValue::Double(number),
        any_value::Value::BytesValue(bytes) => AttrValue::Bytes(bytes),
        any_value::Value::ArrayValue(array) => {
            let mut items = Vec::with_capacity(array.values.len());
            for item in array.values {
                items.push(any_value(Some(item), depth + 1, limits, conversion)?);
            }
            AttrValue::Array(items)
        }
        any_value::Value::KvlistValue(list) => {
            AttrValue::Map(key_values(list.values, depth + 1, limits, conversion, usize::MAX)?.0)
        }
        // Dictionary-indexed strings belong to the profiles signal; nothing else may use them.
        any_value::Value::StringValueStrindex(_) => AttrValue::Empty,
    })
}

fn key_values<Row>(
    pairs: Vec<KeyValue>,
    depth: usize,
    limits: &Limits,
    conversion: &mut Conversion<Row>,
    max_pairs: usize,
) -> Result<(Attributes, u32), Rejection> {
    let total = pairs.len();
    let mut attributes = Vec::with_capacity(total.min(max_pairs));
    for pair in pairs.into_iter().take(max_pairs) {
        let key = text(pair.key, conversion);
        let key = truncate_to(
            key,
            limits.max_attribute_bytes,
            &mut conversion.truncated_values,
        );
        attributes.push((key, any_value(pair.value, depth, limits, conversion)?));
    }
    let dropped = total.saturating_sub(max_pairs);
    conversion.dropped_attributes += dropped as u64;
    Ok((attributes, u32::try_from(dropped).unwrap_or(u32::MAX)))
}

/// Converts a record's attribute list, keeping at most `max_attributes`; returns the
/// attributes and how many were dropped.
pub(crate) fn attributes<Row>(
    pairs: Vec<KeyValue>,
    limits: &Limits,
    conversion: &mut Conversion<Row>,
) -> Result<(Attributes, u32), Rejection> {
    key_values(pairs, 1, limits, conversion, limits.max_attributes)
}

/// Builds the origin (service, resource, scope) of one resource+scope group. A resource or
/// scope too deeply nested is stored without the offending attributes rather than failing
/// every record of the group.
pub(crate) fn origin<Row>(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    limits: &Limits,
    conversion: &mut Conversion<Row>,
) -> Arc<Origin> {
    let resource_attributes = resource
        .map(|resource| {
            attributes(resource.attributes.clone(), limits, conversion)
                .unwrap_or_default()
                .0
        })
        .unwrap_or_default();
    let service_name = resource_attributes
        .iter()
        .find_map(|(key, value)| match (key.as_str(), value) {
            ("service.name", AttrValue::Str(name)) if !name.is_empty() => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "unknown_service".to_string());
    let (scope_name, scope_version, scope_attributes) = match scope {
        Some(scope) => (
            text(scope.name.clone(), conversion),
            text(scope.version.clone(), conversion),
            attributes(scope.attributes.clone(), limits, conversion)
                .unwrap_or_default()
                .0,
        ),
        None => (String::new(), String::new(), Vec::new()),
    };
    Arc::new(Origin {
        service_name,
        resource_attributes,
        scope_name,
        scope_version,
        scope_attributes,
    })
}

/// Refuses a request holding more records than `max_records`, as a whole.
pub(crate) fn check_count(count: usize, max_records: usize) -> Result<(), CollectorError> {
    if count > max_records {
        return Err(CollectorError::TooLarge(format!(
            "request holds {count} records; the limit is {max_records} (ingest.max_records_per_request)"
        )));
    }
    Ok(())
}

/// Accepts a timestamp inside the window; converts OTLP's u64 ns to our i64.
pub(crate) fn check_time(time_unix_nano: u64, limits: &Limits) -> Result<i64, Rejection> {
    let time = i64::try_from(time_unix_nano).map_err(|_| OUT_OF_WINDOW)?;
    if time < limits.min_time_unix_nano || time > limits.max_time_unix_nano {
        return Err(OUT_OF_WINDOW);
    }
    Ok(time)
}

/// A 16-byte, not all-zero id.
pub(crate) fn trace_id(bytes: &[u8]) -> Option<periscope_storage::TraceId> {
    let array: [u8; 16] = bytes.try_into().ok()?;
    (array != [0; 16]).then_some(periscope_storage::TraceId(array))
}

/// An 8-byte, not all-zero id.
pub(crate) fn span_id(bytes: &[u8]) -> Option<periscope_storage::SpanId> {
    let array: [u8; 8] = bytes.try_into().ok()?;
    (array != [0; 8]).then_some(periscope_storage::SpanId(array))
}
