//! Following one log file by path, the way `tail -F` should: every line exactly once, across
//! rename rotation (logrotate `create`), `copytruncate`, truncation, late appearance,
//! deletion, and our own restarts (from [`FileCheckpoint`]s).
//!
//! A [`FileFollower`] keeps a [`Reader`] on the file now at the path, plus readers on files
//! rotated away from it that are still being drained (an application may write to the old
//! inode until it reopens); [`rotation`](super::rotation) finds those files again after a
//! restart and the copies `copytruncate` makes.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checkpoint::{FileCheckpoint, FileId};

use super::reader::{FileStamp, LineSink, Reader};
use super::rotation::{find_copy, find_moved};

/// How long a rotated-away file is still watched for late writes after its last growth.
pub const ROTATE_WAIT: Duration = Duration::from_secs(5);

/// Follows one path.
#[derive(Debug)]
pub struct FileFollower {
    /// The followed path.
    path: PathBuf,
    /// The file now at the path, when there is one.
    current: Option<Reader>,
    /// Files rotated away from the path, read until they stay quiet.
    draining: Vec<Reader>,
    /// Checkpoints from before the start, put back to work at the first poll.
    saved: Option<Vec<FileCheckpoint>>,
    /// The last error seen (unreadable file...), for `/livez` details; cleared on success.
    pub last_error: Option<String>,
}

