//! The final layer over a stand-in root (tests/common: a circuit that only exposes a summary):
//! the honest list in a real proof with SPEC's public inputs; each cheat carries a root summary
//! consistent with it (the challenges hashed from the cheat's own payout commitment, the
//! accumulator of its own list) and is refused by the one labeled check it aims at and by
//! nothing else, found by evaluating every gate of the built circuit on the generated witness
//! (tests/common/constraints.rs) without proving. Honest aggregation runs end to end in
//! tests/pipeline.rs.

use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::Target;
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::config::Hasher;
use std::sync::OnceLock;
use zkattr_model::commit::{commit_epoch, tag, CommitmentFamily, EpochCommitments};
use zkattr_model::merkle;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::PAYOUT_TREE_DEPTH;
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::aggregation::final_layer::{
    FinalCircuit, PayeeLabels, PayeeWitness, StatementLabels,
};
use zkattr_plonky2::aggregation::native::{
    listed_payees, slot_count_digest, BatchSummary, Challenges, Ext,
};
use zkattr_plonky2::native::F;
use zkattr_plonky2::statement::StatementPublicInputs;
use zkattr_plonky2::GoldilocksFamily;

mod common;
#[path = "common/constraints.rs"]
mod constraints;
use common::{prove_stand_in, stand_in, StandIn};
use constraints::{assert_accepted, assert_refused_by, Finder, Tamper, Violation};

/// The stand-in root covers the whole 16-query epoch: one subtree of height 4.
const HEIGHT: u32 = 4;
const CAPACITY: usize = 8;

struct Setup {
    epoch: Epoch,
    honest: Vec<PayeeWitness>,
    logs: EpochCommitments<zkattr_plonky2::native::Digest>,
    expected: Vec<F>,
    root_circuit: StandIn,
    last: FinalCircuit,
}

impl Setup {
    fn new() -> Self {
        let mut epoch = generate(&SynthConfig::new(16, 6, 3));
        // One large fee, so some payee's amount reaches 2^32 (synthetic fees stay below 10^7).
        epoch.queries[0].fee = 1 << 40;
        let settlement = Settlement::compute(&epoch).unwrap();
        let logs = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
        let expected = StatementPublicInputs::new(&epoch, &settlement, &logs).to_fields();
        let honest = listed_payees(&epoch, &settlement)
            .iter()
            .map(PayeeWitness::from)
            .collect::<Vec<_>>();
        assert!(honest.len() < CAPACITY, "room for one more entry");
        let root_circuit = stand_in(3);
        let last = FinalCircuit::build(&root_circuit.0.verifier_data(), HEIGHT, CAPACITY);
        Setup {
            epoch,
            honest,
            logs,
            expected,
            root_circuit,
            last,
        }
    }

    /// The challenges of the epoch's logs with the payout list `entries[..count]` and its slot
    /// counts committed exactly as given (the leaf hashes the limbs, canonical or not).
    fn challenges(&self, entries: &[PayeeWitness], count: usize) -> Challenges {
        let family = GoldilocksFamily;
        let leaves = entries[..count]
            .iter()
            .map(|e| PoseidonHash::hash_no_pad(&[e.adapter, e.amount[0], e.amount[1]]))
            .collect();
        let root = merkle::root(&family, PAYOUT_TREE_DEPTH, leaves).unwrap();
        let commitments = EpochCommitments {
            payout: family.commitment(tag::PAYOUT_COMMITMENT, &root, count as u64),
            ..self.logs
        };
        let counts: Vec<F> = entries[..count].iter().map(|e| e.slots).collect();
        Challenges::derive(
            &self.epoch.params,
            &commitments,
            &slot_count_digest(&counts),
        )
        .unwrap()
    }

    /// The root summary the batches would expose under the challenges of `entries[..count]`.
    fn summary(&self, entries: &[PayeeWitness], count: usize) -> BatchSummary {
        let ch = self.challenges(entries, count);
        BatchSummary::of_batch(self.epoch.params, ch, HEIGHT, 0, &self.epoch.queries).unwrap()
    }

