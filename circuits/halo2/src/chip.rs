//! A Poseidon permutation chip with custom gates: circomlib's width-3 permutation laid out one
//! full round per row and two partial rounds per row, 38 rows in all (the Pow5 layout).
//!
//! halo2-axiom caps a constraint system's degree at 5 (its `MAX_DEGREE`), so no gate may hold a
//! bare S-box `x^5` times a selector. Each S-box goes through a square kept in an auxiliary
//! column: `x^5 = (x^2)^2 · x`, and every gate has degree 4. A full round keeps its three squares
//! in the three auxiliary columns; a row of two partial rounds keeps the first round's square,
//! the first element after it (the second round's S-box input) and that element's square.
//!
//! The chip lives in its own columns beside halo2-base's. The statement is written against
//! [`PoseidonInstructions`], which records each permutation's input and output as ordinary
//! halo2-base cells; at synthesis the chip lays out the rounds and copy-constrains its first and
//! last rows to those cells (see [`crate::circuit`]). Configuration (columns and gates, here) is
//! apart from witness generation ([`PermutationRows`]).

use crate::poseidon::{constants, Fr, FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};
use halo2_base::gates::GateInstructions;
use halo2_base::halo2_proofs::circuit::{Cell, Layouter, Value};
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector,
};
use halo2_base::halo2_proofs::poly::Rotation;
use halo2_base::{AssignedValue, Context};
use std::sync::OnceLock;

/// Rows one permutation occupies: one per full round, one per pair of partial rounds (and one
/// for an odd partial round out), and the output row.
pub const ROWS_PER_PERMUTATION: usize = FULL_ROUNDS + PARTIAL_ROUNDS.div_ceil(2) + 1;

/// Fixed columns a row's constants take: a pair of partial rounds needs four (see
/// [`RowKind::constants`]).
const CONSTANT_COLUMNS: usize = WIDTH + 1;

/// What one row of a permutation holds and constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    /// The state before full round `r`; its squares in the auxiliary columns.
    Full(usize),
    /// The state before partial rounds `r` and `r + 1`.
    PartialPair(usize),
    /// The state before partial round `r` (the odd one out).
    Partial(usize),
    /// The permutation's output; no gate.
    Output,
}

impl RowKind {
    /// The row's fixed constants. With `c_r` round `r`'s constants and `M` the MDS matrix: a
    /// full or single partial round holds `(c_r, 0)`; a pair `r, r + 1` holds `c_r[0]` and
    /// `K = M · (0, c_r[1], c_r[2]) + c_{r+1}`, which is all the pair's gate needs (elements 1 and
    /// 2 pass the first S-box unchanged, so their constants fold through `M`).
    fn constants(self) -> [Fr; CONSTANT_COLUMNS] {
        let rc = &constants().round_constants;
        match self {
            RowKind::Full(r) | RowKind::Partial(r) => [rc[r][0], rc[r][1], rc[r][2], Fr::ZERO],
            RowKind::PartialPair(r) => {
                let folded = mds_apply([Fr::ZERO, rc[r][1], rc[r][2]]);
                [
                    rc[r][0],
                    folded[0] + rc[r + 1][0],
                    folded[1] + rc[r + 1][1],
                    folded[2] + rc[r + 1][2],
                ]
            }
            RowKind::Output => [Fr::ZERO; CONSTANT_COLUMNS],
        }
    }
}

/// The rows of one permutation, with their constants, computed once per process.
fn schedule() -> &'static [(RowKind, [Fr; CONSTANT_COLUMNS])] {
    static SCHEDULE: OnceLock<Vec<(RowKind, [Fr; CONSTANT_COLUMNS])>> = OnceLock::new();
    SCHEDULE.get_or_init(|| {
        let half = FULL_ROUNDS / 2;
        let partial_end = half + PARTIAL_ROUNDS;
        let mut rows: Vec<RowKind> = (0..half).map(RowKind::Full).collect();
        rows.extend((half..partial_end - 1).step_by(2).map(RowKind::PartialPair));
        if PARTIAL_ROUNDS % 2 == 1 {
            rows.push(RowKind::Partial(partial_end - 1));
        }
        rows.extend((partial_end..FULL_ROUNDS + PARTIAL_ROUNDS).map(RowKind::Full));
        rows.push(RowKind::Output);
        assert_eq!(rows.len(), ROWS_PER_PERMUTATION);
        rows.into_iter()
            .map(|kind| (kind, kind.constants()))
            .collect()
    })
}

