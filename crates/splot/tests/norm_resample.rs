//! layer_norm, group_norm, instance_norm and interpolate: hand-computed values (forward,
//! running statistics, backward), the fast interpolation kernel against a plain
//! per-pixel reference, finite-difference gradient checks over random shapes and
//! settings, PyTorch's outputs and gradients (fixtures from
//! `scripts/fixtures_norm_resample.py`), the layers' names and modes, the bilinear
//! transposed convolution, and errors for every impossible configuration.

use proptest::prelude::*;
use splot::io::safetensors::load;
use splot::nn::{
    self, ConvTranspose2d, GroupNorm, InstanceNorm2d, LayerNorm, TensorKind, Upsample,
};
use splot::ops::resample::{bilinear_kernel_size, bilinear_upsampling_weight};
use splot::testing::{assert_close, gradcheck};
use splot::{
    no_grad, BatchNormConfig, InterpolateConfig, InterpolateMode, Mode, Module, OutputSize, Rng,
    Tensor,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn close(what: &str, actual: &Tensor, expected: &[f32]) {
    assert_close(what, &actual.to_vec(), expected, 1e-5, 1e-5).unwrap();
}

fn grad(grads: &splot::Gradients, t: &Tensor) -> Vec<f32> {
    grads.get(t).expect("a gradient").to_vec()
}

// ---------------------------------------------------------------- by hand

#[test]
fn layer_norm_by_hand() {
    // row 0 = [1, 3, 5, 7]: μ = 4, σ² = (9 + 1 + 1 + 9)/4 = 5, eps = 4 makes σ = 3,
    // x̂ = [−1, −1/3, 1/3, 1]; row 1 = [2, 2, 2, 2]: σ² = 0, σ = 2, x̂ = 0.
    // γ = [1, 2, 3, 4], β = [0, 0.5, 0, −1]:
    // y0 = [−1, −2/3 + 0.5, 1, 4 − 1] = [−1, −1/6, 1, 3]; y1 = β.
    let x = t(&[1., 3., 5., 7., 2., 2., 2., 2.], &[2, 4]).with_grad();
    let w = t(&[1., 2., 3., 4.], &[4]).with_grad();
    let b = t(&[0., 0.5, 0., -1.], &[4]).with_grad();
    let y = x.layer_norm(&[4], Some(&w), Some(&b), 4.0).unwrap();
    close("y", &y, &[-1., -1. / 6., 1., 3., 0., 0.5, 0., -1.]);
    // g = 0 on row 0 and [1, 0, 0, 0] on row 1: ĝ = γ·g = [1, 0, 0, 0], mean(ĝ) = 1/4,
    // x̂ = 0 so ∂x = r·(ĝ − mean ĝ) = ½·[3/4, −1/4, −1/4, −1/4]; ∂γ = Σ g·x̂ = 0,
    // ∂β = Σ g = [1, 0, 0, 0].
    let g = t(&[0., 0., 0., 0., 1., 0., 0., 0.], &[2, 4]);
    let grads = y.backward_with(&g).unwrap();
    let gx = grad(&grads, &x);
    assert_close(
        "grad x",
        &gx,
        &[0., 0., 0., 0., 3. / 8., -1. / 8., -1. / 8., -1. / 8.],
        1e-6,
        1e-5,
    )
    .unwrap();
    assert_close("grad weight", &grad(&grads, &w), &[0.; 4], 1e-6, 0.).unwrap();
    assert_close("grad bias", &grad(&grads, &b), &[1., 0., 0., 0.], 1e-6, 0.).unwrap();
}

#[test]
fn layer_norm_over_two_axes_normalises_each_sample_as_a_whole() {
    // [2, 2, 2]: sample 0 = [1, 3, 5, 7] as [2, 2] → x̂ as above with eps = 4
    let x = t(&[1., 3., 5., 7., 10., 10., 10., 10.], &[2, 2, 2]);
    let y = x.layer_norm(&[2, 2], None, None, 4.0).unwrap();
    close("y", &y, &[-1., -1. / 3., 1. / 3., 1., 0., 0., 0., 0.]);
}

#[test]
fn group_norm_by_hand() {
    // [1, 4, 1, 2], 2 groups: group 0 = channels 0, 1 = [1, 3, 5, 7] → x̂ = [−1, −1/3,
    // 1/3, 1] (eps 4); group 1 = [2, 2, 2, 2] → 0. γ = [2, 1, 1, 1], β = [0, 0, 1, −1]:
    // y = [−2, −2/3, 1/3, 1, 1, 1, −1, −1].
    let x = t(&[1., 3., 5., 7., 2., 2., 2., 2.], &[1, 4, 1, 2]).with_grad();
    let w = t(&[2., 1., 1., 1.], &[4]).with_grad();
    let b = t(&[0., 0., 1., -1.], &[4]).with_grad();
    let y = x.group_norm(2, Some(&w), Some(&b), 4.0).unwrap();
    close("y", &y, &[-2., -2. / 3., 1. / 3., 1., 1., 1., -1., -1.]);
    // g = ones: ∂β_c = Σ g over the channel = 2; ∂γ_c = Σ x̂ over the channel:
    // [−4/3, 4/3, 0, 0]; ∂x: ĝ = γ_c, group 0 ĝ = [2, 2, 1, 1], mean 3/2,
    // mean(ĝ·x̂) = (−2 − 2/3 + 1/3 + 1)/4 = −1/3, r = 1/3:
    // ∂x = (ĝ − 3/2 + x̂/3)/3 = [(1/2 − 1/3)/3, (1/2 − 1/9)/3, (−1/2 + 1/9)/3, (−1/2 + 1/3)/3];
    // group 1: ĝ = 1 = mean, x̂ = 0: 0.
    let grads = y.backward_with(&Tensor::ones(&[1, 4, 1, 2])).unwrap();
    assert_close("grad bias", &grad(&grads, &b), &[2.; 4], 1e-6, 0.).unwrap();
    assert_close(
        "grad weight",
        &grad(&grads, &w),
        &[-4. / 3., 4. / 3., 0., 0.],
        1e-6,
        1e-5,
    )
    .unwrap();
    let e = [1. / 18., 7. / 54., -7. / 54., -1. / 18., 0., 0., 0., 0.];
    assert_close("grad x", &grad(&grads, &x), &e, 1e-6, 1e-5).unwrap();
}

#[test]
fn instance_norm_by_hand_training_updates_running_stats() {
    // [2, 1, 1, 4]: sample 0 = [1, 3, 5, 7] → x̂ = [−1, −1/3, 1/3, 1] (eps 4), sample 1 =
    // [2, 2, 2, 2] → 0. Running: means 4 and 2, unbiased variances 20/3 and 0;
    // momentum ½: running_mean = ½·0 + ½·(4 + 2)/2 = 1.5,
    // running_var = ½·1 + ½·(20/3 + 0)/2 = 0.5 + 5/3.
    let x = t(&[1., 3., 5., 7., 2., 2., 2., 2.], &[2, 1, 1, 4]);
    let (rm, rv) = (t(&[0.], &[1]), t(&[1.], &[1]));
    let cfg = BatchNormConfig::new().eps(4.0).momentum(0.5);
    let y = x
        .instance_norm(Some(&rm), Some(&rv), None, None, true, &cfg)
        .unwrap();
    close("y", &y, &[-1., -1. / 3., 1. / 3., 1., 0., 0., 0., 0.]);
    close("running_mean", &rm, &[1.5]);
    close("running_var", &rv, &[0.5 + 5. / 3.]);
}

#[test]
fn instance_norm_by_hand_with_running_stats() {
    // μ = 1, σ² = 3, eps = 1: y = (x − 1)/2·γ + β with γ = 2, β = 1: y = x;
    // ∂x = γ/σ·g = g, the statistics are constants; nothing is updated.
    let x = t(&[1., 3., 5., 7.], &[1, 1, 2, 2]).with_grad();
    let (rm, rv) = (t(&[1.], &[1]), t(&[3.], &[1]));
    let (w, b) = (t(&[2.], &[1]).with_grad(), t(&[1.], &[1]).with_grad());
    let cfg = BatchNormConfig::new().eps(1.0);
    let y = x
        .instance_norm(Some(&rm), Some(&rv), Some(&w), Some(&b), false, &cfg)
        .unwrap();
    close("y", &y, &[1., 3., 5., 7.]);
    let g = t(&[1., -2., 0.5, 3.], &[1, 1, 2, 2]);
    let grads = y.backward_with(&g).unwrap();
    assert_close("grad x", &grad(&grads, &x), &g.to_vec(), 1e-6, 0.).unwrap();
    // ∂γ = Σ g·x̂ = 1·0 − 2·1 + 0.5·2 + 3·3 = 8; ∂β = Σ g = 2.5
    assert_close("grad weight", &grad(&grads, &w), &[8.], 1e-5, 0.).unwrap();
    assert_close("grad bias", &grad(&grads, &b), &[2.5], 1e-6, 0.).unwrap();
    assert_eq!((rm.to_vec(), rv.to_vec()), (vec![1.], vec![3.]));
}

#[test]
fn interpolate_by_hand() {
    let x = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]).with_grad();
    // bilinear ×2, half-pixel centres: row 0 along w = [1, 1.25, 1.75, 2], row 1 =
    // [3, 3.25, 3.75, 4]; output rows 1 and 2 are ¾/¼ and ¼/¾ blends of them.
    let y = x
        .interpolate(&InterpolateConfig::scale(2.0).bilinear(false))
        .unwrap();
    close(
        "bilinear x2",
        &y,
        &[
            1., 1.25, 1.75, 2., 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3., 3.25, 3.75, 4.,
        ],
    );
    // every output's weights sum to 1 and by symmetry each input pixel gets a quarter
    let grads = y.backward_with(&Tensor::ones(&[1, 1, 4, 4])).unwrap();
    close(
        "bilinear x2 adjoint of ones",
        grads.get(&x).unwrap(),
        &[4.; 4],
    );
    // aligned corners to 3×3: the corners stay, the middle is the mean
    let y = x
        .interpolate(&InterpolateConfig::size(3, 3).bilinear(true))
        .unwrap();
    close(
        "bilinear aligned",
        &y,
        &[1., 1.5, 2., 2., 2.5, 3., 3., 3.5, 4.],
    );
    // nearest ×2 repeats each pixel in a 2×2 block; its adjoint sums the block
    let y = x.interpolate(&InterpolateConfig::scale(2.0)).unwrap();
    close(
        "nearest x2",
        &y,
        &[
            1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.,
        ],
    );
    let g: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let grads = y.backward_with(&t(&g, &[1, 1, 4, 4])).unwrap();
    // block sums: (0+1+4+5), (2+3+6+7), (8+9+12+13), (10+11+14+15)
    close(
        "nearest x2 adjoint",
        grads.get(&x).unwrap(),
        &[10., 18., 42., 50.],
    );
    // nearest ×0.5 of 4×4 reads rows and columns 0 and 2 (⌊o·2⌋); nearest-exact reads
    // 1 and 3 (⌊(o + ½)·2⌋)
    let x4 = t(&g, &[1, 1, 4, 4]);
    let half = InterpolateConfig::scale(0.5);
    close(
        "nearest x0.5",
        &x4.interpolate(&half).unwrap(),
        &[0., 2., 8., 10.],
    );
    close(
        "nearest-exact x0.5",
        &x4.interpolate(&half.nearest_exact()).unwrap(),
        &[5., 7., 13., 15.],
    );
}

