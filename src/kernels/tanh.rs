//! tanh over a slice, eight values at a time on CPUs with AVX2 and FMA.
//!
//! For |z| < 0.625 the result is `z + z·z²·Q(z²)`, with Q a polynomial of degree 4
//! fitted to tanh's relative error on that interval. Above it, tanh(|z|) is
//! `1 - 2 / (exp(2|z|) + 1)`, with exp from a polynomial of degree 6 on
//! `[-ln 2 / 2, ln 2 / 2]` scaled by a power of two, and the sign of `z` put back.
//! |z| is clamped to 9.5 first, where tanh already rounds to 1 in f32. Every value is
//! within 1e-6 relative of tanh in f64, which the tests check on a dense grid; the
//! largest error seen there is 1.3e-7.
//!
//! Other CPUs use the standard library's `tanh`, so the last bits of a result depend on
//! the CPU, as they do for the dense kernels.

use super::Isa;

/// Below this |z| the odd polynomial is used, above it the exponential.
const POLYNOMIAL_LIMIT: f32 = 0.625;

/// Above this |z|, tanh rounds to ±1 in f32, so larger inputs are clamped to it.
const SATURATION: f32 = 9.5;

/// Q's coefficients, constant term first.
const SMALL: [f32; 5] = [
    -0.333_332_8,
    0.133_314_43,
    -0.053_739_81,
    0.020_639_395,
    -0.005_705_337_5,
];

/// The coefficients of exp(r) for |r| ≤ ln 2 / 2, constant term first.
const EXP: [f32; 7] = [
    1.0,
    1.0,
    0.499_999_9,
    0.166_664_2,
    0.041_668_225,
    0.008_374_803,
    0.001_383_677_8,
];

/// ln 2 split in two, so that `n · LN2_HIGH` is exact for the small integers `n` here.
const LN2_HIGH: f32 = 0.693_145_75;
const LN2_LOW: f32 = 1.428_606_8e-6;

