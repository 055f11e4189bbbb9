//! The inner loops of the dense layer: generic code for any target, and on x86-64 an
//! AVX2+FMA version written with intrinsics in `avx2`. [`Isa::detect`] chooses between
//! them at run time, so one binary runs fast on any x86-64 CPU without a `target-cpu`
//! flag. `shallow` fuses a whole training step of the default experiment's network
//! shape, on AVX2+FMA only.
//!
//! All matrices are row-major slices. `x` is `(batch, inputs)`, the kernel
//! `(inputs, units)`, the bias `(units,)` or empty, and `z` and `dz` are
//! `(batch, units)`.
//!
//! Every element of the forward pass is computed by the same sequence of operations
//! whatever the batch size and whatever the row's position in the batch, so a row's
//! output does not depend on how many rows are computed together. The input gradient
//! of a layer that is not wide (see below) has the same property. The AVX2 version
//! fuses each multiply-add into one FMA, which rounds once, and sums dot products in
//! another order, so its results can differ in the last bits from the generic code. One
//! machine always picks the same version, so training stays bit-identical from run to
//! run there, but two machines whose CPUs differ in AVX2 or FMA support can give
//! slightly different weights.
//!
//! The AVX2 kernels need Rust 1.87, which lets safe code call the `std::arch`
//! intrinsics inside a `#[target_feature]` function.
//!
//! Wide layers, with at least 32 inputs and 32 units ([`wide::MIN_WIDTH`]), run on the
//! cache-blocked matrix multiply of the `gemm` crate, without threads, in `wide`. On
//! the 2.0 GHz Zen 1 machine of `BENCHMARKS.md`, at batches of 32 and 256, it ran the
//! forward pass of a 32×32 layer 1.6 times as fast as the AVX2 loops. It ran the
//! backward pass 2.2 to 2.9 times as fast, and those of a 256×256 layer 2.0 to 2.2
//! and 2.8 times as fast. At 16×16 its forward pass was 0.9 times as fast, so narrower
//! layers, such as those of the default 1-30-1 network, keep the loops of this module
//! and `avx2`. gemm chooses its SIMD instructions at run time by itself, whatever
//! [`Isa`] is.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod shallow;
mod sine;
mod tanh;
mod wide;

pub(crate) use sine::{cos_in_place, sin_in_place};
pub(crate) use tanh::tanh;

pub(crate) use shallow::{
    ShallowGradients, ShallowNetwork, ShallowScratch, shallow_step, supported as shallow_supported,
};

/// Lanes per vector accumulator: one AVX2 register of f32.
const LANES: usize = 8;

/// Rows that share each load of a kernel or accumulator chunk.
const BLOCK_ROWS: usize = 4;

/// The instruction set that the kernels run with, detected at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Isa {
    /// True only when the running CPU was checked to support AVX2 and FMA.
    avx2_fma: bool,
}

impl Isa {
    /// Returns the fastest instruction set that the running CPU supports.
    pub(crate) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            // std caches the CPUID result, so this is cheap after the first call.
            let avx2_fma = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            Isa { avx2_fma }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Isa { avx2_fma: false }
    }

    /// Returns the baseline target, without any run-time feature.
    #[cfg(test)]
    pub(crate) fn baseline() -> Isa {
        Isa { avx2_fma: false }
    }
}

/// Computes `z = x · kernel + bias` for `batch` rows and writes `z`, or `relu(z)` in
/// the same pass when `relu` is set, into `output`.
///
/// # Panics
/// If a slice is shorter than its shape needs.
#[track_caller]
pub(crate) fn affine(
    isa: Isa,
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    output: &mut [f32],
    relu: bool,
    shape: Shape,
) {
    shape.check(x, kernel, bias, output);

    if wide::is_wide(shape) {
        wide::affine(x, kernel, bias, output, relu, shape);
        return;
    }

    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: `isa.avx2_fma` is only set by `Isa::detect` after the CPU reported
        // AVX2 and FMA, which is all that `avx2::affine` requires.
        unsafe { avx2::affine(x, kernel, bias, output, relu, shape) };
        return;
    }

    let _ = isa;
    affine_generic::<false>(x, kernel, bias, output, shape);
    if relu {
        relu_in_place(&mut output[..shape.batch * shape.units]);
    }
}

