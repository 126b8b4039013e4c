use super::*;
use crate::testing::Unwitnessed;
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::{Field64, PrimeField64};
use plonky2::gates::gate_testing::{test_eval_fns, test_low_degree};
use plonky2::hash::hash_types::HashOut;
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_data::CircuitData;
use plonky2::plonk::config::{GenericConfig, PoseidonGoldilocksConfig};

const D: usize = 2;
type C = PoseidonGoldilocksConfig;
type F = <C as GenericConfig<D>>::F;

fn config() -> CircuitConfig {
    CircuitConfig::standard_recursion_config()
}

/// One slot: the reference division and the wires an honest prover fills, computed here
/// independently of the gate's generator.
#[derive(Clone, Copy, Debug)]
struct Slot {
    pool: u64,
    weight: u64,
    total: u64,
}

impl Slot {
    fn share_and_remainder(&self) -> (u64, u64) {
        if self.total == 0 {
            return (0, 0);
        }
        let product = u128::from(self.pool) * u128::from(self.weight);
        let total = u128::from(self.total);
        ((product / total) as u64, (product % total) as u64)
    }

    /// Row wires for `share` and `remainder` (honest: [`Self::share_and_remainder`]); the
    /// carries are the columns' floor divisions.
    fn wires_with(&self, share: u64, remainder: u64) -> Vec<F> {
        let mut wires = vec![F::ZERO; NUM_WIRES];
        let limb = |x: u64, k: u32| (x >> (24 * k)) & (LIMB - 1);
        let pool = [limb(self.pool, 0), self.pool >> 24];
        let total = [limb(self.total, 0), limb(self.total, 1), self.total >> 48];
        for (i, v) in WIRE_POOL.into_iter().zip(pool) {
            wires[i] = F::from_canonical_u64(v);
        }
        for (i, v) in WIRE_TOTAL_WEIGHT.into_iter().zip(total) {
            wires[i] = F::from_canonical_u64(v);
        }
        wires[WIRE_WEIGHT] = F::from_canonical_u64(self.weight);
        wires[WIRE_SHARE] = F::from_canonical_u64(share);
        wires[WIRE_WEIGHT_NONZERO] = F::from_bool(self.total != 0);
        let i = |x: u64| i128::from(x);
        let (w, s, r) = (self.weight, share, remainder);
        let column0 = i(pool[0]) * i(limb(w, 0)) - i(limb(s, 0)) * i(total[0]) - i(limb(r, 0));
        let carry0 = column0 >> 24;
        let column1 = i(pool[0]) * i(limb(w, 1)) + i(pool[1]) * i(limb(w, 0))
            - i(limb(s, 0)) * i(total[1])
            - i(limb(s, 1)) * i(total[0])
            - i(limb(r, 1))
            + carry0;
        let carry1 = column1 >> 24;
        let room = if self.total == 0 {
            0
        } else {
            (self.total - remainder - 1) as u128
        };
        let mut put = |range: Range<usize>, value: u128| {
            for (k, wire) in range.enumerate() {
                wires[wire] = F::from_canonical_u64(((value >> (2 * k)) & 3) as u64);
            }
        };
        put(WEIGHT_DIGITS, w.into());
        put(SHARE_DIGITS, s.into());
        put(REMAINDER_DIGITS, r.into());
        put(
            CARRY_LOW_DIGITS,
            (carry0 + i128::from(CARRY_LOW_OFFSET)) as u128,
        );
        put(
            CARRY_HIGH_DIGITS,
            (carry1 + i128::from(CARRY_HIGH_OFFSET)) as u128,
        );
        put(ROOM_DIGITS, room);
        wires
    }

    fn honest_wires(&self) -> Vec<F> {
        let (share, remainder) = self.share_and_remainder();
        self.wires_with(share, remainder)
    }
}

/// The extreme and ordinary slots: the largest pool, weight and total the rule allows
/// (`pool < 2^48`, `w < 2^47`, `W < 2^50`), a zero total, an exact division, small values.
fn slots() -> Vec<Slot> {
    let mut slots = vec![
        Slot {
            pool: (1 << 48) - 1,
            weight: (1 << 47) - 1,
            total: (1 << 50) - 1,
        },
        Slot {
            pool: (1 << 48) - 1,
            weight: (1 << 47) - 1,
            total: (1 << 47) - 1,
        },
        Slot {
            pool: 123_456,
            weight: 0,
            total: 0,
        },
        Slot {
            pool: 1 << 40,
            weight: 3 << 20,
            total: 6 << 20,
        },
        Slot {
            pool: 1,
            weight: 1,
            total: 3,
        },
    ];
    // A fixed pseudo-random sample.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |bits: u32| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state >> (64 - bits)
    };
    for _ in 0..32 {
        let weight = next(47);
        let total = weight + next(49);
        slots.push(Slot {
            pool: next(48),
            weight,
            total,
        });
    }
    slots
}

