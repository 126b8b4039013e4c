//! One lock per verifying key, so concurrent requests for a key build it once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A lock per verifying key: concurrent requests for one key build it once, and a request for
/// a ladder key (`16x16`) never waits behind a layout's build (which can take minutes).
/// Lock order: a key's lock, then `AggregationCache::building` (or `CircuitCache::building`),
/// then the cache's `circuits`; one request holds one key's lock, and the map's own lock is
/// never held while taking another, so no cycle (no deadlock) is possible.
#[derive(Debug, Default)]
pub(super) struct KeyLocks {
    /// An entry is removed when the last request for its key lets go, so the map holds only
    /// keys being built (keys are bounded by shapes and layouts anyway, but a removed entry
    /// costs nothing to make again, next to the build it guards).
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl KeyLocks {
    /// `key`'s lock, made if no request holds it.
    fn entry(&self, key: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(key.to_owned()).or_default())
    }

    /// Runs `f` holding `key`'s lock (only that key's).
    pub(super) fn with<R>(&self, key: &str, f: impl FnOnce() -> R) -> R {
        /// Removes the entry on the way out, a panic in `f` included.
        struct Release<'a> {
            locks: &'a KeyLocks,
            key: &'a str,
            lock: Arc<Mutex<()>>,
        }
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                let mut locks = self.locks.locks.lock().unwrap_or_else(|e| e.into_inner());
                // Clones are only made under the map's lock, so 2 (the map's and ours) means
                // no other request holds or waits for this key.
                if Arc::strong_count(&self.lock) == 2 {
                    locks.remove(self.key);
                }
            }
        }
        let release = Release {
            locks: self,
            key,
            lock: self.entry(key),
        };
        let _held = release.lock.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_locks_hold_one_request_per_key() {
        let locks = KeyLocks::default();
        let count = |locks: &KeyLocks| locks.locks.lock().unwrap().len();
        let (outer_free, inner_free) = locks.with("agg-b2048-t6-p4096", || {
            // Another key is taken while this one is held; neither can be taken twice.
            locks.with("16x16", || {
                (
                    locks.entry("agg-b2048-t6-p4096").try_lock().is_ok(),
                    locks.entry("16x16").try_lock().is_ok(),
                )
            })
        });
        assert!(!outer_free && !inner_free);
        // Free again, and the entries are gone once no request holds them.
        assert!(locks.entry("16x16").try_lock().is_ok());
        locks.with("16x16", || ());
        assert_eq!(count(&locks), 0);
        // An entry a waiting request holds is kept for it.
        let waiting = locks.entry("16x16");
        locks.with("16x16", || ());
        assert_eq!(count(&locks), 1);
        assert!(waiting.try_lock().is_ok());
    }
}
