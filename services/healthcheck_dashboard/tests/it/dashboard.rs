//! The dashboard page in a real headless Chromium (being written).
