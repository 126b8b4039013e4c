//! The whole attribution statement for one batch of queries, as a plonky2 circuit.
//!
//! The circuit's shape ([`StatementShape`]) and public-input layout ([`StatementPublicInputs`])
//! are separate from witness assignment ([`StatementTargets::set`]), so a verifier can rebuild
//! and check the layout without any prover code path.
//!
//! Per-adapter totals cost linear in slots: the prover supplies a copy of every slot's
//! `(adapter, share)` sorted by adapter; the circuit checks the copy is sorted, accumulates
//! runs of equal adapters, and binds the copy to the per-query view, and the run totals to the
//! payout list, with two grand-product multiset checks
//! `Π (γ - (a + β·v))` over the extension field. `β, γ` are a Poseidon hash of every value in
//! the three lists, computed in the circuit after all of them are fixed, so the prover cannot
//! choose the lists after seeing the challenge (Fiat-Shamir inside the circuit). A false
//! multiset equality survives with probability at most `(8C + P) / |F_p^2|`, about 2^-110.
//!
//! Each constraint's targets are labeled with the SPEC case it rules out
//! ([`StatementTargets::checks`]), and each case's constraint sits behind
//! [`removed`](zkattr_plonky2_gates::cases::removed), which is constant `false` unless the
//! test-only `mutation` feature is on and a test has switched that case off.

pub mod rule;

use crate::gadgets::{
    set_order_borrows, CommitmentInstructions, OrderInstructions, PrefixTargets, QueryTargets,
};
use crate::native::{limbs, Digest, F};
use crate::statement::rule::{check_rate, query_rule, QueryRuleTargets};
use anyhow::{ensure, Result};
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::{HashOut, HashOutTarget};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use zkattr_model::commit::{tag, EpochCommitments};
use zkattr_model::types::{LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH, SLOTS};
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2_gates::cases::{removed, Case};
use zkattr_plonky2_gates::RangeCheckInstructions;

/// Extension degree of the challenges.
pub const D: usize = 2;

/// A batch circuit's capacities, both powers of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatementShape {
    pub queries: usize,
    pub payees: usize,
}

impl StatementShape {
    /// Sums of shares stay below `queries * 2^48`; at most 2^15 queries keeps them below
    /// 2^63, far from the field order.
    pub const MAX_QUERIES: usize = 1 << 15;

    pub fn new(queries: usize, payees: usize) -> Result<Self> {
        ensure!(
            queries.is_power_of_two() && queries <= Self::MAX_QUERIES,
            "query capacity {queries} is not a power of two up to 2^15"
        );
        ensure!(
            payees.is_power_of_two() && payees <= 1 << PAYOUT_TREE_DEPTH,
            "payee capacity {payees} is not a power of two up to 2^20"
        );
        Ok(StatementShape { queries, payees })
    }

    /// The smallest shape that holds an epoch with `queries` queries and `payees` payees.
    pub fn fitting(queries: usize, payees: usize) -> Result<Self> {
        Self::new(
            queries.max(1).next_power_of_two(),
            payees.max(1).next_power_of_two(),
        )
    }
}

/// SPEC's public inputs in the Goldilocks encoding, in SPEC's order (22 elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementPublicInputs {
    pub epoch_id: u64,
    pub rate_bps: u16,
    pub activation_commitment: Digest,
    pub influence_commitment: Digest,
    pub n_queries: u64,
    pub total_pool: u64,
    pub total_paid: u64,
    pub treasury: u64,
    pub payout_commitment: Digest,
}

impl StatementPublicInputs {
    pub const LEN: usize = 22;

    pub fn new(epoch: &Epoch, settlement: &Settlement, c: &EpochCommitments<Digest>) -> Self {
        StatementPublicInputs {
            epoch_id: epoch.params.epoch_id,
            rate_bps: epoch.params.rate_bps,
            activation_commitment: c.activation,
            influence_commitment: c.influence,
            n_queries: epoch.queries.len() as u64,
            total_pool: settlement.total_pool,
            total_paid: settlement.total_paid,
            treasury: settlement.treasury,
            payout_commitment: c.payout,
        }
    }

