//! The kernels written with AVX2 and FMA intrinsics, eight f32 lanes per register.
//!
//! Every function here is compiled with AVX2 and FMA enabled, so the parent module
//! calls them only after `Isa::detect` confirmed both. As in the parent's generic
//! code, each output element goes through the same operations whatever the batch
//! size, which `affine_row_does_not_depend_on_batch` checks.

use std::arch::x86_64::{
    __m256, _CMP_GT_OQ, _mm_add_ss, _mm_cvtss_f32, _mm256_add_ps, _mm256_and_ps, _mm256_blendv_ps,
    _mm256_castps256_ps128, _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cmpgt_epi32,
    _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_hadd_ps, _mm256_loadu_ps, _mm256_max_ps,
    _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32,
    _mm256_setzero_ps, _mm256_storeu_ps,
};

use super::{AffineGradients, BLOCK_ROWS, GradZ, LANES, Shape, chunk_starts};

#[target_feature(enable = "avx2,fma")]
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
    let x = &x[..batch * inputs];
    let output = &mut output[..batch * units];

    if units < LANES {
        // One unit: each row is a dot product with the kernel column.
        if units == 1 {
            let start = bias.first().copied().unwrap_or(0.0);
            dot_rows(x, kernel, start, output);
        } else {
            super::affine_generic::<true>(x, kernel, bias, output, shape);
        }
        if relu {
            super::relu_in_place(output);
        }
        return;
    }
    if inputs == 1 {
        outer_product(x, kernel, bias, output, relu, units);
        return;
    }

    let blocks = batch / BLOCK_ROWS;
    for first in (0..blocks * BLOCK_ROWS).step_by(BLOCK_ROWS) {
        let (xb, ob) = (&x[first * inputs..], &mut output[first * units..]);
        affine_rows::<BLOCK_ROWS>(xb, kernel, bias, ob, relu, inputs, units);
    }
    for first in blocks * BLOCK_ROWS..batch {
        let (xr, or) = (&x[first * inputs..], &mut output[first * units..]);
        affine_rows::<1>(xr, kernel, bias, or, relu, inputs, units);
    }
}

/// Returns `z`, or `max(z, 0)` when `relu` is set; `max_ps` returns its second
/// operand, 0, when `z` is NaN, as `f32::max` does.
#[target_feature(enable = "avx2,fma")]
fn activate(z: __m256, relu: bool) -> __m256 {
    if relu {
        _mm256_max_ps(z, _mm256_setzero_ps())
    } else {
        z
    }
}

/// Computes `z = x · kernel + bias` for one input and `units >= LANES`, and writes it
/// as [`affine`] does: each element is `fma(x[r], kernel[j], bias[j])`, as in
/// [`affine_rows`]. Each chunk of kernel and bias stays in registers over all rows.
#[target_feature(enable = "avx2,fma")]
fn outer_product(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    output: &mut [f32],
    relu: bool,
    units: usize,
) {
    for j in chunk_starts(units) {
        let k = load(&kernel[j..]);
        let start = if bias.is_empty() {
            _mm256_setzero_ps()
        } else {
            load(&bias[j..])
        };
        for (row, &xr) in output.chunks_exact_mut(units).zip(x) {
            let z = _mm256_fmadd_ps(_mm256_set1_ps(xr), k, start);
            store(&mut row[j..], activate(z, relu));
        }
    }
}

/// Computes `R` rows of `z = x · kernel + bias` for `units >= LANES`, and writes them
/// as [`affine`] does. Each element starts at its bias and adds
/// `x[r, i] · kernel[i, j]` for `i = 0, 1, …` in order. A last chunk that overlaps
/// the one before it stores the same values again.
#[target_feature(enable = "avx2,fma")]
fn affine_rows<const R: usize>(
    x: &[f32],
    kernel: &[f32],
    bias: &[f32],
    output: &mut [f32],
    relu: bool,
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
            store(&mut output[r * units + j..], activate(acc_r, relu));
        }
    }
}

