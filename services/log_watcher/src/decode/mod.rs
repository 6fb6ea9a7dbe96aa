//! Turning the raw lines of one source into counted lines and events: Docker's partial
//! chunks merged, each line parsed (time, level, message), continuation lines joined to the
//! event they belong to, every physical line counted by level, and the events kept.
//!
//! A [`Decoder`] holds what is not finished yet: a Docker line whose last chunk has not
//! arrived, or an event that may still get continuation lines (a traceback). It remembers
//! the position `P` where the oldest such unfinished line starts ([`Decoder::held_from`]),
//! so the source's checkpoint never moves past a line that was read but not yet counted:
//! after a crash it is read again and joined again, neither lost nor counted twice. An
//! event is let go when the next event starts, when its lane was quiet for `flush_after`,
//! or when its file is let go.
//!
//! `P` is the source's notion of position: a file and byte offset for files, a frame of
//! the answer for the Docker Engine API.
//!
//! Which of the finished lines are events is the [`filter`]'s answer.

pub mod filter;
pub mod parse_helper;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use memchr::{memchr, memchr_iter};

use crate::event::LogEvent;
use crate::parse::line::utf8_cut_point;
use crate::parse::{
    parse_line, parse_line_without_escapes, DockerLine, Level, LevelCounts, LineParts,
    MultilineConfig, MultilineJoiner, ParsedLine, PartialMerger, Stream, TRUNCATION_MARKER,
};

pub use self::filter::{EventFilter, WordHits};
pub use self::parse_helper::ParseHelper;

/// How a source's lines are grouped into events.
#[derive(Debug, Clone)]
pub struct DecodeSettings {
    /// Join continuation lines (tracebacks, indented lines); `None` makes every line an event.
    pub multiline: Option<MultilineConfig>,
    /// An event whose lane saw no line for this long is complete.
    pub flush_after: Duration,
    /// Longest line kept, in bytes.
    pub max_line_bytes: usize,
}

/// When lines were read: the wall-clock time stands in for lines without a time of their
/// own, the monotonic one starts the multiline quiet period. Taken once per read, not per
/// line: reading the clock for every line costs measurably at hundreds of MiB/s.
#[derive(Debug, Clone, Copy)]
pub struct ReadAt {
    /// Wall-clock time.
    pub wall: DateTime<Utc>,
    /// Monotonic time.
    pub instant: Instant,
}

impl ReadAt {
    /// Now.
    pub fn now() -> ReadAt {
        ReadAt {
            wall: Utc::now(),
            instant: Instant::now(),
        }
    }
}

/// What decoding produced since it was last taken: events, and lines counted by level.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Lines that passed the filters, oldest first.
    pub events: Vec<LogEvent>,
    /// Every physical line, by the level of the event it belongs to.
    pub counts: LevelCounts,
}

impl Decoded {
    /// Whether nothing was produced.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.counts.iter().all(|c| *c == 0)
    }
}

/// One output stream's event assembly (plain files use only the first lane).
#[derive(Debug)]
struct Lane<P> {
    /// Joins continuation lines; `None` when every line is its own event.
    joiner: Option<MultilineJoiner>,
    /// Where the pending event's first line starts.
    held_from: Option<P>,
    /// Physical lines of the pending event so far (blank ones included).
    pending_lines: u64,
    /// When the last line arrived.
    last_line: Instant,
    /// While [`Decoder::plain_block`] runs: where the pending event's message lies in the
    /// block's text, as long as it is one line read the fast way (then the block's word
    /// hits answer for it).
    span: Option<(usize, usize)>,
}

