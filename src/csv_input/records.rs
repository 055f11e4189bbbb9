//! Streaming CSV records together with the line in the file where each one starts.
//!
//! The `csv` crate (1.4) gives each record the position where parsing began, which lies
//! before any blank lines skipped ahead of the record and, with CRLF line ends, before the
//! `\n` of the previous line. [`LineTracker`] keeps the bytes that the parser has read but
//! not yet finished with, so the line of a record's first byte can be counted exactly.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, ReaderBuilder, Trim};

use super::CsvError;

/// A CSV reader over one file that reports the starting line of each record.
pub(super) struct RecordReader {
    reader: csv::Reader<LineTracker<Box<dyn Read>>>,
    path: PathBuf,
}

impl RecordReader {
    /// Reads `file` with the given delimiter; `path` names it in errors.
    ///
    /// Fields are trimmed, and rows of any length are accepted because the caller checks
    /// them against the header with clearer messages. The header is read as a record.
    pub fn new(file: Box<dyn Read>, path: &Path, delimiter: u8) -> RecordReader {
        let reader = ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(Trim::All)
            .from_reader(LineTracker::new(file));

        RecordReader {
            reader,
            path: path.to_owned(),
        }
    }

    /// Reads the next record into `record` and returns its 1-based starting line, or `None`
    /// at the end of the file.
    pub fn read(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, CsvError> {
        let found = self
            .reader
            .read_byte_record(record)
            .map_err(|source| CsvError::Parse {
                path: self.path.clone(),
                source,
            })?;
        if !found {
            return Ok(None);
        }

        let parse_start = record.position().map_or(0, csv::Position::byte);
        Ok(Some(self.reader.get_mut().line_at(parse_start)))
    }
}

/// A reader that keeps the bytes it has passed on from a given offset, to count lines.
///
/// Memory use is bounded by the parser's read-ahead buffer plus the longest record.
///
/// NOTE: Only `\n` counts as a line end. A file with bare `\r` line ends (classic Mac OS)
/// is parsed correctly, but every record in it reports line 1.
struct LineTracker<R> {
    inner: R,
    /// Bytes passed on, starting at byte offset `window_start`.
    window: VecDeque<u8>,
    window_start: u64,
    /// 1-based line number of the byte at `window_start`.
    window_start_line: u64,
}

impl<R> LineTracker<R> {
    fn new(inner: R) -> LineTracker<R> {
        LineTracker {
            inner,
            window: VecDeque::new(),
            window_start: 0,
            window_start_line: 1,
        }
    }

    /// Returns the line of the first byte at or after `offset` that is not a line end,
    /// and drops the bytes before `offset`.
    ///
    /// Calls must not decrease `offset`, because dropped bytes cannot be counted again.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.window_start < offset {
            let Some(byte) = self.window.pop_front() else {
                break;
            };
            self.window_start += 1;
            if byte == b'\n' {
                self.window_start_line += 1;
            }
        }

        let skipped_line_ends = self
            .window
            .iter()
            .take_while(|byte| matches!(byte, b'\r' | b'\n'))
            .filter(|byte| **byte == b'\n')
            .count();
        self.window_start_line + skipped_line_ends as u64
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.window.extend(buffer.iter().take(count));
        Ok(count)
    }
}
