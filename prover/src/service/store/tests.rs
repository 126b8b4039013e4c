//! The job store's tests.

use super::*;

use super::sample_job as job;

fn progress() -> Progress {
    Progress {
        phase: Phase::Proving,
        batch_index: 1,
        batch_count: 1,
        message: "proving".into(),
    }
}

#[test]
fn every_epoch_id_round_trips() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| corrupt("-", e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite"))?;
    for (name, epoch_id) in [("zero", 0), ("top", 1 << 63), ("max", u64::MAX)] {
        let new = NewJob {
            epoch_id,
            ..job(name)
        };
        store.insert_or_get(&new, 10)?;
        let stored = store.get(name)?.ok_or_else(|| corrupt(name, "missing"))?;
        assert_eq!(stored.epoch_id, epoch_id, "{name}");
    }
    Ok(())
}

#[test]
fn state_machine_claims_and_guards() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| corrupt("-", e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite"))?;
    let (a, created) = store.insert_or_get(&job("a"), 2)?;
    assert!(created);
    assert_eq!(a.state, JobState::Queued);
    let (again, created) = store.insert_or_get(&job("a"), 2)?;
    assert!(!created);
    assert_eq!(again.seq, a.seq);
    store.insert_or_get(&job("b"), 2)?;
    assert!(matches!(
        store.insert_or_get(&job("c"), 2),
        Err(StoreError::QueueFull {
            active: 2,
            limit: 2
        })
    ));

    let claimed = store.claim_next()?.map(|j| (j.id, j.attempts, j.phase));
    assert_eq!(claimed, Some(("a".into(), 1, Some(Phase::Validating))));
    assert!(store.progress("a", 1, &progress())?.is_some());
    // A stale claim (attempt 0) changes nothing.
    assert!(store.progress("a", 0, &progress())?.is_none());

    // Restart: a is re-queued, claimed again with attempt 2, and the old attempt cannot finish it.
    assert_eq!(store.recover(3)?, (vec!["a".to_string()], vec![]));
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(2));
    let done = Outcome::Done {
        vk_digest: "0x1".into(),
        bundle_files: vec!["bundle.json".into()],
    };
    assert!(store.finish("a", 1, &done)?.is_none());
    let finished = store.finish("a", 2, &done)?;
    assert_eq!(finished.map(|j| j.state), Some(JobState::Done));

    // Cancel b while queued; a done job stays done.
    assert_eq!(
        store.cancel("b")?.map(|j| j.state),
        Some(JobState::Cancelled)
    );
    assert_eq!(store.cancel("a")?.map(|j| j.state), Some(JobState::Done));
    assert!(store.claim_next()?.is_none());

    let listed: Vec<String> = store
        .list(None, None, 10)?
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(listed, ["b", "a"]);
    let page2 = store.list(None, Some(store.list(None, None, 1)?[0].seq), 10)?;
    assert_eq!(page2.len(), 1);
    assert_eq!(page2[0].id, "a");
    Ok(())
}

#[test]
fn recover_fails_jobs_that_keep_crashing() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| corrupt("-", e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite"))?;
    store.insert_or_get(&job("a"), 10)?;
    for _ in 0..2 {
        store.claim_next()?;
        store.recover(2)?;
    }
    let a = store.get("a")?.map(|j| (j.state, j.error));
    assert!(matches!(a, Some((JobState::Failed, ref e)) if e.contains("abandoned")));
    Ok(())
}

/// A job given back at shutdown is queued again, its stale worker stays fenced off, and
/// shutdowns never count towards the attempt limit; only deaths do.
#[test]
fn released_jobs_are_requeued_and_not_counted_as_crashes() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| corrupt("-", e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite"))?;
    store.insert_or_get(&job("a"), 10)?;
    // Five planned restarts in a row, with a limit of 2.
    for attempt in 1..=5 {
        let claimed = store.claim_next()?.map(|j| j.attempts);
        assert_eq!(claimed, Some(attempt));
        let released = store.release("a", attempt)?;
        let state = released.map(|j| (j.state, j.attempts));
        assert_eq!(state, Some((JobState::Queued, attempt)));
        // The stopped worker can neither report nor finish, nor release twice.
        assert!(store.progress("a", attempt, &progress())?.is_none());
        let failed = Outcome::Failed {
            reason: "late".into(),
        };
        assert!(store.finish("a", attempt, &failed)?.is_none());
        assert!(store.release("a", attempt)?.is_none());
        assert_eq!(store.recover(2)?, (vec![], vec![]));
    }
    // One death is re-queued; the second fails the job.
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(6));
    assert_eq!(store.recover(2)?, (vec!["a".to_string()], vec![]));
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(7));
    assert_eq!(store.recover(2)?, (vec![], vec!["a".to_string()]));
    let error = store.get("a")?.map(|j| j.error).unwrap_or_default();
    assert!(error.contains("2 times"), "{error}");

    // A proof that finished while its claim was being given back still lands, as long as
    // nobody claimed the job again.
    store.insert_or_get(&job("b"), 10)?;
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(1));
    assert!(store.release("b", 1)?.is_some());
    let done = Outcome::Done {
        vk_digest: "0x1".into(),
        bundle_files: vec!["bundle.json".into()],
    };
    assert_eq!(
        store.finish("b", 1, &done)?.map(|j| j.state),
        Some(JobState::Done)
    );
    Ok(())
}

