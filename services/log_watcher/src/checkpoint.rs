//! Where reading stands, in the terms the store persists: a [`FileCheckpoint`] per file (its
//! identity, fingerprint and offset) and a [`ContainerCheckpoint`] per container read through
//! the Docker Engine API. The sources produce them with every [`Batch`](crate::batch::Batch)
//! and get them back from the store at start-up; both sides see them here.
//!
//! How a file's identity and fingerprint are taken is the file source's business
//! ([`crate::source::files::fingerprint`]); how a container's position is chosen, the Engine
//! API source's ([`crate::source::docker_api::position`]).

use std::path::PathBuf;

/// Device and inode of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// A hash of a file's first `len` bytes (`len` grows until
/// [`FINGERPRINT_BYTES`](crate::source::files::fingerprint::FINGERPRINT_BYTES)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// Bytes covered.
    pub len: u32,
    /// FNV-1a 64 of those bytes.
    pub hash: u64,
}

/// Where reading of one file stands; persisted so a restart resumes without loss or repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheckpoint {
    /// The followed path this file was (or is) at.
    pub path: PathBuf,
    /// Device and inode.
    pub id: FileId,
    /// Hash of the first bytes.
    pub fingerprint: Fingerprint,
    /// End of the last complete line handed out.
    pub offset: u64,
}

/// Where reading of one container stands, persisted with the lines it covers: ask the
/// engine for the frames since `since` and drop the first `skip` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCheckpoint {
    /// The full container id.
    pub container_id: String,
    /// Unix seconds: the `since` of the next logs request (0: from the start).
    pub since: i64,
    /// How many frames of that request's answer were read already.
    pub skip: u64,
}
