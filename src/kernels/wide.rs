//! The kernels of wide layers, on the cache-blocked matrix multiply of the `gemm`
//! crate, which chooses its own SIMD instructions at run time and is called here
//! without threads.
//!
//! The forward pass multiplies blocks of exactly [`BLOCK_ROWS`] rows and pads a last,
//! shorter block with zero rows. Every call then has the same shape, so a row's
//! output does not depend on the batch size. gemm does not promise that by itself,
//! because `gemm_basic_generic` in gemm-common 0.19 picks other loops for one row and
//! other blocking for other sizes. The gradients are one multiply of the whole batch each,
//! so a row's input gradient can differ in the last bits between batch sizes.
//! Training stays bit-identical from run to run, because the same settings give the
//! same batch sizes.

use super::{AffineGradients, Shape};

/// The smallest number of inputs, and of units, that makes a layer wide. On a 2.0 GHz
/// Zen 1 core with AVX2 and FMA, at batches of 32 and 256, gemm 0.19 ran the forward
/// pass of a 32×32 layer 1.6 times as fast as the AVX2 loops. It ran the backward
/// pass 2.2 to 2.9 times as fast. At 24×24 its forward pass was 1.2 times as fast,
/// and at 16×16 0.9 times.
pub(super) const MIN_WIDTH: usize = 32;

/// Rows per matrix multiply in the forward pass: the default batch size, so that a
/// training batch of it needs no padding.
///
/// NOTE: a forward pass of fewer rows costs as much as one of `BLOCK_ROWS` rows. One
/// row through a 256×256 layer took about 0.13 ms, 6 to 8 times as long as in the
/// AVX2 loops, which is the price of the batch-independent output.
const BLOCK_ROWS: usize = 32;

/// Returns whether `shape` takes the kernels of this module.
pub(super) fn is_wide(shape: Shape) -> bool {
    shape.inputs >= MIN_WIDTH && shape.units >= MIN_WIDTH
}

/// Computes `z = x · kernel + bias`, or `relu(z)` when `relu` is set, as
/// [`super::affine`] does. The slices are checked by the caller.
pub(super) fn affine(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    output: &mut [f32],
    relu: bool,
    shape: Shape,
) {
    let Shape {
        batch,
        inputs,
        units,
    } = shape;
    let kernel = Strided::row_major(kernel, inputs, units);

    let x = &x[..batch * inputs];
    let output = &mut output[..batch * units];
    for_each_block(x, inputs, output, units, |x_block, z_block| {
        for row in z_block.chunks_exact_mut(units) {
            if bias.is_empty() {
                row.fill(0.0);
            } else {
                row.copy_from_slice(bias);
            }
        }
        let x_block = Strided::row_major(x_block, BLOCK_ROWS, inputs);
        multiply(z_block, x_block, kernel, true);
        if relu {
            super::relu_in_place(z_block);
        }
    });
}

/// Computes the gradients of [`super::affine_backward`]: the kernel gradient
/// `xᵀ · dz`, the bias gradient and the input gradient `dz · kernelᵀ`. The slices
/// are checked by the caller. The relu gradient and the bias gradient take the
/// generic loops: each is one pass over `dz`, where each product does `inputs`
/// multiply-adds per element of `dz`.
pub(super) fn affine_backward(gradients: AffineGradients<'_>, kernel: &[f32], shape: Shape) {
    let Shape {
        batch,
        inputs,
        units,
    } = shape;
    let AffineGradients {
        x,
        grad_z,
        kernel_grad,
        bias_grad,
        grad_input,
    } = gradients;
    let dz = super::resolve_generic(grad_z, batch * units);

    let x_transposed = Strided::row_major(&x[..batch * inputs], batch, inputs).transposed();
    multiply(
        kernel_grad,
        x_transposed,
        Strided::row_major(dz, batch, units),
        false,
    );

    if !bias_grad.is_empty() {
        super::column_sums::<false>(bias_grad, dz, units);
    }

    let Some(grad_input) = grad_input else { return };
    let kernel_transposed = Strided::row_major(kernel, inputs, units).transposed();
    multiply(
        grad_input,
        Strided::row_major(dz, batch, units),
        kernel_transposed,
        false,
    );
}

/// Calls `compute` on each block of [`BLOCK_ROWS`] rows of `input`, a row-major
/// matrix of `input_cols` columns, and the same rows of `output`, of `output_cols`
/// columns. For a last block of fewer rows, `compute` gets copies padded with zero
/// rows, and the rows that it writes past the end of `output` are dropped.
fn for_each_block(
    input: &[f32],
    input_cols: usize,
    output: &mut [f32],
    output_cols: usize,
    mut compute: impl FnMut(&[f32], &mut [f32]),
) {
    let input_blocks = input.chunks_exact(BLOCK_ROWS * input_cols);
    let input_rest = input_blocks.remainder();
    let mut output_blocks = output.chunks_exact_mut(BLOCK_ROWS * output_cols);
    for (input_block, output_block) in input_blocks.zip(&mut output_blocks) {
        compute(input_block, output_block);
    }

    let output_rest = output_blocks.into_remainder();
    if output_rest.is_empty() {
        return;
    }
    let mut input_padded = vec![0.0; BLOCK_ROWS * input_cols];
    input_padded[..input_rest.len()].copy_from_slice(input_rest);
    let mut output_padded = vec![0.0; BLOCK_ROWS * output_cols];
    compute(&input_padded, &mut output_padded);
    output_rest.copy_from_slice(&output_padded[..output_rest.len()]);
}

/// A matrix stored in a slice: element `(r, c)` is
/// `values[r * row_stride + c * col_stride]`.
#[derive(Debug, Clone, Copy)]
struct Strided<'a> {
    values: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Strided<'a> {
    /// Returns the row-major `(rows, cols)` matrix in the first `rows · cols` values.
    fn row_major(values: &'a [f32], rows: usize, cols: usize) -> Self {
        Strided {
            values,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Returns the transpose, which reads the same values.
    fn transposed(self) -> Self {
        Strided {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Returns whether every element lies inside `values`.
    fn fits(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride;
        last < self.values.len()
    }
}

/// Writes `a · b` into `c`, a row-major `(a.rows, b.cols)` matrix, or adds it to the
/// values of `c` when `accumulate` is set, on the calling thread.
///
/// # Panics
/// If the inner dimensions differ or a matrix does not fit in its slice.
#[track_caller]
fn multiply(c: &mut [f32], a: Strided<'_>, b: Strided<'_>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions of a matrix product");
    assert!(a.fits(), "left operand out of its slice");
    assert!(b.fits(), "right operand out of its slice");
    assert!(c.len() >= m * n, "product is too short");

    // SAFETY: the assertions above keep every element that gemm reads of `a` and `b`
    // and every element it writes of the row-major `(m, n)` matrix `c` inside its
    // slice. `c` is borrowed mutably, so it overlaps neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.values.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.values.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
