//! OTLP/HTTP protobuf: `POST /v1/{signal}`; status codes and `Retry-After` per the OTLP spec.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::Full;
use prost::Message as _;

use super::outcome::{self, Outcome, RpcStatus};
use crate::buffer::Signal;
use crate::metrics::DropReason;

/// Builds the POST.
pub(super) fn request(
    endpoint: &str,
    signal: Signal,
    message: Bytes,
    gzipped: bool,
    authorization: Option<&str>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut builder = Request::post(format!("{endpoint}/v1/{}", signal.name()))
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(
            header::USER_AGENT,
            concat!("periscope-agent/", env!("CARGO_PKG_VERSION")),
        );
    if gzipped {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder
        .body(Full::new(message))
        .map_err(|err| err.to_string())
}

/// Maps the answer to an [`Outcome`].
pub(super) fn classify(signal: Signal, parts: &http::response::Parts, body: &Bytes) -> Outcome {
    if parts.status.is_success() {
        return outcome::accepted(signal, body);
    }
    classify_status(parts.status, &parts.headers, body)
}

/// Non-2xx statuses, shared with gRPC answers from HTTP proxies.
pub(super) fn classify_status(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Outcome {
    let message = RpcStatus::decode(&body[..])
        .ok()
        .map(|s| s.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let message = format!(
        "http {}: {}",
        status.as_u16(),
        outcome::shorten(message.trim())
    );
    match status.as_u16() {
        429 | 502 | 503 | 504 => Outcome::Retry {
            after: retry_after(headers),
            reason: message,
        },
        401 | 403 => Outcome::Unauthorized { message },
        400 => Outcome::Final {
            reason: DropReason::BadRequest,
            message,
        },
        413 => Outcome::Final {
            reason: DropReason::TooLarge,
            message,
        },
        _ => Outcome::Final {
            reason: DropReason::Final,
            message,
        },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: our backoff applies then).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_otlp_retry_rules() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, "7".parse().unwrap());
        let body = Bytes::from_static(b"busy");
        for code in [429, 502, 503, 504] {
            let outcome = classify_status(StatusCode::from_u16(code).unwrap(), &headers, &body);
            assert!(
                matches!(outcome, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)),
                "{code}"
            );
        }
        let none = HeaderMap::new();
        assert!(matches!(
            classify_status(StatusCode::BAD_REQUEST, &none, &body),
            Outcome::Final {
                reason: DropReason::BadRequest,
                ..
            }
        ));
        assert!(matches!(
            classify_status(StatusCode::PAYLOAD_TOO_LARGE, &none, &body),
            Outcome::Final {
                reason: DropReason::TooLarge,
                ..
            }
        ));
        assert!(matches!(
            classify_status(StatusCode::UNAUTHORIZED, &none, &body),
            Outcome::Unauthorized { .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::FORBIDDEN, &none, &body),
            Outcome::Unauthorized { .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::INTERNAL_SERVER_ERROR, &none, &body),
            Outcome::Final { .. }
        ));
        let status = RpcStatus {
            code: 3,
            message: "bad id".to_string(),
            details: Vec::new(),
        };
        let outcome = classify_status(
            StatusCode::BAD_REQUEST,
            &none,
            &Bytes::from(status.encode_to_vec()),
        );
        assert!(matches!(outcome, Outcome::Final { message, .. } if message.contains("bad id")));
    }
}
