//! CSRF tokens (shared/RELIABILITY.md §5), double-submit style: a browser that opens one of
//! our pages gets a random token twice, in an `HttpOnly; SameSite=Strict` cookie and in the
//! page itself (`hx-headers` on `<body>`, so every htmx request sends it back as a header).
//! A state-changing request that carries our cookie must carry the same token in the
//! header: another site can make the browser send the cookie (older browsers, same-site
//! subdomains) but can neither read it nor read our page.
//!
//! Requests without the cookie are API clients (curl, SDKs, Grafana's proxy, scripts with a
//! bearer token): nothing ambient authenticates them, so there is nothing to forge. The
//! `Origin` / `Sec-Fetch-Site` check in [`crate::guard`] still applies to them.

use axum::http::{HeaderMap, HeaderValue, header};

/// The cookie holding the token.
pub(crate) const COOKIE: &str = "periscope_csrf";
/// The header a state-changing request repeats it in.
pub(crate) const HEADER: &str = "x-periscope-csrf";
/// Random bytes in a token (hex-encoded in the cookie and the page).
const TOKEN_BYTES: usize = 16;

tokio::task_local! {
    /// The token of the request being served, for the page templates.
    static TOKEN: String;
}

/// The token of the request being served ("" outside a request, e.g. in unit tests).
pub(crate) fn current() -> String {
    TOKEN.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `serve` with `token` visible to [`current`]: pages are rendered inside it.
pub(crate) async fn scope<F: Future>(token: String, serve: F) -> F::Output {
    TOKEN.scope(token, serve).await
}

/// The well-formed token in the request's cookie, if there is one.
pub(crate) fn from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| is_token(value))
}

/// Why a state-changing request is refused, if it is: it carries our cookie (a browser
/// session) but not the same token in [`HEADER`].
pub(crate) fn refusal(headers: &HeaderMap, cookie_token: Option<&str>) -> Option<String> {
    let expected = cookie_token?;
    let presented = headers.get(HEADER).and_then(|value| value.to_str().ok());
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => None,
        Some(_) => Some(format!(
            "CSRF token in {HEADER} does not match this browser's"
        )),
        None => Some(format!(
            "CSRF token missing: send the {HEADER} header our pages carry in hx-headers"
        )),
    }
}

/// A fresh random token.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    // Without OS randomness there is no unguessable token; refusing to serve pages would be
    // worse than a process-unique token, and the Origin check still stands.
    if getrandom::fill(&mut bytes).is_err() {
        let fallback = std::collections::hash_map::RandomState::new();
        let value = std::hash::BuildHasher::hash_one(&fallback, std::time::SystemTime::now());
        bytes[..8].copy_from_slice(&value.to_le_bytes());
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The `Set-Cookie` value that hands `token` to the browser.
pub(crate) fn set_cookie(token: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

fn is_token(value: &str) -> bool {
    value.len() == TOKEN_BYTES * 2 && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn tokens_are_random_hex_and_read_back_from_the_cookie() {
        let token = new_token();
        assert!(is_token(&token), "{token}");
        assert_ne!(token, new_token());
        let cookie = format!("theme=dark; {COOKIE}={token}; other=1");
        assert_eq!(
            from_cookie(&headers(&[("cookie", &cookie)])),
            Some(token.clone())
        );
        assert_eq!(
            from_cookie(&headers(&[("cookie", "a=1"), ("cookie", &cookie)])),
            Some(token)
        );
        assert_eq!(
            from_cookie(&headers(&[("cookie", &format!("{COOKIE}=short"))])),
            None
        );
        assert_eq!(from_cookie(&headers(&[])), None);
    }

    #[test]
    fn a_browser_session_must_repeat_its_token() {
        let token = new_token();
        let other = new_token();
        assert!(refusal(&headers(&[]), None).is_none(), "API clients");
        assert!(refusal(&headers(&[(HEADER, &token)]), Some(&token)).is_none());
        assert!(
            refusal(&headers(&[]), Some(&token))
                .unwrap()
                .contains("missing")
        );
        assert!(
            refusal(&headers(&[(HEADER, &other)]), Some(&token))
                .unwrap()
                .contains("does not match")
        );
    }
}
