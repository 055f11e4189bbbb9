//! Training progress on the terminal: a Keras-like bar, or one line per epoch.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::path::PathBuf;

use outrange::checkpoint::Checkpoint;
use outrange::config::ExperimentConfig;
use outrange::{Callback, EpochRecord, Sequential};

use super::args::Verbosity;

/// Prints training progress to standard error.
pub struct Progress {
    mode: Mode,
    epochs: usize,
    steps_per_epoch: usize,
    bar: Option<ProgressBar>,
    epoch_started: Instant,
    stop: Arc<AtomicBool>,
    /// The epoch and step of the last finished step.
    pub reached: (usize, usize),
    /// Where checkpoints go, when they are kept.
    pub checkpoints: Option<CheckpointTarget>,
}

/// The checkpoint of the epoch with the lowest validation loss, beside the latest one.
pub const BEST_CHECKPOINT_FILE: &str = "checkpoint-best.safetensors";

/// The file checkpoints are written to, with a model of the run's architecture for
/// the tensor names and shapes, and the run's settings.
pub struct CheckpointTarget {
    pub path: PathBuf,
    pub model: Sequential,
    pub config: ExperimentConfig,
    /// The first error from writing a checkpoint; training stops when one occurs.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Silent,
    Bar,
    Lines,
}

impl Progress {
    /// Creates the reporter; a bar falls back to lines when standard error is not a terminal.
    pub fn new(verbosity: Verbosity, stop: Arc<AtomicBool>) -> Self {
        let mode = match verbosity {
            Verbosity::Silent => Mode::Silent,
            Verbosity::Bar if std::io::stderr().is_terminal() => Mode::Bar,
            Verbosity::Bar | Verbosity::Lines => Mode::Lines,
        };
        Progress {
            mode,
            epochs: 0,
            steps_per_epoch: 0,
            bar: None,
            epoch_started: Instant::now(),
            stop,
            reached: (0, 0),
            checkpoints: None,
        }
    }
}

impl Callback for Progress {
    fn on_train_begin(&mut self, epochs: usize, steps_per_epoch: usize) {
        self.epochs = epochs;
        self.steps_per_epoch = steps_per_epoch;
    }

    fn on_epoch_begin(&mut self, epoch: usize) {
        self.epoch_started = Instant::now();
        if self.mode != Mode::Bar {
            return;
        }

        eprintln!("Epoch {epoch}/{}", self.epochs);
        let bar = ProgressBar::with_draw_target(
            Some(self.steps_per_epoch as u64),
            ProgressDrawTarget::stderr(),
        );
        let style = ProgressStyle::with_template("{pos:>5}/{len} {wide_bar} {elapsed} {msg}")
            .expect("the template is valid")
            .progress_chars("━━─");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bar = Some(bar);
    }

    fn stop_requested(&self) -> bool {
        let failed = self
            .checkpoints
            .as_ref()
            .is_some_and(|target| target.error.is_some());
        failed || self.stop.load(Ordering::Relaxed)
    }

    fn on_checkpoint(&mut self, checkpoint: &Checkpoint) {
        let Some(target) = &mut self.checkpoints else {
            return;
        };
        if let Err(error) = checkpoint.save(&target.path, &target.model, &target.config) {
            target.error = Some(error.to_string());
        }
    }

    fn on_best_epoch(&mut self, checkpoint: &Checkpoint) {
        let Some(target) = &mut self.checkpoints else {
            return;
        };
        let path = target.path.with_file_name(BEST_CHECKPOINT_FILE);
        if let Err(error) = checkpoint.save(&path, &target.model, &target.config) {
            target.error = Some(error.to_string());
        }
    }

    fn on_warning(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    fn on_train_batch_end(&mut self, epoch: usize, step: usize, mean_loss: f64) {
        self.reached = (epoch, step);
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            if step.is_multiple_of(64) {
                bar.set_message(format!("- loss: {mean_loss:.4e}"));
            }
        }
    }

    fn on_epoch_end(&mut self, record: &EpochRecord) {
        let per_step = record.seconds / self.steps_per_epoch.max(1) as f64;
        let summary = format!(
            "{} {}/step - loss: {:.4e}",
            format_seconds(record.seconds),
            format_seconds(per_step),
            record.loss
        );
        match self.mode {
            Mode::Silent => {}
            Mode::Bar => {
                if let Some(bar) = self.bar.take() {
                    bar.set_style(
                        ProgressStyle::with_template("{pos:>5}/{len} {wide_bar} {msg}")
                            .expect("the template is valid")
                            .progress_chars("━━─"),
                    );
                    bar.finish_with_message(summary);
                    // indicatif leaves the cursor after the finished bar; the next epoch starts below it.
                    eprintln!();
                }
            }
            Mode::Lines => {
                let mut stderr = std::io::stderr().lock();
                // A closed standard error must not stop training.
                let _ = writeln!(stderr, "Epoch {}/{} - {summary}", record.epoch, self.epochs);
            }
        }
    }
}

/// Formats a duration in the largest unit that keeps it at 1 or more: s, ms or µs.
pub fn format_seconds(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2}s")
    } else if seconds >= 1e-3 {
        format!("{:.1}ms", seconds * 1e3)
    } else {
        format!("{:.0}µs", seconds * 1e6)
    }
}