/// The constraint values on chosen wires (the mock check).
fn evaluate(wires: &[F]) -> Vec<F> {
    let wires: Vec<_> = wires.iter().map(|w| (*w).into()).collect();
    let vars = EvaluationVars {
        local_constants: &[],
        local_wires: &wires,
        public_inputs_hash: &HashOut::ZERO,
    };
    <ShareDivisionGate as Gate<F, D>>::eval_unfiltered(&ShareDivisionGate, vars)
        .into_iter()
        .map(|c| c.0[0])
        .collect()
}

fn failing(wires: &[F]) -> Vec<usize> {
    evaluate(wires)
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != F::ZERO)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn low_degree() {
    test_low_degree::<GoldilocksField, _, 4>(ShareDivisionGate::new_from_config(&config()));
}

/// The recursive (in-circuit) evaluation and the packed one agree with the native one.
#[test]
fn eval_fns() -> Result<()> {
    test_eval_fns::<F, C, _, D>(ShareDivisionGate::new_from_config(&config()))
}

#[test]
fn fits_the_standard_rows() {
    let gate = ShareDivisionGate::new_from_config(&config());
    assert_eq!(<ShareDivisionGate as Gate<F, D>>::num_wires(&gate), 133);
    assert_eq!(
        <ShareDivisionGate as Gate<F, D>>::num_constraints(&gate),
        132
    );
    assert!(config().num_wires >= 133);
}

#[test]
fn honest_rows_satisfy_every_constraint() {
    for slot in slots() {
        assert_eq!(
            failing(&slot.honest_wires()),
            Vec::<usize>::new(),
            "{slot:?}"
        );
    }
}

/// Each of the seven equations, broken alone (digits kept valid where possible).
#[test]
fn each_equation_rejects_its_tamper() {
    let slot = Slot {
        pool: 0x1234_5678_9abc,
        weight: 0x0101_0101_0101,
        total: 0x3_0303_0303_0303,
    };
    let honest = slot.honest_wires();
    let tampered = |wire: usize, delta: i64| {
        let mut wires = honest.clone();
        wires[wire] += F::from_noncanonical_i64(delta);
        failing(&wires)
    };
    // 0: the routed weight is not its digits.
    assert!(tampered(WIRE_WEIGHT, 1).contains(&0));
    // 1: the routed share is not its digits.
    assert!(tampered(WIRE_SHARE, 1).contains(&1));
    // 2: W changed in its top limb, which no column sees: the field equation (and the room).
    assert_eq!(tampered(WIRE_TOTAL_WEIGHT[2], 1), vec![2, 5]);
    // 3: a low remainder digit one up: column 0 and the field equation.
    let c = tampered(REMAINDER_DIGITS.start, 1);
    assert!(c.contains(&3) && c.contains(&2), "{c:?}");
    // 4: a high limb digit of the remainder one up: column 1 and the field equation.
    let c = tampered(REMAINDER_DIGITS.start + DIGITS_PER_LIMB, 1);
    assert!(c.contains(&4) && c.contains(&2), "{c:?}");
    // 5: the room digits do not match W − r − 1 (a digit below 3 raised, still a digit).
    let digit = ROOM_DIGITS
        .clone()
        .find(|&k| honest[k].to_canonical_u64() < 3)
        .expect("a room digit below 3");
    assert_eq!(tampered(digit, 1), vec![5]);
    // 6: a share with a zero total (the other equations hold: r absorbs it).
    let zero = Slot {
        pool: 7,
        weight: 0,
        total: 0,
    };
    assert_eq!(failing(&zero.wires_with(1, 0)), vec![6]);
}

/// A digit outside `[0, 4)` is refused even when its group's sum is kept: digit `k` four
/// higher, digit `k + 1` one lower.
#[test]
fn each_digit_group_rejects_a_non_digit() {
    let slot = Slot {
        pool: (1 << 48) - 1,
        weight: (1 << 47) - 1,
        total: (1 << 50) - 1,
    };
    let honest = slot.honest_wires();
    for group in [
        WEIGHT_DIGITS,
        SHARE_DIGITS,
        REMAINDER_DIGITS,
        CARRY_LOW_DIGITS,
        CARRY_HIGH_DIGITS,
        ROOM_DIGITS,
    ] {
        let k = (group.start..group.end - 1)
            .find(|&k| honest[k + 1] != F::ZERO)
            .expect("a nonzero digit to borrow from");
        let mut wires = honest.clone();
        wires[k] += F::from_canonical_u64(4);
        wires[k + 1] -= F::ONE;
        assert_eq!(
            failing(&wires),
            vec![EQUATIONS + k - ROUTED_WIRES],
            "group {group:?}"
        );
    }
}

