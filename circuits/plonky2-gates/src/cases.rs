//! SPEC's twelve cases ("What a proof must rule out"), as the circuits label their constraints
//! for the negative tests, and the test-only switches that remove one case's constraint.
//!
//! [`removed`] is `false` unless the off-by-default `mutation` feature is on and a test has
//! switched the case off with [`with_removed`] on its own thread, so a circuit built without
//! the feature (every release build) or with no switch set is the same circuit.

/// One of SPEC's cases, numbered as SPEC numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Case {
    /// (1) A share that is not the floor.
    ShareFloor = 1,
    /// (2) A remainder not below its divisor.
    RemainderBound = 2,
    /// (3) A negative score that was paid.
    NegativeScore = 3,
    /// (4) A slot dropped or duplicated between the per-query view and the per-adapter totals.
    SlotMultiset = 4,
    /// (5) An adapter id that differs between the two logs.
    AdapterAcrossLogs = 5,
    /// (6) A query out of order or repeated.
    QueryOrder = 6,
    /// (7) Slots not in canonical form.
    CanonicalSlots = 7,
    /// (8) A log that does not open to its published commitment.
    LogOpening = 8,
    /// (9) A payout list out of order.
    PayoutOrder = 9,
    /// (10) A payout commitment that does not open to the per-adapter totals.
    PayoutTotals = 10,
    /// (11) Totals that do not add up.
    Totals = 11,
    /// (12) A value that wraps the field.
    FieldWrap = 12,
}

impl Case {
    /// All twelve, in SPEC's order.
    pub const ALL: [Case; 12] = [
        Case::ShareFloor,
        Case::RemainderBound,
        Case::NegativeScore,
        Case::SlotMultiset,
        Case::AdapterAcrossLogs,
        Case::QueryOrder,
        Case::CanonicalSlots,
        Case::LogOpening,
        Case::PayoutOrder,
        Case::PayoutTotals,
        Case::Totals,
        Case::FieldWrap,
    ];

    /// SPEC's number of the case.
    pub const fn number(self) -> u32 {
        self as u32
    }
}

#[cfg(feature = "mutation")]
thread_local! {
    static REMOVED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether `case`'s constraint is switched off on this thread (never, without the `mutation`
/// feature).
#[cfg(not(feature = "mutation"))]
#[inline(always)]
pub const fn removed(_case: Case) -> bool {
    false
}

/// Whether `case`'s constraint is switched off on this thread.
#[cfg(feature = "mutation")]
pub fn removed(case: Case) -> bool {
    REMOVED.with(|r| r.get() & (1 << case.number()) != 0)
}

/// Runs `f` with `case`'s constraint switched off on this thread: circuits built and gates
/// evaluated inside `f` omit it. Test-only (the `mutation` feature).
#[cfg(feature = "mutation")]
pub fn with_removed<R>(case: Case, f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMOVED.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REMOVED.with(|r| r.replace(r.get() | 1 << case.number())));
    f()
}
