//! The statement's checks by name, and which of them a MockProver run finds broken.
//!
//! halo2-base lays nearly every constraint into one generic gate, its range lookup and copy
//! constraints, so a failure's gate or column does not say which of the statement's checks it
//! belongs to. [`crate::statement`] therefore lays each check inside a named scope; in a mock
//! run it records, per scope, the virtual cells the scope occupies and the copy constraints
//! (cell to cell, cell to constant) it adds. [`Attribution::refusals`] maps each [`VerifyFailure`]
//! back:
//! - a generic-gate failure by its column and row to the cell there, and that cell to the scope
//!   that laid it; a Poseidon chip gate by its gate name;
//! - a lookup failure by its column and row to the cell looked up, and through its copy cycle to
//!   the scope's cell it copies;
//! - a copy-constraint failure by its cell to the whole copy cycle (read from MockProver's
//!   permutation), and to every recorded equality in that cycle whose two sides differ: a scope's
//!   equality, or a public input's binding to the cell that computes it.
//!
//! A failure that cannot be placed is reported as [`Refusal::Unattributed`], so a test that
//! expects a set of named checks fails on it.
//!
//! With the `mutation` feature (tests only; no production build enables it) a scope can be left
//! out, which removes its constraints; without the feature every scope is always laid.

use crate::circuit::AttributionConfig;
use crate::poseidon::Fr;
use crate::statement::PUBLIC_INPUTS;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::MaybeRangeConfig;
use halo2_base::halo2_proofs::dev::{FailureLocation, MockProver, VerifyFailure};
use halo2_base::halo2_proofs::plonk::{Any, Column, ConstraintSystem};
use halo2_base::{AssignedValue, Context, ContextCell};
use rayon::iter::ParallelIterator;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Range;

/// The names of SPEC's public inputs, in order.
pub const PUBLIC_INPUT_NAMES: [&str; PUBLIC_INPUTS] = [
    "epoch id",
    "rate",
    "activation commitment",
    "influence commitment",
    "query count",
    "total pool",
    "total paid",
    "treasury",
    "payout commitment",
];

/// One named check of the statement: the constraints one scope lays (see the module doc);
/// [`Check::describe`] says what each constrains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    EpochIdBits,
    RateBits,
    RateAtMost10000,
    QueryIdBits,
    FeeBits,
    SlotAdapterBits,
    SlotGateBits,
    PoolBits,
    PoolRemainderBits,
    PoolRemainderAtMost9999,
    PoolDivision,
    ScoreSignBit,
    MagnitudeBits,
    ScoreSplit,
    ShareBits,
    ShareRemainderBits,
    ShareRemainderBelowWeight,
    ShareDivision,
    NoShareWithoutWeight,
    ResidualBits,
    UnusedSlotGateZero,
    UnusedSlotScoreZero,
    UsedSlotsFirst,
    SlotAdaptersIncrease,
    /// Not a scope: the construction by which one adapter cell feeds both leaves of a slot (the
    /// `mutation` feature can give the influence leaf a cell of its own).
    LeavesShareAdapter,
    QueryFlagBits,
    QueryFlagsPrefix,
    PaddingRecordNoPool,
    PaddingRecordNoSlot,
    QueryIdsIncrease,
    PayeeAdapterBits,
    PayeeAmountBits,
    PayeeFlagBits,
    PayeeFlagsPrefix,
    PaddingPayeeEmpty,
    PayeeAdaptersIncrease,
    PayeeCountAtLeastFlag,
    UnusedSlotCountBits,
    SlotCounts,
    SlotShares,
    TotalPoolBits,
    Conservation,
    /// Public input `i` is bound to the cell that computes it.
    PublicInput(usize),
}