/// Finds `share' != share`, `r' < 2^50` with `pool · w ≡ share' · W + r' (mod p)`: a
/// division that holds in the field but not over the integers.
fn modular_forgery(slot: Slot) -> (u64, u64) {
    let (share, remainder) = slot.share_and_remainder();
    let total_inverse = F::from_canonical_u64(slot.total).inverse();
    // r' = r − δ·W (mod p): pick r' and solve for δ, until δ is small enough.
    (1..u64::MAX)
        .find_map(|candidate| {
            let forged_remainder = candidate << 20;
            let delta = (F::from_canonical_u64(remainder)
                - F::from_canonical_u64(forged_remainder))
                * total_inverse;
            let delta = delta.to_canonical_u64();
            (delta < (1 << 48) - share && forged_remainder < (1 << 50))
                .then_some((share + delta, forged_remainder))
        })
        .expect("a forgery exists")
}

#[test]
fn a_division_that_holds_only_modulo_p_is_refused() {
    let slot = Slot {
        pool: (1 << 48) - 5,
        weight: (1 << 46) + 12_345,
        total: (1 << 49) + 777,
    };
    let (share, remainder) = modular_forgery(slot);
    let (honest_share, _) = slot.share_and_remainder();
    assert_ne!(share, honest_share);
    let failed = failing(&slot.wires_with(share, remainder));
    // The field equation holds; the columns (or their carries' digits) do not.
    assert!(!failed.contains(&2), "{failed:?}");
    assert!(
        failed.iter().any(|&c| c == 3 || c == 4 || c >= EQUATIONS),
        "{failed:?}"
    );
}

/// A circuit of one division whose inputs are set directly.
struct DivisionCircuit {
    data: CircuitData<F, C, D>,
    pool: [Target; 2],
    total: [Target; 3],
    weight: Target,
    nonzero: BoolTarget,
    share: Target,
}

impl DivisionCircuit {
    fn new() -> Self {
        let mut builder = CircuitBuilder::<F, D>::new(config());
        let pool = [(); 2].map(|()| builder.add_virtual_target());
        let total = [(); 3].map(|()| builder.add_virtual_target());
        let weight = builder.add_virtual_target();
        let nonzero = builder.add_virtual_bool_target_safe();
        let share = builder.add_virtual_target();
        builder.divide_share(ShareDivisionInputs {
            pool_limbs: pool,
            total_weight_limbs: total,
            weight,
            weight_nonzero: nonzero,
            share,
        });
        builder.register_public_input(share);
        DivisionCircuit {
            data: builder.build::<C>(),
            pool,
            total,
            weight,
            nonzero,
            share,
        }
    }

    /// Proves and verifies `slot` with the prover's `share` (all other values honest).
    fn prove(&self, slot: Slot, share: u64) -> Result<()> {
        let mut pw = PartialWitness::new();
        let wires = slot.honest_wires();
        for (t, i) in self.pool.iter().zip(WIRE_POOL) {
            pw.set_target(*t, wires[i])?;
        }
        for (t, i) in self.total.iter().zip(WIRE_TOTAL_WEIGHT) {
            pw.set_target(*t, wires[i])?;
        }
        pw.set_target(self.weight, wires[WIRE_WEIGHT])?;
        pw.set_bool_target(self.nonzero, slot.total != 0)?;
        pw.set_target(self.share, F::from_canonical_u64(share))?;
        self.data.verify(self.data.prove(pw)?)
    }
}

