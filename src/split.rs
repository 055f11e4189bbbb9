//! Splitting table rows into training rows and the rest, by input range or by order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::Interval;

/// An input range that selects training rows: `LO:HI` for the only input, or
/// `COLUMN=LO:HI` for a named one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRange {
    /// The input column, or `None` for the only input.
    pub column: Option<String>,
    /// The training range of that input.
    pub range: Interval,
}

impl FromStr for ColumnRange {
    type Err = String;

    /// Parses `LO:HI` or `COLUMN=LO:HI`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((column, range)) => Ok(ColumnRange {
                column: Some(column.trim().to_string()),
                range: range.parse()?,
            }),
            None => Ok(ColumnRange {
                column: None,
                range: text.parse()?,
            }),
        }
    }
}

impl fmt::Display for ColumnRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "{column}={}", self.range),
            None => write!(f, "{}", self.range),
        }
    }
}

/// Which rows of a table train the model. Every row is evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    /// Rows whose inputs all lie in the given ranges; inputs without a range are free.
    Ranges(Vec<ColumnRange>),
    /// Rows whose first input is at most the value, such as a year.
    Until(f64),
    /// The first fraction of the rows in file order.
    Fraction(f64),
}

/// A split that does not fit the table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    #[error("the train range {range} names no input column; the inputs are {available}")]
    UnknownColumn { range: String, available: String },
    #[error(
        "the train range {range} has no column name, but there are {count} inputs; write it as COLUMN=LO:HI"
    )]
    AmbiguousRange { range: String, count: usize },
    #[error("no rows fall in the training split ({split}); the first input spans {min} to {max}")]
    NoTrainingRows { split: String, min: f64, max: f64 },
}

/// The outcome of a split, as printed and recorded with a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// How the rows were split, as the user would write it.
    pub split: String,
    /// Rows that train the model.
    pub train_rows: usize,
    /// Rows that only evaluate it.
    pub other_rows: usize,
    /// Rows whose inputs all lie inside the training range.
    pub rows_in_range: usize,
    /// The training range of each input, by column name.
    pub train_ranges: Vec<(String, Interval)>,
}

/// Rows marked as training rows or not, with the training range of each input.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitRows {
    /// Whether each row trains the model.
    pub is_train: Vec<bool>,
    /// Whether each row's inputs all lie inside the training range.
    pub in_range: Vec<bool>,
    /// The training range of each input.
    pub train_ranges: Vec<Interval>,
}

impl Split {
    /// Marks the rows of `columns` (one vector per input, `names` their names) that train.
    pub fn apply(&self, columns: &[Vec<f64>], names: &[String]) -> Result<SplitRows, SplitError> {
        let rows = columns.first().map_or(0, Vec::len);
        let is_train: Vec<bool> = match self {
            Split::Ranges(ranges) => {
                let bounds = self.range_per_column(ranges, names)?;
                (0..rows)
                    .map(|row| {
                        bounds
                            .iter()
                            .zip(columns)
                            .all(|(bound, column)| bound.is_none_or(|b| b.contains(column[row])))
                    })
                    .collect()
            }
            Split::Until(limit) => columns[0].iter().map(|&value| value <= *limit).collect(),
            Split::Fraction(fraction) => {
                let train = ((fraction * rows as f64).round() as usize).clamp(1, rows.max(1));
                (0..rows).map(|row| row < train).collect()
            }
        };

        if !is_train.contains(&true) {
            let first = columns.first().map(Vec::as_slice).unwrap_or_default();
            return Err(SplitError::NoTrainingRows {
                split: self.to_string(),
                min: first.iter().copied().fold(f64::INFINITY, f64::min),
                max: first.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            });
        }

        let train_ranges = self.train_ranges(columns, names, &is_train)?;
        let in_range = (0..rows)
            .map(|row| {
                train_ranges
                    .iter()
                    .zip(columns)
                    .all(|(range, column)| range.contains(column[row]))
            })
            .collect();
        Ok(SplitRows {
            is_train,
            in_range,
            train_ranges,
        })
    }

    /// The range each input is restricted to, in input order.
    fn range_per_column(
        &self,
        ranges: &[ColumnRange],
        names: &[String],
    ) -> Result<Vec<Option<Interval>>, SplitError> {
        let mut bounds = vec![None; names.len()];
        for range in ranges {
            let index = match &range.column {
                None if names.len() == 1 => 0,
                None => {
                    return Err(SplitError::AmbiguousRange {
                        range: range.to_string(),
                        count: names.len(),
                    });
                }
                Some(column) => names
                    .iter()
                    .position(|name| name == column)
                    .ok_or_else(|| SplitError::UnknownColumn {
                        range: range.to_string(),
                        available: names.join(", "),
                    })?,
            };
            bounds[index] = Some(range.range);
        }
        Ok(bounds)
    }

