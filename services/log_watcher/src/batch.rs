//! What the sources hand to the writer: one [`Batch`] per pass over the files or per burst of
//! a container's frames, holding the events, the lines counted and where reading stands
//! afterwards, committed by the store in one transaction (which is what makes "every line
//! exactly once" hold across a crash).

use std::sync::Arc;

use crate::checkpoint::{ContainerCheckpoint, FileCheckpoint};
use crate::event::LogEvent;
use crate::parse::LevelCounts;

/// Lines read in one second for one service.
#[derive(Debug, Clone)]
pub struct CountEntry {
    /// Service name.
    pub service: Arc<str>,
    /// Unix second the lines were read in.
    pub second: i64,
    /// Lines per level.
    pub counts: LevelCounts,
    /// Bytes of those lines.
    pub bytes: u64,
}

/// What one pass over the sources produced, committed atomically.
#[derive(Debug, Default)]
pub struct Batch {
    /// New events (ids not yet assigned).
    pub events: Vec<LogEvent>,
    /// Line counts.
    pub counts: Vec<CountEntry>,
    /// Where each file stands after this batch.
    pub checkpoints: Vec<FileCheckpoint>,
    /// Where each container read through the Docker Engine API stands after this batch.
    pub container_checkpoints: Vec<ContainerCheckpoint>,
}

impl Batch {
    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.counts.is_empty()
            && self.checkpoints.is_empty()
            && self.container_checkpoints.is_empty()
    }
}