/// Computes the kernel gradient `xᵀ · dz`, the bias gradient (the column sums of
/// `dz`) when `bias_grad` is not empty, and the input gradient `dz · kernelᵀ` when
/// `grad_input` is given. Overwrites the three outputs.
///
/// # Panics
/// If a slice is shorter than its shape needs.
#[track_caller]
pub(crate) fn affine_backward(
    isa: Isa,
    gradients: AffineGradients<'_>,
    kernel: &[f32],
    shape: Shape,
) {
    gradients.check(kernel, shape);

    if wide::is_wide(shape) {
        wide::affine_backward(gradients, kernel, shape);
        return;
    }

    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: `isa.avx2_fma` is only set by `Isa::detect` after the CPU reported
        // AVX2 and FMA, which is all that `avx2::affine_backward` requires.
        unsafe { avx2::affine_backward(gradients, kernel, shape) };
        return;
    }

    let _ = isa;
    affine_backward_generic::<false>(gradients, kernel, shape);
}

/// Writes `max(z, 0)` into `output`, with the values of [`Activation::apply`] for
/// relu.
///
/// [`Activation::apply`]: crate::activation::Activation::apply
///
/// # Panics
/// If `z` is shorter than `output`.
pub(crate) fn relu(isa: Isa, z: &[f32], output: &mut [f32]) {
    let z = &z[..output.len()];

    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: `isa.avx2_fma` is only set by `Isa::detect` after the CPU reported
        // AVX2 and FMA, which is all that `avx2::relu` requires.
        unsafe { avx2::relu(z, output) };
        return;
    }

    let _ = isa;
    relu_generic(z, output);
}

/// Writes `grad_output · (1 if z > 0 else 0)` into `grad_z`, the relu gradient with the
/// values of [`Activation::derivative`].
///
/// [`Activation::derivative`]: crate::activation::Activation::derivative
///
/// # Panics
/// If `z` or `grad_output` is shorter than `grad_z`.
pub(crate) fn relu_backward(isa: Isa, z: &[f32], grad_output: &[f32], grad_z: &mut [f32]) {
    let len = grad_z.len();
    let (z, grad_output) = (&z[..len], &grad_output[..len]);

    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: `isa.avx2_fma` is only set by `Isa::detect` after the CPU reported
        // AVX2 and FMA, which is all that `avx2::relu_backward` requires.
        unsafe { avx2::relu_backward(z, grad_output, grad_z) };
        return;
    }

    let _ = isa;
    relu_backward_generic(z, grad_output, grad_z);
}

#[inline(always)]
fn relu_generic(z: &[f32], output: &mut [f32]) {
    for (o, &v) in output.iter_mut().zip(z) {
        *o = v.max(0.0);
    }
}

/// Replaces every value `v` by `max(v, 0)`.
#[inline(always)]
fn relu_in_place(values: &mut [f32]) {
    for v in values {
        *v = v.max(0.0);
    }
}

#[inline(always)]
fn relu_backward_generic(z: &[f32], grad_output: &[f32], grad_z: &mut [f32]) {
    for ((d, &v), &g) in grad_z.iter_mut().zip(z).zip(grad_output) {
        *d = g * if v > 0.0 { 1.0 } else { 0.0 };
    }
}

/// The sizes of one affine map over a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub batch: usize,
    pub inputs: usize,
    pub units: usize,
}

impl Shape {
    #[track_caller]
    fn check(self, x: &[f32], kernel: &[f32], bias: &[f32], z: &[f32]) {
        self.check_parameters(x, kernel, bias);
        assert!(z.len() >= self.batch * self.units, "z is too short");
    }

    #[track_caller]
    fn check_parameters(self, x: &[f32], kernel: &[f32], bias: &[f32]) {
        assert!(x.len() >= self.batch * self.inputs, "x is too short");
        assert_eq!(kernel.len(), self.inputs * self.units, "kernel length");
        assert!(bias.is_empty() || bias.len() == self.units, "bias length");
    }
}

