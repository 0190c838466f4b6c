//! Request checks in front of every route (shared/RELIABILITY.md §5): the `Host` header
//! must name us (DNS-rebinding defence), and a request that could change state must come
//! from our own pages (`Origin` / `Sec-Fetch-Site`), so another site cannot drive a
//! logged-in browser, and a browser session must repeat its CSRF token (see [`crate::csrf`]).
//! GET and HEAD never change state and skip both checks.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::UiState;
use crate::csrf;

/// Refuses requests for other hosts and cross-site requests that could change state.
pub(crate) async fn guard(State(state): State<UiState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .unwrap_or("");
    if !host_allowed(host, &state.allowed_hosts) {
        return (
            StatusCode::FORBIDDEN,
            format!(
                "host {host:?} is not served here; add it to server.allowed_hosts (DNS-rebinding defence)"
            ),
        )
            .into_response();
    }
    let cookie_token = csrf::from_cookie(headers);
    if !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && let Some(reason) =
        cross_site(headers, host).or_else(|| csrf::refusal(headers, cookie_token.as_deref()))
    {
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    let token = cookie_token.clone().unwrap_or_else(csrf::new_token);
    let mut response = csrf::scope(token.clone(), next.run(request)).await;
    // Only pages hand out the cookie: API clients that keep cookies (a requests.Session, say)
    // would otherwise turn into "browser sessions" that must repeat a token they never saw.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if is_page
        && cookie_token.is_none()
        && let Some(cookie) = csrf::set_cookie(&token)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `host[:port]` → lowercase host without brackets or port.
fn host_name(authority: &str) -> String {
    let without_port = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(name, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    name
                } else {
                    authority
                }
            })
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

/// Loopback names, IP literals (a rebinding attack needs a domain name of its own) and the
/// configured names.
fn host_allowed(authority: &str, allowed: &[String]) -> bool {
    let name = host_name(authority);
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok()
        || allowed.iter().any(|allowed| host_name(allowed) == name)
}

/// Why a state-changing request is refused, if it is: the browser says it came from
/// another site, or its `Origin` is not the host it was sent to. Clients that send neither
/// header (curl, SDKs, scripts with a token) are not browsers acting for someone else.
fn cross_site(headers: &HeaderMap, host: &str) -> Option<String> {
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        && matches!(site, "cross-site" | "same-site")
    {
        return Some(format!(
            "cross-site request refused (Sec-Fetch-Site: {site})"
        ));
    }
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("null");
    let origin_authority = origin
        .split_once("://")
        .map_or("", |(_, authority)| authority.trim_end_matches('/'));
    if origin_authority.eq_ignore_ascii_case(host) {
        None
    } else {
        Some(format!("cross-origin request refused (Origin: {origin})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ip_literals_and_configured_names_are_served() {
        let allowed = vec!["periscope.example.com".to_string()];
        for host in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.1.2.3",
            "periscope.example.com:8080",
            "Periscope.Example.Com.",
            "app.localhost:3000",
        ] {
            assert!(host_allowed(host, &allowed), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "periscope.example.com.evil.example",
            "",
        ] {
            assert!(!host_allowed(host, &allowed), "{host}");
        }
    }

    #[test]
    fn state_changing_requests_from_other_sites_are_refused() {
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, value.parse().unwrap());
            }
            headers
        };
        assert!(cross_site(&with(&[]), "localhost:8080").is_none());
        assert!(
            cross_site(
                &with(&[("origin", "http://localhost:8080")]),
                "localhost:8080"
            )
            .is_none()
        );
        assert!(
            cross_site(
                &with(&[("sec-fetch-site", "same-origin")]),
                "localhost:8080"
            )
            .is_none()
        );
        assert!(
            cross_site(
                &with(&[("origin", "http://evil.example")]),
                "localhost:8080"
            )
            .is_some()
        );
        assert!(cross_site(&with(&[("origin", "null")]), "localhost:8080").is_some());
        assert!(cross_site(&with(&[("sec-fetch-site", "cross-site")]), "localhost:8080").is_some());
    }
}
