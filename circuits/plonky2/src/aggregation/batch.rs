//! The batch circuit of aggregation (docs/aggregation.md): SPEC's rule for up to `2^height`
//! queries placed at subtree `index` of both logs, exposing [`BatchSummary::to_fields`] instead
//! of SPEC's public inputs. No sorted copy and no payout list: per-adapter totals leave the
//! batch only through the accumulator `Σ_used (share + β) / (α − adapter)`, whose challenges
//! are public inputs that the final layer recomputes from the commitments and slot counts.

use crate::aggregation::native::{BatchSummary, Challenges};
use crate::gadgets::{
    set_order_borrows, CommitmentInstructions, OrderInstructions, PrefixTargets, QueryTargets,
};
use crate::native::{limbs, F};
use crate::prover::Config;
use crate::statement::rule::{check_rate, query_rule, QueryRuleTargets};
use crate::statement::D;
use anyhow::{ensure, Result};
use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use zkattr_model::types::{EpochParams, SLOTS};
use zkattr_model::{Query, QueryShares, Slot};
use zkattr_plonky2_gates::{PayoutTermsInstructions, RangeCheckInstructions};

/// A built batch circuit for `2^height` queries.
#[derive(Debug)]
pub struct BatchCircuit {
    pub height: u32,
    pub data: CircuitData<F, Config, D>,
    epoch_id: [Target; 2],
    rate: Target,
    index: Target,
    queries: Vec<(QueryTargets, QueryRuleTargets)>,
    prefix: PrefixTargets,
    order_borrows: Vec<BoolTarget>,
    challenges: [Target; 4],
}

/// Limbs of a sum known below 2^63 (at most 2^15 queries of fees below 2^48).
fn split_u63(b: &mut CircuitBuilder<F, D>, x: Target) -> [Target; 2] {
    let (lo, hi) = b.split_bits(x, 32, 63);
    [lo, hi]
}

/// Adds one query's terms to the payout accumulator `acc`:
/// `acc + Σ_j used_j · (share_j + β) / (α − adapter_j)`, in half a
/// [`PayoutTermsGate`](zkattr_plonky2_gates::PayoutTermsGate) row. Each used slot's inverse
/// `i_j` is constrained by `(α − adapter_j) · i_j = 1` (α lies outside the base field, so it
/// exists; an unused slot's term is zero whatever its inverse). Returns the new accumulator and
/// the inverses' targets, which the gate's generator fills.
pub fn accumulate_payout_terms(
    b: &mut CircuitBuilder<F, D>,
    challenges: (ExtensionTarget<D>, ExtensionTarget<D>),
    query: &QueryTargets,
    rule: &QueryRuleTargets,
    acc: ExtensionTarget<D>,
) -> (ExtensionTarget<D>, Vec<ExtensionTarget<D>>) {
    b.accumulate_payout_terms(challenges, acc, &query.adapter(), &rule.share, &rule.used)
}

impl BatchCircuit {
    pub fn build(height: u32) -> Self {
        assert!(height <= 15, "batches hold at most 2^15 queries");
        let capacity = 1usize << height;
        // No zero knowledge: a batch proof never leaves the prover (a merge, or the final layer
        // at 0 levels, verifies it; the zk final layer hides everything below). Blinding would
        // add thousands of random rows (about 13,000 at 2^17): a 4-query batch took 2^14 rows
        // with it, 2^8 without.
        let config = CircuitConfig::standard_recursion_config();
        let mut b = CircuitBuilder::<F, D>::new(config);
        let zero = b.zero();

        let epoch_id = [b.add_virtual_target(), b.add_virtual_target()];
        for limb in epoch_id {
            b.check_bits(limb, 32);
        }
        let rate = b.add_virtual_target();
        check_rate(&mut b, rate);
        let index = b.add_virtual_target();
        b.check_bits(index, 32 - height as usize);

        let queries: Vec<(QueryTargets, QueryRuleTargets)> = (0..capacity)
            .map(|_| {
                let q = QueryTargets::new(&mut b);
                let r = query_rule(&mut b, &q, rate);
                (q, r)
            })
            .collect();
        let prefix = b.prefix_flags(capacity);
        for ((q, _), real) in queries.iter().zip(&prefix.real) {
            let padding = b.not(*real);
            for value in q.adapter().into_iter().chain([q.fee()]) {
                let stray = b.mul(value, padding.target);
                b.connect(stray, zero);
            }
        }

        // Strictly increasing ids across real records (as in the single-proof statement).
        let order_borrows: Vec<BoolTarget> = (1..capacity)
            .map(|_| b.add_virtual_bool_target_safe())
            .collect();
        for i in 1..capacity {
            b.assert_increasing_if(
                queries[i - 1].0.query_id(),
                queries[i].0.query_id(),
                order_borrows[i - 1],
                prefix.real[i].target,
            );
        }

        // Subtree roots at `height` (no lifting: the merges and the final layer do that).
        let act: Vec<HashOutTarget> = queries.iter().map(|(q, _)| b.activation_leaf(q)).collect();
        let inf: Vec<HashOutTarget> = queries.iter().map(|(q, _)| b.influence_leaf(q)).collect();
        let activation = b.padded_root(&act, &prefix.real, height as usize);
        let influence = b.padded_root(&inf, &prefix.real, height as usize);

        // First and last real id, zero for an empty batch: the last real record is where
        // `real_i - real_{i+1}` is 1.
        let first = queries[0]
            .0
            .query_id()
            .map(|l| b.mul(l, prefix.real[0].target));
        let mut last = [zero, zero];
        for (i, (q, _)) in queries.iter().enumerate() {
            let next = prefix.real.get(i + 1).map_or(zero, |r| r.target);
            let ends = b.sub(prefix.real[i].target, next);
            for (acc, limb) in last.iter_mut().zip(q.query_id()) {
                *acc = b.mul_add(ends, limb, *acc);
            }
        }

        let total_pool = b.add_many(queries.iter().map(|(_, r)| r.pool));
        let treasury = b.add_many(queries.iter().map(|(_, r)| r.residual));
        // Σ shares = Σ (pool − residual) per query (the rule's own equation, no wrap: the sums
        // stay below 2^63), without adding every slot's share again.
        let total_paid = b.sub(total_pool, treasury);

        // Accumulator. α is outside F_p (the final layer checks it is the hash of the
        // commitments, and the native derivation refuses α in F_p), so every `α − adapter`
        // has an inverse, which the payout-terms gate witnesses and checks.
        let challenges = [(); 4].map(|()| b.add_virtual_target());
        let alpha = ExtensionTarget([challenges[0], challenges[1]]);
        let beta = ExtensionTarget([challenges[2], challenges[3]]);
        let mut accumulator = b.zero_extension();
        for (q, r) in &queries {
            (accumulator, _) = accumulate_payout_terms(&mut b, (alpha, beta), q, r, accumulator);
        }

        let height_target = b.constant(F::from_canonical_u32(height));
        b.register_public_inputs(&epoch_id);
        b.register_public_input(rate);
        b.register_public_input(height_target);
        b.register_public_input(index);
        b.register_public_inputs(&activation.elements);
        b.register_public_inputs(&influence.elements);
        b.register_public_inputs(&first);
        b.register_public_inputs(&last);
        b.register_public_input(prefix.count);
        for total in [total_pool, total_paid, treasury] {
            let limbs = split_u63(&mut b, total);
            b.register_public_inputs(&limbs);
        }
        b.register_public_inputs(&challenges);
        b.register_public_inputs(&accumulator.0);

        BatchCircuit {
            height,
            data: b.build::<Config>(),
            epoch_id,
            rate,
            index,
            queries,
            prefix,
            order_borrows,
            challenges,
        }
    }