/// Decodes the lines of one source. See the module documentation.
#[derive(Debug)]
pub struct Decoder<P> {
    /// The service the lines belong to.
    service: Arc<str>,
    /// Which lines are events.
    filter: EventFilter,
    /// A pending event whose lane was quiet this long is complete.
    flush_after: Duration,
    /// Docker's partial chunks (json-file logs and the Engine API), one line per stream.
    merger: PartialMerger,
    /// Where the line the merger holds for each stream started.
    merge_from: [Option<P>; 2],
    /// Event assembly per stream (stdout, stderr).
    lanes: [Lane<P>; 2],
    /// Where the filter's words occur in the text of the block being decoded.
    hits: WordHits,
    /// Whether `hits` holds them (a words-only filter, inside [`Decoder::plain_block`]).
    use_hits: bool,
}

fn stream_index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl<P: Copy> Decoder<P> {
    /// A decoder for the lines of `service`.
    pub fn new(service: Arc<str>, filter: EventFilter, settings: &DecodeSettings) -> Decoder<P> {
        let lane = || Lane {
            joiner: settings.multiline.clone().map(MultilineJoiner::new),
            held_from: None,
            pending_lines: 0,
            last_line: Instant::now(),
            span: None,
        };
        Decoder {
            service,
            filter,
            flush_after: settings.flush_after,
            merger: PartialMerger::new(settings.max_line_bytes),
            merge_from: [None, None],
            lanes: [lane(), lane()],
            hits: WordHits::default(),
            use_hits: false,
        }
    }

    /// The service the lines belong to.
    pub fn service(&self) -> &Arc<str> {
        &self.service
    }

    /// One line of a plain file (without its line ending), starting at `start`; `truncated`
    /// when it was cut at the line limit.
    pub fn plain_line(
        &mut self,
        raw: &[u8],
        truncated: bool,
        start: P,
        read: ReadAt,
        out: &mut Decoded,
    ) {
        // Valid UTF-8 is the rule: check it the fast way, decode lossily only when it is not.
        let mut text = match std::str::from_utf8(raw) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(raw),
        };
        if truncated {
            text.to_mut().push_str(TRUNCATION_MARKER);
        }
        let parsed = parse_line(&text, None, read.wall);
        self.push(0, &parsed, None, start, read.instant, out);
    }

    /// A run of complete lines of a plain file, each ending in `\n` (a `\r` before it is
    /// dropped too), the same as handing each to [`plain_line`](Self::plain_line) (cut at
    /// `max_line` bytes and flagged when longer), only faster: UTF-8 is validated and escape
    /// sequences looked for once over the run, not line by line, and a long run is parsed
    /// on two threads, with `helper`. `at` gives the position of the line starting at a byte
    /// offset in `block`.
    pub fn plain_block(
        &mut self,
        block: &[u8],
        max_line: usize,
        at: impl Fn(usize) -> P,
        read: ReadAt,
        helper: &mut ParseHelper,
        out: &mut Decoded,
    ) {
        // `text` is `block[text_from..]` checked as UTF-8 up to `text_to`.
        let (mut text, mut text_from, mut text_to) = valid_prefix(block, 0);
        let mut next_escape = memchr(ESC, block).unwrap_or(usize::MAX);
        if block.len() >= PARALLEL_BLOCK && text_to == block.len() && next_escape == usize::MAX {
            // The usual run: valid UTF-8 without escape sequences, every line the fast way.
            self.plain_text_block(text, max_line, at, read, helper, out);
            return;
        }
        self.use_hits = self.filter.find_words(text, &mut self.hits);
        let mut start = 0;
        for newline in memchr_iter(b'\n', block) {
            let end = if newline > start && block[newline - 1] == b'\r' {
                newline - 1
            } else {
                newline
            };
            if end - start > max_line {
                let line = &block[start..end];
                let cut = utf8_cut_point(line, max_line);
                self.plain_line(&line[..cut], true, at(start), read, out);
            } else if next_escape < newline || end > text_to {
                self.plain_line(&block[start..end], false, at(start), read, out);
            } else {
                let (from, to) = (start - text_from, end - text_from);
                let parsed = parse_line_without_escapes(&text[from..to], None, read.wall);
                // The message is the end of the line (a lone `\r` may have gone too).
                let message = parsed.message().len();
                let span = (
                    from + parsed.text().len() - message,
                    from + parsed.text().len(),
                );
                self.push(0, &parsed, Some(span), at(start), read.instant, out);
            }
            start = newline + 1;
            if next_escape < start {
                next_escape = memchr(ESC, &block[start..]).map_or(usize::MAX, |i| start + i);
            }
            if text_to < start && start < block.len() {
                // Past a line that was not valid UTF-8: check again from the next line on.
                (text, text_from, text_to) = valid_prefix(block, start);
                self.forget_spans();
                self.use_hits = self.filter.find_words(text, &mut self.hits);
            }
        }
        self.forget_spans();
        self.use_hits = false;
    }

    /// [`plain_block`](Self::plain_block) over a run that is valid UTF-8 and holds no escape
    /// sequence, on two threads at once: the [`ParseHelper`] parses the run (time, level,
    /// message: [`parse_line_without_escapes`], the costly part) part by part, while this
    /// thread parses the first lines itself and then joins, counts and filters every line in
    /// order, exactly as if it had parsed them all. The parts are small, so both threads
    /// work all along.
    fn plain_text_block(
        &mut self,
        text: &str,
        max_line: usize,
        at: impl Fn(usize) -> P,
        read: ReadAt,
        helper: &mut ParseHelper,
        out: &mut Decoded,
    ) {
        let block = text.as_bytes();
        // This thread also joins and filters every line: it parses the first share only.
        let split = line_end_after(block, block.len() * HEAD_SHARE / 100);
        let (head, tail) = text.split_at(split);
        let parts = text_parts(tail.as_bytes(), PART_BYTES);
        let sent = parts
            .iter()
            .take_while(|&&(from, to)| helper.send(&tail[from..to], max_line, read))
            .count();
        // The words of the first part are enough for its lines: a match holds no line
        // break, so none begins in one part and ends in the next.
        self.use_hits = self.filter.find_words(head, &mut self.hits);
        for_each_text_line(head, |start, end| {
            if end - start > max_line {
                self.long_line(&block[start..end], max_line, at(start), read, out);
            } else {
                let parsed = parse_line_without_escapes(&text[start..end], None, read.wall);
                self.push_text_line(&parsed, start, at(start), read, out);
            }
        });
        for (index, &(from, to)) in parts.iter().enumerate() {
            let parsed = if index < sent { helper.next() } else { None };
            // Without the helper (it could not start, or stopped), this thread parses.
            let parsed =
                parsed.unwrap_or_else(|| helper.parse_here(&tail[from..to], max_line, read));
            let offset = split + from;
            self.hits.append_moved(&parsed.hits, offset);
            for &(start, end, parts) in &parsed.lines {
                let (from, to) = (offset + start, offset + end);
                match parts {
                    Some(parts) => {
                        let line = parts.with_text(&text[from..to]);
                        self.push_text_line(&line, from, at(from), read, out);
                    }
                    None => self.long_line(&block[from..to], max_line, at(from), read, out),
                }
            }
            helper.recycle(parsed);
        }
        self.forget_spans();
        self.use_hits = false;
    }

    /// A line longer than `max_line`: cut, flagged, and decoded the slow way.
    fn long_line(
        &mut self,
        line: &[u8],
        max_line: usize,
        start: P,
        read: ReadAt,
        out: &mut Decoded,
    ) {
        let cut = utf8_cut_point(line, max_line);
        self.plain_line(&line[..cut], true, start, read, out);
    }

    /// Feeds a line parsed the fast way, found at `from` in the block's text.
    #[inline]
    fn push_text_line(
        &mut self,
        parsed: &ParsedLine<'_>,
        from: usize,
        start: P,
        read: ReadAt,
        out: &mut Decoded,
    ) {
        // The message is the end of the line (a lone `\r` may have gone too).
        let message = parsed.message().len();
        let span = (
            from + parsed.text().len() - message,
            from + parsed.text().len(),
        );
        self.push(0, parsed, Some(span), start, read.instant, out);
    }

    /// The block's text is gone: pending events are answered by the regexes.
    fn forget_spans(&mut self) {
        for lane in &mut self.lanes {
            lane.span = None;
        }
    }

    /// One line (or chunk of a line) of Docker's json-file format or Engine API, starting
    /// at `start`.
    pub fn docker_line(&mut self, line: DockerLine<'_>, start: P, read: ReadAt, out: &mut Decoded) {
        let lane = stream_index(line.stream);
        if line.partial {
            self.merge_from[lane].get_or_insert(start);
        }
        let Some(whole) = self.merger.push(line) else {
            return;
        };
        let start = self.merge_from[lane].take().unwrap_or(start);
        let parsed = parse_line(&whole.log, whole.time, read.wall);
        self.push(lane, &parsed, None, start, read.instant, out);
    }

    /// Feeds a parsed line to its lane; `span`: where its message lies in the text of the
    /// block being decoded, when it does.
    fn push(
        &mut self,
        lane: usize,
        line: &ParsedLine<'_>,
        span: Option<(usize, usize)>,
        start: P,
        at: Instant,
        out: &mut Decoded,
    ) {
        let filter = &self.filter;
        let service = &self.service;
        let hits = self.use_hits.then_some(&self.hits);
        let lane = &mut self.lanes[lane];
        lane.last_line = at;
        let Some(joiner) = lane.joiner.as_mut() else {
            let level = line.level.unwrap_or(Level::Info);
            out.counts[level as usize] += 1;
            let words = words_in(hits, span);
            if filter.is_event_knowing(level, line.message(), words) {
                out.events.push(LogEvent {
                    id: 0,
                    timestamp: line.timestamp,
                    service: service.clone(),
                    level,
                    message: line.message().to_string(),
                });
            }
            return;
        };
        let had_pending = joiner.has_pending();
        let started = match joiner.push(line) {
            Some(event) => {
                // The finished event is the one line at `lane.span` unless lines joined it.
                let words = if event.line_count == 1 && !event.truncated {
                    words_in(hits, lane.span)
                } else {
                    None
                };
                keep(
                    filter,
                    service,
                    event.timestamp,
                    event.level,
                    &event.message,
                    lane.pending_lines,
                    words,
                    out,
                );
                true
            }
            None => !had_pending && joiner.has_pending(),
        };
        if started {
            lane.held_from = Some(start);
            lane.pending_lines = 1;
            lane.span = span;
        } else if had_pending {
            lane.pending_lines += 1;
            lane.span = None;
        } else {
            // A blank line outside any event: counted now, nothing is held.
            out.counts[Level::Info as usize] += 1;
        }
    }

    /// Completes events whose lane was quiet for `flush_after`.
    pub fn flush_idle(&mut self, out: &mut Decoded) {
        for index in 0..self.lanes.len() {
            let lane = &self.lanes[index];
            if lane.held_from.is_some() && lane.last_line.elapsed() >= self.flush_after {
                self.flush_lane(index, out);
            }
        }
    }

    /// Completes everything held: the source is let go, or the service stops.
    pub fn flush_all(&mut self, out: &mut Decoded) {
        let read = ReadAt::now();
        for whole in self.merger.flush() {
            let lane = stream_index(whole.stream);
            if let Some(start) = self.merge_from[lane].take() {
                let parsed = parse_line(&whole.log, whole.time, read.wall);
                self.push(lane, &parsed, None, start, read.instant, out);
            }
        }
        for index in 0..self.lanes.len() {
            self.flush_lane(index, out);
        }
    }

    fn flush_lane(&mut self, index: usize, out: &mut Decoded) {
        let lane = &mut self.lanes[index];
        lane.held_from = None;
        let lines = std::mem::take(&mut lane.pending_lines);
        let span = lane.span.take();
        let hits = self.use_hits.then_some(&self.hits);
        if let Some(event) = lane.joiner.as_mut().and_then(|j| j.flush()) {
            let words = if event.line_count == 1 && !event.truncated {
                words_in(hits, span)
            } else {
                None
            };
            keep(
                &self.filter,
                &self.service,
                event.timestamp,
                event.level,
                &event.message,
                lines,
                words,
                out,
            );
        }
    }

    /// Where the oldest line read but not yet counted starts, if any line is held.
    pub fn held_from(&self) -> impl Iterator<Item = P> + '_ {
        self.merge_from
            .iter()
            .flatten()
            .chain(self.lanes.iter().filter_map(|l| l.held_from.as_ref()))
            .copied()
    }

    /// When [`flush_idle`](Self::flush_idle) will next have work, if an event is held.
    pub fn next_flush(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter(|l| l.held_from.is_some())
            .map(|l| l.last_line + self.flush_after)
            .min()
    }
}

