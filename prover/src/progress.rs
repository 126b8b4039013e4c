//! Progress of a long proof on the command line.
//!
//! The backends report coarse stages (parameters, keys, proving, writing) through a callback;
//! a single `create_proof` call has no finer hook. On a terminal the stages drive a bar whose
//! elapsed clock keeps ticking while a stage runs, so a 10-minute proof visibly progresses;
//! elsewhere (logs, CI, pipes) each stage is one timestamped line.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

/// Stage reporter for one proof.
#[derive(Debug)]
pub struct StageProgress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl StageProgress {
    /// A reporter expecting about `stages` stages (the bar grows if more arrive).
    pub fn new(stages: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(stages), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{bar:24}] stage {pos}/{len}: {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        StageProgress {
            bar,
            started: Instant::now(),
        }
    }

    /// Records that a stage began (or ended) with this description.
    pub fn stage(&mut self, description: &str) {
        self.stages(description, 1);
    }

    /// Records one line that stands for `count` stages (a subtree restored from checkpoints
    /// is all its batches and merges at once).
    pub fn stages(&mut self, description: &str, count: u64) {
        let line = format!(
            "[{:>6.1} s] {description}",
            self.started.elapsed().as_secs_f64()
        );
        match &self.bar {
            Some(bar) => {
                // Keep the history above the bar; the bar shows the current stage.
                bar.println(&line);
                let room = bar.length().unwrap_or(0).saturating_sub(bar.position());
                if count >= room {
                    bar.inc_length(count + 1 - room);
                }
                bar.inc(count);
                bar.set_message(description.to_string());
            }
            None => eprintln!("{line}"),
        }
    }
}

impl Drop for StageProgress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