impl Check {
    /// What the check constrains, in words.
    pub fn describe(self) -> String {
        let text = match self {
            Check::EpochIdBits => "epoch id < 2^64",
            Check::RateBits => "rate < 2^16",
            Check::RateAtMost10000 => "rate <= 10000",
            Check::QueryIdBits => "query id < 2^64",
            Check::FeeBits => "fee < 2^48",
            Check::SlotAdapterBits => "slot adapter < 2^32",
            Check::SlotGateBits => "slot gate < 2^16",
            Check::PoolBits => "pool < 2^48",
            Check::PoolRemainderBits => "pool remainder >= 0 (< 2^16)",
            Check::PoolRemainderAtMost9999 => "pool remainder <= 9999",
            Check::PoolDivision => "fee * rate = pool * 10000 + pool remainder",
            Check::ScoreSignBit => "score sign is a bit",
            Check::MagnitudeBits => "score magnitude < 2^31",
            Check::ScoreSplit => "score = magnitude + sign * 2^31",
            Check::ShareBits => "share < 2^48",
            Check::ShareRemainderBits => "share remainder >= 0 (< 2^64)",
            Check::ShareRemainderBelowWeight => "share remainder < W (0 when W = 0)",
            Check::ShareDivision => "pool * w = share * W + share remainder",
            Check::NoShareWithoutWeight => "no share when W = 0",
            Check::ResidualBits => "residual = pool - shares >= 0 (< 2^48)",
            Check::UnusedSlotGateZero => "an unused slot has gate 0",
            Check::UnusedSlotScoreZero => "an unused slot has score 0",
            Check::UsedSlotsFirst => "used slots come first",
            Check::SlotAdaptersIncrease => "used slots' adapters strictly increase",
            Check::LeavesShareAdapter => "one adapter cell feeds both leaves",
            Check::QueryFlagBits => "query flags are bits",
            Check::QueryFlagsPrefix => "query flags are a prefix",
            Check::PaddingRecordNoPool => "a padding record has no pool",
            Check::PaddingRecordNoSlot => "a padding record has slot 0 unused",
            Check::QueryIdsIncrease => "query ids strictly increase",
            Check::PayeeAdapterBits => "payee adapter < 2^32",
            Check::PayeeAmountBits => "payee amount < 2^64",
            Check::PayeeFlagBits => "payee flags are bits",
            Check::PayeeFlagsPrefix => "payee flags are a prefix",
            Check::PaddingPayeeEmpty => "a padding payee has adapter and amount 0",
            Check::PayeeAdaptersIncrease => "payee adapters strictly increase from 1",
            Check::PayeeCountAtLeastFlag => "a listed payee's slot count >= 1",
            Check::UnusedSlotCountBits => "unused slot count < 2^32",
            Check::SlotCounts => "slot counts: sum 1/(g - a) over slots = payee side",
            Check::SlotShares => "slot shares: sum s/(g - a) over slots = payee side",
            Check::TotalPoolBits => "total pool < 2^64",
            Check::Conservation => "total paid + treasury = total pool",
            Check::PublicInput(i) => {
                let name = PUBLIC_INPUT_NAMES.get(i).copied().unwrap_or("unknown");
                return format!("public input {i} ({name}) = its computed value");
            }
        };
        text.to_string()
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Which constraint a MockProver failure belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Refusal {
    /// A named check of the statement.
    Check(Check),
    /// A custom gate (the Poseidon chip's), by its gate name.
    Gate(String),
    /// A failure no recorded scope or gate explains (the failure as halo2 prints it).
    Unattributed(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Check(c) => write!(f, "{c}"),
            Refusal::Gate(name) => write!(f, "gate '{name}'"),
            Refusal::Unattributed(text) => write!(f, "unattributed: {text}"),
        }
    }
}

/// A scope being laid.
pub(crate) struct OpenScope {
    check: Check,
    start: Option<(usize, usize, usize)>,
}

/// The cells one scope laid and the copy constraints it added (ranges of the context's
/// advice and of the copy manager's lists).
#[derive(Clone, Debug)]
struct Scope {
    check: Check,
    advice: Range<usize>,
    equalities: Range<usize>,
    constants: Range<usize>,
}

/// Per-scope bookkeeping of one statement build (mock runs only), and the switches a
/// `mutation` build may turn off.
#[derive(Clone, Debug, Default)]
pub struct CheckLog {
    record: bool,
    scopes: Vec<Scope>,
    open: bool,
    off: Vec<Check>,
    /// The published public inputs, which a mutated build exposes in place of a public input
    /// whose binding is switched off.
    #[cfg(feature = "mutation")]
    published: Vec<Fr>,
    /// Per used slot position: the adapter cell and the copies of it the two leaves read.
    leaf_adapters: Vec<[AssignedValue<Fr>; 3]>,
}

fn mark(ctx: &Context<Fr>) -> (usize, usize, usize) {
    let manager = ctx.copy_manager.lock().expect("copy manager lock");
    (
        ctx.advice.len(),
        manager.advice_equalities.len(),
        manager.constant_equalities.len(),
    )
}

impl CheckLog {
    /// Records nothing and leaves nothing out: what key generation and proving use.
    pub fn off() -> Self {
        CheckLog::default()
    }

