//! Attribute values exactly as OTLP types them, plus the two encodings we persist:
//! a display string (for SQL maps and full-text indexing) and a compact typed JSON
//! (for exact round trips of ints, doubles, bools, bytes, arrays and nested maps).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// One OTLP `AnyValue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    /// `stringValue`.
    #[serde(rename = "s")]
    Str(String),
    /// `boolValue`.
    #[serde(rename = "b")]
    Bool(bool),
    /// `intValue`.
    #[serde(rename = "i")]
    Int(i64),
    /// `doubleValue`.
    #[serde(rename = "d")]
    Double(f64),
    /// `bytesValue`, base64 in JSON.
    #[serde(rename = "y", with = "base64_bytes")]
    Bytes(Vec<u8>),
    /// `arrayValue`.
    #[serde(rename = "a")]
    Array(Vec<AttrValue>),
    /// `kvlistValue`, order kept.
    #[serde(rename = "m")]
    Map(Vec<(String, AttrValue)>),
    /// An `AnyValue` with no value set.
    #[serde(rename = "e")]
    Empty,
}

/// Attributes in the order the client sent them.
pub type Attributes = Vec<(String, AttrValue)>;

impl AttrValue {
    /// The text users see and search: strings verbatim, everything else as JSON.
    pub fn to_display_string(&self) -> String {
        if let AttrValue::Str(text) = self {
            return text.clone();
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_display(&mut text);
        text
    }

    /// Writes the display text into `out` (an Arrow string builder on the ingest path, so
    /// numbers become column bytes without a temporary string).
    pub fn write_display(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        self.as_ref().write_display(out)
    }

    /// A borrowed view, the form the column builders take.
    pub fn as_ref(&self) -> AttrRef<'_> {
        match self {
            AttrValue::Str(text) => AttrRef::Str(text),
            AttrValue::Bool(flag) => AttrRef::Bool(*flag),
            AttrValue::Int(number) => AttrRef::Int(*number),
            AttrValue::Double(number) => AttrRef::Double(*number),
            AttrValue::Bytes(bytes) => AttrRef::Bytes(bytes),
            AttrValue::Array(_) | AttrValue::Map(_) | AttrValue::Empty => AttrRef::Complex(self),
        }
    }

    /// Untyped JSON (what a user expects to read): maps become objects.
    pub fn to_plain_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            AttrValue::Str(text) => Value::String(text.clone()),
            AttrValue::Bool(flag) => Value::Bool(*flag),
            AttrValue::Int(number) => Value::from(*number),
            AttrValue::Double(number) => serde_json::Number::from_f64(*number)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(format_double(*number))),
            AttrValue::Bytes(bytes) => Value::String(BASE64.encode(bytes)),
            AttrValue::Array(items) => {
                Value::Array(items.iter().map(Self::to_plain_json).collect())
            }
            AttrValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_plain_json()))
                    .collect(),
            ),
            AttrValue::Empty => Value::Null,
        }
    }

    /// Nesting depth: a scalar is 1, an array of scalars 2, and so on.
    pub fn depth(&self) -> usize {
        match self {
            AttrValue::Array(items) => 1 + items.iter().map(Self::depth).max().unwrap_or(0),
            AttrValue::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(_, value)| value.depth())
                    .max()
                    .unwrap_or(0)
            }
            _ => 1,
        }
    }
}

/// Doubles always keep a decimal point or exponent so they never read back as ints.
fn format_double(number: f64) -> String {
    let mut text = String::new();
    let _ = write_double(number, &mut text);
    text
}

fn write_double(number: f64, out: &mut impl std::fmt::Write) -> std::fmt::Result {
    if number.is_finite() && number.fract() == 0.0 && number.abs() < 1e15 {
        write!(out, "{number:.1}")
    } else {
        write!(out, "{number}")
    }
}

/// Encodes the types of `attributes` so that their display strings read back exactly: one
/// code per attribute (`s` string, `b` bool, `i` int, `d` double, `y` bytes as base64, `j`
/// array, map or empty), then, if any `j`, a tab and the typed JSON of those values in order.
/// `None` when every value is a string, the common case: the display map alone is exact.
///
/// Scalars are not repeated as JSON because their display text parses back to the same value
/// (ints exactly; doubles print the shortest text that round-trips), and the code string
/// repeats from row to row, so Parquet's dictionary stores it once per file.
pub fn typed_json(attributes: &Attributes) -> Option<String> {
    let mut codes = String::new();
    write_typed_json(attributes, &mut codes).then_some(codes)
}

/// Writes what [`typed_json`] returns into `out`; false (and nothing written) when every
/// value is a string.
pub fn write_typed_json(attributes: &Attributes, out: &mut impl std::fmt::Write) -> bool {
    write_typed_codes(attributes.iter().map(|(_, value)| value.as_ref()), out)
}

/// [`write_typed_json`] over borrowed values: the one implementation of the encoding, so
/// rows built from a request and rows built from [`Attributes`] are byte-identical.
pub fn write_typed_codes<'a>(
    values: impl Iterator<Item = AttrRef<'a>> + Clone,
    out: &mut impl std::fmt::Write,
) -> bool {
    if values.clone().all(|value| matches!(value, AttrRef::Str(_))) {
        return false;
    }
    let mut complex: Vec<&AttrValue> = Vec::new();
    for value in values {
        let _ = out.write_char(value.type_code());
        if let AttrRef::Complex(value) = value {
            complex.push(value);
        }
    }
    if !complex.is_empty() {
        let json = serde_json::to_string(&complex).unwrap_or_else(|_| "[]".to_string());
        let _ = write!(out, "\t{json}");
    }
    true
}