// ---------------------------------------------------------------- interpolate: reference

/// `interpolate` pixel by pixel from the formulas of PyTorch's kernels, written out per
/// output pixel (no shared row pass): `[n, c, oh, ow]` values.
fn interpolate_reference(
    x: &Tensor,
    out: [usize; 2],
    scale: Option<[f64; 2]>,
    mode: InterpolateMode,
) -> Vec<f32> {
    let s = x.shape();
    let (planes, h, w) = (s[0] * s[1], s[2], s[3]);
    let xv = x.to_vec();
    // (first tap, second tap, weight of the second) of output index o on an axis
    let taps = |o: usize, input: usize, output: usize, scale: Option<f64>| -> (usize, usize, f32) {
        let ratio = match scale {
            Some(s) => (1.0 / s) as f32,
            None => input as f32 / output as f32,
        };
        let last = input - 1;
        match mode {
            InterpolateMode::Nearest => {
                let i = if output == input {
                    o
                } else if output == 2 * input {
                    o / 2
                } else {
                    ((o as f32 * ratio).floor() as usize).min(last)
                };
                (i, i, 0.0)
            }
            InterpolateMode::NearestExact => {
                let v = ((o as f64 + 0.5) * ratio as f64) as f32;
                let i = (v.floor() as usize).min(last);
                (i, i, 0.0)
            }
            InterpolateMode::Bilinear { align_corners } => {
                if output == input {
                    return (o, o, 0.0);
                }
                let src = if align_corners {
                    let r = if output > 1 {
                        (input - 1) as f32 / (output - 1) as f32
                    } else {
                        0.0
                    };
                    r * o as f32
                } else {
                    (ratio * (o as f32 + 0.5) - 0.5).max(0.0)
                };
                let i0 = (src.floor() as usize).min(last);
                let l1 = (src - i0 as f32).clamp(0.0, 1.0);
                (i0, (i0 + 1).min(last), l1)
            }
        }
    };
    let mut y = Vec::with_capacity(planes * out[0] * out[1]);
    for p in 0..planes {
        let at = |i: usize, j: usize| xv[(p * h + i) * w + j];
        for oy in 0..out[0] {
            let (h0, h1, lh) = taps(oy, h, out[0], scale.map(|s| s[0]));
            for ox in 0..out[1] {
                let (w0, w1, lw) = taps(ox, w, out[1], scale.map(|s| s[1]));
                let v = match mode {
                    InterpolateMode::Bilinear { .. } => {
                        let top = at(h0, w0) * (1.0 - lw) + at(h0, w1) * lw;
                        let bottom = at(h1, w0) * (1.0 - lw) + at(h1, w1) * lw;
                        top * (1.0 - lh) + bottom * lh
                    }
                    _ => at(h0, w0),
                };
                y.push(v);
            }
        }
    }
    y
}