    /// Records every scope (the builder must not be witness-only).
    pub fn recording() -> Self {
        CheckLog {
            record: true,
            ..CheckLog::default()
        }
    }

    /// Records every scope and leaves out the checks `off` (feature `mutation`). A public input
    /// whose binding is off takes its value from `published` with no constraint.
    #[cfg(feature = "mutation")]
    pub fn mutated(off: &[Check], published: &[Fr]) -> Self {
        CheckLog {
            record: true,
            off: off.to_vec(),
            published: published.to_vec(),
            ..CheckLog::default()
        }
    }

    /// The published value of public input `i` (zero when none was given).
    #[cfg(feature = "mutation")]
    pub(crate) fn published(&self, i: usize) -> Fr {
        self.published.get(i).copied().unwrap_or_default()
    }

    /// Whether `check` is laid. Always true without the `mutation` feature.
    pub(crate) fn enforced(&self, check: Check) -> bool {
        cfg!(not(feature = "mutation")) || !self.off.contains(&check)
    }

    /// Opens `check`'s scope: `None` when the check is switched off (its constraints must then
    /// be skipped), else a token for [`CheckLog::close`].
    pub(crate) fn open(&mut self, check: Check, ctx: &Context<Fr>) -> Option<OpenScope> {
        if !self.enforced(check) {
            return None;
        }
        if !self.record {
            return Some(OpenScope { check, start: None });
        }
        assert!(!self.open, "check scopes do not nest");
        self.open = true;
        Some(OpenScope {
            check,
            start: Some(mark(ctx)),
        })
    }

    /// Closes a scope [`CheckLog::open`] opened, recording what it laid.
    pub(crate) fn close(&mut self, scope: OpenScope, ctx: &Context<Fr>) {
        let Some(start) = scope.start else {
            return;
        };
        let end = mark(ctx);
        self.open = false;
        self.scopes.push(Scope {
            check: scope.check,
            advice: start.0..end.0,
            equalities: start.1..end.1,
            constants: start.2..end.2,
        });
    }

    /// Notes a slot's adapter cell and the copies of it that the activation and influence leaf
    /// read.
    pub(crate) fn leaf_adapter(&mut self, cells: [AssignedValue<Fr>; 3]) {
        if self.record {
            self.leaf_adapters.push(cells);
        }
    }

