//! The batch circuit of aggregation alone, a batch of four records: a partial batch exposes
//! exactly the native summary (a real proof), and each batch check refuses its cheat, found by
//! the constraint finder (`tests/common/constraints.rs`) without proving: records out of order,
//! a real record flagged as padding, flags with a hole, a repeated id, a batch index beyond the
//! tree; each beside an honest control. The circuit names none of these checks, so a test
//! labels one by what it computes from (`Finder::derived`): for example the range-checked
//! differences of the two ids an order check compares.

#[path = "common/constraints.rs"]
mod constraints;

use constraints::{assert_accepted, assert_refused_by, Finder, Tamper};
use plonky2::field::types::Field;
use plonky2::iop::target::Target;
use std::sync::OnceLock;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::SLOTS;
use zkattr_model::{Epoch, Query, Slot};
use zkattr_plonky2::aggregation::batch::{expected_summary, BatchCircuit};
use zkattr_plonky2::aggregation::native::Challenges;
use zkattr_plonky2::native::F;

/// Steps from a record's id limbs to the values its order check range-checks
/// (`((current − previous − 1) + borrow · 2^32) · enabled`).
const ORDER_STEPS: usize = 4;

/// The batch circuit of `agg-b4-*` layouts, built once.
fn batch() -> &'static BatchCircuit {
    static BATCH: OnceLock<BatchCircuit> = OnceLock::new();
    BATCH.get_or_init(|| BatchCircuit::build(2))
}

fn epoch() -> Epoch {
    generate(&SynthConfig::new(10, 5, 21))
}

/// Challenges with `α` outside F_p (its second limb nonzero), as the final layer's derivation
/// guarantees; the batch circuit takes them as inputs.
fn challenges() -> Challenges {
    Challenges::from_fields([3, 5, 7, 11].map(F::from_canonical_u64))
}

fn four(epoch: &Epoch) -> [Query; 4] {
    let q = &epoch.queries;
    [q[0], q[1], q[2], q[3]]
}

/// The zero constant's copy class, pinned at zero: a check that connects a product to zero
/// then fails at that product's own gate.
fn zero_pinned(finder: &Finder<'_>) -> Tamper {
    let zero = finder
        .constant_target(F::ZERO)
        .expect("the circuit uses zero");
    Tamper::new().set(zero, F::ZERO)
}

fn labels(set: impl IntoIterator<Item = Target>) -> Vec<Target> {
    set.into_iter().collect()
}

fn limb(value: u64, which: usize) -> F {
    F::from_canonical_u64((value >> (32 * which)) & 0xffff_ffff)
}

#[test]
fn a_partial_batch_exposes_the_native_summary() {
    let (epoch, batch) = (epoch(), batch());
    let (p, q, ch) = (epoch.params, &epoch.queries, challenges());
    let partial = batch.prove(p, ch, 2, &q[8..10]).unwrap();
    assert_eq!(
        partial.public_inputs,
        expected_summary(p, ch, 2, 2, &q[8..10]).unwrap()
    );
    assert_eq!(partial.public_inputs[17], F::from_canonical_u64(2));
    assert!(batch.data.verify(partial).is_ok());
}

#[test]
fn four_honest_records_are_accepted() {
    let (epoch, batch) = (epoch(), batch());
    let finder = Finder::new(&batch.data);
    let honest = batch
        .witness(epoch.params, challenges(), 0, &four(&epoch))
        .unwrap();
    assert_accepted(
        &finder,
        &honest,
        &zero_pinned(&finder),
        "four honest records",
    );
}

#[test]
fn records_out_of_order_are_refused_by_the_order_check() {
    let (epoch, batch) = (epoch(), batch());
    let finder = Finder::new(&batch.data);
    let q = &epoch.queries;
    let swapped = batch
        .witness(epoch.params, challenges(), 0, &[q[1], q[0], q[2], q[3]])
        .unwrap();
    let ids: Vec<Target> = (0..2)
        .flat_map(|i| batch.query_targets(i).query_id())
        .collect();
    assert_refused_by(
        &finder,
        &swapped,
        &zero_pinned(&finder),
        "RangeCheckGate",
        &labels(finder.derived(&ids, ORDER_STEPS)),
        "records 0 and 1 swapped",
    );
}

