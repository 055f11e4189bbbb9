//! Reads arbitrary bytes as a CSV file. Any outcome other than `Ok` or a `CsvError` (a
//! panic, an abort, running out of memory) is a bug.
//!
//! The first byte chooses the spec, so that one corpus covers every reading mode:
//!
//! - bits 0-1, time columns: none, `date`, `year,quarter`, or indices `0,1`.
//! - bits 2-3, inputs: none, `x`, index `0`, or indices `0,2`.
//! - bits 4-5, target: none, `co2`, `realgdp`, or index `1`.
//! - bit 6: the second byte is the delimiter, and without it the delimiter is detected.
//! - bit 7: rows with missing values are dropped, and without it they are an error.
//!
//! The remaining bytes are the file contents.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use outrange::csv_input::{ColumnSelector, CsvSpec, MissingPolicy, read_table};

fn name(text: &str) -> ColumnSelector {
    ColumnSelector::Name(text.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, mut contents)) = data.split_first() else {
        return;
    };

    let time = match choice & 0b11 {
        0 => Vec::new(),
        1 => vec![name("date")],
        2 => vec![name("year"), name("quarter")],
        _ => vec![ColumnSelector::Index(0), ColumnSelector::Index(1)],
    };
    let x = match (choice >> 2) & 0b11 {
        0 => Vec::new(),
        1 => vec![name("x")],
        2 => vec![ColumnSelector::Index(0)],
        _ => vec![ColumnSelector::Index(0), ColumnSelector::Index(2)],
    };
    let y = match (choice >> 4) & 0b11 {
        0 => None,
        1 => Some(name("co2")),
        2 => Some(name("realgdp")),
        _ => Some(ColumnSelector::Index(1)),
    };

    let mut spec = CsvSpec::new("fuzz.csv", x).with_time(time);
    spec.y = y;
    if choice & 0b0100_0000 != 0 {
        let Some((&delimiter, rest)) = contents.split_first() else {
            return;
        };
        spec.delimiter = Some(delimiter);
        contents = rest;
    }
    if choice & 0b1000_0000 != 0 {
        spec.missing = MissingPolicy::Drop;
    }
    spec.contents = Some(Arc::from(contents));

    let _ = read_table(&spec);
});