/// The chip's columns and gates.
#[derive(Clone, Debug)]
pub struct PoseidonChipConfig {
    state: [Column<Advice>; WIDTH],
    /// The S-boxes' intermediate values (see [`PoseidonChipConfig::configure`]).
    aux: [Column<Advice>; WIDTH],
    constants: [Column<Fixed>; CONSTANT_COLUMNS],
    q_full: Selector,
    q_pair: Selector,
    q_partial: Selector,
}

impl PoseidonChipConfig {
    /// Adds the chip's columns and its three gates. With `s` a row's state, `s'` the next row's,
    /// `a` the row's auxiliary cells, `k` its constants (see [`RowKind::constants`]) and `M`
    /// circomlib's MDS matrix:
    /// - `q_full`: with `x = s + k[..3]`: `a_i = x_i^2` and `s'_i = Σ_j M_ij · a_j^2 · x_j`, that
    ///   is `s' = M · x^5`;
    /// - `q_partial`: with `x_0 = s_0 + k_0`: `a_0 = x_0^2` and
    ///   `s' = M · (a_0^2 · x_0, s_1 + k_1, s_2 + k_2)`;
    /// - `q_pair`: with `x_0 = s_0 + k_0`: `a_0 = x_0^2`, `u = M · (a_0^2 · x_0, s_1, s_2) + k[1..]`
    ///   (the state after the first round plus the second round's constants), `a_1 = u_0`,
    ///   `a_2 = a_1^2` and `s' = M · (a_2^2 · a_1, u_1, u_2)`.
    ///
    /// Every gate has degree at most 4, within halo2-axiom's cap of 5. Only the state columns
    /// take part in copy constraints.
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        let state = [(); WIDTH].map(|()| {
            let column = meta.advice_column();
            meta.enable_equality(column);
            column
        });
        let aux = [(); WIDTH].map(|()| meta.advice_column());
        let constants = [(); CONSTANT_COLUMNS].map(|()| meta.fixed_column());
        let (q_full, q_pair, q_partial) = (meta.selector(), meta.selector(), meta.selector());
        let mds = crate::poseidon::constants().mds;
        let linear = |v: &[Expression<Fr>; WIDTH], i: usize| -> Expression<Fr> {
            (0..WIDTH)
                .map(|j| v[j].clone() * Expression::Constant(mds[i][j]))
                .reduce(|a, b| a + b)
                .expect("width is non-zero")
        };
        let sbox = |square: &Expression<Fr>, x: &Expression<Fr>| {
            square.clone() * square.clone() * x.clone()
        };

        meta.create_gate("poseidon full round", |meta| {
            let q = meta.query_selector(q_full);
            let cur = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let a = aux.map(|c| meta.query_advice(c, Rotation::cur()));
            let k = constants.map(|c| meta.query_fixed(c, Rotation::cur()));
            let x = [0, 1, 2].map(|i| cur[i].clone() + k[i].clone());
            let sboxed = [0, 1, 2].map(|i| sbox(&a[i], &x[i]));
            let mut constraints: Vec<_> = (0..WIDTH)
                .map(|i| q.clone() * (x[i].clone() * x[i].clone() - a[i].clone()))
                .collect();
            constraints
                .extend((0..WIDTH).map(|i| q.clone() * (linear(&sboxed, i) - next[i].clone())));
            constraints
        });

        meta.create_gate("poseidon partial round", |meta| {
            let q = meta.query_selector(q_partial);
            let cur = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let a0 = meta.query_advice(aux[0], Rotation::cur());
            let k = constants.map(|c| meta.query_fixed(c, Rotation::cur()));
            let x0 = cur[0].clone() + k[0].clone();
            let t = [
                sbox(&a0, &x0),
                cur[1].clone() + k[1].clone(),
                cur[2].clone() + k[2].clone(),
            ];
            let mut constraints = vec![q.clone() * (x0.clone() * x0 - a0)];
            constraints.extend((0..WIDTH).map(|i| q.clone() * (linear(&t, i) - next[i].clone())));
            constraints
        });

