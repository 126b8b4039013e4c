//! [`PayoutTermsGate`]: one query's terms of the payout accumulator in half a row, and
//! [`PayoutTermsInstructions`], the builder method that uses it.
//!
//! The batch circuit folds every paid slot into `acc + Σ_j used_j · (share_j + β) / (α − a_j)`
//! over the quadratic extension (α, β are the epoch's challenges, `a_j` the slot's adapter).
//! Built from plonky2's extension arithmetic that took about 4.2 rows a query (a witnessed
//! inverse, its check, the numerator, the product, a select and an addition for each of 8
//! slots). This gate holds a whole query's slots, inverses included, in 48 wires, two queries a
//! row.

use std::ops::Range;

use anyhow::Result;
use plonky2::field::extension::{Extendable, FieldExtension};
use plonky2::field::types::Field;
use plonky2::gates::gate::Gate;
use plonky2::gates::util::StridedConstraintConsumer;
use plonky2::hash::hash_types::RichField;
use plonky2::iop::ext_target::{ExtensionAlgebraTarget, ExtensionTarget};
use plonky2::iop::generator::{GeneratedValues, SimpleGenerator, WitnessGeneratorRef};
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartitionWitness, Witness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CommonCircuitData};
use plonky2::plonk::vars::{EvaluationTargets, EvaluationVars, EvaluationVarsBase};
use plonky2::util::serialization::{Buffer, IoError, IoResult, Read, Write};

/// Constrains, for each of `num_ops` queries of `slots` slots in a row:
///
/// 1. for every slot `j`: `used_j · ((α − a_j) · i_j − 1) = 0`
///    (`i_j` is the inverse of `α − a_j` wherever the slot is used);
/// 2. `acc_out − acc_in − Σ_j used_j · (share_j + β) · i_j = 0`.
///
/// Each is an equation in the quadratic extension, so two field constraints. α, β, `acc_in`,
/// `acc_out` (two wires each), `a_j`, `share_j`, `used_j` are routed inputs the caller
/// connects ([`PayoutTermsGate::wire_alpha`] and the others); the inverses sit after every
/// op's inputs, in wires nothing connects to, which the gate's generator fills. The caller constrains `used_j` boolean. A row's unused op
/// (all wires zero) satisfies both: its slots are all unused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PayoutTermsGate<const D: usize> {
    pub slots: usize,
    pub num_ops: usize,
}

impl<const D: usize> PayoutTermsGate<D> {
    /// As many queries as fit the config's wires.
    ///
    /// # Panics
    /// If not one query of `slots` slots fits a row (a programming error at construction).
    pub fn new_from_config(config: &CircuitConfig, slots: usize) -> Self {
        let num_ops = Self::ops_that_fit(config, slots);
        assert!(
            slots > 0 && num_ops > 0,
            "no room for a query of {slots} slots in a row"
        );
        PayoutTermsGate { slots, num_ops }
    }

    fn ops_that_fit(config: &CircuitConfig, slots: usize) -> usize {
        let routed = Self::routed_per_op(slots);
        let all = routed + D * slots;
        (config.num_routed_wires / routed).min(config.num_wires / all)
    }

    /// α, β, `acc_in`, `acc_out`, then `(a_j, share_j, used_j)` for every slot.
    const fn routed_per_op(slots: usize) -> usize {
        4 * D + 3 * slots
    }

    const fn routed(&self, op: usize, k: usize) -> usize {
        op * Self::routed_per_op(self.slots) + k
    }

