//! The header row, delimiter detection, and the plan of which columns are read and how.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use csv::ByteRecord;

use super::cells;
use super::{ColumnSelector, CsvError, CsvSpec};

/// Number of bytes of the first line looked at when detecting the delimiter.
const DETECTION_LIMIT: u64 = 1 << 20;

/// Delimiters that detection chooses from, in the order that breaks ties.
const DETECTABLE_DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// Reads the first line of `source` that is not blank and detects its delimiter (see
/// [`detect_delimiter`]); `path` names the source in errors.
pub(super) fn detect_source_delimiter(source: impl Read, path: &Path) -> Result<u8, CsvError> {
    let io_error = |source| CsvError::Io {
        path: path.to_owned(),
        source,
    };

    let mut reader = BufReader::new(source.take(DETECTION_LIMIT));
    let mut first_line = Vec::new();
    loop {
        first_line.clear();
        let length = reader
            .read_until(b'\n', &mut first_line)
            .map_err(io_error)?;
        if length == 0 || !first_line.trim_ascii().is_empty() {
            break;
        }
    }

    Ok(detect_delimiter(&first_line))
}

/// Detects the delimiter of a header line: the most frequent of `,` `;` and tab outside
/// double quotes.
///
/// A tie, including a line with none of them, resolves to `,` when the comma is among the
/// most frequent, otherwise to `;`. A line break inside a quoted header name is not
/// followed, so only the part before it is counted.
pub(super) fn detect_delimiter(first_line: &[u8]) -> u8 {
    let mut counts = [0_usize; DETECTABLE_DELIMITERS.len()];
    let mut in_quotes = false;

    for byte in first_line {
        if *byte == b'"' {
            in_quotes = !in_quotes;
            continue;
        }
        if in_quotes {
            continue;
        }
        for (delimiter, count) in DETECTABLE_DELIMITERS.iter().zip(counts.iter_mut()) {
            if byte == delimiter {
                *count += 1;
            }
        }
    }

    let mut best = (b',', 0);
    for (delimiter, count) in DETECTABLE_DELIMITERS.iter().zip(counts) {
        if count > best.1 {
            best = (*delimiter, count);
        }
    }

    let tied = counts.iter().filter(|count| **count == best.1).count();
    if best.1 > 0 && tied > 1 {
        log::warn!(
            "the header line contains equally many of two candidate delimiters; using {:?}",
            char::from(best.0)
        );
    }
    best.0
}

/// The header row: column names without an ignored empty trailing column.
#[derive(Debug)]
pub(super) struct Header {
    /// Trimmed names, in file order.
    pub names: Vec<String>,

    /// Whether the header ends with a delimiter, which adds an unnamed empty column that
    /// is ignored.
    pub has_trailing_column: bool,
}

impl Header {
    /// Reads the names from the first record and checks that none is empty.
    ///
    /// An empty last name after at least one other column marks a trailing delimiter.
    pub fn from_record(record: &ByteRecord, path: &Path) -> Result<Header, CsvError> {
        let mut names: Vec<String> = record
            .iter()
            .map(|field| cells::field_text(field).into_owned())
            .collect();

        let has_trailing_column = names.len() > 1 && names.last().is_some_and(String::is_empty);
        if has_trailing_column {
            names.pop();
        }

        if let Some(index) = names.iter().position(String::is_empty) {
            return Err(CsvError::EmptyHeaderName {
                path: path.to_owned(),
                index,
            });
        }

        Ok(Header {
            names,
            has_trailing_column,
        })
    }

    /// Returns the number of fields a row has, counting the ignored trailing column.
    pub fn field_count(&self) -> usize {
        self.names.len() + usize::from(self.has_trailing_column)
    }

