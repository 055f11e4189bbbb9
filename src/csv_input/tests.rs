//! Tests of the CSV reader. Each test writes its own small file into a temporary folder.

use std::path::PathBuf;

use tempfile::TempDir;

use super::cells;
use super::columns::detect_delimiter;
use super::*;

/// A CSV file named `data.csv` in a temporary folder that is removed on drop.
struct TestFile {
    _folder: TempDir,
    path: PathBuf,
}

fn write_bytes(contents: &[u8]) -> TestFile {
    let folder = TempDir::new().expect("create a temporary folder");
    let path = folder.path().join("data.csv");
    std::fs::write(&path, contents).expect("write the test file");
    TestFile {
        _folder: folder,
        path,
    }
}

fn write_csv(contents: &str) -> TestFile {
    write_bytes(contents.as_bytes())
}

fn selectors(text: &str) -> Vec<ColumnSelector> {
    ColumnSelector::parse_list(text).expect("valid selector list")
}

fn selector(text: &str) -> ColumnSelector {
    text.parse().expect("valid selector")
}

/// Reads `contents` with inputs `x` and target `y`, detecting the delimiter.
fn read(contents: &str, x: &str, y: &str) -> Result<Table, CsvError> {
    let file = write_csv(contents);
    read_table(&CsvSpec::new(&file.path, selectors(x)).with_y(selector(y)))
}

fn read_ok(contents: &str, x: &str, y: &str) -> Table {
    read(contents, x, y).expect("file should be read")
}

fn read_err(contents: &str, x: &str, y: &str) -> CsvError {
    read(contents, x, y).expect_err("file should be rejected")
}

fn input_values(table: &Table, index: usize) -> &[f64] {
    &table.inputs[index].values
}

fn target_values(table: &Table) -> &[f64] {
    &table.target.as_ref().expect("table has a target").values
}

// Column selectors and policies.

#[test]
fn selector_parses_name() {
    assert_eq!(selector(" co2 "), ColumnSelector::Name("co2".to_owned()));
}

#[test]
fn selector_parses_digits_as_index() {
    assert_eq!(selector("3"), ColumnSelector::Index(3));
}

#[test]
fn selector_parses_signed_number_as_name() {
    assert_eq!(selector("-1"), ColumnSelector::Name("-1".to_owned()));
}

#[test]
fn selector_rejects_empty_text() {
    let error = "  ".parse::<ColumnSelector>().unwrap_err();
    assert!(matches!(error, CsvError::EmptySelector), "{error}");
}

#[test]
fn selector_list_splits_on_commas() {
    let expected = vec![
        ColumnSelector::Name("year".to_owned()),
        ColumnSelector::Index(2),
    ];
    assert_eq!(selectors("year, 2"), expected);
}

#[test]
fn selector_list_rejects_empty_item() {
    assert!(ColumnSelector::parse_list("a,,b").is_err());
}

#[test]
fn selector_index_selects_position() {
    let table = read_ok("a,b,c\n1,2,3\n", "2", "a");
    assert_eq!(table.inputs[0].name, "c");
}

#[test]
fn selector_index_prefers_header_with_that_name() {
    let table = read_ok("a,3,b,c\n1,2,3,4\n", "3", "a");
    assert_eq!(table.inputs[0].name, "3");
}

#[test]
fn selector_displays_name_and_index() {
    let displayed = format!("{} {}", selector("co2"), selector("4"));
    assert_eq!(displayed, "co2 4");
}

#[test]
fn missing_policy_defaults_to_error() {
    assert_eq!(MissingPolicy::default(), MissingPolicy::Error);
}

#[test]
fn missing_policy_parses_drop() {
    assert_eq!(
        "Drop".parse::<MissingPolicy>().unwrap(),
        MissingPolicy::Drop
    );
}

#[test]
fn missing_policy_rejects_unknown_word() {
    let error = "skip".parse::<MissingPolicy>().unwrap_err();
    assert!(error.to_string().contains("\"drop\""), "{error}");
}

// Header, encoding and quoting.

#[test]
fn header_quoted_names_are_unquoted() {
    let table = read_ok("\"YEAR\",\"SUNACTIVITY\"\n1700,5\n", "YEAR", "SUNACTIVITY");
    assert_eq!(table.all_columns, vec!["YEAR", "SUNACTIVITY"]);
}

