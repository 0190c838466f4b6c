//! Walks the records of one segment held in memory, resynchronising past damage.

use crate::frame::{self, FRAME_HEADER_LEN};

/// One step of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanItem<'a> {
    /// A record whose header and payload CRCs match and whose seq is in order.
    Record {
        /// Offset of the frame in the segment.
        offset: usize,
        /// The record's seq.
        seq: u64,
        /// The payload bytes.
        payload: &'a [u8],
    },
    /// A stretch of bytes that is not a valid record, up to the next valid record or the end.
    Corrupt {
        /// Offset where the damage starts.
        offset: usize,
        /// Length of the damaged stretch.
        len: usize,
    },
}

/// What lies at one offset.
enum Probe<'a> {
    /// A valid, in-order record ending at `end`.
    Valid {
        seq: u64,
        payload: &'a [u8],
        end: usize,
    },
    /// Header CRC matches, so the length is trustworthy, but the record is unusable (payload CRC
    /// mismatch or seq out of order): the frame can be stepped over as a whole.
    Unusable { end: usize },
    /// No frame starts here (or its length runs past the end of the data).
    Invalid,
}

/// Iterator over the records of a segment buffer, see [`ScanItem`].
///
/// Always advances by at least one byte per step, so it terminates on any input.
pub(crate) struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    min_seq: u64,
    last_seq: Option<u64>,
    valid_end: usize,
}

impl<'a> Scanner<'a> {
    /// Scans `buf` from `start` (just after the segment header). Records must have seq >=
    /// `min_seq` (the segment's first seq) and strictly increasing seqs; anything else is treated
    /// as damage, which is what stops resync from latching onto stale or misplaced frames.
    pub(crate) fn new(buf: &'a [u8], start: usize, min_seq: u64) -> Self {
        Self {
            buf,
            pos: start,
            min_seq,
            last_seq: None,
            valid_end: start.min(buf.len()),
        }
    }

    /// End offset of the last valid record (or the start offset if there was none). Everything
    /// from here on is a torn or damaged tail.
    pub(crate) fn valid_end(&self) -> usize {
        self.valid_end
    }

    /// Seq of the last valid record seen.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    fn probe(&mut self, at: usize) -> Probe<'a> {
        let buf: &'a [u8] = self.buf;
        let Some(header) = buf.get(at..).and_then(frame::decode_header) else {
            return Probe::Invalid;
        };
        let payload_start = at + FRAME_HEADER_LEN;
        let Some(end) = usize::try_from(header.len)
            .ok()
            .and_then(|len| payload_start.checked_add(len))
        else {
            return Probe::Invalid;
        };
        // Past the end: either a torn write or a lying length. Not trustworthy enough to jump by.
        let Some(payload) = buf.get(payload_start..end) else {
            return Probe::Invalid;
        };
        let in_order = header.seq >= self.min_seq && self.last_seq.is_none_or(|l| header.seq > l);
        if !in_order || crc32c::crc32c(payload) != header.payload_crc {
            return Probe::Unusable { end };
        }
        Probe::Valid {
            seq: header.seq,
            payload,
            end,
        }
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = ScanItem<'a>;

