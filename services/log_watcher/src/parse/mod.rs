//! Parsing of raw log lines into records (being written).
