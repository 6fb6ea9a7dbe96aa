//! Docker's json-file log format: decoding one line of
//! `/var/lib/docker/containers/ID/ID-json.log` into a [`DockerLine`], and merging the
//! 16 KiB chunks Docker splits long lines into with a [`PartialMerger`].
//!
//! Each line of such a file is a JSON object
//! `{"log":"text\n","stream":"stdout","time":"2024-06-12T01:23:45.123456789Z"}`.
//! Docker writes a line longer than 16 KiB as several objects; every one but the last has
//! a `log` value that does not end in `"\n"`. Decoding borrows the text from the input
//! when it holds no JSON escapes, so the common line costs no allocation.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::line::{push_bounded, truncate_with_marker};
use super::timestamp::parse_timestamp;

/// Which output stream of the container a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One decoded line (or chunk of a line) of a Docker json-file log.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerLine<'a> {
    /// The text, without its trailing `"\n"` (and `"\r"` before it). Borrowed from the
    /// input unless it contained JSON escapes or invalid UTF-8.
    pub log: Cow<'a, str>,
    /// The stream it was written to (`stdout` when the field is missing or unknown).
    pub stream: Stream,
    /// Docker's `time` field: when the container wrote the line. `None` when missing or
    /// unreadable.
    pub time: Option<DateTime<Utc>>,
    /// True for a chunk that is not the end of its line (its `log` did not end in
    /// `"\n"`); nothing is stripped from a partial chunk.
    pub partial: bool,
}

/// A line that is not a Docker json-file log line.
#[derive(Debug, thiserror::Error)]
#[error("not a Docker json-file log line: {0}")]
pub struct DockerLineError(#[from] serde_json::Error);

/// The JSON object as written by Docker; other fields (`attrs`) are ignored. `log` is kept
/// as raw JSON so that the usual value, plain text plus an escaped `\n`, is borrowed rather
/// than decoded into a new string (serde must allocate for any escape, even that one).
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow)]
    log: &'a serde_json::value::RawValue,
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

impl<'a> DockerLine<'a> {
    /// Decodes one line of a json-file log (with or without its trailing newline).
    ///
    /// Invalid UTF-8 in the file (Docker itself never writes it) is decoded lossily
    /// instead of failing the line.
    pub fn parse(line: &'a [u8]) -> Result<DockerLine<'a>, DockerLineError> {
        match serde_json::from_slice::<RawLine<'a>>(line) {
            Ok(raw) => DockerLine::from_raw(raw),
            Err(err) if std::str::from_utf8(line).is_err() => {
                let text = String::from_utf8_lossy(line);
                let raw: RawLine<'_> = serde_json::from_str(&text).map_err(|_| err)?;
                Ok(DockerLine::from_raw(raw)?.into_owned())
            }
            Err(err) => Err(err.into()),
        }
    }

    fn from_raw(raw: RawLine<'a>) -> Result<DockerLine<'a>, DockerLineError> {
        let (log, complete) = decode_log(raw.log)?;
        let stream = match raw.stream.as_deref() {
            Some("stderr") => Stream::Stderr,
            _ => Stream::Stdout,
        };
        let time = raw.time.as_deref().and_then(parse_timestamp);
        Ok(DockerLine {
            log,
            stream,
            time,
            partial: !complete,
        })
    }

    /// Detaches the line from the input buffer.
    pub fn into_owned(self) -> DockerLine<'static> {
        DockerLine {
            log: Cow::Owned(self.log.into_owned()),
            stream: self.stream,
            time: self.time,
            partial: self.partial,
        }
    }
}

