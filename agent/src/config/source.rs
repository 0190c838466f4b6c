//! `[sources.NAME]`: one set of files tailed the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a file found at startup without a checkpoint starts (OTel filelog `start_at`).
/// Files that appear while the agent runs are always read from their first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Only lines written after the agent started (the default, as in OTel and Fluent Bit).
    End,
    /// The whole file.
    Beginning,
}

/// A file source (`[sources.NAME]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Globs of files to tail; `**` matches any number of directories. Absolute paths.
    pub include: Vec<String>,
    /// Globs of files to skip even if included (exclude wins).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// See [`StartAt`].
    #[serde(default = "default_start_at")]
    pub start_at: StartAt,
    /// Resource `service.name`; default: the source's name.
    #[serde(default)]
    pub service_name: Option<String>,
    /// Extra resource attributes, e.g. `{ "deployment.environment.name" = "prod" }`.
    #[serde(default)]
    pub resource: BTreeMap<String, String>,
    /// Longer lines (or multiline records) are cut here and flagged `log.truncated=true`; the
    /// rest of the line is skipped and the file keeps being tailed.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Bytes at the start of a file that identify it, together with its device and inode.
    /// Smaller files wait until they grow or have been idle for a second.
    #[serde(default = "default_fingerprint_size")]
    pub fingerprint_size: usize,
    /// How often known files are checked for new data.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// How often the globs are evaluated to find new files (Vector `glob_minimum_cooldown_ms`).
    #[serde(default = "default_glob_interval_ms")]
    pub glob_interval_ms: u64,
    /// A rotated-away or deleted file is read to its end and closed after this long idle.
    #[serde(default = "default_rotate_wait_ms")]
    pub rotate_wait_ms: u64,
    /// A partial last line (no newline yet) is emitted after this long without new bytes
    /// (OTel `force_flush_period`); its completion is not emitted again.
    #[serde(default = "default_partial_flush_ms")]
    pub partial_flush_ms: u64,
    /// Most files held open at once; idle files beyond it are closed and reopened on change.
    #[serde(default = "default_max_open_files")]
    pub max_open_files: usize,
    /// Joins lines into records, e.g. stack traces.
    #[serde(default)]
    pub multiline: Option<MultilineConfig>,
    /// How a line becomes fields.
    #[serde(default)]
    pub parser: ParserConfig,
}

fn default_start_at() -> StartAt {
    StartAt::End
}
fn default_max_line_bytes() -> usize {
    256 * 1024
}
fn default_fingerprint_size() -> usize {
    1024
}
fn default_poll_interval_ms() -> u64 {
    250
}
fn default_glob_interval_ms() -> u64 {
    1000
}
fn default_rotate_wait_ms() -> u64 {
    5000
}
fn default_partial_flush_ms() -> u64 {
    500
}
fn default_max_open_files() -> usize {
    1024
}

/// `multiline`: a line matching `line_start_pattern` starts a record, others continue it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultilineConfig {
    /// Regex a record's first line matches, e.g. `^\S` or `^\d{4}-\d{2}-\d{2}`.
    pub line_start_pattern: String,
    /// A record is complete after this long without a continuation line.
    #[serde(default = "default_multiline_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_multiline_timeout_ms() -> u64 {
    500
}

/// The parser kind (`parser.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ParserKind {
    /// The line is the body.
    #[default]
    None,
    /// One JSON object per line; fields become attributes.
    Json,
    /// `key=value key2="quoted value"` pairs.
    Logfmt,
    /// A regex with named captures (`pattern`).
    Regex,
}

/// How a timestamp field is read (`parser.timestamp_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// RFC 3339 text, or a number of seconds, milliseconds, microseconds or nanoseconds since
    /// the epoch (told apart by magnitude).
    #[default]
    Auto,
    /// RFC 3339 / ISO 8601 with offset, e.g. `2024-05-01T12:00:00.123Z`.
    Rfc3339,
    /// Seconds since the epoch (may have a fraction).
    UnixS,
    /// Milliseconds since the epoch.
    UnixMs,
    /// Microseconds since the epoch.
    UnixUs,
    /// Nanoseconds since the epoch.
    UnixNs,
}

