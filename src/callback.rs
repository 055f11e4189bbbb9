//! Hooks that [`Sequential::fit`](crate::Sequential::fit) calls as training goes on.

use crate::checkpoint::Checkpoint;
use crate::history::{EpochRecord, History};

/// Receives training events, like a Keras callback. Every method does nothing by default.
///
/// The library itself never prints; a program shows progress by implementing this trait.
/// `on_train_batch_end` runs after every step, so it should return quickly.
pub trait Callback {
    /// Called once before the first epoch.
    fn on_train_begin(&mut self, _epochs: usize, _steps_per_epoch: usize) {}

    /// Called before each epoch; `epoch` counts from 1.
    fn on_epoch_begin(&mut self, _epoch: usize) {}

    /// Called after each step with the step number (from 1) and the epoch's mean loss so far.
    fn on_train_batch_end(&mut self, _epoch: usize, _step: usize, _mean_loss: f64) {}

    /// Called after each epoch with its record.
    fn on_epoch_end(&mut self, _record: &EpochRecord) {}

    /// Called once after the last epoch, or after the epoch that a stop request ended.
    fn on_train_end(&mut self, _history: &History) {}

    /// Called every `checkpoint_every` epochs with the state needed to resume.
    fn on_checkpoint(&mut self, _checkpoint: &Checkpoint) {}

    /// Called, when checkpoints are on, after each epoch whose validation loss is the
    /// lowest so far.
    fn on_best_epoch(&mut self, _checkpoint: &Checkpoint) {}

    /// Called with a warning about training, such as a layer whose gradients stay zero.
    fn on_warning(&mut self, _message: &str) {}

    /// Returns true to stop training after the current step.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// A callback that ignores every event.
impl Callback for () {}