#[target_feature(enable = "avx2,fma")]
pub(super) fn affine_backward(gradients: AffineGradients<'_>, kernel: &[f32], shape: Shape) {
    let len = shape.batch * shape.units;
    let AffineGradients {
        x,
        grad_z,
        kernel_grad,
        bias_grad,
        grad_input,
    } = gradients;
    let x = &x[..shape.batch * shape.inputs];
    let parameters = ParameterGradients {
        kernel_grad,
        bias_grad,
    };

    if shape.units < LANES {
        let dz = match grad_z {
            GradZ::Given(dz) => &dz[..len],
            GradZ::Relu {
                output,
                grad_output,
                scratch,
            } => {
                let dz = &mut scratch[..len];
                relu_backward(&output[..len], &grad_output[..len], dz);
                dz
            }
        };
        if shape.units == 1 && shape.inputs >= LANES {
            one_unit_gradients(x, dz, kernel, parameters, grad_input, shape);
            return;
        }
        narrow_parameter_gradients(x, dz, parameters, shape);
        if let Some(grad_input) = grad_input {
            input_gradient(grad_input, kernel, dz, shape);
        }
        return;
    }

    match grad_z {
        GradZ::Given(dz) => {
            let dz = &dz[..len];
            wide_parameter_gradients(x, DzSource::Given(dz), None, parameters, shape);
            if let Some(grad_input) = grad_input {
                input_gradient(grad_input, kernel, dz, shape);
            }
        }
        GradZ::Relu {
            output,
            grad_output,
            scratch,
        } => {
            let source = DzSource::Relu {
                output: &output[..len],
                grad_output: &grad_output[..len],
            };
            let dz = &mut scratch[..len];
            let keep = grad_input.is_some().then_some(&mut *dz);
            wide_parameter_gradients(x, source, keep, parameters, shape);
            if let Some(grad_input) = grad_input {
                input_gradient(grad_input, kernel, dz, shape);
            }
        }
    }
}

/// The outputs of the parameter gradients: `(inputs, units)` and `(units,)`, or an
/// empty bias gradient for a layer without bias.
struct ParameterGradients<'a> {
    kernel_grad: &'a mut [f32],
    bias_grad: &'a mut [f32],
}

/// The source of `dz` for [`wide_parameter_gradients`].
#[derive(Clone, Copy)]
enum DzSource<'a> {
    Given(&'a [f32]),
    Relu {
        output: &'a [f32],
        grad_output: &'a [f32],
    },
}

/// Returns `dz[offset..offset + LANES]`.
#[target_feature(enable = "avx2,fma")]
fn dz_chunk(source: DzSource<'_>, offset: usize) -> __m256 {
    match source {
        DzSource::Given(dz) => load(&dz[offset..]),
        DzSource::Relu {
            output,
            grad_output,
        } => {
            let positive =
                _mm256_cmp_ps::<_CMP_GT_OQ>(load(&output[offset..]), _mm256_setzero_ps());
            let derivative = _mm256_and_ps(positive, _mm256_set1_ps(1.0));
            _mm256_mul_ps(load(&grad_output[offset..]), derivative)
        }
    }
}

/// Computes the kernel and bias gradients for `units >= LANES` in one pass over
/// blocks of rows, and writes `dz` into `keep` when given. Each gradient element adds
/// its row terms in row order.
#[target_feature(enable = "avx2,fma")]
fn wide_parameter_gradients(
    x: &[f32],
    source: DzSource<'_>,
    mut keep: Option<&mut [f32]>,
    parameters: ParameterGradients<'_>,
    shape: Shape,
) {
    let ParameterGradients {
        kernel_grad,
        bias_grad,
    } = parameters;
    kernel_grad.fill(0.0);
    bias_grad.fill(0.0);
    if shape.inputs == 1 {
        one_input_gradients(x, source, keep, kernel_grad, bias_grad, shape);
        return;
    }

    let blocks = shape.batch / BLOCK_ROWS;
    for first in (0..blocks * BLOCK_ROWS).step_by(BLOCK_ROWS) {
        let keep = keep.as_deref_mut();
        gradient_rows::<BLOCK_ROWS>(x, source, keep, kernel_grad, bias_grad, first, shape);
    }
    for first in blocks * BLOCK_ROWS..shape.batch {
        let keep = keep.as_deref_mut();
        gradient_rows::<1>(x, source, keep, kernel_grad, bias_grad, first, shape);
    }
}

/// Computes the kernel and bias gradients of a one-input layer, `units >= LANES`.
/// Each chunk of the gradients stays in registers over all rows, which
/// adds the row terms in row order, as [`gradient_rows`] does.
#[target_feature(enable = "avx2,fma")]
fn one_input_gradients(
    x: &[f32],
    source: DzSource<'_>,
    mut keep: Option<&mut [f32]>,
    kernel_grad: &mut [f32],
    bias_grad: &mut [f32],
    shape: Shape,
) {
    let units = shape.units;
    let zero = _mm256_setzero_ps();

    for j in chunk_starts(units) {
        let (mut kernel_sum, mut bias_sum) = (zero, zero);
        for (r, &xr) in x[..shape.batch].iter().enumerate() {
            let dz = dz_chunk(source, r * units + j);
            if let Some(keep) = keep.as_deref_mut() {
                store(&mut keep[r * units + j..], dz);
            }
            bias_sum = _mm256_add_ps(bias_sum, dz);
            kernel_sum = _mm256_fmadd_ps(_mm256_set1_ps(xr), dz, kernel_sum);
        }

        // Each chunk sums all rows from zero, so where the last chunk overlaps the
        // one before it, it stores the same values again.
        store(&mut kernel_grad[j..], kernel_sum);
        if !bias_grad.is_empty() {
            store(&mut bias_grad[j..], bias_sum);
        }
    }
}

