//! The kernels written with AVX2 and FMA intrinsics, eight f32 lanes per register.
//!
//! Every function here is compiled with AVX2 and FMA enabled, so the parent module
//! calls them only after `Isa::detect` confirmed both. Each output element goes
//! through the same operations, in the same order, as in the parent's generic code
//! with `FMA` set, except for the order of the terms inside a dot product or a sum.

use std::arch::x86_64::{
    __m256, _CMP_GT_OQ, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
    _mm256_add_ps, _mm256_and_ps, _mm256_castps256_ps128, _mm256_castsi256_ps, _mm256_cmp_ps,
    _mm256_cmpgt_epi32, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps,
    _mm256_mul_ps, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps,
    _mm256_storeu_ps,
};

use super::{AffineGradients, BLOCK_ROWS, LANES, Shape, chunk_starts};

#[target_feature(enable = "avx2,fma")]
pub(super) fn affine(x: &[f32], kernel: &[f32], bias: &[f32], z: &mut [f32], shape: Shape) {
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
            *zr = dot(xr, kernel, start);
        }
        return;
    }
    if units < LANES {
        super::affine_generic::<true>(x, kernel, bias, z, shape);
        return;
    }

    let x_blocks = x.chunks_exact(BLOCK_ROWS * inputs);
    let x_rest = x_blocks.remainder();
    let mut z_blocks = z.chunks_exact_mut(BLOCK_ROWS * units);
    for (xb, zb) in x_blocks.zip(&mut z_blocks) {
        affine_rows::<BLOCK_ROWS>(xb, kernel, bias, zb, inputs, units);
    }
    let z_rest = z_blocks.into_remainder();
    for (xr, zr) in x_rest
        .chunks_exact(inputs)
        .zip(z_rest.chunks_exact_mut(units))
    {
        affine_rows::<1>(xr, kernel, bias, zr, inputs, units);
    }
}