/// The text of the raw JSON string `log` and whether it ended in a newline (the line is
/// complete), with that newline (and a `\r` before it) removed. Borrowed when the text's
/// only escape is that final `\n` (or `\r\n`), decoded otherwise.
fn decode_log(raw: &serde_json::value::RawValue) -> Result<(Cow<'_, str>, bool), DockerLineError> {
    let json = raw.get();
    if let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
        let (body, complete) = match inner.strip_suffix("\\n") {
            Some(body) => (body.strip_suffix("\\r").unwrap_or(body), true),
            None => (inner, false),
        };
        if !body.contains(['\\', '"']) && !body.bytes().any(|b| b < 0x20) {
            return Ok((Cow::Borrowed(body), complete));
        }
    }
    let text: String = serde_json::from_str(json)?;
    let complete = text.ends_with('\n');
    if !complete {
        return Ok((Cow::Owned(text), false));
    }
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let keep = body.strip_suffix('\r').unwrap_or(body).len();
    Ok((shorten(Cow::Owned(text), keep), true))
}

/// `text[..len]` without copying.
fn shorten(text: Cow<'_, str>, len: usize) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..len]),
        Cow::Owned(mut s) => {
            s.truncate(len);
            Cow::Owned(s)
        }
    }
}

/// Joins Docker's partial chunks back into whole lines, one pending line per stream.
///
/// Memory is bounded: a pending line holds at most `max_line_bytes` plus the
/// truncation marker; once a line reaches the limit it is cut (at a char boundary) and
/// further chunks of that line are dropped until its final chunk arrives.
#[derive(Debug)]
pub struct PartialMerger {
    /// Longest line kept, in bytes; longer lines are truncated with the marker.
    max_line_bytes: usize,
    /// The line being assembled from stdout chunks.
    stdout: Pending,
    /// The line being assembled from stderr chunks.
    stderr: Pending,
}

/// A line being assembled.
#[derive(Debug, Default)]
struct Pending {
    /// Text gathered so far.
    buf: String,
    /// Docker's time of the first chunk: the merged line gets it.
    time: Option<DateTime<Utc>>,
    /// True while chunks of an unfinished line are held.
    active: bool,
    /// True once the line reached the limit; later chunks are dropped.
    truncated: bool,
}

impl PartialMerger {
    /// A merger that keeps lines up to `max_line_bytes` (see
    /// [`DEFAULT_MAX_LINE_BYTES`](super::line::DEFAULT_MAX_LINE_BYTES)).
    pub fn new(max_line_bytes: usize) -> Self {
        PartialMerger {
            max_line_bytes,
            stdout: Pending::default(),
            stderr: Pending::default(),
        }
    }

    /// Feeds one decoded line. Returns the complete line when `line` completes one:
    /// `line` itself (still borrowed) when no chunks were pending on its stream, or the
    /// merged line (owned, with the first chunk's time). Returns `None` for a partial
    /// chunk, which is held.
    ///
    /// A complete line longer than the limit is truncated with the marker too.
    pub fn push<'a>(&mut self, mut line: DockerLine<'a>) -> Option<DockerLine<'a>> {
        let max = self.max_line_bytes;
        let pending = match line.stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        if line.partial {
            if !pending.active {
                pending.active = true;
                pending.truncated = false;
                pending.time = line.time;
                pending.buf.clear();
            }
            if !pending.truncated {
                pending.truncated = push_bounded(&mut pending.buf, &line.log, max);
            }
            return None;
        }
        if !pending.active {
            if line.log.len() > max {
                truncate_with_marker(line.log.to_mut(), max);
            }
            return Some(line);
        }
        if !pending.truncated {
            pending.truncated = push_bounded(&mut pending.buf, &line.log, max);
        }
        Some(pending.finish(line.stream).unwrap_or(line))
    }

    /// Hands out the lines still pending (at most one per stream, stdout first), e.g. at
    /// the end of a file, on rotation, or when no final chunk came for a while.
    pub fn flush(&mut self) -> Vec<DockerLine<'static>> {
        [
            self.stdout.finish(Stream::Stdout),
            self.stderr.finish(Stream::Stderr),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Bytes of text currently held for unfinished lines.
    pub fn pending_bytes(&self) -> usize {
        self.stdout.buf.len() + self.stderr.buf.len()
    }
}