/// Adds the terms of rows `first..first + R` to the kernel and bias gradients. The
/// last chunk of a width that is not a multiple of `LANES` overlaps the chunk before
/// it, so it updates only its lanes that the chunk before it did not.
#[target_feature(enable = "avx2,fma")]
fn gradient_rows<const R: usize>(
    x: &[f32],
    source: DzSource<'_>,
    mut keep: Option<&mut [f32]>,
    kernel_grad: &mut [f32],
    bias_grad: &mut [f32],
    first: usize,
    shape: Shape,
) {
    let Shape { inputs, units, .. } = shape;
    let new_lanes = match units % LANES {
        0 => None,
        count => Some(tail_mask(count)),
    };
    let last = units - LANES;

    for j in chunk_starts(units) {
        let mut dz = [_mm256_setzero_ps(); R];
        for (r, dz_r) in dz.iter_mut().enumerate() {
            *dz_r = dz_chunk(source, (first + r) * units + j);
        }
        if let Some(keep) = keep.as_deref_mut() {
            for (r, &dz_r) in dz.iter().enumerate() {
                store(&mut keep[(first + r) * units + j..], dz_r);
            }
        }
        let mask = if j == last { new_lanes } else { None };

        if !bias_grad.is_empty() {
            let old = load(&bias_grad[j..]);
            let mut sum = old;
            for &dz_r in &dz {
                sum = _mm256_add_ps(sum, dz_r);
            }
            store(&mut bias_grad[j..], keep_old_lanes(old, sum, mask));
        }

        for i in 0..inputs {
            let at = i * units + j;
            let old = load(&kernel_grad[at..]);
            let mut sum = old;
            for (r, &dz_r) in dz.iter().enumerate() {
                let xi = _mm256_set1_ps(x[(first + r) * inputs + i]);
                sum = _mm256_fmadd_ps(xi, dz_r, sum);
            }
            store(&mut kernel_grad[at..], keep_old_lanes(old, sum, mask));
        }
    }
}

/// Returns `new` where `mask` is set and `old` elsewhere; `new` without a mask.
#[target_feature(enable = "avx2,fma")]
fn keep_old_lanes(old: __m256, new: __m256, mask: Option<__m256>) -> __m256 {
    match mask {
        Some(mask) => _mm256_blendv_ps(old, new, mask),
        None => new,
    }
}

/// Computes the gradients of a one-unit layer with `inputs >= LANES` in one pass over
/// chunks of inputs: the kernel gradient `Σ_r dz[r] · x[r]`, added in row order in
/// registers, the bias gradient `Σ_r dz[r]`, and the input gradient
/// `dz[r] · kernel` when `grad_input` is given.
#[target_feature(enable = "avx2,fma")]
fn one_unit_gradients(
    x: &[f32],
    dz: &[f32],
    kernel: &[f32],
    parameters: ParameterGradients<'_>,
    mut grad_input: Option<&mut [f32]>,
    shape: Shape,
) {
    let ParameterGradients {
        kernel_grad,
        bias_grad,
    } = parameters;
    let inputs = shape.inputs;
    let dz = &dz[..shape.batch];

    // Each chunk sums all rows from zero and writes whole products, so where the last
    // chunk overlaps the one before it, it stores the same values again.
    for j in chunk_starts(inputs) {
        let k = load(&kernel[j..]);
        let mut sum = _mm256_setzero_ps();
        for (r, &d) in dz.iter().enumerate() {
            let d = _mm256_set1_ps(d);
            sum = _mm256_fmadd_ps(d, load(&x[r * inputs + j..]), sum);
            if let Some(grad_input) = grad_input.as_deref_mut() {
                store(&mut grad_input[r * inputs + j..], _mm256_mul_ps(k, d));
            }
        }
        store(&mut kernel_grad[j..], sum);
    }

    if !bias_grad.is_empty() {
        bias_grad[0] = self::sum(dz);
    }
}

/// Computes the kernel and bias gradients for `units < LANES`.
#[target_feature(enable = "avx2,fma")]
fn narrow_parameter_gradients(
    x: &[f32],
    dz: &[f32],
    parameters: ParameterGradients<'_>,
    shape: Shape,
) {
    let ParameterGradients {
        kernel_grad,
        bias_grad,
    } = parameters;
    let Shape { inputs, units, .. } = shape;

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
}

