//! The plonky2 backend's circuit caches: single-proof circuits by shape ([`CircuitCache`]) and
//! the aggregation circuits of the last layout a job used ([`AggregationCache`]).

use super::BackendError;
use std::sync::{Arc, Mutex, Weak};
use zkattr_plonky2::aggregation::{AggregationCircuits, AggregationShape, Progress};
use zkattr_plonky2::prover::StatementCircuit;
use zkattr_plonky2::statement::StatementShape;

/// Built plonky2 circuits, most recently used first. Building is deterministic and costs
/// seconds to a minute, so the service keeps one or two; a 1024-query circuit holds gigabytes.
#[derive(Debug)]
pub struct CircuitCache {
    capacity: usize,
    circuits: Mutex<Vec<Arc<StatementCircuit>>>,
    /// Held while building, so two workers never build the same circuit at once.
    building: Mutex<()>,
}

impl CircuitCache {
    pub fn new(capacity: usize) -> Self {
        CircuitCache {
            capacity: capacity.max(1),
            circuits: Mutex::new(Vec::new()),
            building: Mutex::new(()),
        }
    }

    fn lookup(&self, shape: StatementShape) -> Option<Arc<StatementCircuit>> {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let at = circuits.iter().position(|c| c.shape == shape)?;
        let circuit = circuits.remove(at);
        circuits.insert(0, Arc::clone(&circuit));
        Some(circuit)
    }

    /// The circuit of `shape`, built if not cached; `on_build` is told before a build.
    pub fn get(&self, shape: StatementShape, on_build: impl FnOnce()) -> Arc<StatementCircuit> {
        if let Some(circuit) = self.lookup(shape) {
            return circuit;
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(circuit) = self.lookup(shape) {
            return circuit;
        }
        on_build();
        let started = std::time::Instant::now();
        let circuit = Arc::new(StatementCircuit::build(shape));
        tracing::info!(
            shape = %format!("{}x{}", shape.queries, shape.payees),
            seconds = started.elapsed().as_secs_f64(),
            "built circuit"
        );
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        circuits.insert(0, Arc::clone(&circuit));
        circuits.truncate(self.capacity);
        circuit
    }
}

/// The aggregation circuits of one layout (batch, merges, final and shrink layers): built
/// in seconds to a minute and holding a gigabyte or two at batches of 2,048, so the service
/// keeps the last one a job used (and an idle service holds one set), if its final circuit
/// holds the payout list itself ([`super::plonky2::kept_between_jobs`]). Generic over what it holds so its
/// policy is tested without circuits.
#[derive(Debug)]
pub(super) struct AggregationCache<T = AggregationCircuits> {
    circuits: Mutex<Slots<T>>,
    /// Held while building a set, or a chunked layout's key ([`Self::alone`]), so two workers
    /// never build the same circuits at once and key requests never build side by side. (A
    /// chunked layout's job builds its circuits stage by stage without it: with `--workers 2`,
    /// two such jobs build and prove at once.) Lock order: `building`, then `circuits` (never
    /// the other way round).
    building: Mutex<()>,
}

#[derive(Debug)]
struct Slots<T> {
    cached: Option<(AggregationShape, Arc<T>)>,
    /// The last set built, whatever the policy: a set a key request built without caching it is
    /// reused by a job that waited on `building` while the request still holds it, instead of
    /// being built twice. A `Weak` keeps no circuits alive once the last `Arc` is dropped (only
    /// the `Arc`'s allocation, not the circuits' heap data), so an idle service still holds one
    /// set.
    last_built: Option<(AggregationShape, Weak<T>)>,
}

impl<T> Default for AggregationCache<T> {
    fn default() -> Self {
        AggregationCache {
            circuits: Mutex::new(Slots {
                cached: None,
                last_built: None,
            }),
            building: Mutex::new(()),
        }
    }
}

/// Whether circuits built for a caller replace the cached set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum CachePolicy {
    /// A job's layout: the next job of it reuses the circuits.
    Replace,
    /// A key request's layout: its key is stored on disk, so the circuits are not needed again;
    /// kept only when nothing is cached, so a request never evicts the jobs' layout.
    KeepCached,
}