        meta.create_gate("poseidon two partial rounds", |meta| {
            let q = meta.query_selector(q_pair);
            let cur = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let a = aux.map(|c| meta.query_advice(c, Rotation::cur()));
            let k = constants.map(|c| meta.query_fixed(c, Rotation::cur()));
            let x0 = cur[0].clone() + k[0].clone();
            let t = [sbox(&a[0], &x0), cur[1].clone(), cur[2].clone()];
            let u = [0, 1, 2].map(|i| linear(&t, i) + k[i + 1].clone());
            let second = [sbox(&a[2], &a[1]), u[1].clone(), u[2].clone()];
            let mut constraints = vec![
                q.clone() * (x0.clone() * x0 - a[0].clone()),
                q.clone() * (u[0].clone() - a[1].clone()),
                q.clone() * (a[1].clone() * a[1].clone() - a[2].clone()),
            ];
            constraints
                .extend((0..WIDTH).map(|i| q.clone() * (linear(&second, i) - next[i].clone())));
            constraints
        });

        PoseidonChipConfig {
            state,
            aux,
            constants,
            q_full,
            q_pair,
            q_partial,
        }
    }

    /// Lays out the permutations' rows ([`PermutationRows::compute`]), back to back from row 0
    /// of a region of its own.
    /// With `wiring` (key generation and mock proving; the prover alone skips it), the first row
    /// of permutation `p` is copy-constrained to `wiring[p].input` and its output row to
    /// `wiring[p].output`: the halo2-base cells the statement used. `usable_rows` bounds the
    /// region; more permutations than fit is an error, not a panic.
    pub fn assign(
        &self,
        layouter: &mut impl Layouter<Fr>,
        permutations: &[PermutationRows],
        wiring: Option<&[PermutationCells]>,
        usable_rows: usize,
    ) -> Result<(), Error> {
        let needed = permutations.len() * ROWS_PER_PERMUTATION;
        if needed > usable_rows {
            return Err(Error::NotEnoughRowsAvailable {
                current_k: usable_rows.next_power_of_two().trailing_zeros(),
            });
        }
        if wiring.is_some_and(|w| w.len() != permutations.len()) {
            return Err(Error::Synthesis);
        }
        let rows = schedule();
        layouter.assign_region(
            || "poseidon permutations",
            |mut region| {
                for (p, witness) in permutations.iter().enumerate() {
                    let base = p * ROWS_PER_PERMUTATION;
                    let mut first = None;
                    let mut last = None;
                    for (offset, (kind, constants)) in rows.iter().enumerate() {
                        let row = base + offset;
                        let cells = [0, 1, 2].map(|i| {
                            region
                                .assign_advice(
                                    self.state[i],
                                    row,
                                    Value::known(witness.states[offset][i]),
                                )
                                .cell()
                        });
                        let selector = match kind {
                            RowKind::Full(_) => Some(self.q_full),
                            RowKind::PartialPair(_) => Some(self.q_pair),
                            RowKind::Partial(_) => Some(self.q_partial),
                            RowKind::Output => None,
                        };
                        if let Some(selector) = selector {
                            selector.enable(&mut region, row)?;
                            for (column, constant) in self.constants.iter().zip(constants) {
                                region.assign_fixed(*column, row, *constant);
                            }
                            for (column, value) in self.aux.iter().zip(witness.aux[offset]) {
                                region.assign_advice(*column, row, Value::known(value));
                            }
                        } else {
                            last = Some(cells);
                        }
                        if offset == 0 {
                            first = Some(cells);
                        }
                    }
                    if let Some(wiring) = wiring {
                        let laid = PermutationCells {
                            input: first.expect("the schedule has rows"),
                            output: last.expect("the schedule ends in an output row"),
                        };
                        let used = &wiring[p];
                        for i in 0..WIDTH {
                            region.constrain_equal(laid.input[i], used.input[i]);
                            region.constrain_equal(laid.output[i], used.output[i]);
                        }
                    }
                }
                Ok(())
            },
        )
    }
}

/// The physical cells holding one permutation's input and output.
#[derive(Clone, Copy, Debug)]
pub struct PermutationCells {
    pub input: [Cell; WIDTH],
    pub output: [Cell; WIDTH],
}

