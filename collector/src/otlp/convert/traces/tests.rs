use periscope_storage::batch::spans_from_batch;
use periscope_storage::{SpanId, SpanRow, TraceId};

use super::*;
use crate::otlp::wire::collector::trace::v1::ExportTraceServiceRequest;
use crate::otlp::wire::common::v1::{ArrayValue, KeyValue, KeyValueList, any_value};
use crate::otlp::wire::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

const NOW: i64 = 1_700_000_000_000_000_000;

fn limits() -> Limits {
    Limits {
        max_attributes: 4,
        max_attribute_bytes: 12,
        max_nesting_depth: 3,
        min_time_unix_nano: NOW - 1_000_000_000_000,
        max_time_unix_nano: NOW + 1_000_000_000_000,
        now_unix_nano: NOW,
    }
}

fn pair(key: &[u8], value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_vec(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn text_value(text: &[u8]) -> any_value::Value {
    any_value::Value::StringValue(text.to_vec())
}

fn span(id: u8) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        name: b"GET /".to_vec(),
        kind: 2,
        start_time_unix_nano: NOW as u64,
        end_time_unix_nano: NOW as u64 + 5,
        ..Span::default()
    }
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![pair(b"service.name", text_value(b"shop"))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: b"lib".to_vec(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn rows(body: &[u8]) -> (Vec<SpanRow>, Conversion<SpanBatchBuilder>) {
    let mut conversion = convert_traces(body, &limits(), 10).unwrap();
    let builder = std::mem::replace(&mut conversion.rows, SpanBatchBuilder::with_capacity(0));
    let batch = builder.finish().unwrap().into_inner();
    (spans_from_batch(&batch).unwrap(), conversion)
}

#[test]
fn spans_are_read_in_place_with_every_limit_applied() {
    let mut typed = span(1);
    typed.parent_span_id = vec![9; 8];
    typed.flags = 0x301;
    typed.trace_state = b"k=v".to_vec();
    typed.attributes = vec![
        pair(b"s", text_value(b"0123456789abcdef")),
        pair(b"i", any_value::Value::IntValue(-3)),
        pair(b"long-key-name", any_value::Value::DoubleValue(2.5)),
        pair(
            b"a",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                }],
            }),
        ),
        pair(b"dropped", any_value::Value::BytesValue(vec![1])),
    ];
    typed.dropped_attributes_count = 2;
    typed.events = vec![span::Event {
        time_unix_nano: NOW as u64 + 1,
        name: b"exception".to_vec(),
        attributes: vec![pair(b"b", any_value::Value::BytesValue(vec![0, 255]))],
        dropped_attributes_count: 0,
    }];
    typed.status = Some(Status {
        message: b"boom".to_vec(),
        code: 2,
    });
    let mut lossy = span(2);
    lossy.name = b"bad \xff name".to_vec();
    let mut too_deep = span(3);
    too_deep.attributes = vec![pair(
        b"m",
        any_value::Value::KvlistValue(KeyValueList {
            values: vec![pair(
                b"n",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![pair(
                        b"o",
                        any_value::Value::ArrayValue(ArrayValue {
                            values: vec![AnyValue {
                                value: Some(any_value::Value::IntValue(1)),
                            }],
                        }),
                    )],
                }),
            )],
        }),
    )];
    let mut zero_trace = span(4);
    zero_trace.trace_id = vec![0; 16];
    let mut backwards = span(5);
    backwards.end_time_unix_nano = NOW as u64 - 1;
    let body = request(vec![typed, lossy, too_deep, zero_trace, backwards]).encode_to_vec();

    let (rows, conversion) = rows(&body);
    assert_eq!(conversion.rejected, 3, "{:?}", conversion.reasons);
    assert_eq!(conversion.reasons.get(TOO_DEEP), Some(&1));
    assert_eq!(conversion.reasons.get(BAD_TRACE_ID), Some(&1));
    assert_eq!(conversion.reasons.get(END_BEFORE_START), Some(&1));
    assert_eq!(conversion.invalid_utf8, 1);
    // "0123456789abcdef" and "long-key-name" cut to 12 bytes.
    assert_eq!(conversion.truncated_values, 2);
    assert_eq!(conversion.dropped_attributes, 1);

    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row.trace_id, TraceId([7; 16]));
    assert_eq!(row.span_id, SpanId([1; 8]));
    assert_eq!(row.parent_span_id, Some(SpanId([9; 8])));
    assert_eq!(
        (row.flags, row.kind, row.trace_state.as_str()),
        (0x301, 2, "k=v")
    );
    assert_eq!((row.status_code, row.status_message.as_str()), (2, "boom"));
    assert_eq!(row.end_time_unix_nano - row.start_time_unix_nano, 5);
    assert_eq!(
        row.attributes,
        vec![
            ("s".to_string(), AttrValue::Str("0123456789ab".into())),
            ("i".to_string(), AttrValue::Int(-3)),
            ("long-key-nam".to_string(), AttrValue::Double(2.5)),
            (
                "a".to_string(),
                AttrValue::Array(vec![AttrValue::Bool(true)])
            ),
        ]
    );
    assert_eq!(row.dropped_attributes_count, 3);
    assert_eq!(row.events.len(), 1);
    assert_eq!(row.events[0].name, "exception");
    assert_eq!(
        row.events[0].attributes,
        vec![("b".to_string(), AttrValue::Bytes(vec![0, 255]))]
    );
    assert_eq!(row.origin.service_name, "shop");
    assert_eq!(row.origin.scope_name, "lib");
    assert_eq!(rows[1].name, "bad \u{fffd} name");
    assert_eq!(rows[1].parent_span_id, None);
}

