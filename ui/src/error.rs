//! API errors as JSON with the right status: the one place query errors become HTTP codes.
//! Internal details are logged once and never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use periscope_query::QueryError;
use serde_json::json;

/// An error answered by our JSON API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// 400 with a message naming the problem.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        let status = match &err {
            QueryError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            QueryError::NotFound(_) => StatusCode::NOT_FOUND,
            QueryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            QueryError::ResourcesExhausted(_) => StatusCode::TOO_MANY_REQUESTS,
            QueryError::Internal(detail) => {
                tracing::error!(error = %detail, "query failed");
                return ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "internal error; see the server log".to_string(),
                };
            }
        };
        ApiError {
            status,
            message: err.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"status": self.status.as_u16(), "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
