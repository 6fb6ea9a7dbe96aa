//! The lines the spec shows on stdout, one per thing that happens, in its format:
//!
//! ```text
//! [2024-06-12T13:03:00Z] [INFO] Received push event for repo yourorg/yourrepo.
//! [2024-06-12T13:03:01Z] [INFO] Signature validated.
//! [2024-06-12T13:03:01Z] [INFO] Running deploy.sh...
//! [2024-06-12T13:03:15Z] [INFO] Deployment completed.
//! [2024-06-12T13:03:15Z] [INFO] Notification sent to Discord.
//! ```
//!
//! They are the audit trail as an operator reads it in `docker logs`; the service's own
//! diagnostics go through `tracing` to stderr as in the other services.

use std::io::Write;

/// How serious a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Things going as they should.
    Info,
    /// Refused deliveries and other things worth a look.
    Warn,
    /// Failed jobs.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// `[TIME] [LEVEL] message` with the current time to the second, UTC. Control characters
/// (a line break in a repository name, say) are shown escaped, so a payload can never make
/// one line look like several.
pub fn format_line(level: Level, message: &str) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let message: String = message
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    format!("[{now}] [{}] {message}", level.as_str())
}

/// Prints one line on stdout.
pub fn say(level: Level, message: &str) {
    write_out(&format_line(level, message));
}

/// Writes finished lines (each ending in `\n`) to stdout in one go.
fn write_out(text: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The lines one request says, printed together when it is dropped (one write instead of
/// one per line, and never interleaved with another request's lines).
#[derive(Debug, Default)]
pub struct Lines {
    text: String,
}

impl Lines {
    /// Adds an `Info` line.
    pub fn info(&mut self, message: &str) {
        self.push(Level::Info, message);
    }

    /// Prints the lines so far now.
    pub fn flush(&mut self) {
        if !self.text.is_empty() {
            write_out(&self.text);
            self.text.clear();
        }
    }

    fn push(&mut self, level: Level, message: &str) {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(&format_line(level, message));
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.flush();
    }
}

/// An `Info` line.
pub fn info(message: &str) {
    say(Level::Info, message);
}

/// A `Warn` line.
pub fn warn(message: &str) {
    say(Level::Warn, message);
}

/// An `Error` line.
pub fn error(message: &str) {
    say(Level::Error, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_cannot_forge_a_second_line() {
        let line = format_line(
            Level::Info,
            "Received push event for repo a\n[x] [INFO] Deployment completed.",
        );
        assert_eq!(line.lines().count(), 1);
        assert!(
            line.ends_with("repo a\\n[x] [INFO] Deployment completed."),
            "{line}"
        );
    }

    #[test]
    fn lines_read_as_the_spec_shows_them() {
        let line = format_line(Level::Info, "Signature validated.");
        let (time, rest) = line.split_once("] ").unwrap();
        assert_eq!(rest, "[INFO] Signature validated.");
        assert_eq!(time.len(), "[2024-06-12T13:03:00Z".len());
        assert!(time.ends_with('Z'));
    }
}

/// Refused deliveries as `Warn` lines, at most one a second per hook, so that a flood of
/// forgeries cannot flood the log: the line after a quiet second says how many more there
/// were.
#[derive(Debug, Default)]
pub struct RejectionLog {
    /// Per hook: when the last line was printed, and refusals since then not printed.
    by_hook: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u64)>>,
}

impl RejectionLog {
    /// Notes a refused delivery to `hook`, `what` saying from whom and why.
    pub fn note(&self, hook: &str, what: &str) {
        let now = std::time::Instant::now();
        let mut by_hook = self.by_hook.lock().unwrap_or_else(|p| p.into_inner());
        let entry = by_hook.get(hook).copied();
        let message = match entry {
            Some((last, skipped))
                if now.duration_since(last) < std::time::Duration::from_secs(1) =>
            {
                by_hook.insert(hook.to_string(), (last, skipped + 1));
                return;
            }
            Some((_, skipped)) if skipped > 0 => {
                format!(
                    "Refused a delivery to hook {hook} {what} ({skipped} more refused before it)."
                )
            }
            _ => format!("Refused a delivery to hook {hook} {what}."),
        };
        by_hook.insert(hook.to_string(), (now, 0));
        drop(by_hook);
        warn(&message);
    }
}
