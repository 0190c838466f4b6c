//! Origins kept once: origin documents, and queries on the resource answered through them.

use std::sync::Arc;

use tempfile::TempDir;

use super::{LogIndexWriter, bodies, index_with, open, row, search};
use crate::model::LogRow;
use crate::value::AttrValue;

/// Origin documents in the index in `dir`, counted by tantivy directly.
fn origin_documents(dir: &TempDir) -> u64 {
    let index = tantivy::Index::open_in_dir(dir.path()).expect("open");
    let field = index.schema().get_field("origin").expect("origin field");
    let term = tantivy::Term::from_field_u64(field, crate::logindex::origins::ORIGIN_DOCUMENT);
    let reader = index.reader().expect("reader");
    reader.searcher().doc_freq(&term).expect("doc freq")
}

fn on_host(time: i64, host: &str, pid: i64, body: &str) -> LogRow {
    let mut row = row(time, "web", "INFO", body);
    Arc::make_mut(&mut row.origin).resource_attributes.extend([
        ("host.name".into(), AttrValue::Str(host.into())),
        ("process.pid".into(), AttrValue::Int(pid)),
    ]);
    row
}

fn add_and_commit(writer: &mut LogIndexWriter, rows: &[LogRow], wal_seq: u64) {
    writer.add(rows).expect("add");
    writer.commit(wal_seq).expect("commit");
}

