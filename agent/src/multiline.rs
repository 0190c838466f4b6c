//! Joins lines into records. Without a pattern every line is a record; with
//! `multiline.line_start_pattern` a matching line starts a record and the others continue it
//! (Java and Python stack traces stay one record). A record is complete when the next start
//! line arrives, after `timeout` without a continuation, or when its file ends.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::tail::{FileKey, Fingerprint, Line};

/// One record's text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// The file.
    pub key: FileKey,
    /// The file's fingerprint when the record's last line was read.
    pub fingerprint: Fingerprint,
    /// The file's path when the record's last line was read.
    pub path: Arc<Path>,
    /// The lines, joined with `\n`.
    pub text: String,
    /// Byte offset of the first line.
    pub offset: u64,
    /// Offset just past the last line: custody of this record covers the file up to here.
    pub end: u64,
    /// Cut at `max_line_bytes`.
    pub truncated: bool,
    /// Had invalid UTF-8.
    pub invalid_utf8: bool,
}

#[derive(Debug)]
struct Pending {
    record: RawRecord,
    last_line_at: Instant,
}

/// Per-source line joiner, holding at most one unfinished record per file.
#[derive(Debug)]
pub struct Assembler {
    start_pattern: Option<Regex>,
    timeout: Duration,
    max_bytes: usize,
    pending: HashMap<FileKey, Pending>,
}

impl Assembler {
    /// Joins by `start_pattern`, or not at all when it is `None`.
    pub fn new(start_pattern: Option<Regex>, timeout: Duration, max_bytes: usize) -> Self {
        Self {
            start_pattern,
            timeout,
            max_bytes,
            pending: HashMap::new(),
        }
    }

    /// Adds a line of `key`; completed records are appended to `out`.
    pub fn push(
        &mut self,
        key: FileKey,
        fingerprint: Fingerprint,
        path: &Arc<Path>,
        line: Line,
        now: Instant,
        out: &mut Vec<RawRecord>,
    ) {
        let record = RawRecord {
            key,
            fingerprint,
            path: path.clone(),
            text: line.text,
            offset: line.offset,
            end: line.end,
            truncated: line.truncated,
            invalid_utf8: line.invalid_utf8,
        };
        let Some(pattern) = &self.start_pattern else {
            out.push(record);
            return;
        };
        let starts = pattern.is_match(&record.text);
        match self.pending.get_mut(&key) {
            Some(pending) if !starts => {
                let joined = &mut pending.record;
                append_capped(
                    &mut joined.text,
                    &record.text,
                    self.max_bytes,
                    &mut joined.truncated,
                );
                joined.truncated |= record.truncated;
                joined.invalid_utf8 |= record.invalid_utf8;
                joined.end = record.end;
                joined.fingerprint = record.fingerprint;
                joined.path = record.path;
                pending.last_line_at = now;
            }
            _ => {
                if let Some(done) = self.pending.remove(&key) {
                    out.push(done.record);
                }
                self.pending.insert(
                    key,
                    Pending {
                        record,
                        last_line_at: now,
                    },
                );
            }
        }
    }

    /// Completes the record of a file that ended (closed, truncated, rewritten).
    pub fn end(&mut self, key: FileKey, out: &mut Vec<RawRecord>) {
        if let Some(done) = self.pending.remove(&key) {
            out.push(done.record);
        }
    }

    /// Completes records whose last line is older than the timeout.
    pub fn flush_expired(&mut self, now: Instant, out: &mut Vec<RawRecord>) {
        let timeout = self.timeout;
        let expired: Vec<FileKey> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.last_line_at) >= timeout)
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            self.end(key, out);
        }
    }
}

/// Appends `\n` + `line` to `text` without letting it grow past `max` bytes (cut on a char
/// boundary).
fn append_capped(text: &mut String, line: &str, max: usize, truncated: &mut bool) {
    let room = max.saturating_sub(text.len());
    let addition_len = line.len() + 1;
    if addition_len <= room {
        text.push('\n');
        text.push_str(line);
        return;
    }
    *truncated = true;
    if room == 0 {
        return;
    }
    text.push('\n');
    let mut cut = room - 1;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(&line[..cut]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, offset: u64) -> Line {
        Line {
            text: text.to_string(),
            offset,
            end: offset + text.len() as u64 + 1,
            truncated: false,
            invalid_utf8: false,
        }
    }

    fn run(pattern: &str, lines: &[&str]) -> Vec<RawRecord> {
        let regex = crate::config::source::compile_regex(pattern).unwrap();
        let mut assembler = Assembler::new(Some(regex), Duration::from_millis(500), 1 << 20);
        let key = FileKey { dev: 1, ino: 2 };
        let fingerprint = Fingerprint { crc: 0, len: 0 };
        let path: Arc<Path> = Arc::from(Path::new("/x.log"));
        let now = Instant::now();
        let mut out = Vec::new();
        let mut offset = 0;
        for text in lines {
            assembler.push(key, fingerprint, &path, line(text, offset), now, &mut out);
            offset += text.len() as u64 + 1;
        }
        assembler.flush_expired(now + Duration::from_millis(500), &mut out);
        out
    }

    #[test]
    fn java_stack_trace_is_one_record() {
        let records = run(
            r"^\d{4}-\d{2}-\d{2}",
            &[
                "2024-05-01 12:00:00 ERROR request failed",
                "java.lang.IllegalStateException: boom",
                "\tat com.example.Foo.bar(Foo.java:42)",
                "\tat com.example.Main.main(Main.java:7)",
                "2024-05-01 12:00:01 INFO next",
            ],
        );
        assert_eq!(records.len(), 2);
        assert!(records[0].text.starts_with("2024-05-01 12:00:00 ERROR"));
        assert!(records[0].text.ends_with("Main.java:7)"));
        assert_eq!(records[0].text.lines().count(), 4);
        assert_eq!(records[0].offset, 0);
        assert_eq!(records[1].offset, records[0].end);
        assert_eq!(records[1].text, "2024-05-01 12:00:01 INFO next");
    }

    #[test]
    fn python_traceback_is_one_record() {
        let records = run(
            r"^\S",
            &[
                "Traceback (most recent call last):",
                "  File \"app.py\", line 3, in <module>",
                "    main()",
                "ValueError: bad",
                "next line",
            ],
        );
        // `ValueError` starts with a non-space: Python tracebacks need a pattern that
        // knows them; with `^\S` the exception line is its own record.
        assert_eq!(records.len(), 3);
        let records = run(
            r"^(Traceback|\d{4}-|INFO|ERROR)",
            &[
                "ERROR failed",
                "Traceback (most recent call last):",
                "  File \"app.py\", line 3, in <module>",
                "ValueError: bad",
                "INFO next",
            ],
        );
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].text.lines().count(), 3);
    }

    #[test]
    fn joined_record_is_capped() {
        let regex = crate::config::source::compile_regex(r"^S").unwrap();
        let mut assembler = Assembler::new(Some(regex), Duration::from_millis(500), 20);
        let key = FileKey { dev: 1, ino: 2 };
        let path: Arc<Path> = Arc::from(Path::new("/x.log"));
        let now = Instant::now();
        let mut out = Vec::new();
        for (i, text) in ["Start", " continuation one", " continuation two"]
            .iter()
            .enumerate()
        {
            let fingerprint = Fingerprint { crc: 0, len: 0 };
            assembler.push(
                key,
                fingerprint,
                &path,
                line(text, i as u64 * 100),
                now,
                &mut out,
            );
        }
        assembler.end(key, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].text.len() <= 20);
        assert!(out[0].truncated);
    }
}
