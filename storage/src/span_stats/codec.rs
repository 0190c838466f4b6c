//! The footer form of a [`SpanStats`]: a compact binary encoding (LEB128 varints, sorted
//! keys delta-encoded), base64 because Parquet key-value metadata is text. A summary of the
//! standard trace workload takes ~0.1 byte per span.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{BucketCount, Counts, EdgeCell, OperationCell, ServiceCell, SpanStats};
use crate::error::StorageError;

/// Key of the summary in the span file's Parquet key-value metadata. Files written before it
/// existed have none, and queries scan them instead.
pub const FOOTER_KEY: &str = "periscope.span_stats";

/// Bumped when the encoding changes; a reader skips (scans) summaries of another version.
const VERSION: u8 = 1;

/// The footer value of `stats`.
pub fn encode(stats: &SpanStats) -> String {
    let mut out = vec![VERSION];
    put(&mut out, stats.names.len() as u64);
    for name in &stats.names {
        put(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
    }
    put(&mut out, stats.services.len() as u64);
    for cell in &stats.services {
        put(&mut out, u64::from(cell.service));
        put(&mut out, u64::from(cell.entry));
        put_counts(&mut out, &cell.counts);
    }
    put(&mut out, stats.operations.len() as u64);
    for cell in &stats.operations {
        put(&mut out, u64::from(cell.service));
        put(&mut out, u64::from(cell.operation));
        put_counts(&mut out, &cell.counts);
    }
    put(&mut out, stats.edges.len() as u64);
    for cell in &stats.edges {
        put(&mut out, u64::from(cell.caller));
        put(&mut out, u64::from(cell.callee));
        put_buckets(&mut out, &cell.buckets);
    }
    STANDARD.encode(out)
}

/// Reads a footer value; `Ok(None)` for a version this build does not know.
pub fn decode(text: &str) -> Result<Option<SpanStats>, StorageError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|err| corrupt(&format!("not base64: {err}")))?;
    let mut reader = Reader { bytes: &bytes };
    if reader.byte()? != VERSION {
        return Ok(None);
    }
    let num_names = reader.len()?;
    let mut names = Vec::with_capacity(num_names);
    for _ in 0..num_names {
        let len = reader.len()?;
        let text =
            std::str::from_utf8(reader.take(len)?).map_err(|_| corrupt("a name is not UTF-8"))?;
        names.push(text.to_string());
    }
    let name_index = |value: u64| -> Result<u32, StorageError> {
        if value < names.len() as u64 {
            Ok(value as u32)
        } else {
            Err(corrupt("a name index is out of range"))
        }
    };
    let mut services = Vec::new();
    for _ in 0..reader.len()? {
        services.push(ServiceCell {
            service: name_index(reader.varint()?)?,
            entry: reader.varint()? != 0,
            counts: reader.counts()?,
        });
    }
    let mut operations = Vec::new();
    for _ in 0..reader.len()? {
        operations.push(OperationCell {
            service: name_index(reader.varint()?)?,
            operation: name_index(reader.varint()?)?,
            counts: reader.counts()?,
        });
    }
    let mut edges = Vec::new();
    for _ in 0..reader.len()? {
        edges.push(EdgeCell {
            caller: name_index(reader.varint()?)?,
            callee: name_index(reader.varint()?)?,
            buckets: reader.buckets()?,
        });
    }
    if !reader.bytes.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Some(SpanStats {
        names,
        services,
        operations,
        edges,
    }))
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(format!("span stats in a file footer: {what}"))
}

fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

fn put_counts(out: &mut Vec<u8>, counts: &Counts) {
    put(out, counts.latency.len() as u64);
    let mut previous = 0u16;
    for (bucket, count) in &counts.latency {
        put(out, u64::from(bucket - previous));
        put(out, *count);
        previous = *bucket;
    }
    put_buckets(out, &counts.buckets);
}