/// The witness of one permutation in the chip's layout: every row's state and auxiliary cells
/// (zero where the row's gate does not use them).
#[derive(Clone, Debug)]
pub struct PermutationRows {
    pub states: Vec<[Fr; WIDTH]>,
    pub aux: Vec<[Fr; WIDTH]>,
}

fn mds_apply(v: [Fr; WIDTH]) -> [Fr; WIDTH] {
    let m = constants().mds;
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

impl PermutationRows {
    /// Runs the permutation row by row from `input`, recording what the chip's rows hold.
    pub fn compute(input: [Fr; WIDTH]) -> Self {
        let rows = schedule();
        let mut states = Vec::with_capacity(rows.len());
        let mut aux = vec![[Fr::ZERO; WIDTH]; rows.len()];
        let mut s = input;
        for (offset, (kind, k)) in rows.iter().enumerate() {
            states.push(s);
            let a = &mut aux[offset];
            s = match kind {
                RowKind::Full(_) => {
                    let x = [0, 1, 2].map(|i| s[i] + k[i]);
                    *a = x.map(|v| v.square());
                    mds_apply([0, 1, 2].map(|i| a[i].square() * x[i]))
                }
                RowKind::Partial(_) => {
                    let x0 = s[0] + k[0];
                    a[0] = x0.square();
                    mds_apply([a[0].square() * x0, s[1] + k[1], s[2] + k[2]])
                }
                RowKind::PartialPair(_) => {
                    let x0 = s[0] + k[0];
                    a[0] = x0.square();
                    let t = mds_apply([a[0].square() * x0, s[1], s[2]]);
                    let u = [0, 1, 2].map(|i| t[i] + k[i + 1]);
                    a[1] = u[0];
                    a[2] = u[0].square();
                    mds_apply([a[2].square() * a[1], u[1], u[2]])
                }
                RowKind::Output => s,
            };
        }
        PermutationRows { states, aux }
    }

    /// The permutation's output.
    pub fn output(&self) -> [Fr; WIDTH] {
        *self.states.last().expect("the schedule has rows")
    }
}
/// One permutation requested by the statement: its input and output as halo2-base cells.
#[derive(Clone, Copy, Debug)]
pub struct PermutationRequest {
    pub input: [AssignedValue<Fr>; WIDTH],
    pub output: [AssignedValue<Fr>; WIDTH],
}

/// SPEC's BN254 hash in circuit.
pub trait PoseidonInstructions {
    /// Returns cells holding `P(state)`, constrained to equal the output of a chip permutation
    /// whose input is constrained to equal `state`.
    fn permute(
        &mut self,
        ctx: &mut Context<Fr>,
        state: [AssignedValue<Fr>; WIDTH],
    ) -> [AssignedValue<Fr>; WIDTH];

    /// SPEC's `H(inputs)`: from state `[0, 0, 0]`, adds each pair (the last padded with 0) into
    /// elements 1 and 2 and permutes; returns element 0. `inputs` must be non-empty; its length
    /// is fixed by the caller's circuit shape, never by the witness.
    fn hash(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        inputs: &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr>;
}

/// Records permutations for the chip; see [`PoseidonInstructions`].
#[derive(Clone, Debug, Default)]
pub struct PoseidonChip {
    pub requests: Vec<PermutationRequest>,
}

impl PoseidonInstructions for PoseidonChip {
    fn permute(
        &mut self,
        ctx: &mut Context<Fr>,
        state: [AssignedValue<Fr>; WIDTH],
    ) -> [AssignedValue<Fr>; WIDTH] {
        let values = state.map(|v| *v.value());
        let output = PermutationRows::compute(values).output();
        let output = output.map(|v| ctx.load_witness(v));
        self.requests.push(PermutationRequest {
            input: state,
            output,
        });
        output
    }

    fn hash(
        &mut self,
        ctx: &mut Context<Fr>,
        gate: &impl GateInstructions<Fr>,
        inputs: &[AssignedValue<Fr>],
    ) -> AssignedValue<Fr> {
        assert!(!inputs.is_empty(), "SPEC never hashes an empty message");
        let zero = ctx.load_zero();
        let mut state = [zero, zero, zero];
        for (i, pair) in inputs.chunks(2).enumerate() {
            if i == 0 {
                state[1] = pair[0];
                state[2] = pair.get(1).copied().unwrap_or(zero);
            } else {
                state[1] = gate.add(ctx, state[1], pair[0]);
                if let Some(second) = pair.get(1) {
                    state[2] = gate.add(ctx, state[2], *second);
                }
            }
            state = self.permute(ctx, state);
        }
        state[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_base::halo2_proofs::circuit::SimpleFloorPlanner;
    use halo2_base::halo2_proofs::dev::MockProver;
    use halo2_base::halo2_proofs::plonk::Circuit;

    /// The chip alone, laying out given rows.
    #[derive(Clone, Debug)]
    struct ChipOnly(Vec<PermutationRows>);

    impl Circuit<Fr> for ChipOnly {
        type Config = PoseidonChipConfig;
        type FloorPlanner = SimpleFloorPlanner;
        type Params = ();
        fn without_witnesses(&self) -> Self {
            self.clone()
        }
        fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
            PoseidonChipConfig::configure(meta)
        }
        fn synthesize(
            &self,
            config: Self::Config,
            mut layouter: impl Layouter<Fr>,
        ) -> Result<(), Error> {
            config.assign(&mut layouter, &self.0, None, 200)
        }
    }

    fn satisfied(rows: Vec<PermutationRows>) -> bool {
        MockProver::run(8, &ChipOnly(rows), vec![])
            .unwrap()
            .verify()
            .is_ok()
    }

    /// Which auxiliary columns a row's gate reads.
    fn aux_used(kind: RowKind) -> usize {
        match kind {
            RowKind::Full(_) | RowKind::PartialPair(_) => WIDTH,
            RowKind::Partial(_) => 1,
            RowKind::Output => 0,
        }
    }

    #[test]
    fn every_gate_rejects_a_tampered_row() {
        let honest = vec![
            PermutationRows::compute([Fr::from(1), Fr::from(2), Fr::from(3)]),
            PermutationRows::compute([Fr::from(4), Fr::from(5), Fr::from(6)]),
        ];
        assert!(satisfied(honest.clone()));
        let rows = schedule();
        let half = FULL_ROUNDS / 2;
        // The first and last row of each kind, and the output row (checked by the last full
        // round's gate).
        for kind in [
            RowKind::Full(0),
            RowKind::Full(FULL_ROUNDS + PARTIAL_ROUNDS - 1),
            RowKind::PartialPair(half),
            RowKind::PartialPair(half + PARTIAL_ROUNDS - 3),
            RowKind::Partial(half + PARTIAL_ROUNDS - 1),
            RowKind::Output,
        ] {
            let row = rows.iter().position(|(k, _)| *k == kind).unwrap();
            for column in 0..WIDTH {
                let mut tampered = honest.clone();
                tampered[1].states[row][column] += Fr::ONE;
                assert!(
                    !satisfied(tampered),
                    "{kind:?} state column {column} accepted a change"
                );
            }
            for column in 0..aux_used(kind) {
                let mut tampered = honest.clone();
                tampered[1].aux[row][column] += Fr::ONE;
                assert!(
                    !satisfied(tampered),
                    "{kind:?} auxiliary column {column} accepted a change"
                );
            }
        }
    }

    #[test]
    fn rows_compute_the_reference_permutation() {
        for seed in 0..4u64 {
            let input = [
                Fr::from(seed),
                Fr::from(seed * 7 + 1),
                Fr::from(seed * 13 + 2),
            ];
            let mut expected = input;
            crate::poseidon::permute_reference(&mut expected);
            assert_eq!(PermutationRows::compute(input).output(), expected);
        }
        assert_eq!(ROWS_PER_PERMUTATION, 38);
    }

    #[test]
    fn the_schedule_covers_every_round_once_in_order() {
        let mut rounds = Vec::new();
        for (kind, _) in schedule() {
            match *kind {
                RowKind::Full(r) | RowKind::Partial(r) => rounds.push(r),
                RowKind::PartialPair(r) => rounds.extend([r, r + 1]),
                RowKind::Output => {}
            }
        }
        assert_eq!(
            rounds,
            (0..FULL_ROUNDS + PARTIAL_ROUNDS).collect::<Vec<_>>()
        );
    }
}
