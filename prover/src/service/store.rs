//! The job store: the state machine of every proof job, behind the small [`JobStore`] trait, and
//! its SQLite implementation.
//!
//! States: `queued` -> `running` (phase `validating`, `proving`, `aggregating`) -> `done` |
//! `failed`; `queued` or `running` -> `cancelled`. A claim is a transition `queued -> running`
//! made in one transaction, so two workers never get the same job; every later write of a worker
//! names the attempt it claimed and is ignored if the job has moved on (cancelled, or re-queued
//! after a restart). See docs/service.md for how a PostgreSQL store would do the same for a fleet.

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Why the store could not do what was asked.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("job store (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("job store: corrupt row for job {job}: {message}")]
    Corrupt { job: String, message: String },
    #[error("the queue is full: {active} jobs are queued or running (limit {limit})")]
    QueueFull { active: u64, limit: u64 },
    #[error("job store: the lock is poisoned (a thread panicked while holding it)")]
    Poisoned,
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    /// Failed or cancelled: what `retry` may queue again.
    pub fn is_retryable(self) -> bool {
        matches!(self, JobState::Failed | JobState::Cancelled)
    }

    /// Done, failed or cancelled: nothing will change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

/// What a running job is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Validating,
    Proving,
    Aggregating,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Validating => "validating",
            Phase::Proving => "proving",
            Phase::Aggregating => "aggregating",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "validating" => Phase::Validating,
            "proving" => Phase::Proving,
            "aggregating" => Phase::Aggregating,
            _ => return None,
        })
    }
}

/// One stored part of an epoch: which part, and its content id in the artifact folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    /// `epoch_json`, `activations_csv` or `influence_csv`.
    pub part: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
}

/// What a submission creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    pub id: String,
    pub content_hash: String,
    /// `plonky2` or `halo2`.
    pub backend: String,
    /// `json` or `csv_pair`.
    pub format: String,
    pub epoch_id: u64,
    pub rate_bps: u16,
    pub n_queries: u64,
    pub shape: String,
    pub parts: Vec<StoredPart>,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: String,
    /// Insertion order, for paging.
    pub seq: i64,
    pub content_hash: String,
    pub backend: String,
    pub format: String,
    pub epoch_id: u64,
    pub rate_bps: u16,
    pub n_queries: u64,
    pub shape: String,
    pub parts: Vec<StoredPart>,
    pub state: JobState,
    pub phase: Option<Phase>,
    pub batch_index: u32,
    pub batch_count: u32,
    pub message: String,
    pub error: String,
    pub attempts: u32,
    /// Claims that did not end in a crash: given back by a graceful stop, or forgiven by a
    /// retry. [`JobStore::recover`] counts `attempts - stops` as the job's crashes.
    pub stops: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub vk_digest: String,
    pub bundle_files: Vec<String>,
}

/// A worker's progress report for a job it claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    pub batch_index: u32,
    pub batch_count: u32,
    pub message: String,
}

/// How a claimed job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done {
        vk_digest: String,
        bundle_files: Vec<String>,
    },
    Failed {
        reason: String,
    },
}

