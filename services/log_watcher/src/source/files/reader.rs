//! Reading one open file: from an offset to its end, in chunks, handing each complete line
//! to a [`LineSink`] and remembering `offset`, the end of the last complete line handed out
//! (with the file's identity and fingerprint, that is its [`FileCheckpoint`]). A partial
//! last line is held until its newline; a line longer than the limit is cut with a marker
//! and the rest of it skipped, so memory stays bounded.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use crate::checkpoint::{FileCheckpoint, FileId, Fingerprint};
use crate::parse::line::utf8_cut_point;

use super::fingerprint::FINGERPRINT_BYTES;

/// Bytes read per system call.
const READ_CHUNK: usize = 1024 * 1024;

/// Bytes read from one file per poll at most, so one busy file cannot starve the others and a
/// batch (committed as one transaction) stays small; the caller polls again at once.
pub const POLL_BUDGET: u64 = 4 * 1024 * 1024;

/// Where a line starts: which file, and the byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePos {
    /// The file.
    pub file: FileId,
    /// Offset of the line's first byte.
    pub offset: u64,
}

/// Receives what a [`FileFollower`](super::follower::FileFollower) reads.
pub trait LineSink {
    /// One complete line without its line ending (cut at the limit when `truncated`).
    fn line(&mut self, line: &[u8], truncated: bool, start: FilePos);
    /// A run of complete lines, each ending in `\n`, the first starting at `start`: what one
    /// read brought, handed over at once so that per-read work (UTF-8 validation, looking
    /// for escape sequences) runs once over the run. By default, line by line
    /// ([`for_each_line`]).
    fn lines(&mut self, block: &[u8], max_line: usize, start: FilePos) {
        for_each_line(block, max_line, start, |line, truncated, at| {
            self.line(line, truncated, at)
        });
    }
    /// The follower let go of `file` (drained after rotation, or truncated): nothing more
    /// will be read from it, so whatever is held from it should be finished now.
    fn file_done(&mut self, file: FileId);
}

/// Splits `block` (complete lines, each ending in `\n`, the first at `start`) into lines
/// without their line endings, cut to `max_line` bytes (flagged) when longer, exactly as
/// they are handed to [`LineSink::line`] one by one.
pub fn for_each_line(
    block: &[u8],
    max_line: usize,
    start: FilePos,
    mut line: impl FnMut(&[u8], bool, FilePos),
) {
    let mut line_start = 0;
    for newline in memchr::memchr_iter(b'\n', block) {
        let at = FilePos {
            file: start.file,
            offset: start.offset + line_start as u64,
        };
        let text = trim_line(&block[line_start..newline]);
        if text.len() > max_line {
            line(&text[..utf8_cut_point(text, max_line)], true, at);
        } else {
            line(text, false, at);
        }
        line_start = newline + 1;
    }
}

/// Reading position in one open file.
#[derive(Debug)]
pub struct Reader {
    /// The open file (kept open across renames: the inode is what is read).
    pub(super) file: File,
    /// Its device and inode.
    pub(super) id: FileId,
    /// Its first bytes' hash, grown until it covers [`FINGERPRINT_BYTES`].
    pub(super) fingerprint: Fingerprint,
    /// End of the last complete line handed out: the checkpoint's offset.
    pub(super) offset: u64,
    /// Where the next read starts (past a held partial line).
    pub(super) read_pos: u64,
    /// A partial last line, waiting for its newline.
    pending: Vec<u8>,
    /// Skipping the rest of an over-long line, up to its newline.
    skipping: bool,
    /// When the file last grew (a rotated file is let go after a quiet while).
    pub(super) last_growth: Instant,
    /// Stop at end of file instead of waiting for late writes (copies made by copytruncate).
    pub(super) until_eof: bool,
    /// The file's length and modification time when it was last read to its end (or as far
    /// as one poll reads): while they stay the same, a poll need not look again.
    pub(super) seen: Option<FileStamp>,
}

/// What tells whether a file changed since it was last looked at: its length and its
/// modification time. A write, a truncation or a rewrite changes one of them, except a
/// rewrite to the same length within the file system's timestamp granularity (a few
/// milliseconds): so only a stamp that is [settled](FileStamp::is_settled) may be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified_secs: i64,
    modified_nanos: i64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    pub fn of(metadata: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            len: metadata.len(),
            modified_secs: metadata.mtime(),
            modified_nanos: metadata.mtime_nsec(),
        }
    }

    /// Whether the file was last modified over a second before `now_secs` (Unix time): any
    /// change from now on gives it a different modification time.
    pub fn is_settled(&self, now_secs: i64) -> bool {
        self.modified_secs < now_secs - 1
    }
}

