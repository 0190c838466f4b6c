//! Encoding and decoding of one record frame (see the format table in `wal.rs`).

/// Bytes before the payload: len (4), seq (8), header crc (4), payload crc (4).
pub(crate) const FRAME_HEADER_LEN: usize = 20;

/// The decoded, CRC-checked fixed part of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// Payload length in bytes.
    pub(crate) len: u32,
    /// Sequence number of the record.
    pub(crate) seq: u64,
    /// Expected crc32c of the payload.
    pub(crate) payload_crc: u32,
}

/// CRC over the length and seq fields. Kept separate from the payload CRC so that a reader can
/// trust the length (and thus jump over a record) before reading the payload.
pub(crate) fn header_crc(len: u32, seq: u64) -> u32 {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&len.to_le_bytes());
    bytes[4..].copy_from_slice(&seq.to_le_bytes());
    crc32c::crc32c(&bytes)
}

/// Replaces the contents of `buf` with the frame for `payload`; `len` must be `payload.len()`
/// (the caller has already checked it fits in a u32). Reusing one buffer keeps appends
/// allocation-free and lets the whole frame go out in a single write.
pub(crate) fn encode(buf: &mut Vec<u8>, seq: u64, len: u32, payload: &[u8]) {
    buf.clear();
    buf.reserve(FRAME_HEADER_LEN + payload.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&header_crc(len, seq).to_le_bytes());
    buf.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Decodes the fixed part of a frame at the start of `bytes`. `None` if there are fewer than
/// [`FRAME_HEADER_LEN`] bytes or the header CRC does not match.
pub(crate) fn decode_header(bytes: &[u8]) -> Option<FrameHeader> {
    let len = le_u32(bytes, 0)?;
    let seq = le_u64(bytes, 4)?;
    let crc = le_u32(bytes, 12)?;
    let payload_crc = le_u32(bytes, 16)?;
    (crc == header_crc(len, seq)).then_some(FrameHeader {
        len,
        seq,
        payload_crc,
    })
}

/// Reads a little-endian u32 at `at`, `None` if out of bounds (never panics on short input).
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    raw.try_into().ok().map(u32::from_le_bytes)
}

/// Reads a little-endian u64 at `at`, `None` if out of bounds.
pub(crate) fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw = bytes.get(at..at.checked_add(8)?)?;
    raw.try_into().ok().map(u64::from_le_bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frame(seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode(
            &mut buf,
            seq,
            u32::try_from(payload.len()).unwrap(),
            payload,
        );
        buf
    }

    #[test]
    fn roundtrip() {
        let buf = frame(42, b"hello");
        assert_eq!(buf.len(), FRAME_HEADER_LEN + 5);
        let h = decode_header(&buf).unwrap();
        assert_eq!((h.len, h.seq), (5, 42));
        assert_eq!(h.payload_crc, crc32c::crc32c(b"hello"));
        assert_eq!(&buf[FRAME_HEADER_LEN..], b"hello");
    }

    #[test]
    fn empty_payload_is_a_valid_frame() {
        let buf = frame(0, b"");
        assert_eq!(buf.len(), FRAME_HEADER_LEN);
        let h = decode_header(&buf).unwrap();
        assert_eq!((h.len, h.seq, h.payload_crc), (0, 0, crc32c::crc32c(b"")));
    }

    #[test]
    fn any_bit_flip_in_len_seq_or_crc_is_detected() {
        let buf = frame(7, b"abc");
        for bit in 0..16 * 8 {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_header(&bad).is_none(), "bit {bit}");
        }
    }

    #[test]
    fn zeroes_and_short_input_do_not_decode() {
        assert!(decode_header(&[0u8; 64]).is_none());
        assert!(decode_header(&frame(1, b"x")[..FRAME_HEADER_LEN - 1]).is_none());
        assert_eq!(le_u32(&[1, 0, 0], 0), None);
        assert_eq!(le_u64(&[0; 8], usize::MAX), None);
    }
}
