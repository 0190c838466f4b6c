//! The disk buffer's record format (one WAL record per entry), little-endian:
//!
//! | bytes | field                                                         |
//! |-------|---------------------------------------------------------------|
//! | 1     | format version, 1                                             |
//! | 1     | signal: 0 logs, 1 traces, 2 metrics                           |
//! | 4     | number of OTLP records in the payload                         |
//! | 2 + n | source name (empty for local OTLP)                            |
//! | 4     | number of file marks, then per mark:                          |
//! |       | dev u64, ino u64, fingerprint crc u32 + len u32, offset u64,  |
//! |       | path (2-byte length + bytes)                                  |
//! | rest  | payload: an `Export*ServiceRequest`, protobuf                 |
//!
//! The marks make the buffer the source of truth for file progress: after a crash, replaying
//! the entries written after the last checkpoint restores every file offset exactly.

use bytes::Bytes;

use crate::tail::{FileKey, Fingerprint};

const VERSION: u8 = 1;

/// Which OTLP export service a payload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `ExportLogsServiceRequest`.
    Logs,
    /// `ExportTraceServiceRequest`.
    Traces,
    /// `ExportMetricsServiceRequest`.
    Metrics,
}

impl Signal {
    fn code(self) -> u8 {
        match self {
            Self::Logs => 0,
            Self::Traces => 1,
            Self::Metrics => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Logs),
            1 => Some(Self::Traces),
            2 => Some(Self::Metrics),
            _ => None,
        }
    }

    /// Lowercase name for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Logs => "logs",
            Self::Traces => "traces",
            Self::Metrics => "metrics",
        }
    }
}

/// A file's progress: everything before `offset` is in this entry or earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMark {
    /// Device and inode.
    pub key: FileKey,
    /// Fingerprint at the time.
    pub fingerprint: Fingerprint,
    /// Bytes of the file covered.
    pub offset: u64,
    /// Path at the time (informational: identity is key + fingerprint).
    pub path: String,
}

/// One unit written to the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferEntry {
    /// Export service.
    pub signal: Signal,
    /// OTLP records in `payload` (0 for a marks-only entry).
    pub num_records: u32,
    /// File source name, or empty.
    pub source: String,
    /// File progress carried by this entry.
    pub marks: Vec<FileMark>,
    /// The protobuf request, possibly empty.
    pub payload: Bytes,
}

impl BufferEntry {
    /// Serialises the entry.
    pub fn encode(&self) -> Vec<u8> {
        let marks_len: usize = self
            .marks
            .iter()
            .map(|m| 34 + m.path.len().min(u16::MAX as usize))
            .sum();
        let mut out = Vec::with_capacity(12 + self.source.len() + marks_len + self.payload.len());
        out.push(VERSION);
        out.push(self.signal.code());
        out.extend_from_slice(&self.num_records.to_le_bytes());
        put_str(&mut out, &self.source);
        out.extend_from_slice(&(self.marks.len() as u32).to_le_bytes());
        for mark in &self.marks {
            out.extend_from_slice(&mark.key.dev.to_le_bytes());
            out.extend_from_slice(&mark.key.ino.to_le_bytes());
            out.extend_from_slice(&mark.fingerprint.crc.to_le_bytes());
            out.extend_from_slice(&mark.fingerprint.len.to_le_bytes());
            out.extend_from_slice(&mark.offset.to_le_bytes());
            put_str(&mut out, &mark.path);
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// Parses an entry; `None` for an unknown version or a malformed record (the WAL's CRC
    /// makes the latter a bug, not disk damage).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut reader = Reader { bytes, pos: 0 };
        if reader.u8()? != VERSION {
            return None;
        }
        let signal = Signal::from_code(reader.u8()?)?;
        let num_records = reader.u32()?;
        let source = reader.str()?;
        let num_marks = reader.u32()?;
        let mut marks = Vec::with_capacity((num_marks as usize).min(4096));
        for _ in 0..num_marks {
            let key = FileKey {
                dev: reader.u64()?,
                ino: reader.u64()?,
            };
            let fingerprint = Fingerprint {
                crc: reader.u32()?,
                len: reader.u32()?,
            };
            let offset = reader.u64()?;
            let path = reader.str()?;
            marks.push(FileMark {
                key,
                fingerprint,
                offset,
                path,
            });
        }
        Some(Self {
            signal,
            num_records,
            source,
            marks,
            payload: Bytes::copy_from_slice(&bytes[reader.pos..]),
        })
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(u16::MAX as usize);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u16).to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..end]);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize;
        Some(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejects_garbage() {
        let entry = BufferEntry {
            signal: Signal::Traces,
            num_records: 7,
            source: "app".to_string(),
            marks: vec![FileMark {
                key: FileKey {
                    dev: 1,
                    ino: u64::MAX,
                },
                fingerprint: Fingerprint { crc: 9, len: 1024 },
                offset: 12345,
                path: "/var/log/ä.log".to_string(),
            }],
            payload: Bytes::from_static(b"\x0a\x00payload"),
        };
        let bytes = entry.encode();
        assert_eq!(BufferEntry::decode(&bytes), Some(entry));
        assert_eq!(BufferEntry::decode(&bytes[..20]), None);
        assert_eq!(BufferEntry::decode(&[2, 0]), None, "unknown version");
    }
}
