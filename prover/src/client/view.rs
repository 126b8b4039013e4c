//! Upload and job progress on stderr.

use super::jobs::describe;
use crate::proto;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The live job line before its message: spinner, elapsed clock and bar, as
/// `⠋ [00:01:02] [====>               ] ` (36 columns).
const JOB_TEMPLATE: &str = "{spinner} [{elapsed_precise}] [{bar:20}] {msg}";
/// Columns [`JOB_TEMPLATE`] takes before `{msg}`.
pub const JOB_PREFIX_COLUMNS: usize = 36;

/// Terminal columns the live line may use: `COLUMNS` when set, else 80.
fn terminal_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c >= 20)
        .unwrap_or(80)
}

/// The message of the live job line for a terminal `columns` wide: the state name whole, then
/// the batch and the service's message as far as they fit (cut with `…`). The job id is left
/// out: `zkattr submit` printed it already.
pub fn progress_message(job: &proto::Job, columns: usize) -> String {
    let state = job.state().as_str_name().trim_start_matches("JOB_STATE_");
    let mut rest = String::new();
    if job.state() == proto::JobState::Proving && job.batch_count > 0 {
        rest += &format!(" batch {} of {}", job.batch_index, job.batch_count);
    }
    if !job.message.is_empty() && !super::is_terminal(job.state()) {
        rest += &format!(": {}", job.message);
    }
    if !job.error.is_empty() {
        rest += &format!(": {}", job.error);
    }
    let room = columns
        .saturating_sub(JOB_PREFIX_COLUMNS)
        .saturating_sub(state.chars().count());
    let rest_len = rest.chars().count();
    if rest_len > room {
        rest = if room == 0 {
            String::new()
        } else {
            rest.chars().take(room - 1).chain(['…']).collect()
        };
    }
    format!("{state}{rest}")
}

fn job_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(JOB_TEMPLATE)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

pub(super) fn bytes_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

/// Progress on stderr: a live bar on a terminal, plain lines otherwise.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: String,
}

impl Progress {
    /// A view whose bar (on a terminal) stays hidden until [`Self::upload`] or
    /// [`Self::update`] has styled it, so no default-styled bar is ever drawn.
    pub(super) fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            indicatif::ProgressBar::with_draw_target(
                Some(0),
                indicatif::ProgressDrawTarget::hidden(),
            )
        });
        Progress {
            bar,
            last: String::new(),
        }
    }

    /// Shows an upload of `total` bytes; the returned bar (if any) hears the bytes sent.
    pub(super) fn upload(&self, total: u64) -> Option<indicatif::ProgressBar> {
        let bar = self.bar.clone()?;
        bar.set_style(bytes_style());
        bar.set_message("uploading");
        bar.set_length(total);
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        Some(bar)
    }

    pub(super) fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => eprintln!("{text}"),
        }
    }

    pub(super) fn update(&mut self, job: &proto::Job, started: Instant) {
        match &self.bar {
            Some(bar) => {
                let text = progress_message(job, terminal_columns());
                if text == self.last {
                    return;
                }
                let len = u64::from(job.batch_count.max(1));
                if bar.length() != Some(len) || self.last.is_empty() {
                    bar.set_style(job_style());
                    bar.set_length(len);
                    bar.set_position(0);
                    if bar.is_hidden() {
                        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    }
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                let done = match job.state() {
                    proto::JobState::Done => len,
                    proto::JobState::Proving => u64::from(job.batch_index.saturating_sub(1)),
                    _ => 0,
                };
                bar.set_position(done);
                bar.set_message(text.clone());
                self.last = text;
            }
            None => {
                let text = describe(job);
                if text != self.last {
                    eprintln!("[{:>6.1} s] {text}", started.elapsed().as_secs_f64());
                    self.last = text;
                }
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
