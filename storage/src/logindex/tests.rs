//! End-to-end tests: rows go through the writer, a commit and the searcher.

use std::sync::Arc;

use tempfile::TempDir;

use super::{LogHits, LogIndexWriter, LogQuery, LogSearcher, open_log_index};
use crate::error::StorageError;
use crate::model::{LogRow, Origin, SpanId, TraceId};
use crate::value::AttrValue;

const MEMORY: usize = 20_000_000;

fn row(time: i64, service: &str, severity: &str, body: &str) -> LogRow {
    LogRow {
        time_unix_nano: time,
        observed_time_unix_nano: time + 1,
        severity_number: match severity {
            "ERROR" => 17,
            "WARN" => 13,
            _ => 9,
        },
        severity_text: severity.to_string(),
        body: AttrValue::Str(body.to_string()),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        trace_id: None,
        span_id: None,
        flags: 0,
        event_name: String::new(),
        origin: Arc::new(Origin {
            service_name: service.to_string(),
            resource_attributes: vec![("service.name".into(), AttrValue::Str(service.into()))],
            ..Origin::default()
        }),
    }
}

fn open(dir: &TempDir) -> (LogIndexWriter, LogSearcher, Option<u64>) {
    open_log_index(dir.path(), MEMORY).expect("open log index")
}

/// An index holding `rows`, committed at WAL seq 1.
fn index_with(rows: &[LogRow]) -> (TempDir, LogIndexWriter, LogSearcher) {
    let dir = TempDir::new().expect("tempdir");
    let (mut writer, searcher, _) = open(&dir);
    writer.add(rows).expect("add");
    writer.commit(1).expect("commit");
    (dir, writer, searcher)
}

fn search(searcher: &LogSearcher, query: &str) -> LogHits {
    searcher
        .search(&LogQuery {
            query: query.to_string(),
            limit: 100,
            ..LogQuery::default()
        })
        .unwrap_or_else(|err| panic!("search {query:?}: {err}"))
}

/// Bodies of the hits, newest first.
fn bodies(searcher: &LogSearcher, query: &str) -> Vec<String> {
    search(searcher, query)
        .rows
        .iter()
        .map(LogRow::body_text)
        .collect()
}

fn sample() -> Vec<LogRow> {
    let mut get = row(100, "checkout", "INFO", "GET /cart took 12ms");
    get.attributes = vec![
        ("http.method".into(), AttrValue::Str("GET".into())),
        ("http.status_code".into(), AttrValue::Int(200)),
    ];
    let mut post = row(200, "checkout", "ERROR", "payment failed: card declined");
    post.attributes = vec![("http.method".into(), AttrValue::Str("POST".into()))];
    post.trace_id = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c");
    post.span_id = SpanId::from_hex("b7ad6b7169203331");
    let mut other = row(300, "frontend", "WARN", "slow render of checkout page");
    Arc::make_mut(&mut other.origin)
        .resource_attributes
        .push(("host.name".into(), AttrValue::Str("web-1".into())));
    vec![get, post, other]
}

#[test]
fn handles_can_move_to_their_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<LogIndexWriter>();
    send_sync::<LogSearcher>();
}

#[test]
fn rows_round_trip_exactly() {
    let mut typed = row(42, "svc", "INFO", "ignored");
    typed.body = AttrValue::Map(vec![(
        "msg".into(),
        AttrValue::Str("structured body".into()),
    )]);
    typed.attributes = vec![
        ("int".into(), AttrValue::Int(i64::MIN)),
        ("double".into(), AttrValue::Double(2.0)),
        ("bool".into(), AttrValue::Bool(false)),
        ("bytes".into(), AttrValue::Bytes(vec![0, 1, 254, 255])),
        (
            "array".into(),
            AttrValue::Array(vec![
                AttrValue::Int(1),
                AttrValue::Str("two".into()),
                AttrValue::Empty,
            ]),
        ),
        (
            "nested".into(),
            AttrValue::Map(vec![(
                "inner".into(),
                AttrValue::Map(vec![(
                    "deep".into(),
                    AttrValue::Array(vec![AttrValue::Bool(true)]),
                )]),
            )]),
        ),
    ];
    typed.dropped_attributes_count = 3;
    typed.flags = u32::MAX;
    typed.event_name = "user.login".into();
    typed.trace_id = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c");
    typed.span_id = SpanId::from_hex("b7ad6b7169203331");
    let origin = Arc::make_mut(&mut typed.origin);
    origin.scope_name = "scope".into();
    origin.scope_version = "1.0".into();
    origin.scope_attributes = vec![("k".into(), AttrValue::Double(0.5))];
    let (_dir, _writer, searcher) = index_with(std::slice::from_ref(&typed));

    let hits = search(&searcher, "");
    assert_eq!(hits.total, 1);
    assert_eq!(hits.rows, vec![typed.clone()]);
    assert_eq!(search(&searcher, "structured").rows, vec![typed.clone()]);
    assert_eq!(search(&searcher, "nested.inner.deep:true").total, 1);
    assert_eq!(searcher.scan(None, None, 10).expect("scan"), vec![typed]);
}

