//! The constraint finder: which constraints of a built plonky2 circuit a witness violates,
//! without proving. Witness generation runs the circuit's own generators (with a test's
//! overrides, see [`Tamper`]); then every gate's `eval_unfiltered` is evaluated at every row on
//! the generated wires, the row's constants and the public-inputs hash, and every copy class of
//! routed wires is checked for one value. A witness-generation conflict is its own error
//! ([`WitnessError`]), never a rejection.
#![allow(dead_code)]

use plonky2::field::extension::{Extendable, FieldExtension};
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::generator::GeneratedValues;
use plonky2::iop::target::Target;
use plonky2::iop::wire::Wire;
use plonky2::iop::witness::{PartialWitness, PartitionWitness, Witness};
use plonky2::plonk::circuit_data::CircuitData;
use plonky2::plonk::config::{Hasher, PoseidonGoldilocksConfig};
use plonky2::plonk::vars::EvaluationVars;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use zkattr_plonky2::native::F;

pub const D: usize = 2;
pub type C = PoseidonGoldilocksConfig;
type FE = <F as Extendable<D>>::Extension;

/// plonky2's selector value of a row outside a selector group.
const UNUSED_SELECTOR: u64 = u32::MAX as u64;

/// Changes to an honest witness. A [`Tamper::set`] target's copy class takes the given value
/// and every generator output into that class is dropped (the generator of the overridden value
/// is skipped, so its own constraint is the one left unsatisfied); a
/// [`Tamper::first_write_wins`] class keeps the first value generated into it and drops later
/// different ones (for a class two computations feed, such as both sides of a `connect`).
#[derive(Clone, Debug, Default)]
pub struct Tamper {
    set: Vec<(Target, F)>,
    first_write_wins: Vec<Target>,
}

impl Tamper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides `target`'s copy class with `value`.
    pub fn set(mut self, target: Target, value: F) -> Self {
        self.set.push((target, value));
        self
    }

    /// [`Tamper::set`] for several targets.
    pub fn set_all(mut self, values: impl IntoIterator<Item = (Target, F)>) -> Self {
        self.set.extend(values);
        self
    }

    /// Lets `target`'s copy class keep its first generated value.
    pub fn first_write_wins(mut self, target: Target) -> Self {
        self.first_write_wins.push(target);
        self
    }

    /// `inputs` with the overrides written in, for plonky2's own prover: meaningful only when
    /// every overridden target is an input (no generator writes it), and `None` when some class
    /// keeps its first write (which plonky2's witness generation would call a conflict).
    pub fn applied_to(&self, inputs: &PartialWitness<F>) -> Option<PartialWitness<F>> {
        if !self.first_write_wins.is_empty() {
            return None;
        }
        let mut out = inputs.clone();
        out.target_values.extend(self.set.iter().copied());
        Some(out)
    }
}

/// Witness generation did not produce a complete witness.
#[derive(Debug)]
pub enum WitnessError {
    /// Two values for one copy class that no override covers.
    Conflict { target: Target, first: F, second: F },
    /// Generators that never ran (a dependency was never set, or the generator failed).
    Incomplete { generators: Vec<String> },
    /// The circuit uses lookups, which the finder does not evaluate.
    Lookups,
}

impl fmt::Display for WitnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WitnessError::Conflict {
                target,
                first,
                second,
            } => write!(f, "witness conflict at {target:?}: {first} then {second}"),
            WitnessError::Incomplete { generators } => {
                write!(
                    f,
                    "{} generators never ran: {generators:?}",
                    generators.len()
                )
            }
            WitnessError::Lookups => write!(f, "the circuit uses lookups"),
        }
    }
}

/// One unsatisfied constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Constraint `constraint` of the gate `gate` at `row`; `keys` are the wires of the gate
    /// operation it belongs to that carry the operation's result or checked value.
    Gate {
        gate: String,
        row: usize,
        constraint: usize,
        keys: Vec<Target>,
    },
    /// Two routed wires of one copy class with different values.
    Copy { wire: Target, other: Target },
}

impl Violation {
    /// The gate's id, or `"copy"`.
    pub fn gate(&self) -> &str {
        match self {
            Violation::Gate { gate, .. } => gate,
            Violation::Copy { .. } => "copy",
        }
    }
}

/// A generated witness: every wire's value, column-major.
#[derive(Clone, Debug)]
pub struct Trace {
    pub wires: Vec<Vec<F>>,
    pub public_inputs: Vec<F>,
}

