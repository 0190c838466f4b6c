//! Cutting a file's bytes into lines: `\n` ends a line, a `\r` before it is dropped, invalid
//! UTF-8 becomes U+FFFD, a line longer than the limit is cut and the rest skipped, and a
//! partial last line can be forced out after an idle timeout without being emitted twice.

/// One line (or the flushed start of one) with where it sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The text, without the line ending.
    pub text: String,
    /// Byte offset of the line's first byte.
    pub offset: u64,
    /// Byte offset just past the line (and its `\n`): where reading resumes after it.
    pub end: u64,
    /// The line was longer than `max_line_bytes` and was cut.
    pub truncated: bool,
    /// Some bytes were not valid UTF-8 and were replaced.
    pub invalid_utf8: bool,
}

/// Line splitter for one file. Feed it the bytes read from `next_offset()` onwards.
#[derive(Debug)]
pub(crate) struct LineReader {
    max_line_bytes: usize,
    /// Bytes of the current, unfinished line (at most `max_line_bytes` of them).
    pending: Vec<u8>,
    /// Offset of the current line's first byte.
    line_start: u64,
    /// Offset of the next byte to feed.
    next_offset: u64,
    /// The current line passed the limit; its remaining bytes are being skipped.
    overflowed: bool,
}

impl LineReader {
    pub(crate) fn new(max_line_bytes: usize, offset: u64) -> Self {
        Self {
            max_line_bytes,
            pending: Vec::new(),
            line_start: offset,
            next_offset: offset,
            overflowed: false,
        }
    }

    /// Offset of the next byte to read from the file.
    pub(crate) fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Offset just past the last line handed out: everything before it has been emitted.
    pub(crate) fn emitted_offset(&self) -> u64 {
        self.line_start
    }

    /// Whether bytes of an unfinished line are held.
    pub(crate) fn has_partial(&self) -> bool {
        self.next_offset > self.line_start
    }

    /// Splits `data` (the bytes at `next_offset()`) into lines appended to `out`.
    pub(crate) fn push(&mut self, data: &[u8], out: &mut Vec<Line>) {
        let mut rest = data;
        while !rest.is_empty() {
            let newline = memchr_newline(rest);
            let (chunk, consumed) = match newline {
                Some(i) => (&rest[..i], i + 1),
                None => (rest, rest.len()),
            };
            let room = self.max_line_bytes.saturating_sub(self.pending.len());
            if chunk.len() > room {
                self.overflowed = true;
            }
            self.pending
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.next_offset += consumed as u64;
            rest = &rest[consumed..];
            if newline.is_some() {
                self.finish_line(out);
            }
        }
    }

    /// Emits the unfinished line, if any, as if it had ended here. Its completion, when it
    /// arrives, starts a new line, so no byte is emitted twice.
    pub(crate) fn flush_partial(&mut self, out: &mut Vec<Line>) {
        if self.has_partial() {
            self.finish_line(out);
        }
    }

    fn finish_line(&mut self, out: &mut Vec<Line>) {
        let mut bytes = std::mem::take(&mut self.pending);
        // CRLF: the `\r` belongs to the ending. Only when the line was not cut, or we would
        // strip a real byte of a truncated line.
        if !self.overflowed && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let offset = self.line_start;
        let truncated = std::mem::take(&mut self.overflowed);
        self.line_start = self.next_offset;
        if bytes.is_empty() && !truncated {
            // Blank lines carry nothing; a flushed partial's bare `\n` lands here too.
            self.pending = bytes;
            return;
        }
        let (text, invalid_utf8) = match String::from_utf8(bytes) {
            Ok(text) => (text, false),
            Err(err) => (String::from_utf8_lossy(err.as_bytes()).into_owned(), true),
        };
        out.push(Line {
            text,
            offset,
            end: self.next_offset,
            truncated,
            invalid_utf8,
        });
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(reader: &mut LineReader, chunks: &[&[u8]]) -> Vec<Line> {
        let mut out = Vec::new();
        for chunk in chunks {
            reader.push(chunk, &mut out);
        }
        out
    }

    #[test]
    fn splits_lines_with_offsets_across_chunks() {
        let mut reader = LineReader::new(1024, 100);
        let lines = feed(&mut reader, &[b"ab", b"c\nde\r\n", b"\nf"]);
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.text.as_str(), l.offset, l.end))
            .collect();
        assert_eq!(got, vec![("abc", 100, 104), ("de", 104, 108)]);
        assert_eq!(reader.emitted_offset(), 109);
        assert_eq!(reader.next_offset(), 110);
        assert!(reader.has_partial());
    }

    #[test]
    fn long_line_is_cut_flagged_and_the_next_line_survives() {
        let mut reader = LineReader::new(1024, 0);
        let long = vec![b'x'; 10 * 1024 * 1024];
        let mut out = Vec::new();
        for chunk in long.chunks(64 * 1024) {
            reader.push(chunk, &mut out);
        }
        reader.push(b"\nnext\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text.len(), 1024);
        assert!(out[0].truncated);
        assert_eq!(out[0].end, long.len() as u64 + 1);
        assert_eq!(out[1].text, "next");
        assert!(!out[1].truncated);
    }

    #[test]
    fn partial_flush_is_not_repeated_when_the_line_completes() {
        let mut reader = LineReader::new(1024, 0);
        let mut out = feed(&mut reader, &[b"first\nhalf"]);
        reader.flush_partial(&mut out);
        reader.push(b" rest\n\n", &mut out);
        let got: Vec<_> = out.iter().map(|l| (l.text.as_str(), l.offset)).collect();
        assert_eq!(got, vec![("first", 0), ("half", 6), (" rest", 10)]);
        let mut out = Vec::new();
        reader.push(b"x", &mut out);
        reader.flush_partial(&mut out);
        reader.push(b"\n", &mut out);
        assert_eq!(
            out.len(),
            1,
            "a bare newline completing a flushed line emits nothing"
        );
    }

    #[test]
    fn invalid_utf8_and_nul_are_kept_readable() {
        let mut reader = LineReader::new(1024, 0);
        let lines = feed(&mut reader, &[b"a\xffb\x00c\n"]);
        assert_eq!(lines[0].text, "a\u{fffd}b\u{0}c");
        assert!(lines[0].invalid_utf8);
    }
}