/// Length-delimited field 1, the shape of `resource_spans` in a request.
fn field_one(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0a];
    prost::encoding::encode_varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

#[test]
fn fields_in_any_order_and_repeated_messages_merge_as_in_prost() {
    let mut first = span(1);
    first.status = Some(Status {
        message: b"first".to_vec(),
        code: 0,
    });
    // The same span twice on the wire is one span whose fields merge: the later status
    // code wins, the earlier message stays, the attribute lists concatenate.
    first.attributes = vec![pair(b"x", text_value(b"1"))];
    let second = Span {
        status: Some(Status {
            message: Vec::new(),
            code: 2,
        }),
        attributes: vec![pair(b"y", any_value::Value::IntValue(2))],
        ..Span::default()
    };
    let mut span_bytes = first.encode_to_vec();
    span_bytes.extend(second.encode_to_vec());
    // A ResourceSpans whose resource comes after its spans: two partial messages in a row.
    let scope = ScopeSpans {
        spans: vec![Span::decode(span_bytes.as_slice()).unwrap()],
        ..ScopeSpans::default()
    };
    let mut resource_spans = ResourceSpans {
        scope_spans: vec![scope],
        ..ResourceSpans::default()
    }
    .encode_to_vec();
    resource_spans.extend(
        ResourceSpans {
            resource: request(vec![]).resource_spans[0].resource.clone(),
            ..ResourceSpans::default()
        }
        .encode_to_vec(),
    );
    let mut body = field_one(&resource_spans);
    // The merged span as prost sees it, sent again in a second group to compare.
    let expected = Span::decode(span_bytes.as_slice()).unwrap();
    assert_eq!(expected.status.as_ref().unwrap().code, 2);
    body.extend(request(vec![expected]).encode_to_vec());

    let (rows, conversion) = rows(&body);
    assert_eq!(conversion.rejected, 0);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].origin.service_name, "shop");
    assert_eq!(rows[0].status_code, 2);
    assert_eq!(rows[0].status_message, "first");
    assert_eq!(rows[0].attributes.len(), 2);
    let strip = |row: &SpanRow| SpanRow {
        origin: Arc::new(Origin::default()),
        ..row.clone()
    };
    assert_eq!(strip(&rows[0]), strip(&rows[1]));
}

#[test]
fn broken_bodies_and_too_many_spans_fail_the_whole_request() {
    let body = request(vec![span(1), span(2)]).encode_to_vec();
    let truncated = &body[..body.len() - 3];
    assert!(matches!(
        convert_traces(truncated, &limits(), 10),
        Err(CollectorError::InvalidArgument(message)) if message.starts_with("invalid OTLP protobuf")
    ));
    let many = request((1..=11).map(span).collect()).encode_to_vec();
    assert!(matches!(
        convert_traces(&many, &limits(), 10),
        Err(CollectorError::TooLarge(message)) if message.contains("holds 11 records")
    ));
}
