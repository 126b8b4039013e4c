//! [`RangeCheckGate`]: many range checks in one row, and [`RangeCheckInstructions`], the builder
//! methods that use it.
//!
//! plonky2's own `range_check` spends a whole row (a `BaseSumGate<2>`, 135 wires) on one value,
//! whatever its width. The attribution rule checks about 150 values per query, so those rows were
//! most of the circuit. This gate splits each value into base-4 limbs (degree-4 constraints, the
//! same degree as plonky2's arithmetic), `1 + ceil(bits / 2)` wires a value, so a row holds
//! 7 checks of 32 bits, 10 of 24 bits or 15 of 16 bits.
//!
//! Every width is its own gate type, and plonky2 evaluates every gate type's constraints on
//! every row, so the circuits use only the few [`NATIVE_WIDTHS`]; other widths up to 32 are two
//! checks of the next native width (see [`RangeCheckInstructions::check_bits`]).

use anyhow::Result;
use plonky2::field::extension::Extendable;
use plonky2::field::packed::PackedField;
use plonky2::field::types::Field;
use plonky2::gates::gate::Gate;
use plonky2::gates::packed_util::PackedEvaluableBase;
use plonky2::gates::util::StridedConstraintConsumer;
use plonky2::hash::hash_types::RichField;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::generator::{GeneratedValues, SimpleGenerator, WitnessGeneratorRef};
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartitionWitness, Witness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CommonCircuitData};
use plonky2::plonk::plonk_common::{reduce_with_powers, reduce_with_powers_ext_circuit};
use plonky2::plonk::vars::{
    EvaluationTargets, EvaluationVars, EvaluationVarsBase, EvaluationVarsBaseBatch,
    EvaluationVarsBasePacked,
};
use plonky2::util::serialization::{Buffer, IoError, IoResult, Read, Write};

/// The widths that have a gate type of their own.
pub const NATIVE_WIDTHS: [usize; 5] = [16, 24, 32, 48, 50];

/// Limb base. Base 4 keeps the limb constraint `l (l-1) (l-2) (l-3)` at degree 4.
const BASE: usize = 4;

/// Constrains, for each of `num_ops` values in a row, `0 <= value < 2^bits`.
///
/// Op `i` has its value in wire `i` (routed, so callers connect to it) and its limbs in
/// [`RangeCheckGate::wire_limb`]. Constraints per op: `value = Σ_k limb_k · 4^k`, and every limb
/// lies in `[0, 4)`, except the top limb of an odd width, which lies in `[0, 2)`. The limb sum is
/// below `2^bits <= 2^63 < p`, so the field equation is the integer one.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RangeCheckGate {
    pub bits: usize,
    pub num_ops: usize,
}

impl RangeCheckGate {
    /// The widest check: limb sums must stay below the Goldilocks modulus.
    pub const MAX_BITS: usize = 63;

    /// As many ops as fit the config's wires (values need routed wires).
    pub fn new_from_config(config: &CircuitConfig, bits: usize) -> Self {
        assert!(
            (1..=Self::MAX_BITS).contains(&bits),
            "a range check of {bits} bits"
        );
        let wires_per_op = 1 + bits.div_ceil(2);
        let num_ops = (config.num_wires / wires_per_op).min(config.num_routed_wires);
        assert!(num_ops > 0, "no room for a {bits}-bit check in a row");
        RangeCheckGate { bits, num_ops }
    }

    pub const fn num_limbs(&self) -> usize {
        self.bits.div_ceil(2)
    }

    /// The wire holding op `op`'s value.
    pub const fn wire_value(op: usize) -> usize {
        op
    }

    /// The wire holding limb `limb` (low first) of op `op`.
    pub const fn wire_limb(&self, op: usize, limb: usize) -> usize {
        self.num_ops + op * self.num_limbs() + limb
    }

    /// The base of limb `limb`: 4, or 2 for the top limb of an odd width.
    const fn limb_base(&self, limb: usize) -> usize {
        if limb + 1 == self.num_limbs() && self.bits % 2 == 1 {
            2
        } else {
            BASE
        }
    }
}

/// `Π_{i < base} (limb - i)`, zero exactly on the limb's digits.
fn digit_product<P: PackedField>(limb: P, base: usize) -> P {
    (0..base)
        .map(|i| limb - P::Scalar::from_canonical_usize(i))
        .product()
}

