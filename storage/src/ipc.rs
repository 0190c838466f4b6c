//! WAL record payloads: one signal byte followed by an Arrow IPC stream of one batch.
//! Storing converted rows (not raw requests) makes replay independent of validation
//! rules that depend on the clock, such as the accepted timestamp window.

use std::io::Cursor;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::error::StorageError;
use crate::model::Signal;

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

/// Decodes a WAL payload written by [`encode_payload`].
pub fn decode_payload(payload: &[u8]) -> Result<(Signal, RecordBatch), StorageError> {
    let (&signal_byte, ipc) = payload
        .split_first()
        .ok_or_else(|| StorageError::Corrupt("empty wal payload".to_string()))?;
    let signal = Signal::from_byte(signal_byte)
        .ok_or_else(|| StorageError::Corrupt(format!("unknown signal byte {signal_byte}")))?;
    let mut reader = StreamReader::try_new(Cursor::new(ipc), None)?;
    let batch = reader
        .next()
        .ok_or_else(|| StorageError::Corrupt("wal payload holds no batch".to_string()))??;
    Ok((signal, batch))
}
