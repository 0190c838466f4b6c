use std::fs::{self, File};
use std::path::Path;

use datafusion::parquet::arrow::ArrowWriter;
use periscope_storage::batch::{spans_to_batch, unpack_spans};
use periscope_storage::catalog::{CatalogState, FileEntry, FileLayout, save_catalog};
use periscope_storage::{AttrValue, Signal, SpanRow, TraceId};
use serde_json::json;

use crate::test_support::{span_row, store_with_parts};
use crate::{Engine, QueryConfig};

fn span(number: u8, route: &str, host: &str) -> SpanRow {
    let mut row = span_row([number; 16], [number; 8], i64::from(number) * 1000, "shop");
    row.name = format!("span {number}");
    row.attributes = vec![
        ("http.route".to_string(), AttrValue::Str(route.to_string())),
        ("http.status_code".to_string(), AttrValue::Int(200)),
    ];
    std::sync::Arc::make_mut(&mut row.origin).resource_attributes =
        vec![("host.name".to_string(), AttrValue::Str(host.to_string()))];
    row
}

/// A span file as releases before the packed layout wrote it (maps in the table's own
/// schema), listed in the catalog without a layout, as they listed it.
fn write_map_layout_file(data_dir: &Path, rows: &[SpanRow]) {
    let batch = unpack_spans(spans_to_batch(rows).unwrap()).unwrap();
    fs::create_dir_all(data_dir.join("spans")).unwrap();
    let relative = "spans/00000000000000000000.parquet";
    let file = File::create(data_dir.join(relative)).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let catalog = CatalogState {
        files: vec![FileEntry {
            signal: Signal::Spans,
            path: relative.to_string(),
            num_rows: rows.len() as u64,
            num_bytes: fs::metadata(data_dir.join(relative)).unwrap().len(),
            min_time_unix_nano: 0,
            max_time_unix_nano: i64::MAX,
            last_seq: 0,
            layout: FileLayout::Maps,
        }],
        ..CatalogState::default()
    };
    save_catalog(data_dir, &catalog).unwrap();
}

/// Attributes read alike from a map-layout file, a packed file and the recent rows: in
/// projections, in filters (pushed into the scans) and in a lookup by trace id.
/// Only packed files and recent rows (the layout of every data directory started since).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_lookups_beside_other_columns_plan_over_packed_files_and_recent_rows() {
    let dir = tempfile::tempdir().unwrap();
    let parts = vec![
        vec![span(3, "/cart/add", "packed-3")],
        vec![span(5, "/cart/pay", "recent-5")],
    ];
    let engine = Engine::new(
        store_with_parts(dir.path(), parts).await,
        QueryConfig::default(),
    )
    .unwrap();
    for sql in [
        "SELECT name, attributes['http.route'] AS route FROM spans ORDER BY name",
        "SELECT name, resource_attributes['host.name'] AS host, attributes FROM spans ORDER BY name",
        "SELECT name, attributes['http.route'] AS route FROM spans WHERE attributes['http.route'] LIKE '/cart%' ORDER BY name",
    ] {
        let result = engine
            .sql(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        assert_eq!(result.rows.len(), 2, "{sql}");
        assert_eq!(result.rows[0][0], json!("span 3"), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_read_alike_from_old_and_packed_files_and_recent_rows() {
    let dir = tempfile::tempdir().unwrap();
    write_map_layout_file(
        dir.path(),
        &[span(1, "/cart", "old-1"), span(2, "/home", "old-2")],
    );
    let parts = vec![
        vec![
            span(3, "/cart/add", "packed-3"),
            span(4, "/home", "packed-4"),
        ],
        vec![
            span(5, "/cart/pay", "recent-5"),
            span(6, "/home", "recent-6"),
        ],
    ];
    let store = store_with_parts(dir.path(), parts).await;
    let layouts: Vec<_> = store
        .snapshot(Signal::Spans)
        .files
        .iter()
        .map(|file| file.layout)
        .collect();
    assert_eq!(layouts, [FileLayout::Maps, FileLayout::PackedAttributes]);
    let engine = Engine::new(store, QueryConfig::default()).unwrap();

    let result = engine
        .sql(
            "SELECT name, attributes['http.route'] AS route, \
             attributes['http.status_code'] AS status, resource_attributes['host.name'] AS host \
             FROM spans WHERE attributes['http.route'] LIKE '/cart%' ORDER BY name",
        )
        .await
        .unwrap();
    assert_eq!(
        result.rows,
        [
            vec![
                json!("span 1"),
                json!("/cart"),
                json!("200"),
                json!("old-1")
            ],
            vec![
                json!("span 3"),
                json!("/cart/add"),
                json!("200"),
                json!("packed-3")
            ],
            vec![
                json!("span 5"),
                json!("/cart/pay"),
                json!("200"),
                json!("recent-5")
            ],
        ]
    );
    let by_host = engine
        .sql("SELECT count(*) AS n FROM spans WHERE resource_attributes['host.name'] = 'packed-4'")
        .await
        .unwrap();
    assert_eq!(by_host.rows, [vec![json!(1)]]);
    // A key no span has: null from every source, as a map lookup gives it.
    let missing = engine
        .sql(
            "SELECT count(*) AS n, count(attributes['no.such.key']) AS found FROM spans \
             WHERE attributes['no.such.key'] IS NULL",
        )
        .await
        .unwrap();
    assert_eq!(missing.rows, [vec![json!(6), json!(0)]]);
    // Over packed sources a lookup reads the packed bytes; the map is not rebuilt for it.
    let plan = engine
        .sql("EXPLAIN SELECT name FROM spans WHERE attributes['http.route'] = '/home'")
        .await
        .unwrap();
    let plan = format!("{:?}", plan.rows);
    assert!(plan.contains("periscope_packed_value"), "{plan}");
    // Two keys of one map, one filtered on and one selected: still no map rebuilt for them.
    let plan = engine
        .sql(
            "EXPLAIN SELECT attributes['http.status_code'] AS status FROM spans \
             WHERE attributes['http.route'] = '/home'",
        )
        .await
        .unwrap();
    let physical = format!("{:?}", plan.rows[1]);
    assert!(
        !physical.contains("periscope_unpack_attributes"),
        "{physical}"
    );

    // Whole maps and a map lookup beside other columns, over every source (a union the
    // optimizer prunes column by column).
    let mixed = engine
        .sql(
            "SELECT name, attributes['http.route'] AS route, resource_attributes \
             FROM spans WHERE name = 'span 4'",
        )
        .await
        .unwrap();
    assert_eq!(
        mixed.rows,
        [vec![
            json!("span 4"),
            json!("/home"),
            json!({"host.name": "packed-4"})
        ]]
    );

    for (number, route, host) in [(1, "/cart", "old-1"), (3, "/cart/add", "packed-3")] {
        let trace = engine.trace(TraceId([number; 16]), false).await.unwrap();
        let spans = trace.expect("trace found").spans;
        assert_eq!(spans, [span(number, route, host)]);
    }
}
