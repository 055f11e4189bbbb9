//! One training step of a shallow network, fused into one pass over the batch: one
//! input, one hidden `Dense` layer with relu, one linear output unit, and the mean
//! squared error. The default experiment's network has this shape.
//!
//! The general path runs each layer on its own and keeps every `(batch, units)` buffer
//! between them. Here the batch lies across the vector lanes, 32 rows at a time. Each
//! hidden unit is visited once forward and once backward with its three weights
//! broadcast, so the only buffer is one row of 32 hidden values per unit.
//!
//! With `d` the loss's gradient with respect to the prediction and `m` the relu mask
//! (1 where the hidden value is positive), the gradients of hidden unit `j` are
//!
//! ```text
//! hidden_kernel[j] = output_kernel[j] · Σ m·d·x     hidden_bias[j] = output_kernel[j] · Σ m·d
//! output_kernel[j] = Σ h·d                          output_bias    = Σ d
//! ```
//!
//! where each sum runs over the batch. These are the general path's gradients with the
//! output kernel taken out of the sums, so the two paths agree up to rounding.
//!
//! Only CPUs with AVX2 and FMA run this step, which [`supported`] checks. Other CPUs take
//! the general path.

use super::Isa;

/// The parameters of a shallow network with `units` hidden units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShallowNetwork<'a> {
    /// The hidden layer's kernel, `(1, units)`.
    pub hidden_kernel: &'a [f32],
    /// The hidden layer's bias, `(units,)`.
    pub hidden_bias: &'a [f32],
    /// The output layer's kernel, `(units, 1)`.
    pub output_kernel: &'a [f32],
    /// The output layer's bias.
    pub output_bias: f32,
}

/// The outputs of [`shallow_step`]: the gradients of the mean loss, shaped like the
/// parameters of [`ShallowNetwork`].
#[derive(Debug)]
pub(crate) struct ShallowGradients<'a> {
    pub hidden_kernel: &'a mut [f32],
    pub hidden_bias: &'a mut [f32],
    pub output_kernel: &'a mut [f32],
    pub output_bias: &'a mut f32,
}

/// Rows that one pass of the step keeps in registers: four vectors of eight lanes.
const ROWS: usize = 32;

/// Buffers for [`shallow_step`], allocated once per fit.
#[derive(Debug)]
pub(crate) struct ShallowScratch {
    /// The hidden values of one pass, `(units, ROWS)`.
    hidden: Vec<f32>,
    /// Each hidden unit's three sums, folded to four lanes: `(units, SUMS, GROUP)`,
    /// with the units padded to a multiple of `GROUP` by units whose sums stay zero.
    sums: Vec<f32>,
}

/// The sums kept per hidden unit: `Σ m·d·x`, `Σ m·d` and `Σ h·d`.
const SUMS: usize = 3;

/// Hidden units per group of sums, which is also the number of lanes each sum keeps:
/// one 128-bit register, whose shuffles are cheap on every AVX2 CPU.
const GROUP: usize = 4;

impl ShallowScratch {
    pub(crate) fn new(units: usize) -> Self {
        ShallowScratch {
            hidden: vec![0.0; units * ROWS],
            sums: vec![0.0; units.div_ceil(GROUP) * SUMS * GROUP * GROUP],
        }
    }

    /// Returns the number of hidden units the buffers are sized for.
    fn units(&self) -> usize {
        self.hidden.len() / ROWS
    }
}

/// Returns true when [`shallow_step`] can run on this CPU.
pub(crate) fn supported(isa: Isa) -> bool {
    cfg!(target_arch = "x86_64") && isa.avx2_fma
}

