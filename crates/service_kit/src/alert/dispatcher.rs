//! The alert dispatcher: cooldown, then concurrent delivery to every sink with retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use reqwest::Url;

use super::cooldown::{Cooldown, Decision};
use super::email::EmailSink;
use super::error::AlertError;
use super::message::Outgoing;
use super::retry::{with_retry, DeliveryPolicy};
use super::sink::{Sink, SinkKind};
use super::{discord, http, slack, webhook, Alert};

/// What became of one [`AlertDispatcher::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// Delivery was attempted at every sink. `sinks` lists the [`Sink::describe`] of each
    /// sink that accepted the alert (in configuration order); `failed` pairs each other
    /// sink with its last error. When every sink failed (`sinks` empty) the cooldown is
    /// rolled back, so the next alert of the key is delivered at once.
    Delivered {
        /// Sinks that accepted the alert.
        sinks: Vec<String>,
        /// Sinks that did not, with the error of their last attempt.
        failed: Vec<(String, String)>,
    },
    /// The key is cooling down; this alert was counted and dropped. `count` is how many
    /// alerts of the key have been suppressed since its last delivery, this one included.
    Suppressed {
        /// Suppressed so far.
        count: u64,
    },
    /// No sink is configured; nothing was done.
    NoSinks,
}

/// Counters since the dispatcher was built, for services to export as metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertStats {
    /// Successful deliveries, one per alert and sink.
    pub sent: u64,
    /// Failed deliveries (all attempts used or a final error), one per alert and sink.
    pub failed: u64,
    /// Alerts dropped by the cooldown.
    pub suppressed: u64,
}

impl AlertStats {
    /// Writes the counters as the counter family `name` (such as `log_watcher_alerts_total`)
    /// with an `outcome` label: `sent`, `failed`, `suppressed`.
    pub fn write_metrics(&self, m: &mut crate::metrics_text::MetricsText, name: &str) {
        m.family(
            name,
            crate::metrics_text::MetricKind::Counter,
            "Alert deliveries by outcome.",
        );
        for (outcome, count) in [
            ("sent", self.sent),
            ("failed", self.failed),
            ("suppressed", self.suppressed),
        ] {
            m.sample(name, &[("outcome", outcome)], count as f64);
        }
    }
}

/// Delivers [`Alert`]s to every configured [`Sink`]. Cheap to clone; clones share the
/// cooldown, the HTTP client and the counters.
#[derive(Clone)]
pub struct AlertDispatcher {
    /// The shared state.
    inner: Arc<Inner>,
}

/// What every clone shares.
struct Inner {
    /// Where alerts go.
    sinks: Vec<Sink>,
    /// Timeouts, retries, cooldown.
    policy: DeliveryPolicy,
    /// One HTTP client (rustls, connection pool) for all webhook sinks.
    client: reqwest::Client,
    /// Per-key cooldown bookkeeping; never held across an await.
    cooldown: Mutex<Cooldown>,
    /// Successful sink deliveries.
    sent: AtomicU64,
    /// Failed sink deliveries.
    failed: AtomicU64,
    /// Alerts dropped by the cooldown.
    suppressed: AtomicU64,
    /// Deliveries started by `send_in_background`, so shutdown can wait for them.
    background: TaskTracker,
}

impl AlertDispatcher {
    /// A dispatcher delivering to `sinks` under `policy`. With no sinks every
    /// [`send`](Self::send) returns [`Dispatch::NoSinks`].
    ///
    /// # Panics
    /// When no HTTP client can be built at all (the TLS backend fails to initialise).
    pub fn new(sinks: Vec<Sink>, policy: DeliveryPolicy) -> Self {
        let client = build_client(policy.timeout);
        AlertDispatcher {
            inner: Arc::new(Inner {
                sinks,
                policy,
                client,
                cooldown: Mutex::new(Cooldown::new(policy.cooldown)),
                sent: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                suppressed: AtomicU64::new(0),
                background: TaskTracker::new(),
            }),
        }
    }

    /// The configured sinks.
    pub fn sinks(&self) -> &[Sink] {
        &self.inner.sinks
    }

    /// The delivery policy in force.
    pub fn policy(&self) -> &DeliveryPolicy {
        &self.inner.policy
    }