impl Trace {
    /// Sets one wire (not its copy class): the way to break a copy constraint.
    pub fn set_wire(&mut self, wire: Target, value: F) {
        let Target::Wire(Wire { row, column }) = wire else {
            panic!("{wire:?} is not a wire");
        };
        self.wires[column][row] = value;
    }
}

/// A built circuit and what the finder needs of it.
pub struct Finder<'a> {
    pub data: &'a CircuitData<F, C, D>,
    /// Constant columns (selectors first), by row.
    constants: Vec<Vec<F>>,
    /// The gate (index into `common.gates`) of each row.
    gate_at: Vec<usize>,
    /// Copy classes of constants, which join every check that connects a value to that
    /// constant and so cannot tell those checks apart.
    constant_classes: BTreeSet<usize>,
}

impl<'a> Finder<'a> {
    pub fn new(data: &'a CircuitData<F, C, D>) -> Self {
        let common = &data.common;
        let constants: Vec<Vec<F>> = data.prover_only.constants_sigmas_commitment.polynomials
            [..common.num_constants]
            .iter()
            .map(|p| p.clone().fft().values)
            .collect();
        let selectors = common.selectors_info.num_selectors();
        let gate_at = (0..common.degree())
            .map(|row| {
                let value = (0..selectors)
                    .map(|s| constants[s][row].to_canonical_u64())
                    .find(|&v| v != UNUSED_SELECTOR)
                    .expect("every row has a gate");
                usize::try_from(value).expect("a gate index")
            })
            .collect::<Vec<usize>>();
        let mut finder = Finder {
            data,
            constants,
            gate_at,
            constant_classes: BTreeSet::new(),
        };
        for row in 0..common.degree() {
            let gate = &common.gates[finder.gate_at[row]].0;
            if gate.id().starts_with("ConstantGate") {
                for column in 0..gate.num_wires() {
                    let class = finder.class(Target::wire(row, column));
                    finder.constant_classes.insert(class);
                }
            }
        }
        finder
    }

    fn index(&self, t: Target) -> usize {
        t.index(self.data.common.config.num_wires, self.data.common.degree())
    }

    /// The copy class of `t`.
    pub fn class(&self, t: Target) -> usize {
        self.data.prover_only.representative_map[self.index(t)]
    }

    /// Runs the circuit's generators from `inputs` changed by `tamper`.
    pub fn generate(
        &self,
        inputs: &PartialWitness<F>,
        tamper: &Tamper,
    ) -> Result<Trace, WitnessError> {
        let common = &self.data.common;
        let prover = &self.data.prover_only;
        if !common.luts.is_empty() {
            return Err(WitnessError::Lookups);
        }
        let mut witness = PartitionWitness::new(
            common.config.num_wires,
            common.degree(),
            &prover.representative_map,
        );
        let pinned: BTreeSet<usize> = tamper.set.iter().map(|(t, _)| self.class(*t)).collect();
        let first_wins: BTreeSet<usize> = tamper
            .first_write_wins
            .iter()
            .map(|t| self.class(*t))
            .collect();
        let write = |witness: &mut PartitionWitness<'_, F>,
                     t: Target,
                     v: F|
         -> Result<Option<usize>, WitnessError> {
            let class = self.class(t);
            if pinned.contains(&class) {
                return Ok(None);
            }
            match witness.values[class] {
                Some(old) if old != v && first_wins.contains(&class) => Ok(None),
                Some(old) if old != v => Err(WitnessError::Conflict {
                    target: t,
                    first: old,
                    second: v,
                }),
                Some(_) => Ok(None),
                None => {
                    witness.values[class] = Some(v);
                    Ok(Some(class))
                }
            }
        };
        for (t, v) in &tamper.set {
            let class = self.class(*t);
            match witness.values[class] {
                Some(old) if old != *v => {
                    return Err(WitnessError::Conflict {
                        target: *t,
                        first: old,
                        second: *v,
                    })
                }
                _ => witness.values[class] = Some(*v),
            }
        }
        for (t, v) in &inputs.target_values {
            write(&mut witness, *t, *v)?;
        }

        // plonky2's generation loop, with the writes above.
        let generators = &prover.generators;
        let mut pending: Vec<usize> = (0..generators.len()).collect();
        let mut expired = vec![false; generators.len()];
        let mut buffer = GeneratedValues::empty();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for &g in &pending {
                if expired[g] {
                    continue;
                }
                expired[g] = generators[g].0.run(&witness, &mut buffer);
                for (t, v) in std::mem::take(&mut buffer.target_values) {
                    if let Some(class) = write(&mut witness, t, v)? {
                        if let Some(watchers) = prover.generator_indices_by_watches.get(&class) {
                            next.extend(watchers.iter().filter(|&&w| !expired[w]));
                        }
                    }
                }
            }
            pending = next;
        }
        let idle: Vec<String> = (0..generators.len())
            .filter(|&g| !expired[g])
            .map(|g| generators[g].0.id())
            .collect();
        if !idle.is_empty() {
            return Err(WitnessError::Incomplete { generators: idle });
        }