/// Runs the forward and backward pass of `network` on the batch `x`, `y` (one value per
/// row), writes the gradients of the mean squared error into `gradients` and returns
/// the sum of the squared errors, in f64.
///
/// # Panics
/// If [`supported`] is false for `isa`, if `x` and `y` differ in length or are empty,
/// or if a parameter, gradient or `scratch` does not have the network's width.
#[track_caller]
pub(crate) fn shallow_step(
    isa: Isa,
    network: ShallowNetwork<'_>,
    gradients: ShallowGradients<'_>,
    x: &[f32],
    y: &[f32],
    scratch: &mut ShallowScratch,
) -> f64 {
    assert!(supported(isa), "the shallow step needs AVX2 and FMA");
    assert_eq!(x.len(), y.len(), "x and y lengths");
    assert!(!x.is_empty(), "an empty batch");
    let units = scratch.units();
    for (name, len) in [
        ("hidden kernel", network.hidden_kernel.len()),
        ("hidden bias", network.hidden_bias.len()),
        ("output kernel", network.output_kernel.len()),
        ("hidden kernel gradient", gradients.hidden_kernel.len()),
        ("hidden bias gradient", gradients.hidden_bias.len()),
        ("output kernel gradient", gradients.output_kernel.len()),
    ] {
        assert_eq!(len, units, "{name} length");
    }

    #[cfg(target_arch = "x86_64")]
    // SAFETY: `supported` checked that the CPU has AVX2 and FMA, which is all that
    // `avx2_step` requires.
    return unsafe { avx2_step(network, gradients, x, y, scratch) };

    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("supported is false off x86-64");
}

