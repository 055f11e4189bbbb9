//! Reading a CSV file into numeric columns for training.
//!
//! [`read_table`] streams the file named in a [`CsvSpec`] one record at a time and keeps
//! only the selected columns, converted to `f64`. Memory use is proportional to the numbers
//! kept (plus one line number per row), not to the size of the file.
//!
//! # File format
//!
//! - The first row is a header with one name per column. Names and cells may be quoted
//!   with `"`, and spaces around them are trimmed.
//! - A UTF-8 byte-order mark at the start is ignored. Lines end with LF or CRLF, and blank
//!   lines are skipped.
//! - The delimiter is `,`, `;` or tab. Unless [`CsvSpec::delimiter`] sets it, the most
//!   frequent of the three outside quotes in the header line is used, and a tie picks `,`
//!   when the comma is among the most frequent.
//! - A delimiter at the end of every line adds an empty last header name. That column is
//!   ignored, and a value found in it is an error. Any other empty header name is an error.
//! - Numbers use a decimal point: `12.5`, `-3`, `1.5e-3`, `2E+4`. A value written with a
//!   decimal comma such as `9,5` is an error, never read as 9, 95 or 9.5. Infinite values
//!   (`inf`, `-inf`, `Infinity`, or numbers too large for `f64`) are errors.
//! - An empty cell or `NaN` (any letter case) is a missing value. [`MissingPolicy`] decides
//!   what happens to a row with a missing value in a selected column. Cells of columns that
//!   are not selected are never parsed.
//! - Every row must have as many fields as the header.
//!
//! # Time columns
//!
//! Time columns become decimal years, and their [`Column::is_time`] is `true`.
//!
//! - An input column whose first present value is an ISO date `YYYY-MM-DD` is read as
//!   dates. A date `y-m-d` becomes `y + (day_of_year - 1) / days_in_year`, with Gregorian
//!   leap years, so January 1st is exactly `y`.
//! - One column listed in [`CsvSpec::time`] contains dates written as `YYYYMMDD` (such as
//!   `19580329`) or `YYYY-MM-DD`.
//! - Two columns listed in [`CsvSpec::time`] are a year and a quarter or month. They combine
//!   into one input column named `year+quarter` after the two header names. If the name of
//!   the second column contains "quarter" or "qtr" (any letter case), its values are
//!   quarters 1 to 4 (`year + (q - 1) / 4`). If it contains "month", they are months 1 to
//!   12 (`year + (m - 1) / 12`). Any other name is an error.
//!
//! A time column, or a year/period pair, takes the place of the first of its columns in
//! [`CsvSpec::x`]. When none of them is listed there, it becomes the first input.

mod cells;
mod columns;
mod records;
mod rows;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use csv::ByteRecord;

use columns::{Header, Plan};
use records::RecordReader;
use rows::RowReader;

/// A column chosen by its header name or by its position.
///
/// Indices count from 0. When a header name equals the decimal text of an index, that
/// column is chosen instead, so `Index(3)` selects a column named "3" if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSelector {
    /// A header name, compared exactly after trimming spaces.
    Name(String),
    /// A 0-based column position.
    Index(usize),
}

impl FromStr for ColumnSelector {
    type Err = CsvError;

    /// Parses `"co2"` as a name and `"3"` as index 3. Spaces around the text are trimmed.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CsvError::EmptySelector);
        }

        let all_digits = text.bytes().all(|byte| byte.is_ascii_digit());
        match text.parse::<usize>() {
            Ok(index) if all_digits => Ok(ColumnSelector::Index(index)),
            _ => Ok(ColumnSelector::Name(text.to_owned())),
        }
    }
}

impl ColumnSelector {
    /// Parses a comma-separated list such as `"year,quarter"` or `"0,2"`.
    ///
    /// An empty item, as in `"a,,b"` or an empty string, is an error. A name that contains
    /// a comma cannot be given this way, so build [`ColumnSelector::Name`] directly.
    pub fn parse_list(text: &str) -> Result<Vec<ColumnSelector>, CsvError> {
        text.split(',').map(ColumnSelector::from_str).collect()
    }
}