/// The escape byte that starts ANSI sequences (see [`crate::parse::strip_ansi`]).
const ESC: u8 = 0x1b;

/// Runs at least this long are parsed on two threads ([`Decoder::plain_text_block`]); below
/// it handing parts to the helper would cost more than it saves.
const PARALLEL_BLOCK: usize = 128 * 1024;

/// The share of a run, in percent, that the decoding thread parses itself before it takes
/// the helper's parts: it joins, counts and filters every line besides, so the helper parses
/// most of it.
const HEAD_SHARE: usize = 20;

/// About how many bytes of a run the helper parses before handing them over: small enough
/// that the decoding thread soon has them, large enough that handing over costs little.
const PART_BYTES: usize = 64 * 1024;

/// Each line of a part of a run: its start and end in the part, and what parsing found
/// (`None`: longer than the limit, decoded the slow way).
type ParsedLines = Vec<(usize, usize, Option<LineParts>)>;

/// Parses the complete lines of `part` into `lines`, and finds where `filter`'s words occur
/// in it (`hits`).
fn parse_text_part(
    part: &str,
    max_line: usize,
    read: ReadAt,
    filter: &EventFilter,
    lines: &mut ParsedLines,
    hits: &mut WordHits,
) {
    lines.clear();
    lines.reserve(part.len() / 64);
    for_each_text_line(part, |start, end| {
        let parts = (end - start <= max_line)
            .then(|| parse_line_without_escapes(&part[start..end], None, read.wall).parts());
        lines.push((start, end, parts));
    });
    filter.find_words(part, hits);
}

