//! Finding the files rotation made from a followed path: `app.log.1` after a rename
//! (the same inode, found again after a restart) and the copy `copytruncate` left
//! (another inode with the same first bytes), so that their unread lines are read.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::checkpoint::{FileCheckpoint, FileId, Fingerprint};

use super::reader::Reader;

/// Files next to `path` that rotation may have made from it: `app.log.1`, `app.log-20240612`,
/// `app.log.old` (compressed ones are skipped: their bytes are not the log's).
pub fn rotated_siblings(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut siblings: Vec<PathBuf> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name().into_string().ok()?;
            let rest = file_name.strip_prefix(name)?;
            let compressed = [".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"]
                .iter()
                .any(|ext| rest.ends_with(ext));
            (!rest.is_empty() && !compressed).then(|| entry.path())
        })
        .collect();
    siblings.sort();
    siblings
}

/// The file a checkpoint refers to, found under a rotated name (same inode and fingerprint).
pub(super) fn find_moved(path: &Path, checkpoint: &FileCheckpoint) -> io::Result<Option<Reader>> {
    for sibling in rotated_siblings(path) {
        let Ok(file) = File::open(&sibling) else {
            continue;
        };
        let metadata = file.metadata()?;
        if FileId::of(&metadata) == checkpoint.id
            && metadata.len() >= checkpoint.offset
            && checkpoint.fingerprint.matches(&file)?
        {
            return Ok(Some(Reader::open(file, checkpoint.offset)?));
        }
    }
    Ok(None)
}

/// A copy of the file (another inode, same first bytes, at least `offset` long), read from
/// `offset` to its end.
pub(super) fn find_copy(
    path: &Path,
    original: FileId,
    fingerprint: Fingerprint,
    offset: u64,
) -> io::Result<Option<Reader>> {
    for sibling in rotated_siblings(path) {
        let Ok(file) = File::open(&sibling) else {
            continue;
        };
        let metadata = file.metadata()?;
        if FileId::of(&metadata) != original
            && metadata.len() >= offset
            && fingerprint.matches(&file)?
        {
            let mut reader = Reader::open(file, offset)?;
            reader.until_eof = true;
            return Ok(Some(reader));
        }
    }
    Ok(None)
}
