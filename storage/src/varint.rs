//! LEB128 varints and length-prefixed byte strings: the framing of the log index's stored
//! rows, of packed span attributes and of span request WAL payloads.

/// Appends `value` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `bytes` after their length as a varint.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads a varint from the front of `cursor`, advancing it. The error says what was wrong.
pub(crate) fn take_varint(cursor: &mut &[u8]) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = cursor.split_first().ok_or("truncated")?;
        *cursor = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes")
}

/// Reads a length-prefixed byte string from the front of `cursor`, advancing it.
pub(crate) fn take_bytes<'a>(cursor: &mut &'a [u8]) -> Result<&'a [u8], &'static str> {
    let len = take_varint(cursor)?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= cursor.len())
        .ok_or("cut short")?;
    let (bytes, rest) = cursor.split_at(len);
    *cursor = rest;
    Ok(bytes)
}
