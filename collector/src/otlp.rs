//! OTLP decoding: the lenient wire types, JSON leniency, and conversion to rows.

pub(crate) mod convert;
pub(crate) mod json;
pub(crate) mod proto_reader;
#[rustfmt::skip]
pub(crate) mod wire;
