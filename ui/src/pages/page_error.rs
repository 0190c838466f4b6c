//! Errors of HTML pages: the status of the query error and a page that says what went
//! wrong, escaped like everything else. Internal details are logged, never shown.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use periscope_query::QueryError;

use super::layout::Chrome;
use crate::error::ApiError;

/// An error answered with an HTML page.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    pub(crate) fn bad_request(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<QueryError> for PageError {
    fn from(err: QueryError) -> Self {
        let api = ApiError::from(err);
        PageError {
            status: api.status(),
            message: api.message().to_string(),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        PageError {
            status: err.status(),
            message: err.message().to_string(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    reason: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            chrome: Chrome::new("", ""),
            status: self.status.as_u16(),
            reason: self
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_string(),
            message: self.message,
        };
        (self.status, page).into_response()
    }
}