#[cfg(target_arch = "x86_64")]
use x86::avx2_step;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128, __m256, __m256d, _CMP_GT_OQ, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_loadu_ps,
        _mm_movehl_ps, _mm_movelh_ps, _mm_shuffle_ps, _mm_storeu_ps, _mm_unpackhi_ps,
        _mm_unpacklo_ps, _mm256_add_ps, _mm256_and_ps, _mm256_castps256_ps128, _mm256_castsi256_ps,
        _mm256_cmp_ps, _mm256_cmpgt_epi32, _mm256_cvtps_pd, _mm256_extractf128_ps, _mm256_fmadd_pd,
        _mm256_fmadd_ps, _mm256_max_ps, _mm256_mul_ps, _mm256_set1_epi32, _mm256_set1_ps,
        _mm256_setr_epi32, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_storeu_pd, _mm256_sub_pd,
        _mm256_sub_ps,
    };

    use super::super::LANES;
    use super::super::avx2::{load, store};
    use super::{GROUP, ROWS, SUMS, ShallowGradients, ShallowNetwork, ShallowScratch};

    /// Vectors per pass.
    const VECTORS: usize = ROWS / LANES;

    /// One pass's rows, zero past the end of the batch, and a mask of the rows that
    /// exist.
    struct Rows {
        x: [__m256; VECTORS],
        y: [__m256; VECTORS],
        valid: [__m256; VECTORS],
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn avx2_step(
        network: ShallowNetwork<'_>,
        gradients: ShallowGradients<'_>,
        x: &[f32],
        y: &[f32],
        scratch: &mut ShallowScratch,
    ) -> f64 {
        let scale = _mm256_set1_ps(1.0 / x.len() as f32);
        let mut loss = _mm256_setzero_pd();
        let mut output_bias_grad = _mm256_setzero_ps();

        for (pass, start) in (0..x.len()).step_by(ROWS).enumerate() {
            let end = (start + ROWS).min(x.len());
            let rows = load_rows(&x[start..end], &y[start..end]);
            let predictions = forward(&network, &rows, &mut scratch.hidden);

            // The loss's gradient with respect to each prediction, as in
            // `Loss::sum_and_gradient`: 2 · (p - y) / batch, and 0 past the batch.
            let mut grad_prediction = [_mm256_setzero_ps(); VECTORS];
            for v in 0..VECTORS {
                let p = _mm256_and_ps(predictions[v], rows.valid[v]);
                let error = _mm256_sub_ps(p, rows.y[v]);
                loss = add_squared_errors(loss, p, rows.y[v]);
                grad_prediction[v] = _mm256_mul_ps(_mm256_add_ps(error, error), scale);
                output_bias_grad = _mm256_add_ps(output_bias_grad, grad_prediction[v]);
            }

            backward(&rows, &grad_prediction, scratch, pass == 0);
        }

        *gradients.output_bias = lane_sum(output_bias_grad);
        finish_gradients(&network, gradients, &scratch.sums);
        let mut lanes = [0.0; 4];
        // SAFETY: `lanes` is four writable f64 values, and storeu has no alignment
        // requirement.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), loss) };
        (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
    }

    /// Loads up to `ROWS` rows. The lanes past the last row are zero and not valid.
    #[target_feature(enable = "avx2,fma")]
    fn load_rows(x: &[f32], y: &[f32]) -> Rows {
        let (mut xs, mut ys) = ([0.0; ROWS], [0.0; ROWS]);
        // A copy of a fixed length compiles to plain moves, and most passes are full.
        if let (Ok(x), Ok(y)) = (<&[f32; ROWS]>::try_from(x), <&[f32; ROWS]>::try_from(y)) {
            (xs, ys) = (*x, *y);
        } else {
            xs[..x.len()].copy_from_slice(x);
            ys[..y.len()].copy_from_slice(y);
        }

        let mut rows = Rows {
            x: [_mm256_setzero_ps(); VECTORS],
            y: [_mm256_setzero_ps(); VECTORS],
            valid: [_mm256_setzero_ps(); VECTORS],
        };
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for v in 0..VECTORS {
            rows.x[v] = load(&xs[v * LANES..]);
            rows.y[v] = load(&ys[v * LANES..]);
            let count = _mm256_set1_epi32(x.len().saturating_sub(v * LANES).min(LANES) as i32);
            rows.valid[v] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(count, lane));
        }
        rows
    }

    /// Returns the predictions and writes each unit's hidden values into `hidden`.
    #[target_feature(enable = "avx2,fma")]
    fn forward(network: &ShallowNetwork<'_>, rows: &Rows, hidden: &mut [f32]) -> [__m256; VECTORS] {
        let mut predictions = [_mm256_set1_ps(network.output_bias); VECTORS];
        let weights = network
            .hidden_kernel
            .iter()
            .zip(network.hidden_bias)
            .zip(network.output_kernel);
        for (unit_hidden, ((&w1, &b1), &w2)) in hidden.chunks_exact_mut(ROWS).zip(weights) {
            let (w1, b1, w2) = (_mm256_set1_ps(w1), _mm256_set1_ps(b1), _mm256_set1_ps(w2));
            for v in 0..VECTORS {
                let z = _mm256_fmadd_ps(rows.x[v], w1, b1);
                // max returns its second operand, 0, for a NaN z, as `f32::max` does.
                let h = _mm256_max_ps(z, _mm256_setzero_ps());
                store(&mut unit_hidden[v * LANES..], h);
                predictions[v] = _mm256_fmadd_ps(h, w2, predictions[v]);
            }
        }
        predictions
    }

    /// Adds `(p - y)²`, in f64, to the four lanes of `sum`.
    #[target_feature(enable = "avx2,fma")]
    fn add_squared_errors(sum: __m256d, p: __m256, y: __m256) -> __m256d {
        let halves = [
            (_mm256_castps256_ps128(p), _mm256_castps256_ps128(y)),
            (_mm256_extractf128_ps::<1>(p), _mm256_extractf128_ps::<1>(y)),
        ];
        let mut sum = sum;
        for (p, y) in halves {
            let error = _mm256_sub_pd(_mm256_cvtps_pd(p), _mm256_cvtps_pd(y));
            sum = _mm256_fmadd_pd(error, error, sum);
        }
        sum
    }

    /// Adds each hidden unit's three sums over this pass's rows into `scratch.sums`,
    /// or writes them there for the first pass.
    #[target_feature(enable = "avx2,fma")]
    fn backward(
        rows: &Rows,
        grad_prediction: &[__m256; VECTORS],
        scratch: &mut ShallowScratch,
        first_pass: bool,
    ) {
        let d = grad_prediction;
        let dx: [__m256; VECTORS] = std::array::from_fn(|v| _mm256_mul_ps(d[v], rows.x[v]));
        let zero = _mm256_setzero_ps();

        let units = scratch.hidden.chunks_exact(ROWS);
        for (unit_hidden, unit_sums) in units.zip(scratch.sums.chunks_exact_mut(SUMS * GROUP)) {
            let [mut mdx, mut md, mut hd] = [zero; SUMS];
            for v in 0..VECTORS {
                let h = load(&unit_hidden[v * LANES..]);
                let active = _mm256_cmp_ps::<_CMP_GT_OQ>(h, zero);
                mdx = _mm256_add_ps(mdx, _mm256_and_ps(active, dx[v]));
                md = _mm256_add_ps(md, _mm256_and_ps(active, d[v]));
                hd = _mm256_fmadd_ps(h, d[v], hd);
            }

            for (sum, target) in [mdx, md, hd]
                .into_iter()
                .zip(unit_sums.chunks_exact_mut(GROUP))
            {
                let target: &mut [f32; GROUP] = target.try_into().expect("four lanes");
                let folded = fold(sum);
                let total = if first_pass {
                    folded
                } else {
                    _mm_add_ps(load4(target), folded)
                };
                store4(target, total);
            }
        }
    }

    /// Adds the upper four lanes of `v` to its lower four.
    #[target_feature(enable = "avx2,fma")]
    fn fold(v: __m256) -> __m128 {
        _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v))
    }

    /// Returns the vector whose lane `i` is the sum of the four lanes of `rows[i]`.
    #[target_feature(enable = "avx2,fma")]
    fn transposed_sum4(rows: [__m128; GROUP]) -> __m128 {
        let [a, b, c, d] = rows;
        let ab = _mm_add_ps(_mm_unpacklo_ps(a, b), _mm_unpackhi_ps(a, b));
        let cd = _mm_add_ps(_mm_unpacklo_ps(c, d), _mm_unpackhi_ps(c, d));
        _mm_add_ps(_mm_movelh_ps(ab, cd), _mm_movehl_ps(cd, ab))
    }

    /// Returns the sum of the eight lanes of `v`.
    #[target_feature(enable = "avx2,fma")]
    fn lane_sum(v: __m256) -> f32 {
        let four = fold(v);
        let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
        _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps::<0b01>(two, two)))
    }

    #[target_feature(enable = "avx2,fma")]
    fn load4(values: &[f32; GROUP]) -> __m128 {
        // SAFETY: `values` is four readable f32 values, and loadu has no alignment
        // requirement.
        unsafe { _mm_loadu_ps(values.as_ptr()) }
    }

    #[target_feature(enable = "avx2,fma")]
    fn store4(values: &mut [f32; GROUP], vector: __m128) {
        // SAFETY: `values` is four writable f32 values, and storeu has no alignment
        // requirement.
        unsafe { _mm_storeu_ps(values.as_mut_ptr(), vector) }
    }

    /// Adds up the lanes of each unit's sums and writes the gradients.
    #[target_feature(enable = "avx2,fma")]
    fn finish_gradients(
        network: &ShallowNetwork<'_>,
        gradients: ShallowGradients<'_>,
        sums: &[f32],
    ) {
        let units = network.output_kernel.len();
        let groups = sums.chunks_exact(GROUP * SUMS * GROUP);
        for (first, group) in (0..units).step_by(GROUP).zip(groups) {
            let mut totals = [[0.0; GROUP]; SUMS];
            for (k, total) in totals.iter_mut().enumerate() {
                let rows = std::array::from_fn(|member| {
                    let start = (member * SUMS + k) * GROUP;
                    load4(group[start..start + GROUP].try_into().expect("four lanes"))
                });
                store4(total, transposed_sum4(rows));
            }

            let [mdx, md, hd] = totals;
            let count = (units - first).min(GROUP);
            for i in 0..count {
                let j = first + i;
                let w2 = network.output_kernel[j];
                gradients.hidden_kernel[j] = w2 * mdx[i];
                gradients.hidden_bias[j] = w2 * md[i];
                gradients.output_kernel[j] = hd[i];
            }
        }
    }
}