        let (num_wires, degree) = (common.config.num_wires, common.degree());
        let wires = (0..num_wires)
            .map(|column| {
                (0..degree)
                    .map(|row| {
                        witness
                            .try_get_target(Target::wire(row, column))
                            .unwrap_or(F::ZERO)
                    })
                    .collect()
            })
            .collect();
        let public_inputs = prover
            .public_inputs
            .iter()
            .map(|t| witness.try_get_target(*t).unwrap_or(F::ZERO))
            .collect();
        Ok(Trace {
            wires,
            public_inputs,
        })
    }

    /// Every constraint `trace` leaves unsatisfied.
    pub fn violations(&self, trace: &Trace) -> Vec<Violation> {
        let common = &self.data.common;
        let skip = common.selectors_info.num_selectors() + common.num_lookup_selectors;
        let hash: HashOut<F> = PoseidonHash::hash_no_pad(&trace.public_inputs);
        let mut out = Vec::new();
        for row in 0..common.degree() {
            let gate = &common.gates[self.gate_at[row]].0;
            let wires: Vec<FE> = trace
                .wires
                .iter()
                .map(|c| <FE as FieldExtension<D>>::from_basefield(c[row]))
                .collect();
            let constants: Vec<FE> = self.constants[skip..]
                .iter()
                .map(|c| <FE as FieldExtension<D>>::from_basefield(c[row]))
                .collect();
            let vars = EvaluationVars {
                local_constants: &constants,
                local_wires: &wires,
                public_inputs_hash: &hash,
            };
            let id = gate.id();
            for (constraint, value) in gate.eval_unfiltered(vars).into_iter().enumerate() {
                if value != FE::ZERO {
                    let keys = key_wires(&id, gate.num_ops(), gate.num_constraints(), constraint)
                        .into_iter()
                        .map(|column| Target::wire(row, column))
                        .collect();
                    out.push(Violation::Gate {
                        gate: id.clone(),
                        row,
                        constraint,
                        keys,
                    });
                }
            }
        }
        let mut seen: BTreeMap<usize, (Target, F)> = BTreeMap::new();
        for row in 0..common.degree() {
            for column in 0..common.config.num_routed_wires {
                let wire = Target::wire(row, column);
                let value = trace.wires[column][row];
                match seen.get(&self.class(wire)) {
                    Some(&(other, v)) if v != value => out.push(Violation::Copy { wire, other }),
                    Some(_) => {}
                    None => {
                        seen.insert(self.class(wire), (wire, value));
                    }
                }
            }
        }
        out
    }

    /// Generates the witness and returns what it violates.
    pub fn check(
        &self,
        inputs: &PartialWitness<F>,
        tamper: &Tamper,
    ) -> Result<Vec<Violation>, WitnessError> {
        Ok(self.violations(&self.generate(inputs, tamper)?))
    }

    /// A routed wire of the copy class holding the circuit's constant `value` (the largest
    /// such class: a constant gate's spare slots are wires of their own), for pinning it with
    /// [`Tamper::set`] so a value computed into a check's `connect(x, constant)` is dropped and
    /// that computation's own constraint is the one left unsatisfied.
    pub fn constant_target(&self, value: F) -> Option<Target> {
        let common = &self.data.common;
        let skip = common.selectors_info.num_selectors() + common.num_lookup_selectors;
        let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
        for class in &self.data.prover_only.representative_map {
            *sizes.entry(*class).or_default() += 1;
        }
        (0..common.degree())
            .filter(|&row| {
                common.gates[self.gate_at[row]]
                    .0
                    .id()
                    .starts_with("ConstantGate")
            })
            .flat_map(|row| {
                let gate = &common.gates[self.gate_at[row]].0;
                (0..gate.num_wires())
                    .filter(move |&i| self.constants[skip + i][row] == value)
                    .map(move |i| Target::wire(row, i))
            })
            .max_by_key(|&t| sizes[&self.class(t)])
    }

    /// The output wires of the `ArithmeticGate` operations within `steps` operations of
    /// `targets`: an operation whose multiplicand or addend is in the copy class of a target
    /// (or of an earlier output) adds its output. For labelling a check the circuit does not
    /// label itself by what it computes from.
    pub fn derived(&self, targets: &[Target], steps: usize) -> Vec<Target> {
        let common = &self.data.common;
        let mut classes: BTreeSet<usize> = targets.iter().map(|t| self.class(*t)).collect();
        let mut out = Vec::new();
        for _ in 0..steps {
            let mut next = Vec::new();
            for row in 0..common.degree() {
                let gate = &common.gates[self.gate_at[row]].0;
                if !gate.id().starts_with("ArithmeticGate") {
                    continue;
                }
                for op in 0..gate.num_ops() {
                    let reads = (0..3)
                        .any(|i| classes.contains(&self.class(Target::wire(row, 4 * op + i))));
                    if reads {
                        next.push(Target::wire(row, 4 * op + 3));
                    }
                }
            }
            for t in next {
                // A constant's class joins unrelated checks: not followed.
                if !self.constant_classes.contains(&self.class(t)) {
                    classes.insert(self.class(t));
                }
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Whether `v` belongs to the check labeled by `labels`: one of its key wires (or, for a
    /// copy violation, its wire) is a label, or is in a label's copy class unless that is a
    /// constant's.
    pub fn belongs(&self, v: &Violation, labels: &[Target]) -> bool {
        let classes: BTreeSet<usize> = labels
            .iter()
            .map(|t| self.class(*t))
            .filter(|c| !self.constant_classes.contains(c))
            .collect();
        let hit = |t: &Target| labels.contains(t) || classes.contains(&self.class(*t));
        match v {
            Violation::Gate { keys, .. } => keys.iter().any(hit),
            Violation::Copy { wire, .. } => hit(wire),
        }
    }
}

/// The wires of the operation constraint `constraint` belongs to that hold its result or
/// checked value, for the gates these circuits use; all routed wires for any other gate.
fn key_wires(id: &str, num_ops: usize, num_constraints: usize, constraint: usize) -> Vec<usize> {
    let per_op = num_constraints / num_ops.max(1);
    let op = constraint / per_op.max(1);
    if id.starts_with("ArithmeticGate") {
        vec![4 * op + 3]
    } else if id.starts_with("ArithmeticExtensionGate") {
        (4 * D * op + 3 * D..4 * D * op + 4 * D).collect()
    } else if id.starts_with("MulExtensionGate") {
        (3 * D * op + 2 * D..3 * D * op + 3 * D).collect()
    } else if id.starts_with("RangeCheckGate") {
        vec![op]
    } else if id.starts_with("ShareDivisionGate") {
        vec![zkattr_plonky2_gates::division::WIRE_SHARE]
    } else if id.starts_with("PoseidonGate") {
        (12..24).collect()
    } else if id.starts_with("ConstantGate") || id.starts_with("PublicInputGate") {
        vec![constraint]
    } else {
        (0..80).collect()
    }
}

/// The witness refused by exactly one check: generation succeeds, something is violated, and
/// every violation is a `gate` constraint of the check labeled `labels`. Returns them.
pub fn assert_refused_by(
    finder: &Finder<'_>,
    inputs: &PartialWitness<F>,
    tamper: &Tamper,
    gate: &str,
    labels: &[Target],
    what: &str,
) -> Vec<Violation> {
    let violations = finder
        .check(inputs, tamper)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!violations.is_empty(), "{what}: accepted");
    for v in &violations {
        assert!(
            v.gate().starts_with(gate) && finder.belongs(v, labels),
            "{what}: {v:?} is not a {gate} constraint of the named check (all: {violations:?})"
        );
    }
    violations
}

/// The witness satisfies every constraint.
pub fn assert_accepted(
    finder: &Finder<'_>,
    inputs: &PartialWitness<F>,
    tamper: &Tamper,
    what: &str,
) {
    let violations = finder
        .check(inputs, tamper)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(violations.is_empty(), "{what}: refused by {violations:?}");
}
