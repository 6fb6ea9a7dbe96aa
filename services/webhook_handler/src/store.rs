//! What survives a restart, in `webhook_handler.sqlite` in the data directory: jobs (state,
//! facts, output tail), their payloads (for the payload file and retries), the audit trail
//! of verified deliveries, and the delivery ids seen in the last 7 days (so a redelivery
//! runs nothing, across restarts too). A job is inserted in the same transaction as its
//! delivery id and as the superseding of the job it replaces, so the three never disagree.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, OptionalExtension, Row};
use service_kit::storage::{StorageError, Store};

use crate::deliveries::{DeliveryRecord, Outcome};
use crate::jobs::record::{JobRecord, JobState, Trigger};
use crate::payload::Facts;

/// The database file in the data directory.
pub const DB_FILE: &str = "webhook_handler.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hook TEXT NOT NULL,
    trigger TEXT NOT NULL,
    retry_of INTEGER,
    event TEXT NOT NULL,
    action TEXT,
    repo TEXT,
    git_ref TEXT,
    branch TEXT,
    tag TEXT,
    commit_sha TEXT,
    pusher TEXT,
    delivery TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    exit_code INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER,
    output TEXT,
    steps TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_hook ON jobs (hook, id);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS jobs_by_start ON jobs (started_ms);
CREATE TABLE IF NOT EXISTS payloads (
    job_id INTEGER PRIMARY KEY,
    content_type TEXT,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_deliveries (
    hook TEXT NOT NULL,
    delivery TEXT NOT NULL,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (hook, delivery)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms INTEGER NOT NULL,
    hook TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    event TEXT,
    repo TEXT,
    git_ref TEXT,
    delivery TEXT,
    job_id INTEGER,
    remote TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_hook ON deliveries (hook, id);
";

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its hook.
    pub hook: String,
    /// What made it.
    pub trigger: Trigger,
    /// The job it retries.
    pub retry_of: Option<i64>,
    /// The delivery's facts.
    pub facts: Facts,
    /// The raw payload and its content type, for the payload file.
    pub payload: Vec<u8>,
    /// The payload's content type.
    pub content_type: Option<String>,
}

/// What became of an insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job, queued.
    Queued(i64),
    /// The delivery id was seen within 7 days: nothing was inserted.
    Duplicate,
}

/// What became of a batch of jobs ([`JobStore::enqueue_batch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueuedBatch {
    /// Per job, in order.
    pub results: Vec<Enqueued>,
    /// The hook's waiting job after the batch.
    pub waiting: Option<i64>,
    /// Jobs superseded by the batch (the one waiting before it included).
    pub superseded: u64,
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct Finish {
    /// Its final state.
    pub state: JobState,
    /// Why, in words.
    pub reason: Option<String>,
    /// Exit code of the last program.
    pub exit_code: Option<i32>,
    /// Attempts made.
    pub attempts: u32,
    /// The output tail.
    pub output: String,
}

/// Which jobs `/jobs` lists.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    /// Only this hook's.
    pub hook: Option<String>,
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// The webhook handler's database.
#[derive(Clone)]
pub struct JobStore {
    store: Store,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `ms` as RFC 3339 with milliseconds, UTC.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const JOB_COLUMNS: &str =
    "id, hook, trigger, retry_of, event, action, repo, git_ref, branch, tag, \
     commit_sha, pusher, delivery, state, reason, exit_code, attempts, created_ms, started_ms, \
     finished_ms, steps";

impl JobStore {
    /// Opens (creating) the database in `data_dir`. Jobs that were running when the process
    /// stopped are `interrupted` now: nothing runs them any more.
    pub fn open(data_dir: &Path) -> Result<(JobStore, usize), StorageError> {
        let store = Store::open(data_dir, DB_FILE, SCHEMA)?;
        let interrupted = store.run_blocking(|c| {
            c.execute(
                "UPDATE jobs SET state = 'interrupted', finished_ms = ?1,
                   reason = 'the webhook handler stopped while the job ran' WHERE state = 'running'",
                params![now_ms()],
            )
        })?;
        Ok((JobStore { store }, interrupted))
    }