    /// Returns the header name of the column at `index`, or an empty string if there is none.
    pub fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("", String::as_str)
    }

    /// Finds the column index that `selector` refers to.
    ///
    /// A name must appear exactly once. An index first matches a header name equal to its
    /// decimal text, so `3` selects a column named "3" before the fourth column.
    pub fn resolve(&self, selector: &ColumnSelector, path: &Path) -> Result<usize, CsvError> {
        match selector {
            ColumnSelector::Name(name) => self.resolve_name(name.trim(), path),
            ColumnSelector::Index(index) => self.resolve_index(*index, path),
        }
    }

    fn resolve_name(&self, name: &str, path: &Path) -> Result<usize, CsvError> {
        let mut positions = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, header_name)| header_name.as_str() == name)
            .map(|(position, _)| position);

        let Some(first) = positions.next() else {
            return Err(CsvError::UnknownColumn {
                path: path.to_owned(),
                name: name.to_owned(),
                available: self.quoted_names(),
            });
        };

        if let Some(second) = positions.next() {
            return Err(CsvError::DuplicateColumn {
                path: path.to_owned(),
                name: name.to_owned(),
                first,
                second,
            });
        }
        Ok(first)
    }

    fn resolve_index(&self, index: usize, path: &Path) -> Result<usize, CsvError> {
        let as_name = index.to_string();
        if self.names.contains(&as_name) {
            return self.resolve_name(&as_name, path);
        }

        if index >= self.names.len() {
            return Err(CsvError::IndexOutOfRange {
                path: path.to_owned(),
                index,
                count: self.names.len(),
            });
        }
        Ok(index)
    }

    /// Returns all names quoted and separated by commas, for error messages.
    fn quoted_names(&self) -> String {
        let quoted: Vec<String> = self.names.iter().map(|name| format!("{name:?}")).collect();
        quoted.join(", ")
    }
}

/// Unit of the second column of a year/period time pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum PeriodUnit {
    Quarter,
    Month,
}

impl PeriodUnit {
    /// Finds the unit in a column name: "quarter" or "qtr" means quarters, and "month"
    /// means months, in any letter case.
    fn from_column_name(name: &str) -> Option<PeriodUnit> {
        let lower = name.to_lowercase();
        if lower.contains("quarter") || lower.contains("qtr") {
            Some(PeriodUnit::Quarter)
        } else if lower.contains("month") {
            Some(PeriodUnit::Month)
        } else {
            None
        }
    }

    /// Returns the number of periods in one year.
    pub fn periods_per_year(self) -> f64 {
        match self {
            PeriodUnit::Quarter => 4.0,
            PeriodUnit::Month => 12.0,
        }
    }

    /// Returns the word used in error messages.
    pub fn word(self) -> &'static str {
        match self {
            PeriodUnit::Quarter => "quarter",
            PeriodUnit::Month => "month",
        }
    }

    /// Returns the valid range in words, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            PeriodUnit::Quarter => "a whole number from 1 to 4",
            PeriodUnit::Month => "a whole number from 1 to 12",
        }
    }
}

/// Kind of values in a numeric column, which decides whether ISO dates are accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum NumberKind {
    /// An input column whose first present value decides between numbers and ISO dates.
    Undecided,
    /// A column of numbers.
    Numbers,
    /// An input column whose first present value was an ISO date.
    IsoDates,
    /// The target column, which accepts numbers only.
    NumbersOnly,
}

/// Source of the values of one output column.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    /// Numbers, or ISO dates recognised automatically in an input column.
    Number { column: usize, kind: NumberKind },

    /// A column listed alone in `time`: `YYYYMMDD` or `YYYY-MM-DD` dates.
    Date { column: usize },

    /// Two columns listed in `time`: a year and a quarter or month.
    YearPeriod {
        year: usize,
        period: usize,
        unit: PeriodUnit,
    },
}

/// One output column: its name and the source of its values.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PlannedColumn {
    pub name: String,
    pub source: Source,
}

impl PlannedColumn {
    /// Returns whether the column contains decimal years.
    pub fn is_time(&self) -> bool {
        match self.source {
            Source::Number { kind, .. } => kind == NumberKind::IsoDates,
            Source::Date { .. } | Source::YearPeriod { .. } => true,
        }
    }
}

/// The output columns of a table, in order: inputs first, then the target if any.
#[derive(Debug)]
pub(super) struct Plan {
    pub columns: Vec<PlannedColumn>,
    pub input_count: usize,
}

/// Role of a selected column, for the error on a column selected twice.
const ROLE_INPUT: &str = "an input";
const ROLE_TARGET: &str = "the target";
const ROLE_TIME: &str = "a time column";