/// Writes `tanh(z)` into `output`.
///
/// # Panics
/// If `z` and `output` differ in length.
#[track_caller]
pub(crate) fn tanh(isa: Isa, z: &[f32], output: &mut [f32]) {
    assert_eq!(z.len(), output.len(), "z and output lengths");

    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: `isa.avx2_fma` is only set by `Isa::detect` after the CPU reported
        // AVX2 and FMA, which is all that `x86::tanh` requires.
        unsafe { x86::tanh(z, output) };
        return;
    }

    let _ = isa;
    for (o, &v) in output.iter_mut().zip(z) {
        *o = v.tanh();
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, _CMP_LT_OQ, _CMP_UNORD_Q, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
        _mm256_add_epi32, _mm256_add_ps, _mm256_and_ps, _mm256_andnot_ps, _mm256_blendv_ps,
        _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cvtps_epi32, _mm256_div_ps, _mm256_fmadd_ps,
        _mm256_min_ps, _mm256_mul_ps, _mm256_or_ps, _mm256_round_ps, _mm256_set1_epi32,
        _mm256_set1_ps, _mm256_slli_epi32, _mm256_sub_ps,
    };

    use super::super::LANES;
    use super::super::avx2::{load, store};
    use super::{EXP, LN2_HIGH, LN2_LOW, POLYNOMIAL_LIMIT, SATURATION, SMALL};

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn tanh(z: &[f32], output: &mut [f32]) {
        let chunks = z.chunks_exact(LANES);
        let tail = chunks.remainder();
        for (zc, oc) in chunks.zip(output.chunks_exact_mut(LANES)) {
            store(oc, tanh_lanes(load(zc)));
        }

        // The last few values go through the same lanes, so each value's result does
        // not depend on its position.
        if !tail.is_empty() {
            let start = z.len() - tail.len();
            let mut lanes = [0.0; LANES];
            lanes[..tail.len()].copy_from_slice(tail);
            let mut results = [0.0; LANES];
            store(&mut results, tanh_lanes(load(&lanes)));
            output[start..].copy_from_slice(&results[..tail.len()]);
        }
    }

    /// Returns tanh of each lane.
    #[target_feature(enable = "avx2,fma")]
    fn tanh_lanes(z: __m256) -> __m256 {
        // tanh is odd: both formulas work on |z|, and the sign of z, -0 included, is put
        // back at the end.
        let sign_bit = _mm256_set1_ps(-0.0);
        let magnitude = _mm256_andnot_ps(sign_bit, z);

        let squared = _mm256_mul_ps(magnitude, magnitude);
        let q = polynomial(&SMALL, squared);
        let small = _mm256_fmadd_ps(_mm256_mul_ps(magnitude, squared), q, magnitude);

        let clamped = _mm256_min_ps(magnitude, _mm256_set1_ps(SATURATION));
        let one = _mm256_set1_ps(1.0);
        let e = exp(_mm256_add_ps(clamped, clamped));
        let large = _mm256_sub_ps(
            one,
            _mm256_div_ps(_mm256_set1_ps(2.0), _mm256_add_ps(e, one)),
        );

        let use_small = _mm256_cmp_ps::<_CMP_LT_OQ>(magnitude, _mm256_set1_ps(POLYNOMIAL_LIMIT));
        let unsigned = _mm256_blendv_ps(large, small, use_small);
        let result = _mm256_or_ps(unsigned, _mm256_and_ps(sign_bit, z));

        // A NaN lane fails the comparison above and would get the clamped value's ±1.
        let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(z, z);
        _mm256_blendv_ps(result, z, nan)
    }

    /// Returns exp(y) for 0 ≤ y ≤ 2 · SATURATION: y = n·ln 2 + r with |r| ≤ ln 2 / 2,
    /// and exp(y) = 2ⁿ · exp(r).
    #[target_feature(enable = "avx2,fma")]
    fn exp(y: __m256) -> __m256 {
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(y, _mm256_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_HIGH), y);
        let r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_LOW), r);

        // 2ⁿ is the float whose exponent field is n + 127. Here 0 ≤ n ≤ 28.
        let exponent = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        let power = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(exponent));
        _mm256_mul_ps(polynomial(&EXP, r), power)
    }

    /// Returns `c[0] + x·(c[1] + x·(c[2] + …))`, by Horner's rule with FMAs.
    #[target_feature(enable = "avx2,fma")]
    fn polynomial<const N: usize>(coefficients: &[f32; N], x: __m256) -> __m256 {
        let mut sum = _mm256_set1_ps(coefficients[N - 1]);
        for &c in coefficients[..N - 1].iter().rev() {
            sum = _mm256_fmadd_ps(sum, x, _mm256_set1_ps(c));
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the largest relative error of the slice tanh against f64 over `z`.
    fn largest_error(z: &[f32]) -> f64 {
        let mut output = vec![f32::NAN; z.len()];
        tanh(Isa::detect(), z, &mut output);
        z.iter()
            .zip(&output)
            .map(|(&zi, &actual)| {
                let expected = (zi as f64).tanh();
                if expected == 0.0 {
                    (actual as f64).abs()
                } else {
                    ((actual as f64 - expected) / expected).abs()
                }
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn tanh_accurate_on_dense_grid() {
        // 400,001 inputs from -12 to 12, across both formulas and the clamp.
        let z: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 6e-5).collect();
        let error = largest_error(&z);
        assert!(error < 1e-6, "largest relative error {error}");
    }

    #[test]
    fn tanh_accurate_near_zero_and_limits() {
        let mut z = vec![1e-30, -1e-30, 1e-38, 1e-10, 3e-4, -0.1];
        let limit = POLYNOMIAL_LIMIT;
        z.extend([limit, -limit, f32::from_bits(limit.to_bits() - 1)]);
        z.extend([f32::from_bits(limit.to_bits() + 1), SATURATION, 20.0, -1e30]);
        let error = largest_error(&z);
        assert!(error < 1e-6, "largest relative error {error}");
    }

    #[test]
    fn tanh_keeps_special_values() {
        let z = [
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1.0,
            2.0,
            3.0,
            4.0,
        ];
        let mut output = [0.0; 9];
        tanh(Isa::detect(), &z, &mut output);

        assert_eq!(output[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(output[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(output[2], 1.0);
        assert_eq!(output[3], -1.0);
        assert!(output[4].is_nan(), "{output:?}");
    }

    #[test]
    fn tanh_independent_of_position() {
        let z: Vec<f32> = (0..19).map(|i| i as f32 * 0.3 - 2.5).collect();
        let mut whole = vec![0.0; z.len()];
        tanh(Isa::detect(), &z, &mut whole);

        for (i, &zi) in z.iter().enumerate() {
            let mut single = [0.0];
            tanh(Isa::detect(), &[zi], &mut single);
            assert_eq!(single[0].to_bits(), whole[i].to_bits(), "at {zi}");
        }
    }
}