impl<F: RichField + Extendable<D>, const D: usize> Gate<F, D> for RangeCheckGate {
    fn id(&self) -> String {
        format!("{self:?}")
    }

    fn serialize(&self, dst: &mut Vec<u8>, _common_data: &CommonCircuitData<F, D>) -> IoResult<()> {
        dst.write_usize(self.bits)?;
        dst.write_usize(self.num_ops)
    }

    fn deserialize(src: &mut Buffer<'_>, common_data: &CommonCircuitData<F, D>) -> IoResult<Self> {
        let bits = src.read_usize()?;
        let num_ops = src.read_usize()?;
        // Verifier data may come from a file: refuse shapes that do not fit the circuit's rows
        // instead of indexing past them later.
        let fits = (1..=Self::MAX_BITS).contains(&bits)
            && num_ops > 0
            && num_ops <= common_data.config.num_routed_wires
            && num_ops * (1 + bits.div_ceil(2)) <= common_data.config.num_wires;
        if !fits {
            return Err(IoError);
        }
        Ok(RangeCheckGate { bits, num_ops })
    }

    fn eval_unfiltered(&self, vars: EvaluationVars<'_, F, D>) -> Vec<F::Extension> {
        let base = F::Extension::from_canonical_usize(BASE);
        let mut constraints = Vec::with_capacity(self.num_ops * (1 + self.num_limbs()));
        for op in 0..self.num_ops {
            let value = vars.local_wires[Self::wire_value(op)];
            let limbs: Vec<F::Extension> = (0..self.num_limbs())
                .map(|k| vars.local_wires[self.wire_limb(op, k)])
                .collect();
            constraints.push(reduce_with_powers(&limbs, base) - value);
            for (k, limb) in limbs.into_iter().enumerate() {
                constraints.push(digit_product(limb, self.limb_base(k)));
            }
        }
        constraints
    }

    fn eval_unfiltered_base_one(
        &self,
        _vars: EvaluationVarsBase<'_, F>,
        _yield_constr: StridedConstraintConsumer<'_, F>,
    ) {
        panic!("use eval_unfiltered_base_packed instead");
    }

    fn eval_unfiltered_base_batch(&self, vars_base: EvaluationVarsBaseBatch<'_, F>) -> Vec<F> {
        self.eval_unfiltered_base_batch_packed(vars_base)
    }

    fn eval_unfiltered_circuit(
        &self,
        builder: &mut CircuitBuilder<F, D>,
        vars: EvaluationTargets<'_, D>,
    ) -> Vec<ExtensionTarget<D>> {
        let base = builder.constant(F::from_canonical_usize(BASE));
        let mut constraints = Vec::with_capacity(self.num_ops * (1 + self.num_limbs()));
        for op in 0..self.num_ops {
            let value = vars.local_wires[Self::wire_value(op)];
            let limbs: Vec<ExtensionTarget<D>> = (0..self.num_limbs())
                .map(|k| vars.local_wires[self.wire_limb(op, k)])
                .collect();
            let sum = reduce_with_powers_ext_circuit(builder, &limbs, base);
            constraints.push(builder.sub_extension(sum, value));
            for (k, limb) in limbs.into_iter().enumerate() {
                // acc <- acc · (limb - i), one arithmetic op per digit.
                let mut acc = builder.one_extension();
                for i in 0..self.limb_base(k) {
                    let minus_i = -F::from_canonical_usize(i);
                    acc = builder.arithmetic_extension(F::ONE, minus_i, acc, limb, acc);
                }
                constraints.push(acc);
            }
        }
        constraints
    }