impl Reader {
    /// Starts reading `file` at `offset`.
    pub(super) fn open(file: File, offset: u64) -> io::Result<Reader> {
        let metadata = file.metadata()?;
        Ok(Reader {
            id: FileId::of(&metadata),
            fingerprint: Fingerprint::read(&file)?,
            file,
            offset,
            read_pos: offset,
            pending: Vec::new(),
            skipping: false,
            last_growth: Instant::now(),
            until_eof: false,
            seen: None,
        })
    }

    /// Where reading stands, for the file followed at `path`.
    pub(super) fn checkpoint(&self, path: &Path) -> FileCheckpoint {
        FileCheckpoint {
            path: path.to_path_buf(),
            id: self.id,
            fingerprint: self.fingerprint,
            offset: self.offset,
        }
    }

    /// Reads everything available, handing each complete line to `sink`. Returns bytes read.
    pub(super) fn read_available(
        &mut self,
        buffer: &mut Vec<u8>,
        max_line: usize,
        sink: &mut dyn LineSink,
    ) -> io::Result<u64> {
        let mut total = 0u64;
        buffer.resize(READ_CHUNK, 0);
        while total < POLL_BUDGET {
            let n = self.file.read_at(buffer, self.read_pos)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            self.consume(&buffer[..n], max_line, sink);
            if n < buffer.len() {
                break;
            }
        }
        if total > 0 {
            self.last_growth = Instant::now();
            if (self.fingerprint.len as usize) < FINGERPRINT_BYTES {
                self.fingerprint = Fingerprint::read(&self.file)?;
            }
        }
        Ok(total)
    }

    fn consume(&mut self, chunk: &[u8], max_line: usize, sink: &mut dyn LineSink) {
        let chunk_start = self.read_pos;
        let mut line_start = 0;
        // A line begun in an earlier chunk (or being skipped) ends at the chunk's first newline.
        if self.skipping || !self.pending.is_empty() {
            if let Some(newline) = memchr::memchr(b'\n', chunk) {
                if self.skipping {
                    self.skipping = false;
                } else {
                    self.pending.extend_from_slice(&chunk[..newline]);
                    let line = std::mem::take(&mut self.pending);
                    emit_bounded(trim_line(&line), max_line, self.position(), sink);
                    self.pending = line;
                    self.pending.clear();
                }
                line_start = newline + 1;
                self.offset = chunk_start + line_start as u64;
            }
        }
        // Every complete line after it, in one run.
        if !self.skipping && self.pending.is_empty() {
            if let Some(last) = memchr::memrchr(b'\n', &chunk[line_start..]) {
                let end = line_start + last + 1;
                sink.lines(&chunk[line_start..end], max_line, self.position());
                line_start = end;
                self.offset = chunk_start + end as u64;
            }
        }
        let rest = &chunk[line_start..];
        if !self.skipping && !rest.is_empty() {
            self.pending.extend_from_slice(rest);
            if self.pending.len() > max_line {
                let cut = utf8_cut_point(&self.pending, max_line);
                sink.line(&self.pending[..cut], true, self.position());
                self.pending.clear();
                self.skipping = true;
            }
        }
        self.read_pos = chunk_start + chunk.len() as u64;
        if self.pending.capacity() > max_line.max(64 * 1024) * 2 {
            self.pending.shrink_to(max_line);
        }
    }

    /// Hands out a final unterminated line, if any (the file is being let go).
    pub(super) fn finish(&mut self, sink: &mut dyn LineSink) {
        if !self.pending.is_empty() && !self.skipping {
            sink.line(trim_line(&self.pending), false, self.position());
            self.offset = self.read_pos;
        }
        self.pending.clear();
        sink.file_done(self.id);
    }

    /// Where the next line starts.
    fn position(&self) -> FilePos {
        FilePos {
            file: self.id,
            offset: self.offset,
        }
    }
}

/// Hands out `line`, cut to `max_line` bytes (at a character boundary, and flagged) when
/// longer.
fn emit_bounded(line: &[u8], max_line: usize, start: FilePos, sink: &mut dyn LineSink) {
    if line.len() > max_line {
        sink.line(&line[..utf8_cut_point(line, max_line)], true, start);
    } else {
        sink.line(line, false, start);
    }
}

/// Drops the `\r` of a CRLF line ending.
pub(super) fn trim_line(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}