/// A real record flagged as padding: its shares would enter the totals and the accumulator
/// while the log root leaves it out. The stray-value check (`value · (1 − real) = 0` for its
/// fee and adapters) refuses it.
#[test]
fn a_record_hidden_as_padding_is_refused_by_the_stray_value_check() {
    let (epoch, batch) = (epoch(), batch());
    let finder = Finder::new(&batch.data);
    let honest = batch
        .witness(epoch.params, challenges(), 0, &four(&epoch))
        .unwrap();
    let flag = batch.prefix().real[3].target;
    let hidden = zero_pinned(&finder)
        .set(flag, F::ZERO)
        .set(batch.prefix().count, F::from_canonical_u64(3));
    // Products of record 3's fee or adapters with its flag's complement.
    let record = batch.query_targets(3);
    let values: Vec<Target> = record.adapter().into_iter().chain([record.fee()]).collect();
    let of_values = finder.derived(&values, 1);
    let of_flag = finder.derived(&[flag], 2);
    let stray = of_flag.into_iter().filter(|t| of_values.contains(t));
    assert_refused_by(
        &finder,
        &honest,
        &hidden,
        "ArithmeticGate",
        &labels(stray),
        "record 3 flagged as padding",
    );
}

/// Real-record flags with a hole (1, 0, 1, 1; count 3). Record 1 carries no fee and no
/// adapter, so only the prefix check (`real_2 · (1 − real_1) = 0`) can object.
#[test]
fn flags_with_a_hole_are_refused_by_the_prefix_check() {
    let (epoch, batch) = (epoch(), batch());
    let finder = Finder::new(&batch.data);
    let mut holed = four(&epoch);
    holed[1].fee = 0;
    holed[1].slots = [Slot::UNUSED; SLOTS];
    let inputs = batch
        .witness(epoch.params, challenges(), 0, &holed)
        .unwrap();
    assert_accepted(
        &finder,
        &inputs,
        &zero_pinned(&finder),
        "the control: a real record without fee or slots",
    );
    let flags = &batch.prefix().real;
    let hole = zero_pinned(&finder)
        .set(flags[1].target, F::ZERO)
        .set(batch.prefix().count, F::from_canonical_u64(3));
    assert_refused_by(
        &finder,
        &inputs,
        &hole,
        "ArithmeticGate",
        &labels(finder.derived(&[flags[2].target], 1)),
        "flags 1, 0, 1, 1",
    );
}

/// A repeated query id (ids must strictly increase).
#[test]
fn a_repeated_query_id_is_refused_by_the_order_check() {
    let (epoch, batch) = (epoch(), batch());
    let finder = Finder::new(&batch.data);
    let q = &epoch.queries;
    let honest = batch
        .witness(epoch.params, challenges(), 0, &four(&epoch))
        .unwrap();
    let ids = batch.query_targets(1).query_id();
    let repeated = zero_pinned(&finder)
        .set(ids[0], limb(q[0].query_id, 0))
        .set(ids[1], limb(q[0].query_id, 1));
    assert_refused_by(
        &finder,
        &honest,
        &repeated,
        "RangeCheckGate",
        &labels(finder.derived(&ids, ORDER_STEPS)),
        "record 1 repeating record 0's id",
    );
}

// A wrong inverse of `α − adapter` is the payout-terms gate's own generator's to fill; its
// constraint is tampered with in real proofs in `zkattr-plonky2-gates` (payout.rs,
// `real_proofs_refuse_each_tampered_wire`).

/// A batch index beyond the tree: 2^(32 − height) batches fit at depth 32; the last one is
/// accepted, the next refused by the index's range check.
#[test]
fn a_batch_index_beyond_the_tree_is_refused_by_its_range_check() {
    let (epoch, batch) = (epoch(), batch());
    let finder = Finder::new(&batch.data);
    let fit = 1u64 << (32 - batch.height);
    let witness = |index| {
        batch
            .witness(epoch.params, challenges(), index, &four(&epoch))
            .unwrap()
    };
    assert_accepted(
        &finder,
        &witness(fit - 1),
        &zero_pinned(&finder),
        "the last index",
    );
    // The index is public input 4 (after the epoch id's two limbs, the rate and the height).
    let index = batch.data.prover_only.public_inputs[4];
    let mut checked = vec![index];
    checked.extend(finder.derived(&[index], 1));
    assert_refused_by(
        &finder,
        &witness(fit),
        &zero_pinned(&finder),
        "RangeCheckGate",
        &checked,
        "index 2^30",
    );
}
