//! The WAL record of a span export: the OTLP request itself behind a header recording the
//! conversion's limits and clock, so that replay converts it again to exactly the spans that
//! were acknowledged (storage/src/ipc.rs says why the request and not the converted batch).

use std::sync::Arc;

use periscope_storage::ipc::SpanRequestDecoder;

use crate::otlp::convert::{Limits, convert_traces};

/// First byte of the header; a new layout gets a new number.
const VERSION: u8 = 1;
/// The version byte and seven little-endian 64-bit numbers.
const HEADER_LEN: usize = 1 + 7 * 8;

/// The header of a request converted under `limits` with at most `max_records` spans.
pub(crate) fn header(limits: &Limits, max_records: usize) -> [u8; HEADER_LEN] {
    let numbers = [
        limits.max_attributes as i64,
        limits.max_attribute_bytes as i64,
        limits.max_nesting_depth as i64,
        limits.min_time_unix_nano,
        limits.max_time_unix_nano,
        limits.now_unix_nano,
        max_records as i64,
    ];
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    for (slot, number) in header[1..].chunks_exact_mut(8).zip(numbers) {
        slot.copy_from_slice(&number.to_le_bytes());
    }
    header
}

/// The limits and record cap a header recorded.
fn parse(header: &[u8]) -> Result<(Limits, usize), String> {
    if header.len() != HEADER_LEN || header[0] != VERSION {
        return Err(format!(
            "unknown span request header (version {:?}, {} bytes)",
            header.first(),
            header.len()
        ));
    }
    let mut numbers = header[1..]
        .chunks_exact(8)
        .map(|chunk| i64::from_le_bytes(chunk.try_into().unwrap_or_default()));
    let mut next = || numbers.next().unwrap_or_default();
    let size = |number: i64| usize::try_from(number).unwrap_or(usize::MAX);
    let limits = Limits {
        max_attributes: size(next()),
        max_attribute_bytes: size(next()),
        max_nesting_depth: size(next()),
        min_time_unix_nano: next(),
        max_time_unix_nano: next(),
        now_unix_nano: next(),
    };
    Ok((limits, size(next())))
}

/// Converts span request WAL records back to spans; `periscope serve` opens its store with it
/// (`Store::open_with_span_requests`).
pub fn span_request_decoder() -> SpanRequestDecoder {
    Arc::new(|header, request| {
        let (limits, max_records) = parse(header)?;
        let conversion =
            convert_traces(request, &limits, max_records).map_err(|err| err.to_string())?;
        let batch = conversion.rows.finish().map_err(|err| err.to_string())?;
        Ok(batch.into_inner())
    })
}

#[cfg(test)]
mod tests;
