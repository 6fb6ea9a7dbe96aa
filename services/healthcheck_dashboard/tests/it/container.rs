//! The Docker image and the spec Compose snippet (being written).