    /// Inserts `jobs` of one hook in one transaction (a burst of deliveries costs one
    /// commit), in order: each job whose delivery id was seen in the last 7 days is a
    /// `Duplicate` and inserts nothing; each other one is queued and supersedes the job
    /// waiting before it (`waiting` at first). Returns what became of each job, the job
    /// waiting at the end, and how many jobs were superseded. Runs on the calling thread.
    pub fn enqueue_batch(
        &self,
        jobs: Vec<NewJob>,
        waiting: Option<i64>,
    ) -> Result<EnqueuedBatch, StorageError> {
        self.store.run_blocking(move |c| {
            let tx = c.transaction()?;
            let now = now_ms();
            let mut batch = EnqueuedBatch {
                results: Vec::with_capacity(jobs.len()),
                waiting,
                superseded: 0,
            };
            // Of a burst, only the job left waiting at the end needs its payload kept: the
            // others are superseded before this transaction ends and never run.
            let mut newest: Option<(i64, Option<String>, Vec<u8>)> = None;
            for job in jobs {
                if let (Trigger::Webhook, Some(delivery)) = (job.trigger, &job.facts.delivery) {
                    let inserted = tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO seen_deliveries (hook, delivery, seen_ms) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![job.hook, delivery, now])?;
                    if inserted == 0 {
                        batch.results.push(Enqueued::Duplicate);
                        continue;
                    }
                }
                let f = &job.facts;
                tx.prepare_cached(
                    "INSERT INTO jobs (hook, trigger, retry_of, event, action, repo, git_ref, branch, tag,
                       commit_sha, pusher, delivery, state, attempts, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'queued', 0, ?13)",
                )?
                .execute(params![
                    job.hook,
                    job.trigger.as_str(),
                    job.retry_of,
                    f.event,
                    f.action,
                    f.repo,
                    f.git_ref,
                    f.branch,
                    f.tag,
                    f.commit,
                    f.pusher,
                    f.delivery,
                    now
                ])?;
                let id = tx.last_insert_rowid();
                if let Some(old) = batch.waiting.replace(id) {
                    tx.prepare_cached(
                        "UPDATE jobs SET state = 'superseded', finished_ms = ?2,
                           reason = 'job ' || ?3 || ' replaced it while it waited'
                         WHERE id = ?1 AND state = 'queued'",
                    )?
                    .execute(params![old, now, id])?;
                    batch.superseded += 1;
                }
                newest = Some((id, job.content_type, job.payload));
                batch.results.push(Enqueued::Queued(id));
            }
            if let Some((id, content_type, body)) = newest {
                if let Some(old) = waiting {
                    tx.prepare_cached("DELETE FROM payloads WHERE job_id = ?1")?
                        .execute(params![old])?;
                }
                tx.prepare_cached(
                    "INSERT INTO payloads (job_id, content_type, body) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, content_type, body])?;
            }
            tx.commit()?;
            Ok(batch)
        })
    }

    /// Marks a job running (attempt count 0 so far).
    pub async fn mark_running(&self, id: i64) -> Result<(), StorageError> {
        self.store
            .run(move |c| {
                c.execute(
                    "UPDATE jobs SET state = 'running', started_ms = ?2 WHERE id = ?1",
                    params![id, now_ms()],
                )
                .map(|_| ())
            })
            .await
    }

    /// Saves the output so far of a running job, so a crash loses at most the last moments
    /// of it.
    pub async fn save_output(&self, id: i64, output: String) -> Result<(), StorageError> {
        self.store
            .run(move |c| {
                c.execute(
                    "UPDATE jobs SET output = ?2 WHERE id = ?1",
                    params![id, output],
                )
                .map(|_| ())
            })
            .await
    }

    /// Saves the steps of a deploy (JSON).
    pub async fn save_steps(&self, id: i64, steps: String) -> Result<(), StorageError> {
        self.store
            .run(move |c| {
                c.execute(
                    "UPDATE jobs SET steps = ?2 WHERE id = ?1",
                    params![id, steps],
                )
                .map(|_| ())
            })
            .await
    }