    /// Resolves the recorded ranges into cells (before synthesis reorders the copy manager's
    /// lists).
    pub(crate) fn finish(self, ctx: &Context<Fr>) -> Option<CheckLayout> {
        if !self.record {
            return None;
        }
        let manager = ctx.copy_manager.lock().expect("copy manager lock");
        let scopes = self
            .scopes
            .into_iter()
            .map(|s| ResolvedScope {
                check: s.check,
                advice: s.advice,
                equalities: manager.advice_equalities[s.equalities].to_vec(),
                constants: manager.constant_equalities[s.constants].to_vec(),
            })
            .collect();
        let cell = |v: &AssignedValue<Fr>| v.cell.expect("a recording build has cells");
        Some(CheckLayout {
            context: ctx.tag(),
            scopes,
            leaf_adapters: self
                .leaf_adapters
                .iter()
                .map(|cells| cells.map(|c| cell(&c)))
                .collect(),
        })
    }
}

#[derive(Clone, Debug)]
struct ResolvedScope {
    check: Check,
    advice: Range<usize>,
    equalities: Vec<(ContextCell, ContextCell)>,
    constants: Vec<(Fr, ContextCell)>,
}

/// Where each named check sits in one mock build: its cells (offsets in the statement's one
/// context) and its copy constraints.
#[derive(Clone, Debug)]
pub struct CheckLayout {
    context: (&'static str, usize),
    scopes: Vec<ResolvedScope>,
    leaf_adapters: Vec<[ContextCell; 3]>,
}

/// An equality whose sides can be compared: a scope's, or a public input's binding.
#[derive(Debug)]
enum Edge {
    Cells(Check, ContextCell, ContextCell),
    Constant(Check, Fr, ContextCell),
    Instance(usize, ContextCell),
}

/// A mock run laid out for attribution: MockProver's copy cycles, the physical place of every
/// virtual cell, and the recorded scopes.
#[derive(Debug)]
pub struct Attribution<'a> {
    builder: &'a BaseCircuitBuilder<Fr>,
    layout: &'a CheckLayout,
    instances: &'a [Fr],
    columns: Vec<Column<Any>>,
    mapping: Vec<Vec<(usize, usize)>>,
    /// (permutation column, row) of every virtual cell, and back.
    physical: HashMap<ContextCell, (usize, usize)>,
    virtual_at: HashMap<(usize, usize), ContextCell>,
    scope_at: HashMap<usize, usize>,
    edges_at: HashMap<ContextCell, Vec<usize>>,
    edges: Vec<Edge>,
    basic_columns: Vec<Column<Any>>,
    lookup_columns: Vec<Column<Any>>,
}

impl<'a> Attribution<'a> {
    /// Reads the copy cycles from `prover` and the cell placement from `builder` (which
    /// `prover` synthesized), against the configuration the builder's parameters give.
    pub fn new(
        prover: &'a MockProver<Fr>,
        builder: &'a BaseCircuitBuilder<Fr>,
        layout: &'a CheckLayout,
        instances: &'a [Fr],
    ) -> Self {
        let mut cs = ConstraintSystem::<Fr>::default();
        let config = AttributionConfig::configure(&mut cs, builder.config_params.clone());
        let gate = config.base.gate();
        let basic_columns: Vec<Column<Any>> =
            gate.basic_gates[0].iter().map(|g| g.value.into()).collect();
        let lookup_columns: Vec<Column<Any>> = match &config.base.base {
            MaybeRangeConfig::WithRange(range) if range.q_lookup[0].is_some() => {
                vec![basic_columns[0]]
            }
            MaybeRangeConfig::WithRange(range) => {
                range.lookup_advice[0].iter().map(|c| (*c).into()).collect()
            }
            MaybeRangeConfig::WithoutRange(_) => vec![],
        };

        let columns = prover.permutation().columns().to_vec();
        let mapping: Vec<Vec<(usize, usize)>> = prover
            .permutation()
            .mapping()
            .map(|c| c.collect())
            .collect();
        let column_index: HashMap<Column<Any>, usize> =
            columns.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let manager = builder
            .core()
            .copy_manager
            .lock()
            .expect("copy manager lock");
        let mut physical = HashMap::new();
        let mut virtual_at = HashMap::new();
        for (virtual_cell, cell) in &manager.assigned_advices {
            if let Some(&column) = column_index.get(&cell.column) {
                physical.insert(*virtual_cell, (column, cell.row_offset));
                virtual_at.insert((column, cell.row_offset), *virtual_cell);
            }
        }
        drop(manager);

        let mut scope_at = HashMap::new();
        let mut edges = Vec::new();
        for (i, scope) in layout.scopes.iter().enumerate() {
            for offset in scope.advice.clone() {
                scope_at.insert(offset, i);
            }
            for (a, b) in &scope.equalities {
                edges.push(Edge::Cells(scope.check, *a, *b));
            }
            for (c, a) in &scope.constants {
                edges.push(Edge::Constant(scope.check, *c, *a));
            }
        }
        for (i, v) in builder.assigned_instances[0].iter().enumerate() {
            if let Some(cell) = v.cell {
                edges.push(Edge::Instance(i, cell));
            }
        }
        let mut edges_at: HashMap<ContextCell, Vec<usize>> = HashMap::new();
        for (i, edge) in edges.iter().enumerate() {
            let cells = match edge {
                Edge::Cells(_, a, b) => vec![*a, *b],
                Edge::Constant(_, _, a) | Edge::Instance(_, a) => vec![*a],
            };
            for cell in cells {
                edges_at.entry(cell).or_default().push(i);
            }
        }
        Attribution {
            builder,
            layout,
            instances,
            columns,
            mapping,
            physical,
            virtual_at,
            scope_at,
            edges_at,
            edges,
            basic_columns,
            lookup_columns,
        }
    }

