//! The header search box: a trace id in any common form opens the trace; anything else is a
//! log search (shared/COMPAT.md §12).

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::layout::link;
use super::page_error::PageError;
use super::params::PageParams;

/// What the search box text means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Jump {
    /// Open this trace (32 lowercase hex), highlighting a span from a traceparent.
    Trace {
        trace_id: String,
        span_id: Option<String>,
    },
    /// Run a log search.
    Logs,
    /// An id that can never exist.
    Invalid(&'static str),
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// Classifies the search box text.
pub(crate) fn classify(input: &str) -> Jump {
    let stripped: String = input
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string();
    let text = stripped.trim();
    // traceparent: version-traceid-spanid-flags
    let parts: Vec<&str> = text.split('-').collect();
    if parts.len() >= 4
        && parts[0].len() == 2
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3].len() == 2
        && parts.iter().all(|part| is_hex(part))
    {
        if parts[0].eq_ignore_ascii_case("ff") {
            return Jump::Invalid("invalid traceparent (version ff)");
        }
        return trace(parts[1], Some(parts[2].to_ascii_lowercase()));
    }
    // 24-character base64 of 16 bytes (proto3 JSON, Tempo).
    if text.len() == 24
        && text.ends_with("==")
        && let Ok(bytes) = BASE64.decode(text)
        && bytes.len() == 16
    {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        return trace(&hex, None);
    }
    let without_prefix = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let compact: String = without_prefix
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .collect();
    let looks_like_uuid = without_prefix.matches('-').count() == 4 && compact.len() == 32;
    let plain_word = !without_prefix.contains(['-', ' ']) || looks_like_uuid;
    if plain_word && is_hex(&compact) && (16..=32).contains(&compact.len()) {
        return trace(&compact, None);
    }
    Jump::Logs
}

fn trace(hex: &str, span_id: Option<String>) -> Jump {
    if hex.chars().all(|c| c == '0') {
        return Jump::Invalid("invalid trace ID (all zeros)");
    }
    // A 64-bit id stays 16 digits in the URL, so the lookup also tries the low half of
    // stored 128-bit ids (shared/COMPAT.md §12); longer ones are padded to 32.
    let trace_id = if hex.len() == 16 {
        hex.to_ascii_lowercase()
    } else {
        format!("{hex:0>32}").to_ascii_lowercase()
    };
    Jump::Trace { trace_id, span_id }
}

/// `GET /search?q=…` (plus the range): redirects to the trace or the log search.
pub(crate) async fn jump(raw: RawQuery) -> Result<Response, PageError> {
    let params = PageParams::parse(raw)?;
    let text = params.text("q");
    let range = params.range()?;
    match classify(&text) {
        Jump::Trace { trace_id, span_id } => {
            let mut query = range.params();
            if let Some(span) = span_id {
                query.push(("span", span));
            }
            Ok(Redirect::to(&link(&format!("/trace/{trace_id}"), &query)).into_response())
        }
        Jump::Invalid(message) => Err(PageError::bad_request(message)),
        Jump::Logs => {
            let mut query = vec![("q", text)];
            query.extend(range.params());
            Ok(Redirect::to(&link("/logs", &query)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn trace_id(input: &str) -> Option<String> {
        match classify(input) {
            Jump::Trace { trace_id, .. } => Some(trace_id),
            _ => None,
        }
    }

    #[test]
    fn trace_id_forms_open_the_trace() {
        assert_eq!(trace_id(FULL).as_deref(), Some(FULL));
        assert_eq!(trace_id(&FULL.to_uppercase()).as_deref(), Some(FULL));
        assert_eq!(trace_id(&format!(" \"{FULL}\" ")).as_deref(), Some(FULL));
        assert_eq!(trace_id(&format!("0x{FULL}")).as_deref(), Some(FULL));
        assert_eq!(
            trace_id("4bf92f35-77b3-4da6-a3ce-929d0e0e4736").as_deref(),
            Some(FULL)
        );
        assert_eq!(
            trace_id("A3CE929D0E0E4736").as_deref(),
            Some("a3ce929d0e0e4736"),
            "64-bit ids stay short so their low-half lookup works"
        );
        assert_eq!(
            trace_id("3ce929d0e0e4736ab").as_deref(),
            Some("0000000000000003ce929d0e0e4736ab")
        );
        assert_eq!(
            classify("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Jump::Trace {
                trace_id: FULL.to_string(),
                span_id: Some("00f067aa0ba902b7".to_string())
            }
        );
        assert_eq!(trace_id("S/kvNXezTaajzpKdDg5HNg==").as_deref(), Some(FULL));
    }

    #[test]
    fn other_text_searches_logs() {
        assert_eq!(classify("payment declined"), Jump::Logs);
        assert_eq!(
            classify("deadbeef"),
            Jump::Logs,
            "short hex words stay terms"
        );
        assert_eq!(classify("service:checkout AND error"), Jump::Logs);
        assert_eq!(classify(""), Jump::Logs);
        assert!(matches!(
            classify("00000000000000000000000000000000"),
            Jump::Invalid(_)
        ));
        assert!(matches!(
            classify("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Jump::Invalid(_)
        ));
    }
}