impl Pending {
    /// Ends the pending line, if any, and returns it.
    fn finish(&mut self, stream: Stream) -> Option<DockerLine<'static>> {
        if !self.active {
            return None;
        }
        self.active = false;
        let mut text = std::mem::take(&mut self.buf);
        if !self.truncated && text.ends_with('\r') {
            // The chunk boundary fell between the '\r' and the '\n' of a CRLF.
            text.pop();
        }
        Some(DockerLine {
            log: Cow::Owned(text),
            stream,
            time: self.time.take(),
            partial: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::line::TRUNCATION_MARKER;
    use super::*;
    use chrono::TimeZone;

    const CHUNK: usize = 16 * 1024;

    fn json_line(log: &str, stream: &str) -> Vec<u8> {
        let mut v = serde_json::to_vec(&serde_json::json!({
            "log": log,
            "stream": stream,
            "time": "2024-06-12T01:23:45.123456789Z",
        }))
        .unwrap();
        v.push(b'\n');
        v
    }

    /// Splits `text` into Docker-style chunks: 16 KiB pieces, the last one ending in "\n".
    fn docker_chunks(text: &str, stream: &str) -> Vec<Vec<u8>> {
        let with_newline = format!("{text}\n");
        let bytes = with_newline.as_bytes();
        bytes
            .chunks(CHUNK)
            .map(|c| json_line(std::str::from_utf8(c).unwrap(), stream))
            .collect()
    }

    #[test]
    fn decodes_a_plain_line_without_copying() {
        let raw = br#"{"log":"hello world\n","stream":"stderr","time":"2024-06-12T01:23:45.5Z"}"#;
        let line = DockerLine::parse(raw).unwrap();
        assert!(matches!(line.log, Cow::Borrowed("hello world")));
        assert_eq!(line.stream, Stream::Stderr);
        assert!(!line.partial);
        let expected = Utc.with_ymd_and_hms(2024, 6, 12, 1, 23, 45).unwrap()
            + chrono::TimeDelta::milliseconds(500);
        assert_eq!(line.time, Some(expected));
    }

    #[test]
    fn escapes_are_decoded() {
        let raw = br#"{"log":"a\t\"b\" \u003cc\u003e\n","stream":"stdout","time":"2024-06-12T01:23:45Z"}"#;
        let line = DockerLine::parse(raw).unwrap();
        assert_eq!(line.log, "a\t\"b\" <c>");
    }

    #[test]
    fn crlf_is_stripped() {
        let line = DockerLine::parse(br#"{"log":"windows\r\n","stream":"stdout"}"#).unwrap();
        assert_eq!(line.log, "windows");
        assert_eq!(line.time, None);
    }

    #[test]
    fn a_log_without_newline_is_partial_and_kept_whole() {
        let line = DockerLine::parse(br#"{"log":"abc\r","stream":"stdout"}"#).unwrap();
        assert!(line.partial);
        assert_eq!(line.log, "abc\r");
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let raw = b"{\"log\":\"bad \xff byte\\n\",\"stream\":\"stdout\"}\n";
        let line = DockerLine::parse(raw).unwrap();
        assert_eq!(line.log, "bad \u{FFFD} byte");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(DockerLine::parse(b"not json").is_err());
        assert!(DockerLine::parse(br#"{"stream":"stdout"}"#).is_err());
        assert!(DockerLine::parse(b"").is_err());
        assert!(DockerLine::parse(br#"{"log":"trunc"#).is_err());
    }

    #[test]
    fn merges_a_40000_byte_line_split_into_16k_chunks() {
        let text: String = (0..40_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let chunks = docker_chunks(&text, "stdout");
        assert_eq!(chunks.len(), 3);
        let mut merger = PartialMerger::new(256 * 1024);
        let mut out = Vec::new();
        for raw in &chunks {
            let line = DockerLine::parse(raw).unwrap();
            if let Some(done) = merger.push(line) {
                out.push(done.into_owned());
            }
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].log.len(), 40_000);
        assert_eq!(out[0].log, text);
        assert!(!out[0].partial);
        assert!(out[0].time.is_some());
        assert_eq!(merger.pending_bytes(), 0);
    }

    #[test]
    fn chunks_of_stdout_and_stderr_are_merged_separately() {
        let mut merger = PartialMerger::new(1024);
        let parse = |s: &str| DockerLine::parse(s.as_bytes()).unwrap().into_owned();
        assert!(merger
            .push(parse(r#"{"log":"out-1 ","stream":"stdout"}"#))
            .is_none());
        assert!(merger
            .push(parse(r#"{"log":"err-1 ","stream":"stderr"}"#))
            .is_none());
        let err = merger
            .push(parse(r#"{"log":"err-2\n","stream":"stderr"}"#))
            .unwrap();
        assert_eq!(
            (err.log.as_ref(), err.stream),
            ("err-1 err-2", Stream::Stderr)
        );
        let out = merger
            .push(parse(r#"{"log":"out-2\n","stream":"stdout"}"#))
            .unwrap();
        assert_eq!(
            (out.log.as_ref(), out.stream),
            ("out-1 out-2", Stream::Stdout)
        );
    }

    #[test]
    fn a_complete_line_passes_through_borrowed() {
        let raw = br#"{"log":"short\n","stream":"stdout"}"#;
        let mut merger = PartialMerger::new(1024);
        let line = merger.push(DockerLine::parse(raw).unwrap()).unwrap();
        assert!(matches!(line.log, Cow::Borrowed("short")));
    }

    #[test]
    fn over_long_lines_are_truncated_and_memory_stays_bounded() {
        let max = 20_000;
        let mut merger = PartialMerger::new(max);
        let chunk = "é".repeat(CHUNK / 2); // 16 KiB of two-byte characters
        let partial = json_line(&chunk, "stdout");
        // 10 MiB of one endless line: the merger never holds more than the limit.
        for _ in 0..640 {
            assert!(merger.push(DockerLine::parse(&partial).unwrap()).is_none());
            assert!(merger.pending_bytes() <= max + TRUNCATION_MARKER.len());
        }
        let last = json_line("end\n", "stdout");
        let done = merger.push(DockerLine::parse(&last).unwrap()).unwrap();
        assert!(done.log.ends_with(TRUNCATION_MARKER));
        assert_eq!(done.log.len(), max + TRUNCATION_MARKER.len());
        assert!(done.log[..max].chars().all(|c| c == 'é'));
        assert_eq!(merger.pending_bytes(), 0);
    }

    #[test]
    fn a_single_complete_line_over_the_limit_is_truncated() {
        let mut merger = PartialMerger::new(10);
        let raw = json_line("0123456789abc\n", "stdout");
        let line = merger.push(DockerLine::parse(&raw).unwrap());
        assert_eq!(line.unwrap().log, format!("0123456789{TRUNCATION_MARKER}"));
    }

    #[test]
    fn crlf_split_across_chunks_is_stripped() {
        let mut merger = PartialMerger::new(1024);
        assert!(merger
            .push(DockerLine::parse(br#"{"log":"abc\r"}"#).unwrap())
            .is_none());
        let line = merger
            .push(DockerLine::parse(br#"{"log":"\n"}"#).unwrap())
            .unwrap();
        assert_eq!(line.log, "abc");
    }

    #[test]
    fn flush_hands_out_unfinished_lines() {
        let mut merger = PartialMerger::new(1024);
        assert!(merger.flush().is_empty());
        merger.push(DockerLine::parse(br#"{"log":"no end","stream":"stderr"}"#).unwrap());
        let lines = merger.flush();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].log.as_ref(), lines[0].stream),
            ("no end", Stream::Stderr)
        );
        assert!(merger.flush().is_empty());
    }
}