/// Computes `R` rows of `z = x · kernel + bias` for `units >= LANES`: each element
/// starts at its bias and adds `x[r, i] · kernel[i, j]` for `i = 0, 1, …` in order.
/// A last chunk that overlaps the one before it stores the same values again.
#[target_feature(enable = "avx2,fma")]
fn affine_rows<const R: usize>(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    z: &mut [f32],
    inputs: usize,
    units: usize,
) {
    for j in chunk_starts(units) {
        let start = if bias.is_empty() {
            _mm256_setzero_ps()
        } else {
            load(&bias[j..])
        };
        let mut acc = [start; R];
        for i in 0..inputs {
            let k = load(&kernel[i * units + j..]);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                *acc_r = _mm256_fmadd_ps(_mm256_set1_ps(x[r * inputs + i]), k, *acc_r);
            }
        }
        for (r, &acc_r) in acc.iter().enumerate() {
            store(&mut z[r * units + j..], acc_r);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn affine_backward(gradients: AffineGradients<'_>, kernel: &[f32], shape: Shape) {
    let Shape {
        batch,
        inputs,
        units,
    } = shape;
    let AffineGradients {
        x,
        dz,
        kernel_grad,
        bias_grad,
        grad_input,
    } = gradients;
    let x = &x[..batch * inputs];
    let dz = &dz[..batch * units];

    // kernel_grad = xᵀ · dz; with one unit it equals dzᵀ · x, whose rows are long.
    kernel_grad.fill(0.0);
    if units == 1 {
        add_outer_products(kernel_grad, dz, x, 1, inputs);
    } else {
        add_outer_products(kernel_grad, x, dz, inputs, units);
    }

    if !bias_grad.is_empty() {
        column_sums(bias_grad, dz, units);
    }

    let Some(grad_input) = grad_input else { return };
    let grad_input = &mut grad_input[..batch * inputs];
    if units == 1 {
        for (dx, &d) in grad_input.chunks_exact_mut(inputs).zip(dz) {
            scale(dx, kernel, d);
        }
        return;
    }
    for (dx, dz_row) in grad_input
        .chunks_exact_mut(inputs)
        .zip(dz.chunks_exact(units))
    {
        for (dxi, kernel_row) in dx.iter_mut().zip(kernel.chunks_exact(units)) {
            *dxi = dot(kernel_row, dz_row, 0.0);
        }
    }
}

/// Writes `max(z, 0)` into `output`; a NaN in `z` gives 0, as `f32::max` does.
#[target_feature(enable = "avx2,fma")]
pub(super) fn relu(z: &[f32], output: &mut [f32]) {
    let len = output.len();
    if len < LANES {
        super::relu_generic(z, output);
        return;
    }

    // An overlapping last chunk writes the same values again. `max_ps` returns its
    // second operand, 0, when the first is NaN.
    let zero = _mm256_setzero_ps();
    for j in chunk_starts(len) {
        store(&mut output[j..], _mm256_max_ps(load(&z[j..]), zero));
    }
}

/// Writes `grad_output · (1 if z > 0 else 0)` into `grad_z`.
#[target_feature(enable = "avx2,fma")]
pub(super) fn relu_backward(z: &[f32], grad_output: &[f32], grad_z: &mut [f32]) {
    let len = grad_z.len();
    if len < LANES {
        super::relu_backward_generic(z, grad_output, grad_z);
        return;
    }

    // An overlapping last chunk writes the same values again.
    let (zero, one) = (_mm256_setzero_ps(), _mm256_set1_ps(1.0));
    for j in chunk_starts(len) {
        let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(load(&z[j..]), zero);
        let derivative = _mm256_and_ps(positive, one);
        store(
            &mut grad_z[j..],
            _mm256_mul_ps(load(&grad_output[j..]), derivative),
        );
    }
}

/// Adds `aᵀ · b` to `acc`, where `a` is `(rows, a_cols)`, `b` is `(rows, b_cols)` and
/// `acc` is `(a_cols, b_cols)`. Each element adds its row terms in row order.
#[target_feature(enable = "avx2,fma")]
fn add_outer_products(acc: &mut [f32], a: &[f32], b: &[f32], a_cols: usize, b_cols: usize) {
    let a_blocks = a.chunks_exact(BLOCK_ROWS * a_cols);
    let a_rest = a_blocks.remainder();
    let mut b_blocks = b.chunks_exact(BLOCK_ROWS * b_cols);
    for (ab, bb) in a_blocks.zip(&mut b_blocks) {
        for (i, acc_row) in acc.chunks_exact_mut(b_cols).enumerate() {
            let scales: [f32; BLOCK_ROWS] = std::array::from_fn(|r| ab[r * a_cols + i]);
            add_scaled_rows(acc_row, scales, bb);
        }
    }

    let b_rest = b_blocks.remainder();
    for (ar, br) in a_rest.chunks_exact(a_cols).zip(b_rest.chunks_exact(b_cols)) {
        for (acc_row, &s) in acc.chunks_exact_mut(b_cols).zip(ar) {
            add_scaled_rows(acc_row, [s], br);
        }
    }
}

/// Adds `Σ_r scales[r] · rows[r]` to `acc`, one row after the other, where `rows`
/// holds `R` rows of `acc.len()` values.
#[target_feature(enable = "avx2,fma")]
fn add_scaled_rows<const R: usize>(acc: &mut [f32], scales: [f32; R], rows: &[f32]) {
    let cols = acc.len();
    if cols < LANES {
        for (j, acc_j) in acc.iter_mut().enumerate() {
            for (r, &s) in scales.iter().enumerate() {
                *acc_j = s.mul_add(rows[r * cols + j], *acc_j);
            }
        }
        return;
    }

    // The last chunk is computed first, from the values before the update, and stored
    // last. Where it overlaps the chunk before it, both compute the same values.
    let last = cols - LANES;
    let last_chunk = scaled_chunk(load(&acc[last..]), scales, rows, cols, last);
    for j in (0..last).step_by(LANES) {
        let sum = scaled_chunk(load(&acc[j..]), scales, rows, cols, j);
        store(&mut acc[j..], sum);
    }
    store(&mut acc[last..], last_chunk);
}

/// Returns `start + Σ_r scales[r] · rows[r, j..j + LANES]`, one row after the other,
/// where `rows` has `cols` columns.
#[target_feature(enable = "avx2,fma")]
fn scaled_chunk<const R: usize>(
    start: __m256,
    scales: [f32; R],
    rows: &[f32],
    cols: usize,
    j: usize,
) -> __m256 {
    let mut sum = start;
    for (r, &s) in scales.iter().enumerate() {
        sum = _mm256_fmadd_ps(_mm256_set1_ps(s), load(&rows[r * cols + j..]), sum);
    }
    sum
}

/// Overwrites `sums` with the column sums of `rows`, a matrix of `cols` columns.
#[target_feature(enable = "avx2,fma")]
fn column_sums(sums: &mut [f32], rows: &[f32], cols: usize) {
    if cols == 1 {
        sums[0] = sum(rows);
        return;
    }

    // Adding 1 · v rounds exactly like adding v.
    sums.fill(0.0);
    let blocks = rows.chunks_exact(BLOCK_ROWS * cols);
    let rest = blocks.remainder();
    for block in blocks {
        add_scaled_rows(sums, [1.0; BLOCK_ROWS], block);
    }
    for row in rest.chunks_exact(cols) {
        add_scaled_rows(sums, [1.0], row);
    }
}

/// Writes `values · factor` into `output`, element by element.
#[target_feature(enable = "avx2,fma")]
fn scale(output: &mut [f32], values: &[f32], factor: f32) {
    let len = output.len();
    if len < LANES {
        for (o, &v) in output.iter_mut().zip(values) {
            *o = v * factor;
        }
        return;
    }

    // An overlapping last chunk writes the same products again.
    let factor = _mm256_set1_ps(factor);
    for j in chunk_starts(len) {
        store(&mut output[j..], _mm256_mul_ps(load(&values[j..]), factor));
    }
}

/// Returns `start + a · b` for slices of equal length: one vector of partial sums
/// over chunks of eight, then a fixed tree over its lanes. When the length is not a
/// multiple of eight, the last chunk ends at the last element and its lanes that the
/// chunk before it already covered are masked to zero.
#[target_feature(enable = "avx2,fma")]
fn dot(a: &[f32], b: &[f32], start: f32) -> f32 {
    let len = a.len();
    assert_eq!(b.len(), len, "dot product of slices of different lengths");
    if len < LANES {
        return a
            .iter()
            .zip(b)
            .fold(start, |sum, (&u, &v)| u.mul_add(v, sum));
    }

    let full = len - len % LANES;
    let mut acc = _mm256_setzero_ps();
    for j in (0..full).step_by(LANES) {
        acc = _mm256_fmadd_ps(load(&a[j..]), load(&b[j..]), acc);
    }
    if full < len {
        let last = len - LANES;
        let u = _mm256_and_ps(load(&a[last..]), tail_mask(len - full));
        acc = _mm256_fmadd_ps(u, load(&b[last..]), acc);
    }
    start + horizontal_sum(acc)
}

/// Returns the sum of `values`, in the same order as [`dot`].
#[target_feature(enable = "avx2,fma")]
fn sum(values: &[f32]) -> f32 {
    let len = values.len();
    if len < LANES {
        return values.iter().sum();
    }

    let full = len - len % LANES;
    let mut acc = _mm256_setzero_ps();
    for j in (0..full).step_by(LANES) {
        acc = _mm256_add_ps(load(&values[j..]), acc);
    }
    if full < len {
        let last = len - LANES;
        let tail = _mm256_and_ps(load(&values[last..]), tail_mask(len - full));
        acc = _mm256_add_ps(tail, acc);
    }
    horizontal_sum(acc)
}

/// Returns a mask that keeps the last `count` of the eight lanes.
#[target_feature(enable = "avx2,fma")]
fn tail_mask(count: usize) -> __m256 {
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let first_kept = (LANES - count) as i32;
    _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(first_kept - 1)))
}

/// Returns `((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7))`.
#[target_feature(enable = "avx2,fma")]
fn horizontal_sum(v: __m256) -> f32 {
    let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let single = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
    _mm_cvtss_f32(single)
}

/// Returns the first eight values of `values` as a vector.
///
/// # Panics
/// If `values` has fewer than eight values.
#[target_feature(enable = "avx2,fma")]
fn load(values: &[f32]) -> __m256 {
    let chunk: &[f32; LANES] = values[..LANES].try_into().expect("eight values");
    // SAFETY: `chunk` is eight readable f32 values, and loadu has no alignment
    // requirement.
    unsafe { _mm256_loadu_ps(chunk.as_ptr()) }
}

/// Writes `vector` into the first eight values of `values`.
///
/// # Panics
/// If `values` has fewer than eight values.
#[target_feature(enable = "avx2,fma")]
fn store(values: &mut [f32], vector: __m256) {
    let chunk: &mut [f32; LANES] = (&mut values[..LANES]).try_into().expect("eight values");
    // SAFETY: `chunk` is eight writable f32 values, and storeu has no alignment
    // requirement.
    unsafe { _mm256_storeu_ps(chunk.as_mut_ptr(), vector) }
}
