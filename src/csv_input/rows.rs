//! Checking data rows against the header and collecting the values of the planned columns.

use std::borrow::Cow;
use std::path::Path;

use csv::ByteRecord;

use super::cells::{self, CellProblem};
use super::columns::{Header, NumberKind, Plan, PlannedColumn, Source};
use super::{CellLocation, Column, CsvError, CsvSpec, MissingPolicy, Table};

/// Hint for a comma-delimited row whose extra fields are all digits.
const HINT_DECIMAL_COMMA: &str = ". The extra fields are digits, so a decimal comma such as \
    9,5 may have split a number in two. Convert the file to use decimal points";

/// Hint for a row whose extra fields are all empty.
const HINT_TRAILING_DELIMITER: &str =
    ". The row ends with a delimiter that the header line does not have";

/// A cell value, or the column index of the first missing cell behind it.
enum CellValue {
    Present(f64),
    Missing { column: usize },
}

/// Checks data rows one at a time and collects the values of the planned columns.
pub(super) struct RowReader<'a> {
    spec: &'a CsvSpec,
    header: &'a Header,
    plan: Plan,
    delimiter: u8,
    values: Vec<Vec<f64>>,
    row_values: Vec<f64>,
    line_numbers: Vec<u64>,
    rows_read: u64,
    dropped_rows: usize,
}

impl<'a> RowReader<'a> {
    pub fn new(spec: &'a CsvSpec, header: &'a Header, plan: Plan, delimiter: u8) -> RowReader<'a> {
        let column_count = plan.columns.len();
        RowReader {
            spec,
            header,
            plan,
            delimiter,
            values: vec![Vec::new(); column_count],
            row_values: Vec::with_capacity(column_count),
            line_numbers: Vec::new(),
            rows_read: 0,
            dropped_rows: 0,
        }
    }

    /// Checks one data row starting on `line` and keeps its values, drops it, or returns
    /// an error.
    ///
    /// Every selected cell is validated before a missing value is handled, so a row is
    /// never dropped for a missing value while it hides an invalid one.
    pub fn add(&mut self, record: &ByteRecord, line: u64) -> Result<(), CsvError> {
        self.rows_read += 1;
        self.check_field_count(record, line)?;

        self.row_values.clear();
        let mut first_missing = None;
        for planned in &mut self.plan.columns {
            match read_cell(planned, record, line, self.header, &self.spec.path)? {
                CellValue::Present(value) => self.row_values.push(value),
                CellValue::Missing { column } => {
                    first_missing.get_or_insert(column);
                }
            }
        }

        if let Some(column) = first_missing {
            return self.handle_missing(line, column);
        }

        for (column_values, value) in self.values.iter_mut().zip(&self.row_values) {
            column_values.push(*value);
        }
        self.line_numbers.push(line);
        Ok(())
    }

    /// Rejects a row whose field count differs from the header's.
    ///
    /// With a trailing delimiter in the header, a row may omit the unnamed last field, and
    /// a value in that field is an error.
    fn check_field_count(&self, record: &ByteRecord, line: u64) -> Result<(), CsvError> {
        let named = self.header.names.len();
        let found = record.len();
        let path = self.spec.path.clone();

        if found < named {
            return Err(CsvError::TooFewFields {
                path,
                line,
                found,
                expected: named,
            });
        }

        let expected = self.header.field_count();
        if found > expected {
            return Err(CsvError::TooManyFields {
                path,
                line,
                found,
                expected,
                hint: self.too_many_fields_hint(record),
            });
        }

        if self.header.has_trailing_column
            && let Some(value) = record.get(named).filter(|value| !value.is_empty())
        {
            return Err(CsvError::ValueInUnnamedColumn {
                path,
                line,
                value: String::from_utf8_lossy(value).into_owned(),
            });
        }
        Ok(())
    }

    /// Suggests a cause for fields beyond the named columns: a decimal comma in a
    /// comma-delimited file when they are all digits, or a trailing delimiter that the
    /// header lacks when they are all empty.
    fn too_many_fields_hint(&self, record: &ByteRecord) -> &'static str {
        let mut extra: Vec<&[u8]> = record.iter().skip(self.header.names.len()).collect();
        if self.header.has_trailing_column && extra.last().is_some_and(|field| field.is_empty()) {
            extra.pop();
        }

        let all_digits = extra
            .iter()
            .all(|field| !field.is_empty() && field.iter().all(u8::is_ascii_digit));
        if self.delimiter == b',' && all_digits {
            return HINT_DECIMAL_COMMA;
        }

        if !self.header.has_trailing_column && extra.iter().all(|field| field.is_empty()) {
            return HINT_TRAILING_DELIMITER;
        }
        ""
    }

    fn handle_missing(&mut self, line: u64, column: usize) -> Result<(), CsvError> {
        match self.spec.missing {
            MissingPolicy::Error => Err(CsvError::MissingValue {
                at: self.location(line, column),
            }),
            MissingPolicy::Drop => {
                self.dropped_rows += 1;
                Ok(())
            }
        }
    }

    fn location(&self, line: u64, column: usize) -> CellLocation {
        CellLocation {
            path: self.spec.path.clone(),
            line,
            column: self.header.name(column).to_owned(),
        }
    }

    /// Builds the table, or returns an error when no data rows were read or all were
    /// dropped.
    pub fn finish(self, delimiter_detected: bool) -> Result<Table, CsvError> {
        let path = self.spec.path.clone();
        if self.rows_read == 0 {
            return Err(CsvError::NoDataRows { path });
        }
        if self.line_numbers.is_empty() {
            return Err(CsvError::AllRowsDropped {
                path,
                dropped: self.dropped_rows,
            });
        }
        if self.dropped_rows > 0 {
            log::info!(
                "dropped {} of {} rows of {} because of missing values",
                self.dropped_rows,
                self.rows_read,
                path.display()
            );
        }

        let mut columns: Vec<Column> = self
            .plan
            .columns
            .iter()
            .zip(self.values)
            .map(|(planned, values)| Column {
                name: planned.name.clone(),
                values,
                is_time: planned.is_time(),
            })
            .collect();
        let target = columns
            .split_off(self.plan.input_count.min(columns.len()))
            .pop();

        Ok(Table {
            path,
            inputs: columns,
            target,
            line_numbers: self.line_numbers,
            delimiter: self.delimiter,
            delimiter_detected,
            dropped_rows: self.dropped_rows,
            all_columns: self.header.names.clone(),
        })
    }
}

