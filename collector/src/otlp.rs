//! OTLP decoding: the lenient wire types, JSON leniency, and conversion to rows.

pub(crate) mod convert;
pub(crate) mod json;
#[rustfmt::skip]
pub(crate) mod wire;