    /// Records how a job ended; its payload is no longer needed unless it may be retried.
    pub async fn finish(&self, id: i64, finish: Finish) -> Result<(), StorageError> {
        self.store
            .run(move |c| {
                c.execute(
                    "UPDATE jobs SET state = ?2, reason = ?3, exit_code = ?4, attempts = ?5,
                       output = ?6, finished_ms = ?7 WHERE id = ?1",
                    params![
                        id,
                        finish.state.as_str(),
                        finish.reason,
                        finish.exit_code,
                        finish.attempts,
                        finish.output,
                        now_ms()
                    ],
                )
                .map(|_| ())
            })
            .await
    }

    /// One job, with its output.
    pub async fn job(&self, id: i64) -> Result<Option<JobRecord>, StorageError> {
        self.store
            .run(move |c| {
                c.query_row(
                    &format!("SELECT {JOB_COLUMNS}, output FROM jobs WHERE id = ?1"),
                    params![id],
                    |row| {
                        let mut job = job_from_row(row)?;
                        job.output = Some(row.get::<_, Option<String>>(21)?.unwrap_or_default());
                        Ok(job)
                    },
                )
                .optional()
            })
            .await
    }

    /// Jobs newest first, without their output.
    pub async fn jobs(&self, query: JobQuery) -> Result<Vec<JobRecord>, StorageError> {
        self.store
            .run(move |c| {
                let mut statement = c.prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs
                     WHERE (?1 IS NULL OR hook = ?1) AND (?2 IS NULL OR state = ?2)
                     ORDER BY id DESC LIMIT ?3"
                ))?;
                let rows = statement.query_map(
                    params![
                        query.hook,
                        query.state.map(JobState::as_str),
                        query.limit as i64
                    ],
                    job_from_row,
                )?;
                rows.collect()
            })
            .await
    }

    /// Jobs that started at or after `since_ms`, oldest first, at most `limit` (the newest
    /// of them when there are more), without their output.
    pub async fn started_since(
        &self,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StorageError> {
        self.store
            .run(move |c| {
                let mut statement = c.prepare_cached(&format!(
                    "SELECT * FROM (SELECT {JOB_COLUMNS} FROM jobs WHERE started_ms >= ?1
                       ORDER BY started_ms DESC LIMIT ?2) ORDER BY started_ms"
                ))?;
                let rows = statement.query_map(params![since_ms, limit as i64], job_from_row)?;
                rows.collect()
            })
            .await
    }

    /// The stored payload of a job and its content type.
    pub async fn payload(
        &self,
        id: i64,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, StorageError> {
        self.store
            .run(move |c| {
                c.query_row(
                    "SELECT body, content_type FROM payloads WHERE job_id = ?1",
                    params![id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
            })
            .await
    }

    /// Jobs still queued (after a restart), oldest first, as (hook, id).
    pub fn queued(&self) -> Result<Vec<(String, i64)>, StorageError> {
        self.store.run_blocking(|c| {
            let mut statement =
                c.prepare("SELECT hook, id FROM jobs WHERE state = 'queued' ORDER BY id")?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
    }

    /// Marks queued jobs superseded (after a restart, all but the newest of a hook).
    pub fn supersede_stale(&self, ids: Vec<i64>, by: i64) -> Result<(), StorageError> {
        self.store.run_blocking(|c| {
            let tx = c.transaction()?;
            for id in ids {
                tx.execute(
                    "UPDATE jobs SET state = 'superseded', finished_ms = ?2,
                       reason = 'job ' || ?3 || ' replaced it while it waited' WHERE id = ?1",
                    params![id, now_ms(), by],
                )?;
                tx.execute("DELETE FROM payloads WHERE job_id = ?1", params![id])?;
            }
            tx.commit()
        })
    }

    /// Appends verified deliveries to the audit trail.
    pub async fn record_deliveries(
        &self,
        records: Vec<(i64, DeliveryRecord)>,
    ) -> Result<(), StorageError> {
        self.store
            .run(move |c| {
                let tx = c.transaction()?;
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO deliveries (received_ms, hook, outcome, reason, event, repo,
                           git_ref, delivery, job_id, remote)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?;
                    for (ms, r) in &records {
                        insert.execute(params![
                            ms,
                            r.hook,
                            r.outcome.as_str(),
                            r.reason,
                            r.event,
                            r.repo,
                            r.git_ref,
                            r.delivery,
                            r.job_id,
                            r.remote
                        ])?;
                    }
                }
                tx.commit()
            })
            .await
    }

    /// The newest stored deliveries of every hook, oldest first (to refill the in-memory
    /// list after a restart).
    pub fn recent_deliveries(&self, per_hook: usize) -> Result<Vec<DeliveryRecord>, StorageError> {
        self.store.run_blocking(|c| {
            let mut statement = c.prepare(
                "SELECT received_ms, hook, outcome, reason, event, repo, git_ref, delivery, job_id, remote
                 FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY hook ORDER BY id DESC) AS n FROM deliveries)
                 WHERE n <= ?1 ORDER BY id",
            )?;
            let rows = statement.query_map(params![per_hook as i64], |row| {
                Ok(DeliveryRecord {
                    received_at: rfc3339(row.get(0)?),
                    hook: row.get(1)?,
                    outcome: Outcome::parse(&row.get::<_, String>(2)?).unwrap_or(Outcome::Accepted),
                    reason: row.get(3)?,
                    event: row.get(4)?,
                    repo: row.get(5)?,
                    git_ref: row.get(6)?,
                    delivery: row.get(7)?,
                    job_id: row.get(8)?,
                    remote: row.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Forgets jobs, payloads and deliveries older than `retention`, and delivery ids older
    /// than `duplicate_window`.
    pub async fn prune(
        &self,
        retention: Duration,
        duplicate_window: Duration,
    ) -> Result<(), StorageError> {
        let now = now_ms();
        let jobs_before = now - retention.as_millis() as i64;
        let seen_before = now - duplicate_window.as_millis() as i64;
        self.store
            .run(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "DELETE FROM payloads WHERE job_id IN
                       (SELECT id FROM jobs WHERE created_ms < ?1 AND state NOT IN ('queued', 'running'))",
                    params![jobs_before],
                )?;
                tx.execute(
                    "DELETE FROM jobs WHERE created_ms < ?1 AND state NOT IN ('queued', 'running')",
                    params![jobs_before],
                )?;
                tx.execute("DELETE FROM deliveries WHERE received_ms < ?1", params![jobs_before])?;
                tx.execute("DELETE FROM seen_deliveries WHERE seen_ms < ?1", params![seen_before])?;
                tx.commit()
            })
            .await
    }
}

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let state: String = row.get(13)?;
    let trigger: String = row.get(2)?;
    let created: i64 = row.get(17)?;
    let started: Option<i64> = row.get(18)?;
    let finished: Option<i64> = row.get(19)?;
    let steps: Option<String> = row.get(20)?;
    Ok(JobRecord {
        id: row.get(0)?,
        hook: row.get(1)?,
        trigger: Trigger::parse(&trigger).unwrap_or(Trigger::Webhook),
        retry_of: row.get(3)?,
        facts: Facts {
            event: row.get(4)?,
            action: row.get(5)?,
            repo: row.get(6)?,
            git_ref: row.get(7)?,
            branch: row.get(8)?,
            tag: row.get(9)?,
            commit: row.get(10)?,
            pusher: row.get(11)?,
            delivery: row.get(12)?,
        },
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        reason: row.get(14)?,
        exit_code: row.get(15)?,
        attempts: row.get(16)?,
        created_at: rfc3339(created),
        started_at: started.map(rfc3339),
        finished_at: finished.map(rfc3339),
        duration_ms: match (started, finished) {
            (Some(s), Some(f)) => Some((f - s).max(0) as u64),
            _ => None,
        },
        output: None,
        steps: steps
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job(hook: &str, delivery: Option<&str>) -> NewJob {
        NewJob {
            hook: hook.to_string(),
            trigger: Trigger::Webhook,
            retry_of: None,
            facts: Facts {
                delivery: delivery.map(str::to_string),
                repo: Some("org/app".to_string()),
                ..Facts::new("push")
            },
            payload: b"{}".to_vec(),
            content_type: Some("application/json".to_string()),
        }
    }

    /// Enqueues one job alone.
    fn enqueue(store: &JobStore, job: NewJob, waiting: Option<i64>) -> Enqueued {
        store.enqueue_batch(vec![job], waiting).unwrap().results[0]
    }

    #[tokio::test]
    async fn a_delivery_id_is_queued_once_even_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = JobStore::open(dir.path()).unwrap();
        let first = enqueue(&store, new_job("app", Some("d1")), None);
        assert!(matches!(first, Enqueued::Queued(_)));
        assert_eq!(
            enqueue(&store, new_job("app", Some("d1")), None),
            Enqueued::Duplicate
        );
        // The same id for another hook is another delivery.
        assert!(matches!(
            enqueue(&store, new_job("other", Some("d1")), None),
            Enqueued::Queued(_)
        ));
        drop(store);
        let (store, _) = JobStore::open(dir.path()).unwrap();
        assert_eq!(
            enqueue(&store, new_job("app", Some("d1")), None),
            Enqueued::Duplicate
        );
    }

    #[tokio::test]
    async fn a_superseded_job_says_which_one_replaced_it_and_loses_its_payload() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = JobStore::open(dir.path()).unwrap();
        let Enqueued::Queued(old) = enqueue(&store, new_job("app", None), None) else {
            panic!("not queued")
        };
        let Enqueued::Queued(new) = enqueue(&store, new_job("app", None), Some(old)) else {
            panic!("not queued")
        };
        let old_job = store.job(old).await.unwrap().unwrap();
        assert_eq!(old_job.state, JobState::Superseded);
        assert_eq!(
            old_job.reason,
            Some(format!("job {new} replaced it while it waited"))
        );
        assert!(store.payload(old).await.unwrap().is_none());
        assert!(store.payload(new).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_job_running_when_the_process_died_is_interrupted_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = JobStore::open(dir.path()).unwrap();
        let Enqueued::Queued(id) = enqueue(&store, new_job("app", None), None) else {
            panic!("not queued")
        };
        store.mark_running(id).await.unwrap();
        store.save_output(id, "half".to_string()).await.unwrap();
        drop(store);
        let (store, interrupted) = JobStore::open(dir.path()).unwrap();
        assert_eq!(interrupted, 1);
        let job = store.job(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Interrupted);
        assert_eq!(job.output.as_deref(), Some("half"));
        assert!(job.finished_at.is_some());
    }

    #[tokio::test]
    async fn a_burst_in_one_batch_keeps_only_its_newest_job_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = JobStore::open(dir.path()).unwrap();
        let Enqueued::Queued(before) = enqueue(&store, new_job("app", Some("d0")), None) else {
            panic!("not queued")
        };
        let burst = vec![
            new_job("app", Some("d1")),
            new_job("app", Some("d0")),
            new_job("app", Some("d2")),
        ];
        let batch = store.enqueue_batch(burst, Some(before)).unwrap();
        assert_eq!(batch.results[1], Enqueued::Duplicate);
        let Enqueued::Queued(newest) = batch.results[2] else {
            panic!("not queued")
        };
        assert_eq!((batch.waiting, batch.superseded), (Some(newest), 2));
        let waiting = store
            .jobs(JobQuery {
                hook: None,
                state: Some(JobState::Queued),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(waiting.iter().map(|j| j.id).collect::<Vec<_>>(), [newest]);
    }

    #[tokio::test]
    async fn jobs_list_newest_first_filtered_by_hook_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = JobStore::open(dir.path()).unwrap();
        for hook in ["a", "b", "a"] {
            enqueue(&store, new_job(hook, None), None);
        }
        let query = JobQuery {
            hook: Some("a".to_string()),
            state: Some(JobState::Queued),
            limit: 10,
        };
        let jobs = store.jobs(query).await.unwrap();
        assert_eq!(jobs.len(), 2);
        assert!(jobs[0].id > jobs[1].id);
        assert!(jobs.iter().all(|j| j.output.is_none()));
    }
}
