use super::*;

const EXAMPLE: &str = include_str!("../../agent.example.toml");

#[test]
fn example_config_is_valid_and_documents_defaults() {
    let config = Config::parse(EXAMPLE).unwrap();
    assert!(!config.sources.is_empty());
    let printed = config.to_toml_redacted();
    let reparsed = Config::parse(&printed).unwrap();
    assert_eq!(reparsed.sources.len(), config.sources.len());
}

#[test]
fn minimal_config_gets_defaults() {
    let config = Config::parse(
        r#"
        [sources.app]
        include = ["/var/log/*.log"]
        [sink]
        endpoints = ["http://127.0.0.1:4317"]
        "#,
    )
    .unwrap();
    let source = &config.sources["app"];
    assert_eq!(source.start_at, StartAt::End);
    assert_eq!(source.max_line_bytes, 256 * 1024);
    assert_eq!(source.fingerprint_size, 1024);
    assert_eq!(source.poll_interval_ms, 250);
    assert_eq!(source.partial_flush_ms, 500);
    assert_eq!(config.sink.protocol, Protocol::Grpc);
    assert_eq!(config.sink.compression, Compression::Gzip);
    assert_eq!(config.buffer.max_bytes, 1 << 30);
    assert_eq!(config.buffer.when_full, WhenFull::Block);
    assert!(!config.otlp.is_enabled());
}

#[test]
fn misspelt_key_is_rejected_by_name() {
    let err = Config::parse(
        r#"
        [sources.app]
        include = ["/var/log/*.log"]
        start_from = "beginning"
        [sink]
        endpoints = ["http://127.0.0.1:4317"]
        "#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("start_from"), "{err}");
}

#[test]
fn bad_values_are_rejected_with_their_key() {
    let base = |extra: &str, sink: &str| {
        format!(
            "[sources.app]\ninclude = [\"/var/log/*.log\"]\n{extra}\n[sink]\nendpoints = [{sink}]\n"
        )
    };
    let cases = [
        (
            base("max_line_bytes = 10", "\"http://a:1\""),
            "max_line_bytes",
        ),
        (base("", "\"ftp://a:1\""), "must start with http://"),
        (base("", "\"https://a:1\""), "https"),
        (base("", ""), "endpoints"),
        (
            base("parser.type = \"regex\"", "\"http://a:1\""),
            "parser.pattern",
        ),
        (
            base(
                "parser.type = \"regex\"\nparser.pattern = \"(a\"",
                "\"http://a:1\"",
            ),
            "parser.pattern",
        ),
        (
            base(
                "multiline.line_start_pattern = \"(x{1000}){1000}\"",
                "\"http://a:1\"",
            ),
            "multiline.line_start_pattern",
        ),
        (
            "[sources.app]\ninclude = [\"var/log/*.log\"]\n[sink]\nendpoints = [\"http://a:1\"]\n"
                .to_string(),
            "absolute",
        ),
        (
            "[sink]\nendpoints = [\"http://a:1\"]\n".to_string(),
            "nothing to do",
        ),
    ];
    for (text, needle) in cases {
        let err = Config::parse(&text).unwrap_err();
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn print_config_redacts_the_token() {
    let config = Config::parse(
        "[otlp]\nhttp_address = \"127.0.0.1:4318\"\n[sink]\nendpoints = [\"http://a:1\"]\nbearer_token = \"psc_ingest_secret\"\n",
    )
    .unwrap();
    let printed = config.to_toml_redacted();
    assert!(!printed.contains("psc_ingest_secret"));
    assert!(printed.contains("<redacted>"));
}