impl fmt::Display for ColumnSelector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnSelector::Name(name) => write!(formatter, "{name}"),
            ColumnSelector::Index(index) => write!(formatter, "{index}"),
        }
    }
}

/// Policy for a row that has a missing value (empty or NaN) in a selected column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingPolicy {
    /// Stop with [`CsvError::MissingValue`]. This is the default.
    #[default]
    Error,
    /// Leave the row out and count it in [`Table::dropped_rows`].
    Drop,
}

impl FromStr for MissingPolicy {
    type Err = CsvError;

    /// Parses `"error"` or `"drop"`, in any letter case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(MissingPolicy::Error),
            "drop" => Ok(MissingPolicy::Drop),
            _ => Err(CsvError::InvalidMissingPolicy {
                value: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for MissingPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissingPolicy::Error => formatter.write_str("error"),
            MissingPolicy::Drop => formatter.write_str("drop"),
        }
    }
}

/// The file to read and the columns to keep from it.
///
/// Build it with [`CsvSpec::new`] and the `with_*` methods, or fill in the fields directly.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSpec {
    /// The CSV file.
    pub path: PathBuf,

    /// Input columns, in the order the model receives them. At least one input is needed, which
    /// may come from `time` alone.
    pub x: Vec<ColumnSelector>,

    /// Target column, or `None` when only inputs are read, as for prediction on new data.
    pub y: Option<ColumnSelector>,

    /// Time columns: empty, one date column, or a year column followed by a quarter or
    /// month column. See the module documentation for the formats.
    pub time: Vec<ColumnSelector>,

    /// Field delimiter, such as `b','`, `b';'` or `b'\t'`. `None` detects it from the
    /// header line. Default: `None`.
    pub delimiter: Option<u8>,

    /// Policy for rows with missing values. Default: [`MissingPolicy::Error`].
    pub missing: MissingPolicy,

    /// Bytes to read instead of opening `path`, for data bundled into the program; `path`
    /// then only names the data in messages. Default: `None`.
    pub contents: Option<std::sync::Arc<[u8]>>,
}

impl CsvSpec {
    /// Creates a spec that reads the input columns `x` of `path`, with no target, no time
    /// columns, a detected delimiter and [`MissingPolicy::Error`].
    pub fn new(path: impl Into<PathBuf>, x: Vec<ColumnSelector>) -> CsvSpec {
        CsvSpec {
            path: path.into(),
            x,
            y: None,
            time: Vec::new(),
            delimiter: None,
            missing: MissingPolicy::default(),
            contents: None,
        }
    }

    /// Opens the data: the bundled `contents` when set, otherwise the file at `path`.
    fn open(&self) -> Result<Box<dyn std::io::Read>, CsvError> {
        if let Some(contents) = &self.contents {
            return Ok(Box::new(std::io::Cursor::new(std::sync::Arc::clone(
                contents,
            ))));
        }
        let file = std::fs::File::open(&self.path).map_err(|source| CsvError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(Box::new(file))
    }

    /// Sets the target column.
    pub fn with_y(mut self, y: ColumnSelector) -> CsvSpec {
        self.y = Some(y);
        self
    }

    /// Sets the time columns.
    pub fn with_time(mut self, time: Vec<ColumnSelector>) -> CsvSpec {
        self.time = time;
        self
    }

    /// Sets the delimiter instead of detecting it.
    pub fn with_delimiter(mut self, delimiter: u8) -> CsvSpec {
        self.delimiter = Some(delimiter);
        self
    }

    /// Sets what happens to rows with missing values.
    pub fn with_missing(mut self, missing: MissingPolicy) -> CsvSpec {
        self.missing = missing;
        self
    }
}

/// One numeric column read from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header name, or `year+quarter` for a combined year/period column.
    pub name: String,

    /// One value per kept row. Time columns hold decimal years.
    pub values: Vec<f64>,