impl FileFollower {
    /// Follows `path`, resuming from `saved` checkpoints of that path.
    pub fn new(path: PathBuf, saved: Vec<FileCheckpoint>) -> FileFollower {
        FileFollower {
            path,
            current: None,
            draining: Vec::new(),
            saved: Some(saved),
            last_error: None,
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether nothing is left to read: no file at the path and every rotated file drained.
    pub fn is_finished(&self) -> bool {
        self.saved.is_none()
            && self.current.is_none()
            && self.draining.is_empty()
            && !self.path.exists()
    }

    /// Bytes written to the file at the path (and to rotated files still drained) that
    /// are not read yet: the read lag.
    pub fn unread_bytes(&self) -> u64 {
        self.draining
            .iter()
            .chain(self.current.iter())
            .map(|r| {
                r.file
                    .metadata()
                    .map_or(0, |m| m.len().saturating_sub(r.read_pos))
            })
            .sum()
    }

    /// Whether a file is open at the path.
    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }

    /// Where every open file stands.
    pub fn checkpoints(&self) -> Vec<FileCheckpoint> {
        self.draining
            .iter()
            .chain(self.current.iter())
            .map(|r| r.checkpoint(&self.path))
            .collect()
    }

    /// Reads everything new: rotated files first (their lines are older), then the file at
    /// the path. Returns the bytes read.
    pub fn poll(&mut self, buffer: &mut Vec<u8>, max_line: usize, sink: &mut dyn LineSink) -> u64 {
        match self.poll_inner(buffer, max_line, sink) {
            Ok(n) => {
                self.last_error = None;
                n
            }
            Err(err) => {
                if self.last_error.is_none() {
                    tracing::warn!(path = %self.path.display(), %err, "Cannot read log file; will retry.");
                }
                self.last_error = Some(err.to_string());
                0
            }
        }
    }

    fn poll_inner(
        &mut self,
        buffer: &mut Vec<u8>,
        max_line: usize,
        sink: &mut dyn LineSink,
    ) -> io::Result<u64> {
        if let Some(saved) = self.saved.take() {
            self.recover(saved)?;
        }
        let mut total = self.drain_rotated(buffer, max_line, sink)?;
        // A stat, not an open: most polls find the same file, often unchanged, and then
        // that one call is all a poll costs.
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                self.path_gone(buffer, max_line, sink, &mut total)?;
                return Ok(total);
            }
            Err(err) => return Err(err),
        };
        let stamp = FileStamp::of(&metadata);
        let same = self
            .current
            .as_ref()
            .is_some_and(|r| r.id == FileId::of(&metadata));
        if same {
            let reader = self.current.as_ref().expect("checked above");
            if reader.seen == Some(stamp)
                && reader.read_pos >= metadata.len()
                && stamp.is_settled(chrono::Utc::now().timestamp())
            {
                // Neither grown nor rewritten since the last poll read it to its end.
                return Ok(total);
            }
            self.check_truncation(metadata.len(), buffer, max_line, sink, &mut total)?;
        } else {
            let file = match File::open(&self.path) {
                Ok(file) => file,
                // Gone between the stat and the open: the next poll sees what replaced it.
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(total),
                Err(err) => return Err(err),
            };
            let metadata = file.metadata()?;
            let id = FileId::of(&metadata);
            if self.current.as_ref().is_some_and(|r| r.id == id) {
                self.check_truncation(metadata.len(), buffer, max_line, sink, &mut total)?;
            } else {
                if let Some(old) = self.current.take() {
                    tracing::info!(path = %self.path.display(), "File rotated.");
                    self.draining.push(old);
                    total += self.drain_rotated(buffer, max_line, sink)?;
                }
                self.current = Some(Reader::open(file, 0)?);
            }
        }
        if let Some(reader) = self.current.as_mut() {
            total += reader.read_available(buffer, max_line, sink)?;
            // As it was before the read: a write after the stat changes it, so the next
            // poll reads again.
            reader.seen = Some(stamp);
        }
        Ok(total)
    }

    /// Nothing at the path any more: the file there was removed or renamed; drain it.
    fn path_gone(
        &mut self,
        buffer: &mut Vec<u8>,
        max_line: usize,
        sink: &mut dyn LineSink,
        total: &mut u64,
    ) -> io::Result<()> {
        if let Some(old) = self.current.take() {
            tracing::info!(path = %self.path.display(), "File removed or renamed; draining it.");
            self.draining.push(old);
            *total += self.drain_rotated(buffer, max_line, sink)?;
        }
        Ok(())
    }

    /// Same inode as before: was it truncated (copytruncate, `> file`)? Then first read the
    /// rest of what we had not read from the copy, if one exists, and start over at 0.
    /// `len`: the file's length now.
    fn check_truncation(
        &mut self,
        len: u64,
        buffer: &mut Vec<u8>,
        max_line: usize,
        sink: &mut dyn LineSink,
        total: &mut u64,
    ) -> io::Result<()> {
        let Some(reader) = self.current.as_mut() else {
            return Ok(());
        };
        let rewritten = len < reader.read_pos || !reader.fingerprint.matches(&reader.file)?;
        if !rewritten {
            return Ok(());
        }
        tracing::info!(path = %self.path.display(), "File truncated; starting over at the beginning.");
        let lost_from = reader.offset;
        let fingerprint = reader.fingerprint;
        let id = reader.id;
        // The same inode, read again from the start.
        let reopened = reader.file.try_clone()?;
        if let Some(mut copy) = find_copy(&self.path, id, fingerprint, lost_from)? {
            // Read the copy to its end now, before the new content, to keep lines in order.
            loop {
                let n = copy.read_available(buffer, max_line, sink)?;
                *total += n;
                if n == 0 {
                    break;
                }
            }
            copy.finish(sink);
        }
        // What was held from the old content is complete: it will not continue at offset 0.
        sink.file_done(id);
        self.current = Some(Reader::open(reopened, 0)?);
        Ok(())
    }

    fn drain_rotated(
        &mut self,
        buffer: &mut Vec<u8>,
        max_line: usize,
        sink: &mut dyn LineSink,
    ) -> io::Result<u64> {
        let mut total = 0;
        let mut index = 0;
        while index < self.draining.len() {
            let reader = &mut self.draining[index];
            let n = reader.read_available(buffer, max_line, sink)?;
            total += n;
            let done = n == 0 && (reader.until_eof || reader.last_growth.elapsed() >= ROTATE_WAIT);
            if done {
                reader.finish(sink);
                self.draining.remove(index);
            } else {
                index += 1;
            }
        }
        Ok(total)
    }

    /// Start-up: puts every saved checkpoint back to work. The file still at the path resumes
    /// at its offset; a file rotated away while we were down is drained from its offset; a
    /// copy made by copytruncate while we were down supplies the lines we had not read.
    fn recover(&mut self, saved: Vec<FileCheckpoint>) -> io::Result<()> {
        let at_path = match File::open(&self.path) {
            Ok(file) => Some((FileId::of(&file.metadata()?), file)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(err),
        };
        for checkpoint in saved {
            if let Some((id, file)) = &at_path {
                if *id == checkpoint.id {
                    let len = file.metadata()?.len();
                    if len >= checkpoint.offset && checkpoint.fingerprint.matches(file)? {
                        let mut reader = Reader::open(file.try_clone()?, checkpoint.offset)?;
                        reader.fingerprint = checkpoint.fingerprint;
                        self.current = Some(reader);
                        continue;
                    }
                }
            }
            if let Some(mut reader) = find_moved(&self.path, &checkpoint)? {
                reader.fingerprint = checkpoint.fingerprint;
                self.draining.push(reader);
            } else if let Some(copy) = find_copy(
                &self.path,
                checkpoint.id,
                checkpoint.fingerprint,
                checkpoint.offset,
            )? {
                self.draining.push(copy);
            } else {
                tracing::debug!(path = %self.path.display(), "A file read before is gone.");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::files::reader::FilePos;
    use std::io::Write;

    struct Collected(Vec<String>);

    impl LineSink for Collected {
        fn line(&mut self, line: &[u8], truncated: bool, _start: FilePos) {
            let mut text = String::from_utf8_lossy(line).into_owned();
            if truncated {
                text.push_str("[cut]");
            }
            self.0.push(text);
        }
        fn file_done(&mut self, _file: FileId) {}
    }

    fn poll(follower: &mut FileFollower) -> Vec<String> {
        let mut buffer = Vec::new();
        let mut lines = Collected(Vec::new());
        follower.poll(&mut buffer, 1024, &mut lines);
        lines.0
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn partial_lines_wait_for_their_newline_and_crlf_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "one\r\ntw");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["one"]);
        append(&path, "o\nthree\n");
        assert_eq!(poll(&mut follower), vec!["two", "three"]);
        assert_eq!(follower.checkpoints()[0].offset, 15);
    }

    #[test]
    fn rename_rotation_drains_the_old_file_before_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1"]);
        append(&path, "2\n");
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        append(&dir.path().join("app.log.1"), "3\n");
        append(&path, "4\n");
        assert_eq!(poll(&mut follower), vec!["2", "3", "4"]);
    }

    #[test]
    fn copytruncate_reads_the_unread_tail_from_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1"]);
        append(&path, "2\n3\n");
        std::fs::copy(&path, dir.path().join("app.log.1")).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        append(&path, "4\n");
        assert_eq!(poll(&mut follower), vec!["2", "3", "4"]);
    }

    #[test]
    fn restart_resumes_at_the_checkpoint_even_after_a_rotation_while_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n2\n");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1", "2"]);
        let saved = follower.checkpoints();
        drop(follower);
        append(&path, "3\n");
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        append(&path, "4\n");
        let mut follower = FileFollower::new(path.clone(), saved);
        assert_eq!(poll(&mut follower), vec!["3", "4"]);
    }

    #[test]
    fn over_long_lines_are_cut_and_the_rest_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, &format!("{}\nnext\n", "x".repeat(5000)));
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        let lines = poll(&mut follower);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0] == format!("{}[cut]", "x".repeat(1024)),
            "first line is cut"
        );
        assert_eq!(lines[1], "next");

        // The same when the long line arrives in pieces.
        append(&path, &"y".repeat(700));
        assert!(poll(&mut follower).is_empty());
        append(&path, &format!("{}\nafter\n", "y".repeat(700)));
        let lines = poll(&mut follower);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0] == format!("{}[cut]", "y".repeat(1024)),
            "pieced line is cut"
        );
        assert_eq!(lines[1], "after");
    }

    #[test]
    fn truncation_in_place_starts_over_at_the_beginning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n2\n");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1", "2"]);
        // `> app.log`, then the application goes on writing.
        std::fs::File::create(&path).unwrap();
        append(&path, "3\n");
        assert_eq!(poll(&mut follower), vec!["3"]);
        assert_eq!(follower.checkpoints()[0].offset, 2);
    }

    #[test]
    fn a_rewrite_to_the_same_length_at_once_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n2\n");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1", "2"]);
        // Within the same timestamp tick, very likely: length and time both unchanged.
        std::fs::write(&path, "3\n4\n").unwrap();
        assert_eq!(poll(&mut follower), vec!["3", "4"]);
    }

    #[test]
    fn a_file_untouched_for_a_while_is_read_once_and_then_again_when_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n");
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(an_hour_ago).unwrap();
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1"]);
        assert!(poll(&mut follower).is_empty());
        append(&path, "2\n");
        assert_eq!(poll(&mut follower), vec!["2"]);
        // Rewritten to the same length: its time moves on, so it is noticed.
        file.set_modified(an_hour_ago).unwrap();
        assert!(poll(&mut follower).is_empty());
        std::fs::write(&path, "3\n4\n").unwrap();
        assert_eq!(poll(&mut follower), vec!["3", "4"]);
    }

    #[test]
    fn a_deleted_file_is_read_to_its_end_before_it_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        append(&path, "1\n");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert_eq!(poll(&mut follower), vec!["1"]);
        append(&path, "2\nlast without newline");
        std::fs::remove_file(&path).unwrap();
        let lines = poll(&mut follower);
        assert_eq!(lines[0], "2");
        assert!(!follower.is_open());
        // The unterminated last line waits for a late newline, then is handed out when the
        // deleted file is let go.
        let mut all = lines;
        let started = std::time::Instant::now();
        while !follower.is_finished() {
            assert!(started.elapsed() < ROTATE_WAIT * 2, "never let go");
            std::thread::sleep(std::time::Duration::from_millis(100));
            all.extend(poll(&mut follower));
        }
        assert_eq!(all, vec!["2", "last without newline"]);
    }

    #[test]
    fn a_file_appearing_late_is_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("late.log");
        let mut follower = FileFollower::new(path.clone(), Vec::new());
        assert!(poll(&mut follower).is_empty());
        append(&path, "hello\n");
        assert_eq!(poll(&mut follower), vec!["hello"]);
    }
}