/// Reads the value of one planned column from a row.
///
/// An input column of undecided kind becomes a column of ISO dates or of numbers at its
/// first present value.
fn read_cell(
    planned: &mut PlannedColumn,
    record: &ByteRecord,
    line: u64,
    header: &Header,
    path: &Path,
) -> Result<CellValue, CsvError> {
    let fail = |column: usize, text: &str, problem: CellProblem| {
        let at = CellLocation {
            path: path.to_owned(),
            line,
            column: header.name(column).to_owned(),
        };
        problem.into_error(at, text)
    };
    let present_or_missing = |value: Option<f64>, column: usize| match value {
        Some(value) => CellValue::Present(value),
        None => CellValue::Missing { column },
    };

    match &mut planned.source {
        Source::Number { column, kind } => {
            let text = cell_text(record, *column);
            let value =
                read_number_cell(&text, kind).map_err(|problem| fail(*column, &text, problem))?;
            Ok(present_or_missing(value, *column))
        }

        Source::Date { column } => {
            let text = cell_text(record, *column);
            let value =
                cells::parse_date(&text).map_err(|problem| fail(*column, &text, problem))?;
            Ok(present_or_missing(value, *column))
        }

        Source::YearPeriod { year, period, unit } => {
            let year_text = cell_text(record, *year);
            let year_value = cells::parse_whole_number(
                &year_text,
                f64::MIN,
                f64::MAX,
                "year",
                "a whole number such as 1959",
            )
            .map_err(|problem| fail(*year, &year_text, problem))?;

            let period_text = cell_text(record, *period);
            let period_value = cells::parse_whole_number(
                &period_text,
                1.0,
                unit.periods_per_year(),
                unit.word(),
                unit.expected(),
            )
            .map_err(|problem| fail(*period, &period_text, problem))?;

            match (year_value, period_value) {
                (Some(year_value), Some(period_value)) => Ok(CellValue::Present(
                    year_value + (period_value - 1.0) / unit.periods_per_year(),
                )),
                (None, _) => Ok(CellValue::Missing { column: *year }),
                (_, None) => Ok(CellValue::Missing { column: *period }),
            }
        }
    }
}

/// Returns the text of field `column` (see [`cells::field_text`]), or an empty string when
/// the row has no such field.
fn cell_text(record: &ByteRecord, column: usize) -> Cow<'_, str> {
    cells::field_text(record.get(column).unwrap_or_default())
}

/// Parses a cell of a number column, deciding an undecided input column on its first
/// present value.
fn read_number_cell(text: &str, kind: &mut NumberKind) -> Result<Option<f64>, CellProblem> {
    if cells::is_missing(text) {
        return Ok(None);
    }

    if *kind == NumberKind::Undecided {
        *kind = if cells::looks_like_iso_date(text) {
            NumberKind::IsoDates
        } else {
            NumberKind::Numbers
        };
    }

    if *kind != NumberKind::IsoDates {
        return cells::parse_number(text);
    }

    match cells::parse_iso_date(text) {
        Some(Ok(year)) => Ok(Some(year)),
        Some(Err(reason)) => Err(CellProblem::InvalidDate {
            reason,
            expected: cells::EXPECTED_ISO_DATE,
        }),
        None => Err(CellProblem::InvalidDate {
            reason: "it is not written as YYYY-MM-DD".to_owned(),
            expected: cells::EXPECTED_ISO_DATE,
        }),
    }
}