#[test]
fn match_all_phrases_and_boolean_queries() {
    let (_dir, _writer, searcher) = index_with(&sample());
    assert_eq!(search(&searcher, "").total, 3);
    assert_eq!(search(&searcher, "  * ").total, 3);
    assert_eq!(
        bodies(&searcher, "\"card declined\""),
        ["payment failed: card declined"]
    );
    assert_eq!(search(&searcher, "\"declined card\"").total, 0);
    // Bare words are all required.
    assert_eq!(search(&searcher, "payment declined").total, 1);
    assert_eq!(search(&searcher, "payment render").total, 0);
    assert_eq!(search(&searcher, "payment OR render").total, 2);
    assert_eq!(
        bodies(&searcher, "service:checkout AND NOT severity:error"),
        ["GET /cart took 12ms"]
    );
    assert_eq!(search(&searcher, "+service:checkout -level:ERROR").total, 1);
    assert_eq!(search(&searcher, "NOT severity:error").total, 2);
    assert_eq!(search(&searcher, "-severity:error").total, 2);
    assert_eq!(
        search(&searcher, "NOT (severity:error OR level:warn)").total,
        1
    );
    assert_eq!(
        search(&searcher, "checkout AND NOT (NOT service:frontend)").total,
        1
    );
    assert_eq!(
        search(&searcher, "(render OR payment) AND service.name:checkout").total,
        1
    );
    // Service is exact and case-sensitive; severity ignores case.
    assert_eq!(search(&searcher, "service:Checkout").total, 0);
    assert_eq!(
        search(&searcher, "service_name:frontend AND severity_text:warn").total,
        1
    );
    assert_eq!(search(&searcher, "severity_number:[17 TO 24]").total, 1);
    assert_eq!(search(&searcher, "severity_number:>=13").total, 2);
}

#[test]
fn attribute_and_resource_fields() {
    let (_dir, _writer, searcher) = index_with(&sample());
    assert_eq!(
        bodies(&searcher, "http.method:GET"),
        ["GET /cart took 12ms"]
    );
    assert_eq!(search(&searcher, "attributes.http.method:post").total, 1);
    assert_eq!(search(&searcher, "http.status_code:200").total, 1);
    assert_eq!(search(&searcher, "resource.host.name:\"web-1\"").total, 1);
    assert_eq!(search(&searcher, "resource.service.name:checkout").total, 2);
    // Bare terms search the body only, not attribute values.
    assert_eq!(search(&searcher, "POST").total, 0);
    assert_eq!(search(&searcher, "no.such.attribute:x").total, 0);
}

#[test]
fn attribute_values_match_whole_and_ignore_case() {
    let mut first = row(1, "svc", "INFO", "first");
    first.attributes = vec![
        (
            "log.file.path".into(),
            AttrValue::Str("/var/log/App.log".into()),
        ),
        ("thread.name".into(), AttrValue::Str("worker-3".into())),
        ("payload".into(), AttrValue::Bytes(vec![1, 2, 3])),
        (
            "stack".into(),
            AttrValue::Str(format!("at {}", "frame ".repeat(100))),
        ),
    ];
    let mut second = row(2, "svc", "INFO", "second");
    second.attributes = vec![
        (
            "log.file.path".into(),
            AttrValue::Str("/var/log/app.log.1".into()),
        ),
        ("thread.name".into(), AttrValue::Str("worker-30".into())),
    ];
    let (_dir, _writer, searcher) = index_with(&[first, second]);
    // Quoted or not, a value is one token: no phrase (and no positions) needed.
    assert_eq!(
        bodies(&searcher, "log.file.path:\"/var/log/app.log\""),
        ["first"]
    );
    assert_eq!(bodies(&searcher, "thread.name:worker-3"), ["first"]);
    assert_eq!(bodies(&searcher, "thread.name:WORKER-30"), ["second"]);
    // Words inside a value are not terms of their own.
    assert_eq!(search(&searcher, "thread.name:worker").total, 0);
    assert_eq!(
        search(&searcher, "thread.name:(worker-3 OR worker-30)").total,
        2
    );
    // Values past the token limit and bytes are stored, not indexed.
    assert_eq!(search(&searcher, "stack:frame").total, 0);
    let all = search(&searcher, "");
    assert_eq!(all.rows[1].attributes[2].1, AttrValue::Bytes(vec![1, 2, 3]));
}

