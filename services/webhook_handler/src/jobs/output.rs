//! A running job's output: the tail kept within a byte limit (older output is cut at a line
//! boundary, with a marker), and a live feed for `/jobs/ID/stream` and the dashboard. A
//! subscriber gets the tail so far and then every later chunk, with nothing missed or
//! repeated in between, and finally the job's end.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::record::JobState;

/// The marker that replaces output cut from the front.
pub const CUT_MARKER: &str = "[... earlier output cut ...]\n";

/// What a live subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputEvent {
    /// More output.
    Chunk(Arc<str>),
    /// The job ended in this state.
    End(JobState),
}

/// Chunks a slow subscriber may fall behind by before it misses some (it is told so).
const FEED_CAPACITY: usize = 256;

/// A job's output as it runs.
#[derive(Debug)]
pub struct LiveOutput {
    /// The tail, and whether anything was cut; the lock also orders chunks with subscribes.
    tail: Mutex<Tail>,
    /// The live feed.
    feed: broadcast::Sender<OutputEvent>,
}

#[derive(Debug)]
struct Tail {
    text: String,
    limit: usize,
    cut: bool,
}

impl LiveOutput {
    /// An empty output keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Arc<LiveOutput> {
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        Arc::new(LiveOutput {
            tail: Mutex::new(Tail {
                text: String::new(),
                limit,
                cut: false,
            }),
            feed,
        })
    }

    /// Appends `text` (lossily decoded bytes of the program's output) and feeds it live.
    pub fn push(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.text.push_str(text);
        if tail.text.len() > tail.limit {
            let excess = tail.text.len() - tail.limit;
            // Cut at the first line break after the excess, so the tail starts on a line,
            // and never inside a character.
            let from = (excess..=tail.text.len())
                .find(|i| tail.text.is_char_boundary(*i))
                .unwrap_or(tail.text.len());
            let cut_at = tail.text[from..].find('\n').map_or(from, |i| from + i + 1);
            tail.text.drain(..cut_at);
            tail.cut = true;
        }
        let _ = self.feed.send(OutputEvent::Chunk(Arc::from(text)));
    }

    /// A line of the handler's own (attempt separators, what runs next), fed like output.
    pub fn note(&self, line: &str) {
        self.push(&format!("{line}\n"));
    }

    /// The tail so far, with the marker first when something was cut.
    pub fn snapshot(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        render(&tail)
    }

    /// The tail so far and a receiver of everything after it.
    pub fn subscribe(&self) -> (String, broadcast::Receiver<OutputEvent>) {
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        (render(&tail), self.feed.subscribe())
    }

    /// Tells subscribers the job ended.
    pub fn end(&self, state: JobState) {
        let _tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.feed.send(OutputEvent::End(state));
    }

    /// The last `lines` lines of the tail (for notifications).
    pub fn last_lines(&self, lines: usize) -> String {
        last_lines(&self.snapshot(), lines)
    }
}

fn render(tail: &Tail) -> String {
    if tail.cut {
        format!("{CUT_MARKER}{}", tail.text)
    } else {
        tail.text.clone()
    }
}

/// The last `count` lines of `text`.
pub fn last_lines(text: &str, count: usize) -> String {
    let trimmed = text.trim_end_matches('\n');
    let start = trimmed
        .char_indices()
        .rev()
        .filter(|(_, c)| *c == '\n')
        .nth(count.saturating_sub(1))
        .map_or(0, |(i, _)| i + 1);
    trimmed[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_stays_within_its_limit_and_starts_on_a_line() {
        let output = LiveOutput::new(20);
        for i in 0..10 {
            output.push(&format!("line {i}\n"));
        }
        let text = output.snapshot();
        assert!(text.starts_with(CUT_MARKER), "{text}");
        let kept = &text[CUT_MARKER.len()..];
        assert!(kept.len() <= 20, "{kept:?}");
        assert!(kept.starts_with("line "), "{kept:?}");
        assert!(kept.ends_with("line 9\n"), "{kept:?}");
    }

    #[test]
    fn a_subscriber_gets_the_tail_then_every_later_chunk_then_the_end() {
        let output = LiveOutput::new(1024);
        output.push("before\n");
        let (tail, mut feed) = output.subscribe();
        output.push("after\n");
        output.end(JobState::Succeeded);
        assert_eq!(tail, "before\n");
        assert_eq!(
            feed.try_recv().unwrap(),
            OutputEvent::Chunk(Arc::from("after\n"))
        );
        assert_eq!(
            feed.try_recv().unwrap(),
            OutputEvent::End(JobState::Succeeded)
        );
    }

    #[test]
    fn multibyte_text_is_never_cut_inside_a_character() {
        for limit in 5..12 {
            for text in ["ééééééééééééé", "aéééééééééééé", "a€b€c€d€e€f€"]
            {
                let output = LiveOutput::new(limit);
                output.push(text);
                output.push(text);
                let kept = output.snapshot();
                assert!(
                    kept.len() <= CUT_MARKER.len() + limit + 3,
                    "{limit}: {kept:?}"
                );
            }
        }
    }

    #[test]
    fn the_last_lines_are_the_end_of_the_text() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a\nb", 5), "a\nb");
        assert_eq!(last_lines("", 3), "");
    }
}
