//! A row-major matrix of f32 values, the unit of data that models take and return.

use std::fmt;

/// A `rows × cols` matrix stored row-major: row `r` is `data[r * cols..(r + 1) * cols]`.
#[derive(Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

/// Values whose count does not fit the requested shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot shape {len} values as a matrix with {cols} columns")]
pub struct ShapeError {
    /// The number of values given.
    pub len: usize,
    /// The number of columns requested.
    pub cols: usize,
}

impl Matrix {
    /// Creates a matrix from row-major values, `data.len()` must be a multiple of `cols`.
    pub fn from_rows(data: Vec<f32>, cols: usize) -> Result<Self, ShapeError> {
        if cols == 0 || !data.len().is_multiple_of(cols) {
            return Err(ShapeError {
                len: data.len(),
                cols,
            });
        }
        Ok(Matrix {
            rows: data.len() / cols,
            cols,
            data,
        })
    }

    /// Creates a one-column matrix, one row per value.
    pub fn column(values: Vec<f32>) -> Self {
        Matrix {
            rows: values.len(),
            cols: 1,
            data: values,
        }
    }

    /// Creates a `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// All values, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Row `index`.
    ///
    /// # Panics
    /// If `index >= rows`.
    #[track_caller]
    pub fn row(&self, index: usize) -> &[f32] {
        assert!(
            index < self.rows,
            "row {index} of a matrix with {} rows",
            self.rows
        );
        &self.data[index * self.cols..(index + 1) * self.cols]
    }

    /// Consumes the matrix and returns its values, row-major.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}

impl fmt::Debug for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matrix({}×{}", self.rows, self.cols)?;
        let shown = self.rows.min(4);
        for r in 0..shown {
            write!(f, "\n  {:?}", self.row(r))?;
        }
        if shown < self.rows {
            write!(f, "\n  … {} more rows", self.rows - shown)?;
        }
        f.write_str(")")
    }
}