/// An attribute value borrowed from wherever it lives: a request body on the ingest path,
/// an [`AttrValue`] elsewhere. Arrays, maps and empty values are rare and stay owned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrRef<'a> {
    /// `stringValue`.
    Str(&'a str),
    /// `boolValue`.
    Bool(bool),
    /// `intValue`.
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `bytesValue`.
    Bytes(&'a [u8]),
    /// `arrayValue`, `kvlistValue` or no value.
    Complex(&'a AttrValue),
}

impl AttrRef<'_> {
    /// The display text: strings verbatim, everything else as JSON.
    pub fn write_display(self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        match self {
            AttrRef::Str(text) => out.write_str(text),
            AttrRef::Bool(flag) => out.write_str(if flag { "true" } else { "false" }),
            AttrRef::Int(number) => write!(out, "{number}"),
            AttrRef::Double(number) => write_double(number, out),
            AttrRef::Bytes(bytes) => out.write_str(&BASE64.encode(bytes)),
            AttrRef::Complex(AttrValue::Empty) => Ok(()),
            AttrRef::Complex(value) => write!(out, "{}", value.to_plain_json()),
        }
    }

    /// The one-letter type code of [`typed_json`].
    fn type_code(self) -> char {
        match self {
            AttrRef::Str(_) => 's',
            AttrRef::Bool(_) => 'b',
            AttrRef::Int(_) => 'i',
            AttrRef::Double(_) => 'd',
            AttrRef::Bytes(_) => 'y',
            AttrRef::Complex(_) => 'j',
        }
    }
}

fn parse_scalar(code: char, text: &str) -> Option<AttrValue> {
    match code {
        'b' => text.parse().ok().map(AttrValue::Bool),
        'i' => text.parse().ok().map(AttrValue::Int),
        'd' => text.parse().ok().map(AttrValue::Double),
        'y' => BASE64.decode(text).ok().map(AttrValue::Bytes),
        _ => None,
    }
}

/// Rebuilds attributes from display pairs plus the encoding written by [`typed_json`].
/// Anything that does not parse stays a string rather than failing the whole row.
pub fn merge_typed(display_pairs: Vec<(String, String)>, typed: Option<&str>) -> Attributes {
    let Some(typed) = typed else {
        return display_pairs
            .into_iter()
            .map(|(key, text)| (key, AttrValue::Str(text)))
            .collect();
    };
    let (codes, complex_json) = typed.split_once('\t').unwrap_or((typed, "[]"));
    let mut complex: std::vec::IntoIter<AttrValue> =
        serde_json::from_str::<Vec<AttrValue>>(complex_json)
            .unwrap_or_default()
            .into_iter();
    let mut codes = codes.chars();
    display_pairs
        .into_iter()
        .map(|(key, text)| {
            let value = match codes.next() {
                Some('j') => complex.next(),
                Some(code) => parse_scalar(code, &text),
                None => None,
            };
            (key, value.unwrap_or(AttrValue::Str(text)))
        })
        .collect()
}

/// Attributes as one JSON object of plain values (for APIs and display).
pub fn attributes_to_plain_json(attributes: &Attributes) -> serde_json::Value {
    serde_json::Value::Object(
        attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.to_plain_json()))
            .collect(),
    )
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_round_trip_through_display_and_typed_json() {
        let attributes: Attributes = vec![
            ("s".into(), AttrValue::Str("text".into())),
            ("i".into(), AttrValue::Int(i64::MAX)),
            ("d".into(), AttrValue::Double(2.0)),
            ("b".into(), AttrValue::Bool(true)),
            ("y".into(), AttrValue::Bytes(vec![0, 1, 255])),
            (
                "m".into(),
                AttrValue::Map(vec![(
                    "inner".into(),
                    AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Str("x".into())]),
                )]),
            ),
        ];
        let display: Vec<(String, String)> = attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.to_display_string()))
            .collect();
        let typed = typed_json(&attributes);
        assert_eq!(merge_typed(display, typed.as_deref()), attributes);
    }

    #[test]
    fn scalars_round_trip_through_their_display_text() {
        let values = [
            AttrValue::Int(i64::MIN),
            AttrValue::Double(0.1 + 0.2),
            AttrValue::Double(-1e300),
            AttrValue::Double(f64::INFINITY),
            AttrValue::Double(1e15),
            AttrValue::Bool(false),
            AttrValue::Bytes(vec![]),
        ];
        for value in values {
            let attributes: Attributes = vec![("k".into(), value)];
            let display = vec![("k".to_string(), attributes[0].1.to_display_string())];
            assert_eq!(
                merge_typed(display, typed_json(&attributes).as_deref()),
                attributes
            );
        }
    }

    #[test]
    fn all_string_attributes_need_no_type_column() {
        assert_eq!(
            typed_json(&vec![("k".into(), AttrValue::Str("v".into()))]),
            None
        );
    }

    #[test]
    fn doubles_display_with_a_decimal_point() {
        assert_eq!(AttrValue::Double(2.0).to_display_string(), "2.0");
        assert_eq!(AttrValue::Double(0.25).to_display_string(), "0.25");
    }

    #[test]
    fn depth_counts_nesting() {
        let nested = AttrValue::Array(vec![AttrValue::Map(vec![("k".into(), AttrValue::Int(1))])]);
        assert_eq!(nested.depth(), 3);
    }
}
