//! A Poseidon permutation chip with custom gates: circomlib's width-3 permutation laid out one
//! partial round per row and each full round over two rows, 74 rows in all.
//!
//! halo2-axiom caps a constraint system's degree at 5 (its `MAX_DEGREE`), so no gate may hold a
//! bare S-box `x^5` times a selector. Each S-box is split through a square: a full round writes
//! the three squares `(s_i + c_i)^2` into the state columns of an intermediate row, and a partial
//! round keeps its one square in an auxiliary column; every gate then has degree 4.
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

/// Rows one permutation occupies: two per full round, one per partial round, and the output row.
pub const ROWS_PER_PERMUTATION: usize = 2 * FULL_ROUNDS + PARTIAL_ROUNDS + 1;

/// What one row of a permutation holds and constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    /// The state before full round `r`; the next row holds its squares.
    FullSquares(usize),
    /// The squares of full round `r`; the next row holds the state after it.
    FullOutput(usize),
    /// The state before partial round `r`, its square in the auxiliary column.
    Partial(usize),
    /// The permutation's output; no gate.
    Output,
}

fn schedule() -> Vec<RowKind> {
    let half = FULL_ROUNDS / 2;
    let full = |r: usize| [RowKind::FullSquares(r), RowKind::FullOutput(r)];
    let mut rows: Vec<RowKind> = (0..half).flat_map(full).collect();
    rows.extend((half..half + PARTIAL_ROUNDS).map(RowKind::Partial));
    rows.extend((half + PARTIAL_ROUNDS..FULL_ROUNDS + PARTIAL_ROUNDS).flat_map(full));
    rows.push(RowKind::Output);
    debug_assert_eq!(rows.len(), ROWS_PER_PERMUTATION);
    rows
}

/// The chip's columns and gates.
#[derive(Clone, Debug)]
pub struct PoseidonChipConfig {
    state: [Column<Advice>; WIDTH],
    /// A partial round's square `(s_0 + c_0)^2`.
    square: Column<Advice>,
    round_constants: [Column<Fixed>; WIDTH],
    q_squares: Selector,
    q_full: Selector,
    q_partial: Selector,
}

impl PoseidonChipConfig {
    /// Adds the chip's columns and its three gates. With `s` a row's state, `s'` the next row's,
    /// `c` the row's round constants and `M` circomlib's MDS matrix:
    /// - `q_squares` (first row of a full round): `s'_i = (s_i + c_i)^2`;
    /// - `q_full` (second row; `p`, `c` the previous row's state and constants, `q` this row's
    ///   squares): `s'_i = Σ_j M_ij · q_j^2 · (p_j + c_j)`, that is `M · (p + c)^5`;
    /// - `q_partial`: `aux = (s_0 + c_0)^2` and
    ///   `s' = M · (aux^2 · (s_0 + c_0), s_1 + c_1, s_2 + c_2)`.
    ///
    /// Every gate has degree at most 4, within halo2-axiom's cap of 5.
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        let state = [(); WIDTH].map(|()| {
            let column = meta.advice_column();
            meta.enable_equality(column);
            column
        });
        let square = meta.advice_column();
        let round_constants = [(); WIDTH].map(|()| meta.fixed_column());
        let (q_squares, q_full, q_partial) = (meta.selector(), meta.selector(), meta.selector());
        let mds = constants().mds;
        let linear = |v: &[Expression<Fr>; WIDTH], i: usize| -> Expression<Fr> {
            (0..WIDTH)
                .map(|j| v[j].clone() * Expression::Constant(mds[i][j]))
                .reduce(|a, b| a + b)
                .expect("width is non-zero")
        };

        meta.create_gate("poseidon full round: squares", |meta| {
            let q = meta.query_selector(q_squares);
            let cur = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let rc = round_constants.map(|c| meta.query_fixed(c, Rotation::cur()));
            (0..WIDTH)
                .map(|i| {
                    let x = cur[i].clone() + rc[i].clone();
                    q.clone() * (x.clone() * x - next[i].clone())
                })
                .collect::<Vec<_>>()
        });

        meta.create_gate("poseidon full round: S-boxes and MDS", |meta| {
            let q = meta.query_selector(q_full);
            let before = state.map(|c| meta.query_advice(c, Rotation::prev()));
            let rc = round_constants.map(|c| meta.query_fixed(c, Rotation::prev()));
            let squares = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let sboxed = [0, 1, 2].map(|i| {
                squares[i].clone() * squares[i].clone() * (before[i].clone() + rc[i].clone())
            });
            (0..WIDTH)
                .map(|i| q.clone() * (linear(&sboxed, i) - next[i].clone()))
                .collect::<Vec<_>>()
        });