/// Computes the input gradient `dz · kernelᵀ`.
#[target_feature(enable = "avx2,fma")]
fn input_gradient(grad_input: &mut [f32], kernel: &[f32], dz: &[f32], shape: Shape) {
    let Shape {
        batch,
        inputs,
        units,
    } = shape;
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
    let source = DzSource::Relu {
        output: z,
        grad_output,
    };
    for j in chunk_starts(len) {
        store(&mut grad_z[j..], dz_chunk(source, j));
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
/// contains `R` rows of `acc.len()` values.
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

/// Returns `start + a · b` for slices of equal length: the lanes of [`dot_lanes`]
/// added by [`horizontal_sum`], or plain FMAs in order below eight values.
#[target_feature(enable = "avx2,fma")]
fn dot(a: &[f32], b: &[f32], start: f32) -> f32 {
    if a.len() < LANES {
        assert_eq!(
            b.len(),
            a.len(),
            "dot product of slices of different lengths"
        );
        return a
            .iter()
            .zip(b)
            .fold(start, |sum, (&u, &v)| u.mul_add(v, sum));
    }
    start + horizontal_sum(dot_lanes(a, b))
}

/// Returns eight partial sums of `a · b`, for slices of equal length of at least
/// eight, over chunks of eight. When the length is not a multiple of eight, the last
/// chunk ends at the last element and its lanes that the chunk before it already
/// covered are masked to zero.
#[target_feature(enable = "avx2,fma")]
fn dot_lanes(a: &[f32], b: &[f32]) -> __m256 {
    let len = a.len();
    assert_eq!(b.len(), len, "dot product of slices of different lengths");

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
    acc
}

/// Writes `z[r] = start + x[r] · kernel` for every row `r` of `x`, each with the
/// value that [`dot`] returns. Blocks of eight rows add up their partial sums
/// together, in the tree of [`horizontal_sum`].
#[target_feature(enable = "avx2,fma")]
fn dot_rows(x: &[f32], kernel: &[f32], start: f32, z: &mut [f32]) {
    let inputs = kernel.len();
    let full = if inputs < LANES {
        0
    } else {
        z.len() - z.len() % LANES
    };
    let start_lanes = _mm256_set1_ps(start);
    for first in (0..full).step_by(LANES) {
        let mut partials = [_mm256_setzero_ps(); LANES];
        for (r, partial) in partials.iter_mut().enumerate() {
            *partial = dot_lanes(&x[(first + r) * inputs..][..inputs], kernel);
        }
        store(
            &mut z[first..],
            _mm256_add_ps(start_lanes, transposed_sum(partials)),
        );
    }

    for (r, zr) in z.iter_mut().enumerate().skip(full) {
        *zr = dot(&x[r * inputs..][..inputs], kernel, start);
    }
}

/// Returns the vector whose lane `r` is the [`horizontal_sum`] of `rows[r]`.
#[target_feature(enable = "avx2,fma")]
pub(super) fn transposed_sum(rows: [__m256; LANES]) -> __m256 {
    // Within each 128-bit half, hadd adds neighbouring lanes: after two rounds the
    // lower half contains (v0 + v1) + (v2 + v3) and the upper (v4 + v5) + (v6 + v7) of
    // four rows each.
    let pairs = [
        _mm256_hadd_ps(rows[0], rows[1]),
        _mm256_hadd_ps(rows[2], rows[3]),
        _mm256_hadd_ps(rows[4], rows[5]),
        _mm256_hadd_ps(rows[6], rows[7]),
    ];
    let first_four = _mm256_hadd_ps(pairs[0], pairs[1]);
    let last_four = _mm256_hadd_ps(pairs[2], pairs[3]);
    let lower = _mm256_permute2f128_ps::<0x20>(first_four, last_four);
    let upper = _mm256_permute2f128_ps::<0x31>(first_four, last_four);
    _mm256_add_ps(lower, upper)
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

/// Returns `((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7))`, the tree that
/// [`transposed_sum`] uses.
#[target_feature(enable = "avx2,fma")]
pub(super) fn horizontal_sum(v: __m256) -> f32 {
    let pairs = _mm256_hadd_ps(v, v);
    let quads = _mm256_hadd_ps(pairs, pairs);
    let lower = _mm256_castps256_ps128(quads);
    let upper = _mm256_extractf128_ps::<1>(quads);
    _mm_cvtss_f32(_mm_add_ss(lower, upper))
}

/// Returns the first eight values of `values` as a vector.
///
/// # Panics
/// If `values` has fewer than eight values.
#[target_feature(enable = "avx2,fma")]
pub(super) fn load(values: &[f32]) -> __m256 {
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
pub(super) fn store(values: &mut [f32], vector: __m256) {
    let chunk: &mut [f32; LANES] = (&mut values[..LANES]).try_into().expect("eight values");
    // SAFETY: `chunk` is eight writable f32 values, and storeu has no alignment
    // requirement.
    unsafe { _mm256_storeu_ps(chunk.as_mut_ptr(), vector) }
}