/// The store of proof jobs. Implementations must make [`JobStore::claim_next`] atomic across
/// every process that shares the store, and make every write of a claimed job conditional on the
/// claim (`attempt`) still holding.
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Inserts `job` as queued, unless a job with the same id exists: then returns that one
    /// (`false`). Refuses with [`StoreError::QueueFull`] when `queue_limit` jobs are already
    /// queued or running.
    fn insert_or_get(
        &self,
        job: &NewJob,
        queue_limit: u64,
    ) -> Result<(JobRecord, bool), StoreError>;
    fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;
    /// Jobs newest first, with `seq < before` when given, at most `limit`.
    fn list(
        &self,
        state: Option<JobState>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;
    /// Claims the oldest queued job: `queued -> running` (phase validating), attempts + 1.
    fn claim_next(&self) -> Result<Option<JobRecord>, StoreError>;
    /// Records progress of a job claimed at `attempt`; `None` if the claim no longer holds.
    fn progress(
        &self,
        id: &str,
        attempt: u32,
        progress: &Progress,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Ends a job claimed at `attempt`; `None` if the claim no longer holds. `Done` is also
    /// taken while the job is queued at the same attempt (the claim was given back by
    /// [`JobStore::release`] and nobody has claimed it since).
    fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Outcome,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Cancels a queued or running job; returns the job as it is afterwards (`None`: no such job).
    fn cancel(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;
    /// Queues a failed or cancelled job again (`failed | cancelled -> queued`), clearing its
    /// error and forgetting its crashes, so [`JobStore::recover`] counts only the ones after the
    /// retry. Returns the job afterwards and whether it moved (`false`: it was queued, running
    /// or done, and is unchanged); `None`: no such job. Refuses with [`StoreError::QueueFull`]
    /// when `queue_limit` jobs are already queued or running.
    fn retry(&self, id: &str, queue_limit: u64) -> Result<Option<(JobRecord, bool)>, StoreError>;
    /// Shutdown: gives a job claimed at `attempt` back to the queue (`running -> queued`) and
    /// records the stop, so [`JobStore::recover`] does not count it against the job. `None` if
    /// the claim no longer holds. The attempt number is kept, so the stopped worker's later
    /// writes stay refused.
    fn release(&self, id: &str, attempt: u32) -> Result<Option<JobRecord>, StoreError>;
    /// Start-up recovery: re-queues running jobs, or fails those whose process has died
    /// `max_attempts` times while proving them (claims given back by [`JobStore::release`]
    /// do not count). Returns the re-queued and the failed jobs.
    fn recover(&self, max_attempts: u32) -> Result<(Vec<String>, Vec<String>), StoreError>;
    /// Removes a done, failed or cancelled job's row. Returns what happened, with the digests of
    /// the job's parts that no remaining job references (the caller removes their files).
    fn delete(&self, id: &str) -> Result<Deletion, StoreError>;
    /// Whether any job references the part with this hex SHA-256.
    fn references_part(&self, sha256: &str) -> Result<bool, StoreError>;
    /// Ids of the done, failed or cancelled jobs last changed before `updated_ms`.
    fn ended_before(&self, updated_ms: i64) -> Result<Vec<String>, StoreError>;
}

/// What [`JobStore::delete`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Deletion {
    /// No such job.
    NotFound,
    /// The job is queued or running (its state) and was left alone.
    Active(JobState),
    /// The row is gone; these parts (hex SHA-256) were referenced by this job only.
    Deleted { orphan_parts: Vec<String> },
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    content_hash  TEXT NOT NULL,
    backend       TEXT NOT NULL,
    format        TEXT NOT NULL,
    epoch_id      INTEGER NOT NULL, -- the u64's bit pattern
    rate_bps      INTEGER NOT NULL,
    n_queries     INTEGER NOT NULL,
    shape         TEXT NOT NULL,
    parts         TEXT NOT NULL,
    state         TEXT NOT NULL,
    phase         TEXT,
    batch_index   INTEGER NOT NULL DEFAULT 0,
    batch_count   INTEGER NOT NULL DEFAULT 0,
    message       TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    stops         INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    vk_digest     TEXT NOT NULL DEFAULT '',
    bundle_files  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_state_seq ON jobs(state, seq);
";

const COLUMNS: &str = "seq, id, content_hash, backend, format, epoch_id, rate_bps, n_queries, shape, parts, state, phase, batch_index, batch_count, message, error, attempts, stops, created_ms, updated_ms, vk_digest, bundle_files";

/// The embedded job store: one SQLite file (WAL mode, synchronous FULL), one connection behind
/// a mutex; every change is one transaction.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let mut conn = conn;
        // Stores created before graceful stops were counted lack the column; checked and added
        // in one write transaction, so two processes opening an old store cannot both add it.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let has_stops: bool = tx.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('jobs') WHERE name = 'stops'",
            [],
            |r| r.get(0),
        )?;
        if !has_stops {
            tx.execute_batch("ALTER TABLE jobs ADD COLUMN stops INTEGER NOT NULL DEFAULT 0")?;
        }
        tx.commit()?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut conn)
    }
}

