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
    /// Observations counted into cumulative buckets (`_bucket{le=...}`, `_sum`, `_count`);
    /// see [`Histogram`].
    Histogram,
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
            MetricKind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self
    }

    /// A family with a single sample and no labels (a service's own counter or gauge).
    pub fn single(&mut self, name: &str, kind: MetricKind, help: &str, value: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
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

    /// Writes the samples of histogram family `name` (started with [`MetricKind::Histogram`])
    /// for one label set: a `_bucket` line per bound and `+Inf`, then `_sum` and `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        histogram: &Histogram,
    ) -> &mut Self {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
            cumulative += count;
            let le = bound.to_string();
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative as f64);
        }
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        self.sample(&bucket, &with_le, histogram.count as f64);
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
        self.sample(&format!("{name}_count"), labels, histogram.count as f64)
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_label(value: &str) -> String {
    // Most values need no escaping: one copy instead of three passes that each allocate.
    if !value.contains(['\\', '"', '\n']) {
        return value.to_string();
    }
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

/// Observations of one label set of a histogram: counts per bucket (each counts what is at
/// most its bound and above the previous one), the sum and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds, ascending.
    bounds: Vec<f64>,
    /// Observations per bucket (not cumulative; [`MetricsText::histogram`] adds them up).
    counts: Vec<u64>,
    /// Sum of all observations.
    sum: f64,
    /// Number of observations, the ones above the last bound included.
    count: u64,
}

impl Histogram {
    /// An empty histogram with these ascending upper bounds.
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts one observation.
    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[i] += 1;
        }
        self.sum += value;
        self.count += 1;
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

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let mut h = Histogram::new(&[1.0, 5.0]);
        for value in [0.5, 3.0, 4.0, 9.0] {
            h.observe(value);
        }
        let mut m = MetricsText::new();
        m.family("job_seconds", MetricKind::Histogram, "Job time.")
            .histogram("job_seconds", &[("hook", "app")], &h);
        assert_eq!(
            m.finish(),
            "# HELP job_seconds Job time.\n\
             # TYPE job_seconds histogram\n\
             job_seconds_bucket{hook=\"app\",le=\"1\"} 1\n\
             job_seconds_bucket{hook=\"app\",le=\"5\"} 3\n\
             job_seconds_bucket{hook=\"app\",le=\"+Inf\"} 4\n\
             job_seconds_sum{hook=\"app\"} 16.5\n\
             job_seconds_count{hook=\"app\"} 4\n"
        );
    }
}