/// A failed or cancelled job can be queued again; its crash count starts over, the
/// cancelled attempt is fenced off once the job is claimed again, and nothing else moves.
#[test]
fn failed_and_cancelled_jobs_can_be_retried() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| corrupt("-", e.to_string()))?;
    let store = SqliteStore::open(&dir.path().join("jobs.sqlite"))?;
    assert!(store.retry("nobody", 10)?.is_none());

    // Two crashes fail a with the limit 2.
    store.insert_or_get(&job("a"), 10)?;
    for _ in 0..2 {
        store.claim_next()?;
        store.recover(2)?;
    }
    assert_eq!(store.get("a")?.map(|j| j.state), Some(JobState::Failed));
    let retried = store
        .retry("a", 10)?
        .map(|(j, moved)| (j.state, j.error, moved));
    assert_eq!(retried, Some((JobState::Queued, String::new(), true)));
    // One crash after the retry is re-queued, not failed: the old crashes were forgotten.
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(3));
    assert_eq!(store.recover(2)?, (vec!["a".to_string()], vec![]));
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(4));
    let failed = Outcome::Failed {
        reason: "out of disk".into(),
    };
    let error = store.finish("a", 4, &failed)?.map(|j| j.error);
    assert_eq!(error.as_deref(), Some("out of disk"));
    assert!(store.retry("a", 10)?.is_some_and(|(_, moved)| moved));

    // A running job cancelled and retried: the cancelled attempt can no longer report, and
    // the next claim's attempt is the one that counts.
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(5));
    store.cancel("a")?;
    assert!(store.retry("a", 10)?.is_some_and(|(_, moved)| moved));
    assert!(store.progress("a", 5, &progress())?.is_none());
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(6));
    assert!(store.finish("a", 5, &failed)?.is_none());

    // Queued, running and done jobs are left as they are.
    store.insert_or_get(&job("b"), 10)?;
    let b = store.retry("b", 10)?.map(|(j, moved)| (j.state, moved));
    assert_eq!(b, Some((JobState::Queued, false)));
    let a = store
        .retry("a", 10)?
        .map(|(j, moved)| (j.state, j.attempts, moved));
    assert_eq!(a, Some((JobState::Running, 6, false)));
    let done = Outcome::Done {
        vk_digest: "0x1".into(),
        bundle_files: vec!["bundle.json".into()],
    };
    store.finish("a", 6, &done)?;
    let a = store.retry("a", 10)?.map(|(j, moved)| (j.state, moved));
    assert_eq!(a, Some((JobState::Done, false)));

    // The queue limit holds for retries too.
    store.cancel("b")?;
    store.insert_or_get(&job("c"), 10)?;
    assert!(matches!(
        store.retry("b", 1),
        Err(StoreError::QueueFull {
            active: 1,
            limit: 1
        })
    ));
    assert_eq!(store.get("b")?.map(|j| j.state), Some(JobState::Cancelled));
    Ok(())
}

/// A store written before the `stops` column existed opens, gains it, and recovers.
#[test]
fn a_store_without_the_stops_column_is_upgraded() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| corrupt("-", e.to_string()))?;
    let path = dir.path().join("jobs.sqlite");
    {
        let store = SqliteStore::open(&path)?;
        store.insert_or_get(&job("a"), 10)?;
        store.claim_next()?;
    }
    {
        let conn = Connection::open(&path)?;
        conn.execute_batch("ALTER TABLE jobs DROP COLUMN stops")?;
    }
    let store = SqliteStore::open(&path)?;
    assert_eq!(store.recover(3)?, (vec!["a".to_string()], vec![]));
    assert_eq!(store.claim_next()?.map(|j| j.attempts), Some(2));
    assert!(store.release("a", 2)?.is_some());
    Ok(())
}