    fn next(&mut self) -> Option<ScanItem<'a>> {
        let start = self.pos;
        if start >= self.buf.len() {
            return None;
        }
        match self.probe(start) {
            Probe::Valid { seq, payload, end } => {
                self.pos = end;
                self.valid_end = end;
                self.last_seq = Some(seq);
                return Some(ScanItem::Record {
                    offset: start,
                    seq,
                    payload,
                });
            }
            // Right after a good record a matching header CRC is almost surely a real frame, and
            // stepping over it avoids mistaking frames embedded in its payload for records.
            Probe::Unusable { end } => self.pos = end,
            Probe::Invalid => self.pos = start + 1,
        }
        // Resync: slide byte by byte until a fully valid record starts. Only fully valid frames
        // end the search; a lone header-CRC match inside garbage is not trusted to jump by.
        while self.pos < self.buf.len() {
            if self.buf.len() - self.pos < FRAME_HEADER_LEN {
                self.pos = self.buf.len();
                break;
            }
            if matches!(self.probe(self.pos), Probe::Valid { .. }) {
                break;
            }
            self.pos += 1;
        }
        Some(ScanItem::Corrupt {
            offset: start,
            len: self.pos - start,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn build(records: &[(u64, &[u8])]) -> (Vec<u8>, Vec<usize>) {
        let (mut buf, mut offsets, mut frame_buf) = (vec![0xAA; 4], Vec::new(), Vec::new());
        for (seq, payload) in records {
            offsets.push(buf.len());
            frame::encode(
                &mut frame_buf,
                *seq,
                u32::try_from(payload.len()).unwrap(),
                payload,
            );
            buf.extend_from_slice(&frame_buf);
        }
        (buf, offsets)
    }

    fn seqs(buf: &[u8], min_seq: u64) -> (Vec<u64>, usize) {
        let mut corrupt = 0;
        let mut out = Vec::new();
        for item in Scanner::new(buf, 4, min_seq) {
            match item {
                ScanItem::Record { seq, .. } => out.push(seq),
                ScanItem::Corrupt { .. } => corrupt += 1,
            }
        }
        (out, corrupt)
    }

    #[test]
    fn clean_buffer_yields_all_records() {
        let (buf, _) = build(&[(5, b"a"), (6, b""), (9, b"ccc")]);
        let mut s = Scanner::new(&buf, 4, 5);
        let items: Vec<_> = s.by_ref().collect();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[2],
            ScanItem::Record {
                offset: 4 + 21 + 20,
                seq: 9,
                payload: b"ccc"
            }
        );
        assert_eq!(s.valid_end(), buf.len());
        assert_eq!(s.last_seq(), Some(9));
    }

    #[test]
    fn bad_payload_is_stepped_over() {
        let (mut buf, offs) = build(&[(1, b"one"), (2, b"two"), (3, b"three")]);
        buf[offs[1] + FRAME_HEADER_LEN] ^= 1;
        let items: Vec<_> = Scanner::new(&buf, 4, 0).collect();
        assert_eq!(
            items[1],
            ScanItem::Corrupt {
                offset: offs[1],
                len: FRAME_HEADER_LEN + 3
            }
        );
        assert_eq!(seqs(&buf, 0), (vec![1, 3], 1));
    }

    #[test]
    fn bad_header_resyncs_to_next_record() {
        let (mut buf, offs) = build(&[(1, b"one"), (2, b"two"), (3, b"three")]);
        buf[offs[1]..offs[1] + 4].fill(0);
        assert_eq!(seqs(&buf, 0), (vec![1, 3], 1));
    }

    #[test]
    fn torn_tail_is_reported_and_not_part_of_valid_end() {
        let (buf, offs) = build(&[(1, b"one"), (2, b"two-two")]);
        let cut = &buf[..buf.len() - 2];
        let mut s = Scanner::new(cut, 4, 0);
        let items: Vec<_> = s.by_ref().collect();
        assert_eq!(
            items[1],
            ScanItem::Corrupt {
                offset: offs[1],
                len: cut.len() - offs[1]
            }
        );
        assert_eq!(s.valid_end(), offs[1]);
    }

    #[test]
    fn out_of_order_and_below_min_seqs_are_rejected() {
        let (buf, _) = build(&[(10, b"a"), (9, b"b"), (10, b"c"), (11, b"d")]);
        assert_eq!(seqs(&buf, 0), (vec![10, 11], 1));
        let (buf, _) = build(&[(3, b"a"), (12, b"b")]);
        assert_eq!(seqs(&buf, 10), (vec![12], 1));
    }

    #[test]
    fn garbage_terminates() {
        let mut state = 0x1234_5678_u64;
        let garbage: Vec<u8> = (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert_eq!(seqs(&garbage, 0), (vec![], 1));
        assert_eq!(seqs(&[0u8; 10_000], 0), (vec![], 1));
        assert_eq!(seqs(&[0u8; 3], 0), (vec![], 0));
    }
}