    pub fn to_fields(&self) -> Vec<F> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend(limbs(self.epoch_id));
        out.push(F::from_canonical_u16(self.rate_bps));
        out.extend(self.activation_commitment.elements);
        out.extend(self.influence_commitment.elements);
        out.push(F::from_canonical_u64(self.n_queries));
        out.extend(limbs(self.total_pool));
        out.extend(limbs(self.total_paid));
        out.extend(limbs(self.treasury));
        out.extend(self.payout_commitment.elements);
        out
    }

    /// Reads the layout back; `None` when the length or a limb is off.
    pub fn from_fields(fields: &[F]) -> Option<Self> {
        if fields.len() != Self::LEN {
            return None;
        }
        let v: Vec<u64> = fields.iter().map(|f| f.to_canonical_u64()).collect();
        let u64_of = |i: usize| -> Option<u64> {
            (v[i] < 1 << 32 && v[i + 1] < 1 << 32).then(|| v[i] | v[i + 1] << 32)
        };
        let digest = |i: usize| HashOut {
            elements: [fields[i], fields[i + 1], fields[i + 2], fields[i + 3]],
        };
        Some(StatementPublicInputs {
            epoch_id: u64_of(0)?,
            rate_bps: u16::try_from(v[2]).ok()?,
            activation_commitment: digest(3),
            influence_commitment: digest(7),
            n_queries: v[11],
            total_pool: u64_of(12)?,
            total_paid: u64_of(14)?,
            treasury: u64_of(16)?,
            payout_commitment: digest(18),
        })
    }
}

/// The targets a prover assigns.
#[derive(Clone, Debug)]
pub struct StatementTargets {
    pub shape: StatementShape,
    pub epoch_id: [Target; 2],
    pub rate: Target,
    pub queries: Vec<(QueryTargets, QueryRuleTargets)>,
    pub query_prefix: PrefixTargets,
    /// Borrow of `qid_{i+1} - qid_i - 1` from the high limb.
    pub order_borrows: Vec<BoolTarget>,
    /// Every slot's `(adapter, share)`, sorted by adapter.
    pub sorted: Vec<(Target, Target)>,
    /// The payout list: `(adapter, amount)` for the first `n_payees` entries, zero after.
    pub payees: Vec<(Target, Target)>,
    pub payee_prefix: PrefixTargets,
    /// The adapter targets each influence leaf hashes: the records' own (one target feeds both
    /// logs, which is what rules out SPEC case 5), unless the `mutation` feature removed that.
    pub influence_adapters: Vec<[Target; SLOTS]>,
    /// The targets of the statement's own constraints, each labeled with the SPEC case it rules
    /// out (the rule's are in each query's [`QueryRuleTargets::checks`]), so a negative test can
    /// tell which check refused a witness.
    pub checks: Vec<(Case, Target)>,
}

/// `u64` limbs of a value known below 2^63 (so the limb form is unique).
fn split_u63(b: &mut CircuitBuilder<F, D>, x: Target) -> [Target; 2] {
    let (lo, hi) = b.split_bits(x, 32, 63);
    [lo, hi]
}

fn ext_term(
    b: &mut CircuitBuilder<F, D>,
    beta: ExtensionTarget<D>,
    gamma: ExtensionTarget<D>,
    key: Target,
    value: Target,
) -> ExtensionTarget<D> {
    // γ - (key + β·value)
    let key = b.convert_to_ext(key);
    let scaled = b.scalar_mul_ext(value, beta);
    let combined = b.add_extension(key, scaled);
    b.sub_extension(gamma, combined)
}

/// `Π (flag ? term : 1)`.
fn masked_product(
    b: &mut CircuitBuilder<F, D>,
    terms: impl IntoIterator<Item = (BoolTarget, ExtensionTarget<D>)>,
) -> ExtensionTarget<D> {
    let one = b.one_extension();
    let mut acc = one;
    for (flag, term) in terms {
        let factor = b.select_ext(flag, term, one);
        acc = b.mul_extension(acc, factor);
    }
    acc
}