impl<T> AggregationCache<T> {
    /// Runs `build` while no other build runs.
    pub(super) fn alone<R>(&self, build: impl FnOnce() -> R) -> R {
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        build()
    }

    /// Drops the cache's set (a job still proving with it keeps its own reference): before a
    /// job that builds its own circuits stage by stage, so its peak does not carry them.
    pub(super) fn release(&self) {
        self.circuits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cached = None;
    }

    pub(super) fn cached(&self, shape: AggregationShape) -> Option<Arc<T>> {
        let slots = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .cached
            .as_ref()
            .filter(|(cached, _)| *cached == shape)
            .map(|(_, circuits)| Arc::clone(circuits))
    }

    /// The cached set of `shape`, else the last one built if someone still holds it (cached
    /// now if `policy` is `Replace`, as a build would have been).
    fn reusable(&self, shape: AggregationShape, policy: CachePolicy) -> Option<Arc<T>> {
        let mut slots = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, circuits)) = slots.cached.as_ref().filter(|(s, _)| *s == shape) {
            return Some(Arc::clone(circuits));
        }
        let circuits = slots
            .last_built
            .as_ref()
            .filter(|(s, _)| *s == shape)
            .and_then(|(_, built)| built.upgrade())?;
        if policy == CachePolicy::Replace || slots.cached.is_none() {
            slots.cached = Some((shape, Arc::clone(&circuits)));
        }
        Some(circuits)
    }

    /// The circuits of `shape`, from the cache or from `build` (one build at a time).
    fn get_or_build(
        &self,
        shape: AggregationShape,
        policy: CachePolicy,
        build: impl FnOnce() -> Result<T, BackendError>,
    ) -> Result<Arc<T>, BackendError> {
        if let Some(circuits) = self.cached(shape) {
            return Ok(circuits);
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(circuits) = self.reusable(shape, policy) {
            return Ok(circuits);
        }
        if policy == CachePolicy::Replace {
            // Drop the cache's old set first, so a job's build never holds two.
            self.release();
        }
        let circuits = Arc::new(build()?);
        let mut slots = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        slots.last_built = Some((shape, Arc::downgrade(&circuits)));
        if policy == CachePolicy::Replace || slots.cached.is_none() {
            slots.cached = Some((shape, Arc::clone(&circuits)));
        }
        Ok(circuits)
    }
}