#[test]
fn real_proofs_accept_the_floor_and_refuse_other_shares() -> Result<()> {
    let circuit = DivisionCircuit::new();
    for slot in slots().into_iter().take(6) {
        let (share, _) = slot.share_and_remainder();
        circuit.prove(slot, share)?;
        if slot.total != 0 {
            // One more (the remainder would be negative) or one less (it would reach W).
            assert!(circuit.prove(slot, share + 1).is_err(), "{slot:?} +1");
            if share > 0 {
                assert!(circuit.prove(slot, share - 1).is_err(), "{slot:?} -1");
            }
        } else {
            assert!(
                circuit.prove(slot, 1).is_err(),
                "{slot:?}: a share of nothing"
            );
        }
    }
    // A share that divides correctly modulo p only: the generator fills the small
    // remainder and the column carries, which the columns refuse.
    let slot = Slot {
        pool: (1 << 48) - 5,
        weight: (1 << 46) + 12_345,
        total: (1 << 49) + 777,
    };
    let (forged, _) = modular_forgery(slot);
    assert!(circuit.prove(slot, forged).is_err());
    // A share of 2^48 or more, with a weight of zero: only the share's range refuses it
    // (W = 1, so r = −share·W is negative too); and a share of p − 1.
    let small = Slot {
        pool: 5,
        weight: 0,
        total: 1,
    };
    assert!(circuit.prove(small, 1 << 48).is_err());
    assert!(circuit.prove(small, F::ORDER - 1).is_err());
    Ok(())
}

/// Every constraint's tamper from the mock tests, as a real proof of a row whose wires are
/// all set by the test: the honest row proves, each tampered row is refused.
#[test]
fn real_proofs_refuse_each_tampered_wire() -> Result<()> {
    let mut builder = CircuitBuilder::<F, D>::new(config());
    let row = builder.add_gate(Unwitnessed(ShareDivisionGate), vec![]);
    let data = builder.build::<C>();
    let prove = |wires: &[F]| -> Result<()> {
        let mut pw = PartialWitness::new();
        for (i, value) in wires.iter().enumerate() {
            pw.set_target(Target::wire(row, i), *value)?;
        }
        data.verify(data.prove(pw)?)
    };
    let slot = Slot {
        pool: (1 << 48) - 1,
        weight: (1 << 47) - 1,
        total: (1 << 50) - 1,
    };
    let honest = slot.honest_wires();
    prove(&honest)?;
    let mut tampers: Vec<(String, Vec<F>)> = Vec::new();
    let mut bump = |name: &str, wire: usize, delta: F| {
        let mut wires = honest.clone();
        wires[wire] += delta;
        tampers.push((name.to_string(), wires));
    };
    bump("weight", WIRE_WEIGHT, F::ONE);
    bump("share", WIRE_SHARE, F::ONE);
    bump("W2", WIRE_TOTAL_WEIGHT[2], F::ONE);
    bump("r0 digit", REMAINDER_DIGITS.start, F::ONE);
    bump("r1 digit", REMAINDER_DIGITS.start + DIGITS_PER_LIMB, F::ONE);
    bump("room digit", ROOM_DIGITS.start, F::ONE);
    bump("carry digit", CARRY_LOW_DIGITS.start, F::ONE);
    for (name, group) in [
        ("weight", WEIGHT_DIGITS),
        ("share", SHARE_DIGITS),
        ("remainder", REMAINDER_DIGITS),
        ("low carry", CARRY_LOW_DIGITS),
        ("high carry", CARRY_HIGH_DIGITS),
        ("room", ROOM_DIGITS),
    ] {
        let k = (group.start..group.end - 1)
            .find(|&k| honest[k + 1] != F::ZERO)
            .expect("a nonzero digit to borrow from");
        let mut wires = honest.clone();
        wires[k] += F::from_canonical_u64(4);
        wires[k + 1] -= F::ONE;
        tampers.push((format!("{name} non-digit"), wires));
    }
    let zero = Slot {
        pool: 7,
        weight: 0,
        total: 0,
    };
    prove(&zero.honest_wires())?;
    tampers.push(("share of nothing".into(), zero.wires_with(1, 0)));
    for (name, wires) in tampers {
        assert!(!failing(&wires).is_empty(), "{name}: the mock check holds");
        assert!(prove(&wires).is_err(), "{name}: proved");
    }
    Ok(())
}

#[test]
fn deserialize_refuses_rows_too_narrow() {
    let mut builder = CircuitBuilder::<F, D>::new(config());
    let x = builder.add_virtual_target();
    builder.register_public_input(x);
    let data = builder.build::<C>();
    let read = |common: &CommonCircuitData<F, D>| {
        <ShareDivisionGate as Gate<F, D>>::deserialize(&mut Buffer::new(&[]), common)
    };
    assert!(read(&data.common).is_ok());
    let mut narrow = data.common.clone();
    narrow.config.num_wires = 132;
    assert!(read(&narrow).is_err(), "132 wires");
    let mut unrouted = data.common.clone();
    unrouted.config.num_routed_wires = 7;
    assert!(read(&unrouted).is_err(), "7 routed wires");
}
