//! The record of a training run, one entry per epoch.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// What one epoch of training measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch number, counted from 1.
    pub epoch: usize,
    /// The mean training loss over every sample of the epoch, as it was when each
    /// sample's batch was trained.
    pub loss: f64,
    /// The mean loss on the validation data after the epoch, when there is any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// The wall time of the epoch, in seconds.
    pub seconds: f64,
}

/// The per-epoch record that [`Sequential::fit`](crate::Sequential::fit) returns, like
/// Keras's `History`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per finished epoch, in order.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The training loss of each finished epoch.
    pub fn loss(&self) -> Vec<f64> {
        self.epochs.iter().map(|record| record.loss).collect()
    }

    /// The loss of the last finished epoch, if any.
    pub fn final_loss(&self) -> Option<f64> {
        self.epochs.last().map(|record| record.loss)
    }

    /// Formats the history as CSV: a header `epoch,loss,seconds` (with `val_loss` after
    /// `loss` when there was validation data), then one row per epoch.
    pub fn to_csv(&self) -> String {
        let validated = self.epochs.iter().any(|record| record.val_loss.is_some());
        let mut text = String::from(if validated {
            "epoch,loss,val_loss,seconds\n"
        } else {
            "epoch,loss,seconds\n"
        });
        for record in &self.epochs {
            // Writing into a String cannot fail.
            let _ = match (validated, record.val_loss) {
                (true, Some(val_loss)) => writeln!(
                    text,
                    "{},{},{val_loss},{}",
                    record.epoch, record.loss, record.seconds
                ),
                (true, None) => {
                    writeln!(text, "{},{},,{}", record.epoch, record.loss, record.seconds)
                }
                (false, _) => writeln!(text, "{},{},{}", record.epoch, record.loss, record.seconds),
            };
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_header_and_rows() {
        let history = History {
            epochs: vec![
                EpochRecord {
                    epoch: 1,
                    loss: 0.5,
                    val_loss: None,
                    seconds: 0.25,
                },
                EpochRecord {
                    epoch: 2,
                    loss: 0.125,
                    val_loss: None,
                    seconds: 0.25,
                },
            ],
        };
        assert_eq!(
            history.to_csv(),
            "epoch,loss,seconds\n1,0.5,0.25\n2,0.125,0.25\n"
        );
    }

    #[test]
    fn empty_history_has_only_header() {
        assert_eq!(History::default().to_csv(), "epoch,loss,seconds\n");
        assert_eq!(History::default().final_loss(), None);
    }
}