    /// Whether the values are decimal years converted from dates or a year/period pair.
    pub is_time: bool,
}

impl fmt::Display for Column {
    /// Writes the name, with `(time)` after it for a time column.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.name)?;
        if self.is_time {
            write!(formatter, " (time)")?;
        }
        Ok(())
    }
}

/// The selected columns of a CSV file, as numbers.
///
/// Every column in `inputs` and `target` has one value per kept row, and `line_numbers`
/// gives the line in the file of each kept row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file that was read.
    pub path: PathBuf,

    /// Input columns, in the order of [`CsvSpec::x`] with time columns placed as described
    /// in the module documentation.
    pub inputs: Vec<Column>,

    /// Target column, if [`CsvSpec::y`] was given.
    pub target: Option<Column>,

    /// Line in the file where each kept row starts, counting from 1, so the first data row
    /// after a one-line header is line 2.
    pub line_numbers: Vec<u64>,

    /// Field delimiter used.
    pub delimiter: u8,

    /// Whether the delimiter was detected from the header line rather than given.
    pub delimiter_detected: bool,

    /// Rows left out by [`MissingPolicy::Drop`].
    pub dropped_rows: usize,

    /// Trimmed header names in file order, without an ignored empty trailing column.
    pub all_columns: Vec<String>,
}

impl Table {
    /// Returns the number of kept rows.
    pub fn row_count(&self) -> usize {
        self.line_numbers.len()
    }
}

impl fmt::Display for Table {
    /// Writes a short summary: file, rows, delimiter, inputs and target.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let delimiter_origin = if self.delimiter_detected {
            "detected"
        } else {
            "given"
        };
        writeln!(
            formatter,
            "{}: {} ({} dropped for missing values), delimiter {:?} ({delimiter_origin})",
            self.path.display(),
            count_of(self.row_count(), "row"),
            self.dropped_rows,
            char::from(self.delimiter),
        )?;

        let inputs: Vec<String> = self.inputs.iter().map(Column::to_string).collect();
        writeln!(formatter, "inputs: {}", inputs.join(", "))?;

        match &self.target {
            Some(target) => write!(formatter, "target: {target}"),
            None => write!(formatter, "target: none"),
        }
    }
}

/// The file, line and column of a cell, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellLocation {
    /// The CSV file.
    pub path: PathBuf,
    /// Line in the file where the row starts, counting from 1.
    pub line: u64,
    /// Header name of the column.
    pub column: String,
}

impl fmt::Display for CellLocation {
    /// Writes e.g. `data.csv line 7, column "co2"`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} line {}, column {:?}",
            self.path.display(),
            self.line,
            self.column
        )
    }
}