        meta.create_gate("poseidon partial round", |meta| {
            let q = meta.query_selector(q_partial);
            let cur = state.map(|c| meta.query_advice(c, Rotation::cur()));
            let next = state.map(|c| meta.query_advice(c, Rotation::next()));
            let aux = meta.query_advice(square, Rotation::cur());
            let rc = round_constants.map(|c| meta.query_fixed(c, Rotation::cur()));
            let x0 = cur[0].clone() + rc[0].clone();
            let t = [
                aux.clone() * aux.clone() * x0.clone(),
                cur[1].clone() + rc[1].clone(),
                cur[2].clone() + rc[2].clone(),
            ];
            let mut constraints = vec![q.clone() * (x0.clone() * x0 - aux)];
            constraints.extend((0..WIDTH).map(|i| q.clone() * (linear(&t, i) - next[i].clone())));
            constraints
        });

        PoseidonChipConfig {
            state,
            square,
            round_constants,
            q_squares,
            q_full,
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
        let kinds = schedule();
        let rc = &constants().round_constants;
        layouter.assign_region(
            || "poseidon permutations",
            |mut region| {
                for (p, rows) in permutations.iter().enumerate() {
                    let base = p * ROWS_PER_PERMUTATION;
                    let mut first = None;
                    let mut last = None;
                    for (offset, kind) in kinds.iter().enumerate() {
                        let row = base + offset;
                        let cells = [0, 1, 2].map(|i| {
                            region
                                .assign_advice(
                                    self.state[i],
                                    row,
                                    Value::known(rows.states[offset][i]),
                                )
                                .cell()
                        });
                        match *kind {
                            RowKind::FullSquares(r) => {
                                self.q_squares.enable(&mut region, row)?;
                                for (column, constant) in self.round_constants.iter().zip(rc[r]) {
                                    region.assign_fixed(*column, row, constant);
                                }
                            }
                            RowKind::FullOutput(_) => self.q_full.enable(&mut region, row)?,
                            RowKind::Partial(r) => {
                                self.q_partial.enable(&mut region, row)?;
                                for (column, constant) in self.round_constants.iter().zip(rc[r]) {
                                    region.assign_fixed(*column, row, constant);
                                }
                                region.assign_advice(
                                    self.square,
                                    row,
                                    Value::known(rows.squares[offset]),
                                );
                            }
                            RowKind::Output => last = Some(cells),
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

/// The witness of one permutation in the chip's layout: what every row's state columns hold
/// (a state, or a full round's squares) and every partial row's square.
#[derive(Clone, Debug)]
pub struct PermutationRows {
    pub states: Vec<[Fr; WIDTH]>,
    pub squares: Vec<Fr>,
}

fn mds_apply(v: [Fr; WIDTH]) -> [Fr; WIDTH] {
    let m = constants().mds;
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

impl PermutationRows {
    /// Runs the permutation round by round from `input`, recording what the chip's rows hold.
    pub fn compute(input: [Fr; WIDTH]) -> Self {
        let rc = &constants().round_constants;
        let kinds = schedule();
        let mut states = Vec::with_capacity(kinds.len());
        let mut squares = vec![Fr::ZERO; kinds.len()];
        let mut s = input;
        let mut before_full = input;
        for (offset, kind) in kinds.iter().enumerate() {
            states.push(s);
            s = match *kind {
                RowKind::FullSquares(r) => {
                    before_full = s;
                    [0, 1, 2].map(|i| (s[i] + rc[r][i]).square())
                }
                RowKind::FullOutput(r) => {
                    mds_apply([0, 1, 2].map(|i| s[i].square() * (before_full[i] + rc[r][i])))
                }
                RowKind::Partial(r) => {
                    let x0 = s[0] + rc[r][0];
                    squares[offset] = x0.square();
                    mds_apply([
                        squares[offset].square() * x0,
                        s[1] + rc[r][1],
                        s[2] + rc[r][2],
                    ])
                }
                RowKind::Output => s,
            };
        }
        PermutationRows { states, squares }
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

    #[test]
    fn every_gate_rejects_a_tampered_row() {
        let honest = vec![
            PermutationRows::compute([Fr::from(1), Fr::from(2), Fr::from(3)]),
            PermutationRows::compute([Fr::from(4), Fr::from(5), Fr::from(6)]),
        ];
        assert!(satisfied(honest.clone()));
        let kinds = schedule();
        // One row of each kind, and the output row (checked by the last full round's gate).
        for kind in [
            RowKind::FullSquares(0),
            RowKind::FullOutput(0),
            RowKind::Partial(FULL_ROUNDS / 2),
            RowKind::Partial(FULL_ROUNDS / 2 + PARTIAL_ROUNDS - 1),
            RowKind::Output,
        ] {
            let row = kinds.iter().position(|k| *k == kind).unwrap();
            for column in 0..WIDTH {
                let mut tampered = honest.clone();
                tampered[1].states[row][column] += Fr::ONE;
                assert!(
                    !satisfied(tampered),
                    "{kind:?} column {column} accepted a change"
                );
            }
            if matches!(kind, RowKind::Partial(_)) {
                let mut tampered = honest.clone();
                tampered[1].squares[row] += Fr::ONE;
                assert!(!satisfied(tampered), "{kind:?} accepted a changed square");
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
        assert_eq!(ROWS_PER_PERMUTATION, 74);
    }
}