    /// A root summary that agrees with `entries[..count]` on everything the final layer checks
    /// against it: the list's own challenges, its accumulator under them (the field value of
    /// the limbs), and a total paid (and pool, no treasury) of `paid`.
    fn agreeing(&self, entries: &[PayeeWitness], count: usize, paid: u64) -> BatchSummary {
        let mut summary = self.summary(entries, count);
        summary.accumulator = accumulator(&summary.challenges, &entries[..count]);
        summary.total_paid = paid;
        summary.total_pool = paid;
        summary.treasury = 0;
        summary
    }

    /// The final layer's inputs: a stand-in root proof exposing `summary`, `entries[..count]`
    /// as the list and any further entries in padding positions.
    fn inputs(
        &self,
        summary: &BatchSummary,
        entries: &[PayeeWitness],
        count: usize,
    ) -> PartialWitness<F> {
        let root = prove_stand_in(&self.root_circuit, summary);
        self.last.witness(&root, entries, count).unwrap()
    }

    /// Asserts the list over `summary`, changed by `tamper`, is refused by `gate` constraints
    /// of the check labeled `labels` and by nothing else; returns the violations.
    #[allow(clippy::too_many_arguments)]
    fn refused(
        &self,
        summary: &BatchSummary,
        entries: &[PayeeWitness],
        count: usize,
        tamper: Tamper,
        gate: &str,
        labels: &[Target],
        what: &str,
    ) -> Vec<Violation> {
        let inputs = self.inputs(summary, entries, count);
        assert_refused_by(finder(), &inputs, &tamper, gate, labels, what)
    }

    /// Asserts the list over `summary` satisfies every constraint.
    fn accepted(&self, summary: &BatchSummary, entries: &[PayeeWitness], count: usize, what: &str) {
        let inputs = self.inputs(summary, entries, count);
        assert_accepted(finder(), &inputs, &Tamper::new(), what);
    }

    fn payee(&self, m: usize) -> PayeeLabels {
        self.last.payee_labels()[m]
    }

    fn checks(&self) -> StatementLabels {
        self.last.statement_labels()
    }
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(Setup::new)
}

fn finder() -> &'static Finder<'static> {
    static FINDER: OnceLock<Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| Finder::new(&setup().last.data))
}

/// A tamper that lets each of `targets`' copy classes keep its first value: where a connected
/// check's two sides are both computed (or one is the root proof's public input), the check's
/// own gate is then the one left unsatisfied instead of a witness-generation conflict.
fn first_wins(targets: &[Target]) -> Tamper {
    targets
        .iter()
        .fold(Tamper::new(), |t, target| t.first_write_wins(*target))
}

/// The targets of an extension target.
fn ext_targets(t: ExtensionTarget<2>) -> Vec<Target> {
    t.0.to_vec()
}

fn small(x: u64) -> F {
    F::from_canonical_u64(x)
}

fn ext(x: F) -> Ext {
    QuadraticExtension([x, F::ZERO])
}

/// `Σ (lo + 2^32·hi + β·slots) / (α − adapter)` over `entries`, as the final layer sums them.
fn accumulator(ch: &Challenges, entries: &[PayeeWitness]) -> Ext {
    entries
        .iter()
        .map(|e| {
            let amount = e.amount[0] + e.amount[1] * small(1 << 32);
            (ext(amount) + ch.beta * ext(e.slots)) * (ch.alpha - ext(e.adapter)).inverse()
        })
        .fold(Ext::ZERO, |sum, term| sum + term)
}

/// A list of `adapters` whose amounts sum to `total`: all of it on the first entry, given in
/// two 32-bit limbs (canonical when `total < 2^64`).
fn list_paying(adapters: &[PayeeWitness], total: u64) -> Vec<PayeeWitness> {
    let mut list = adapters.to_vec();
    for e in &mut list {
        e.amount = [F::ZERO; 2];
    }
    list[0].amount = [small(total & 0xffff_ffff), small(total >> 32)];
    list
}