/// The end of the line that holds byte `at` of `block` (just past its `\n`), or the end of
/// `block`.
fn line_end_after(block: &[u8], at: usize) -> usize {
    memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i + 1)
}

/// `block` (complete lines) cut into runs of whole lines of about `size` bytes each, as
/// (start, end) pairs.
fn text_parts(block: &[u8], size: usize) -> Vec<(usize, usize)> {
    let mut parts = Vec::with_capacity(block.len() / size + 1);
    let mut from = 0;
    while from < block.len() {
        let to = line_end_after(block, (from + size).min(block.len() - 1));
        parts.push((from, to));
        from = to;
    }
    parts
}

/// Calls `line(start, end)` for each line of `text` (complete lines, each ending in `\n`),
/// `end` before the `\n` and a `\r` before it.
#[inline]
fn for_each_text_line(text: &str, mut line: impl FnMut(usize, usize)) {
    let block = text.as_bytes();
    let mut start = 0;
    for newline in memchr_iter(b'\n', block) {
        let end = if newline > start && block[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        line(start, end);
        start = newline + 1;
    }
}

/// The longest valid UTF-8 text in `block` from `from` on: the text, where it starts and
/// where it ends in `block`.
fn valid_prefix(block: &[u8], from: usize) -> (&str, usize, usize) {
    let rest = &block[from..];
    let valid = match std::str::from_utf8(rest) {
        Ok(text) => text,
        Err(err) => std::str::from_utf8(&rest[..err.valid_up_to()]).unwrap_or_default(),
    };
    (valid, from, from + valid.len())
}

/// Whether the filter's words occur in the message at `span` of the block's text, when the
/// block's word hits can tell.
#[inline]
fn words_in(hits: Option<&WordHits>, span: Option<(usize, usize)>) -> Option<bool> {
    let (start, end) = span?;
    hits?.in_range(start, end)
}

/// Counts a finished event's lines and keeps it when it passes the filter; `words`: whether
/// the filter's regexes match `message`, when known already.
#[allow(clippy::too_many_arguments)]
fn keep(
    filter: &EventFilter,
    service: &Arc<str>,
    timestamp: DateTime<Utc>,
    level: Option<Level>,
    message: &str,
    lines: u64,
    words: Option<bool>,
    out: &mut Decoded,
) {
    let level = level.unwrap_or(Level::Info);
    out.counts[level as usize] += lines.max(1);
    if filter.is_event_knowing(level, message, words) {
        out.events.push(LogEvent {
            id: 0,
            timestamp,
            service: service.clone(),
            level,
            message: message.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder(multiline: bool) -> Decoder<u64> {
        let filter = EventFilter::new(
            &[Level::Error, Level::Warning],
            &[regex::Regex::new("panic").unwrap()],
        )
        .unwrap();
        Decoder::new(
            Arc::from("api"),
            filter,
            &DecodeSettings {
                multiline: multiline.then(MultilineConfig::default),
                flush_after: Duration::from_millis(50),
                max_line_bytes: 1024,
            },
        )
    }

    fn feed(decoder: &mut Decoder<u64>, lines: &[&str], out: &mut Decoded) {
        for (i, line) in lines.iter().enumerate() {
            decoder.plain_line(line.as_bytes(), false, i as u64 * 100, ReadAt::now(), out);
        }
    }

    #[test]
    fn a_traceback_is_one_event_and_every_line_is_counted() {
        let mut decoder = decoder(true);
        let mut out = Decoded::default();
        feed(
            &mut decoder,
            &[
                "ERROR:    Exception in ASGI application",
                "Traceback (most recent call last):",
                "  File \"app.py\", line 1, in <module>",
                "ValueError: bad",
                "INFO:     127.0.0.1 - \"GET / HTTP/1.1\" 200",
            ],
            &mut out,
        );
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].message.lines().count(), 4);
        assert_eq!(out.counts[Level::Error as usize], 4);
        // The INFO line is held (it may still get continuation lines) from its start.
        assert_eq!(decoder.held_from().collect::<Vec<_>>(), vec![400]);
        assert_eq!(out.counts[Level::Info as usize], 0);
        decoder.flush_all(&mut out);
        assert_eq!(out.counts[Level::Info as usize], 1);
        assert_eq!(decoder.held_from().count(), 0);
    }

    #[test]
    fn a_quiet_lane_lets_its_event_go() {
        let mut decoder = decoder(true);
        let mut out = Decoded::default();
        feed(&mut decoder, &["WARN disk at 91%"], &mut out);
        decoder.flush_idle(&mut out);
        assert!(out.events.is_empty(), "too early");
        std::thread::sleep(Duration::from_millis(60));
        decoder.flush_idle(&mut out);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].level, Level::Warning);
    }

    #[test]
    fn without_multiline_every_line_stands_alone() {
        let mut decoder = decoder(false);
        let mut out = Decoded::default();
        feed(
            &mut decoder,
            &["ERROR one", "  indented", "thread panicked"],
            &mut out,
        );
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.counts.iter().sum::<u64>(), 3);
        assert_eq!(decoder.held_from().count(), 0);
    }

    /// A run of about three times [`PARALLEL_BLOCK`] of every kind of line, some of them
    /// too long.
    fn long_run() -> String {
        let kinds = [
            "2024-06-12T01:23:45.123Z INFO worker: processed job id=7",
            "ERROR:    Exception in ASGI application",
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 12, in read_items",
            "ValueError: bad value",
            "",
            "level=warn msg=\"slow query\" duration=2.1s",
            "{\"time\":\"2024-06-12T01:23:45Z\",\"level\":\"debug\",\"msg\":\"recovered from panic\"}",
            "INFO:     172.18.0.2:5000 - \"GET /admin HTTP/1.1\" 401 unauthorized\r",
            "2024-06-12 01:23:45,123 - app.api - ERROR - could not serialize — é",
            "   ",
            "thread 'main' panicked at src/main.rs:1:1:",
            "note: run with `RUST_BACKTRACE=1`",
        ];
        let long = format!("WARN {}", "x".repeat(1500));
        let mut block = String::new();
        let mut i = 0;
        while block.len() < 3 * PARALLEL_BLOCK {
            let line = if i % 997 == 0 {
                long.as_str()
            } else {
                kinds[i % kinds.len()]
            };
            block.push_str(line);
            block.push('\n');
            i += 1;
        }
        block
    }

    /// Decodes `block` with `helper` as one run, and line by line; asserts both agree.
    fn assert_decoded_as_line_by_line(block: &str, helper: &mut ParseHelper) {
        let read = ReadAt::now();
        let mut whole = decoder(true);
        let mut by_block = Decoded::default();
        whole.plain_block(
            block.as_bytes(),
            1024,
            |offset| offset as u64,
            read,
            helper,
            &mut by_block,
        );
        let mut single = decoder(true);
        let mut by_line = Decoded::default();
        let bytes = block.as_bytes();
        let mut start = 0;
        for newline in memchr_iter(b'\n', bytes) {
            let line = &bytes[start..newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let cut = utf8_cut_point(line, 1024);
            single.plain_line(
                &line[..cut],
                cut < line.len(),
                start as u64,
                read,
                &mut by_line,
            );
            start = newline + 1;
        }
        assert!(by_line.events.len() > 100);
        assert_eq!(by_block.events, by_line.events);
        assert_eq!(by_block.counts, by_line.counts);
        assert_eq!(
            whole.held_from().collect::<Vec<_>>(),
            single.held_from().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_long_run_decoded_on_two_threads_is_decoded_as_line_by_line() {
        let mut helper = ParseHelper::new(decoder(true).filter.clone());
        // Twice: the helper thread stays and takes the next run.
        let run = long_run();
        assert_decoded_as_line_by_line(&run, &mut helper);
        let later = PARALLEL_BLOCK + run[PARALLEL_BLOCK..].find('\n').unwrap() + 1;
        assert_decoded_as_line_by_line(&run[later..], &mut helper);
        assert!(helper.is_running());
    }

    #[test]
    fn without_the_helper_thread_a_long_run_is_decoded_the_same() {
        let mut helper = ParseHelper::without_thread(decoder(true).filter.clone());
        assert_decoded_as_line_by_line(&long_run(), &mut helper);
        assert!(!helper.is_running());
    }

    #[test]
    fn docker_chunks_are_held_from_the_first_chunk() {
        let mut decoder = decoder(false);
        let mut out = Decoded::default();
        let chunk = |log: &'static str, partial: bool| DockerLine {
            log: log.into(),
            stream: Stream::Stderr,
            time: None,
            partial,
        };
        decoder.docker_line(chunk("ERROR a ", true), 10, ReadAt::now(), &mut out);
        decoder.docker_line(chunk("long line", true), 20, ReadAt::now(), &mut out);
        assert_eq!(decoder.held_from().collect::<Vec<_>>(), vec![10]);
        decoder.docker_line(chunk(" end", false), 30, ReadAt::now(), &mut out);
        assert_eq!(out.events[0].message, "a long line end");
        assert_eq!(decoder.held_from().count(), 0);
    }
}
