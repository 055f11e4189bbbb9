//! Parsing of single cells: numbers, calendar dates, and the parts of a year/period pair.
//!
//! The functions here see only the trimmed cell text. They report a [`CellProblem`], and
//! the caller turns it into a [`CsvError`] with the file, line and column.

use std::borrow::Cow;

use super::{CellLocation, CsvError};

/// Days in each month of a common (non-leap) year, January first.
const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Valid date formats, listed in the error when a date cannot be read.
pub(super) const EXPECTED_ANY_DATE: &str =
    "YYYYMMDD such as 19580329 or YYYY-MM-DD such as 1958-03-29";

/// Valid date format in a column whose first value was an ISO date, listed in the error.
pub(super) const EXPECTED_ISO_DATE: &str =
    "YYYY-MM-DD such as 1958-03-29, like the earlier dates in this column";

/// Reason a cell could not be read, without its location.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum CellProblem {
    NotANumber,
    DecimalComma,
    NotFinite,
    InvalidDate {
        reason: String,
        expected: &'static str,
    },
    InvalidTimeValue {
        quantity: &'static str,
        expected: &'static str,
    },
}

impl CellProblem {
    /// Builds the error for this problem at `at`, quoting the cell text `value`.
    pub(super) fn into_error(self, at: CellLocation, value: &str) -> CsvError {
        let value = value.to_owned();
        match self {
            CellProblem::NotANumber => CsvError::NotANumber { at, value },
            CellProblem::DecimalComma => CsvError::DecimalComma { at, value },
            CellProblem::NotFinite => CsvError::NotFinite { at, value },
            CellProblem::InvalidDate { reason, expected } => CsvError::InvalidDate {
                at,
                value,
                reason,
                expected,
            },
            CellProblem::InvalidTimeValue { quantity, expected } => CsvError::InvalidTimeValue {
                at,
                value,
                quantity,
                expected,
            },
        }
    }
}

/// Returns the text of a trimmed field, with invalid UTF-8 replaced by U+FFFD.
///
/// A pair of double quotes around the whole field is removed, with the spaces inside it.
/// The CSV parser leaves such quotes in place when a space precedes the opening quote,
/// as in `"a", "b"`.
pub(super) fn field_text(bytes: &[u8]) -> Cow<'_, str> {
    let unquoted = match bytes {
        [b'"', inner @ .., b'"'] => inner.trim_ascii(),
        _ => bytes,
    };
    String::from_utf8_lossy(unquoted)
}

/// Returns whether a trimmed cell counts as a missing value: empty, or NaN in any letter case.
pub(super) fn is_missing(text: &str) -> bool {
    text.is_empty() || text.eq_ignore_ascii_case("nan")
}

/// Parses a decimal number such as `12.5`, `-3`, `1.5e-3` or `2E+4`.
///
/// Returns `Ok(None)` for a missing value (see [`is_missing`]). Infinite values, including
/// numbers too large for `f64`, are rejected, and so is a number written with a decimal comma.
pub(super) fn parse_number(text: &str) -> Result<Option<f64>, CellProblem> {
    if is_missing(text) {
        return Ok(None);
    }

    if looks_like_decimal_comma(text) {
        return Err(CellProblem::DecimalComma);
    }

    let value: f64 = text.parse().map_err(|_| CellProblem::NotANumber)?;

    // Rust also accepts signed forms such as "-nan", which are missing values as well.
    if value.is_nan() {
        return Ok(None);
    }
    if value.is_infinite() {
        return Err(CellProblem::NotFinite);
    }
    Ok(Some(value))
}

/// Returns whether `text` contains a comma and is otherwise made of digits, points and signs,
/// like `9,5` or `1.234,5`.
pub(super) fn looks_like_decimal_comma(text: &str) -> bool {
    let has_comma = text.contains(',');
    let has_digit = text.bytes().any(|byte| byte.is_ascii_digit());
    let only_number_characters = text
        .bytes()
        .all(|byte| byte.is_ascii_digit() || matches!(byte, b',' | b'.' | b'+' | b'-'));

    has_comma && has_digit && only_number_characters
}

/// Returns whether `text` has the shape `dddd-dd-dd` of an ISO 8601 calendar date.
pub(super) fn looks_like_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes
            .iter()
            .enumerate()
            .all(|(position, byte)| match position {
                4 | 7 => *byte == b'-',
                _ => byte.is_ascii_digit(),
            })
}

