//! OTLP-JSON → the lenient wire types. Leniency lives here, on the JSON value, before the
//! strict decoder sees it (shared/COMPAT.md §4.2): base64 ids from grpc-gateway style
//! senders become hex, and enum names (`SPAN_KIND_SERVER`) become their numbers. The decoded
//! message is re-encoded as protobuf and read by the same path as protobuf requests, so the
//! two encodings cannot drift apart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::error::CollectorError;

const ID_KEYS: [(&str, usize); 3] = [("traceId", 16), ("spanId", 8), ("parentSpanId", 8)];

fn fix_id(value: &mut Value, num_bytes: usize) {
    let Value::String(text) = value else {
        return;
    };
    if text.len() == num_bytes * 2 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return;
    }
    if let Ok(bytes) = BASE64.decode(text.as_bytes())
        && bytes.len() == num_bytes
    {
        *text = hex::encode(bytes);
    }
}

fn enum_number(key: &str, name: &str) -> Option<i64> {
    let table: &[&str] = match key {
        "kind" => &[
            "SPAN_KIND_UNSPECIFIED",
            "SPAN_KIND_INTERNAL",
            "SPAN_KIND_SERVER",
            "SPAN_KIND_CLIENT",
            "SPAN_KIND_PRODUCER",
            "SPAN_KIND_CONSUMER",
        ],
        "code" => &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"],
        "aggregationTemporality" => &[
            "AGGREGATION_TEMPORALITY_UNSPECIFIED",
            "AGGREGATION_TEMPORALITY_DELTA",
            "AGGREGATION_TEMPORALITY_CUMULATIVE",
        ],
        "severityNumber" => {
            let number = name.strip_prefix("SEVERITY_NUMBER_")?;
            return severity_number(number);
        }
        _ => return None,
    };
    table
        .iter()
        .position(|candidate| *candidate == name)
        .map(|pos| pos as i64)
}

fn severity_number(name: &str) -> Option<i64> {
    let bases = [
        ("TRACE", 1),
        ("DEBUG", 5),
        ("INFO", 9),
        ("WARN", 13),
        ("ERROR", 17),
        ("FATAL", 21),
    ];
    if name == "UNSPECIFIED" {
        return Some(0);
    }
    bases.iter().find_map(|(prefix, base)| {
        let rest = name.strip_prefix(prefix)?;
        match rest {
            "" => Some(*base),
            digit => digit
                .parse::<i64>()
                .ok()
                .filter(|n| (2..=4).contains(n))
                .map(|n| base + n - 1),
        }
    })
}

/// Rewrites lenient forms in place. serde_json has already bounded the nesting depth (128).
fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, nested) in map.iter_mut() {
                if let Some((_, num_bytes)) = ID_KEYS.iter().find(|(name, _)| name == key) {
                    fix_id(nested, *num_bytes);
                    continue;
                }
                if let Value::String(name) = nested
                    && let Some(number) = enum_number(key, name)
                {
                    *nested = Value::from(number);
                    continue;
                }
                normalize(nested);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Decodes an OTLP-JSON body as `Strict` (an opentelemetry-proto type), then re-encodes it
/// as protobuf and decodes that into the lenient wire type `Wire`.
pub(crate) fn decode_json<Strict, Wire>(body: &[u8]) -> Result<Wire, CollectorError>
where
    Strict: serde::de::DeserializeOwned + prost::Message,
    Wire: prost::Message + Default,
{
    let bytes = json_to_protobuf::<Strict>(body)?;
    Wire::decode(bytes.as_slice()).map_err(|err| {
        CollectorError::Internal(format!("re-encoded OTLP JSON did not decode: {err}"))
    })
}

/// Decodes an OTLP-JSON body as `Strict` (an opentelemetry-proto type) and re-encodes it as
/// protobuf, so JSON takes the same conversion path as protobuf.
pub(crate) fn json_to_protobuf<Strict>(body: &[u8]) -> Result<Vec<u8>, CollectorError>
where
    Strict: serde::de::DeserializeOwned + prost::Message,
{
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|err| CollectorError::InvalidArgument(format!("invalid JSON body: {err}")))?;
    if !value.is_object() {
        return Err(CollectorError::InvalidArgument(
            "invalid OTLP JSON: the body must be a JSON object".to_string(),
        ));
    }
    normalize(&mut value);
    let strict: Strict = serde_json::from_value(value)
        .map_err(|err| CollectorError::InvalidArgument(format!("invalid OTLP JSON: {err}")))?;
    Ok(strict.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_ids_and_enum_names_are_normalized() {
        let mut value = serde_json::json!({
            "traceId": "W47/95gDgQPSabYzgT/HAA==",
            "spanId": "0123456789abcdef",
            "kind": "SPAN_KIND_SERVER",
            "status": {"code": "STATUS_CODE_ERROR"},
            "severityNumber": "SEVERITY_NUMBER_WARN2",
        });
        normalize(&mut value);
        assert_eq!(value["traceId"], "5b8efff798038103d269b633813fc700");
        assert_eq!(value["spanId"], "0123456789abcdef");
        assert_eq!(value["kind"], 2);
        assert_eq!(value["status"]["code"], 2);
        assert_eq!(value["severityNumber"], 14);
    }
}