/// The inputs and outputs of [`affine_backward`].
#[derive(Debug)]
pub(crate) struct AffineGradients<'a> {
    /// The forward pass's input, `(batch, inputs)`.
    pub x: &'a [f32],
    /// The loss's gradient with respect to `z`.
    pub grad_z: GradZ<'a>,
    /// Output: `(inputs, units)`.
    pub kernel_grad: &'a mut [f32],
    /// Output: `(units,)`, or empty for a layer without bias.
    pub bias_grad: &'a mut [f32],
    /// Output when given: `(batch, inputs)`.
    pub grad_input: Option<&'a mut [f32]>,
}

/// The loss's gradient with respect to `z`, `dz`, each slice `(batch, units)`.
#[derive(Debug)]
pub(crate) enum GradZ<'a> {
    /// `dz` itself.
    Given(&'a [f32]),
    /// The gradient through relu, `dz = grad_output · (1 if output > 0 else 0)`, which
    /// is relu's derivative because relu's output is positive exactly where `z` is.
    /// The kernels compute it in the same pass as the parameter gradients where they
    /// can, and write it into `scratch` where they need it again.
    Relu {
        output: &'a [f32],
        grad_output: &'a [f32],
        scratch: &'a mut [f32],
    },
}

impl GradZ<'_> {
    #[track_caller]
    fn check(&self, len: usize) {
        match self {
            GradZ::Given(dz) => assert!(dz.len() >= len, "dz is too short"),
            GradZ::Relu {
                output,
                grad_output,
                scratch,
            } => {
                assert!(output.len() >= len, "output is too short");
                assert!(grad_output.len() >= len, "grad_output is too short");
                assert!(scratch.len() >= len, "scratch is too short");
            }
        }
    }
}

impl AffineGradients<'_> {
    #[track_caller]
    fn check(&self, kernel: &[f32], shape: Shape) {
        shape.check_parameters(self.x, kernel, self.bias_grad);
        self.grad_z.check(shape.batch * shape.units);
        assert_eq!(self.kernel_grad.len(), kernel.len(), "kernel_grad length");
        if let Some(grad_input) = &self.grad_input {
            assert!(
                grad_input.len() >= shape.batch * shape.inputs,
                "grad_input is too short"
            );
        }
    }
}

/// Returns `a · b + c`, rounded once when `FMA` is set.
#[inline(always)]
fn mul_add<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

#[inline(always)]
fn affine_generic<const FMA: bool>(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    z: &mut [f32],
    shape: Shape,
) {
    let Shape {
        batch,
        inputs,
        units,
    } = shape;
    let x = &x[..batch * inputs];
    let z = &mut z[..batch * units];

    // One unit: each row is a dot product with the kernel column.
    if units == 1 {
        let start = bias.first().copied().unwrap_or(0.0);
        for (zr, xr) in z.iter_mut().zip(x.chunks_exact(inputs)) {
            *zr = dot::<FMA>(xr, kernel, start);
        }
        return;
    }

    // One input or more: blocks of rows share each kernel chunk.
    let x_blocks = x.chunks_exact(BLOCK_ROWS * inputs);
    let x_rest = x_blocks.remainder();
    let mut z_blocks = z.chunks_exact_mut(BLOCK_ROWS * units);
    for (xb, zb) in x_blocks.zip(&mut z_blocks) {
        affine_rows::<FMA, BLOCK_ROWS>(xb, kernel, bias, zb, inputs, units);
    }
    let z_rest = z_blocks.into_remainder();
    for (xr, zr) in x_rest
        .chunks_exact(inputs)
        .zip(z_rest.chunks_exact_mut(units))
    {
        affine_rows::<FMA, 1>(xr, kernel, bias, zr, inputs, units);
    }
}

