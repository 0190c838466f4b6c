//! Request bodies: the encoding header and a decompressor that stops at the size limit,
//! so a 10 MiB gzip bomb never inflates into 10 GiB of memory.

use std::borrow::Cow;
use std::io::Read;

use crate::error::CollectorError;

/// A body's `Content-Encoding` (HTTP) or `grpc-encoding` (gRPC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    /// Parses the header value; an unknown or stacked encoding is a 415.
    pub(crate) fn parse(header: Option<&str>) -> Result<Encoding, CollectorError> {
        match header
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("identity") => Ok(Encoding::Identity),
            Some("gzip") | Some("x-gzip") => Ok(Encoding::Gzip),
            Some("zstd") => Ok(Encoding::Zstd),
            Some(other) => Err(CollectorError::Unsupported(format!(
                "unsupported content encoding {other:?}; use gzip, zstd or none"
            ))),
        }
    }
}

/// Inflates `body` into at most `max_bytes`; more is a 413. An uncompressed body is
/// borrowed, not copied: the copy and the fresh pages it faulted in were 3 % of span ingest.
pub(crate) fn decompress(
    body: &[u8],
    encoding: Encoding,
    max_bytes: usize,
) -> Result<Cow<'_, [u8]>, CollectorError> {
    match encoding {
        Encoding::Identity => {
            if body.len() > max_bytes {
                return Err(too_large(max_bytes));
            }
            Ok(Cow::Borrowed(body))
        }
        Encoding::Gzip => {
            read_capped(flate2::read::MultiGzDecoder::new(body), max_bytes).map(Cow::Owned)
        }
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(body).map_err(|err| {
                CollectorError::InvalidArgument(format!("invalid zstd body: {err}"))
            })?;
            read_capped(decoder, max_bytes).map(Cow::Owned)
        }
    }
}

fn read_capped(reader: impl Read, max_bytes: usize) -> Result<Vec<u8>, CollectorError> {
    let mut inflated = Vec::new();
    // One byte past the cap tells "exactly at the limit" from "over it".
    let mut limited = reader.take(max_bytes as u64 + 1);
    limited.read_to_end(&mut inflated).map_err(|err| {
        CollectorError::InvalidArgument(format!("invalid compressed body: {err}"))
    })?;
    if inflated.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(inflated)
}

pub(crate) fn too_large(max_bytes: usize) -> CollectorError {
    CollectorError::TooLarge(format!(
        "request body exceeds the limit of {max_bytes} bytes after decompression (ingest.max_request_bytes)"
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 << 20]);
        let err = decompress(&bomb, Encoding::Gzip, 1 << 20).unwrap_err();
        assert!(matches!(err, CollectorError::TooLarge(_)), "{err}");
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let body = gzip(&[7u8; 1000]);
        assert_eq!(decompress(&body, Encoding::Gzip, 1000).unwrap().len(), 1000);
    }

    #[test]
    fn unknown_and_stacked_encodings_are_unsupported() {
        for header in ["br", "gzip, gzip", "deflate"] {
            assert!(matches!(
                Encoding::parse(Some(header)),
                Err(CollectorError::Unsupported(_))
            ));
        }
    }
}
