//! `google.rpc.Status` and `google.rpc.RetryInfo`: the error body of OTLP/HTTP protobuf
//! responses and the `grpc-status-details-bin` trailer that tells OTLP clients how long to
//! back off (without RetryInfo the spec says not to retry RESOURCE_EXHAUSTED).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use prost::Message as _;

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// A Status, with RetryInfo in its details when the condition is transient.
pub(crate) fn status(code: i32, message: &str, retry_after_secs: Option<u64>) -> RpcStatus {
    let details = retry_after_secs
        .map(|seconds| {
            let retry = RetryInfo {
                retry_delay: Some(ProtoDuration {
                    seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
                    nanos: 0,
                }),
            };
            vec![ProtoAny {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".to_string(),
                value: retry.encode_to_vec(),
            }]
        })
        .unwrap_or_default();
    RpcStatus {
        code,
        message: message.to_string(),
        details,
    }
}

/// The `grpc-status-details-bin` trailer value.
pub(crate) fn details_header(status: &RpcStatus) -> String {
    BASE64.encode(status.encode_to_vec())
}

/// Percent-encodes a `grpc-message` (printable ASCII except `%` passes through).
pub(crate) fn percent_encode_message(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trips() {
        let status = status(14, "busy", Some(3));
        let decoded = RpcStatus::decode(status.encode_to_vec().as_slice()).unwrap();
        assert_eq!(
            decoded.details[0].type_url,
            "type.googleapis.com/google.rpc.RetryInfo"
        );
        let retry = RetryInfo::decode(decoded.details[0].value.as_slice()).unwrap();
        assert_eq!(retry.retry_delay.unwrap().seconds, 3);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode_message("a%b\né"), "a%25b%0A%C3%A9");
    }
}