/// Computes `R` rows of `z = x · kernel + bias`. Each element starts at its bias and
/// adds `x[r, i] · kernel[i, j]` for `i = 0, 1, …` in order, whatever `R` is.
#[inline(always)]
fn affine_rows<const FMA: bool, const R: usize>(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    z: &mut [f32],
    inputs: usize,
    units: usize,
) {
    if units < LANES {
        for j in 0..units {
            for r in 0..R {
                let mut acc = bias.get(j).copied().unwrap_or(0.0);
                for i in 0..inputs {
                    acc = mul_add::<FMA>(x[r * inputs + i], kernel[i * units + j], acc);
                }
                z[r * units + j] = acc;
            }
        }
        return;
    }

    // A last chunk that overlaps the one before it recomputes the shared columns with
    // the same operations, so the values it stores again are unchanged.
    for j in chunk_starts(units) {
        let mut acc = [[0.0f32; LANES]; R];
        if !bias.is_empty() {
            acc = [lanes(&bias[j..]); R];
        }
        for i in 0..inputs {
            let k = lanes(&kernel[i * units + j..]);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let s = x[r * inputs + i];
                for l in 0..LANES {
                    acc_r[l] = mul_add::<FMA>(s, k[l], acc_r[l]);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            z[r * units + j..][..LANES].copy_from_slice(acc_r);
        }
    }
}

/// Returns the starts of the chunks of `LANES` columns that cover `cols >= LANES`
/// columns: 0, `LANES`, `2 · LANES`, … while a whole chunk fits, and last
/// `cols - LANES`, which overlaps the chunk before it when `cols` is not a multiple of
/// `LANES`.
#[inline(always)]
fn chunk_starts(cols: usize) -> ChunkStarts {
    debug_assert!(cols >= LANES);
    ChunkStarts {
        next: 0,
        last: cols - LANES,
        done: false,
    }
}

/// The iterator of [`chunk_starts`], written out because a chained iterator compiled
/// to a slower loop.
struct ChunkStarts {
    next: usize,
    last: usize,
    done: bool,
}

impl Iterator for ChunkStarts {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.done {
            return None;
        }
        let start = self.next.min(self.last);
        self.done = start == self.last;
        self.next += LANES;
        Some(start)
    }
}

#[inline(always)]
fn affine_backward_generic<const FMA: bool>(
    gradients: AffineGradients<'_>,
    kernel: &[f32],
    shape: Shape,
) {
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
    let x = &x[..batch * inputs];
    let dz = resolve_generic(grad_z, batch * units);

    // kernel_grad = xᵀ · dz. With one unit the kernel is a column, so its gradient
    // equals dzᵀ · x, which keeps the long dimension in the inner loop.
    kernel_grad.fill(0.0);
    if units == 1 {
        add_outer_products::<FMA>(kernel_grad, dz, x, 1, inputs);
    } else {
        add_outer_products::<FMA>(kernel_grad, x, dz, inputs, units);
    }

    if !bias_grad.is_empty() {
        column_sums::<FMA>(bias_grad, dz, units);
    }

    let Some(grad_input) = grad_input else { return };
    let grad_input = &mut grad_input[..batch * inputs];
    if units == 1 {
        for (dx, &d) in grad_input.chunks_exact_mut(inputs).zip(dz) {
            for (dxi, &k) in dx.iter_mut().zip(kernel) {
                *dxi = k * d;
            }
        }
        return;
    }
    for (dx, dz_row) in grad_input
        .chunks_exact_mut(inputs)
        .zip(dz.chunks_exact(units))
    {
        for (dxi, kernel_row) in dx.iter_mut().zip(kernel.chunks_exact(units)) {
            *dxi = dot::<FMA>(kernel_row, dz_row, 0.0);
        }
    }
}

/// Returns the first `len` values of `dz`, computing them first for relu.
#[inline(always)]
fn resolve_generic<'a>(grad_z: GradZ<'a>, len: usize) -> &'a [f32] {
    match grad_z {
        GradZ::Given(dz) => &dz[..len],
        GradZ::Relu {
            output,
            grad_output,
            scratch,
        } => {
            let dz = &mut scratch[..len];
            relu_backward_generic(&output[..len], &grad_output[..len], dz);
            dz
        }
    }
}

