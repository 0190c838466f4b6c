use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;

use super::*;
use crate::config::ParserConfig;

fn parser(kind: ParserKind, pattern: Option<&str>) -> Parser {
    Parser::new(&ParserConfig {
        kind,
        pattern: pattern.map(str::to_string),
        ..ParserConfig::default()
    })
    .unwrap()
}

fn body(parsed: &Parsed) -> &str {
    match &parsed.body.value {
        Some(OtlpValue::StringValue(text)) => text,
        other => panic!("body is {other:?}"),
    }
}

fn attr<'a>(parsed: &'a Parsed, key: &str) -> Option<&'a OtlpValue> {
    parsed
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()
}

#[test]
fn json_line_with_trace_ids_level_and_time() {
    let line = r#"{"time":"2024-05-01T12:00:00Z","level":"WARN","msg":"slow query","trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","trace_flags":"01","db":{"rows":3},"ok":true,"ratio":0.5}"#;
    let parsed = parser(ParserKind::Json, None).parse(line);
    assert_eq!(body(&parsed), "slow query");
    assert_eq!(parsed.severity_number, 13);
    assert_eq!(parsed.severity_text, "WARN");
    assert_eq!(parsed.time_unix_nano, 1_714_564_800_000_000_000);
    assert_eq!(
        hex::encode(&parsed.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(hex::encode(&parsed.span_id), "eee19b7ec3c1b174");
    assert_eq!(parsed.flags, 1);
    assert!(matches!(
        attr(&parsed, "ok"),
        Some(OtlpValue::BoolValue(true))
    ));
    assert!(matches!(
        attr(&parsed, "ratio"),
        Some(OtlpValue::DoubleValue(_))
    ));
    assert!(matches!(
        attr(&parsed, "db"),
        Some(OtlpValue::KvlistValue(_))
    ));
    assert!(attr(&parsed, "trace_id").is_none() && attr(&parsed, "msg").is_none());
}

#[test]
fn trace_id_spellings() {
    let p = parser(ParserKind::Json, None);
    let id = "5b8efff798038103d269b633813fc60c";
    for line in [
        format!(r#"{{"traceId":"{id}","spanId":"eee19b7ec3c1b174"}}"#),
        format!(r#"{{"trace.id":"{id}","span.id":"eee19b7ec3c1b174"}}"#),
        format!(r#"{{"trace":{{"id":"{id}"}},"span":{{"id":"eee19b7ec3c1b174"}}}}"#),
    ] {
        let parsed = p.parse(&line);
        assert_eq!(hex::encode(&parsed.trace_id), id, "{line}");
        assert_eq!(parsed.span_id.len(), 8, "{line}");
        assert!(
            parsed.attributes.is_empty(),
            "{line}: {:?}",
            parsed.attributes
        );
    }
    let zero = p.parse(r#"{"trace_id":"00000000000000000000000000000000"}"#);
    assert!(zero.trace_id.is_empty(), "all-zero ids are invalid");
}

#[test]
fn non_json_line_is_kept_as_body() {
    let parsed = parser(ParserKind::Json, None).parse("plain text {");
    assert_eq!(body(&parsed), "plain text {");
    assert!(parsed.attributes.is_empty());
}

#[test]
fn logfmt_and_regex() {
    let parsed = parser(ParserKind::Logfmt, None).parse(r#"level=error msg="db down" host=a"#);
    assert_eq!(body(&parsed), "db down");
    assert_eq!(parsed.severity_number, 17);
    assert!(matches!(attr(&parsed, "host"), Some(OtlpValue::StringValue(h)) if h == "a"));
    let p = parser(
        ParserKind::Regex,
        Some(r"^(?P<time>\S+) (?P<level>\w+) (?P<message>.*)$"),
    );
    let parsed = p.parse("2024-05-01T12:00:00Z crit disk full");
    assert_eq!(body(&parsed), "disk full");
    assert_eq!(parsed.severity_number, 21);
    assert_eq!(parsed.time_unix_nano, 1_714_564_800_000_000_000);
    let unmatched = p.parse("nope");
    assert_eq!(body(&unmatched), "nope");
}

#[test]
fn severity_table() {
    for (text, number) in [
        ("trace", 1),
        ("DEBUG", 5),
        ("info", 9),
        ("notice", 9),
        ("Warning", 13),
        ("err", 17),
        ("CRITICAL", 21),
        ("emerg", 21),
        ("panic", 21),
        ("verbose", 0),
    ] {
        assert_eq!(fields::severity_number(text), number, "{text}");
    }
    let p = parser(ParserKind::Json, None);
    assert_eq!(p.parse(r#"{"level":30}"#).severity_number, 9);
    assert_eq!(p.parse(r#"{"level":50}"#).severity_number, 17);
}

#[test]
fn deep_nesting_is_bounded() {
    let mut line = String::new();
    for _ in 0..100 {
        line.push_str(r#"{"a":"#);
    }
    line.push('1');
    for _ in 0..100 {
        line.push('}');
    }
    // serde_json's own recursion limit (128) accepts this; we store at most 16 levels.
    let parsed = parser(ParserKind::Json, None).parse(&line);
    assert_eq!(parsed.attributes.len(), 1);
}
