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
mod tests;