#[test]
fn header_and_cells_are_trimmed() {
    let table = read_ok("  a , \" b \" \n 1 ,  2  \n", "a", "b");
    assert_eq!(table.all_columns, vec!["a", "b"]);
    assert_eq!(input_values(&table, 0), [1.0]);
    assert_eq!(target_values(&table), [2.0]);
}

#[test]
fn byte_order_mark_is_ignored() {
    let file = write_bytes(b"\xEF\xBB\xBFdate,co2\n1,2\n");
    let table = read_table(&CsvSpec::new(&file.path, selectors("date"))).unwrap();
    assert_eq!(table.all_columns, vec!["date", "co2"]);
}

#[test]
fn crlf_line_ends_are_read() {
    let table = read_ok("a,b\r\n1,2\r\n3,4\r\n", "a", "b");
    assert_eq!(target_values(&table), [2.0, 4.0]);
    assert_eq!(table.line_numbers, vec![2, 3]);
}

#[test]
fn quoted_fields_are_read() {
    let table = read_ok("a,note,b\n\"1.5\",\"x, \"\"y\"\"\",\"2\"\n", "a", "b");
    assert_eq!(input_values(&table, 0), [1.5]);
    assert_eq!(target_values(&table), [2.0]);
}

#[test]
fn blank_lines_keep_line_numbers() {
    let table = read_ok("a,b\n1,2\n\n3,4\n", "a", "b");
    assert_eq!(table.line_numbers, vec![2, 4]);
}

#[test]
fn crlf_blank_lines_keep_line_numbers() {
    let table = read_ok("a,b\r\n\r\n1,2\r\n\r\n\r\n3,4\r\n", "a", "b");
    assert_eq!(table.line_numbers, vec![3, 6]);
}

#[test]
fn quoted_line_break_keeps_line_numbers() {
    let table = read_ok("a,note,b\n1,\"two\nlines\",2\n3,x,4\n", "a", "b");
    assert_eq!(table.line_numbers, vec![2, 4]);
}

#[test]
fn blank_lines_before_header_are_skipped() {
    let table = read_ok("\n\na;b\n1;2\n", "a", "b");
    assert_eq!(table.delimiter, b';');
    assert_eq!(table.line_numbers, vec![4]);
}

#[test]
fn long_file_reports_exact_line() {
    // Far more bytes than the parser buffers at once, so line counting crosses many reads.
    let mut contents = String::from("a,b\n");
    for row in 0..20_000 {
        contents.push_str(&format!("{row},\"{}\"\r\n", row * 2));
    }
    contents.push_str("1,abc\n");

    let message = read_err(&contents, "a", "b").to_string();
    assert!(message.contains("line 20002, column \"b\""), "{message}");
}

#[test]
fn long_file_keeps_every_row() {
    let mut contents = String::from("a,b\n");
    for row in 0..20_000 {
        contents.push_str(&format!("{row},{}\n", row * 2));
    }

    let table = read_ok(&contents, "a", "b");
    assert_eq!(table.row_count(), 20_000);
    assert_eq!(table.line_numbers.last(), Some(&20_001));
    assert_eq!(target_values(&table).last(), Some(&39_998.0));
}

#[test]
fn spaced_quoted_names_are_unquoted() {
    let table = read_ok("\"year\", \"co2\"\n1958, \"316.1\"\n", "year", "co2");
    assert_eq!(table.all_columns, vec!["year", "co2"]);
    assert_eq!(target_values(&table), [316.1]);
}

#[test]
fn invalid_utf8_cell_is_not_a_number() {
    let file = write_bytes(b"a,b\n1,\xFF\n");
    let spec = CsvSpec::new(&file.path, selectors("a")).with_y(selector("b"));
    let error = read_table(&spec).unwrap_err();
    assert!(matches!(error, CsvError::NotANumber { .. }), "{error}");
}

// Numbers and missing values.

#[test]
fn numbers_accept_plain_negative_and_scientific() {
    let table = read_ok("a,b\n1,12\n2,-3.25\n3,1.5e-3\n4,2E+4\n5,+7\n", "a", "b");
    assert_eq!(target_values(&table), [12.0, -3.25, 1.5e-3, 2e4, 7.0]);
}