    pub const fn wire_alpha(&self, op: usize) -> Range<usize> {
        self.routed(op, 0)..self.routed(op, D)
    }
    pub const fn wire_beta(&self, op: usize) -> Range<usize> {
        self.routed(op, D)..self.routed(op, 2 * D)
    }
    pub const fn wire_acc_in(&self, op: usize) -> Range<usize> {
        self.routed(op, 2 * D)..self.routed(op, 3 * D)
    }
    pub const fn wire_acc_out(&self, op: usize) -> Range<usize> {
        self.routed(op, 3 * D)..self.routed(op, 4 * D)
    }
    pub const fn wire_adapter(&self, op: usize, slot: usize) -> usize {
        self.routed(op, 4 * D + 3 * slot)
    }
    pub const fn wire_share(&self, op: usize, slot: usize) -> usize {
        self.routed(op, 4 * D + 3 * slot + 1)
    }
    pub const fn wire_used(&self, op: usize, slot: usize) -> usize {
        self.routed(op, 4 * D + 3 * slot + 2)
    }
    /// The witnessed inverse of `α − a_j` (after every op's inputs; not connected to anything).
    pub const fn wire_inverse(&self, op: usize, slot: usize) -> Range<usize> {
        let start = self.num_ops * Self::routed_per_op(self.slots) + (op * self.slots + slot) * D;
        start..start + D
    }
}

/// Extension arithmetic in the three places a gate is evaluated, so the constraints are
/// written once: the verifier's extension point, the prover's base-field rows, and a recursive
/// verifier's circuit.
trait ExtensionOps<const D: usize> {
    /// One wire's value.
    type Base: Copy;
    /// `D` wires read as one extension element.
    type Ext: Copy;
    /// What the gate returns per field constraint.
    type Out;
    fn lift(&mut self, base: Self::Base) -> Self::Ext;
    fn one(&mut self) -> Self::Ext;
    fn add(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext;
    fn sub(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext;
    fn mul(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext;
    fn split(&mut self, a: Self::Ext) -> [Self::Out; D];
}

/// The gate's constraints for one op, in [`PayoutTermsGate`]'s order (each slot's inverse
/// check, then the accumulator).
fn op_constraints<O: ExtensionOps<D>, const D: usize>(
    ops: &mut O,
    gate: &PayoutTermsGate<D>,
    op: usize,
    base: impl Fn(usize) -> O::Base,
    ext: impl Fn(Range<usize>) -> O::Ext,
) -> Vec<O::Out> {
    let alpha = ext(gate.wire_alpha(op));
    let beta = ext(gate.wire_beta(op));
    let acc_in = ext(gate.wire_acc_in(op));
    let acc_out = ext(gate.wire_acc_out(op));
    let one = ops.one();
    let mut out = Vec::with_capacity(D * (gate.slots + 1));
    let mut terms = ops.sub(acc_out, acc_in);
    for j in 0..gate.slots {
        let adapter = ops.lift(base(gate.wire_adapter(op, j)));
        let share = ops.lift(base(gate.wire_share(op, j)));
        let used = ops.lift(base(gate.wire_used(op, j)));
        let inverse = ext(gate.wire_inverse(op, j));
        let denominator = ops.sub(alpha, adapter);
        let product = ops.mul(denominator, inverse);
        let miss = ops.sub(product, one);
        let check = ops.mul(used, miss);
        out.extend(ops.split(check));
        let numerator = ops.add(share, beta);
        let term = ops.mul(numerator, inverse);
        let term = ops.mul(used, term);
        terms = ops.sub(terms, term);
    }
    out.extend(ops.split(terms));
    out
}

/// The verifier's evaluation at an extension point: wires are `F::Extension` values.
struct AtExtensionPoint<F>(std::marker::PhantomData<F>);

impl<F: RichField + Extendable<D>, const D: usize> ExtensionOps<D> for AtExtensionPoint<F> {
    type Base = F::Extension;
    type Ext = plonky2::field::extension::algebra::ExtensionAlgebra<F::Extension, D>;
    type Out = F::Extension;
    fn lift(&mut self, base: Self::Base) -> Self::Ext {
        base.into()
    }
    fn one(&mut self) -> Self::Ext {
        Self::Ext::one()
    }
    fn add(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        a + b
    }
    fn sub(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        a - b
    }
    fn mul(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        a * b
    }
    fn split(&mut self, a: Self::Ext) -> [F::Extension; D] {
        a.to_basefield_array()
    }
}

/// The prover's evaluation on its rows: wires are base-field values.
struct OnRows<F>(std::marker::PhantomData<F>);

impl<F: RichField + Extendable<D>, const D: usize> ExtensionOps<D> for OnRows<F> {
    type Base = F;
    type Ext = F::Extension;
    type Out = F;
    fn lift(&mut self, base: F) -> F::Extension {
        F::Extension::from_basefield(base)
    }
    fn one(&mut self) -> F::Extension {
        F::Extension::ONE
    }
    fn add(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        a + b
    }
    fn sub(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        a - b
    }
    fn mul(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        a * b
    }
    fn split(&mut self, a: Self::Ext) -> [F; D] {
        a.to_basefield_array()
    }
}

/// A recursive verifier's evaluation, in its circuit.
struct InCircuit<'a, F: RichField + Extendable<D>, const D: usize>(&'a mut CircuitBuilder<F, D>);

impl<F: RichField + Extendable<D>, const D: usize> ExtensionOps<D> for InCircuit<'_, F, D> {
    type Base = ExtensionTarget<D>;
    type Ext = ExtensionAlgebraTarget<D>;
    type Out = ExtensionTarget<D>;
    fn lift(&mut self, base: Self::Base) -> Self::Ext {
        self.0.convert_to_ext_algebra(base)
    }
    fn one(&mut self) -> Self::Ext {
        let one = self.0.one_extension();
        self.0.convert_to_ext_algebra(one)
    }
    fn add(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        self.0.add_ext_algebra(a, b)
    }
    fn sub(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        self.0.sub_ext_algebra(a, b)
    }
    fn mul(&mut self, a: Self::Ext, b: Self::Ext) -> Self::Ext {
        self.0.mul_ext_algebra(a, b)
    }
    fn split(&mut self, a: Self::Ext) -> [ExtensionTarget<D>; D] {
        a.to_ext_target_array()
    }
}

impl<F: RichField + Extendable<D>, const D: usize> Gate<F, D> for PayoutTermsGate<D> {
    fn id(&self) -> String {
        format!("{self:?}")
    }