fn corrupt(id: &str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        job: id.to_string(),
        message: message.into(),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// SQLite integers are i64; an epoch id may be any u64 (SPEC), so it is kept as its 64-bit
/// pattern (ids from 2^63 read as negative in SQL) and every id round-trips. A saturating
/// conversion would have made the worker prove a CSV job for another epoch id.
fn epoch_id_to_sql(id: u64) -> i64 {
    i64::from_le_bytes(id.to_le_bytes())
}

fn epoch_id_from_sql(stored: i64) -> u64 {
    u64::from_le_bytes(stored.to_le_bytes())
}

fn record(row: &Row<'_>) -> Result<JobRecord, StoreError> {
    let id: String = row.get("id")?;
    let state: String = row.get("state")?;
    let phase: Option<String> = row.get("phase")?;
    let parts: String = row.get("parts")?;
    let files: String = row.get("bundle_files")?;
    let epoch_id: i64 = row.get("epoch_id")?;
    let n_queries: i64 = row.get("n_queries")?;
    let rate_bps: i64 = row.get("rate_bps")?;
    Ok(JobRecord {
        seq: row.get("seq")?,
        content_hash: row.get("content_hash")?,
        backend: row.get("backend")?,
        format: row.get("format")?,
        epoch_id: epoch_id_from_sql(epoch_id),
        rate_bps: u16::try_from(rate_bps).map_err(|_| corrupt(&id, "rate_bps out of range"))?,
        n_queries: u64::try_from(n_queries).map_err(|_| corrupt(&id, "negative n_queries"))?,
        shape: row.get("shape")?,
        parts: serde_json::from_str(&parts).map_err(|e| corrupt(&id, format!("parts: {e}")))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(&id, format!("state {state:?}")))?,
        phase: match phase {
            None => None,
            Some(p) => Some(Phase::parse(&p).ok_or_else(|| corrupt(&id, format!("phase {p:?}")))?),
        },
        batch_index: row.get("batch_index")?,
        batch_count: row.get("batch_count")?,
        message: row.get("message")?,
        error: row.get("error")?,
        attempts: row.get("attempts")?,
        stops: row.get("stops")?,
        created_ms: row.get("created_ms")?,
        updated_ms: row.get("updated_ms")?,
        vk_digest: row.get("vk_digest")?,
        bundle_files: serde_json::from_str(&files)
            .map_err(|e| corrupt(&id, format!("bundle_files: {e}")))?,
        id,
    })
}

fn get_in(conn: &Connection, id: &str) -> Result<Option<JobRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?;
    let mut rows = stmt.query(params![id])?;
    match rows.next()? {
        Some(row) => Ok(Some(record(row)?)),
        None => Ok(None),
    }
}

