//! Reading a request body with a byte cap.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::decompress::too_large;
use crate::error::CollectorError;

/// Collects at most `max_bytes` of `body`; more is a 413, a broken stream a 400.
pub(crate) async fn read_capped(body: Body, max_bytes: usize) -> Result<Bytes, CollectorError> {
    match Limited::new(body, max_bytes).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max_bytes)),
        Err(err) => Err(CollectorError::InvalidArgument(format!(
            "failed to read request body: {err}"
        ))),
    }
}