    fn serialize(&self, dst: &mut Vec<u8>, _common: &CommonCircuitData<F, D>) -> IoResult<()> {
        dst.write_usize(self.slots)?;
        dst.write_usize(self.num_ops)
    }

    fn deserialize(src: &mut Buffer<'_>, common: &CommonCircuitData<F, D>) -> IoResult<Self> {
        let slots = src.read_usize()?;
        let num_ops = src.read_usize()?;
        // Verifier data may come from a file: refuse shapes that do not fit the circuit's rows
        // instead of indexing past them later.
        let fits = (1..=64).contains(&slots)
            && num_ops > 0
            && num_ops <= Self::ops_that_fit(&common.config, slots);
        if !fits {
            return Err(IoError);
        }
        Ok(PayoutTermsGate { slots, num_ops })
    }

    fn eval_unfiltered(&self, vars: EvaluationVars<'_, F, D>) -> Vec<F::Extension> {
        let mut ops = AtExtensionPoint::<F>(std::marker::PhantomData);
        (0..self.num_ops)
            .flat_map(|op| {
                op_constraints(
                    &mut ops,
                    self,
                    op,
                    |i| vars.local_wires[i],
                    |r| vars.get_local_ext_algebra(r),
                )
            })
            .collect()
    }

    fn eval_unfiltered_base_one(
        &self,
        vars: EvaluationVarsBase<'_, F>,
        mut yield_constr: StridedConstraintConsumer<'_, F>,
    ) {
        let mut ops = OnRows::<F>(std::marker::PhantomData);
        for op in 0..self.num_ops {
            yield_constr.many(op_constraints(
                &mut ops,
                self,
                op,
                |i| vars.local_wires[i],
                |r| vars.get_local_ext(r),
            ));
        }
    }