#[test]
fn each_origin_is_kept_once_and_resource_queries_match_through_it() {
    let dir = TempDir::new().expect("tempdir");
    {
        let (mut writer, _, _) = open(&dir);
        let first = [
            on_host(1, "web-1", 100, "one"),
            on_host(2, "web-2", 200, "two"),
        ];
        add_and_commit(&mut writer, &first, 1);
        add_and_commit(&mut writer, &[on_host(3, "web-1", 100, "three")], 2);
    }
    // After a restart the writer knows the committed origins and does not add them again,
    // and the searcher reads origins from the index (nothing is cached yet).
    let (mut writer, searcher, _) = open(&dir);
    let after_restart = [
        on_host(4, "web-1", 100, "four"),
        on_host(5, "web-3", 300, "five"),
    ];
    add_and_commit(&mut writer, &after_restart, 3);
    assert_eq!(origin_documents(&dir), 3);
    assert_eq!(searcher.num_docs(), 5);
    assert_eq!(search(&searcher, "*").total, 5);
    assert_eq!(
        searcher.histogram("*", 0, 10, 2).expect("histogram"),
        [4, 1]
    );

    assert_eq!(
        search(&searcher, "five").rows,
        [on_host(5, "web-3", 300, "five")]
    );
    let cases: [(&str, &[&str]); 5] = [
        ("resource.host.name:WEB-1", &["four", "three", "one"]),
        ("resource.host.name:web-2 OR four", &["four", "two"]),
        ("NOT resource.host.name:web-1", &["five", "two"]),
        ("resource.host.name: IN [web-2 web-3]", &["five", "two"]),
        (
            "resource.process.pid:300 AND resource.host.name:web-3",
            &["five"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(bodies(&searcher, query), expected, "{query}");
    }
    assert_eq!(search(&searcher, "resource.host.name:web-9").total, 0);
    assert_eq!(search(&searcher, "NOT resource.host.name:web-9").total, 5);
    assert_eq!(
        searcher
            .histogram("resource.host.name:web-1", 0, 10, 1)
            .expect("histogram"),
        [3]
    );
}

#[test]
fn a_resource_leaf_matching_many_origins_matches_all_their_records() {
    // Many origins: one set query, whose bitset also serves the negation.
    let rows: Vec<LogRow> = (0..40)
        .map(|n| on_host(n, &format!("host-{n}"), n, &format!("line{n}")))
        .collect();
    let (_dir, _writer, searcher) = index_with(&rows);
    assert_eq!(search(&searcher, "resource.service.name:web").total, 40);
    assert_eq!(search(&searcher, "resource.process.pid:7").total, 1);
    assert_eq!(
        search(&searcher, "resource.service.name:web AND NOT line3").total,
        39
    );
}

#[test]
fn a_leaf_matching_several_origins_stays_exact_as_segments_are_added() {
    let dir = TempDir::new().expect("tempdir");
    let (mut writer, searcher, _) = open(&dir);
    let first = [
        on_host(1, "web-1", 100, "error one"),
        on_host(2, "web-1", 101, "error two"),
        on_host(3, "web-2", 200, "error three"),
    ];
    add_and_commit(&mut writer, &first, 1);
    // Two origins on web-1 (two processes): the leaf is answered by a cached set.
    let query = "error AND resource.host.name:web-1";
    assert_eq!(bodies(&searcher, query), ["error two", "error one"]);
    assert_eq!(searcher.cached_origin_sets(), 1);
    assert_eq!(bodies(&searcher, query), ["error two", "error one"]);
    assert_eq!(
        searcher.cached_origin_sets(),
        1,
        "the second search reuses the first's"
    );

    // A new segment, and a third origin on the host: the new ids are a new set, and both
    // segments answer it.
    let more = [
        on_host(4, "web-1", 100, "error four"),
        on_host(5, "web-1", 102, "error five"),
        on_host(6, "web-2", 200, "error six"),
    ];
    add_and_commit(&mut writer, &more, 2);
    assert_eq!(
        bodies(&searcher, query),
        ["error five", "error four", "error two", "error one"]
    );
    assert_eq!(
        bodies(&searcher, "NOT resource.host.name:web-1"),
        ["error six", "error three"]
    );
    assert_eq!(
        searcher
            .histogram("resource.host.name:web-1", 0, 9, 3)
            .expect("histogram"),
        [2, 2, 0]
    );
}

#[test]
fn a_leaf_matching_every_record_of_a_segment_still_leaves_origin_documents_out() {
    // One host, two processes: the segment holds 2 origin documents and 4 records, and the
    // host's leaf matches all 4 records, which tantivy then treats as "every document".
    let rows = [
        on_host(1, "web-1", 100, "error one"),
        on_host(2, "web-1", 101, "info two"),
        on_host(3, "web-1", 100, "error three"),
        on_host(4, "web-1", 101, "info four"),
    ];
    let (_dir, _writer, searcher) = index_with(&rows);
    let cases: [(&str, u64); 10] = [
        ("resource.host.name:web-1", 4),
        // Origin documents carry severity number 0 and a time, for full columns.
        ("severity_number:[0 TO 9]", 4),
        ("severity_number:0", 0),
        ("resource.process.pid:100", 2),
        ("resource.host.name:web-1 AND error", 2),
        ("error AND resource.process.pid:101", 0),
        ("resource.host.name:web-1 OR error", 4),
        ("NOT resource.host.name:web-1", 0),
        ("NOT resource.process.pid:100", 2),
        ("resource.host.name:web-1 AND resource.process.pid:101", 2),
    ];
    for (query, total) in cases {
        assert_eq!(search(&searcher, query).total, total, "{query}");
    }
    // Told from document frequencies alone: no bitset was built.
    assert_eq!(searcher.cached_origin_sets(), 0);
    assert_eq!(
        searcher
            .histogram("resource.host.name:web-1", 1, 4, 2)
            .expect("histogram"),
        [1, 3]
    );
    // Without a resource leaf a query needs no exclusion, and still counts records only.
    assert_eq!(search(&searcher, "error").total, 2);
    assert_eq!(search(&searcher, "*").total, 4);
}

#[test]
fn the_time_column_stays_full_with_origin_documents_in_a_segment() {
    // A column some documents lack is read through a rank lookup per document: every time
    // range, sort and histogram would pay it.
    let rows = [
        on_host(1, "web-1", 100, "one"),
        on_host(2, "web-2", 200, "two"),
    ];
    let (dir, _writer, _searcher) = index_with(&rows);
    let index = tantivy::Index::open_in_dir(dir.path()).expect("open");
    let searcher = index.reader().expect("reader").searcher();
    assert_eq!(searcher.segment_readers().len(), 1);
    for segment in searcher.segment_readers() {
        assert_eq!(segment.max_doc(), 4, "two records and two origin documents");
        for field in ["timestamp", "severity_number"] {
            let column = segment.fast_fields().i64(field).expect("column");
            assert_eq!(
                column.get_cardinality(),
                tantivy::columnar::Cardinality::Full,
                "{field}"
            );
        }
    }
}