#[test]
fn the_honest_list_proves_specs_public_inputs() {
    let s = setup();
    let n = s.honest.len();
    let summary = s.summary(&s.honest, n);
    s.accepted(&summary, &s.honest, n, "the honest list");
    let root = prove_stand_in(&s.root_circuit, &summary);
    let proof = s.last.prove_entries(&root, &s.honest, n).unwrap();
    s.last.data.verify(proof.clone()).unwrap();
    assert_eq!(proof.public_inputs, s.expected);
}

/// Amounts are two 32-bit limbs. Each cheat keeps the field value of every amount and both
/// limb-column sums once carried (so the accumulator and the totals hold); only the limbs'
/// 32-bit checks refuse it.
#[test]
fn amount_limbs_must_be_below_2_32() {
    let s = setup();
    let n = s.honest.len();

    // Low limb + 2^32, high limb - 1 on a payee paid at least 2^32.
    let mut limbs = s.honest.clone();
    let large = limbs
        .iter()
        .position(|e| e.amount[1] != F::ZERO)
        .expect("the large fee pays someone at least 2^32");
    limbs[large].amount[0] += small(1 << 32);
    limbs[large].amount[1] -= F::ONE;
    s.refused(
        &s.summary(&limbs, n),
        &limbs,
        n,
        Tamper::new(),
        "RangeCheckGate",
        &[s.payee(large).amount[0]],
        "a low amount limb of 2^32 or more",
    );

    // The same on a payee paid below 2^32: the high limb wraps to p - 1, both checks refuse.
    let mut wrapped = s.honest.clone();
    let below = wrapped
        .iter()
        .position(|e| e.amount[1] == F::ZERO)
        .expect("a payee paid below 2^32");
    wrapped[below].amount[0] += small(1 << 32);
    wrapped[below].amount[1] -= F::ONE;
    let violations = s.refused(
        &s.summary(&wrapped, n),
        &wrapped,
        n,
        Tamper::new(),
        "RangeCheckGate",
        &s.payee(below).amount,
        "a high amount limb of p - 1",
    );
    for limb in s.payee(below).amount {
        assert!(
            violations.iter().any(|v| finder().belongs(v, &[limb])),
            "a high amount limb of p - 1: each limb's check refuses it ({violations:?})"
        );
    }

    // A high limb out of range: one unit moved from one low limb to another and 2^-32 the
    // other way between the high limbs; the low limbs stay below 2^32.
    let mut high = s.honest.clone();
    let up = high
        .iter()
        .position(|e| e.amount[0].to_canonical_u64() < u32::MAX as u64)
        .expect("a low limb below 2^32 - 1");
    let down = (0..n)
        .find(|&i| i != up && high[i].amount[0] != F::ZERO)
        .expect("another payee with a non-zero low limb");
    let shift = small(1 << 32).inverse();
    high[up].amount[0] += F::ONE;
    high[up].amount[1] -= shift;
    high[down].amount[0] -= F::ONE;
    high[down].amount[1] += shift;
    s.refused(
        &s.summary(&high, n),
        &high,
        n,
        Tamper::new(),
        "RangeCheckGate",
        &[s.payee(up).amount[1], s.payee(down).amount[1]],
        "a high amount limb of 2^32 or more",
    );
}

/// Two payees out of order: the accumulator is a sum, so order matters to nothing but the
/// step check `adapter - previous - 1 < 2^32` of the second entry.
#[test]
fn adapters_must_strictly_increase() {
    let s = setup();
    let n = s.honest.len();
    let mut swapped = s.honest.clone();
    swapped.swap(0, 1);
    s.refused(
        &s.summary(&swapped, n),
        &swapped,
        n,
        Tamper::new(),
        "RangeCheckGate",
        &[s.payee(1).step],
        "a payout list out of order",
    );
}