    /// Proves batch `index`: `queries` (canonical, at most `2^height`) under `challenges`.
    pub fn prove(
        &self,
        params: EpochParams,
        challenges: Challenges,
        index: u64,
        queries: &[Query],
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        self.data
            .prove(self.witness(params, challenges, index, queries)?)
    }

    /// The input witness of batch `index` (what [`BatchCircuit::prove`] proves); the
    /// generators derive the rest while proving. Tests change single values of it.
    pub fn witness(
        &self,
        params: EpochParams,
        challenges: Challenges,
        index: u64,
        queries: &[Query],
    ) -> Result<PartialWitness<F>> {
        ensure!(
            queries.len() <= self.queries.len(),
            "{} queries do not fit a batch of {}",
            queries.len(),
            self.queries.len()
        );
        let mut pw = PartialWitness::new();
        let [lo, hi] = limbs(params.epoch_id);
        pw.set_target(self.epoch_id[0], lo)?;
        pw.set_target(self.epoch_id[1], hi)?;
        pw.set_target(self.rate, F::from_canonical_u16(params.rate_bps))?;
        pw.set_target(self.index, F::from_canonical_u64(index))?;
        for (t, v) in self.challenges.iter().zip(challenges.to_fields()) {
            pw.set_target(*t, v)?;
        }
        let empty = Query {
            query_id: 0,
            fee: 0,
            slots: [Slot::UNUSED; SLOTS],
        };
        for (i, (qt, rt)) in self.queries.iter().enumerate() {
            let query = queries.get(i).unwrap_or(&empty);
            qt.set(&mut pw, query)?;
            rt.set(
                &mut pw,
                query,
                &QueryShares::compute(query, params.rate_bps),
            )?;
            // The gate fills the inverses of used slots; a clear error here instead of a
            // refused proof.
            for slot in query.slots.iter().filter(|s| s.is_used()) {
                let denominator = challenges.alpha
                    - QuadraticExtension([F::from_canonical_u32(slot.adapter_id), F::ZERO]);
                ensure!(
                    denominator != QuadraticExtension::ZERO,
                    "the challenge α equals an adapter id"
                );
            }
        }
        self.prefix.set(&mut pw, queries.len())?;
        set_order_borrows(&mut pw, &self.order_borrows, queries)?;
        Ok(pw)
    }

    /// The record targets of position `i`.
    pub fn query_targets(&self, i: usize) -> &QueryTargets {
        &self.queries[i].0
    }

    /// The real-record count and flags.
    pub fn prefix(&self) -> &PrefixTargets {
        &self.prefix
    }
}

/// The summary a batch proof exposes, checked against the native twin by the tests.
pub fn expected_summary(
    params: EpochParams,
    challenges: Challenges,
    height: u32,
    index: u64,
    queries: &[Query],
) -> Result<Vec<F>> {
    Ok(BatchSummary::of_batch(params, challenges, height, index, queries)?.to_fields())
}
