//! The parse helper: one long-lived thread that parses parts of a run of lines (time, level,
//! message, and where the filter's words occur) while the reading thread joins, counts and
//! filters the parts parsed before, so a busy file is decoded on two cores.
//!
//! It is one thread for the whole file source, started on the first run long enough to
//! share, and it stays: starting a thread for every run costs more than the thread itself,
//! and a thread started afresh tends to land on the core of the thread that started it,
//! which then takes turns with it instead of working beside it. Parts are copied to it (a
//! copy costs a small fraction of parsing) and come back in the order they were sent.

use std::sync::mpsc::{channel, Receiver, Sender};

use super::filter::{EventFilter, WordHits};
use super::{parse_text_part, ParsedLines, ReadAt};

/// Parts' buffers kept for reuse at most (each about one part long).
const SPARE_BUFFERS: usize = 32;

/// One part to parse.
struct Job {
    /// The part's text (complete lines, each ending in `\n`), and where to put what
    /// parsing finds (buffers kept for reuse).
    part: Parsed,
    /// Longest line parsed; longer ones are left for the slow way.
    max_line: usize,
    /// When the run was read.
    read: ReadAt,
}

/// A part and what [`parse_text_part`] found in it; the buffers go round for reuse.
#[derive(Default)]
pub(super) struct Parsed {
    /// The part's text, when the helper parsed it (a copy it can own).
    text: String,
    /// Each line's start and end in the part, and its parts when parsed.
    pub lines: ParsedLines,
    /// Where the filter's words occur in the part.
    pub hits: WordHits,
}

/// The running thread and the way to it.
struct Worker {
    /// Parts to parse, in order.
    jobs: Sender<Job>,
    /// Parts parsed, in the same order.
    done: Receiver<Parsed>,
}

/// Hands parts of runs to the helper thread and takes them back parsed. See the module
/// documentation.
pub struct ParseHelper {
    /// The filter whose words the helper looks for (the file source's, which every one of
    /// its decoders has).
    filter: EventFilter,
    /// The thread, once started; `None` before, and for good once it could not be started
    /// or has stopped (then the reading thread parses everything itself).
    worker: Option<Worker>,
    /// Whether starting the thread was tried.
    tried: bool,
    /// Buffers back from parsed parts, for the next parts.
    spare: Vec<Parsed>,
}

impl ParseHelper {
    /// A helper looking for `filter`'s words; its thread starts on first use.
    pub fn new(filter: EventFilter) -> ParseHelper {
        ParseHelper {
            filter,
            worker: None,
            tried: false,
            spare: Vec::new(),
        }
    }

    /// A helper that never starts its thread: everything is parsed by the caller.
    #[cfg(test)]
    pub(super) fn without_thread(filter: EventFilter) -> ParseHelper {
        ParseHelper {
            tried: true,
            ..ParseHelper::new(filter)
        }
    }

    /// Whether the thread runs.
    pub fn is_running(&self) -> bool {
        self.worker.is_some()
    }

    /// Sends a copy of `part` (complete lines) to be parsed; `false` when there is no
    /// thread to send it to (then [`parse_here`](Self::parse_here)).
    pub(super) fn send(&mut self, part: &str, max_line: usize, read: ReadAt) -> bool {
        if !self.start() {
            return false;
        }
        let mut buffers = self.spare.pop().unwrap_or_default();
        buffers.text.clear();
        buffers.text.push_str(part);
        let job = Job {
            part: buffers,
            max_line,
            read,
        };
        let sent = self
            .worker
            .as_ref()
            .is_some_and(|w| w.jobs.send(job).is_ok());
        if !sent {
            self.stopped();
            return false;
        }
        true
    }

    /// The next part parsed, in the order they were sent; `None` when the thread has
    /// stopped (it never does, short of a bug: then this part and the later ones are parsed
    /// by the caller).
    pub(super) fn next(&mut self) -> Option<Parsed> {
        match self.worker.as_ref()?.done.recv() {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                self.stopped();
                None
            }
        }
    }

    /// Parses `part` on the calling thread, as the helper would have.
    pub(super) fn parse_here(&mut self, part: &str, max_line: usize, read: ReadAt) -> Parsed {
        let mut parsed = self.spare.pop().unwrap_or_default();
        parsed.text.clear();
        parse_text_part(
            part,
            max_line,
            read,
            &self.filter,
            &mut parsed.lines,
            &mut parsed.hits,
        );
        parsed
    }

    /// Takes the buffers of a part back for reuse.
    pub(super) fn recycle(&mut self, parsed: Parsed) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(parsed);
        }
    }

    /// Starts the thread if that was not tried yet; whether it runs.
    fn start(&mut self) -> bool {
        if !self.tried {
            self.tried = true;
            let (jobs, job_queue) = channel::<Job>();
            let (done_queue, done) = channel::<Parsed>();
            let filter = self.filter.clone();
            let started = std::thread::Builder::new()
                .name("log-parse".to_string())
                .spawn(move || work(&filter, job_queue, done_queue));
            match started {
                Ok(_) => self.worker = Some(Worker { jobs, done }),
                Err(err) => {
                    tracing::warn!(%err, "Cannot start the parse helper thread; parsing on one thread.")
                }
            }
        }
        self.worker.is_some()
    }

    /// The thread is gone: say so once, and parse on the reading thread from now on.
    fn stopped(&mut self) {
        if self.worker.take().is_some() {
            tracing::error!("The parse helper thread stopped; parsing on one thread.");
        }
    }
}

/// The helper thread: parses each part it is sent, until the sender is gone.
fn work(filter: &EventFilter, jobs: Receiver<Job>, done: Sender<Parsed>) {
    while let Ok(Job {
        mut part,
        max_line,
        read,
    }) = jobs.recv()
    {
        parse_text_part(
            &part.text,
            max_line,
            read,
            filter,
            &mut part.lines,
            &mut part.hits,
        );
        if done.send(part).is_err() {
            return;
        }
    }
}