/// An interpolation problem legal by construction.
#[derive(Clone, Debug)]
struct InterpCase {
    shape: [usize; 4],
    cfg: InterpolateConfig,
}

fn interp_case() -> impl Strategy<Value = InterpCase> {
    (
        (1..=2usize, 1..=3usize, 1..=6usize, 1..=6usize),
        (0..4usize, any::<bool>()),
        prop_oneof![
            (1..=9usize, 1..=9usize).prop_map(|(a, b)| OutputSize::Size([a, b])),
            (0.3f64..3.5, 0.3f64..3.5).prop_map(|(a, b)| OutputSize::Scale([a, b])),
            (1..=3usize).prop_map(|s| OutputSize::Scale([s as f64, s as f64])),
        ],
        any::<bool>(),
    )
        .prop_map(|((n, c, h, w), (mode, align), output, recompute)| {
            let mode = match mode {
                0 => InterpolateMode::Nearest,
                1 => InterpolateMode::NearestExact,
                _ => InterpolateMode::Bilinear {
                    align_corners: align,
                },
            };
            // scales small enough to empty an axis are replaced by 1
            let output = match output {
                OutputSize::Scale([a, b]) => {
                    let fix = |s: f64, n: usize| if (n as f64 * s).floor() < 1.0 { 1.0 } else { s };
                    OutputSize::Scale([fix(a, h), fix(b, w)])
                }
                size => size,
            };
            let recompute = recompute && matches!(output, OutputSize::Scale(_));
            InterpCase {
                shape: [n, c, h, w],
                cfg: InterpolateConfig {
                    output,
                    mode,
                    recompute_scale_factor: recompute,
                },
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn interpolate_matches_reference_and_finite_differences(case in interp_case(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let x = Tensor::randn(&case.shape, 0.0, 1.0, &mut rng).with_grad();
        let y = x.interpolate(&case.cfg).unwrap();
        let out = [y.dim(2), y.dim(3)];
        let scale = match case.cfg.output {
            OutputSize::Scale(s) if !case.cfg.recompute_scale_factor => Some(s),
            _ => None,
        };
        let expected = interpolate_reference(&x, out, scale, case.cfg.mode);
        assert_close("forward", &y.to_vec(), &expected, 1e-6, 1e-6).map_err(TestCaseError::fail)?;
        let f = |v: &[Tensor]| v[0].interpolate(&case.cfg);
        gradcheck(&format!("interpolate {case:?}"), &[x], f, 1e-2, 2e-3, 2e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }
}

#[test]
fn interpolate_large_planes_match_reference_on_the_pool() {
    // enough planes and values that the kernel splits across threads
    let mut rng = Rng::seed(3);
    let x = Tensor::randn(&[2, 5, 37, 23], 0.0, 1.0, &mut rng);
    for mode in [
        InterpolateMode::Nearest,
        InterpolateMode::NearestExact,
        InterpolateMode::Bilinear {
            align_corners: false,
        },
        InterpolateMode::Bilinear {
            align_corners: true,
        },
    ] {
        for scale in [2.0, 1.7, 0.45] {
            let cfg = InterpolateConfig::scale(scale).mode(mode);
            let y = x.interpolate(&cfg).unwrap();
            let expected =
                interpolate_reference(&x, [y.dim(2), y.dim(3)], Some([scale, scale]), mode);
            assert_close(
                &format!("{mode:?} x{scale}"),
                &y.to_vec(),
                &expected,
                1e-6,
                1e-6,
            )
            .unwrap();
        }
    }
}

// ---------------------------------------------------------------- normalisation: random problems

/// Values of `shape` whose rows of `len` values are well spread: each row a shuffled
/// progression with step 1 (jittered by ±0.25), scaled and shifted per row, so that no
/// row's variance is near zero, where the curvature would defeat finite differences.
fn spread_rows(shape: &[usize], len: usize, rng: &mut Rng) -> Tensor {
    let total: usize = shape.iter().product();
    let mut x = vec![0.0f32; total];
    for row in x.chunks_mut(len.max(1)) {
        let (shift, scale) = (rng.normal(0.0, 2.0), rng.uniform(0.5, 2.0));
        let mut order: Vec<(f32, usize)> =
            (0..row.len()).map(|k| (rng.uniform(0.0, 1.0), k)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (slot, &(_, k)) in order.iter().enumerate() {
            let v = k as f32 - row.len() as f32 / 2.0 + rng.uniform(-0.25, 0.25);
            row[slot] = shift + scale * v;
        }
    }
    Tensor::from_vec(x, shape).unwrap()
}

/// Rows of `len` values normalised by their own mean and biased variance, in f64:
/// `[x̂…]`.
fn normalised_rows_reference(x: &[f32], len: usize, eps: f32) -> Vec<f64> {
    x.chunks(len)
        .flat_map(|row| {
            let m = row.len() as f64;
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / m;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / m;
            let r = 1.0 / (var + eps as f64).sqrt();
            row.iter()
                .map(move |&v| (v as f64 - mean) * r)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Optional weight and bias of `shape`, each wanted or not: `(inputs, weight at, bias at)`.
fn params(
    x: Tensor,
    shape: &[usize],
    weight: bool,
    bias: bool,
    want: [bool; 3],
    rng: &mut Rng,
) -> (Vec<Tensor>, Option<usize>, Option<usize>) {
    let mut inputs = vec![x];
    let wi = weight.then(|| {
        inputs.push(Tensor::rand_uniform(shape, 0.5, 2.0, rng));
        inputs.len() - 1
    });
    let bi = bias.then(|| {
        inputs.push(Tensor::randn(shape, 0.0, 1.0, rng));
        inputs.len() - 1
    });
    let present = [true, weight, bias];
    let wanted = want.iter().zip(present).filter(|(_, p)| *p);
    for (input, (&w, _)) in inputs.iter().zip(wanted) {
        input.set_requires_grad(w);
    }
    if !inputs.iter().any(|t| t.requires_grad()) {
        inputs[0].set_requires_grad(true);
    }
    (inputs, wi, bi)
}

/// `y = x̂·γ + β` from reference rows, `γ β` indexed by `param_of(element index)`.
fn affine_reference(
    xhat: &[f64],
    gamma: Option<Vec<f32>>,
    beta: Option<Vec<f32>>,
    param_of: impl Fn(usize) -> usize,
) -> Vec<f32> {
    xhat.iter()
        .enumerate()
        .map(|(e, &v)| {
            let p = param_of(e);
            let g = gamma.as_ref().map_or(1.0, |g| g[p] as f64);
            let b = beta.as_ref().map_or(0.0, |b| b[p] as f64);
            (v * g + b) as f32
        })
        .collect()
}

fn log_eps() -> impl Strategy<Value = f32> {
    (-5.0f32..-1.0).prop_map(|l| 10f32.powf(l))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn layer_norm_matches_definition_and_finite_differences(
        lead in proptest::collection::vec(1..=3usize, 0..=2),
        normalized in proptest::collection::vec(1..=4usize, 1..=2),
        (weight, bias, want) in (any::<bool>(), any::<bool>(), proptest::array::uniform3(any::<bool>())),
        eps in log_eps(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let shape: Vec<usize> = lead.iter().chain(&normalized).copied().collect();
        let len: usize = normalized.iter().product();
        let x = spread_rows(&shape, len, &mut rng);
        let (inputs, wi, bi) = params(x, &normalized, weight, bias, want, &mut rng);
        let f = |v: &[Tensor]| v[0].layer_norm(&normalized, wi.map(|i| &v[i]), bi.map(|i| &v[i]), eps);
        let y = f(&inputs).unwrap();
        let xhat = normalised_rows_reference(&inputs[0].to_vec(), len, eps);
        let expected = affine_reference(&xhat, wi.map(|i| inputs[i].to_vec()), bi.map(|i| inputs[i].to_vec()), |e| e % len);
        assert_close("forward", &y.to_vec(), &expected, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        gradcheck(&format!("layer_norm {shape:?} over {normalized:?}"), &inputs, f, 5e-3, 3e-3, 3e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn group_norm_matches_definition_and_finite_differences(
        (n, groups, per_group) in (1..=2usize, 1..=3usize, 1..=3usize),
        spatial in proptest::collection::vec(1..=3usize, 0..=2),
        (weight, bias, want) in (any::<bool>(), any::<bool>(), proptest::array::uniform3(any::<bool>())),
        eps in log_eps(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let c = groups * per_group;
        let shape: Vec<usize> = [n, c].iter().chain(&spatial).copied().collect();
        let inner: usize = spatial.iter().product();
        let len = per_group * inner;
        let x = spread_rows(&shape, len, &mut rng);
        let (inputs, wi, bi) = params(x, &[c], weight, bias, want, &mut rng);
        let f = |v: &[Tensor]| v[0].group_norm(groups, wi.map(|i| &v[i]), bi.map(|i| &v[i]), eps);
        let y = f(&inputs).unwrap();
        let xhat = normalised_rows_reference(&inputs[0].to_vec(), len, eps);
        let expected = affine_reference(&xhat, wi.map(|i| inputs[i].to_vec()), bi.map(|i| inputs[i].to_vec()), |e| (e / inner) % c);
        assert_close("forward", &y.to_vec(), &expected, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        gradcheck(&format!("group_norm {shape:?} groups {groups}"), &inputs, f, 5e-3, 3e-3, 3e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn instance_norm_matches_definition_and_finite_differences(
        (n, c) in (1..=3usize, 1..=3usize),
        spatial in proptest::collection::vec(1..=3usize, 1..=2),
        (weight, bias, want) in (any::<bool>(), any::<bool>(), proptest::array::uniform3(any::<bool>())),
        // 0: input statistics without running ones, 1: with running ones (updated),
        // 2: the running statistics used
        stats in 0..3usize,
        (eps, momentum) in (log_eps(), 0.0f32..=1.0),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let mut shape: Vec<usize> = [n, c].iter().chain(&spatial).copied().collect();
        if stats < 2 && spatial.iter().product::<usize>() == 1 {
            // input statistics need more than one value per plane
            shape[2] = 2;
        }
        let inner: usize = shape[2..].iter().product();
        let x = spread_rows(&shape, inner, &mut rng);
        let (inputs, wi, bi) = params(x, &[c], weight, bias, want, &mut rng);
        let rm = Tensor::randn(&[c], 0.0, 1.0, &mut rng);
        let rv = Tensor::rand_uniform(&[c], 0.2, 2.0, &mut rng);
        let (rm0, rv0) = (rm.to_vec(), rv.to_vec());
        let cfg = BatchNormConfig::new().eps(eps).momentum(momentum);
        let running = stats > 0;
        let use_input = stats < 2;
        let f = |v: &[Tensor]| v[0].instance_norm(
            running.then_some(&rm), running.then_some(&rv),
            wi.map(|i| &v[i]), bi.map(|i| &v[i]), use_input, &cfg,
        );
        let y = f(&inputs).unwrap();
        let xv = inputs[0].to_vec();
        let xhat: Vec<f64> = if use_input {
            normalised_rows_reference(&xv, inner, eps)
        } else {
            xv.iter().enumerate().map(|(e, &v)| {
                let ch = (e / inner) % c;
                (v as f64 - rm0[ch] as f64) / (rv0[ch] as f64 + eps as f64).sqrt()
            }).collect()
        };
        let expected = affine_reference(&xhat, wi.map(|i| inputs[i].to_vec()), bi.map(|i| inputs[i].to_vec()), |e| (e / inner) % c);
        assert_close("forward", &y.to_vec(), &expected, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        if stats == 1 {
            // the plane statistics, each sample's update averaged over the batch
            let (mut em, mut ev) = (vec![0.0f64; c], vec![0.0f64; c]);
            for (p, plane) in xv.chunks(inner).enumerate() {
                let m = inner as f64;
                let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / m;
                let var = plane.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (m - 1.0);
                let (mom, ch) = (momentum as f64, p % c);
                em[ch] += ((1.0 - mom) * rm0[ch] as f64 + mom * mean) / n as f64;
                ev[ch] += ((1.0 - mom) * rv0[ch] as f64 + mom * var) / n as f64;
            }
            let f32s = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect::<Vec<_>>();
            assert_close("running_mean", &rm.to_vec(), &f32s(em), 1e-5, 1e-5).map_err(TestCaseError::fail)?;
            assert_close("running_var", &rv.to_vec(), &f32s(ev), 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        } else {
            prop_assert_eq!((rm.to_vec(), rv.to_vec()), (rm0, rv0));
        }
        gradcheck(&format!("instance_norm {shape:?} stats {stats}"), &inputs, f, 5e-3, 3e-3, 3e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }
}

#[test]
fn normalisations_on_large_inputs_match_the_definition() {
    // rows long and many enough to run on the pool, with column blocks for layer norm
    let mut rng = Rng::seed(5);
    let x = Tensor::randn(&[4, 8, 33, 35], 1.0, 3.0, &mut rng).with_grad();
    let c = 8;
    let inner = 33 * 35;
    let w = Tensor::rand_uniform(&[c], 0.5, 2.0, &mut rng).with_grad();
    let b = Tensor::randn(&[c], 0.0, 1.0, &mut rng).with_grad();
    let y = x.group_norm(4, Some(&w), Some(&b), 1e-5).unwrap();
    let xhat = normalised_rows_reference(&x.to_vec(), 2 * inner, 1e-5);
    let expected = affine_reference(&xhat, Some(w.to_vec()), Some(b.to_vec()), |e| {
        (e / inner) % c
    });
    assert_close("group_norm", &y.to_vec(), &expected, 1e-5, 1e-5).unwrap();
    let ln_w = Tensor::rand_uniform(&[33, 35], 0.5, 2.0, &mut rng);
    let y = x.layer_norm(&[33, 35], Some(&ln_w), None, 1e-5).unwrap();
    let xhat = normalised_rows_reference(&x.to_vec(), inner, 1e-5);
    let expected = affine_reference(&xhat, Some(ln_w.to_vec()), None, |e| e % inner);
    assert_close("layer_norm", &y.to_vec(), &expected, 1e-5, 1e-5).unwrap();
    // the gradient is the same whether computed once or as the sum of two halves of g
    let mut rng = Rng::seed(6);
    let g = Tensor::randn(&[4, 8, 33, 35], 0.0, 1.0, &mut rng);
    let y = x.group_norm(4, Some(&w), Some(&b), 1e-5).unwrap();
    let full = y.backward_with(&g).unwrap();
    // Σ over the input gradient of a per-sample normalisation is zero per group
    let gx = full.get(&x).unwrap().to_vec();
    for (k, group) in gx.chunks(2 * inner).enumerate() {
        let s: f64 = group.iter().map(|&v| v as f64).sum();
        assert!(s.abs() < 1e-2, "group {k}: Σ ∂x = {s}");
    }
}

// ---------------------------------------------------------------- PyTorch fixtures

fn fixture(
    family: &str,
) -> (
    HashMap<String, Tensor>,
    HashMap<String, HashMap<String, String>>,
) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/norm_resample")
        .join(format!("{family}.safetensors"));
    let (tensors, meta) = load(&path).unwrap();
    let cases = meta
        .into_iter()
        .map(|(case, settings)| {
            let kv = settings
                .split_whitespace()
                .map(|p| {
                    let (k, v) = p.split_once('=').expect("key=value");
                    (k.to_string(), v.to_string())
                })
                .collect();
            (case, kv)
        })
        .collect();
    (tensors.into_iter().collect(), cases)
}

fn list<T: std::str::FromStr>(s: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    s.split(',').map(|v| v.parse().unwrap()).collect()
}

/// Looks up `case.name`, a fresh copy (so requires_grad is the test's own).
fn get(tensors: &HashMap<String, Tensor>, case: &str, name: &str) -> Option<Tensor> {
    tensors.get(&format!("{case}.{name}")).map(|t| t.detach())
}

/// Runs `op` on the fixture's `x` (and `weight`, `bias` when the case has them) and
/// compares the output and the gradients for the fixture's `g` with PyTorch's.
fn check_against_torch(
    family: &str,
    op: impl Fn(
        &str,
        &HashMap<String, String>,
        &HashMap<String, Tensor>,
        &Tensor,
        Option<&Tensor>,
        Option<&Tensor>,
    ) -> Tensor,
) {
    let (tensors, cases) = fixture(family);
    assert!(!cases.is_empty());
    for (case, settings) in &cases {
        let what = |name: &str| format!("{family} {case} {settings:?}: {name}");
        let x = get(&tensors, case, "x").unwrap().with_grad();
        let w = get(&tensors, case, "weight").map(|t| t.with_grad());
        let b = get(&tensors, case, "bias").map(|t| t.with_grad());
        let y = op(case, settings, &tensors, &x, w.as_ref(), b.as_ref());
        let expected = get(&tensors, case, "y").unwrap();
        assert_eq!(y.shape(), expected.shape(), "{}", what("shape"));
        assert_close(&what("y"), &y.to_vec(), &expected.to_vec(), 1e-5, 1e-5).unwrap();
        let g = get(&tensors, case, "g").unwrap();
        let grads = y.backward_with(&g).unwrap();
        for (name, t) in [
            ("grad_x", Some(&x)),
            ("grad_weight", w.as_ref()),
            ("grad_bias", b.as_ref()),
        ] {
            if let Some(t) = t {
                let e = get(&tensors, case, name).unwrap();
                assert_close(&what(name), &grad(&grads, t), &e.to_vec(), 1e-4, 1e-4).unwrap();
            }
        }
    }
}

#[test]
fn layer_norm_equals_pytorch() {
    check_against_torch("layer_norm", |_, s, _, x, w, b| {
        let ns: Vec<usize> = list(&s["normalized"]);
        x.layer_norm(&ns, w, b, s["eps"].parse().unwrap()).unwrap()
    });
}

#[test]
fn group_norm_equals_pytorch() {
    check_against_torch("group_norm", |_, s, _, x, w, b| {
        x.group_norm(
            s["groups"].parse().unwrap(),
            w,
            b,
            s["eps"].parse().unwrap(),
        )
        .unwrap()
    });
}

#[test]
fn instance_norm_equals_pytorch_with_and_without_running_stats() {
    check_against_torch("instance_norm", |case, s, tensors, x, w, b| {
        let rm = get(tensors, case, "running_mean");
        let rv = get(tensors, case, "running_var");
        assert_eq!(rm.is_some(), s["running"] == "1");
        let cfg = BatchNormConfig::new()
            .eps(s["eps"].parse().unwrap())
            .momentum(s["momentum"].parse().unwrap());
        let y = x
            .instance_norm(
                rm.as_ref(),
                rv.as_ref(),
                w,
                b,
                s["use_input_stats"] == "1",
                &cfg,
            )
            .unwrap();
        for (name, t) in [("running_mean_after", &rm), ("running_var_after", &rv)] {
            if let Some(t) = t {
                let e = get(tensors, case, name).unwrap();
                assert_close(
                    &format!("{case}: {name}"),
                    &t.to_vec(),
                    &e.to_vec(),
                    1e-6,
                    1e-5,
                )
                .unwrap();
            }
        }
        y
    });
}

#[test]
fn interpolate_equals_pytorch() {
    let (_, cases) = fixture("interpolate");
    // bilinear both ways at ×2, ×3, ×0.5 and by size, nearest at ×2, ×3, ×0.5
    let has = |mode: &str, key: &str, value: &str| {
        cases
            .values()
            .any(|s| s["mode"] == mode && s.get(key).is_some_and(|v| v == value))
    };
    for scale in ["2.0,2.0", "3.0,3.0", "0.5,0.5"] {
        assert!(has("bilinear", "scale", scale) && has("nearest", "scale", scale));
    }
    assert!(has("bilinear", "align_corners", "1") && has("bilinear", "align_corners", "0"));
    check_against_torch("interpolate", |_, s, _, x, _, _| {
        let mut cfg = match (s.get("scale"), s.get("size")) {
            (Some(v), _) => {
                let v: Vec<f64> = list(v);
                InterpolateConfig::scales(v[0], v[1])
            }
            (_, Some(v)) => {
                let v: Vec<usize> = list(v);
                InterpolateConfig::size(v[0], v[1])
            }
            _ => panic!("no size"),
        };
        cfg = cfg.mode(match s["mode"].as_str() {
            "nearest" => InterpolateMode::Nearest,
            "nearest-exact" => InterpolateMode::NearestExact,
            "bilinear" => InterpolateMode::Bilinear {
                align_corners: s["align_corners"] == "1",
            },
            m => panic!("mode {m}"),
        });
        cfg = cfg.recompute_scale_factor(s["recompute"] == "1");
        x.interpolate(&cfg).unwrap()
    });
}

#[test]
fn bilinear_upsampling_weight_and_transposed_convolution_equal_fcn() {
    let (tensors, cases) = fixture("bilinear");
    for (case, s) in &cases {
        let channels: usize = s["channels"].parse().unwrap();
        let factor: usize = s["factor"].parse().unwrap();
        assert_eq!(
            bilinear_kernel_size(factor),
            s["kernel"].parse::<usize>().unwrap()
        );
        let layer = ConvTranspose2d::bilinear(channels, factor).unwrap();
        let expected = get(&tensors, case, "weight").unwrap();
        assert_eq!(layer.weight.shape(), expected.shape());
        assert_close(
            &format!("{case} weight"),
            &layer.weight.to_vec(),
            &expected.to_vec(),
            1e-7,
            0.,
        )
        .unwrap();
        let x = get(&tensors, case, "x").unwrap();
        let y = layer.forward(&x, Mode::Eval).unwrap();
        let e = get(&tensors, case, "y").unwrap();
        assert_eq!(y.shape(), e.shape());
        assert_close(
            &format!("{case} output"),
            &y.to_vec(),
            &e.to_vec(),
            1e-5,
            1e-5,
        )
        .unwrap();
    }
}

#[test]
fn bilinear_transposed_convolution_upsamples_as_interpolate_in_the_interior() {
    for factor in [2, 3, 4, 5] {
        let (c, h, w) = (2, 6, 7);
        // a smooth image: a tilted plane and a slow wave per channel
        let v: Vec<f32> = (0..c * h * w)
            .map(|e| {
                let (ch, i, j) = (e / (h * w), (e / w) % h, e % w);
                0.3 * i as f32 - 0.2 * j as f32 + ch as f32 + (0.4 * (i + j) as f32).sin()
            })
            .collect();
        let x = t(&v, &[1, c, h, w]);
        let layer = ConvTranspose2d::bilinear(c, factor).unwrap();
        let y = layer.forward(&x, Mode::Eval).unwrap();
        assert_eq!(
            y.shape(),
            &[1, c, factor * h, factor * w],
            "factor {factor}"
        );
        let reference = x
            .interpolate(&InterpolateConfig::scale(factor as f64).bilinear(false))
            .unwrap();
        // the interior: output pixels whose both taps lie inside the input
        let (oh, ow) = (factor * h, factor * w);
        let (yv, rv) = (y.to_vec(), reference.to_vec());
        let mut compared = 0;
        for ch in 0..c {
            for i in factor..oh - factor {
                for j in factor..ow - factor {
                    let e = (ch * oh + i) * ow + j;
                    assert!(
                        (yv[e] - rv[e]).abs() < 1e-5,
                        "factor {factor} at {ch},{i},{j}: {} vs {}",
                        yv[e],
                        rv[e]
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 0);
        // the weight is learnable: a gradient reaches it
        let grads = y.sum_all().backward().unwrap();
        assert!(grads.get(&layer.weight).is_some());
    }
}

// ---------------------------------------------------------------- layers

fn names(m: &dyn Module) -> Vec<(String, TensorKind)> {
    nn::named_tensors(m)
        .into_iter()
        .map(|t| (t.name, t.kind))
        .collect()
}

#[test]
fn layers_have_pytorch_names_and_defaults() {
    use TensorKind::{Buffer, Parameter};
    let ln = LayerNorm::new(&[3, 4]).unwrap();
    assert_eq!(ln.kind(), "LayerNorm");
    assert_eq!(
        names(&ln),
        [("weight".into(), Parameter), ("bias".into(), Parameter)]
    );
    assert_eq!(ln.weight.as_ref().unwrap().shape(), &[3, 4]);
    assert!(names(&LayerNorm::new(&[4]).unwrap().without_affine()).is_empty());
    assert_eq!(
        names(&LayerNorm::new(&[4]).unwrap().without_bias()).len(),
        1
    );
    let gn = GroupNorm::new(2, 6).unwrap();
    assert_eq!(gn.kind(), "GroupNorm");
    assert_eq!(
        names(&gn),
        [("weight".into(), Parameter), ("bias".into(), Parameter)]
    );
    assert_eq!(nn::num_parameters(&gn), 12);
    let inorm = InstanceNorm2d::new(3).unwrap();
    assert_eq!(inorm.kind(), "InstanceNorm2d");
    assert!(
        names(&inorm).is_empty(),
        "no affine, no running stats by default"
    );
    let tracked = InstanceNorm2d::new(3)
        .unwrap()
        .affine()
        .track_running_stats();
    assert_eq!(
        names(&tracked),
        [
            ("weight".into(), Parameter),
            ("bias".into(), Parameter),
            ("running_mean".into(), Buffer),
            ("running_var".into(), Buffer),
            ("num_batches_tracked".into(), Buffer),
        ]
    );
    let up = Upsample(InterpolateConfig::scale(2.0).bilinear(false));
    assert_eq!(up.kind(), "Upsample");
    let y = up
        .forward(&Tensor::zeros(&[1, 2, 3, 4]), Mode::Train)
        .unwrap();
    assert_eq!(y.shape(), &[1, 2, 6, 8]);
}

#[test]
fn instance_norm_layer_uses_running_stats_in_eval_only_when_tracking() {
    let mut rng = Rng::seed(9);
    let x = Tensor::randn(&[2, 3, 4, 4], 2.0, 3.0, &mut rng);
    let own = no_grad(|| x.instance_norm(None, None, None, None, true, &BatchNormConfig::new()))
        .unwrap()
        .to_vec();
    // not tracking: the input's own statistics in both modes
    let plain = InstanceNorm2d::new(3).unwrap();
    for mode in [Mode::Train, Mode::Eval] {
        let y = plain.forward(&x, mode).unwrap();
        assert_close(&format!("{mode:?}"), &y.to_vec(), &own, 1e-6, 1e-6).unwrap();
    }
    // tracking: training normalises by the input and updates the buffers; evaluation
    // normalises by the buffers and leaves them alone
    let tracked = InstanceNorm2d::new(3).unwrap().track_running_stats();
    let y = tracked.forward(&x, Mode::Train).unwrap();
    assert_close("train", &y.to_vec(), &own, 1e-6, 1e-6).unwrap();
    let (rm, rv) = tracked.running_stats().unwrap();
    let (rm1, rv1) = (rm.to_vec(), rv.to_vec());
    assert!(rm1.iter().all(|&m| m > 0.05), "{rm1:?}");
    let batches = |m: &InstanceNorm2d| {
        nn::named_tensors(m)
            .into_iter()
            .find(|t| t.name == "num_batches_tracked")
            .unwrap()
            .tensor
            .item()
            .unwrap()
    };
    assert_eq!(batches(&tracked), 1.0);
    let y = tracked.forward(&x, Mode::Eval).unwrap();
    let expected = x
        .instance_norm(
            Some(rm),
            Some(rv),
            None,
            None,
            false,
            &BatchNormConfig::new(),
        )
        .unwrap();
    assert_close("eval", &y.to_vec(), &expected.to_vec(), 1e-6, 1e-6).unwrap();
    assert_eq!((rm.to_vec(), rv.to_vec()), (rm1, rv1));
    assert_eq!(batches(&tracked), 1.0);
}

// ---------------------------------------------------------------- errors

fn err(r: splot::Result<Tensor>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn normalisation_errors_name_the_op_and_shapes() {
    let x = Tensor::zeros(&[2, 6, 3, 3]);
    let six = Tensor::ones(&[6]);
    let four = Tensor::ones(&[4]);
    // layer norm: normalized_shape not the trailing axes, empty, longer than the input
    for ns in [&[6][..], &[6, 3], &[], &[2, 6, 3, 3, 1]] {
        let e = err(x.layer_norm(ns, None, None, 1e-5));
        assert!(
            e.contains("layer_norm")
                && e.contains(&format!("{ns:?}"))
                && e.contains("[2, 6, 3, 3]"),
            "{e}"
        );
    }
    let e = err(x.layer_norm(&[3, 3], Some(&six), None, 1e-5));
    assert!(
        e.contains("weight must be [3, 3]") && e.contains("[6]"),
        "{e}"
    );
    let e = err(x.layer_norm(&[3], None, Some(&four), 1e-5));
    assert!(e.contains("bias must be [3]") && e.contains("[4]"), "{e}");
    for eps in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(err(x.layer_norm(&[3], None, None, eps)).contains("eps"));
        assert!(err(x.group_norm(2, None, None, eps)).contains("eps"));
    }
    // group norm: groups not dividing c, zero groups, wrong weight, too few axes
    for groups in [0, 4, 5, 7] {
        let e = err(x.group_norm(groups, None, None, 1e-5));
        assert!(
            e.contains("group_norm")
                && e.contains(&format!("groups {groups}"))
                && e.contains("6 channels"),
            "{e}"
        );
    }
    let e = err(x.group_norm(2, Some(&four), None, 1e-5));
    assert!(e.contains("weight must be [6]") && e.contains("[4]"), "{e}");
    let e = err(Tensor::zeros(&[6]).group_norm(1, None, None, 1e-5));
    assert!(e.contains("[n, c, *]") && e.contains("[6]"), "{e}");
    let e = err(Tensor::zeros(&[2, 0, 3]).group_norm(1, None, None, 1e-5));
    assert!(e.contains("no channels"), "{e}");
    // instance norm
    let cfg = BatchNormConfig::new();
    let e = err(x.instance_norm(None, None, None, None, false, &cfg));
    assert!(
        e.contains("instance_norm") && e.contains("running_mean and running_var"),
        "{e}"
    );
    let e = err(x.instance_norm(Some(&four), Some(&six), None, None, true, &cfg));
    assert!(
        e.contains("running_mean must be [6]") && e.contains("[4]"),
        "{e}"
    );
    let e = err(x.instance_norm(None, None, None, Some(&four), true, &cfg));
    assert!(e.contains("bias must be [6]"), "{e}");
    let e = err(Tensor::zeros(&[2, 6]).instance_norm(None, None, None, None, true, &cfg));
    assert!(e.contains("spatial axis") && e.contains("[2, 6]"), "{e}");
    let e = err(Tensor::zeros(&[2, 6, 1, 1]).instance_norm(None, None, None, None, true, &cfg));
    assert!(
        e.contains("more than 1 spatial value") && e.contains("[2, 6, 1, 1]"),
        "{e}"
    );
    for momentum in [-0.5, 1.5, f32::NAN] {
        let e = err(x.instance_norm(None, None, None, None, true, &cfg.momentum(momentum)));
        assert!(e.contains("momentum"), "{e}");
    }
    let e = err(x.instance_norm(None, None, None, None, true, &cfg.eps(0.0)));
    assert!(e.contains("eps"), "{e}");
    // a rejected call leaves the running statistics alone
    let (rm, rv) = (Tensor::zeros(&[6]), Tensor::ones(&[6]));
    err(x.instance_norm(Some(&rm), Some(&rv), Some(&four), None, true, &cfg));
    assert_eq!((rm.to_vec(), rv.to_vec()), (vec![0.; 6], vec![1.; 6]));
    // layers
    assert!(LayerNorm::new(&[]).is_err() && LayerNorm::new(&[3, 0]).is_err());
    assert!(
        GroupNorm::new(4, 6).is_err()
            && GroupNorm::new(0, 6).is_err()
            && GroupNorm::new(1, 0).is_err()
    );
    assert!(InstanceNorm2d::new(0).is_err());
    let e = err(GroupNorm::new(2, 4).unwrap().forward(&x, Mode::Train));
    assert!(e.contains("GroupNorm") && e.contains("[n, 4, *]"), "{e}");
    let e = err(InstanceNorm2d::new(6)
        .unwrap()
        .forward(&Tensor::zeros(&[2, 6, 3]), Mode::Train));
    assert!(
        e.contains("InstanceNorm2d") && e.contains("[2, 6, 3]"),
        "{e}"
    );
}

#[test]
fn interpolate_errors_name_the_op_and_shapes() {
    let x = Tensor::zeros(&[1, 2, 5, 6]);
    for shape in [&[2, 5, 6][..], &[1, 2, 3, 5, 6]] {
        let e = err(Tensor::zeros(shape).interpolate(&InterpolateConfig::scale(2.0)));
        assert!(
            e.contains("interpolate")
                && e.contains("[n, c, h, w]")
                && e.contains(&format!("{shape:?}")),
            "{e}"
        );
    }
    let e = err(Tensor::zeros(&[1, 2, 0, 6]).interpolate(&InterpolateConfig::scale(2.0)));
    assert!(e.contains("empty spatial axis"), "{e}");
    // zero output size, given or rounded down from a small scale
    for cfg in [
        InterpolateConfig::size(0, 3),
        InterpolateConfig::size(4, 0),
        InterpolateConfig::scale(0.1),
    ] {
        let e = err(x.interpolate(&cfg.bilinear(false)));
        assert!(
            e.contains("interpolate")
                && e.contains("must be positive")
                && e.contains("[1, 2, 5, 6]"),
            "{e}"
        );
    }
    // non-positive or non-finite scale factors
    for s in [0.0, -2.0, f64::NAN, f64::INFINITY] {
        let e = err(x.interpolate(&InterpolateConfig::scales(2.0, s)));
        assert!(
            e.contains("scale factors must be positive and finite"),
            "{e}"
        );
    }
    let e = err(x.interpolate(&InterpolateConfig::scale(1e300)));
    assert!(e.contains("too many values"), "{e}");
    let e = err(x.interpolate(&InterpolateConfig::size(3, 3).recompute_scale_factor(true)));
    assert!(e.contains("recompute_scale_factor"), "{e}");
    // the bilinear transposed convolution
    assert!(ConvTranspose2d::bilinear(0, 2).is_err());
    assert!(ConvTranspose2d::bilinear(2, 0).is_err());
    assert!(bilinear_upsampling_weight(2, 0).is_err());
}

#[test]
fn empty_inputs_give_empty_outputs_and_gradients() {
    let x = Tensor::zeros(&[2, 4, 0]).with_grad();
    let w = Tensor::ones(&[4]).with_grad();
    let y = x.group_norm(2, Some(&w), None, 1e-5).unwrap();
    let grads = y.sum_all().backward().unwrap();
    assert_eq!(grad(&grads, &w), vec![0.; 4]);
    let y = Tensor::zeros(&[0, 3])
        .with_grad()
        .layer_norm(&[3], None, None, 1e-5)
        .unwrap();
    assert_eq!(y.shape(), &[0, 3]);
    let x = Tensor::zeros(&[0, 2, 3, 3]).with_grad();
    let y = x
        .interpolate(&InterpolateConfig::scale(2.0).bilinear(true))
        .unwrap();
    assert_eq!(y.shape(), &[0, 2, 6, 6]);
    y.sum_all().backward().unwrap();
}
