//! WAL record payloads. Spans from the collector: the [`SPAN_REQUEST`] byte, the conversion's
//! header and the OTLP request itself. Metrics (and spans from other callers): one signal byte
//! followed by an Arrow IPC stream of one batch. Logs: the [`LOG_ROWS`] byte followed by the
//! rows in the doc store's compact form (only the log indexer reads them, and it wants rows,
//! not columns). Payloads of logs or spans as an IPC batch, written before the other forms
//! existed, still decode.
//!
//! Why spans keep their request: it is about half the bytes of the converted batch's IPC form
//! (~490 against ~900 bytes a span of the standard workload, which repeats each resource on
//! every row) and costs no encoding; the WAL's write and fsync were an eighth of span ingest's
//! CPU. Replay converts the request again with the limits and clock reading the header
//! recorded (the collector's `SpanRequestHeader`), so rules that depend on the clock, such as
//! the accepted timestamp window, give the same rows as when the request was acknowledged.

use std::io::Cursor;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::error::StorageError;
use crate::logindex::{decode_rows, encode_rows};
use crate::model::{LogRow, Signal};
use crate::varint::{put_bytes, take_bytes};

/// First byte of a payload of log rows; bytes 1 to 3 are signals ([`Signal::to_byte`]).
const LOG_ROWS: u8 = 4;
/// First byte of a payload holding the OTLP trace export request spans were converted from.
const SPAN_REQUEST: u8 = 5;

/// What a WAL payload holds.
#[derive(Debug)]
pub enum Payload<'a> {
    /// A batch of the signal's Arrow schema.
    Batch(Signal, RecordBatch),
    /// Log rows.
    LogRows(Vec<LogRow>),
    /// An OTLP trace export request (protobuf) and the header its converter wrote; a
    /// [`SpanRequestDecoder`] turns them back into the spans.
    SpanRequest {
        /// The converter's own header (limits and clock of the conversion).
        header: &'a [u8],
        /// The request, protobuf.
        request: &'a [u8],
    },
}

impl Payload<'_> {
    /// The signal the records belong to.
    pub fn signal(&self) -> Signal {
        match self {
            Payload::Batch(signal, _) => *signal,
            Payload::LogRows(_) => Signal::Logs,
            Payload::SpanRequest { .. } => Signal::Spans,
        }
    }
}

/// Converts a span request payload's header and request back into the batch acknowledged
/// for it. The collector provides it (`periscope_collector::span_request_decoder`): storage
/// does not parse OTLP.
pub type SpanRequestDecoder =
    std::sync::Arc<dyn Fn(&[u8], &[u8]) -> Result<RecordBatch, String> + Send + Sync>;

/// Encodes an OTLP trace export request and its converter's header as a WAL payload.
pub fn encode_span_request(header: &[u8], request: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + 10 + header.len() + request.len());
    bytes.push(SPAN_REQUEST);
    put_bytes(&mut bytes, header);
    bytes.extend_from_slice(request);
    bytes
}

/// Encodes a batch as a WAL payload.
pub fn encode_payload(signal: Signal, batch: &RecordBatch) -> Result<Vec<u8>, StorageError> {
    // Sized up front: growing a multi-megabyte Vec by doubling showed up as memmove.
    let mut bytes = Vec::with_capacity(batch.get_array_memory_size() + 4096);
    bytes.push(signal.to_byte());
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

/// Encodes log rows as a WAL payload.
pub fn encode_log_rows(rows: &[LogRow]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(rows.len() * 256 + 64);
    bytes.push(LOG_ROWS);
    encode_rows(rows, &mut bytes);
    bytes
}

/// Decodes a WAL payload written by [`encode_payload`], [`encode_log_rows`] or
/// [`encode_span_request`].
pub fn decode_payload(payload: &[u8]) -> Result<Payload<'_>, StorageError> {
    let (&kind, rest) = payload
        .split_first()
        .ok_or_else(|| StorageError::Corrupt("empty wal payload".to_string()))?;
    if kind == LOG_ROWS {
        return decode_rows(rest).map(Payload::LogRows);
    }
    if kind == SPAN_REQUEST {
        let mut rest = rest;
        let header = take_bytes(&mut rest).map_err(|problem| {
            StorageError::Corrupt(format!("span request payload header {problem}"))
        })?;
        return Ok(Payload::SpanRequest {
            header,
            request: rest,
        });
    }
    let signal = Signal::from_byte(kind)
        .ok_or_else(|| StorageError::Corrupt(format!("unknown wal payload kind {kind}")))?;
    let mut reader = StreamReader::try_new(Cursor::new(rest), None)?;
    let batch = reader
        .next()
        .ok_or_else(|| StorageError::Corrupt("wal payload holds no batch".to_string()))??;
    Ok(Payload::Batch(signal, batch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::logs_to_batch;
    use crate::model::Origin;
    use crate::value::AttrValue;

    fn log_row(service: &str, time: i64) -> LogRow {
        LogRow {
            time_unix_nano: time,
            observed_time_unix_nano: time + 1,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: AttrValue::Str(format!("line {time}")),
            attributes: vec![("k".into(), AttrValue::Int(time))],
            dropped_attributes_count: 0,
            trace_id: None,
            span_id: None,
            flags: 0,
            event_name: String::new(),
            origin: std::sync::Arc::new(Origin {
                service_name: service.into(),
                ..Origin::default()
            }),
        }
    }

    #[test]
    fn log_rows_and_older_ipc_log_payloads_both_decode() {
        let rows = vec![log_row("a", 1), log_row("b", 2)];
        match decode_payload(&encode_log_rows(&rows)).expect("rows payload") {
            Payload::LogRows(back) => assert_eq!(back, rows),
            other => panic!("expected log rows, got {other:?}"),
        }
        // WALs written before the row form hold logs as IPC batches.
        let batch = logs_to_batch(&rows).expect("batch");
        let old = encode_payload(Signal::Logs, &batch).expect("ipc payload");
        let decoded = decode_payload(&old).expect("ipc payload decodes");
        assert_eq!(decoded.signal(), Signal::Logs);
        assert!(matches!(decoded, Payload::Batch(Signal::Logs, back) if back.num_rows() == 2));
        assert!(decode_payload(&[9, 1, 2]).is_err());
        assert!(decode_payload(&[]).is_err());
    }
}