#[test]
fn infinite_values_are_rejected() {
    for value in ["inf", "-inf", "Infinity", "1e400"] {
        let error = read_err(&format!("a,b\n1,2\n3,{value}\n"), "a", "b");
        let message = error.to_string();
        assert!(matches!(error, CsvError::NotFinite { .. }), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("column \"b\""), "{message}");
        assert!(message.contains(&format!("\"{value}\"")), "{message}");
    }
}

#[test]
fn missing_value_error_names_place_and_fix() {
    let file = write_csv("date,co2\n1,315.5\n2,\n");
    let spec = CsvSpec::new(&file.path, selectors("date")).with_y(selector("co2"));
    let message = read_table(&spec).unwrap_err().to_string();
    let expected_start = format!("{} line 3, column \"co2\"", file.path.display());
    assert!(message.starts_with(&expected_start), "{message}");
    assert!(message.contains("--missing drop"), "{message}");
}

#[test]
fn missing_nan_is_an_error_by_default() {
    let error = read_err("a,b\n1,NaN\n", "a", "b");
    assert!(matches!(error, CsvError::MissingValue { .. }), "{error}");
}

#[test]
fn missing_drop_counts_dropped_rows() {
    let file = write_csv("a,b\n1,2\n2,\n3,nan\n,4\n5,6\n");
    let spec = CsvSpec::new(&file.path, selectors("a"))
        .with_y(selector("b"))
        .with_missing(MissingPolicy::Drop);
    let table = read_table(&spec).unwrap();
    assert_eq!(table.dropped_rows, 3);
    assert_eq!(input_values(&table, 0), [1.0, 5.0]);
    assert_eq!(target_values(&table), [2.0, 6.0]);
    assert_eq!(table.line_numbers, vec![2, 6]);
}

#[test]
fn missing_drop_still_rejects_invalid_cell() {
    let file = write_csv("a,b\n1,2\nabc,\n");
    let spec = CsvSpec::new(&file.path, selectors("a"))
        .with_y(selector("b"))
        .with_missing(MissingPolicy::Drop);
    let error = read_table(&spec).unwrap_err();
    assert!(matches!(error, CsvError::NotANumber { .. }), "{error}");
}

#[test]
fn missing_drop_of_all_rows_is_an_error() {
    let file = write_csv("a,b\n1,\n2,NaN\n");
    let spec = CsvSpec::new(&file.path, selectors("a"))
        .with_y(selector("b"))
        .with_missing(MissingPolicy::Drop);
    let error = read_table(&spec).unwrap_err();
    assert!(
        matches!(error, CsvError::AllRowsDropped { dropped: 2, .. }),
        "{error}"
    );
}

#[test]
fn missing_in_unselected_column_is_ignored() {
    let table = read_ok("a,unused,b\n1,,2\n3,NaN,4\n5,abc,6\n", "a", "b");
    assert_eq!(table.row_count(), 3);
    assert_eq!(table.dropped_rows, 0);
}

#[test]
fn non_numeric_cell_error_message() {
    let file = write_csv("date,co2\n1,315\n2,abc\n");
    let spec = CsvSpec::new(&file.path, selectors("date")).with_y(selector("co2"));
    let message = read_table(&spec).unwrap_err().to_string();
    let expected = format!(
        "{} line 3, column \"co2\": \"abc\" is not a number. \
         Expected a decimal number such as 12.5, -3 or 1.5e-3",
        file.path.display()
    );
    assert_eq!(message, expected);
}

// Decimal commas and field counts.

#[test]
fn decimal_comma_with_semicolons_is_rejected() {
    let error = read_err("a;b\n1;9,5\n", "a", "b");
    let message = error.to_string();
    assert!(matches!(error, CsvError::DecimalComma { .. }), "{message}");
    assert!(message.contains("\"9,5\""), "{message}");
    assert!(message.contains("decimal point"), "{message}");
}

#[test]
fn decimal_comma_with_tabs_is_rejected() {
    let error = read_err("a\tb\n1\t9,5\n", "a", "b");
    assert!(matches!(error, CsvError::DecimalComma { .. }), "{error}");
}

#[test]
fn decimal_comma_quoted_is_rejected() {
    let error = read_err("a,b\n1,\"9,5\"\n", "a", "b");
    assert!(matches!(error, CsvError::DecimalComma { .. }), "{error}");
}

