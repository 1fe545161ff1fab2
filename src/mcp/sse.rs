//! Incremental `text/event-stream` reader (WHATWG HTML, "Server-sent events").
//!
//! Lines end with CRLF, LF or CR; an event ends at a blank line. Chunks may
//! split anywhere: inside a line, between CR and LF, inside a UTF-8
//! character. The splitter keeps only the bytes of the incomplete event.
//!
//! Every byte pushed ends up in exactly one event's `raw` or in `pending`:
//! concatenating them gives back the input. Blocks that dispatch nothing for
//! a browser (keep-alive comments, stray blank lines, `id:`-only priming
//! events) are returned too, with empty `data`.
//!
//! A CR at the very end of what has arrived ends its line at once (no
//! waiting for the next chunk, so the last event of a stream is never held
//! back). When that CR ended an event and the next chunk begins with LF,
//! the LF (the rest of the CRLF) is carried at the start of the next event's
//! `raw`, where it is not a line. So event boundaries and fields never depend
//! on how the stream was cut, and `raw` only in that one case. A UTF-8 byte-order mark at the very start
//! of the stream is likewise carried in the first event's `raw` and ignored.
//! Field values are decoded as UTF-8 with U+FFFD for invalid bytes, as the
//! standard's decoder does.

use super::strict_json::UTF8_BOM;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// Exact bytes of the event, including its terminating blank line.
    pub raw: Vec<u8>,
    /// The last `event:` value; `None` when absent or empty ("message").
    pub event: Option<String>,
    /// `data:` lines joined with "\n".
    pub data: String,
    /// The last `id:` value in this event (a value containing NUL is ignored).
    pub id: Option<String>,
}

/// A complete (or, at end of stream, final) block of raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub raw: Vec<u8>,
    /// Bytes at the start of `raw` that belong to no line (BOM, LF of a CRLF).
    pub prefix_len: usize,
}

#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: Vec<u8>,
    /// Bytes of `buf` already examined.
    scan: usize,
    /// Start of the current, unterminated line.
    line_start: usize,
    prefix_len: usize,
    /// The last examined byte was a CR ending a line.
    skip_lf: bool,
    /// The start of the stream (BOM or not) has been seen.
    started: bool,
}

impl SseSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.push_blocks(chunk)
            .into_iter()
            .map(|block| block.event())
            .collect()
    }

    /// The bytes of the incomplete event.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the bytes of the incomplete event; the splitter starts afresh
    /// (as at an event boundary).
    pub fn take_pending(&mut self) -> Vec<u8> {
        self.take_tail().raw
    }

    pub(crate) fn take_tail(&mut self) -> Block {
        let block = Block {
            raw: std::mem::take(&mut self.buf),
            prefix_len: self.prefix_len,
        };
        self.scan = 0;
        self.line_start = 0;
        self.prefix_len = 0;
        self.skip_lf = false;
        self.started = true;
        block
    }

    pub(crate) fn push_blocks(&mut self, chunk: &[u8]) -> Vec<Block> {
        self.buf.extend_from_slice(chunk);
        let mut blocks = Vec::new();
        if !self.started {
            if self.buf.len() < UTF8_BOM.len() && UTF8_BOM.starts_with(&self.buf) {
                return blocks;
            }
            self.started = true;
            if self.buf.starts_with(UTF8_BOM) {
                self.prefix_len = UTF8_BOM.len();
                self.line_start = UTF8_BOM.len();
                self.scan = UTF8_BOM.len();
            }
        }
        let mut index = self.scan;
        while let Some(&byte) = self.buf.get(index) {
            if self.skip_lf {
                self.skip_lf = false;
                if byte == b'\n' {
                    let block_start = self.line_start == self.prefix_len;
                    index += 1;
                    self.line_start = index;
                    if block_start {
                        self.prefix_len = index;
                    }
                    continue;
                }
            }
            if byte != b'\n' && byte != b'\r' {
                index += 1;
                continue;
            }
            // A CR followed by LF ends the line after the LF; a CR that is the
            // last byte so far ends it now, and a following LF is skipped.
            let end = match (byte, self.buf.get(index + 1)) {
                (b'\r', Some(b'\n')) => index + 2,
                _ => index + 1,
            };
            self.skip_lf = byte == b'\r' && index + 1 == self.buf.len();
            if index == self.line_start {
                let rest = self.buf.split_off(end.min(self.buf.len()));
                let raw = std::mem::replace(&mut self.buf, rest);
                blocks.push(Block {
                    raw,
                    prefix_len: self.prefix_len,
                });
                self.prefix_len = 0;
                self.line_start = 0;
                index = 0;
            } else {
                self.line_start = end;
                index = end;
            }
        }
        self.scan = index;
        blocks
    }
}

/// One line of a block: `start..content_end` is the line, `content_end..end`
/// its terminator (empty for an unterminated last line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub start: usize,
    pub content_end: usize,
    pub end: usize,
}

/// Splits `bytes[from..]` into lines.
pub(crate) fn split_lines(bytes: &[u8], from: usize) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = from;
    let mut index = from;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'\n' => {
                lines.push(Line {
                    start,
                    content_end: index,
                    end: index + 1,
                });
                start = index + 1;
            }
            b'\r' => {
                let end = if bytes.get(index + 1) == Some(&b'\n') {
                    index + 2
                } else {
                    index + 1
                };
                lines.push(Line {
                    start,
                    content_end: index,
                    end,
                });
                start = end;
                index = end;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    if start < bytes.len() {
        lines.push(Line {
            start,
            content_end: bytes.len(),
            end: bytes.len(),
        });
    }
    lines
}

/// A line's field name and value (one leading space stripped); `None` for
/// blank and comment lines.
pub(crate) fn field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    if line.is_empty() || line.first() == Some(&b':') {
        return None;
    }
    match line.iter().position(|&byte| byte == b':') {
        Some(colon) => {
            let name = line.get(..colon)?;
            let value = line.get(colon + 1..)?;
            Some((name, value.strip_prefix(b" ").unwrap_or(value)))
        }
        None => Some((line, &[])),
    }
}

/// The fields of a block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    pub event: Option<String>,
    pub data: String,
    pub has_data: bool,
    pub id: Option<String>,
}

impl Block {
    pub(crate) fn lines(&self) -> Vec<Line> {
        split_lines(&self.raw, self.prefix_len)
    }

    pub(crate) fn fields(&self) -> Fields {
        let mut fields = Fields::default();
        for line in self.lines() {
            let Some((name, value)) = self.raw.get(line.start..line.content_end).and_then(field)
            else {
                continue;
            };
            let value = String::from_utf8_lossy(value);
            match name {
                b"data" => {
                    if fields.has_data {
                        fields.data.push('\n');
                    }
                    fields.data.push_str(&value);
                    fields.has_data = true;
                }
                b"event" => {
                    fields.event = Some(value.into_owned()).filter(|event| !event.is_empty())
                }
                b"id" if !value.contains('\0') => fields.id = Some(value.into_owned()),
                _ => {}
            }
        }
        fields
    }

    fn event(self) -> SseEvent {
        let fields = self.fields();
        SseEvent {
            raw: self.raw,
            event: fields.event,
            data: fields.data,
            id: fields.id,
        }
    }
}