/// Adds `aᵀ · b` to `acc`, where `a` is `(rows, a_cols)`, `b` is `(rows, b_cols)` and
/// `acc` is `(a_cols, b_cols)`. Each element adds its row terms in row order.
#[inline(always)]
fn add_outer_products<const FMA: bool>(
    acc: &mut [f32],
    a: &[f32],
    b: &[f32],
    a_cols: usize,
    b_cols: usize,
) {
    let a_blocks = a.chunks_exact(BLOCK_ROWS * a_cols);
    let a_rest = a_blocks.remainder();
    let mut b_blocks = b.chunks_exact(BLOCK_ROWS * b_cols);
    for (ab, bb) in a_blocks.zip(&mut b_blocks) {
        for (i, acc_row) in acc.chunks_exact_mut(b_cols).enumerate() {
            let scales: [f32; BLOCK_ROWS] = std::array::from_fn(|r| ab[r * a_cols + i]);
            add_scaled_rows::<FMA, BLOCK_ROWS>(acc_row, scales, bb);
        }
    }

    let b_rest = b_blocks.remainder();
    for (ar, br) in a_rest.chunks_exact(a_cols).zip(b_rest.chunks_exact(b_cols)) {
        for (acc_row, &s) in acc.chunks_exact_mut(b_cols).zip(ar) {
            add_scaled_rows::<FMA, 1>(acc_row, [s], br);
        }
    }
}

/// Adds `Σ_r scales[r] · rows[r]` to `acc`, one row after the other, where `rows`
/// contains `R` rows of `acc.len()` values.
#[inline(always)]
fn add_scaled_rows<const FMA: bool, const R: usize>(
    acc: &mut [f32],
    scales: [f32; R],
    rows: &[f32],
) {
    let cols = acc.len();
    if cols < LANES {
        for (j, acc_j) in acc.iter_mut().enumerate() {
            for (r, &s) in scales.iter().enumerate() {
                *acc_j = mul_add::<FMA>(s, rows[r * cols + j], *acc_j);
            }
        }
        return;
    }

    // The last chunk is computed first, from the values before the update, and stored
    // last. Where it overlaps the chunk before it, both compute the same values.
    let last = cols - LANES;
    let last_chunk = scaled_chunk::<FMA, R>(lanes(&acc[last..]), scales, rows, cols, last);
    for j in (0..last).step_by(LANES) {
        let chunk = scaled_chunk::<FMA, R>(lanes(&acc[j..]), scales, rows, cols, j);
        acc[j..j + LANES].copy_from_slice(&chunk);
    }
    acc[last..].copy_from_slice(&last_chunk);
}

/// Returns `start + Σ_r scales[r] · rows[r, j..j + LANES]`, one row after the other,
/// where `rows` has `cols` columns.
#[inline(always)]
fn scaled_chunk<const FMA: bool, const R: usize>(
    start: [f32; LANES],
    scales: [f32; R],
    rows: &[f32],
    cols: usize,
    j: usize,
) -> [f32; LANES] {
    let mut sum = start;
    for (r, &s) in scales.iter().enumerate() {
        let row = lanes(&rows[r * cols + j..]);
        for l in 0..LANES {
            sum[l] = mul_add::<FMA>(s, row[l], sum[l]);
        }
    }
    sum
}

/// Overwrites `sums` with the column sums of `rows`, a matrix of `cols` columns.
#[inline(always)]
fn column_sums<const FMA: bool>(sums: &mut [f32], rows: &[f32], cols: usize) {
    if cols == 1 {
        sums[0] = lane_sum(rows);
        return;
    }

    // Adding 1 · v rounds exactly like adding v, with or without FMA.
    sums.fill(0.0);
    let blocks = rows.chunks_exact(BLOCK_ROWS * cols);
    let rest = blocks.remainder();
    for block in blocks {
        add_scaled_rows::<FMA, BLOCK_ROWS>(sums, [1.0; BLOCK_ROWS], block);
    }
    for row in rest.chunks_exact(cols) {
        add_scaled_rows::<FMA, 1>(sums, [1.0], row);
    }
}

/// Returns `start + a · b` for slices of equal length: eight partial sums over chunks
/// of eight, added in a fixed tree. When the length is not a multiple of eight, the
/// last chunk ends at the last element and its lanes before that are masked to zero.
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32], start: f32) -> f32 {
    let len = a.len().min(b.len());
    if len < LANES {
        let terms = a.iter().zip(b);
        return terms.fold(start, |sum, (&av, &bv)| mul_add::<FMA>(av, bv, sum));
    }

    let mut acc = [0.0f32; LANES];
    for (ac, bc) in a[..len].chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] = mul_add::<FMA>(ac[l], bc[l], acc[l]);
        }
    }

    let rest = len % LANES;
    if rest > 0 {
        let (ac, bc) = (lanes(&a[len - LANES..]), lanes(&b[len - LANES..len]));
        for l in 0..LANES {
            let av = if l + rest >= LANES { ac[l] } else { 0.0 };
            acc[l] = mul_add::<FMA>(av, bc[l], acc[l]);
        }
    }
    start + tree_sum(acc)
}