    fn value(&self, cell: &ContextCell) -> Option<Fr> {
        let threads = &self.builder.core().phase_manager[0].threads;
        let ctx = threads
            .iter()
            .find(|c| c.tag() == (cell.type_id, cell.context_id))?;
        ctx.advice.get(cell.offset).map(|v| v.evaluate())
    }

    /// The copy cycle through `(column, row)`, as MockProver's permutation holds it.
    fn cycle(&self, start: (usize, usize)) -> Vec<(usize, usize)> {
        let mut cells = vec![start];
        let mut at = start;
        while let Some(&next) = self.mapping.get(at.0).and_then(|c| c.get(at.1)) {
            if next == start {
                break;
            }
            cells.push(next);
            at = next;
        }
        cells
    }

    fn column(&self, column: Column<Any>) -> Option<usize> {
        self.columns.iter().position(|c| *c == column)
    }

    /// The scope that laid the statement cell at `(column, row)`, or whose cell it copies.
    fn scope_of(&self, at: (usize, usize)) -> BTreeSet<Check> {
        self.cycle(at)
            .iter()
            .filter_map(|p| self.virtual_at.get(p))
            .filter(|c| (c.type_id, c.context_id) == self.layout.context)
            .filter_map(|c| self.scope_at.get(&c.offset))
            .map(|&i| self.layout.scopes[i].check)
            .collect()
    }

    /// The recorded equalities of the cycle through `at` whose two sides differ.
    fn broken_edges(&self, at: (usize, usize)) -> BTreeSet<Check> {
        let mut out = BTreeSet::new();
        let mut seen = HashSet::new();
        for p in self.cycle(at) {
            let Some(cell) = self.virtual_at.get(&p) else {
                continue;
            };
            for &e in self.edges_at.get(cell).into_iter().flatten() {
                if !seen.insert(e) {
                    continue;
                }
                let (check, broken) = match &self.edges[e] {
                    Edge::Cells(check, a, b) => (*check, self.value(a) != self.value(b)),
                    Edge::Constant(check, c, a) => (*check, self.value(a) != Some(*c)),
                    Edge::Instance(i, a) => (
                        Check::PublicInput(*i),
                        self.value(a) != self.instances.get(*i).copied(),
                    ),
                };
                if broken {
                    out.insert(check);
                }
            }
        }
        out
    }

    /// The row a failure location names (every region of this circuit starts at row 0).
    fn row(location: &FailureLocation) -> usize {
        match location {
            FailureLocation::InRegion { offset, .. } => *offset,
            FailureLocation::OutsideRegion { row } => *row,
        }
    }

