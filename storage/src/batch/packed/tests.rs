use std::sync::Arc;

use arrow::array::{Array, BinaryArray};

use super::*;
use crate::batch::{spans_from_batch, spans_to_batch};
use crate::model::{Origin, SpanRow};
use crate::test_support::span_row;
use crate::value::AttrValue;

fn awkward_span() -> SpanRow {
    let mut row = span_row([7; 16], [1; 8], 10, "checkout");
    row.attributes = vec![
        ("".to_string(), AttrValue::Str("empty key".to_string())),
        ("nul\0key".to_string(), AttrValue::Str("".to_string())),
        ("long".to_string(), AttrValue::Str("x".repeat(300))),
        ("ünïcode".to_string(), AttrValue::Str("värde".to_string())),
        ("n".to_string(), AttrValue::Int(-42)),
        ("b".to_string(), AttrValue::Bool(true)),
    ];
    row.origin = Arc::new(Origin {
        service_name: "checkout".to_string(),
        resource_attributes: vec![
            (
                "service.name".to_string(),
                AttrValue::Str("checkout".to_string()),
            ),
            ("host.name".to_string(), AttrValue::Str("web-1".to_string())),
        ],
        ..Origin::default()
    });
    row
}

#[test]
fn spans_come_back_unchanged_through_the_packed_layout() {
    let rows = vec![
        awkward_span(),
        span_row([8; 16], [2; 8], 20, "no attributes"),
        awkward_span(),
    ];
    let packed = spans_to_batch(&rows).unwrap();
    assert_eq!(packed.schema(), packed_spans_schema());
    assert!(packed.column_by_name("attributes").is_none());
    assert_eq!(spans_from_batch(&packed).unwrap(), rows);

    let unpacked = unpack_spans(packed).unwrap();
    assert_eq!(unpacked.schema(), spans_schema());
    assert_eq!(spans_from_batch(&unpacked).unwrap(), rows);
}

#[test]
fn the_map_layout_packs_to_exactly_what_the_builder_builds() {
    // What replay does with span records of WALs written in the map layout.
    let rows = vec![
        awkward_span(),
        span_row([8; 16], [2; 8], 20, "no attributes"),
    ];
    let built = spans_to_batch(&rows).unwrap();
    let maps = unpack_spans(built.clone()).unwrap();
    assert!(maps.column_by_name("attributes").is_some());
    assert_eq!(pack_spans(&maps).unwrap(), built);
    // A record already packed keeps its columns.
    assert_eq!(pack_spans(&built).unwrap(), built);
}

#[test]
fn a_projection_and_a_slice_unpack_alone() {
    let rows = vec![awkward_span(), span_row([8; 16], [2; 8], 20, "plain")];
    let packed = spans_to_batch(&rows).unwrap();
    let keys = packed.schema().index_of("attributes_keys").unwrap();
    let values = packed.schema().index_of("attributes_values").unwrap();
    let name = packed.schema().index_of("name").unwrap();
    let projected = packed.project(&[name, keys, values]).unwrap().slice(1, 1);

    let unpacked = unpack_spans(projected).unwrap();
    let names: Vec<_> = unpacked
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect();
    assert_eq!(names, ["name", "attributes"]);
    let map = unpacked
        .column(1)
        .as_any()
        .downcast_ref::<MapArray>()
        .unwrap();
    assert_eq!(map.len(), 1);
    assert_eq!(map.value_length(0), 0);
}

#[test]
fn batches_without_packed_columns_pass_through() {
    let batch = unpack_spans(spans_to_batch(&[awkward_span()]).unwrap()).unwrap();
    assert_eq!(unpack_spans(batch.clone()).unwrap(), batch);
}

#[test]
fn damaged_packed_columns_are_errors_not_panics() {
    let cases: [(&[u8], &[u8]); 4] = [
        (b"\x05ab", b"\x00"),      // key longer than its bytes
        (b"\x01a", b""),           // a key without a value
        (b"\x01a", b"\x01b\x01c"), // more values than keys
        (b"\x01\xff", b"\x00"),    // not UTF-8
    ];
    for (keys, values) in cases {
        let keys = BinaryArray::from_iter_values([keys]);
        let values = BinaryArray::from_iter_values([values]);
        assert!(
            matches!(unpack_map(&keys, &values), Err(StorageError::Corrupt(_))),
            "{keys:?} / {values:?}"
        );
    }
    let endless = BinaryArray::from_iter_values([[0xffu8; 12].as_slice()]);
    let empty = BinaryArray::from_iter_values([b"".as_slice()]);
    assert!(unpack_map(&endless, &empty).is_err());
}

#[test]
fn one_value_is_found_in_the_packed_bytes_as_the_map_would_give_it() {
    let mut row = awkward_span();
    row.attributes
        .push(("n".to_string(), AttrValue::Str("second".to_string())));
    let packed = spans_to_batch(&[row]).unwrap();
    let column = |name: &str| {
        packed
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap()
            .clone()
    };
    let (keys, values) = (column("attributes_keys"), column("attributes_values"));
    let lookup = |key: &str| packed_value(keys.value(0), values.value(0), key.as_bytes()).unwrap();
    assert_eq!(lookup("long"), Some("x".repeat(300).as_str()));
    assert_eq!(lookup("ünïcode"), Some("värde"));
    assert_eq!(lookup(""), Some("empty key"));
    assert_eq!(lookup("nul\0key"), Some(""));
    // The first of repeated keys, as a map lookup gives it.
    assert_eq!(lookup("n"), Some("-42"));
    assert_eq!(lookup("missing"), None);
    assert_eq!(lookup("lon"), None);
    assert!(matches!(
        packed_value(b"\x01a", b"\x05ab", b"a"),
        Err(StorageError::Corrupt(_))
    ));
}
