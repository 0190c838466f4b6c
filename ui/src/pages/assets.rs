//! The static files the pages load, compiled into the binary: htmx 2.0.11 (vendored,
//! shared/COMPAT.md §14), our stylesheet and our small script. Served by us, so the UI works
//! offline and under `default-src 'self'`.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const CSS: &[u8] = include_bytes!("../../static/app.css");
const JS: &[u8] = include_bytes!("../../static/app.js");

/// `GET /static/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "app.css" => (CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Not telemetry: a short cache keeps page loads quick without pinning an old version.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /favicon.ico`: none (pages declare an empty icon); answering 204 keeps browsers'
/// consoles free of 404s on fragments opened directly.
pub(crate) async fn favicon() -> StatusCode {
    StatusCode::NO_CONTENT
}