fn active_in(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl JobStore for SqliteStore {
    fn insert_or_get(
        &self,
        job: &NewJob,
        queue_limit: u64,
    ) -> Result<(JobRecord, bool), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(existing) = get_in(&tx, &job.id)? {
                return Ok((existing, false));
            }
            let active = active_in(&tx)?;
            if active >= queue_limit {
                return Err(StoreError::QueueFull {
                    active,
                    limit: queue_limit,
                });
            }
            let parts = serde_json::to_string(&job.parts)
                .map_err(|e| corrupt(&job.id, format!("parts: {e}")))?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO jobs (id, content_hash, backend, format, epoch_id, rate_bps, n_queries, shape, parts, state, message, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', 'waiting for a worker', ?10, ?10)",
                params![
                    job.id,
                    job.content_hash,
                    job.backend,
                    job.format,
                    epoch_id_to_sql(job.epoch_id),
                    job.rate_bps,
                    to_i64(job.n_queries),
                    job.shape,
                    parts,
                    now
                ],
            )?;
            let inserted = get_in(&tx, &job.id)?.ok_or_else(|| corrupt(&job.id, "vanished"))?;
            tx.commit()?;
            Ok((inserted, true))
        })
    }

    fn get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| get_in(conn, id))
    }

    fn list(
        &self,
        state: Option<JobState>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE (?1 IS NULL OR state = ?1) AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
            ))?;
            let mut rows = stmt.query(params![
                state.map(JobState::as_str),
                before.unwrap_or(i64::MAX),
                limit
            ])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(record(row)?);
            }
            Ok(out)
        })
    }

    fn claim_next(&self) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id: Option<String> = tx
                .query_row(
                    "SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE jobs SET state = 'running', phase = 'validating', attempts = attempts + 1,
                 batch_index = 0, batch_count = 0, message = 'reading the epoch', error = '', updated_ms = ?2
                 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            let claimed = get_in(&tx, &id)?;
            tx.commit()?;
            Ok(claimed)
        })
    }

    fn progress(
        &self,
        id: &str,
        attempt: u32,
        progress: &Progress,
    ) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE jobs SET phase = ?3, batch_index = ?4, batch_count = ?5, message = ?6, updated_ms = ?7
                 WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                params![
                    id,
                    attempt,
                    progress.phase.as_str(),
                    progress.batch_index,
                    progress.batch_count,
                    progress.message,
                    now_ms()
                ],
            )?;
            let job = if n == 1 { get_in(&tx, id)? } else { None };
            tx.commit()?;
            Ok(job)
        })
    }

    fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Outcome,
    ) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let n = match outcome {
                Outcome::Done {
                    vk_digest,
                    bundle_files,
                } => {
                    let files = serde_json::to_string(bundle_files)
                        .map_err(|e| corrupt(id, format!("bundle_files: {e}")))?;
                    tx.execute(
                        // Also after a shutdown gave the claim back: the proof is as good, and a
                        // new claim would have bumped the attempt.
                        "UPDATE jobs SET state = 'done', phase = NULL, message = 'proof ready', vk_digest = ?3,
                         bundle_files = ?4, updated_ms = ?5
                         WHERE id = ?1 AND attempts = ?2 AND state IN ('running', 'queued')",
                        params![id, attempt, vk_digest, files, now_ms()],
                    )?
                }
                Outcome::Failed { reason } => tx.execute(
                    "UPDATE jobs SET state = 'failed', phase = NULL, message = 'failed', error = ?3, updated_ms = ?4
                     WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                    params![id, attempt, reason, now_ms()],
                )?,
            };
            let job = if n == 1 { get_in(&tx, id)? } else { None };
            tx.commit()?;
            Ok(job)
        })
    }

    fn cancel(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE jobs SET state = 'cancelled', phase = NULL, message = 'cancelled', updated_ms = ?2
                 WHERE id = ?1 AND state IN ('queued', 'running')",
                params![id, now_ms()],
            )?;
            let job = get_in(&tx, id)?;
            tx.commit()?;
            Ok(job)
        })
    }

    fn retry(&self, id: &str, queue_limit: u64) -> Result<Option<(JobRecord, bool)>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(job) = get_in(&tx, id)? else {
                return Ok(None);
            };
            if !job.state.is_retryable() {
                return Ok(Some((job, false)));
            }
            let active = active_in(&tx)?;
            if active >= queue_limit {
                return Err(StoreError::QueueFull {
                    active,
                    limit: queue_limit,
                });
            }
            // `stops = attempts`: the crash count (`attempts - stops`) starts again from zero.
            // The attempt number is kept: the next claim moves past it, which fences off a
            // cancelled attempt still running. Until then such an attempt could still record
            // `Done` (as after `release`), so the service refuses a retry while one of its
            // workers holds the job.
            tx.execute(
                "UPDATE jobs SET state = 'queued', phase = NULL, batch_index = 0, batch_count = 0,
                 message = 'queued again: retry requested', error = '', stops = attempts,
                 vk_digest = '', bundle_files = '[]', updated_ms = ?2
                 WHERE id = ?1",
                params![id, now_ms()],
            )?;
            let queued = get_in(&tx, id)?.ok_or_else(|| corrupt(id, "vanished"))?;
            tx.commit()?;
            Ok(Some((queued, true)))
        })
    }

    fn release(&self, id: &str, attempt: u32) -> Result<Option<JobRecord>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE jobs SET state = 'queued', phase = NULL, batch_index = 0, batch_count = 0,
                 stops = stops + 1, message = 'queued again: the service stopped while proving it',
                 updated_ms = ?3
                 WHERE id = ?1 AND attempts = ?2 AND state = 'running'",
                params![id, attempt, now_ms()],
            )?;
            let job = if n == 1 { get_in(&tx, id)? } else { None };
            tx.commit()?;
            Ok(job)
        })
    }

    fn recover(&self, max_attempts: u32) -> Result<(Vec<String>, Vec<String>), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Only the claims that ended with the process count: not the released ones.
            let running: Vec<(String, u32)> = {
                let mut stmt = tx.prepare(
                    "SELECT id, MAX(attempts - stops, 0) FROM jobs WHERE state = 'running'",
                )?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let (mut requeued, mut failed) = (Vec::new(), Vec::new());
            let now = now_ms();
            for (id, attempts) in running {
                if attempts >= max_attempts {
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', phase = NULL, message = 'failed', error = ?2, updated_ms = ?3 WHERE id = ?1",
                        params![
                            id,
                            format!("abandoned: the service ended without a shutdown (a crash or a kill) while proving this job {attempts} times"),
                            now
                        ],
                    )?;
                    failed.push(id);
                } else {
                    tx.execute(
                        "UPDATE jobs SET state = 'queued', phase = NULL, batch_index = 0, batch_count = 0,
                         message = 're-queued after a restart', updated_ms = ?2 WHERE id = ?1",
                        params![id, now],
                    )?;
                    requeued.push(id);
                }
            }
            tx.commit()?;
            Ok((requeued, failed))
        })
    }

    fn delete(&self, id: &str) -> Result<Deletion, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(job) = get_in(&tx, id)? else {
                return Ok(Deletion::NotFound);
            };
            if !job.state.is_terminal() {
                return Ok(Deletion::Active(job.state));
            }
            tx.execute("DELETE FROM jobs WHERE id = ?1", params![id])?;
            let mut orphan_parts = Vec::new();
            for part in &job.parts {
                if !references_in(&tx, &part.sha256)? && !orphan_parts.contains(&part.sha256) {
                    orphan_parts.push(part.sha256.clone());
                }
            }
            tx.commit()?;
            Ok(Deletion::Deleted { orphan_parts })
        })
    }

    fn references_part(&self, sha256: &str) -> Result<bool, StoreError> {
        self.with(|conn| references_in(conn, sha256))
    }

    fn ended_before(&self, updated_ms: i64) -> Result<Vec<String>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND updated_ms < ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![updated_ms], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

/// Whether a job's parts list names `sha256` (a 64-digit hex digest, so a substring match of
/// the quoted digest in the stored JSON is exact).
fn references_in(conn: &Connection, sha256: &str) -> Result<bool, StoreError> {
    let pattern = format!("%\"{sha256}\"%");
    let found: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM jobs WHERE parts LIKE ?1)",
        params![pattern],
        |r| r.get(0),
    )?;
    Ok(found)
}

/// A small queued job for the service's unit tests.
#[cfg(test)]
pub(crate) fn sample_job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        content_hash: format!("sha256:{id}"),
        backend: "plonky2".into(),
        format: "json".into(),
        epoch_id: 1,
        rate_bps: 2500,
        n_queries: 3,
        shape: "16x16".into(),
        parts: vec![StoredPart {
            part: "epoch_json".into(),
            sha256: "ab".into(),
            size: 9,
        }],
    }
}

#[cfg(test)]
mod tests;