    /// The named checks (or gates) `failure` belongs to.
    pub fn refusals(&self, failure: &VerifyFailure) -> BTreeSet<Refusal> {
        let unplaced = || BTreeSet::from([Refusal::Unattributed(failure.to_string())]);
        let found: BTreeSet<Check> = match failure {
            VerifyFailure::ConstraintNotSatisfied {
                constraint,
                location,
                ..
            } => {
                let Some((gate, name)) = gate_of(&constraint.to_string()) else {
                    return unplaced();
                };
                let Some(column) = self.basic_columns.get(gate) else {
                    return BTreeSet::from([Refusal::Gate(name)]);
                };
                let Some(column) = self.column(*column) else {
                    return unplaced();
                };
                let at = (column, Self::row(location));
                // Only the scope's own cell at the gate's row: the gate was enabled there.
                self.virtual_at
                    .get(&at)
                    .filter(|c| (c.type_id, c.context_id) == self.layout.context)
                    .filter(|c| self.selector_on(c))
                    .and_then(|c| self.scope_at.get(&c.offset))
                    .map(|&i| self.layout.scopes[i].check)
                    .into_iter()
                    .collect()
            }
            VerifyFailure::Lookup {
                lookup_index,
                location,
                ..
            } => match self
                .lookup_columns
                .get(*lookup_index)
                .and_then(|c| self.column(*c))
            {
                Some(column) => self.scope_of((column, Self::row(location))),
                None => BTreeSet::new(),
            },
            VerifyFailure::Permutation { column, location } => {
                let column = self.columns.iter().position(|c| {
                    *c.column_type() == column.column_type() && c.index() == column.index()
                });
                match column {
                    Some(column) => self.broken_edges((column, Self::row(location))),
                    None => BTreeSet::new(),
                }
            }
            _ => BTreeSet::new(),
        };
        if found.is_empty() {
            return unplaced();
        }
        found.into_iter().map(Refusal::Check).collect()
    }

    fn selector_on(&self, cell: &ContextCell) -> bool {
        let threads = &self.builder.core().phase_manager[0].threads;
        threads
            .iter()
            .find(|c| c.tag() == (cell.type_id, cell.context_id))
            .and_then(|c| c.selector.get(cell.offset).copied())
            .unwrap_or(false)
    }

    /// Per slot position, whether the adapter cell and the two leaves' copies of it lie in one
    /// copy cycle: returns how many positions were checked and those that are not joined.
    pub fn leaves_share_adapter(&self) -> (usize, Vec<usize>) {
        let mut apart = Vec::new();
        for (i, cells) in self.layout.leaf_adapters.iter().enumerate() {
            let joined = match cells.map(|c| self.physical.get(&c).copied()) {
                [Some(a), Some(act), Some(inf)] => {
                    let cycle: HashSet<_> = self.cycle(a).into_iter().collect();
                    cycle.contains(&act) && cycle.contains(&inf)
                }
                _ => false,
            };
            if !joined {
                apart.push(i);
            }
        }
        (self.layout.leaf_adapters.len(), apart)
    }
}

/// The gate index and name in halo2's `Constraint` display ("... in gate N ('name')").
fn gate_of(text: &str) -> Option<(usize, String)> {
    let rest = &text[text.find(" in gate ")? + " in gate ".len()..];
    let (index, rest) = rest.split_once(' ')?;
    let name = rest.strip_prefix("('")?.strip_suffix("')")?;
    Some((index.parse().ok()?, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::gate_of;

    #[test]
    fn gate_of_reads_halo2s_constraint_display() {
        assert_eq!(
            gate_of("Constraint 2 in gate 7 ('poseidon full round')"),
            Some((7, "poseidon full round".to_string()))
        );
        assert_eq!(
            gate_of("Constraint 0 ('x') in gate 0 ('1 column a + b * c = out')"),
            Some((0, "1 column a + b * c = out".to_string()))
        );
        assert_eq!(gate_of("no gate"), None);
    }
}