impl Plan {
    /// Resolves the selectors of `spec` against `header` and decides how each output column
    /// is read.
    pub fn build(spec: &CsvSpec, header: &Header) -> Result<Plan, CsvError> {
        let path = spec.path.as_path();
        let resolve_all = |selectors: &[ColumnSelector]| -> Result<Vec<usize>, CsvError> {
            selectors
                .iter()
                .map(|selector| header.resolve(selector, path))
                .collect()
        };

        let inputs = resolve_all(&spec.x)?;
        let time = resolve_all(&spec.time)?;
        let target = spec
            .y
            .as_ref()
            .map(|selector| header.resolve(selector, path))
            .transpose()?;

        check_selected_once(&inputs, &time, target, header, path)?;

        let mut columns = plan_inputs(&inputs, &time, header, path)?;
        let input_count = columns.len();
        if input_count == 0 {
            return Err(CsvError::NoInputs);
        }

        if let Some(column) = target {
            columns.push(PlannedColumn {
                name: header.name(column).to_owned(),
                source: Source::Number {
                    column,
                    kind: NumberKind::NumbersOnly,
                },
            });
        }

        Ok(Plan {
            columns,
            input_count,
        })
    }
}

/// Rejects a column selected twice as an input, as both an input and the target, as both
/// a time column and the target, or twice as a time column.
///
/// A time column may also be an input, because that places it among the inputs.
fn check_selected_once(
    inputs: &[usize],
    time: &[usize],
    target: Option<usize>,
    header: &Header,
    path: &Path,
) -> Result<(), CsvError> {
    let twice = |column: usize, first_role: &'static str, second_role: &'static str| {
        CsvError::ColumnSelectedTwice {
            path: path.to_owned(),
            name: header.name(column).to_owned(),
            first_role,
            second_role,
        }
    };

    if let Some(column) = first_repeated(inputs) {
        return Err(twice(column, ROLE_INPUT, ROLE_INPUT));
    }
    if let Some(column) = first_repeated(time) {
        return Err(twice(column, ROLE_TIME, ROLE_TIME));
    }

    let Some(target) = target else {
        return Ok(());
    };
    if inputs.contains(&target) {
        return Err(twice(target, ROLE_INPUT, ROLE_TARGET));
    }
    if time.contains(&target) {
        return Err(twice(target, ROLE_TIME, ROLE_TARGET));
    }
    Ok(())
}

/// Returns the first value that occurs more than once.
fn first_repeated(values: &[usize]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .find(|(position, value)| {
            values
                .iter()
                .skip(position + 1)
                .any(|later| later == *value)
        })
        .map(|(_, value)| *value)
}

/// Builds the input columns from the resolved `inputs` and `time` column indices.
///
/// A time column or pair takes the place of the first of its columns among the inputs, or
/// the first place when none of them is an input.
fn plan_inputs(
    inputs: &[usize],
    time: &[usize],
    header: &Header,
    path: &Path,
) -> Result<Vec<PlannedColumn>, CsvError> {
    let time_column = match time {
        [] => None,
        [column] => Some(PlannedColumn {
            name: header.name(*column).to_owned(),
            source: Source::Date { column: *column },
        }),
        [year, period] => Some(plan_year_period(*year, *period, header, path)?),
        _ => {
            return Err(CsvError::TooManyTimeColumns { count: time.len() });
        }
    };

    let numeric_column = |column: usize| PlannedColumn {
        name: header.name(column).to_owned(),
        source: Source::Number {
            column,
            kind: NumberKind::Undecided,
        },
    };

    let Some(time_column) = time_column else {
        return Ok(inputs
            .iter()
            .map(|column| numeric_column(*column))
            .collect());
    };

    let time_position = inputs
        .iter()
        .position(|column| time.contains(column))
        .unwrap_or(0);
    let mut columns: Vec<PlannedColumn> = inputs
        .iter()
        .filter(|column| !time.contains(column))
        .map(|column| numeric_column(*column))
        .collect();
    columns.insert(time_position.min(columns.len()), time_column);
    Ok(columns)
}

/// Plans the combined column of a year column and a quarter or month column, named
/// `year+quarter` after the two header names.
fn plan_year_period(
    year: usize,
    period: usize,
    header: &Header,
    path: &Path,
) -> Result<PlannedColumn, CsvError> {
    let period_name = header.name(period);

    let Some(unit) = PeriodUnit::from_column_name(period_name) else {
        return Err(CsvError::UnknownPeriodUnit {
            path: path.to_owned(),
            year_column: header.name(year).to_owned(),
            period_column: period_name.to_owned(),
        });
    };

    Ok(PlannedColumn {
        name: format!("{}+{}", header.name(year), period_name),
        source: Source::YearPeriod { year, period, unit },
    })
}