/// Returns the sum of `values`: eight partial sums, added in a fixed tree, then the
/// remaining values in order.
#[inline(always)]
fn lane_sum(values: &[f32]) -> f32 {
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    let mut acc = [0.0f32; LANES];
    for chunk in chunks {
        for l in 0..LANES {
            acc[l] += chunk[l];
        }
    }
    rest.iter().fold(tree_sum(acc), |sum, &v| sum + v)
}

#[inline(always)]
fn tree_sum(acc: [f32; LANES]) -> f32 {
    let quad = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (quad[0] + quad[2]) + (quad[1] + quad[3])
}

/// Returns the first `LANES` values of `values`.
#[inline(always)]
fn lanes(values: &[f32]) -> [f32; LANES] {
    values[..LANES].try_into().expect("LANES values")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `n` values with an uneven pattern in [-1, 1].
    fn pattern(n: usize, phase: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.731 + phase).sin()).collect()
    }

    fn instruction_sets() -> Vec<Isa> {
        let mut sets = vec![Isa::baseline()];
        if Isa::detect() != Isa::baseline() {
            sets.push(Isa::detect());
        }
        sets
    }

    /// Shapes covering one input, one unit, widths below, at and above one vector, and
    /// batches below and above one block of rows.
    const SHAPES: [Shape; 9] = [
        Shape {
            batch: 1,
            inputs: 1,
            units: 1,
        },
        Shape {
            batch: 5,
            inputs: 1,
            units: 30,
        },
        Shape {
            batch: 7,
            inputs: 30,
            units: 1,
        },
        Shape {
            batch: 9,
            inputs: 3,
            units: 2,
        },
        Shape {
            batch: 4,
            inputs: 8,
            units: 8,
        },
        Shape {
            batch: 6,
            inputs: 17,
            units: 19,
        },
        Shape {
            batch: 33,
            inputs: 2,
            units: 64,
        },
        Shape {
            batch: 20,
            inputs: 30,
            units: 1,
        },
        Shape {
            batch: 9,
            inputs: 13,
            units: 1,
        },
    ];

    /// Shapes that take the wide kernels: one row, a whole block of rows and a padded
    /// rest, and whole blocks.
    const WIDE_SHAPES: [Shape; 3] = [
        Shape {
            batch: 1,
            inputs: 32,
            units: 32,
        },
        Shape {
            batch: 45,
            inputs: 40,
            units: 33,
        },
        Shape {
            batch: 64,
            inputs: 96,
            units: 64,
        },
    ];

    /// Asserts that `actual` and `expected`, sums of `terms` products of values in
    /// [-1, 1], differ by at most 1e-6 per term: about eight times the worst rounding
    /// error of two f32 sums of that length.
    #[track_caller]
    fn assert_sums_close(actual: &[f32], expected: &[f32], terms: usize, label: &str) {
        assert_eq!(actual.len(), expected.len(), "{label} length");
        let tolerance = 1e-6 * terms as f32;
        for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() <= tolerance, "{label}[{i}]: {a} against {e}");
        }
    }

    #[test]
    fn wide_affine_matches_generic() {
        for isa in instruction_sets() {
            for shape in WIDE_SHAPES {
                assert!(wide::is_wide(shape), "{shape:?} is not wide");
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 2.1);
                let kernel = pattern(inputs * units, 2.2);
                let bias = pattern(units, 2.3);

                for bias in [&bias[..], &[]] {
                    let mut wide = vec![f32::NAN; batch * units];
                    affine(isa, &x, &kernel, bias, &mut wide, false, shape);
                    let mut generic = vec![f32::NAN; batch * units];
                    affine_generic::<false>(&x, &kernel, bias, &mut generic, shape);
                    let label = format!("{isa:?} {shape:?} bias {} z", bias.len());
                    assert_sums_close(&wide, &generic, inputs, &label);
                }
            }
        }
    }

    #[test]
    fn wide_affine_backward_matches_generic() {
        for isa in instruction_sets() {
            for shape in WIDE_SHAPES {
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 2.4);
                let dz = pattern(batch * units, 2.5);
                let kernel = pattern(inputs * units, 2.6);
                let wide = run_backward(isa, &x, &kernel, shape, GradZ::Given(&dz));

                let mut kernel_grad = vec![f32::NAN; inputs * units];
                let mut bias_grad = vec![f32::NAN; units];
                let mut grad_input = vec![f32::NAN; batch * inputs];
                let gradients = AffineGradients {
                    x: &x,
                    grad_z: GradZ::Given(&dz),
                    kernel_grad: &mut kernel_grad,
                    bias_grad: &mut bias_grad,
                    grad_input: Some(&mut grad_input),
                };
                affine_backward_generic::<false>(gradients, &kernel, shape);

                let label = |name: &str| format!("{isa:?} {shape:?} {name}");
                assert_sums_close(&wide.0, &kernel_grad, batch, &label("kernel_grad"));
                assert_sums_close(&wide.1, &bias_grad, batch, &label("bias_grad"));
                assert_sums_close(&wide.2, &grad_input, units, &label("grad_input"));
            }
        }
    }

    #[test]
    fn wide_backward_without_bias_or_input() {
        let shape = WIDE_SHAPES[1];
        let x = pattern(shape.batch * shape.inputs, 2.7);
        let dz = pattern(shape.batch * shape.units, 2.8);
        let kernel = pattern(shape.inputs * shape.units, 2.9);
        let expected = run_backward(Isa::detect(), &x, &kernel, shape, GradZ::Given(&dz));

        let mut kernel_grad = vec![f32::NAN; kernel.len()];
        let gradients = AffineGradients {
            x: &x,
            grad_z: GradZ::Given(&dz),
            kernel_grad: &mut kernel_grad,
            bias_grad: &mut [],
            grad_input: None,
        };
        affine_backward(Isa::detect(), gradients, &kernel, shape);
        assert_eq!(bits(&kernel_grad), bits(&expected.0));
    }

    #[test]
    fn affine_matches_f64_reference() {
        for isa in instruction_sets() {
            for shape in SHAPES {
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 0.1);
                let kernel = pattern(inputs * units, 0.2);
                let bias = pattern(units, 0.3);
                let mut z = vec![0.0; batch * units];
                affine(isa, &x, &kernel, &bias, &mut z, false, shape);

                for b in 0..batch {
                    for j in 0..units {
                        let expected: f64 = bias[j] as f64
                            + (0..inputs)
                                .map(|i| x[b * inputs + i] as f64 * kernel[i * units + j] as f64)
                                .sum::<f64>();
                        let actual = z[b * units + j] as f64;
                        assert!(
                            (actual - expected).abs() < 1e-5,
                            "{isa:?} {shape:?} z[{b}, {j}]: {actual} against {expected}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn affine_row_does_not_depend_on_batch() {
        for isa in instruction_sets() {
            for shape in SHAPES.into_iter().chain(WIDE_SHAPES) {
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 0.4);
                let kernel = pattern(inputs * units, 0.5);
                let bias = pattern(units, 0.6);
                let mut all = vec![0.0; batch * units];
                affine(isa, &x, &kernel, &bias, &mut all, false, shape);

                let single = Shape { batch: 1, ..shape };
                for b in 0..batch {
                    let mut one = vec![0.0; units];
                    affine(
                        isa,
                        &x[b * inputs..],
                        &kernel,
                        &bias,
                        &mut one,
                        false,
                        single,
                    );
                    assert_eq!(
                        &all[b * units..][..units],
                        &one[..],
                        "{isa:?} {shape:?} row {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn affine_backward_matches_f64_reference() {
        for isa in instruction_sets() {
            for shape in SHAPES {
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 0.7);
                let dz = pattern(batch * units, 0.8);
                let kernel = pattern(inputs * units, 0.9);
                let mut kernel_grad = vec![f32::NAN; inputs * units];
                let mut bias_grad = vec![f32::NAN; units];
                let mut grad_input = vec![f32::NAN; batch * inputs];
                let gradients = AffineGradients {
                    x: &x,
                    grad_z: GradZ::Given(&dz),
                    kernel_grad: &mut kernel_grad,
                    bias_grad: &mut bias_grad,
                    grad_input: Some(&mut grad_input),
                };
                affine_backward(isa, gradients, &kernel, shape);

                let close = |actual: f32, expected: f64, what: String| {
                    assert!(
                        (actual as f64 - expected).abs() < 1e-5,
                        "{isa:?} {shape:?} {what}: {actual} against {expected}"
                    );
                };
                for i in 0..inputs {
                    for j in 0..units {
                        let expected = (0..batch)
                            .map(|b| x[b * inputs + i] as f64 * dz[b * units + j] as f64)
                            .sum();
                        close(
                            kernel_grad[i * units + j],
                            expected,
                            format!("kernel_grad[{i}, {j}]"),
                        );
                    }
                }
                for j in 0..units {
                    let expected = (0..batch).map(|b| dz[b * units + j] as f64).sum();
                    close(bias_grad[j], expected, format!("bias_grad[{j}]"));
                }
                for b in 0..batch {
                    for i in 0..inputs {
                        let expected = (0..units)
                            .map(|j| kernel[i * units + j] as f64 * dz[b * units + j] as f64)
                            .sum();
                        close(
                            grad_input[b * inputs + i],
                            expected,
                            format!("grad_input[{b}, {i}]"),
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fused_relu_matches_separate_relu() {
        for isa in instruction_sets() {
            for shape in SHAPES.into_iter().chain(WIDE_SHAPES) {
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 1.0);
                let kernel = pattern(inputs * units, 1.1);
                let bias = pattern(units, 1.2);
                let mut z = vec![0.0; batch * units];
                affine(isa, &x, &kernel, &bias, &mut z, false, shape);
                let mut fused = vec![f32::NAN; batch * units];
                affine(isa, &x, &kernel, &bias, &mut fused, true, shape);

                let mut separate = vec![f32::NAN; batch * units];
                relu(isa, &z, &mut separate);
                assert_eq!(bits(&fused), bits(&separate), "{isa:?} {shape:?}");
            }
        }
    }

    #[test]
    fn fused_relu_backward_matches_separate() {
        for isa in instruction_sets() {
            for shape in SHAPES.into_iter().chain(WIDE_SHAPES) {
                let Shape {
                    batch,
                    inputs,
                    units,
                } = shape;
                let x = pattern(batch * inputs, 1.3);
                // Shifted so that about a third of z is negative.
                let z: Vec<f32> = pattern(batch * units, 1.4)
                    .iter()
                    .map(|v| v + 0.5)
                    .collect();
                let grad_output = pattern(batch * units, 1.5);
                let kernel = pattern(inputs * units, 1.6);

                let mut scratch = vec![f32::NAN; batch * units];
                let fused = run_backward(
                    isa,
                    &x,
                    &kernel,
                    shape,
                    GradZ::Relu {
                        output: &z,
                        grad_output: &grad_output,
                        scratch: &mut scratch,
                    },
                );

                let mut dz = vec![f32::NAN; batch * units];
                relu_backward(isa, &z, &grad_output, &mut dz);
                let separate = run_backward(isa, &x, &kernel, shape, GradZ::Given(&dz));
                for (name, a, b) in [
                    ("kernel_grad", &fused.0, &separate.0),
                    ("bias_grad", &fused.1, &separate.1),
                    ("grad_input", &fused.2, &separate.2),
                ] {
                    assert_eq!(bits(a), bits(b), "{isa:?} {shape:?} {name}");
                }
            }
        }
    }

    /// Runs `affine_backward` and returns the kernel, bias and input gradients.
    fn run_backward(
        isa: Isa,
        x: &[f32],
        kernel: &[f32],
        shape: Shape,
        grad_z: GradZ<'_>,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut kernel_grad = vec![f32::NAN; kernel.len()];
        let mut bias_grad = vec![f32::NAN; shape.units];
        let mut grad_input = vec![f32::NAN; shape.batch * shape.inputs];
        let gradients = AffineGradients {
            x,
            grad_z,
            kernel_grad: &mut kernel_grad,
            bias_grad: &mut bias_grad,
            grad_input: Some(&mut grad_input),
        };
        affine_backward(isa, gradients, kernel, shape);
        (kernel_grad, bias_grad, grad_input)
    }

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|v| v.to_bits()).collect()
    }
}