    fn generators(&self, row: usize, _local_constants: &[F]) -> Vec<WitnessGeneratorRef<F, D>> {
        (0..self.num_ops)
            .map(|op| {
                WitnessGeneratorRef::new(
                    LimbGenerator {
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
        self.num_ops * (1 + self.num_limbs())
    }

    fn num_constants(&self) -> usize {
        0
    }

    fn degree(&self) -> usize {
        (0..self.num_limbs())
            .map(|k| self.limb_base(k))
            .max()
            .unwrap_or(1)
    }

    fn num_constraints(&self) -> usize {
        self.num_ops * (1 + self.num_limbs())
    }

    fn num_ops(&self) -> usize {
        self.num_ops
    }
}

impl<F: RichField + Extendable<D>, const D: usize> PackedEvaluableBase<F, D> for RangeCheckGate {
    fn eval_unfiltered_base_packed<P: PackedField<Scalar = F>>(
        &self,
        vars: EvaluationVarsBasePacked<'_, P>,
        mut yield_constr: StridedConstraintConsumer<'_, P>,
    ) {
        let base = F::from_canonical_usize(BASE);
        for op in 0..self.num_ops {
            let value = vars.local_wires[Self::wire_value(op)];
            let limbs: Vec<P> = (0..self.num_limbs())
                .map(|k| vars.local_wires[self.wire_limb(op, k)])
                .collect();
            yield_constr.one(reduce_with_powers(&limbs, base) - value);
            for (k, limb) in limbs.into_iter().enumerate() {
                yield_constr.one(digit_product(limb, self.limb_base(k)));
            }
        }
    }
}

/// Fills one op's limbs from its value. The top limb takes everything above the lower limbs,
/// so a value out of range fails the top limb's digit constraint (and the proof), with no panic.
#[derive(Debug)]
pub struct LimbGenerator {
    gate: RangeCheckGate,
    row: usize,
    op: usize,
}

impl<F: RichField + Extendable<D>, const D: usize> SimpleGenerator<F, D> for LimbGenerator {
    fn id(&self) -> String {
        "RangeCheckLimbGenerator".to_string()
    }

    fn dependencies(&self) -> Vec<Target> {
        vec![Target::wire(self.row, RangeCheckGate::wire_value(self.op))]
    }

    fn run_once(
        &self,
        witness: &PartitionWitness<'_, F>,
        out_buffer: &mut GeneratedValues<F>,
    ) -> Result<()> {
        let value = witness
            .get_target(Target::wire(self.row, RangeCheckGate::wire_value(self.op)))
            .to_canonical_u64();
        let top = self.gate.num_limbs() - 1;
        for k in 0..=top {
            let digits = value >> (2 * k);
            let limb = if k == top { digits } else { digits & 3 };
            out_buffer.set_target(
                Target::wire(self.row, self.gate.wire_limb(self.op, k)),
                F::from_canonical_u64(limb),
            )?;
        }
        Ok(())
    }

    fn serialize(&self, dst: &mut Vec<u8>, _common_data: &CommonCircuitData<F, D>) -> IoResult<()> {
        dst.write_usize(self.gate.bits)?;
        dst.write_usize(self.gate.num_ops)?;
        dst.write_usize(self.row)?;
        dst.write_usize(self.op)
    }

    fn deserialize(src: &mut Buffer<'_>, _common_data: &CommonCircuitData<F, D>) -> IoResult<Self> {
        let gate = RangeCheckGate {
            bits: src.read_usize()?,
            num_ops: src.read_usize()?,
        };
        Ok(LimbGenerator {
            gate,
            row: src.read_usize()?,
            op: src.read_usize()?,
        })
    }
}

/// Witnesses the limbs of `x` for [`RangeCheckInstructions::split_limbs`]: limb `k` is the next
/// `widths[k]` bits, the last limb everything above the others.
#[derive(Debug, Default)]
pub struct LimbsGenerator {
    x: Target,
    widths: Vec<usize>,
    limbs: Vec<Target>,
}

impl<F: RichField + Extendable<D>, const D: usize> SimpleGenerator<F, D> for LimbsGenerator {
    fn id(&self) -> String {
        "RangeCheckLimbsGenerator".to_string()
    }

    fn dependencies(&self) -> Vec<Target> {
        vec![self.x]
    }

    fn run_once(
        &self,
        witness: &PartitionWitness<'_, F>,
        out_buffer: &mut GeneratedValues<F>,
    ) -> Result<()> {
        let mut rest = witness.get_target(self.x).to_canonical_u64();
        let last = self.limbs.len() - 1;
        for (k, (limb, width)) in self.limbs.iter().zip(&self.widths).enumerate() {
            let value = if k == last {
                rest
            } else {
                rest & ((1u64 << width) - 1)
            };
            out_buffer.set_target(*limb, F::from_canonical_u64(value))?;
            rest = rest.checked_shr(*width as u32).unwrap_or(0);
        }
        Ok(())
    }

    fn serialize(&self, dst: &mut Vec<u8>, _common_data: &CommonCircuitData<F, D>) -> IoResult<()> {
        dst.write_target(self.x)?;
        dst.write_usize_vec(&self.widths)?;
        dst.write_target_vec(&self.limbs)
    }

    fn deserialize(src: &mut Buffer<'_>, _common_data: &CommonCircuitData<F, D>) -> IoResult<Self> {
        Ok(LimbsGenerator {
            x: src.read_target()?,
            widths: src.read_usize_vec()?,
            limbs: src.read_target_vec()?,
        })
    }
}

/// Range checks on the circuit builder, packed into [`RangeCheckGate`] rows.
pub trait RangeCheckInstructions {
    /// Constrains `0 <= x < 2^bits`. A width in [`NATIVE_WIDTHS`] takes one slot of its gate;
    /// any other width up to 32 takes two slots of the next native width `B`: `x < 2^B` and
    /// `x · 2^(B - bits) < 2^B` (the product is below `2^63`, so it does not wrap). `bits = 0`
    /// constrains `x = 0`.
    ///
    /// # Panics
    /// At circuit construction, for a width above 32 that is not native (a programming error).
    fn check_bits(&mut self, x: Target, bits: usize);

    /// Splits `x` into limbs of `widths` bits, low first: constrains
    /// `x = Σ_k limb_k · 2^(widths_0 + .. + widths_(k-1))` and `limb_k < 2^widths_k` (each with
    /// [`check_bits`](Self::check_bits)), so also `x < 2^Σ widths`, which must be at most 63.
    fn split_limbs(&mut self, x: Target, widths: &[usize]) -> Vec<Target>;

    /// [`split_limbs`](Self::split_limbs) into `(low, high)` of `low_bits` and
    /// `bits - low_bits` bits.
    fn split_bits(&mut self, x: Target, low_bits: usize, bits: usize) -> (Target, Target) {
        assert!(low_bits < bits);
        let limbs = self.split_limbs(x, &[low_bits, bits - low_bits]);
        (limbs[0], limbs[1])
    }
}

impl<F: RichField + Extendable<D>, const D: usize> RangeCheckInstructions for CircuitBuilder<F, D> {
    fn check_bits(&mut self, x: Target, bits: usize) {
        if bits == 0 {
            let zero = self.zero();
            self.connect(x, zero);
            return;
        }
        let width = if NATIVE_WIDTHS.contains(&bits) {
            bits
        } else {
            let wider = NATIVE_WIDTHS
                .iter()
                .copied()
                .find(|&w| w > bits && w <= 32)
                .unwrap_or_else(|| panic!("no range check for {bits} bits"));
            let scaled = self.mul_const(F::from_canonical_u64(1 << (wider - bits)), x);
            check_in_slot(self, scaled, wider);
            wider
        };
        check_in_slot(self, x, width);
    }

    fn split_limbs(&mut self, x: Target, widths: &[usize]) -> Vec<Target> {
        assert!(
            !widths.is_empty() && widths.iter().sum::<usize>() <= RangeCheckGate::MAX_BITS,
            "limbs of {widths:?} bits"
        );
        let limbs: Vec<Target> = widths.iter().map(|_| self.add_virtual_target()).collect();
        self.add_simple_generator(LimbsGenerator {
            x,
            widths: widths.to_vec(),
            limbs: limbs.clone(),
        });
        // Horner from the top limb: acc <- acc · 2^width_k + limb_k.
        let mut recomposed = *limbs.last().expect("at least one limb");
        for (limb, width) in limbs.iter().zip(widths).rev().skip(1) {
            recomposed = self.mul_const_add(F::from_canonical_u64(1 << width), recomposed, *limb);
        }
        self.connect(x, recomposed);
        for (limb, width) in limbs.iter().zip(widths) {
            self.check_bits(*limb, *width);
        }
        limbs
    }
}

fn check_in_slot<F: RichField + Extendable<D>, const D: usize>(
    builder: &mut CircuitBuilder<F, D>,
    x: Target,
    bits: usize,
) {
    let gate = RangeCheckGate::new_from_config(&builder.config, bits);
    let (row, op) = builder.find_slot(gate, &[], &[]);
    builder.connect(x, Target::wire(row, RangeCheckGate::wire_value(op)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use plonky2::field::goldilocks_field::GoldilocksField;
    use plonky2::field::types::Field64;
    use plonky2::gates::gate_testing::{test_eval_fns, test_low_degree};
    use plonky2::iop::witness::PartialWitness;
    use plonky2::plonk::config::{GenericConfig, PoseidonGoldilocksConfig};

    const D: usize = 2;
    type C = PoseidonGoldilocksConfig;
    type F = <C as GenericConfig<D>>::F;

    /// The circuits' wire counts without zero knowledge, whose blinding rows make even a
    /// one-gate circuit 2^14 rows. The gate is the same either way.
    fn config() -> CircuitConfig {
        CircuitConfig::standard_recursion_config()
    }

    #[test]
    fn low_degree() {
        for bits in [1, 2, 15, 16, 31, 48, 50, 63] {
            test_low_degree::<GoldilocksField, _, 4>(RangeCheckGate::new_from_config(
                &config(),
                bits,
            ));
        }
    }

    /// The recursive (in-circuit) evaluation agrees with the native one.
    #[test]
    fn eval_fns() -> Result<()> {
        for bits in [1, 16, 31, 50] {
            test_eval_fns::<F, C, _, D>(RangeCheckGate::new_from_config(&config(), bits))?;
        }
        Ok(())
    }

    #[test]
    fn packs_many_checks_in_a_row() {
        let ops = |bits| RangeCheckGate::new_from_config(&config(), bits).num_ops;
        assert_eq!(
            [ops(16), ops(24), ops(32), ops(48), ops(50)],
            [15, 10, 7, 5, 5]
        );
    }

    /// The constraint values of one op, evaluated natively on chosen wires (the mock check).
    fn constraints_on(gate: RangeCheckGate, value: u64, limbs: &[u64]) -> Vec<F> {
        let mut wires = vec![F::ZERO; <RangeCheckGate as Gate<F, D>>::num_wires(&gate)];
        wires[RangeCheckGate::wire_value(0)] = F::from_canonical_u64(value);
        for (k, limb) in limbs.iter().enumerate() {
            wires[gate.wire_limb(0, k)] = F::from_canonical_u64(*limb);
        }
        let wires: Vec<_> = wires.into_iter().map(Into::into).collect();
        let hash = plonky2::hash::hash_types::HashOut::ZERO;
        let vars = EvaluationVars {
            local_constants: &[],
            local_wires: &wires,
            public_inputs_hash: &hash,
        };
        <RangeCheckGate as Gate<F, D>>::eval_unfiltered(&gate, vars)
            .into_iter()
            .map(|c| c.0[0])
            .collect()
    }

    #[test]
    fn each_constraint_rejects_its_tamper() {
        let gate = RangeCheckGate::new_from_config(&config(), 5);
        let holds = |c: &[F]| c.iter().all(|x| *x == F::ZERO);
        // 27 = 3 + 2·4 + 1·16: limbs 3, 2, 1 (top limb binary for 5 bits).
        assert!(holds(&constraints_on(gate, 27, &[3, 2, 1])));
        // Sum: limbs that are digits but do not add up to the value.
        let c = constraints_on(gate, 27, &[3, 2, 0]);
        assert_ne!(c[0], F::ZERO);
        assert!(c[1..4].iter().all(|x| *x == F::ZERO));
        // A low limb that is not a base-4 digit, with the sum still right: 27 = 7 + 1·4 + 1·16.
        let c = constraints_on(gate, 27, &[7, 1, 1]);
        assert_eq!(c[0], F::ZERO);
        assert_ne!(c[1], F::ZERO);
        // A top limb of 2 where only 0 and 1 are allowed: 32 = 0 + 0·4 + 2·16.
        let c = constraints_on(gate, 32, &[0, 0, 2]);
        assert_eq!(c[0], F::ZERO);
        assert_ne!(c[3], F::ZERO);
        // A "negative" limb: p - 1 with a compensating digit.
        let c = constraints_on(gate, 3, &[F::ORDER - 1, 1, 0]);
        assert_eq!(c[0], F::ZERO);
        assert_ne!(c[1], F::ZERO);
    }

    #[test]
    fn real_proofs_accept_in_range_and_reject_out_of_range() -> Result<()> {
        // Native widths, a doubled odd width (31 -> two 32-bit slots) and a small one, in one
        // circuit; each tamper puts one value out of range.
        let checks: [(usize, u64); 5] = [
            (16, 0xffff),
            (32, u32::MAX.into()),
            (31, (1 << 31) - 1),
            (5, 31),
            (48, (1 << 48) - 1),
        ];
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let targets: Vec<Target> = checks
            .iter()
            .map(|&(bits, _)| {
                let x = builder.add_virtual_target();
                builder.check_bits(x, bits);
                x
            })
            .collect();
        let data = builder.build::<C>();
        let prove = |values: &[u64]| -> Result<()> {
            let mut pw = PartialWitness::new();
            for (t, v) in targets.iter().zip(values) {
                pw.set_target(*t, F::from_canonical_u64(*v))?;
            }
            data.verify(data.prove(pw)?)
        };
        let maxima: Vec<u64> = checks.iter().map(|c| c.1).collect();
        prove(&maxima)?;
        prove(&[0; 5])?;
        for (i, (bits, _)) in checks.iter().enumerate() {
            let mut values = maxima.clone();
            values[i] += 1;
            assert!(prove(&values).is_err(), "{bits} bits: 2^{bits} accepted");
        }
        // p - 1, a wrapped -1.
        let mut values = maxima.clone();
        values[4] = F::ORDER - 1;
        assert!(prove(&values).is_err(), "-1 accepted");
        Ok(())
    }

    #[test]
    fn split_bits_recomposes_and_bounds_both_parts() -> Result<()> {
        let split = |value: u64| -> Result<()> {
            let mut builder = CircuitBuilder::<F, D>::new(config());
            let x = builder.add_virtual_target();
            let (low, high) = builder.split_bits(x, 24, 48);
            builder.register_public_input(low);
            builder.register_public_input(high);
            let data = builder.build::<C>();
            let mut pw = PartialWitness::new();
            pw.set_target(x, F::from_canonical_u64(value))?;
            let proof = data.prove(pw)?;
            assert_eq!(
                proof.public_inputs,
                [
                    F::from_canonical_u64(value & 0xff_ffff),
                    F::from_canonical_u64(value >> 24)
                ]
            );
            data.verify(proof)
        };
        split((1 << 48) - 1)?;
        split(0x1234_5678_9abc)?;
        assert!(split(1 << 48).is_err());
        Ok(())
    }

    #[test]
    fn split_limbs_with_an_odd_top_limb() -> Result<()> {
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let x = builder.add_virtual_target();
        let limbs = builder.split_limbs(x, &[24, 24, 2]);
        builder.register_public_inputs(&limbs);
        let data = builder.build::<C>();
        let split = |value: u64| -> Result<Vec<F>> {
            let mut pw = PartialWitness::new();
            pw.set_target(x, F::from_canonical_u64(value))?;
            let proof = data.prove(pw)?;
            let limbs = proof.public_inputs.clone();
            data.verify(proof)?;
            Ok(limbs)
        };
        let top = (1u64 << 50) - 1;
        assert_eq!(
            split(top)?,
            [0xff_ffff, 0xff_ffff, 3].map(F::from_canonical_u64)
        );
        assert!(split(top + 1).is_err(), "2^50 accepted");
        Ok(())
    }

    #[test]
    fn deserialize_refuses_shapes_that_do_not_fit() {
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let x = builder.add_virtual_target();
        builder.check_bits(x, 16);
        let data = builder.build::<C>();
        let common = &data.common;
        for (bits, ops) in [(0, 1), (64, 1), (16, 0), (16, 81), (50, 6)] {
            let mut bytes = Vec::new();
            bytes.write_usize(bits).unwrap();
            bytes.write_usize(ops).unwrap();
            let mut buffer = Buffer::new(&bytes);
            assert!(
                <RangeCheckGate as Gate<F, D>>::deserialize(&mut buffer, common).is_err(),
                "{bits} bits x {ops}"
            );
        }
    }
}
