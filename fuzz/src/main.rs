//! `zkattr-fuzz`: runs the mutation fuzzer's targets and prints, per target, the inputs, the
//! rate, and what became of the mutants; exits non-zero on any accepted-changed mutant or panic.

use anyhow::{bail, Result};
use clap::Parser;
use zkattr_fuzz::targets::{build, ALL};
use zkattr_fuzz::{run, run_one, Outcome};

#[derive(Parser, Debug)]
#[command(about = "Mutation fuzzer over zkattr's decoders (bundles, paths, epochs, uploads)")]
struct Args {
    /// A target name, or `all`.
    #[arg(long, default_value = "all")]
    target: String,
    /// Mutants per target.
    #[arg(long, default_value_t = 10_000)]
    inputs: u64,
    /// The run's seed: mutant `i` of seed `s` is always the same mutant.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Runs only mutant INDEX of the seed (one named target) and prints its outcome.
    #[arg(long, value_name = "INDEX")]
    replay: Option<u64>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // Panics are caught and counted per mutant; the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));
    let names: Vec<&str> = if args.target == "all" {
        ALL.to_vec()
    } else {
        vec![args.target.as_str()]
    };
    if let Some(index) = args.replay {
        if names.len() != 1 {
            bail!("--replay needs one --target");
        }
        let target = build(names[0])?;
        let outcome = run_one(target.as_ref(), args.seed, index);
        println!("{} seed {} index {index}: {outcome:?}", names[0], args.seed);
        let failed = matches!(outcome, Err(_) | Ok(Outcome::Changed(_)));
        std::process::exit(i32::from(failed));
    }
    println!(
        "{:<15} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>7}",
        "target", "inputs", "inputs/s", "refused", "same", "new-input", "changed", "panics"
    );
    let mut failed = false;
    for name in names {
        let target = build(name)?;
        let stats = run(target.as_ref(), args.seed, args.inputs);
        println!(
            "{:<15} {:>10} {:>10.0} {:>10} {:>10} {:>10} {:>9} {:>7}",
            name,
            stats.inputs,
            stats.rate(),
            stats.refused,
            stats.same.values().sum::<u64>(),
            stats.new_inputs,
            stats.changed,
            stats.panics
        );
        for (rule, n) in &stats.same {
            println!("    same meaning by rule {rule:?}: {n}");
        }
        for f in &stats.failures {
            let kind = if f.panic { "PANIC" } else { "CHANGED" };
            println!(
                "    {kind} at index {} (replay: --target {name} --seed {} --replay {}): {}",
                f.index,
                args.seed,
                f.index,
                truncate(&f.message, 400)
            );
        }
        failed |= !stats.clean();
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