impl AggregationCache {
    pub(super) fn get(
        &self,
        shape: AggregationShape,
        policy: CachePolicy,
        progress: Progress<'_>,
    ) -> Result<Arc<AggregationCircuits>, BackendError> {
        self.get_or_build(shape, policy, || {
            let started = std::time::Instant::now();
            let circuits = AggregationCircuits::build(shape, progress)
                .map_err(|e| BackendError::Failed(e.into()))?;
            tracing::info!(
                layout = %shape.key(),
                seconds = started.elapsed().as_secs_f64(),
                "built aggregation circuits"
            );
            Ok(circuits)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::plonky2::kept_between_jobs;
    use super::*;

    #[test]
    fn a_key_request_never_evicts_the_cached_layout() {
        let cache = AggregationCache::<String>::default();
        let first = "agg-b4-t1-p8".parse::<AggregationShape>().unwrap();
        let second = "agg-b4-t2-p8".parse::<AggregationShape>().unwrap();
        let build = |shape: AggregationShape| move || Ok(shape.key());
        let unreachable = || -> Result<String, BackendError> { panic!("built again") };
        // An empty cache keeps what a key request built.
        let built = cache
            .get_or_build(first, CachePolicy::KeepCached, build(first))
            .unwrap();
        assert!(cache.cached(first).is_some());
        // A key request for another layout builds it and leaves the cached one in place.
        let other = cache
            .get_or_build(second, CachePolicy::KeepCached, build(second))
            .unwrap();
        assert_eq!(*other, second.key());
        assert!(cache.cached(first).is_some() && cache.cached(second).is_none());
        // A job of the cached layout gets the same circuits, not a rebuild.
        let again = cache
            .get_or_build(first, CachePolicy::Replace, unreachable)
            .unwrap();
        assert!(Arc::ptr_eq(&built, &again));
        // A job of another layout replaces it; a failed build caches nothing.
        cache
            .get_or_build(second, CachePolicy::Replace, build(second))
            .unwrap();
        assert!(cache.cached(second).is_some() && cache.cached(first).is_none());
        let third = "agg-b4-t3-p8".parse::<AggregationShape>().unwrap();
        let failed = cache.get_or_build(third, CachePolicy::Replace, || {
            Err(BackendError::Failed(anyhow::anyhow!("out of memory")))
        });
        assert!(failed.is_err() && cache.cached(third).is_none());
        // The failed job's build dropped the old set first, so an idle service holds one.
        assert!(cache.cached(second).is_none());
    }

    #[test]
    fn only_whole_list_layouts_are_kept_and_a_staged_job_releases_the_cache() {
        let whole = "agg-b2048-t4-p32768".parse::<AggregationShape>().unwrap();
        let chunked = "agg-b2048-t7-p1048576-c32768"
            .parse::<AggregationShape>()
            .unwrap();
        assert!(kept_between_jobs(&whole) && !kept_between_jobs(&chunked));
        let cache = AggregationCache::<String>::default();
        let held = cache
            .get_or_build(whole, CachePolicy::Replace, || Ok(whole.key()))
            .unwrap();
        // What a chunked job does first: the cached set goes, a job proving with it keeps it.
        cache.release();
        assert!(cache.cached(whole).is_none());
        assert_eq!(*held, whole.key());
        // Builds run one at a time: `alone` holds the lock a set's build takes.
        let inside = cache.alone(|| cache.building.try_lock().is_err());
        assert!(inside && cache.building.try_lock().is_ok());
    }

    #[test]
    fn a_job_reuses_the_layout_a_key_request_still_holds() {
        let cache = AggregationCache::<String>::default();
        let cached = "agg-b4-t1-p8".parse::<AggregationShape>().unwrap();
        let other = "agg-b4-t2-p8".parse::<AggregationShape>().unwrap();
        let builds = std::cell::Cell::new(0);
        let build = |shape: AggregationShape| {
            let builds = &builds;
            move || {
                builds.set(builds.get() + 1);
                Ok(shape.key())
            }
        };
        cache
            .get_or_build(cached, CachePolicy::Replace, build(cached))
            .unwrap();
        // A key request builds the other layout without caching it and still holds it...
        let held = cache
            .get_or_build(other, CachePolicy::KeepCached, build(other))
            .unwrap();
        assert_eq!(builds.get(), 2);
        assert!(cache.cached(other).is_none());
        // ...so a job of it (one that waited on `building`) takes those circuits and caches them.
        let job = cache
            .get_or_build(other, CachePolicy::Replace, build(other))
            .unwrap();
        assert_eq!(builds.get(), 2, "built again");
        assert!(Arc::ptr_eq(&held, &job));
        assert!(cache.cached(other).is_some() && cache.cached(cached).is_none());

        // Once the request has let go, nothing holds the set and a job builds it again.
        let cache = AggregationCache::<String>::default();
        cache
            .get_or_build(cached, CachePolicy::Replace, build(cached))
            .unwrap();
        drop(
            cache
                .get_or_build(other, CachePolicy::KeepCached, build(other))
                .unwrap(),
        );
        assert_eq!(builds.get(), 4);
        cache
            .get_or_build(other, CachePolicy::Replace, build(other))
            .unwrap();
        assert_eq!(builds.get(), 5);
        assert!(cache.cached(other).is_some() && cache.cached(cached).is_none());
    }
}
