//! A mutation fuzzer over every decoder a user of zkattr reaches: proof bundles of both
//! backends, path files, epoch JSON, the CSV pair and the service's upload frames. Each target
//! calls the library entry points in-process and judges every accepted mutant with an oracle:
//! did its meaning change (a failure), or is it the same meaning under a rule the target names?
//! Mutant `index` of a run with seed `seed` is a pure function of the two, so a failure
//! reproduces with `--replay`.

pub mod mutate;
pub mod targets;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// What a target made of one mutant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The decoder refused it with an error.
    Refused,
    /// Accepted with the original's meaning, under the named rule.
    Same(&'static str),
    /// Accepted as a different input that the decoder read faithfully (unauthenticated inputs
    /// only: an epoch file may say anything valid, but must be read as it says).
    NewInput,
    /// Accepted with a changed meaning: a failure, with what changed.
    Changed(String),
}

/// A fuzz target: a set of valid inputs and a way to mutate and judge one.
pub trait Target: Sync {
    /// The name `--target` selects it by.
    fn name(&self) -> &'static str;
    /// Makes and judges mutant number `index` from a generator seeded for it.
    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome;
}

/// The generator of mutant `index` under `seed`: independent streams per index, so runs in
/// parallel and replays agree.
pub fn rng_for(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// One failing mutant: its index and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub index: u64,
    pub panic: bool,
    pub message: String,
}

/// A target's counts over a run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub inputs: u64,
    pub refused: u64,
    /// Accepted with the original's meaning, per rule.
    pub same: BTreeMap<&'static str, u64>,
    pub new_inputs: u64,
    pub changed: u64,
    pub panics: u64,
    /// The first failures (accepted-changed and panics), by index.
    pub failures: Vec<Failure>,
    pub seconds: f64,
}

/// Failures kept per run; the counts hold all of them.
const KEPT_FAILURES: usize = 20;

impl Stats {
    fn add(&mut self, index: u64, outcome: Result<Outcome, String>) {
        self.inputs += 1;
        match outcome {
            Ok(Outcome::Refused) => self.refused += 1,
            Ok(Outcome::Same(rule)) => *self.same.entry(rule).or_default() += 1,
            Ok(Outcome::NewInput) => self.new_inputs += 1,
            Ok(Outcome::Changed(message)) => {
                self.changed += 1;
                self.keep(Failure {
                    index,
                    panic: false,
                    message,
                });
            }
            Err(message) => {
                self.panics += 1;
                self.keep(Failure {
                    index,
                    panic: true,
                    message,
                });
            }
        }
    }

    fn keep(&mut self, failure: Failure) {
        self.failures.push(failure);
        self.failures.sort_by_key(|f| f.index);
        self.failures.truncate(KEPT_FAILURES);
    }

    fn merge(mut self, other: Stats) -> Stats {
        self.inputs += other.inputs;
        self.refused += other.refused;
        for (rule, n) in other.same {
            *self.same.entry(rule).or_default() += n;
        }
        self.new_inputs += other.new_inputs;
        self.changed += other.changed;
        self.panics += other.panics;
        for f in other.failures {
            self.keep(f);
        }
        self
    }

    /// Whether the run found nothing: no accepted-changed mutant and no panic.
    pub fn clean(&self) -> bool {
        self.changed == 0 && self.panics == 0
    }

    /// Mutants judged per second of wall time.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.seconds.max(1e-9)
    }
}

/// Runs mutant `index` of `seed`, a panic caught and returned as `Err` with its message.
pub fn run_one(target: &dyn Target, seed: u64, index: u64) -> Result<Outcome, String> {
    let mut rng = rng_for(seed, index);
    catch_unwind(AssertUnwindSafe(|| target.run(&mut rng))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

/// Runs mutants `0..inputs` of `seed` on rayon's pool.
pub fn run(target: &dyn Target, seed: u64, inputs: u64) -> Stats {
    let start = Instant::now();
    let mut stats = (0..inputs)
        .into_par_iter()
        .fold(Stats::default, |mut stats, index| {
            stats.add(index, run_one(target, seed, index));
            stats
        })
        .reduce(Stats::default, Stats::merge);
    stats.seconds = start.elapsed().as_secs_f64();
    stats
}