/// Errors from reading a CSV file or from a spec that does not match it.
///
/// Column indices in messages count from 0, like [`ColumnSelector::Index`]. Line numbers
/// count from 1 and give the line where the row starts.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be opened or read.
    #[error("failed to read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The CSV parser failed, for example on a read error in the middle of the file.
    #[error("failed to parse {} as CSV", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },

    /// A column selector was empty text.
    #[error(
        "a column selector is empty. Give a header name or a column index counting from 0, \
         and separate several with commas"
    )]
    EmptySelector,

    /// Text other than "error" or "drop" was given as a [`MissingPolicy`].
    #[error("{value:?} is not a missing-value policy. Expected \"error\" or \"drop\"")]
    InvalidMissingPolicy { value: String },

    /// Neither `x` nor `time` selects a column.
    #[error("no input column is selected. Select at least one input column or time column")]
    NoInputs,

    /// More than two time columns were selected.
    #[error(
        "{count} time columns are selected, but at most 2 are allowed. Give one date column, \
         or a year column followed by a quarter or month column"
    )]
    TooManyTimeColumns { count: usize },

    /// The given delimiter is `"`, `\n` or `\r`.
    #[error(
        "{delimiter:?} cannot be a delimiter because it quotes fields or ends lines. \
         Use a comma, semicolon or tab"
    )]
    InvalidDelimiter { delimiter: char },

    /// The file has no header row.
    #[error(
        "{} is empty. Expected a header row with column names, followed by data rows",
        path.display()
    )]
    EmptyFile { path: PathBuf },

    /// The file has a header row and nothing after it.
    #[error("{} has a header row but no data rows", path.display())]
    NoDataRows { path: PathBuf },

    /// [`MissingPolicy::Drop`] dropped every data row.
    #[error(
        "{}: all {dropped} data rows have a missing value in a selected column, \
         so no rows are left",
        path.display()
    )]
    AllRowsDropped { path: PathBuf, dropped: usize },

    /// A header name other than an ignored trailing one is empty.
    #[error(
        "{}: the header name at index {index} is empty. Give every column a name",
        path.display()
    )]
    EmptyHeaderName { path: PathBuf, index: usize },

    /// A selected name appears more than once in the header. Unselected duplicates are
    /// allowed.
    #[error(
        "{}: the column name {name:?} appears twice in the header, at indices {first} and \
         {second}. Rename one of them, or select the column by index",
        path.display()
    )]
    DuplicateColumn {
        path: PathBuf,
        name: String,
        first: usize,
        second: usize,
    },

    /// No header name equals the selected name.
    #[error(
        "{} has no column named {name:?}. The columns are {available}",
        path.display()
    )]
    UnknownColumn {
        path: PathBuf,
        name: String,
        /// All header names, quoted and separated by commas.
        available: String,
    },

    /// A selected index is not less than the number of columns.
    #[error(
        "{}: column index {index} is out of range because the file has {count} columns, \
         numbered from 0",
        path.display()
    )]
    IndexOutOfRange {
        path: PathBuf,
        index: usize,
        count: usize,
    },

    /// One column is selected twice, for example as an input and as the target.
    #[error(
        "{}: column {name:?} is selected {}. Select each column only once",
        path.display(),
        describe_roles(first_role, second_role)
    )]
    ColumnSelectedTwice {
        path: PathBuf,
        name: String,
        /// "an input", "the target" or "a time column".
        first_role: &'static str,
        second_role: &'static str,
    },

    /// The second of two time columns has a name without "quarter", "qtr" or "month".
    #[error(
        "{}: time column {period_column:?} follows the year column {year_column:?}, but its \
         name does not say whether it contains quarters or months. Rename it so that the name \
         contains \"quarter\", \"qtr\" or \"month\" (any letter case)",
        path.display()
    )]
    UnknownPeriodUnit {
        path: PathBuf,
        year_column: String,
        period_column: String,
    },

    /// A row has fewer fields than the header has names.
    #[error(
        "{} line {line} has {} but the header has {expected}. \
         Every row needs one field per header column",
        path.display(),
        count_of(*found, "field")
    )]
    TooFewFields {
        path: PathBuf,
        line: u64,
        found: usize,
        expected: usize,
    },

    /// A row has more fields than the header line.
    #[error(
        "{} line {line} has {found} fields but the header has {expected}{hint}",
        path.display()
    )]
    TooManyFields {
        path: PathBuf,
        line: u64,
        found: usize,
        expected: usize,
        /// A sentence on the likely cause, starting with ". ", or empty.
        hint: &'static str,
    },

    /// A row has a value in the unnamed column that a trailing delimiter adds.
    #[error(
        "{} line {line}: the last column has no header name but contains {value:?}. \
         Name the column in the header or remove the value",
        path.display()
    )]
    ValueInUnnamedColumn {
        path: PathBuf,
        line: u64,
        value: String,
    },

    /// A selected cell is empty or NaN under [`MissingPolicy::Error`].
    #[error(
        "{at}: the value is missing (empty or NaN). Fill it in, or drop rows with missing \
         values with `--missing drop`"
    )]
    MissingValue { at: CellLocation },

    /// A selected cell is not a decimal number.
    #[error(
        "{at}: {value:?} is not a number. Expected a decimal number such as 12.5, -3 or 1.5e-3"
    )]
    NotANumber { at: CellLocation, value: String },

    /// A selected cell looks like a number written with a decimal comma, such as `9,5`.
    #[error(
        "{at}: {value:?} looks like a number with a decimal comma. Convert the file to use \
         a decimal point (9.5 rather than 9,5)"
    )]
    DecimalComma { at: CellLocation, value: String },

    /// A selected cell is infinite, or a number too large for `f64`.
    #[error(
        "{at}: {value:?} is not a finite number. Replace it with a finite value, or leave the \
         cell empty to mark it as missing"
    )]
    NotFinite { at: CellLocation, value: String },

    /// A cell of a date column is not a valid date.
    #[error("{at}: {value:?} is not a valid date because {reason}. Expected {expected}")]
    InvalidDate {
        at: CellLocation,
        value: String,
        reason: String,
        expected: &'static str,
    },

    /// A year, quarter or month cell of a year/period pair is not a whole number in range.
    #[error("{at}: {value:?} is not a valid {quantity}. Expected {expected}")]
    InvalidTimeValue {
        at: CellLocation,
        value: String,
        /// "year", "quarter" or "month".
        quantity: &'static str,
        expected: &'static str,
    },
}