#[test]
fn trace_and_span_id_lookup_ignores_case() {
    let (_dir, _writer, searcher) = index_with(&sample());
    for query in [
        "trace_id:0af7651916cd43dd8448eb211c80319c",
        "trace_id:0AF7651916CD43DD8448EB211C80319C",
        "trace_id:\"0AF7651916CD43DD8448EB211C80319C\"",
        "trace_id: IN [0AF7651916CD43DD8448EB211C80319C ffff]",
        "span_id:B7AD6B7169203331",
    ] {
        assert_eq!(
            bodies(&searcher, query),
            ["payment failed: card declined"],
            "{query}"
        );
    }
    assert_eq!(
        search(&searcher, "trace_id:0af7651916cd43dd8448eb211c80319d").total,
        0
    );
}

#[test]
fn time_range_filters_inclusively() {
    let (_dir, _writer, searcher) = index_with(&sample());
    let range = |start, end| {
        searcher
            .search(&LogQuery {
                query: "checkout".into(),
                start_ns: start,
                end_ns: end,
                limit: 10,
            })
            .expect("search")
            .total
    };
    assert_eq!(range(None, None), 1);
    assert_eq!(range(Some(300), None), 1);
    assert_eq!(range(None, Some(299)), 0);
    let all = |start, end| {
        let rows = searcher.scan(start, end, 10).expect("scan");
        let mut times: Vec<i64> = rows.iter().map(|row| row.time_unix_nano).collect();
        times.sort_unstable();
        times
    };
    assert_eq!(all(Some(100), Some(200)), [100, 200]);
    assert_eq!(all(Some(150), None), [200, 300]);
    assert_eq!(all(None, Some(99)), Vec::<i64>::new());
    assert_eq!(searcher.scan(None, None, 2).expect("scan").len(), 2);
    assert!(searcher.scan(None, None, 0).expect("scan").is_empty());
}

#[test]
fn newest_first_with_total_beyond_limit() {
    // Times out of insertion order, over two commits (two segments).
    let times = [5, 1, 9, 3, 7, 2, 8];
    let dir = TempDir::new().expect("tempdir");
    let (mut writer, searcher, _) = open(&dir);
    let rows: Vec<LogRow> = times
        .iter()
        .map(|&time| row(time, "svc", "INFO", &format!("event {time}")))
        .collect();
    writer.add(&rows[..4]).expect("add");
    writer.commit(1).expect("commit");
    writer.add(&rows[4..]).expect("add");
    writer.commit(2).expect("commit");

    let hits = searcher
        .search(&LogQuery {
            query: "event".into(),
            limit: 3,
            ..LogQuery::default()
        })
        .expect("search");
    assert_eq!(hits.total, 7);
    let got: Vec<i64> = hits.rows.iter().map(|row| row.time_unix_nano).collect();
    assert_eq!(got, [9, 8, 7]);

    let count_only = searcher
        .search(&LogQuery {
            query: "*".into(),
            limit: 0,
            ..LogQuery::default()
        })
        .expect("search");
    assert_eq!((count_only.total, count_only.rows.len()), (7, 0));
    let huge_limit = searcher
        .search(&LogQuery {
            limit: usize::MAX,
            ..LogQuery::default()
        })
        .expect("search");
    assert_eq!(huge_limit.rows.len(), 7);
}

#[test]
fn reopen_returns_committed_seq_and_rows() {
    let dir = TempDir::new().expect("tempdir");
    {
        let (mut writer, searcher, seq) = open(&dir);
        assert_eq!(seq, None);
        writer.add(&sample()).expect("add");
        assert_eq!(writer.num_uncommitted(), 3);
        assert_eq!(searcher.num_docs(), 0, "uncommitted rows are not visible");
        let clone = searcher.clone();
        writer.commit(41).expect("commit");
        assert_eq!(writer.num_uncommitted(), 0);
        assert_eq!((searcher.num_docs(), clone.num_docs()), (3, 3));
        writer
            .add(&[row(400, "svc", "INFO", "lost on crash")])
            .expect("add");
        writer.commit(42).expect("commit");
        // Added but never committed: gone after reopening, replayed from the WAL instead.
        writer
            .add(&[row(500, "svc", "INFO", "never committed")])
            .expect("add");
    }
    // A budget below tantivy's minimum is raised to it rather than refused.
    let (_writer, searcher, seq) = open_log_index(dir.path(), 0).expect("reopen");
    assert_eq!(seq, Some(42));
    assert_eq!(searcher.num_docs(), 4);
    assert_eq!(
        search(&searcher, "\"card declined\"").rows,
        vec![sample()[1].clone()]
    );
    assert_eq!(search(&searcher, "committed").total, 0);
}

