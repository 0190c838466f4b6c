//! A borrowing protobuf field reader: walks one message's fields and hands out slices of the
//! request instead of allocating a struct per message and a buffer per string, which is
//! what prost's generated types cost on the span path (a quarter of ingest CPU in a profile).
//!
//! It follows prost's decoding rules where they matter here: fields in any order, the last
//! value of a repeated scalar field wins, unknown fields are skipped, and a known field with
//! the wrong wire type or a truncated buffer is an error.

use std::fmt;

/// Why a body is not valid protobuf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtoError(pub(crate) &'static str);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One field's payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    pub(crate) fn varint(self) -> Result<u64, ProtoError> {
        match self {
            Value::Varint(value) => Ok(value),
            _ => Err(WRONG_WIRE_TYPE),
        }
    }

    pub(crate) fn fixed64(self) -> Result<u64, ProtoError> {
        match self {
            Value::Fixed64(value) => Ok(value),
            _ => Err(WRONG_WIRE_TYPE),
        }
    }

    pub(crate) fn fixed32(self) -> Result<u32, ProtoError> {
        match self {
            Value::Fixed32(value) => Ok(value),
            _ => Err(WRONG_WIRE_TYPE),
        }
    }

    /// A length-delimited payload: bytes, a string or an embedded message.
    pub(crate) fn bytes(self) -> Result<&'a [u8], ProtoError> {
        match self {
            Value::Bytes(value) => Ok(value),
            _ => Err(WRONG_WIRE_TYPE),
        }
    }

    /// `int32` and enums: the low 32 bits of the varint, as prost reads them.
    pub(crate) fn int32(self) -> Result<i32, ProtoError> {
        Ok(self.varint()? as i32)
    }

    /// `uint32`: the low 32 bits of the varint, as prost reads them.
    pub(crate) fn uint32(self) -> Result<u32, ProtoError> {
        Ok(self.varint()? as u32)
    }
}

const WRONG_WIRE_TYPE: ProtoError = ProtoError("a field has the wrong wire type");
const TRUNCATED: ProtoError = ProtoError("the buffer ends inside a field");
const BAD_VARINT: ProtoError = ProtoError("a varint is longer than 10 bytes");
const BAD_TAG: ProtoError = ProtoError("invalid field tag");
const GROUPS: ProtoError = ProtoError("groups (wire types 3 and 4) are not supported");

/// The fields of one message, in wire order.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(message: &'a [u8]) -> Self {
        Fields { rest: message }
    }

    /// The next field number and payload; `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, ProtoError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| BAD_TAG)?;
        if number == 0 {
            return Err(BAD_TAG);
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| TRUNCATED)?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take_array()?)),
            3 | 4 => return Err(GROUPS),
            _ => return Err(BAD_TAG),
        };
        Ok(Some((number, value)))
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut value = 0u64;
        for (index, byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[index + 1..];
                return Ok(value);
            }
        }
        Err(if self.rest.len() < 10 {
            TRUNCATED
        } else {
            BAD_VARINT
        })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtoError> {
        if self.rest.len() < len {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let bytes = self.take(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn reads_what_prost_writes() {
        use crate::otlp::wire::trace::v1::{Span, Status};
        let span = Span {
            trace_id: vec![1; 16],
            name: "GET /".into(),
            kind: -1,
            flags: 0x301,
            start_time_unix_nano: u64::MAX,
            dropped_attributes_count: 300,
            status: Some(Status {
                message: "boom".into(),
                code: 2,
            }),
            ..Span::default()
        };
        let bytes = span.encode_to_vec();
        let mut fields = Fields::new(&bytes);
        let mut seen = Vec::new();
        while let Some((number, value)) = fields.next_field().unwrap() {
            seen.push(number);
            match number {
                1 => assert_eq!(value.bytes().unwrap(), &[1; 16]),
                5 => assert_eq!(value.bytes().unwrap(), b"GET /"),
                6 => assert_eq!(value.int32().unwrap(), -1),
                7 => assert_eq!(value.fixed64().unwrap(), u64::MAX),
                10 => assert_eq!(value.uint32().unwrap(), 300),
                15 => {
                    let status = value.bytes().unwrap();
                    assert_eq!(Status::decode(status).unwrap().code, 2);
                }
                16 => assert_eq!(value.fixed32().unwrap(), 0x301),
                other => panic!("unexpected field {other}"),
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [1, 5, 6, 7, 10, 15, 16]);
    }

    #[test]
    fn broken_buffers_are_errors_not_panics() {
        let cases: [&[u8]; 6] = [
            &[0x0a, 5, 1, 2],    // length past the end
            &[0x08],             // varint missing
            &[0x08, 0xff, 0xff], // varint cut short
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            &[0x00, 1], // field number 0
            &[0x0b],    // a group
        ];
        for bytes in cases {
            let mut fields = Fields::new(bytes);
            assert!(fields.next_field().is_err(), "{bytes:?}");
        }
        assert_eq!(Value::Varint(1).bytes(), Err(WRONG_WIRE_TYPE));
    }
}