/// An adapter that appears in no slot, listed with amount 0 and slot count 0: its accumulator
/// term is zero, so only `slots - 1 < 2^32` refuses it.
#[test]
fn each_payee_must_be_in_a_slot() {
    let s = setup();
    let n = s.honest.len();
    let mut extra = s.honest.clone();
    extra.push(PayeeWitness {
        adapter: s.honest[n - 1].adapter + small(1000),
        amount: [F::ZERO; 2],
        slots: F::ZERO,
    });
    s.refused(
        &s.summary(&extra, n + 1),
        &extra,
        n + 1,
        Tamper::new(),
        "RangeCheckGate",
        &[s.payee(n).extra],
        "a payee in no slot",
    );
}

/// A listed adapter of 2^32 or more (2^32 - 1 after the last one, so the step check holds),
/// with a root summary that agrees with the list: only the adapter's 32-bit check refuses it.
#[test]
fn adapter_ids_must_be_below_2_32() {
    let s = setup();
    let n = s.honest.len();
    let paid = s.summary(&s.honest, n).total_paid;
    s.accepted(
        &s.agreeing(&s.honest, n, paid),
        &s.honest,
        n,
        "the agreeing summary of the honest list (the control)",
    );
    let mut wide = s.honest.clone();
    wide.push(PayeeWitness {
        adapter: s.honest[n - 1].adapter + small(u32::MAX.into()),
        amount: [F::ZERO; 2],
        slots: F::ONE,
    });
    s.refused(
        &s.agreeing(&wide, n + 1, paid),
        &wide,
        n + 1,
        Tamper::new(),
        "RangeCheckGate",
        &[s.payee(n).adapter],
        "an adapter id of 2^32 or more",
    );
}

/// Entries past the count are zero. Neither the tree, the accumulator nor the slot-count
/// digest sees a padding entry, and the limb columns sum every entry, so a padding amount
/// beside a total paid (and pool) that much higher keeps the totals: only `value · (1 − real)
/// = 0` refuses it. The zero its product is connected to is pinned, so the product's own
/// arithmetic constraint is the one left unsatisfied.
#[test]
fn padding_entries_must_be_zero() {
    let s = setup();
    let n = s.honest.len();
    let summary = s.summary(&s.honest, n);
    let unused = s.honest[n - 1].adapter + small(1000);

    let mut padded_amount = s.honest.clone();
    padded_amount.push(PayeeWitness {
        adapter: F::ZERO,
        amount: [F::ONE, F::ZERO],
        slots: F::ZERO,
    });
    let mut one_more = summary;
    one_more.total_paid += 1;
    one_more.total_pool += 1;
    let stray = s.payee(n).padding[1];
    s.refused(
        &one_more,
        &padded_amount,
        n,
        Tamper::new().set(stray, F::ZERO),
        "ArithmeticGate",
        &[stray],
        "a non-zero padding amount",
    );

    let mut padded = s.honest.clone();
    padded.push(PayeeWitness {
        adapter: unused,
        amount: [F::ZERO; 2],
        slots: F::ZERO,
    });
    let stray = s.payee(n).padding[0];
    s.refused(
        &summary,
        &padded,
        n,
        Tamper::new().set(stray, F::ZERO),
        "ArithmeticGate",
        &[stray],
        "a non-zero padding adapter",
    );
}

/// Total paid below the modulus: a list paying p - 1 in all is accepted, one paying p is not
/// (above p an amount listed as its value plus p beside another listed p lower would keep the
/// accumulator and the totals). Summaries agree with each list otherwise.
#[test]
fn total_paid_must_be_below_p() {
    let s = setup();
    let n = s.honest.len();
    let max = F::ORDER - 1;
    let at_max = list_paying(&s.honest, max);
    s.accepted(
        &s.agreeing(&at_max, n, max),
        &at_max,
        n,
        "a total paid of p - 1",
    );
    let at_p = list_paying(&s.honest, F::ORDER);
    let bound = s.checks().paid_below_p;
    s.refused(
        &s.agreeing(&at_p, n, F::ORDER),
        &at_p,
        n,
        Tamper::new().set(bound, F::ZERO),
        "ArithmeticGate",
        &[bound],
        "a total paid of p",
    );
}

