use proptest::prelude::*;

use super::*;

/// The id `encode` gives every row's origin.
const ORIGIN_ID: u64 = 0x0123_4567_89ab_cdef;

/// A row and its origin, encoded the way the index keeps them.
fn encode(row: &LogRow) -> Vec<u8> {
    let mut out = Vec::new();
    encode_origin(&row.origin, &mut out);
    let origin_len = out.len();
    encode_row(row, ORIGIN_ID, &mut out);
    let mut both = (origin_len as u32).to_le_bytes().to_vec();
    both.extend_from_slice(&out);
    both
}

/// Decodes what `encode` wrote: the origin, then the row naming it.
fn decode(bytes: &[u8], time_unix_nano: i64) -> Result<LogRow, StorageError> {
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("no length".into()))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > rest.len() {
        return Err(corrupt("origin truncated".into()));
    }
    let (origin, row) = rest.split_at(len);
    let origin = Arc::new(decode_origin(origin)?);
    decode_row(row, time_unix_nano, |id| {
        if id == ORIGIN_ID {
            Ok(origin)
        } else {
            Err(corrupt(format!("unknown origin {id}")))
        }
    })
}

fn sample() -> LogRow {
    LogRow {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 1_700_000_000_000_000_005,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: AttrValue::Map(vec![
            ("nan".into(), AttrValue::Double(f64::NAN)),
            ("inf".into(), AttrValue::Double(f64::NEG_INFINITY)),
            (
                "list".into(),
                AttrValue::Array(vec![AttrValue::Empty, AttrValue::Bytes(vec![0, 255])]),
            ),
        ]),
        attributes: vec![
            ("int".into(), AttrValue::Int(i64::MIN)),
            ("flag".into(), AttrValue::Bool(true)),
        ],
        dropped_attributes_count: u32::MAX,
        trace_id: Some(TraceId([7; 16])),
        span_id: Some(SpanId([9; 8])),
        flags: u32::MAX,
        event_name: "évènement".into(),
        origin: std::sync::Arc::new(Origin {
            service_name: "checkout".into(),
            resource_attributes: vec![("host.name".into(), AttrValue::Str("web-1".into()))],
            scope_name: "app".into(),
            scope_version: "1.0".into(),
            scope_attributes: vec![("k".into(), AttrValue::Double(0.5))],
        }),
    }
}

/// Compares through the encoding, since NaN != NaN.
fn assert_round_trips(row: &LogRow) {
    let bytes = encode(row);
    let back = decode(&bytes, row.time_unix_nano).expect("decodes");
    assert_eq!(encode(&back), bytes);
}

fn len_of_origin(encoded: &[u8]) -> usize {
    u32::from_le_bytes(encoded[..4].try_into().expect("length")) as usize
}

#[test]
fn every_field_and_value_kind_round_trips() {
    let row = sample();
    assert_round_trips(&row);
    let mut plain = row;
    plain.body = AttrValue::Str("payment declined".into());
    plain.trace_id = None;
    plain.span_id = None;
    assert_eq!(
        decode(&encode(&plain), plain.time_unix_nano).expect("decodes"),
        plain
    );
}

#[test]
fn truncated_or_garbled_bytes_are_errors_not_panics() {
    let bytes = encode(&sample());
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len], 0).is_err(), "prefix of {len} bytes");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode(&longer, 0).is_err());
    let mut unknown = bytes.clone();
    unknown[4 + len_of_origin(&bytes)] = ROW_FORMAT + 1;
    assert!(decode(&unknown, 0).is_err());
    let mut other_origin = bytes.clone();
    other_origin[4 + len_of_origin(&bytes) + 1] ^= 1;
    assert!(decode(&other_origin, 0).is_err());
}

/// Three rows over two origins, the third sharing the first's origin by value only.
fn request_rows() -> Vec<LogRow> {
    let first = sample();
    let mut second = sample();
    second.origin = Arc::new(Origin {
        service_name: "payments".into(),
        ..Origin::default()
    });
    second.time_unix_nano = -5;
    second.trace_id = None;
    let mut third = sample();
    third.body = AttrValue::Str("third".into());
    vec![first, second, third]
}

fn encode_all(rows: &[LogRow]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_rows(rows, &mut out);
    out
}

#[test]
fn request_rows_round_trip_with_each_origin_written_once() {
    let rows = request_rows();
    let bytes = encode_all(&rows);
    let back = decode_rows(&bytes).expect("decodes");
    assert_eq!(back.len(), rows.len());
    for (back, row) in back.iter().zip(&rows) {
        assert_eq!(back.time_unix_nano, row.time_unix_nano);
        assert_eq!(encode(back), encode(row));
    }
    // Equal origins come back as one shared value, and are stored once.
    assert!(Arc::ptr_eq(&back[0].origin, &back[2].origin));
    assert!(!Arc::ptr_eq(&back[0].origin, &back[1].origin));
    let checkout = b"checkout";
    let stored = bytes
        .windows(checkout.len())
        .filter(|window| window == checkout)
        .count();
    assert_eq!(stored, 1);
}

#[test]
fn truncated_or_garbled_request_rows_are_errors_not_panics() {
    let bytes = encode_all(&request_rows());
    for len in 0..bytes.len() {
        assert!(decode_rows(&bytes[..len]).is_err(), "prefix of {len} bytes");
    }
    let mut longer = bytes;
    longer.push(0);
    assert!(decode_rows(&longer).is_err());
    assert_eq!(decode_rows(&encode_all(&[])).expect("no rows").len(), 0);
}

#[test]
fn deep_nesting_is_refused_when_decoding() {
    let mut value = AttrValue::Empty;
    for _ in 0..=MAX_DEPTH {
        value = AttrValue::Array(vec![value]);
    }
    let mut row = sample();
    row.body = value;
    assert!(decode(&encode(&row), 0).is_err());
}

fn value_strategy() -> impl Strategy<Value = AttrValue> {
    let leaf = prop_oneof![
        any::<String>().prop_map(AttrValue::Str),
        any::<bool>().prop_map(AttrValue::Bool),
        any::<i64>().prop_map(AttrValue::Int),
        any::<f64>().prop_map(AttrValue::Double),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttrValue::Bytes),
        Just(AttrValue::Empty),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttrValue::Array),
            proptest::collection::vec((any::<String>(), inner), 0..4).prop_map(AttrValue::Map),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_rows_round_trip(
        time in any::<i64>(),
        observed in any::<i64>(),
        severity in any::<i32>(),
        body in value_strategy(),
        attributes in proptest::collection::vec((any::<String>(), value_strategy()), 0..4),
        ids in any::<Option<[u8; 16]>>(),
    ) {
        let mut row = sample();
        row.time_unix_nano = time;
        row.observed_time_unix_nano = observed;
        row.severity_number = severity;
        row.body = body;
        row.attributes = attributes;
        row.trace_id = ids.map(TraceId);
        assert_round_trips(&row);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes, 0);
        let _ = decode_row(&bytes, 0, |_| Ok(Arc::new(Origin::default())));
        let _ = decode_origin(&bytes);
        let _ = decode_rows(&bytes);
    }
}