/// Parses an ISO date `YYYY-MM-DD` into a decimal year (see [`decimal_year`]).
///
/// Returns `None` when the text does not have the shape of an ISO date at all.
pub(super) fn parse_iso_date(text: &str) -> Option<Result<f64, String>> {
    if !looks_like_iso_date(text) {
        return None;
    }

    let year = parse_digits(text.get(0..4)?)?;
    let month = parse_digits(text.get(5..7)?)?;
    let day = parse_digits(text.get(8..10)?)?;
    Some(decimal_year(year, month, day))
}

/// Parses an eight-digit date `YYYYMMDD` such as `19580329` into a decimal year.
///
/// Returns `None` when the text is not exactly eight ASCII digits.
pub(super) fn parse_yyyymmdd(text: &str) -> Option<Result<f64, String>> {
    if text.len() != 8 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }

    let year = parse_digits(text.get(0..4)?)?;
    let month = parse_digits(text.get(4..6)?)?;
    let day = parse_digits(text.get(6..8)?)?;
    Some(decimal_year(year, month, day))
}

/// Parses a date cell of a column listed as a time column: `YYYYMMDD` or `YYYY-MM-DD`.
///
/// Returns `Ok(None)` for a missing value.
pub(super) fn parse_date(text: &str) -> Result<Option<f64>, CellProblem> {
    if is_missing(text) {
        return Ok(None);
    }

    let parsed = parse_yyyymmdd(text).or_else(|| parse_iso_date(text));
    match parsed {
        Some(Ok(year)) => Ok(Some(year)),
        Some(Err(reason)) => Err(CellProblem::InvalidDate {
            reason,
            expected: EXPECTED_ANY_DATE,
        }),
        None => Err(CellProblem::InvalidDate {
            reason: "it is not written as a date".to_owned(),
            expected: EXPECTED_ANY_DATE,
        }),
    }
}

/// Parses a whole number such as `1959` or `1959.0` and checks that it lies in `min..=max`.
///
/// Returns `Ok(None)` for a missing value. `quantity` and `expected` name the value in the error,
/// for example `"quarter"` and `"a whole number from 1 to 4"`.
pub(super) fn parse_whole_number(
    text: &str,
    min: f64,
    max: f64,
    quantity: &'static str,
    expected: &'static str,
) -> Result<Option<f64>, CellProblem> {
    let invalid = CellProblem::InvalidTimeValue { quantity, expected };

    let Some(value) = parse_number(text).map_err(|_| invalid.clone())? else {
        return Ok(None);
    };

    if value.fract() != 0.0 || value < min || value > max {
        return Err(invalid);
    }
    Ok(Some(value))
}

/// Converts a calendar date into a decimal year: `year + (day_of_year - 1) / days_in_year`.
///
/// January 1st is exactly `year`. Leap years follow the Gregorian rule. Returns a reason in
/// plain words when the month is not 1 to 12 or the day does not exist in that month.
pub(super) fn decimal_year(year: u32, month: u32, day: u32) -> Result<f64, String> {
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not between 1 and 12"));
    }

    let month_length = days_in_month(year, month);
    if !(1..=month_length).contains(&day) {
        return Err(format!(
            "day {day} does not exist in month {month} of {year}, which has {month_length} days"
        ));
    }

    let days_before_month: u32 = (1..month).map(|earlier| days_in_month(year, earlier)).sum();
    let day_of_year = days_before_month + day;
    let days_in_year = if is_leap_year(year) { 366.0 } else { 365.0 };
    Ok(f64::from(year) + f64::from(day_of_year - 1) / days_in_year)
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Returns the length of `month` (1 to 12) in `year`, or 0 for a month outside 1 to 12.
fn days_in_month(year: u32, month: u32) -> u32 {
    let common_length = month
        .checked_sub(1)
        .and_then(|index| DAYS_IN_MONTH.get(index as usize))
        .copied()
        .unwrap_or(0);

    if month == 2 && is_leap_year(year) {
        common_length + 1
    } else {
        common_length
    }
}

/// Parses a string of ASCII digits, returning `None` for anything else or on overflow.
fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