    /// Applies the cooldown to `alert` and, unless it is suppressed, delivers it to every
    /// sink concurrently (a failing sink does not hold up the others), retrying under the
    /// policy. For each sink that accepts it, prints `Alert sent to: <describe()>` to
    /// stdout. Outcomes are also logged with `tracing`.
    pub async fn send(&self, alert: Alert) -> Dispatch {
        let inner = &self.inner;
        if inner.sinks.is_empty() {
            debug!(key = %alert.key, "No alert sink configured; alert dropped.");
            return Dispatch::NoSinks;
        }
        let decision = inner.cooldown().check(&alert.key, Instant::now());
        let (suppressed, stamp) = match decision {
            Decision::Suppress { count } => {
                inner.suppressed.fetch_add(1, Ordering::Relaxed);
                info!(key = %alert.key, count, "Alert suppressed by cooldown.");
                return Dispatch::Suppressed { count };
            }
            Decision::Deliver { suppressed, stamp } => (suppressed, stamp),
        };

        let out = Arc::new(Outgoing {
            alert,
            suppressed,
            at: Utc::now(),
        });
        // One task per sink: they run concurrently, and a slow sink finishes its retries
        // even if the caller stops waiting.
        let handles: Vec<_> = (0..inner.sinks.len())
            .map(|index| {
                let inner = Arc::clone(&self.inner);
                let out = Arc::clone(&out);
                tokio::spawn(async move { inner.deliver(index, &out).await })
            })
            .collect();

        let mut delivered = Vec::new();
        let mut failed = Vec::new();
        for (index, handle) in handles.into_iter().enumerate() {
            let name = inner.sinks[index].describe().to_string();
            match handle.await {
                Ok(Ok(())) => delivered.push(name),
                Ok(Err(error)) => failed.push((name, error.to_string())),
                Err(join_error) => {
                    failed.push((name, format!("delivery task failed: {join_error}")))
                }
            }
        }
        if delivered.is_empty() {
            inner
                .cooldown()
                .rollback(&out.alert.key, stamp, out.suppressed);
        }
        Dispatch::Delivered {
            sinks: delivered,
            failed,
        }
    }

    /// Spawns [`send`](Self::send) on the current tokio runtime and returns at once; the
    /// outcome is logged (and printed for each sink reached). [`drain`](Self::drain) waits
    /// for these deliveries at shutdown.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub fn send_in_background(&self, alert: Alert) {
        let this = self.clone();
        self.inner.background.spawn(async move {
            let _ = this.send(alert).await;
        });
    }

    /// Waits until every delivery started with
    /// [`send_in_background`](Self::send_in_background) has finished, for at most
    /// `within`. Returns false when some were still running; they are not cancelled.
    pub async fn drain(&self, within: Duration) -> bool {
        let tracker = &self.inner.background;
        tracker.close();
        let finished = tokio::time::timeout(within, tracker.wait()).await.is_ok();
        tracker.reopen();
        if !finished {
            warn!(
                pending = tracker.len(),
                "Alert deliveries still running at shutdown."
            );
        }
        finished
    }

    /// Clears the cooldown of `key`, forgetting its suppressed count, so the next alert
    /// with that key is delivered at once. Services call it when an incident resolves.
    pub fn reset(&self, key: &str) {
        self.inner.cooldown().reset(key);
    }

    /// The counters so far.
    pub fn stats(&self) -> AlertStats {
        AlertStats {
            sent: self.inner.sent.load(Ordering::Relaxed),
            failed: self.inner.failed.load(Ordering::Relaxed),
            suppressed: self.inner.suppressed.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for AlertDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertDispatcher")
            .field("sinks", &self.inner.sinks)
            .field("policy", &self.inner.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Inner {
    /// The cooldown, even if a panic poisoned the lock (its data stays consistent).
    fn cooldown(&self) -> MutexGuard<'_, Cooldown> {
        self.cooldown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Delivers `out` to sink `index` with retries; logs, prints and counts the outcome.
    async fn deliver(&self, index: usize, out: &Outgoing) -> Result<(), AlertError> {
        let sink = &self.sinks[index];
        let key = &out.alert.key;
        let target = match &sink.kind {
            SinkKind::Webhook(url) => Target::Http(url, webhook::payload(out)),
            SinkKind::Slack(url) => Target::Http(url, slack::payload(out)),
            SinkKind::Discord(url) => Target::Http(url, discord::payload(out)),
            SinkKind::Email(email) => Target::Email(email),
        };
        let (target, client, timeout) = (&target, &self.client, self.policy.timeout);
        let result = with_retry(
            &self.policy,
            move || async move {
                match target {
                    Target::Http(url, body) => http::post_json(client, url, body, timeout).await,
                    Target::Email(email) => email.send(out).await,
                }
            },
            |attempt, error, delay| {
                warn!(
                    key = %key,
                    sink = %sink.describe(),
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    error = %error,
                    "Alert delivery attempt failed; retrying."
                );
            },
        )
        .await;
        match result {
            Ok(attempts) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                println!("Alert sent to: {}", sink.describe());
                info!(key = %key, sink = %sink.describe(), attempts, "Alert delivered.");
                Ok(())
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let sink = sink.describe();
                warn!(key = %key, sink = %sink, error = %error, "Alert delivery failed.");
                Err(error)
            }
        }
    }
}

/// One sink, ready to receive: an HTTP endpoint with its rendered body, or an email relay.
enum Target<'a> {
    /// POST this JSON to this URL.
    Http(&'a Url, serde_json::Value),
    /// Send through this relay.
    Email(&'a EmailSink),
}

/// The shared HTTP client: rustls with the platform's roots, the per-attempt timeout.
fn build_client(timeout: Duration) -> reqwest::Client {
    let builder = || {
        reqwest::Client::builder()
            .user_agent(concat!("compose-sidecars/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
    };
    match builder().build() {
        Ok(client) => client,
        Err(error) => {
            // An unreadable platform certificate store should not take the service down;
            // webhooks to public HTTPS hosts will then fail and say why.
            warn!(error = %error, "Cannot load platform root certificates for alert webhooks.");
            builder()
                .tls_built_in_native_certs(false)
                .build()
                .expect("building an HTTP client without platform roots cannot fail")
        }
    }
}