/// Constrains two grand products equal (the multiset check of SPEC case `case`, unless a
/// mutation test removed it) and labels both products' targets with the case.
fn connect_products(
    b: &mut CircuitBuilder<F, D>,
    case: Case,
    left: ExtensionTarget<D>,
    right: ExtensionTarget<D>,
    checks: &mut Vec<(Case, Target)>,
) {
    if !removed(case) {
        b.connect_extension(left, right);
    }
    checks.extend(left.0.into_iter().chain(right.0).map(|t| (case, t)));
}

/// Builds the statement for `shape`; returns the assignable targets. Public inputs are
/// registered in [`StatementPublicInputs`]' order.
pub fn build_statement(b: &mut CircuitBuilder<F, D>, shape: StatementShape) -> StatementTargets {
    let zero = b.zero();
    let one = b.one();
    let mut checks = Vec::new();

    let epoch_id = [b.add_virtual_target(), b.add_virtual_target()];
    for limb in epoch_id {
        b.check_bits(limb, 32);
    }
    let rate = b.add_virtual_target();
    let rate_slack = check_rate(b, rate);
    checks.push((Case::FieldWrap, rate_slack));

    // Query records and the rule per query.
    let queries: Vec<(QueryTargets, QueryRuleTargets)> = (0..shape.queries)
        .map(|_| {
            let q = QueryTargets::new(b);
            let r = query_rule(b, &q, rate);
            (q, r)
        })
        .collect();
    let query_prefix = b.prefix_flags(shape.queries);

    // Records past the count are empty: no fee, no adapter (so no slot, no share, no payee).
    for ((q, _), real) in queries.iter().zip(&query_prefix.real) {
        let padding = b.not(*real);
        for value in q.adapter().into_iter().chain([q.fee()]) {
            let stray = b.mul(value, padding.target);
            b.connect(stray, zero);
        }
    }

    // Strictly increasing query ids across real records, in 32-bit limbs with a borrow.
    let order_borrows: Vec<BoolTarget> = (1..shape.queries)
        .map(|_| b.add_virtual_bool_target_safe())
        .collect();
    if !removed(Case::QueryOrder) {
        for i in 1..shape.queries {
            let limbs = b.assert_increasing_if(
                queries[i - 1].0.query_id(),
                queries[i].0.query_id(),
                order_borrows[i - 1],
                query_prefix.real[i].target,
            );
            checks.extend(limbs.map(|t| (Case::QueryOrder, t)));
        }
    }

    // Log commitments.
    let act: Vec<HashOutTarget> = queries.iter().map(|(q, _)| b.activation_leaf(q)).collect();
    let influence_records: Vec<QueryTargets> = queries
        .iter()
        .map(|(q, _)| {
            if removed(Case::AdapterAcrossLogs) {
                q.with_new_adapters(b)
            } else {
                q.clone()
            }
        })
        .collect();
    let influence_adapters = influence_records.iter().map(|q| q.adapter()).collect();
    let inf: Vec<HashOutTarget> = influence_records
        .iter()
        .map(|q| b.influence_leaf(q))
        .collect();
    let act_root = b.padded_root(&act, &query_prefix.real, LOG_TREE_DEPTH);
    let inf_root = b.padded_root(&inf, &query_prefix.real, LOG_TREE_DEPTH);
    let [activation, influence] = [act_root, inf_root].map(|root| {
        if removed(Case::LogOpening) {
            b.add_virtual_hash()
        } else {
            b.commitment(tag::LOG_COMMITMENT, root, query_prefix.count)
        }
    });
    checks.extend(
        activation
            .elements
            .into_iter()
            .chain(influence.elements)
            .map(|t| (Case::LogOpening, t)),
    );
    checks.extend(influence.elements.map(|t| (Case::AdapterAcrossLogs, t)));

    // The sorted copy of every slot, and its run totals.
    let slots: Vec<(Target, Target)> = queries
        .iter()
        .flat_map(|(q, r)| (0..SLOTS).map(move |j| (q.adapter()[j], r.share[j])))
        .collect();
    let sorted: Vec<(Target, Target)> = (0..slots.len())
        .map(|_| (b.add_virtual_target(), b.add_virtual_target()))
        .collect();
    for pair in sorted.windows(2) {
        let step = b.sub(pair[1].0, pair[0].0);
        b.check_bits(step, 32);
    }
    b.check_bits(sorted[0].0, 32);
    let mut totals = Vec::with_capacity(sorted.len());
    let mut running = zero;
    for (k, &(adapter, share)) in sorted.iter().enumerate() {
        running = if k == 0 {
            share
        } else {
            let same = b.is_equal(adapter, sorted[k - 1].0);
            b.mul_add(same.target, running, share)
        };
        totals.push(running);
    }
    let run_ends: Vec<BoolTarget> = (0..sorted.len())
        .map(|k| {
            let is_payee = {
                let is_zero = b.is_equal(sorted[k].0, zero);
                b.not(is_zero)
            };
            match sorted.get(k + 1) {
                Some(next) => {
                    let continues = b.is_equal(next.0, sorted[k].0);
                    let ends = b.not(continues);
                    b.and(ends, is_payee)
                }
                None => is_payee,
            }
        })
        .collect();

    // The payout list: strictly increasing non-zero adapters, zeros past the count.
    let payees: Vec<(Target, Target)> = (0..shape.payees)
        .map(|_| (b.add_virtual_target(), b.add_virtual_target()))
        .collect();
    let payee_prefix = b.prefix_flags(shape.payees);
    for (m, (&(adapter, amount), real)) in payees.iter().zip(&payee_prefix.real).enumerate() {
        let padding = b.not(*real);
        for value in [adapter, amount] {
            let stray = b.mul(value, padding.target);
            b.connect(stray, zero);
        }
        let previous = if m == 0 { zero } else { payees[m - 1].0 };
        let step = b.sub(adapter, previous);
        let step = b.sub(step, one);
        let step = b.mul(step, real.target);
        if !removed(Case::PayoutOrder) {
            b.check_bits(step, 32);
        }
        checks.push((Case::PayoutOrder, step));
    }
    let payee_leaves: Vec<HashOutTarget> = payees
        .iter()
        .map(|&(adapter, amount)| {
            let amount = split_u63(b, amount);
            b.payout_leaf(adapter, amount)
        })
        .collect();
    let payout_root = b.padded_root(&payee_leaves, &payee_prefix.real, PAYOUT_TREE_DEPTH);
    let payout = b.commitment(tag::PAYOUT_COMMITMENT, payout_root, payee_prefix.count);

    // Challenges: a hash of the three lists, after all of them are fixed.
    let transcript: Vec<Target> = slots
        .iter()
        .chain(&sorted)
        .chain(&payees)
        .flat_map(|&(a, v)| [a, v])
        .collect();
    let challenge = b.hash_n_to_m_no_pad::<PoseidonHash>(transcript, 2 * D);
    let beta = ExtensionTarget([challenge[0], challenge[1]]);
    let gamma = ExtensionTarget([challenge[2], challenge[3]]);
    let always = b._true();
    let slot_terms: Vec<_> = slots
        .iter()
        .map(|&(a, v)| (always, ext_term(b, beta, gamma, a, v)))
        .collect();
    let sorted_terms: Vec<_> = sorted
        .iter()
        .map(|&(a, v)| (always, ext_term(b, beta, gamma, a, v)))
        .collect();
    let left = masked_product(b, slot_terms);
    let right = masked_product(b, sorted_terms);
    connect_products(b, Case::SlotMultiset, left, right, &mut checks);
    let run_terms: Vec<_> = sorted
        .iter()
        .zip(&totals)
        .zip(&run_ends)
        .map(|((&(a, _), &total), &end)| (end, ext_term(b, beta, gamma, a, total)))
        .collect();
    let payee_terms: Vec<_> = payees
        .iter()
        .zip(&payee_prefix.real)
        .map(|(&(a, v), &real)| (real, ext_term(b, beta, gamma, a, v)))
        .collect();
    let runs = masked_product(b, run_terms);
    let listed = masked_product(b, payee_terms);
    connect_products(b, Case::PayoutTotals, runs, listed, &mut checks);

    // Totals: every sum is below 2^15 * 2^48 = 2^63, so none wraps.
    let total_pool = b.add_many(queries.iter().map(|(_, r)| r.pool));
    let treasury = b.add_many(queries.iter().map(|(_, r)| r.residual));
    let total_paid = b.add_many(payees.iter().map(|&(_, v)| v));
    let accounted = b.add(total_paid, treasury);
    let totals_add_up = !removed(Case::Totals);
    if totals_add_up {
        b.connect(accounted, total_pool);
    }
    checks.extend([total_pool, total_paid, treasury, accounted].map(|t| (Case::Totals, t)));

    b.register_public_inputs(&epoch_id);
    b.register_public_input(rate);
    b.register_public_inputs(&activation.elements);
    b.register_public_inputs(&influence.elements);
    b.register_public_input(query_prefix.count);
    for total in [total_pool, total_paid, treasury] {
        let limbs = if totals_add_up {
            split_u63(b, total)
        } else {
            // Case 11 removed (test-only): published limbs unrelated to the sums.
            [(); 2].map(|()| {
                let limb = b.add_virtual_target();
                b.check_bits(limb, 32);
                limb
            })
        };
        checks.extend(limbs.map(|t| (Case::Totals, t)));
        b.register_public_inputs(&limbs);
    }
    b.register_public_inputs(&payout.elements);

    StatementTargets {
        shape,
        epoch_id,
        rate,
        queries,
        query_prefix,
        order_borrows,
        sorted,
        payees,
        payee_prefix,
        influence_adapters,
        checks,
    }
}

