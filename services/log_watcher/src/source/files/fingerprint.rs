//! File identity for tailing: device + inode, checked by a fingerprint of the first bytes.
//!
//! The inode says "same file" across renames; the fingerprint says "same content" when an
//! inode is reused or a file is truncated and rewritten, and finds the copy `copytruncate`
//! made. The hash is FNV-1a, written out here because checkpoints outlive the binary and
//! must hash the same way after any upgrade (std's hasher promises no such thing).
//!
//! The types are [`crate::checkpoint`]'s, shared with the store; here is how they are taken
//! from a file.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use crate::checkpoint::{FileId, Fingerprint};

/// How many leading bytes the fingerprint covers once the file is that long.
pub const FINGERPRINT_BYTES: usize = 256;

impl FileId {
    /// The identity of an open file.
    pub fn of(metadata: &std::fs::Metadata) -> FileId {
        FileId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
}

impl Fingerprint {
    /// The fingerprint of `file` now (covering up to [`FINGERPRINT_BYTES`]).
    pub fn read(file: &File) -> io::Result<Fingerprint> {
        let mut buffer = [0u8; FINGERPRINT_BYTES];
        let n = read_at_most(file, &mut buffer)?;
        Ok(Fingerprint {
            len: n as u32,
            hash: fnv1a(&buffer[..n]),
        })
    }

    /// Whether `file` starts with the bytes this fingerprint covers.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let mut buffer = [0u8; FINGERPRINT_BYTES];
        let wanted = self.len as usize;
        let n = read_at_most(file, &mut buffer[..wanted])?;
        Ok(n == wanted && fnv1a(&buffer[..n]) == self.hash)
    }
}

fn read_at_most(file: &File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read_at(&mut buffer[filled..], filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// FNV-1a, 64 bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn fingerprint_matches_a_copy_and_not_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("a.log");
        std::fs::write(&original, "line 1\nline 2\n").unwrap();
        let fingerprint = Fingerprint::read(&File::open(&original).unwrap()).unwrap();
        assert_eq!(fingerprint.len, 14);

        let copy = dir.path().join("a.log.1");
        std::fs::copy(&original, &copy).unwrap();
        let mut grown = std::fs::OpenOptions::new()
            .append(true)
            .open(&copy)
            .unwrap();
        grown.write_all(b"line 3\n").unwrap();
        assert!(fingerprint.matches(&File::open(&copy).unwrap()).unwrap());

        std::fs::write(&original, "other 1\n").unwrap();
        assert!(!fingerprint
            .matches(&File::open(&original).unwrap())
            .unwrap());
    }
}
