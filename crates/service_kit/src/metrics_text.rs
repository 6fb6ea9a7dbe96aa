//! A small writer for the Prometheus text exposition format (version 0.0.4), the format
//! `promtool check metrics` and every scraper accept. Services render their `/metrics` from
//! their own state at scrape time, so there is no registry to keep in sync.

use std::fmt::Write;

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kind of a metric family, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that only goes up (names end in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// Accumulates metric families into exposition text.
#[derive(Debug, Default)]
pub struct MetricsText {
    out: String,
}

impl MetricsText {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty document with room for `bytes` of text, for large documents: growing a
    /// multi-megabyte string by doubling copies it again and again and leaves the peak
    /// memory at twice its size.
    pub fn with_capacity(bytes: usize) -> Self {
        MetricsText {
            out: String::with_capacity(bytes),
        }
    }

    /// Starts a family: writes its `# HELP` and `# TYPE` lines. Samples follow with [`sample`].
    ///
    /// [`sample`]: MetricsText::sample
    pub fn family(&mut self, name: &str, kind: MetricKind, help: &str) -> &mut Self {
        let kind = match kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self
    }

    /// Writes one sample line `name{labels} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
        self
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_samples_render_in_text_format() {
        let mut m = MetricsText::new();
        m.family(
            "probe_success",
            MetricKind::Gauge,
            "Whether the probe succeeded.",
        )
        .sample("probe_success", &[("check", "we\"b")], 1.0)
        .sample("probe_success", &[("check", "api")], 0.0);
        m.family("probe_duration_seconds", MetricKind::Gauge, "Probe time.")
            .sample("probe_duration_seconds", &[], 0.25);
        assert_eq!(
            m.finish(),
            "# HELP probe_success Whether the probe succeeded.\n\
             # TYPE probe_success gauge\n\
             probe_success{check=\"we\\\"b\"} 1\n\
             probe_success{check=\"api\"} 0\n\
             # HELP probe_duration_seconds Probe time.\n\
             # TYPE probe_duration_seconds gauge\n\
             probe_duration_seconds 0.25\n"
        );
    }
}