impl StatementTargets {
    /// Assigns an epoch that fits the shape, with the reference rule's results.
    pub fn set(&self, pw: &mut PartialWitness<F>, epoch: &Epoch, s: &Settlement) -> Result<()> {
        ensure!(
            epoch.queries.len() <= self.shape.queries && s.payouts.len() <= self.shape.payees,
            "{} queries and {} payees do not fit a circuit for {} and {}",
            epoch.queries.len(),
            s.payouts.len(),
            self.shape.queries,
            self.shape.payees
        );
        let [lo, hi] = limbs(epoch.params.epoch_id);
        pw.set_target(self.epoch_id[0], lo)?;
        pw.set_target(self.epoch_id[1], hi)?;
        pw.set_target(self.rate, F::from_canonical_u16(epoch.params.rate_bps))?;
        let empty = zkattr_model::Query {
            query_id: 0,
            fee: 0,
            slots: [zkattr_model::Slot::UNUSED; SLOTS],
        };
        let mut pairs = Vec::with_capacity(self.shape.queries * SLOTS);
        for (i, (qt, rt)) in self.queries.iter().enumerate() {
            let query = epoch.queries.get(i).unwrap_or(&empty);
            let shares = s
                .per_query
                .get(i)
                .copied()
                .unwrap_or_else(|| zkattr_model::QueryShares::compute(&empty, 0));
            qt.set(pw, query)?;
            rt.set(pw, query, &shares)?;
            // Targets of their own only when the `mutation` feature removed case 5's constraint.
            if self.influence_adapters[i] != qt.adapter() {
                for (t, slot) in self.influence_adapters[i].iter().zip(&query.slots) {
                    pw.set_target(*t, F::from_canonical_u32(slot.adapter_id))?;
                }
            }
            pairs.extend(
                query
                    .slots
                    .iter()
                    .zip(shares.shares)
                    .map(|(slot, share)| (slot.adapter_id, share)),
            );
        }
        self.query_prefix.set(pw, epoch.queries.len())?;
        set_order_borrows(pw, &self.order_borrows, &epoch.queries)?;
        pairs.sort_unstable();
        for (&(adapter, share), &(at, st)) in pairs.iter().zip(&self.sorted) {
            pw.set_target(at, F::from_canonical_u32(adapter))?;
            pw.set_target(st, F::from_canonical_u64(share))?;
        }
        for (m, &(at, vt)) in self.payees.iter().enumerate() {
            let (adapter, amount) = s
                .payouts
                .get(m)
                .map_or((0, 0), |p| (p.adapter_id, p.amount));
            pw.set_target(at, F::from_canonical_u32(adapter))?;
            pw.set_target(vt, F::from_canonical_u64(amount))?;
        }
        self.payee_prefix.set(pw, s.payouts.len())?;
        Ok(())
    }
}