/// `count` distinct terms joined by OR (the grammar folds repeated clauses into one).
fn terms(count: usize) -> String {
    (0..count)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[test]
fn invalid_queries_are_reported_as_such() {
    let (_dir, _writer, searcher) = index_with(&sample());
    let error = |query: &str| {
        searcher
            .search(&LogQuery {
                query: query.to_string(),
                limit: 10,
                ..LogQuery::default()
            })
            .map(|hits| hits.total)
            .map_err(|err| (query.len(), err))
            .expect_err("query should fail")
            .1
    };
    for query in [
        "body:",
        "(unclosed",
        "severity_number:abc",
        "timestamp:[1 TO x]",
        "body:/regex/",
        "attributes.x:*",
        &"x".repeat(64 * 1024 + 1),
        &terms(1025),
        &format!("{}a{}", "(".repeat(40), ")".repeat(40)),
    ] {
        let err = error(query);
        assert!(
            matches!(err, StorageError::InvalidQuery(_)),
            "{query:.40}: {err:?}"
        );
    }
    assert!(error("body:").to_string().contains("body:"));
    // At the limits: accepted.
    let deep = format!("{}payment{}", "NOT (".repeat(16), ")".repeat(16));
    assert_eq!(search(&searcher, &deep).total, 1);
    assert_eq!(search(&searcher, &terms(1024)).total, 0);
}

#[test]
fn unicode_and_quotes_inside_phrases() {
    let rows = vec![
        row(1, "svc", "INFO", "Überweisung fehlgeschlagen für café 東京"),
        row(2, "svc", "INFO", r#"user said "hello world" and left"#),
        row(3, "svc", "INFO", "key a:b appears in the body"),
    ];
    let (_dir, _writer, searcher) = index_with(&rows);
    assert_eq!(search(&searcher, "überweisung").total, 1);
    assert_eq!(search(&searcher, "\"fehlgeschlagen für café\"").total, 1);
    assert_eq!(search(&searcher, "東京").total, 1);
    assert_eq!(search(&searcher, r#""said \"hello world\"""#).total, 1);
    assert_eq!(search(&searcher, "'hello world'").total, 1);
    assert_eq!(
        bodies(&searcher, "\"key a:b appears\""),
        ["key a:b appears in the body"]
    );
}

#[test]
fn an_index_of_another_layout_is_refused_with_a_clear_error() {
    let dir = TempDir::new().expect("tempdir");
    let mut builder = tantivy::schema::Schema::builder();
    builder.add_text_field("body", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), builder.build()).expect("old index");
    let Err(err) = open_log_index(dir.path(), MEMORY) else {
        panic!("an index of another layout opened");
    };
    assert!(err.to_string().contains("earlier version"), "{err}");
}

#[test]
fn histogram_counts_matches_per_bucket_like_one_count_per_bucket() {
    let rows: Vec<LogRow> = (0..100)
        .map(|index| {
            let body = if index % 2 == 0 {
                "even tick"
            } else {
                "odd tick"
            };
            row(1_000 + index * 10, "svc", "INFO", body)
        })
        .collect();
    let (_dir, _writer, searcher) = index_with(&rows);
    let (start, end, buckets) = (1_000, 1_990, 7);
    let bucket_ns = (end - start) / buckets as i64;
    for query in ["", "even", "tick", "nothing"] {
        let expected: Vec<u64> = (0..buckets)
            .map(|index| {
                let first = start + bucket_ns * index as i64;
                let last = if index + 1 == buckets {
                    end
                } else {
                    first + bucket_ns - 1
                };
                searcher
                    .search(&LogQuery {
                        query: query.into(),
                        start_ns: Some(first),
                        end_ns: Some(last),
                        limit: 0,
                    })
                    .expect("count")
                    .total
            })
            .collect();
        let counts = searcher
            .histogram(query, start, end, buckets)
            .expect("histogram");
        assert_eq!(counts, expected, "{query:?}");
    }
    assert_eq!(
        searcher
            .histogram("tick", 1_000, 1_990, 7)
            .unwrap()
            .iter()
            .sum::<u64>(),
        100
    );
    assert!(
        searcher
            .histogram("tick", 5, 1, 3)
            .unwrap()
            .iter()
            .all(|count| *count == 0)
    );
}

mod origins;
