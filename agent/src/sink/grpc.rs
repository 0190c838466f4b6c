//! OTLP/gRPC framed by hand over HTTP/2: one length-prefixed message out, `grpc-status` (in
//! the trailers, or in the headers for a Trailers-Only answer) back.

use bytes::{BufMut as _, Bytes, BytesMut};
use http::{HeaderMap, Request, header};
use http_body_util::Full;

use super::outcome::{self, Outcome, RpcStatus};
use crate::buffer::Signal;
use crate::metrics::DropReason;

fn path(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    }
}

/// Builds the Export call.
pub(super) fn request(
    endpoint: &str,
    signal: Signal,
    message: Bytes,
    gzipped: bool,
    authorization: Option<&str>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut framed = BytesMut::with_capacity(message.len() + 5);
    framed.put_u8(u8::from(gzipped));
    framed.put_u32(u32::try_from(message.len()).map_err(|_| "message over 4 GiB".to_string())?);
    framed.put_slice(&message);
    let mut builder = Request::post(format!("{endpoint}{}", path(signal)))
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .header("grpc-accept-encoding", "identity")
        .header(
            header::USER_AGENT,
            concat!("periscope-agent/", env!("CARGO_PKG_VERSION")),
        );
    if gzipped {
        builder = builder.header("grpc-encoding", "gzip");
    }
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder
        .body(Full::new(framed.freeze()))
        .map_err(|err| err.to_string())
}

/// Maps the answer to an [`Outcome`] (shared/RELIABILITY.md §1.3).
pub(super) fn classify(
    signal: Signal,
    parts: &http::response::Parts,
    body: &Bytes,
    trailers: Option<&HeaderMap>,
) -> Outcome {
    if parts.status != http::StatusCode::OK {
        // A proxy in front of the collector answered in HTTP terms.
        return super::http::classify_status(parts.status, &parts.headers, body);
    }
    let field = |name: &str| {
        trailers
            .and_then(|t| t.get(name))
            .or_else(|| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
    };
    let Some(code) = field("grpc-status").and_then(|v| v.trim().parse::<i32>().ok()) else {
        return Outcome::Retry {
            after: None,
            reason: "answer without grpc-status".to_string(),
        };
    };
    let message = field("grpc-message")
        .map(percent_decode)
        .unwrap_or_default();
    let status = field("grpc-status-details-bin").and_then(outcome::status_from_header);
    if code == 0 {
        if body.len() < 5 {
            return outcome::accepted(signal, &[]);
        }
        if body[0] != 0 {
            // We asked for identity; a compressed answer only loses the partial-success detail.
            return outcome::accepted(signal, &[]);
        }
        return outcome::accepted(signal, &body[5..]);
    }
    classify_code(code, outcome::shorten(&message), status.as_ref())
}

fn classify_code(code: i32, message: String, status: Option<&RpcStatus>) -> Outcome {
    let after = status.and_then(outcome::retry_delay);
    match code {
        // CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS
        1 | 4 | 10 | 11 | 14 | 15 => Outcome::Retry {
            after,
            reason: format!("grpc status {code}: {message}"),
        },
        // RESOURCE_EXHAUSTED is retryable only with RetryInfo.
        8 if after.is_some() => Outcome::Retry {
            after,
            reason: format!("grpc status 8: {message}"),
        },
        8 => Outcome::Final {
            reason: DropReason::TooLarge,
            message,
        },
        7 | 16 => Outcome::Unauthorized {
            message: format!("grpc status {code}: {message}"),
        },
        3 => Outcome::Final {
            reason: DropReason::BadRequest,
            message,
        },
        _ => Outcome::Final {
            reason: DropReason::Final,
            message: format!("grpc status {code}: {message}"),
        },
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push(high << 4 | low);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_otlp_retry_rules() {
        let retry = |o: &Outcome| matches!(o, Outcome::Retry { .. });
        for code in [1, 4, 10, 11, 14, 15] {
            assert!(retry(&classify_code(code, String::new(), None)), "{code}");
        }
        assert!(matches!(
            classify_code(8, String::new(), None),
            Outcome::Final {
                reason: DropReason::TooLarge,
                ..
            }
        ));
        let with_retry_info = RpcStatus {
            code: 8,
            message: String::new(),
            details: vec![outcome::ProtoAny {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".to_string(),
                value: prost::Message::encode_to_vec(&outcome::RetryInfo {
                    retry_delay: Some(outcome::ProtoDuration {
                        seconds: 3,
                        nanos: 0,
                    }),
                }),
            }],
        };
        assert_eq!(
            classify_code(8, String::new(), Some(&with_retry_info)),
            Outcome::Retry {
                after: Some(std::time::Duration::from_secs(3)),
                reason: "grpc status 8: ".to_string()
            }
        );
        assert!(matches!(
            classify_code(16, String::new(), None),
            Outcome::Unauthorized { .. }
        ));
        assert!(matches!(
            classify_code(7, String::new(), None),
            Outcome::Unauthorized { .. }
        ));
        assert!(matches!(
            classify_code(3, String::new(), None),
            Outcome::Final {
                reason: DropReason::BadRequest,
                ..
            }
        ));
        assert!(matches!(
            classify_code(13, String::new(), None),
            Outcome::Final {
                reason: DropReason::Final,
                ..
            }
        ));
        assert_eq!(percent_decode("a%20b%"), "a b%");
    }
}