#[test]
fn decimal_comma_unquoted_splits_into_extra_field() {
    let error = read_err("a,b\n1,2\n3,9,5\n", "a", "b");
    let message = error.to_string();
    assert!(
        matches!(
            error,
            CsvError::TooManyFields {
                line: 3,
                found: 3,
                expected: 2,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("decimal comma"), "{message}");
}

#[test]
fn extra_text_field_has_no_decimal_comma_hint() {
    let message = read_err("a,b\n1,2,x\n", "a", "b").to_string();
    assert!(
        message.contains("line 2 has 3 fields but the header has 2"),
        "{message}"
    );
    assert!(!message.contains("decimal comma"), "{message}");
}

#[test]
fn decimal_comma_hint_with_trailing_delimiter() {
    let message = read_err("a,b,\n1,2,\n3,9,5,\n", "a", "b").to_string();
    assert!(
        message.contains("line 3 has 4 fields but the header has 3"),
        "{message}"
    );
    assert!(message.contains("decimal comma"), "{message}");
}

#[test]
fn extra_empty_field_mentions_trailing_delimiter() {
    let message = read_err("a,b\n1,2,\n", "a", "b").to_string();
    assert!(message.contains("ends with a delimiter"), "{message}");
}

#[test]
fn too_few_fields_names_line_and_counts() {
    let error = read_err("a,b,c\n1,2,3\n4,5\n", "a", "b");
    let message = error.to_string();
    assert!(
        matches!(
            error,
            CsvError::TooFewFields {
                line: 3,
                found: 2,
                expected: 3,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("line 3 has 2 fields but the header has 3"),
        "{message}"
    );
}

#[test]
fn too_few_fields_says_one_field() {
    let message = read_err("a,b\nabc\n", "a", "b").to_string();
    assert!(message.contains("has 1 field but"), "{message}");
}

// Delimiters.

#[test]
fn delimiter_detects_comma() {
    let table = read_ok("a,b\n1,2\n", "a", "b");
    assert_eq!(table.delimiter, b',');
    assert!(table.delimiter_detected);
}

#[test]
fn delimiter_detects_semicolon() {
    let table = read_ok("a;b\n1;2.5\n", "a", "b");
    assert_eq!(table.delimiter, b';');
    assert_eq!(target_values(&table), [2.5]);
}

#[test]
fn delimiter_detects_tab() {
    let table = read_ok("a\tb\n1\t2\n", "a", "b");
    assert_eq!(table.delimiter, b'\t');
}

#[test]
fn delimiter_ignores_quoted_characters() {
    assert_eq!(detect_delimiter(b"\"a,b\";\"c,d\";e\n"), b';');
}

#[test]
fn delimiter_tie_picks_comma() {
    assert_eq!(detect_delimiter(b"a;b,c\n"), b',');
}

#[test]
fn delimiter_without_candidates_is_comma() {
    assert_eq!(detect_delimiter(b"value\n"), b',');
}

#[test]
fn delimiter_given_is_used() {
    let file = write_csv("a|b\n1|2\n");
    let spec = CsvSpec::new(&file.path, selectors("a"))
        .with_y(selector("b"))
        .with_delimiter(b'|');
    let table = read_table(&spec).unwrap();
    assert_eq!(table.delimiter, b'|');
    assert!(!table.delimiter_detected);
    assert_eq!(target_values(&table), [2.0]);
}

#[test]
fn delimiter_quote_is_rejected() {
    let spec = CsvSpec::new("unused.csv", selectors("a")).with_delimiter(b'"');
    let error = read_table(&spec).unwrap_err();
    assert!(
        matches!(error, CsvError::InvalidDelimiter { .. }),
        "{error}"
    );
}

// Trailing delimiters and header names.

#[test]
fn trailing_delimiter_column_is_ignored() {
    let table = read_ok("a,b,\n1,2,\n3,4,\n", "a", "b");
    assert_eq!(table.all_columns, vec!["a", "b"]);
    assert_eq!(target_values(&table), [2.0, 4.0]);
}

#[test]
fn trailing_delimiter_value_is_rejected() {
    let error = read_err("a,b,\n1,2,\n3,4,9\n", "a", "b");
    let message = error.to_string();
    assert!(
        matches!(error, CsvError::ValueInUnnamedColumn { line: 3, .. }),
        "{message}"
    );
    assert!(message.contains("\"9\""), "{message}");
}

#[test]
fn trailing_delimiter_index_cannot_select_it() {
    let error = read_err("a,b,\n1,2,\n", "2", "a");
    assert!(
        matches!(error, CsvError::IndexOutOfRange { count: 2, .. }),
        "{error}"
    );
}

#[test]
fn empty_header_name_is_rejected() {
    let error = read_err("a,,b\n1,2,3\n", "a", "b");
    let message = error.to_string();
    assert!(
        matches!(error, CsvError::EmptyHeaderName { index: 1, .. }),
        "{message}"
    );
    assert!(message.contains("index 1"), "{message}");
}

#[test]
fn empty_file_is_rejected() {
    let error = read_err("", "a", "b");
    assert!(matches!(error, CsvError::EmptyFile { .. }), "{error}");
}

#[test]
fn header_without_rows_is_rejected() {
    let error = read_err("a,b\n", "a", "b");
    assert!(matches!(error, CsvError::NoDataRows { .. }), "{error}");
}

#[test]
fn missing_file_is_an_io_error() {
    let folder = TempDir::new().unwrap();
    let spec = CsvSpec::new(folder.path().join("absent.csv"), selectors("a"));
    let error = read_table(&spec).unwrap_err();
    assert!(matches!(error, CsvError::Io { .. }), "{error}");
}

// Column selection.

#[test]
fn unknown_column_lists_available() {
    let error = read_err("year,co2\n1,2\n", "yr", "co2");
    let message = error.to_string();
    assert!(matches!(error, CsvError::UnknownColumn { .. }), "{message}");
    assert!(message.contains("\"yr\""), "{message}");
    assert!(message.contains("\"year\", \"co2\""), "{message}");
}

#[test]
fn index_out_of_range_gives_count() {
    let message = read_err("a,b\n1,2\n", "5", "a").to_string();
    assert!(message.contains("index 5"), "{message}");
    assert!(message.contains("2 columns"), "{message}");
}

#[test]
fn duplicate_selected_name_is_rejected() {
    let error = read_err("a,b,a\n1,2,3\n", "a", "b");
    assert!(
        matches!(
            error,
            CsvError::DuplicateColumn {
                first: 0,
                second: 2,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn duplicate_unselected_name_is_allowed() {
    let table = read_ok("a,b,c,c\n1,2,3,4\n", "a", "b");
    assert_eq!(table.row_count(), 1);
}

#[test]
fn input_selected_as_target_is_rejected() {
    let error = read_err("a,b\n1,2\n", "a,b", "b");
    assert!(
        matches!(error, CsvError::ColumnSelectedTwice { .. }),
        "{error}"
    );
}

#[test]
fn input_selected_twice_is_rejected() {
    let error = read_err("a,b\n1,2\n", "a,0", "b");
    assert!(
        matches!(error, CsvError::ColumnSelectedTwice { .. }),
        "{error}"
    );
}

#[test]
fn no_inputs_are_rejected() {
    let spec = CsvSpec::new("unused.csv", Vec::new());
    let error = read_table(&spec).unwrap_err();
    assert!(matches!(error, CsvError::NoInputs), "{error}");
}

#[test]
fn inputs_keep_selection_order() {
    let table = read_ok("a,b,c\n1,2,3\n", "c,a", "b");
    let names: Vec<&str> = table
        .inputs
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["c", "a"]);
}

#[test]
fn target_is_optional() {
    let file = write_csv("a,b\n1,2\n");
    let table = read_table(&CsvSpec::new(&file.path, selectors("a"))).unwrap();
    assert!(table.target.is_none());
}

// Time columns.

/// Day of year 88 (31 + 28 + 29) of a common year.
const MARCH_29_1958: f64 = 1958.0 + 87.0 / 365.0;

fn read_with_time(contents: &str, x: &str, y: &str, time: &str) -> Result<Table, CsvError> {
    let file = write_csv(contents);
    let spec = CsvSpec::new(&file.path, selectors(x))
        .with_y(selector(y))
        .with_time(selectors(time));
    read_table(&spec)
}

#[test]
fn yyyymmdd_time_column_becomes_decimal_year() {
    let table = read_with_time("date,co2\n19580329,316.1\n", "date", "co2", "date").unwrap();
    assert_eq!(input_values(&table, 0), [MARCH_29_1958]);
    assert!(table.inputs[0].is_time);
}

#[test]
fn yyyymmdd_january_first_is_whole_year() {
    let table = read_with_time("date,co2\n19590101,1\n", "date", "co2", "date").unwrap();
    assert_eq!(input_values(&table, 0), [1959.0]);
}

#[test]
fn yyyymmdd_leap_year_has_366_days() {
    // 2000 is a leap year: March 1st is day 31 + 29 + 1 = 61.
    let table = read_with_time("date,co2\n20000301,1\n", "date", "co2", "date").unwrap();
    assert_eq!(input_values(&table, 0), [2000.0 + 60.0 / 366.0]);
}

#[test]
fn yyyymmdd_without_time_is_a_number() {
    let table = read_ok("date,co2\n19580329,316.1\n", "date", "co2");
    assert_eq!(input_values(&table, 0), [19_580_329.0]);
    assert!(!table.inputs[0].is_time);
}

#[test]
fn yyyymmdd_invalid_dates_are_rejected() {
    // 1900 is not a leap year because it is divisible by 100 but not by 400.
    for value in [
        "19581329", "19580001", "19580230", "19000229", "1958032", "abc",
    ] {
        let contents = format!("date,co2\n19580329,1\n{value},2\n");
        let error = read_with_time(&contents, "date", "co2", "date").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, CsvError::InvalidDate { .. }), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains(&format!("\"{value}\"")), "{message}");
    }
}

#[test]
fn yyyymmdd_leap_day_2000_is_valid() {
    let result = read_with_time("date,co2\n20000229,1\n", "date", "co2", "date");
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn time_column_accepts_iso_dates() {
    let table = read_with_time("date,co2\n1958-03-29,1\n", "date", "co2", "date").unwrap();
    assert_eq!(input_values(&table, 0), [MARCH_29_1958]);
}

#[test]
fn iso_dates_are_detected_without_time() {
    let table = read_ok("date,co2\n1958-03-29,1\n1959-01-01,2\n", "date", "co2");
    assert_eq!(input_values(&table, 0), [MARCH_29_1958, 1959.0]);
    assert!(table.inputs[0].is_time);
}

#[test]
fn iso_dates_detected_after_missing_first_value() {
    let file = write_csv("date,co2\n,1\n1959-01-01,2\n");
    let spec = CsvSpec::new(&file.path, selectors("date"))
        .with_y(selector("co2"))
        .with_missing(MissingPolicy::Drop);
    let table = read_table(&spec).unwrap();
    assert_eq!(input_values(&table, 0), [1959.0]);
    assert!(table.inputs[0].is_time);
}

#[test]
fn time_column_selected_by_index() {
    let table = read_with_time("co2,date\n1,19590101\n", "1", "0", "1").unwrap();
    assert_eq!(table.inputs[0].name, "date");
    assert_eq!(input_values(&table, 0), [1959.0]);
}

#[test]
fn iso_date_invalid_day_is_rejected() {
    let error = read_err("date,co2\n1958-04-31,1\n", "date", "co2");
    let message = error.to_string();
    assert!(matches!(error, CsvError::InvalidDate { .. }), "{message}");
    assert!(message.contains("day 31"), "{message}");
}

#[test]
fn iso_column_rejects_later_number() {
    let error = read_err("date,co2\n1958-03-29,1\n1959.5,2\n", "date", "co2");
    let message = error.to_string();
    assert!(matches!(error, CsvError::InvalidDate { .. }), "{message}");
    assert!(message.contains("YYYY-MM-DD"), "{message}");
}

#[test]
fn iso_date_in_target_is_not_a_number() {
    let error = read_err("a,date\n1,1958-03-29\n", "a", "date");
    assert!(matches!(error, CsvError::NotANumber { .. }), "{error}");
}

#[test]
fn time_column_not_in_inputs_comes_first() {
    let table = read_with_time("a,date,co2\n5,19590101,1\n", "a", "co2", "date").unwrap();
    let names: Vec<&str> = table
        .inputs
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["date", "a"]);
}

#[test]
fn time_column_as_target_is_rejected() {
    let error = read_with_time("date,co2\n19590101,1\n", "date", "date", "date").unwrap_err();
    assert!(
        matches!(error, CsvError::ColumnSelectedTwice { .. }),
        "{error}"
    );
}

#[test]
fn too_many_time_columns_are_rejected() {
    let error = read_with_time("a,b,c,d\n1,2,3,4\n", "a", "d", "a,b,c").unwrap_err();
    assert!(
        matches!(error, CsvError::TooManyTimeColumns { count: 3 }),
        "{error}"
    );
}

const QUARTERS: &str = "year,quarter,gdp\n1959,1,10\n1959,2,11\n1959,3,12\n1959,4,13\n1960,1,14\n";

#[test]
fn year_quarter_pair_combines_into_one_column() {
    let table = read_with_time(QUARTERS, "year,quarter", "gdp", "year,quarter").unwrap();
    assert_eq!(table.inputs.len(), 1);
    assert_eq!(table.inputs[0].name, "year+quarter");
    assert!(table.inputs[0].is_time);
    assert_eq!(
        input_values(&table, 0),
        [1959.0, 1959.25, 1959.5, 1959.75, 1960.0]
    );
}

#[test]
fn year_month_pair_uses_twelfths() {
    let contents = "Year,Month,y\n2001,1,1\n2001,7,2\n2001,12,3\n";
    let table = read_with_time(contents, "Year", "y", "Year,Month").unwrap();
    assert_eq!(table.inputs[0].name, "Year+Month");
    assert_eq!(
        input_values(&table, 0),
        [2001.0, 2001.5, 2001.0 + 11.0 / 12.0]
    );
}

#[test]
fn year_qtr_name_means_quarters() {
    let contents = "yr,QTR,y\n2001,3,1\n";
    let table = read_with_time(contents, "yr", "y", "yr,QTR").unwrap();
    assert_eq!(input_values(&table, 0), [2001.5]);
}

#[test]
fn year_period_column_as_target_is_rejected() {
    let error = read_with_time(QUARTERS, "gdp", "year", "year,quarter").unwrap_err();
    assert!(
        matches!(error, CsvError::ColumnSelectedTwice { .. }),
        "{error}"
    );
}

#[test]
fn year_period_pair_not_in_inputs_comes_first() {
    let contents = "year,quarter,a,gdp\n1959,2,7,10\n";
    let table = read_with_time(contents, "a", "gdp", "year,quarter").unwrap();
    let names: Vec<&str> = table
        .inputs
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["year+quarter", "a"]);
}

#[test]
fn year_period_pair_takes_first_input_place() {
    let contents = "year,quarter,a,gdp\n1959,2,7,10\n";
    let table = read_with_time(contents, "a,quarter", "gdp", "year,quarter").unwrap();
    let names: Vec<&str> = table
        .inputs
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    assert_eq!(names, ["a", "year+quarter"]);
}

#[test]
fn year_period_unknown_unit_is_rejected() {
    let contents = "year,period,y\n2001,1,1\n";
    let message = read_with_time(contents, "year", "y", "year,period")
        .unwrap_err()
        .to_string();
    assert!(message.contains("\"period\""), "{message}");
    assert!(message.contains("\"quarter\""), "{message}");
    assert!(message.contains("\"month\""), "{message}");
}

#[test]
fn quarter_out_of_range_is_rejected() {
    let contents = "year,quarter,y\n2001,1,1\n2001,5,2\n";
    let error = read_with_time(contents, "year", "y", "year,quarter").unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CsvError::InvalidTimeValue { .. }),
        "{message}"
    );
    assert!(message.contains("line 3, column \"quarter\""), "{message}");
    assert!(message.contains("\"5\""), "{message}");
    assert!(message.contains("1 to 4"), "{message}");
}

#[test]
fn month_out_of_range_is_rejected() {
    let contents = "year,month,y\n2001,13,1\n";
    let error = read_with_time(contents, "year", "y", "year,month").unwrap_err();
    assert!(
        matches!(error, CsvError::InvalidTimeValue { .. }),
        "{error}"
    );
}

#[test]
fn fractional_year_is_rejected() {
    let contents = "year,quarter,y\n2001.5,1,1\n";
    let message = read_with_time(contents, "year", "y", "year,quarter")
        .unwrap_err()
        .to_string();
    assert!(message.contains("column \"year\""), "{message}");
}

#[test]
fn missing_quarter_is_dropped() {
    let file = write_csv("year,quarter,y\n2001,,1\n2001,2,2\n");
    let spec = CsvSpec::new(&file.path, selectors("year"))
        .with_y(selector("y"))
        .with_time(selectors("year,quarter"))
        .with_missing(MissingPolicy::Drop);
    let table = read_table(&spec).unwrap();
    assert_eq!(table.dropped_rows, 1);
    assert_eq!(input_values(&table, 0), [2001.25]);
}

// Excerpts of the bundled data files, copied with their quirks.

#[test]
fn co2_excerpt_reads_with_dropped_gaps() {
    let contents = "date,co2\n19580329,316.1\n19580405,317.3\n19580510,\n19580517,317.5\n";
    let file = write_csv(contents);
    let spec = CsvSpec::new(&file.path, selectors("date"))
        .with_y(selector("co2"))
        .with_time(selectors("date"))
        .with_missing(MissingPolicy::Drop);
    let table = read_table(&spec).unwrap();
    assert_eq!(table.dropped_rows, 1);
    assert_eq!(table.line_numbers, vec![2, 3, 5]);
    assert_eq!(target_values(&table), [316.1, 317.3, 317.5]);
    assert_eq!(input_values(&table, 0)[0], MARCH_29_1958);
}

#[test]
fn sunspots_excerpt_reads() {
    let contents = "\"YEAR\",\"SUNACTIVITY\"\n1700,5\n1701,11\n2008,2.9\n";
    let table = read_ok(contents, "YEAR", "SUNACTIVITY");
    assert_eq!(input_values(&table, 0), [1700.0, 1701.0, 2008.0]);
    assert_eq!(target_values(&table), [5.0, 11.0, 2.9]);
}

#[test]
fn macrodata_excerpt_reads() {
    let contents = "\"year\",\"quarter\",\"realgdp\",\"realcons\"\n\
                    1959,1,2710.349,1707.4\n\
                    1959,2,2778.801,1733.7\n";
    let file = write_csv(contents);
    let spec = CsvSpec::new(&file.path, selectors("year,quarter,realcons"))
        .with_y(selector("realgdp"))
        .with_time(selectors("year,quarter"));
    let table = read_table(&spec).unwrap();
    assert_eq!(input_values(&table, 0), [1959.0, 1959.25]);
    assert_eq!(input_values(&table, 1), [1707.4, 1733.7]);
    assert_eq!(target_values(&table), [2710.349, 2778.801]);
}

// Display.

#[test]
fn table_display_summarises() {
    let file = write_csv("date,co2\n1958-03-29,316.1\n1958-04-05,\n");
    let spec = CsvSpec::new(&file.path, selectors("date"))
        .with_y(selector("co2"))
        .with_missing(MissingPolicy::Drop);
    let table = read_table(&spec).unwrap();
    let expected = format!(
        "{}: 1 row (1 dropped for missing values), delimiter ',' (detected)\n\
         inputs: date (time)\n\
         target: co2",
        file.path.display()
    );
    assert_eq!(table.to_string(), expected);
}

// Single cells.

#[test]
fn cell_signed_nan_is_missing() {
    assert_eq!(cells::parse_number("-NaN"), Ok(None));
}

#[test]
fn cell_thousands_with_decimal_comma_is_flagged() {
    assert!(cells::looks_like_decimal_comma("1.234,5"));
}

#[test]
fn cell_text_with_comma_is_not_a_number() {
    assert_eq!(
        cells::parse_number("a,b"),
        Err(cells::CellProblem::NotANumber)
    );
}

#[test]
fn cell_december_31_of_leap_year() {
    // Day 366 of 2000 starts 365 days after January 1st.
    assert_eq!(
        cells::decimal_year(2000, 12, 31),
        Ok(2000.0 + 365.0 / 366.0)
    );
}

#[test]
fn cell_year_2100_is_not_leap() {
    assert!(cells::decimal_year(2100, 2, 29).is_err());
}

#[test]
fn cell_whole_number_accepts_point_zero() {
    let value = cells::parse_whole_number("3.0", 1.0, 4.0, "quarter", "1 to 4");
    assert_eq!(value, Ok(Some(3.0)));
}