/// `parser`: turns a line (or multiline record) into body, attributes, time, severity and
/// trace context.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParserConfig {
    /// See [`ParserKind`].
    #[serde(rename = "type", default)]
    pub kind: ParserKind,
    /// For `type = "regex"`: a pattern with named captures, e.g.
    /// `^(?P<time>\S+) (?P<level>\w+) (?P<message>.*)$`. Lines that do not match keep the
    /// whole line as body.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Field that becomes the body; the first present of `message`, `msg` if unset. Without
    /// one, the body is the whole line.
    #[serde(default)]
    pub message_field: Option<String>,
    /// Field holding the event time; the first present of `time`, `timestamp`, `ts`,
    /// `@timestamp` if unset.
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// See [`TimestampFormat`].
    #[serde(default)]
    pub timestamp_format: TimestampFormat,
    /// Field holding the severity; the first present of `level`, `severity`, `lvl`,
    /// `log.level` if unset. Text maps to OTel severity numbers (shared/COMPAT.md §11).
    #[serde(default)]
    pub severity_field: Option<String>,
}

impl Default for ParserConfig {
    fn default() -> Self {
        Self {
            kind: ParserKind::None,
            pattern: None,
            message_field: None,
            timestamp_field: None,
            timestamp_format: TimestampFormat::Auto,
            severity_field: None,
        }
    }
}

/// Longest user regex accepted (shared/RELIABILITY.md §5).
pub(crate) const MAX_PATTERN_BYTES: usize = 1024;

impl FileSourceConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.include.is_empty() {
            return Err("include must list at least one glob".to_string());
        }
        for glob in self.include.iter().chain(&self.exclude) {
            if !glob.starts_with('/') {
                return Err(format!("glob {glob:?} must be an absolute path"));
            }
            globset::Glob::new(glob).map_err(|err| format!("glob {glob:?}: {err}"))?;
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_line_bytes) {
            return Err("max_line_bytes must be within 1024..=67108864".to_string());
        }
        if !(16..=64 * 1024).contains(&self.fingerprint_size) {
            return Err("fingerprint_size must be within 16..=65536".to_string());
        }
        for (key, value, min, max) in [
            ("poll_interval_ms", self.poll_interval_ms, 10, 60_000),
            ("glob_interval_ms", self.glob_interval_ms, 10, 600_000),
            ("rotate_wait_ms", self.rotate_wait_ms, 0, 3_600_000),
            ("partial_flush_ms", self.partial_flush_ms, 10, 600_000),
        ] {
            if !(min..=max).contains(&value) {
                return Err(format!("{key} must be within {min}..={max}"));
            }
        }
        if !(16..=65_536).contains(&self.max_open_files) {
            return Err("max_open_files must be within 16..=65536".to_string());
        }
        if let Some(multiline) = &self.multiline {
            compile_regex(&multiline.line_start_pattern)
                .map_err(|err| format!("multiline.line_start_pattern: {err}"))?;
            if !(10..=600_000).contains(&multiline.timeout_ms) {
                return Err("multiline.timeout_ms must be within 10..=600000".to_string());
            }
        }
        match (self.parser.kind, &self.parser.pattern) {
            (ParserKind::Regex, None) => {
                return Err("parser.pattern is required for type = \"regex\"".to_string());
            }
            (ParserKind::Regex, Some(pattern)) => {
                let regex =
                    compile_regex(pattern).map_err(|err| format!("parser.pattern: {err}"))?;
                if regex.capture_names().flatten().next().is_none() {
                    return Err(
                        "parser.pattern needs at least one named capture (?P<name>...)".to_string(),
                    );
                }
            }
            (_, Some(_)) => return Err("parser.pattern is only for type = \"regex\"".to_string()),
            (_, None) => {}
        }
        Ok(())
    }
}

/// Compiles a user regex with the limits of shared/RELIABILITY.md §5, so a hostile pattern
/// fails at startup instead of eating memory.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("pattern longer than {MAX_PATTERN_BYTES} bytes"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .dfa_size_limit(8 << 20)
        .nest_limit(64)
        .build()
        .map_err(|err| err.to_string())
}