    /// The training range of each input: the given range where a range split names one,
    /// otherwise the span of the training rows.
    fn train_ranges(
        &self,
        columns: &[Vec<f64>],
        names: &[String],
        is_train: &[bool],
    ) -> Result<Vec<Interval>, SplitError> {
        let given = match self {
            Split::Ranges(ranges) => self.range_per_column(ranges, names)?,
            _ => vec![None; names.len()],
        };
        Ok(columns
            .iter()
            .zip(given)
            .map(|(column, given)| {
                given.unwrap_or_else(|| {
                    let train = column
                        .iter()
                        .zip(is_train)
                        .filter(|(_, train)| **train)
                        .map(|(v, _)| *v);
                    Interval::new(
                        train.clone().fold(f64::INFINITY, f64::min),
                        train.fold(f64::NEG_INFINITY, f64::max),
                    )
                })
            })
            .collect())
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Split::Ranges(ranges) => {
                let ranges: Vec<String> = ranges.iter().map(ToString::to_string).collect();
                write!(f, "--train-range {}", ranges.join(","))
            }
            Split::Until(limit) => write!(f, "--train-until {limit}"),
            Split::Fraction(fraction) => write!(f, "--train-fraction {fraction}"),
        }
    }
}

impl SplitRows {
    /// Summarises the split for printing and for metrics.json.
    pub fn summary(&self, split: &Split, names: &[String]) -> SplitSummary {
        let train_rows = self.is_train.iter().filter(|&&train| train).count();
        SplitSummary {
            split: split.to_string(),
            train_rows,
            other_rows: self.is_train.len() - train_rows,
            rows_in_range: self.in_range.iter().filter(|&&inside| inside).count(),
            train_ranges: names
                .iter()
                .cloned()
                .zip(self.train_ranges.iter().copied())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn until_trains_rows_up_to_value() {
        let columns = vec![vec![1990.0, 1991.0, 1992.0]];
        let rows = Split::Until(1991.0)
            .apply(&columns, &names(&["year"]))
            .unwrap();
        assert_eq!(rows.is_train, [true, true, false]);
        assert_eq!(rows.train_ranges, [Interval::new(1990.0, 1991.0)]);
        assert_eq!(rows.in_range, [true, true, false]);
    }

    #[test]
    fn fraction_takes_first_rows_in_file_order() {
        let columns = vec![vec![5.0, 1.0, 3.0, 7.0]];
        let rows = Split::Fraction(0.5)
            .apply(&columns, &names(&["x"]))
            .unwrap();
        assert_eq!(rows.is_train, [true, true, false, false]);
        assert_eq!(rows.train_ranges, [Interval::new(1.0, 5.0)]);
        assert_eq!(rows.in_range, [true, true, true, false]);
    }

    #[test]
    fn ranges_select_per_column() {
        let columns = vec![vec![0.0, 1.0, 2.0], vec![10.0, 20.0, 10.0]];
        let split = Split::Ranges(vec!["b=5:15".parse().unwrap()]);
        let rows = split.apply(&columns, &names(&["a", "b"])).unwrap();
        assert_eq!(rows.is_train, [true, false, true]);
        assert_eq!(rows.train_ranges[1], Interval::new(5.0, 15.0));
    }

    #[test]
    fn unnamed_range_needs_single_input() {
        let columns = vec![vec![0.0], vec![1.0]];
        let error = Split::Ranges(vec!["0:1".parse().unwrap()])
            .apply(&columns, &names(&["a", "b"]))
            .unwrap_err();
        assert!(
            error.to_string().contains("write it as COLUMN=LO:HI"),
            "{error}"
        );
    }

    #[test]
    fn unknown_range_column_lists_inputs() {
        let columns = vec![vec![0.0]];
        let error = Split::Ranges(vec!["c=0:1".parse().unwrap()])
            .apply(&columns, &names(&["a"]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the train range c=0:1 names no input column; the inputs are a"
        );
    }

    #[test]
    fn empty_training_split_is_an_error() {
        let columns = vec![vec![2000.0, 2001.0]];
        let error = Split::Until(1990.0)
            .apply(&columns, &names(&["year"]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "no rows fall in the training split (--train-until 1990); the first input spans 2000 to 2001"
        );
    }
}