    fn eval_unfiltered_circuit(
        &self,
        builder: &mut CircuitBuilder<F, D>,
        vars: EvaluationTargets<'_, D>,
    ) -> Vec<ExtensionTarget<D>> {
        let mut ops = InCircuit(builder);
        (0..self.num_ops)
            .flat_map(|op| {
                op_constraints(
                    &mut ops,
                    self,
                    op,
                    |i| vars.local_wires[i],
                    |r| vars.get_local_ext_algebra(r),
                )
            })
            .collect()
    }

    fn generators(&self, row: usize, _local_constants: &[F]) -> Vec<WitnessGeneratorRef<F, D>> {
        (0..self.num_ops)
            .map(|op| {
                WitnessGeneratorRef::new(
                    PayoutTermsGenerator {
                        gate: *self,
                        row,
                        op,
                    }
                    .adapter(),
                )
            })
            .collect()
    }

    fn num_wires(&self) -> usize {
        self.num_ops * (Self::routed_per_op(self.slots) + D * self.slots)
    }

    fn num_constants(&self) -> usize {
        0
    }

    fn degree(&self) -> usize {
        3
    }

    fn num_constraints(&self) -> usize {
        self.num_ops * D * (self.slots + 1)
    }

    fn num_ops(&self) -> usize {
        self.num_ops
    }
}

/// Fills one op's inverses and `acc_out` from its routed inputs. An `α − a_j` of zero (never
/// for an honest α, which lies outside the base field) gets inverse zero, and a used slot then
/// fails its check: the proof is refused, with no panic.
#[derive(Debug)]
pub struct PayoutTermsGenerator<const D: usize> {
    gate: PayoutTermsGate<D>,
    row: usize,
    op: usize,
}

impl<const D: usize> PayoutTermsGenerator<D> {
    fn wire(&self, column: usize) -> Target {
        Target::wire(self.row, column)
    }
}

impl<F: RichField + Extendable<D>, const D: usize> SimpleGenerator<F, D>
    for PayoutTermsGenerator<D>
{
    fn id(&self) -> String {
        "PayoutTermsGenerator".to_string()
    }

    fn dependencies(&self) -> Vec<Target> {
        let gate = &self.gate;
        let op = self.op;
        let mut wires: Vec<usize> = gate
            .wire_alpha(op)
            .chain(gate.wire_beta(op))
            .chain(gate.wire_acc_in(op))
            .collect();
        for j in 0..gate.slots {
            wires.extend([
                gate.wire_adapter(op, j),
                gate.wire_share(op, j),
                gate.wire_used(op, j),
            ]);
        }
        wires.into_iter().map(|c| self.wire(c)).collect()
    }

    fn run_once(
        &self,
        witness: &PartitionWitness<'_, F>,
        out: &mut GeneratedValues<F>,
    ) -> Result<()> {
        let gate = &self.gate;
        let op = self.op;
        let ext = |r: Range<usize>| {
            let limbs: Vec<F> = r.map(|c| witness.get_target(self.wire(c))).collect();
            F::Extension::from_basefield_array(std::array::from_fn(|i| limbs[i]))
        };
        let base = |c: usize| F::Extension::from_basefield(witness.get_target(self.wire(c)));
        let alpha = ext(gate.wire_alpha(op));
        let beta = ext(gate.wire_beta(op));
        let mut acc = ext(gate.wire_acc_in(op));
        for j in 0..gate.slots {
            let inverse = (alpha - base(gate.wire_adapter(op, j)))
                .try_inverse()
                .unwrap_or(F::Extension::ZERO);
            for (c, limb) in gate.wire_inverse(op, j).zip(inverse.to_basefield_array()) {
                out.set_target(self.wire(c), limb)?;
            }
            acc += base(gate.wire_used(op, j)) * (base(gate.wire_share(op, j)) + beta) * inverse;
        }
        for (c, limb) in gate.wire_acc_out(op).zip(acc.to_basefield_array()) {
            out.set_target(self.wire(c), limb)?;
        }
        Ok(())
    }

    fn serialize(&self, dst: &mut Vec<u8>, _common: &CommonCircuitData<F, D>) -> IoResult<()> {
        dst.write_usize(self.gate.slots)?;
        dst.write_usize(self.gate.num_ops)?;
        dst.write_usize(self.row)?;
        dst.write_usize(self.op)
    }

    fn deserialize(src: &mut Buffer<'_>, _common: &CommonCircuitData<F, D>) -> IoResult<Self> {
        let gate = PayoutTermsGate {
            slots: src.read_usize()?,
            num_ops: src.read_usize()?,
        };
        Ok(PayoutTermsGenerator {
            gate,
            row: src.read_usize()?,
            op: src.read_usize()?,
        })
    }
}

/// The payout accumulator on the circuit builder, packed into [`PayoutTermsGate`] rows.
pub trait PayoutTermsInstructions<const D: usize> {
    /// Returns `acc + Σ_j used_j · (share_j + β) / (α − a_j)`, constraining each used slot's
    /// inverse (so `α − a_j` is nonzero for every used slot) and the sum, and the inverses'
    /// wires (filled by the gate's generator; returned so tests can tamper with them).
    /// `adapters`, `shares` and `used` have one entry per slot; the caller constrains `used`
    /// boolean (a `BoolTarget`'s contract).
    fn accumulate_payout_terms(
        &mut self,
        challenges: (ExtensionTarget<D>, ExtensionTarget<D>),
        acc: ExtensionTarget<D>,
        adapters: &[Target],
        shares: &[Target],
        used: &[BoolTarget],
    ) -> (ExtensionTarget<D>, Vec<ExtensionTarget<D>>);
}

impl<F: RichField + Extendable<D>, const D: usize> PayoutTermsInstructions<D>
    for CircuitBuilder<F, D>
{
    fn accumulate_payout_terms(
        &mut self,
        (alpha, beta): (ExtensionTarget<D>, ExtensionTarget<D>),
        acc: ExtensionTarget<D>,
        adapters: &[Target],
        shares: &[Target],
        used: &[BoolTarget],
    ) -> (ExtensionTarget<D>, Vec<ExtensionTarget<D>>) {
        let slots = adapters.len();
        assert!(
            shares.len() == slots && used.len() == slots,
            "one adapter, share and flag per slot"
        );
        let gate = PayoutTermsGate::new_from_config(&self.config, slots);
        let (row, op) = self.find_slot(gate, &[], &[]);
        let wire = |c: usize| Target::wire(row, c);
        let ext = |r: Range<usize>| ExtensionTarget::<D>::from_range(row, r);
        self.connect_extension(alpha, ext(gate.wire_alpha(op)));
        self.connect_extension(beta, ext(gate.wire_beta(op)));
        self.connect_extension(acc, ext(gate.wire_acc_in(op)));
        for j in 0..slots {
            self.connect(adapters[j], wire(gate.wire_adapter(op, j)));
            self.connect(shares[j], wire(gate.wire_share(op, j)));
            self.connect(used[j].target, wire(gate.wire_used(op, j)));
        }
        let inverses = (0..slots).map(|j| ext(gate.wire_inverse(op, j))).collect();
        (ext(gate.wire_acc_out(op)), inverses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Unwitnessed;
    use plonky2::field::goldilocks_field::GoldilocksField;
    use plonky2::field::types::Sample;
    use plonky2::gates::gate_testing::{test_eval_fns, test_low_degree};
    use plonky2::hash::hash_types::HashOut;
    use plonky2::iop::witness::PartialWitness;
    use plonky2::plonk::config::{GenericConfig, PoseidonGoldilocksConfig};
    use plonky2::plonk::vars::EvaluationVarsBaseBatch;

    const D: usize = 2;
    const SLOTS: usize = 8;
    type C = PoseidonGoldilocksConfig;
    type F = <C as GenericConfig<D>>::F;
    type FE = <F as Extendable<D>>::Extension;

    fn limbs(x: FE) -> [F; D] {
        <FE as FieldExtension<D>>::to_basefield_array(&x)
    }

    fn config() -> CircuitConfig {
        CircuitConfig::standard_recursion_config()
    }

    fn gate() -> PayoutTermsGate<D> {
        PayoutTermsGate::new_from_config(&config(), SLOTS)
    }

    #[test]
    fn low_degree() {
        test_low_degree::<GoldilocksField, _, 4>(PayoutTermsGate::<4>::new_from_config(
            &config(),
            SLOTS,
        ));
    }

    #[test]
    fn eval_fns() -> Result<()> {
        test_eval_fns::<F, C, _, D>(gate())
    }

    #[test]
    fn packs_two_queries_in_a_row() {
        let gate = gate();
        assert_eq!(gate.num_ops, 2);
        assert_eq!(<PayoutTermsGate<D> as Gate<F, D>>::num_wires(&gate), 96);
        // Routed inputs of both ops stay within the routed wires.
        assert!(gate.wire_used(1, SLOTS - 1) < config().num_routed_wires);
    }

    /// One query's slots: adapters (0 for unused), shares and flags.
    #[derive(Clone)]
    struct Query {
        adapters: Vec<u64>,
        shares: Vec<u64>,
    }

    impl Query {
        fn used(&self) -> Vec<bool> {
            self.adapters.iter().map(|a| *a != 0).collect()
        }
    }

    fn queries() -> Vec<Query> {
        vec![
            Query {
                adapters: vec![3, 17, 99, 1000, 1001, 5000, 70_000, u32::MAX.into()],
                shares: vec![1, 0, 12_345, (1 << 48) - 1, 7, 8, 9, 10],
            },
            Query {
                adapters: vec![42, 43, 0, 0, 0, 0, 0, 0],
                shares: vec![500, 499, 0, 0, 0, 0, 0, 0],
            },
            Query {
                adapters: vec![0; SLOTS],
                shares: vec![0; SLOTS],
            },
        ]
    }

    /// `acc + Σ used · (share + β) / (α − a)`, natively.
    fn reference(alpha: FE, beta: FE, acc: FE, query: &Query) -> FE {
        query
            .adapters
            .iter()
            .zip(&query.shares)
            .filter(|(a, _)| **a != 0)
            .fold(acc, |acc, (a, s)| {
                acc + (FE::from_canonical_u64(*s) + beta) / (alpha - FE::from_canonical_u64(*a))
            })
    }

    /// The row an honest prover fills for `query` as op 0 (op 1 left all zero).
    fn honest_row(alpha: FE, beta: FE, acc: FE, query: &Query) -> Vec<F> {
        let gate = gate();
        let mut wires = vec![F::ZERO; <PayoutTermsGate<D> as Gate<F, D>>::num_wires(&gate)];
        let put = |wires: &mut Vec<F>, r: Range<usize>, x: FE| {
            for (c, limb) in r.zip(limbs(x)) {
                wires[c] = limb;
            }
        };
        put(&mut wires, gate.wire_alpha(0), alpha);
        put(&mut wires, gate.wire_beta(0), beta);
        put(&mut wires, gate.wire_acc_in(0), acc);
        put(
            &mut wires,
            gate.wire_acc_out(0),
            reference(alpha, beta, acc, query),
        );
        for j in 0..SLOTS {
            let adapter = FE::from_canonical_u64(query.adapters[j]);
            put(
                &mut wires,
                gate.wire_inverse(0, j),
                (alpha - adapter).inverse(),
            );
            wires[gate.wire_adapter(0, j)] = F::from_canonical_u64(query.adapters[j]);
            wires[gate.wire_share(0, j)] = F::from_canonical_u64(query.shares[j]);
            wires[gate.wire_used(0, j)] = F::from_bool(query.used()[j]);
        }
        wires
    }

    /// Constraint values on chosen wires (the mock check), from both the extension-point and
    /// the base-field evaluation, which must agree.
    fn evaluate(wires: &[F]) -> Vec<F> {
        let gate = gate();
        let extension: Vec<FE> = wires.iter().map(|w| FE::from(*w)).collect();
        let vars = EvaluationVars {
            local_constants: &[],
            local_wires: &extension,
            public_inputs_hash: &HashOut::ZERO,
        };
        let at_point: Vec<F> = <PayoutTermsGate<D> as Gate<F, D>>::eval_unfiltered(&gate, vars)
            .into_iter()
            .map(|c| c.0[0])
            .collect();
        let hash = HashOut::ZERO;
        let batch = EvaluationVarsBaseBatch::new(1, &[], wires, &hash);
        let on_rows = <PayoutTermsGate<D> as Gate<F, D>>::eval_unfiltered_base_batch(&gate, batch);
        assert_eq!(at_point, on_rows);
        at_point
    }

    fn failing(wires: &[F]) -> Vec<usize> {
        evaluate(wires)
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != F::ZERO)
            .map(|(i, _)| i)
            .collect()
    }

    fn challenges() -> (FE, FE) {
        (FE::rand(), FE::rand())
    }

    #[test]
    fn honest_rows_and_an_empty_op_satisfy_every_constraint() {
        let (alpha, beta) = challenges();
        for query in queries() {
            assert!(failing(&honest_row(alpha, beta, FE::rand(), &query)).is_empty());
        }
        assert!(failing(&vec![F::ZERO; 96]).is_empty());
    }

    #[test]
    fn each_constraint_rejects_its_tamper() {
        let gate = gate();
        let (alpha, beta) = challenges();
        let query = &queries()[1];
        let honest = honest_row(alpha, beta, FE::rand(), query);
        let accumulator = [2 * SLOTS, 2 * SLOTS + 1];
        let tampered = |wire: usize| {
            let mut wires = honest.clone();
            wires[wire] += F::ONE;
            failing(&wires)
        };
        // A used slot's inverse: its check, and the sum.
        let c = tampered(gate.wire_inverse(0, 1).start);
        assert!(c.contains(&2) && c.contains(&accumulator[0]), "{c:?}");
        // An unused slot's inverse is free: its term is zero whatever it holds.
        assert!(tampered(gate.wire_inverse(0, 5).start).is_empty());
        // The accumulator out, and a share of a used slot: the sum only.
        assert_eq!(tampered(gate.wire_acc_out(0).start), vec![accumulator[0]]);
        let c = tampered(gate.wire_share(0, 0));
        assert!(
            !c.is_empty() && c.iter().all(|i| accumulator.contains(i)),
            "{c:?}"
        );
        // An adapter of a used slot: its inverse check.
        assert!(tampered(gate.wire_adapter(0, 0)).contains(&0));
        // A used flag cleared: the slot's term leaves the sum.
        let mut wires = honest.clone();
        wires[gate.wire_used(0, 1)] = F::ZERO;
        let c = failing(&wires);
        assert!(
            !c.is_empty() && c.iter().all(|i| accumulator.contains(i)),
            "{c:?}"
        );
    }

    /// One query's slot inputs: adapters, shares, used flags.
    type SlotTargets = (Vec<Target>, Vec<Target>, Vec<BoolTarget>);

    /// A circuit folding `count` queries into an accumulator starting at zero; the result is
    /// public.
    fn fold_circuit(
        count: usize,
    ) -> (
        plonky2::plonk::circuit_data::CircuitData<F, C, D>,
        (ExtensionTarget<D>, ExtensionTarget<D>),
        Vec<SlotTargets>,
    ) {
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let alpha = builder.add_virtual_extension_target();
        let beta = builder.add_virtual_extension_target();
        let mut acc = builder.zero_extension();
        let mut inputs = Vec::new();
        for _ in 0..count {
            let adapters: Vec<Target> = builder.add_virtual_targets(SLOTS);
            let shares: Vec<Target> = builder.add_virtual_targets(SLOTS);
            let used: Vec<BoolTarget> = (0..SLOTS)
                .map(|_| builder.add_virtual_bool_target_safe())
                .collect();
            (acc, _) =
                builder.accumulate_payout_terms((alpha, beta), acc, &adapters, &shares, &used);
            inputs.push((adapters, shares, used));
        }
        builder.register_public_inputs(&acc.0);
        (builder.build::<C>(), (alpha, beta), inputs)
    }

    #[test]
    fn real_proofs_fold_the_reference_sum_and_refuse_a_zero_denominator() -> Result<()> {
        // Three queries: two rows, the second with an unused op.
        let (data, (alpha_t, beta_t), inputs) = fold_circuit(3);
        let prove = |alpha: FE, beta: FE, queries: &[Query]| -> Result<Vec<F>> {
            let mut pw = PartialWitness::new();
            pw.set_extension_target(alpha_t, alpha)?;
            pw.set_extension_target(beta_t, beta)?;
            for ((adapters, shares, used), query) in inputs.iter().zip(queries) {
                for j in 0..SLOTS {
                    pw.set_target(adapters[j], F::from_canonical_u64(query.adapters[j]))?;
                    pw.set_target(shares[j], F::from_canonical_u64(query.shares[j]))?;
                    pw.set_bool_target(used[j], query.used()[j])?;
                }
            }
            let proof = data.prove(pw)?;
            let public = proof.public_inputs.clone();
            data.verify(proof)?;
            Ok(public)
        };
        let (alpha, beta) = challenges();
        let queries = queries();
        let expected = queries
            .iter()
            .fold(FE::ZERO, |acc, q| reference(alpha, beta, acc, q));
        assert_eq!(prove(alpha, beta, &queries)?, limbs(expected).to_vec());
        // α equal to a used slot's adapter (a base-field α): no inverse exists, refused.
        let alpha_on_adapter = FE::from_canonical_u64(42);
        assert!(prove(alpha_on_adapter, beta, &queries).is_err());
        Ok(())
    }

    /// The mock tampers as real proofs of a row whose wires the test sets.
    #[test]
    fn real_proofs_refuse_each_tampered_wire() -> Result<()> {
        let gate = gate();
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let row = builder.add_gate(Unwitnessed(gate), vec![]);
        let data = builder.build::<C>();
        let prove = |wires: &[F]| -> Result<()> {
            let mut pw = PartialWitness::new();
            for (c, value) in wires.iter().enumerate() {
                pw.set_target(Target::wire(row, c), *value)?;
            }
            data.verify(data.prove(pw)?)
        };
        let (alpha, beta) = challenges();
        let honest = honest_row(alpha, beta, FE::rand(), &queries()[0]);
        prove(&honest)?;
        for wire in [
            gate.wire_inverse(0, 3).start,
            gate.wire_acc_out(0).start + 1,
            gate.wire_share(0, 7),
            gate.wire_adapter(0, 2),
            gate.wire_used(0, 4),
            gate.wire_beta(0).start,
        ] {
            let mut wires = honest.clone();
            wires[wire] += F::ONE;
            assert!(
                !failing(&wires).is_empty(),
                "wire {wire}: the mock check holds"
            );
            assert!(prove(&wires).is_err(), "wire {wire}: proved");
        }
        Ok(())
    }

    #[test]
    fn deserialize_refuses_shapes_that_do_not_fit() {
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let x = builder.add_virtual_target();
        builder.register_public_input(x);
        let data = builder.build::<C>();
        let read = |slots: usize, ops: usize| {
            let mut bytes = Vec::new();
            bytes.write_usize(slots).unwrap();
            bytes.write_usize(ops).unwrap();
            <PayoutTermsGate<D> as Gate<F, D>>::deserialize(&mut Buffer::new(&bytes), &data.common)
        };
        assert!(read(SLOTS, 2).is_ok());
        for (slots, ops) in [(0, 1), (SLOTS, 0), (SLOTS, 3), (65, 1), (40, 1)] {
            assert!(read(slots, ops).is_err(), "{slots} slots x {ops}");
        }
    }
}