/// `α, β` are the hash of the commitments and the slot-count digest: a root summary whose
/// challenges are those of another list, or a list whose counts were chosen after the
/// challenges, is refused by the last permutation of that hash alone.
#[test]
fn challenges_must_be_the_hash_of_the_commitments() {
    let s = setup();
    let n = s.honest.len();
    let labels = s.checks().challenges;

    // Counts chosen after the challenges (here to match an accumulator the batches never gave,
    // as a prover solving for counts would), under the challenges of the honest counts.
    let mut recounted = s.honest.clone();
    recounted[0].slots += F::ONE;
    let mut late = s.summary(&s.honest, n);
    late.accumulator = accumulator(&late.challenges, &recounted[..n]);
    s.refused(
        &late,
        &recounted,
        n,
        first_wins(&labels),
        "PoseidonGate",
        &labels,
        "slot counts chosen after the challenges",
    );

    // The challenges of another payout list, with the accumulator the batches would have
    // under them.
    let mut swapped = s.honest.clone();
    swapped.swap(0, 1);
    s.refused(
        &s.summary(&swapped, n),
        &s.honest,
        n,
        first_wins(&labels),
        "PoseidonGate",
        &labels,
        "challenges of another payout list",
    );
}

/// The listed total equals the total paid over the integers: a root paying one more (or 2^32
/// more) than the list, the pool with it so conservation holds, is refused by the low column's
/// recomposition (or the high total's sum).
#[test]
fn the_listed_total_must_be_the_total_paid() {
    let s = setup();
    let n = s.honest.len();
    let summary = s.summary(&s.honest, n);
    let c = s.checks();

    let mut more_paid = summary;
    more_paid.total_paid += 1;
    more_paid.total_pool += 1;
    let low = [c.low_split[0], c.column_sums[0]];
    s.refused(
        &more_paid,
        &s.honest,
        n,
        first_wins(&low),
        "ArithmeticGate",
        &low,
        "a total paid above the list's",
    );

    let mut more_paid_high = summary;
    more_paid_high.total_paid += 1 << 32;
    more_paid_high.total_pool += 1 << 32;
    s.refused(
        &more_paid_high,
        &s.honest,
        n,
        first_wins(&[c.high_total]),
        "ArithmeticGate",
        &[c.high_total],
        "a total paid 2^32 above the list's",
    );
}

/// Conservation: a pool one above paid + treasury is refused by the recomposition of
/// `paid_lo + treasury_lo`.
#[test]
fn the_pool_must_be_paid_plus_treasury() {
    let s = setup();
    let n = s.honest.len();
    let mut leaky = s.summary(&s.honest, n);
    leaky.total_pool += 1;
    let c = s.checks();
    let labels = [c.accounted[0], c.accounted_low_sum];
    s.refused(
        &leaky,
        &s.honest,
        n,
        first_wins(&labels),
        "ArithmeticGate",
        &labels,
        "a pool above paid plus treasury",
    );
}

/// One unit moved between two payees keeps every total, not the accumulator of the batches
/// (the root summary keeps the slots' shares): the accumulators' connection refuses it.
#[test]
fn the_accumulator_must_be_the_batches() {
    let s = setup();
    let n = s.honest.len();
    let mut moved = s.honest.clone();
    let from = moved
        .iter()
        .position(|e| e.amount[0] != F::ZERO)
        .expect("a payee paid something");
    let to = (from + 1) % n;
    moved[from].amount[0] -= F::ONE;
    moved[to].amount[0] += F::ONE;
    assert!(moved[to].amount[0].to_canonical_u64() < 1 << 32);
    let labels = ext_targets(s.checks().accumulator);
    s.refused(
        &s.summary(&moved, n),
        &moved,
        n,
        first_wins(&labels),
        "ArithmeticExtensionGate",
        &labels,
        "a payout list that moves one unit",
    );
}
