//! The log index schema: field names, their options and the tokenizer they rely on.
//!
//! Changing any option here changes the schema, and tantivy refuses to open an index whose
//! stored schema differs: such a change needs a rebuild of the index from the row store.

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, STORED, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, TokenizerManager,
};

pub(crate) const BODY: &str = "body";
pub(crate) const SERVICE: &str = "service";
pub(crate) const SEVERITY: &str = "severity";
pub(crate) const SEVERITY_NUMBER: &str = "severity_number";
pub(crate) const TRACE_ID: &str = "trace_id";
pub(crate) const SPAN_ID: &str = "span_id";
pub(crate) const TIMESTAMP: &str = "timestamp";
pub(crate) const ATTRIBUTES: &str = "attributes";
pub(crate) const RESOURCE: &str = "resource";
pub(crate) const SOURCE: &str = "source";
pub(crate) const ORIGIN: &str = "origin";
pub(crate) const ORIGIN_ID: &str = "origin_id";

/// Whole value as one token, lowercased: exact matching that ignores case.
pub(crate) const RAW_LOWERCASE: &str = "raw_lowercase";

/// Attribute values: whole value as one lowercased token, values longer than
/// [`MAX_ATTRIBUTE_TOKEN_BYTES`] not indexed (as Elasticsearch's `ignore_above`).
pub(crate) const ATTRIBUTE_VALUE: &str = "attribute_value";

/// Longer attribute values (stack traces, payloads) would each add a term no one types in
/// full; they stay readable in the stored row and findable through the body.
const MAX_ATTRIBUTE_TOKEN_BYTES: usize = 256;

/// Handles of every field, resolved once when the schema is built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogFields {
    pub(crate) body: Field,
    pub(crate) service: Field,
    pub(crate) severity: Field,
    pub(crate) severity_number: Field,
    pub(crate) trace_id: Field,
    pub(crate) span_id: Field,
    pub(crate) timestamp: Field,
    pub(crate) attributes: Field,
    pub(crate) resource: Field,
    pub(crate) source: Field,
    pub(crate) origin: Field,
    pub(crate) origin_id: Field,
}

/// Builds the schema. Results are ordered by a fast field and never by relevance, so no field
/// keeps fieldnorms (they only feed BM25 and would cost a byte per document and field).
pub(crate) fn build_schema() -> (Schema, LogFields) {
    let mut builder = Schema::builder();

    let full_text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            .set_fieldnorms(false),
    );
    let exact = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
    };
    // Attribute values are matched whole (`http.route:"/api/items/{id}"`, case ignored), as
    // facets and filters use them: one token per value, no positions or frequencies to keep.
    // Dots in attribute keys (`http.method`) become path separators, so a query for
    // `attributes.http.method` matches both flat dotted keys and nested maps.
    let json = JsonObjectOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ATTRIBUTE_VALUE)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
        .set_expand_dots_enabled();
    let number = NumericOptions::default().set_indexed().set_fast();
    // Time is only ever a range or a sort key, which the fast field serves: indexing it too
    // would add a term per record (every record has its own nanosecond).
    let time = NumericOptions::default().set_fast();

    let fields = LogFields {
        body: builder.add_text_field(BODY, full_text),
        service: builder.add_text_field(SERVICE, exact("raw")),
        severity: builder.add_text_field(SEVERITY, exact(RAW_LOWERCASE)),
        severity_number: builder.add_i64_field(SEVERITY_NUMBER, number),
        // Stored ids are lowercase hex already; lowercasing query terms as well makes id
        // lookups case-insensitive whatever the query shape (sets, groups, phrases).
        trace_id: builder.add_text_field(TRACE_ID, exact(RAW_LOWERCASE)),
        span_id: builder.add_text_field(SPAN_ID, exact(RAW_LOWERCASE)),
        timestamp: builder.add_i64_field(TIMESTAMP, time),
        attributes: builder.add_json_field(ATTRIBUTES, json.clone()),
        // Only origin documents index the resource; records point to theirs by id
        // (`origins.rs`).
        resource: builder.add_json_field(RESOURCE, json),
        // Records: the row, by `stored_row`. Origin documents: the origin it encodes.
        source: builder.add_bytes_field(SOURCE, STORED),
        // Records: the id of their origin. Origin documents: `ORIGIN_DOCUMENT`, which no
        // origin id takes, so one term lists them all.
        origin: builder.add_u64_field(ORIGIN, NumericOptions::default().set_indexed()),
        // Origin documents only: their id, to find one by id and to read ids in bulk.
        origin_id: builder.add_u64_field(
            ORIGIN_ID,
            NumericOptions::default().set_indexed().set_fast(),
        ),
    };
    (builder.build(), fields)
}

/// Registers the tokenizers the schema names beyond tantivy's built-in ones. Must run before
/// the writer or a query parser is created, and again every time the index is opened (the
/// registry lives in memory only).
pub(crate) fn register_tokenizers(tokenizers: &TokenizerManager) {
    tokenizers.register(
        RAW_LOWERCASE,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    tokenizers.register(
        ATTRIBUTE_VALUE,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_ATTRIBUTE_TOKEN_BYTES))
            .filter(LowerCaser)
            .build(),
    );
}