/// Describes the two roles of a column selected twice, such as "both as an input and as
/// the target" or "twice as an input".
fn describe_roles(first_role: &str, second_role: &str) -> String {
    if first_role == second_role {
        format!("twice as {first_role}")
    } else {
        format!("both as {first_role} and as {second_role}")
    }
}

/// Returns e.g. "1 field" or "3 fields" for `noun` "field".
fn count_of(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Reads the columns selected by `spec` from its CSV file.
///
/// The file is read once for delimiter detection (first line only) and once, streaming,
/// for the data. See the module documentation for the accepted format.
///
/// # Errors
///
/// Returns a [`CsvError`] naming the file, and where it applies the line, column and value,
/// when the file cannot be read, the spec does not match the header, or a selected cell is
/// not valid. With [`MissingPolicy::Error`] a missing value is an error too. A header with
/// no data rows, or data rows that are all dropped, is an error. A duplicated header name
/// is an error only when a selector names it.
pub fn read_table(spec: &CsvSpec) -> Result<Table, CsvError> {
    check_spec(spec)?;

    let (delimiter, delimiter_detected) = match spec.delimiter {
        Some(delimiter) => (delimiter, false),
        None => (
            columns::detect_source_delimiter(spec.open()?, &spec.path)?,
            true,
        ),
    };
    log::debug!(
        "reading {} with delimiter {:?} ({})",
        spec.path.display(),
        char::from(delimiter),
        if delimiter_detected {
            "detected"
        } else {
            "given"
        }
    );

    let mut reader = RecordReader::new(spec.open()?, &spec.path, delimiter);
    let mut record = ByteRecord::new();
    if reader.read(&mut record)?.is_none() {
        return Err(CsvError::EmptyFile {
            path: spec.path.clone(),
        });
    }
    let header = Header::from_record(&record, &spec.path)?;
    let plan = Plan::build(spec, &header)?;

    let mut rows = RowReader::new(spec, &header, plan, delimiter);
    while let Some(line) = reader.read(&mut record)? {
        rows.add(&record, line)?;
    }
    rows.finish(delimiter_detected)
}

/// Checks the parts of the spec that do not depend on the file.
fn check_spec(spec: &CsvSpec) -> Result<(), CsvError> {
    if spec.x.is_empty() && spec.time.is_empty() {
        return Err(CsvError::NoInputs);
    }

    if spec.time.len() > 2 {
        return Err(CsvError::TooManyTimeColumns {
            count: spec.time.len(),
        });
    }

    if let Some(delimiter) = spec.delimiter
        && matches!(delimiter, b'"' | b'\n' | b'\r')
    {
        return Err(CsvError::InvalidDelimiter {
            delimiter: char::from(delimiter),
        });
    }
    Ok(())
}