fn put_buckets(out: &mut Vec<u8>, buckets: &[BucketCount]) {
    put(out, buckets.len() as u64);
    let mut previous = 0i64;
    for (index, bucket) in buckets.iter().enumerate() {
        // The first bucket whole (it may be negative), then gaps.
        if index == 0 {
            put(out, zigzag(bucket.bucket));
        } else {
            put(out, (bucket.bucket - previous) as u64);
        }
        put(out, bucket.count);
        put(out, bucket.errors);
        previous = bucket.bucket;
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, StorageError> {
        let (&first, rest) = self
            .bytes
            .split_first()
            .ok_or_else(|| corrupt("truncated"))?;
        self.bytes = rest;
        Ok(first)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], StorageError> {
        if len > self.bytes.len() {
            return Err(corrupt("truncated"));
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u64, StorageError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(corrupt("varint too long"))
    }

    /// A count of things that follow, each at least one byte: never more than the bytes left.
    fn len(&mut self) -> Result<usize, StorageError> {
        let value = self.varint()?;
        if value > self.bytes.len() as u64 {
            return Err(corrupt("length past the end"));
        }
        Ok(value as usize)
    }

    fn counts(&mut self) -> Result<Counts, StorageError> {
        let num_latency = self.len()?;
        let mut latency = Vec::with_capacity(num_latency);
        let mut bucket = 0u64;
        for _ in 0..num_latency {
            bucket = bucket.saturating_add(self.varint()?);
            let bucket = u16::try_from(bucket).map_err(|_| corrupt("latency bucket"))?;
            latency.push((bucket, self.varint()?));
        }
        Ok(Counts {
            latency,
            buckets: self.buckets()?,
        })
    }

    fn buckets(&mut self) -> Result<Vec<BucketCount>, StorageError> {
        let num_buckets = self.len()?;
        let mut buckets = Vec::with_capacity(num_buckets);
        let mut bucket = 0i64;
        for index in 0..num_buckets {
            let value = self.varint()?;
            bucket = if index == 0 {
                unzigzag(value)
            } else {
                bucket.wrapping_add(value as i64)
            };
            buckets.push(BucketCount {
                bucket,
                count: self.varint()?,
                errors: self.varint()?,
            });
        }
        Ok(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SpanStats {
        let counts = Counts {
            latency: vec![(3, 1), (320, 1_000_000), (1008, 2)],
            buckets: vec![
                BucketCount {
                    bucket: -5,
                    count: 3,
                    errors: 0,
                },
                BucketCount {
                    bucket: 177_000_000_000,
                    count: 1_000_000,
                    errors: 7,
                },
            ],
        };
        SpanStats {
            names: vec!["checkout".to_string(), "GET /ü".to_string()],
            services: vec![ServiceCell {
                service: 0,
                entry: true,
                counts: counts.clone(),
            }],
            operations: vec![OperationCell {
                service: 0,
                operation: 1,
                counts: counts.clone(),
            }],
            edges: vec![EdgeCell {
                caller: 1,
                callee: 0,
                buckets: counts.buckets,
            }],
        }
    }

    #[test]
    fn summaries_round_trip() {
        let stats = sample();
        assert_eq!(decode(&encode(&stats)).unwrap(), Some(stats));
        assert_eq!(
            decode(&encode(&SpanStats::default())).unwrap(),
            Some(SpanStats::default())
        );
    }

    #[test]
    fn damaged_summaries_are_errors_and_other_versions_are_skipped() {
        let bytes = STANDARD.decode(encode(&sample())).unwrap();
        for len in 1..bytes.len() {
            assert!(decode(&STANDARD.encode(&bytes[..len])).is_err(), "{len}");
        }
        let mut newer = bytes;
        newer[0] = VERSION + 1;
        assert_eq!(decode(&STANDARD.encode(&newer)).unwrap(), None);
        assert!(decode("not base64!").is_err());
    }
}
