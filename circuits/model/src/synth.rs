//! A deterministic synthetic workload: what a LoRA-serving operator's epoch looks like.
//!
//! Adapter popularity follows a Zipf law (a few adapters serve most queries), most queries
//! activate one to four adapters, gates of a query sum to about one, and influence scores are
//! signed with a minority negative. The same seed always gives the same epoch.

use crate::types::{Epoch, EpochParams, Query, Slot, SLOTS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Settings of the generator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthConfig {
    pub queries: u64,
    /// Size of the adapter catalogue; ids are `1..=adapters`.
    pub adapters: u32,
    pub seed: u64,
    pub epoch_id: u64,
    pub rate_bps: u16,
    /// Zipf exponent of adapter popularity.
    pub zipf_exponent: f64,
    /// Share of scores that are negative.
    pub negative_share: f64,
}

impl SynthConfig {
    pub fn new(queries: u64, adapters: u32, seed: u64) -> Self {
        SynthConfig {
            queries,
            adapters,
            seed,
            epoch_id: 1,
            rate_bps: 2_500,
            zipf_exponent: 1.1,
            negative_share: 0.2,
        }
    }
}

/// Cumulative weights of the number of activated adapters, 0 to 8 (mixture-of-LoRA routers
/// mostly pick top-1 to top-4).
const ACTIVATED_CDF: [f64; SLOTS + 1] = [0.03, 0.25, 0.55, 0.75, 0.88, 0.94, 0.97, 0.99, 1.0];

/// Sampler over `1..=n` with `P(i) ∝ i^-s`.
#[derive(Debug)]
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u32, exponent: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|i| {
                acc += (i as f64).powf(-exponent);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut impl Rng) -> u32 {
        let u: f64 = rng.gen();
        (self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) + 1) as u32
    }
}

/// Generates an epoch; the result always passes [`Epoch::validate`].
pub fn generate(config: &SynthConfig) -> Epoch {
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let zipf = Zipf::new(config.adapters.max(1), config.zipf_exponent);
    let max_slots = (config.adapters as usize).min(SLOTS);
    let mut query_id: u64 = rng.gen_range(1..1_000);
    let queries = (0..config.queries)
        .map(|_| {
            query_id += rng.gen_range(1..4);
            let fee = sample_fee(&mut rng);
            let u: f64 = rng.gen();
            let wanted = ACTIVATED_CDF.partition_point(|&c| c < u).min(max_slots);
            let mut adapters: Vec<u32> = Vec::with_capacity(wanted);
            // Rejection keeps ids distinct; popular adapters collide often, so bound the tries.
            let mut tries = 0;
            while adapters.len() < wanted && tries < 64 {
                let a = zipf.sample(&mut rng);
                if !adapters.contains(&a) {
                    adapters.push(a);
                }
                tries += 1;
            }
            adapters.sort_unstable();
            let raw: Vec<f64> = adapters.iter().map(|_| rng.gen_range(0.05..1.0)).collect();
            let sum: f64 = raw.iter().sum();
            let mut slots = [Slot::UNUSED; SLOTS];
            for (j, (&adapter_id, r)) in adapters.iter().zip(&raw).enumerate() {
                slots[j] = Slot {
                    adapter_id,
                    gate: ((r / sum) * 65_535.0).round() as u16,
                    score: sample_score(&mut rng, config.negative_share),
                };
            }
            Query {
                query_id,
                fee,
                slots,
            }
        })
        .collect();
    Epoch {
        params: EpochParams {
            epoch_id: config.epoch_id,
            rate_bps: config.rate_bps,
        },
        queries,
    }
}

/// Fees spread log-uniformly from 100 to 10^7 smallest units.
fn sample_fee(rng: &mut impl Rng) -> u64 {
    let exponent: f64 = rng.gen_range(2.0..7.0);
    10f64.powf(exponent) as u64
}

/// Q16.16 scores: magnitude log-uniform in about [2^-8, 4), negative with the given probability.
fn sample_score(rng: &mut impl Rng, negative_share: f64) -> i32 {
    let magnitude = 2f64.powf(rng.gen_range(-8.0..2.0)) * 65_536.0;
    let magnitude = magnitude as i32;
    if rng.gen_bool(negative_share) {
        -magnitude
    } else {
        magnitude
    }
}
