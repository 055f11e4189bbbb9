//! Real series bundled into the program, with the settings that suit each one.
//!
//! The files in `datasets/` are unchanged copies from the statsmodels 0.15.0 wheel,
//! whose loaders declare them public domain; `datasets/SOURCES.md` gives their origin.

use crate::csv_input::MissingPolicy;

/// A bundled CSV series and its default columns and split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dataset {
    /// The name given to `--dataset`.
    pub name: &'static str,
    /// The file name in `datasets/`.
    pub file_name: &'static str,
    /// One line on what the series is.
    pub description: &'static str,
    /// The file's bytes.
    pub contents: &'static [u8],
    /// Input columns.
    pub x: &'static [&'static str],
    /// Target column.
    pub y: &'static str,
    /// Time columns, turned into decimal years.
    pub time: &'static [&'static str],
    /// Rows whose input is at most this value train.
    pub train_until: f64,
    /// What to do with rows that have an empty target.
    pub missing: MissingPolicy,
}

/// The bundled series.
pub const DATASETS: [Dataset; 3] = [
    Dataset {
        name: "co2",
        file_name: "co2.csv",
        description: "Mauna Loa atmospheric CO2 (ppm), weekly, 1958-2001; trains on dates up to 1991.0 (through 1990); drops the 59 empty weeks",
        contents: include_bytes!("../datasets/co2.csv"),
        x: &["date"],
        y: "co2",
        time: &["date"],
        train_until: 1991.0,
        missing: MissingPolicy::Drop,
    },
    Dataset {
        name: "sunspots",
        file_name: "sunspots.csv",
        description: "yearly mean sunspot activity, 1700-2008; trains on years up to 1950",
        contents: include_bytes!("../datasets/sunspots.csv"),
        x: &["YEAR"],
        y: "SUNACTIVITY",
        time: &[],
        train_until: 1950.0,
        missing: MissingPolicy::Error,
    },
    Dataset {
        name: "gdp",
        file_name: "macrodata.csv",
        description: "US real GDP (billions of 2005 dollars), quarterly, 1959-2009; trains up to 1995.75 (through 1995 Q4)",
        contents: include_bytes!("../datasets/macrodata.csv"),
        x: &["year", "quarter"],
        y: "realgdp",
        time: &["year", "quarter"],
        train_until: 1995.75,
        missing: MissingPolicy::Error,
    },
];

/// Returns the bundled dataset called `name`.
pub fn find(name: &str) -> Option<&'static Dataset> {
    DATASETS
        .iter()
        .find(|dataset| dataset.name.eq_ignore_ascii_case(name.trim()))
}

/// The names of the bundled datasets, comma-separated.
pub fn names() -> String {
    DATASETS
        .iter()
        .map(|dataset| dataset.name)
        .collect::<Vec<_>>()
        .join(", ")
}
