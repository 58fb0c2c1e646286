//! conv2d and conv_transpose2d: hand-computed values, the lecture's output sizes, the fast
//! kernels against the reference kernels, finite-difference gradient checks over random legal
//! configurations (every padding mode, stride, dilation, groups, asymmetric padding), and
//! errors for impossible configurations.

use proptest::prelude::*;
use splot::cpu::conv as kernels;
use splot::ops::conv::{conv2d_geometry, conv_output_size, conv_transpose2d_output_shape};
use splot::testing::{assert_close, gradcheck};
use splot::{Conv2dConfig, ConvTranspose2dConfig, Padding2d, PaddingMode, Rng, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn one_to_nine() -> Tensor {
    t(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], &[1, 1, 3, 3])
}

// ---------------------------------------------------------------- hand-computed values

#[test]
fn valid_convolution_with_bias() {
    // y[i, j] = x[i, j] − x[i+1, j+1] + 0.5
    let w = t(&[1., 0., 0., -1.], &[1, 1, 2, 2]);
    let b = t(&[0.5], &[1]);
    let y = one_to_nine()
        .conv2d(&w, Some(&b), &Conv2dConfig::new())
        .unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![-3.5; 4]);
}

#[test]
fn stride_two_zero_and_replicate_padding() {
    let w = Tensor::ones(&[1, 1, 3, 3]);
    let cfg = Conv2dConfig::new().stride(2).padding(1);
    let y = one_to_nine().conv2d(&w, None, &cfg).unwrap();
    assert_eq!(y.to_vec(), vec![12., 16., 24., 28.]);
    let cfg = cfg.padding_mode(PaddingMode::Replicate);
    let y = one_to_nine().conv2d(&w, None, &cfg).unwrap();
    // window rows (0,0,1) × cols (0,0,1) of the image, and so on
    assert_eq!(y.to_vec(), vec![21., 33., 57., 69.]);
}

#[test]
fn every_mode_on_the_lecture_image_sums_its_padded_table() {
    // A 5×5 all-ones kernel on the 4×4 lecture image padded by 2, stride 4: the top-left
    // output sums the top-left 5×5 block of the lecture's padded table.
    let x = t(
        &[
            1., 4., 2., 3., 6., 1., 1., 7., 1., 2., 1., 4., 1., 5., 1., 2.,
        ],
        &[1, 1, 4, 4],
    );
    for mode in PaddingMode::ALL {
        let padded = x.pad2d(Padding2d::same(2), mode).unwrap().to_vec();
        let block: f32 = (0..5)
            .flat_map(|r| (0..5).map(move |c| (r, c)))
            .map(|(r, c)| padded[r * 8 + c])
            .sum();
        let cfg = Conv2dConfig::new().padding(2).stride(4).padding_mode(mode);
        let y = x.conv2d(&Tensor::ones(&[1, 1, 5, 5]), None, &cfg).unwrap();
        assert_eq!(y.shape(), &[1, 1, 1, 1]);
        assert_eq!(y.to_vec(), vec![block], "{mode}");
    }
}

#[test]
fn dilation_spreads_the_taps() {
    let y = one_to_nine()
        .conv2d(
            &Tensor::ones(&[1, 1, 2, 2]),
            None,
            &Conv2dConfig::new().dilation(2),
        )
        .unwrap();
    assert_eq!(y.to_vec(), vec![1. + 3. + 7. + 9.]);
}

#[test]
fn rectangular_kernel_with_one_sided_padding_is_a_running_sum() {
    let x = t(&[1., 2., 3., 4.], &[1, 1, 1, 4]);
    let cfg = Conv2dConfig::new().padding_sides(Padding2d::sides(0, 0, 2, 0));
    let y = x.conv2d(&Tensor::ones(&[1, 1, 1, 3]), None, &cfg).unwrap();
    assert_eq!(y.to_vec(), vec![1., 3., 6., 9.]);
}

#[test]
fn groups_keep_channels_apart() {
    let x = t(&[1., 2., 3., 4., 10., 20., 30., 40.], &[1, 2, 2, 2]);
    let w = t(&[2., 3.], &[2, 1, 1, 1]);
    let y = x.conv2d(&w, None, &Conv2dConfig::new().groups(2)).unwrap();
    assert_eq!(y.to_vec(), vec![2., 4., 6., 8., 30., 60., 90., 120.]);
}

#[test]
fn one_by_one_convolution_mixes_depth_per_pixel() {
    // 4 channels → 2: each output pixel is W · (the pixel's 4 channel values).
    let x = t(
        &(0..16).map(|v| v as f32).collect::<Vec<_>>(),
        &[1, 4, 2, 2],
    );
    let w = t(&[1., 1., 1., 1., 1., -1., 0., 0.], &[2, 4, 1, 1]);
    let y = x.conv2d(&w, None, &Conv2dConfig::new()).unwrap();
    assert_eq!(y.shape(), &[1, 2, 2, 2]);
    // pixel p has channel values p, p+4, p+8, p+12
    assert_eq!(y.to_vec(), vec![24., 28., 32., 36., -4., -4., -4., -4.]);
}

#[test]
fn a_5x5x3_filter_on_rgb_spans_the_full_depth() {
    // The lecture: 32×32×3 image, 10 filters of 5×5×3 → 28×28×10; with p = 2 → 32×32×10.
    let x = Tensor::ones(&[1, 3, 32, 32]);
    let w = Tensor::ones(&[10, 3, 5, 5]);
    let y = x.conv2d(&w, None, &Conv2dConfig::new()).unwrap();
    assert_eq!(y.shape(), &[1, 10, 28, 28]);
    assert!(y.to_vec().iter().all(|&v| v == 75.0));
    let y = x.conv2d(&w, None, &Conv2dConfig::new().padding(2)).unwrap();
    assert_eq!(y.shape(), &[1, 10, 32, 32]);
}

#[test]
fn output_size_formula_of_the_lecture() {
    // ⌊(n − f + 2p)/s + 1⌋
    assert_eq!(conv_output_size(7, 3, 0, 0, 1, 1), Some(5));
    assert_eq!(conv_output_size(7, 3, 0, 0, 2, 1), Some(3));
    assert_eq!(conv_output_size(32, 5, 0, 0, 1, 1), Some(28));
    assert_eq!(conv_output_size(227, 11, 0, 0, 4, 1), Some(55)); // AlexNet conv1
    assert_eq!(conv_output_size(224, 7, 3, 3, 2, 1), Some(112)); // ResNet conv1
    assert_eq!(conv_output_size(8, 3, 0, 0, 3, 1), Some(2)); // the floor
    assert_eq!(conv_output_size(7, 3, 0, 0, 1, 3), Some(1)); // dilation: span 7
    assert_eq!(conv_output_size(2, 3, 0, 0, 1, 1), None);
}

#[test]
fn transposed_convolution_values() {
    let x = t(&[1., 2., 3., 4.], &[1, 1, 2, 2]);
    let w = Tensor::ones(&[1, 1, 2, 2]);
    let y = x
        .conv_transpose2d(&w, None, &ConvTranspose2dConfig::new().stride(2))
        .unwrap();
    assert_eq!(y.shape(), &[1, 1, 4, 4]);
    assert_eq!(
        y.to_vec(),
        vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
    );
    let y = x
        .conv_transpose2d(&w, None, &ConvTranspose2dConfig::new())
        .unwrap();
    assert_eq!(y.to_vec(), vec![1., 3., 2., 4., 10., 6., 3., 7., 4.]);
    let cfg = ConvTranspose2dConfig::new().stride(2).output_padding(1, 1);
    let b = t(&[0.5], &[1]);
    let y = x.conv_transpose2d(&w, Some(&b), &cfg).unwrap();
    assert_eq!(y.shape(), &[1, 1, 5, 5]);
    assert_eq!(y.at(&[0, 0, 4, 4]).unwrap(), 0.5);
    assert_eq!(y.at(&[0, 0, 3, 3]).unwrap(), 4.5);
    let cfg = ConvTranspose2dConfig::new().stride(2).padding(1);
    let y = x.conv_transpose2d(&w, None, &cfg).unwrap();
    assert_eq!(y.to_vec(), vec![1., 2., 3., 4.]);
}

#[test]
fn transposed_output_sizes_match_pytorch() {
    // torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1) on 5×5 → 10×10
    let cfg = ConvTranspose2dConfig::new()
        .stride(2)
        .padding(1)
        .output_padding(1, 1);
    assert_eq!(
        conv_transpose2d_output_shape(&[2, 1, 5, 5], &[1, 4, 3, 3], &cfg).unwrap(),
        vec![2, 4, 10, 10]
    );
    // dilation 2, kernel 3, stride 1: 4 + 4 = 8; groups 2 doubles the weight's channels
    let cfg = ConvTranspose2dConfig::new().dilation(2).groups(2);
    assert_eq!(
        conv_transpose2d_output_shape(&[1, 4, 4, 4], &[4, 3, 3, 3], &cfg).unwrap(),
        vec![1, 6, 8, 8]
    );
}

// ---------------------------------------------------------------- errors

fn err(r: splot::Result<Tensor>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn impossible_configurations_are_errors_naming_op_and_shapes() {
    let x = Tensor::zeros(&[1, 3, 4, 4]);
    let cfg = Conv2dConfig::new();
    // empty output
    let e = err(x.conv2d(&Tensor::zeros(&[2, 3, 5, 5]), None, &cfg));
    assert!(
        e.contains("conv2d") && e.contains("empty output") && e.contains("[1, 3, 4, 4]"),
        "{e}"
    );
    // channels not divisible by groups
    let e = err(x.conv2d(&Tensor::zeros(&[2, 1, 3, 3]), None, &cfg.groups(2)));
    assert!(
        e.contains("conv2d") && e.contains("divisible") && e.contains("groups 2"),
        "{e}"
    );
    let e = err(Tensor::zeros(&[1, 4, 4, 4]).conv2d(
        &Tensor::zeros(&[3, 2, 3, 3]),
        None,
        &cfg.groups(2),
    ));
    assert!(
        e.contains("output channels 3") && e.contains("[3, 2, 3, 3]"),
        "{e}"
    );
    // weight/input depth mismatch
    let e = err(x.conv2d(&Tensor::zeros(&[2, 2, 3, 3]), None, &cfg));
    assert!(
        e.contains("conv2d") && e.contains("[2, 2, 3, 3]") && e.contains("[1, 3, 4, 4]"),
        "{e}"
    );
    // padding too wide
    let e = err(x.conv2d(
        &Tensor::zeros(&[2, 3, 3, 3]),
        None,
        &cfg.padding(4).padding_mode(PaddingMode::Reflect),
    ));
    assert!(
        e.contains("conv2d") && e.contains("reflect") && e.contains("[1, 3, 4, 4]"),
        "{e}"
    );
    let e = err(x.conv2d(
        &Tensor::zeros(&[2, 3, 3, 3]),
        None,
        &cfg.padding(5).padding_mode(PaddingMode::Symmetric),
    ));
    assert!(e.contains("symmetric"), "{e}");
    // zero stride, wrong ranks, wrong bias
    let e = err(x.conv2d(&Tensor::zeros(&[2, 3, 3, 3]), None, &cfg.stride(0)));
    assert!(e.contains("stride"), "{e}");
    let e = err(Tensor::zeros(&[3, 4, 4]).conv2d(&Tensor::zeros(&[2, 3, 3, 3]), None, &cfg));
    assert!(e.contains("[n, c, h, w]") && e.contains("[3, 4, 4]"), "{e}");
    let e = err(x.conv2d(
        &Tensor::zeros(&[2, 3, 3, 3]),
        Some(&Tensor::zeros(&[3])),
        &cfg,
    ));
    assert!(e.contains("bias") && e.contains("[2]"), "{e}");
    let e = err(Tensor::zeros(&[0, 3, 4, 4]).conv2d(&Tensor::zeros(&[2, 3, 3, 3]), None, &cfg));
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn impossible_transposed_configurations_are_errors() {
    let x = Tensor::zeros(&[1, 4, 3, 3]);
    let w = Tensor::zeros(&[4, 2, 3, 3]);
    let cfg = ConvTranspose2dConfig::new();
    let e = err(x.conv_transpose2d(&Tensor::zeros(&[3, 2, 3, 3]), None, &cfg));
    assert!(
        e.contains("conv_transpose2d") && e.contains("[3, 2, 3, 3]") && e.contains("[1, 4, 3, 3]"),
        "{e}"
    );
    let e = err(x.conv_transpose2d(&w, None, &cfg.output_padding(1, 0)));
    assert!(e.contains("output padding"), "{e}");
    let e = err(x.conv_transpose2d(&w, None, &cfg.padding(3)));
    assert!(e.contains("empty output"), "{e}");
    let e = err(x.conv_transpose2d(&w, None, &cfg.groups(3)));
    assert!(e.contains("divisible"), "{e}");
    let e = err(x.conv_transpose2d(&w, Some(&Tensor::zeros(&[2])), &cfg.groups(2)));
    assert!(e.contains("bias must be [4]"), "{e}");
    x.conv_transpose2d(&w, Some(&Tensor::zeros(&[4])), &cfg.groups(2))
        .unwrap();
}

// ---------------------------------------------------------------- random legal configurations

/// A convolution problem that is legal by construction.
#[derive(Clone, Debug)]
struct ConvCase {
    n: usize,
    c: usize,
    oc: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: Padding2d,
    mode: PaddingMode,
    hw: [usize; 2],
    bias: bool,
}

impl ConvCase {
    fn cfg(&self) -> Conv2dConfig {
        Conv2dConfig::new()
            .stride_hw(self.stride[0], self.stride[1])
            .dilation_hw(self.dilation[0], self.dilation[1])
            .padding_sides(self.pad)
            .groups(self.groups)
            .padding_mode(self.mode)
    }
    fn tensors(&self, seed: u64) -> Vec<Tensor> {
        let mut rng = Rng::seed(seed);
        let mut v = vec![
            Tensor::randn(
                &[self.n, self.c, self.hw[0], self.hw[1]],
                0.0,
                1.0,
                &mut rng,
            )
            .with_grad(),
            Tensor::randn(
                &[
                    self.oc,
                    self.c / self.groups,
                    self.kernel[0],
                    self.kernel[1],
                ],
                0.0,
                1.0,
                &mut rng,
            )
            .with_grad(),
        ];
        if self.bias {
            v.push(Tensor::randn(&[self.oc], 0.0, 1.0, &mut rng).with_grad());
        }
        v
    }
}

/// The smallest legal size of an axis for a mode, a kernel span and padding, plus `extra`.
fn axis_size(mode: PaddingMode, span: usize, before: usize, after: usize, extra: usize) -> usize {
    let for_mode = match mode {
        PaddingMode::Reflect => before.max(after) + 1,
        PaddingMode::Symmetric | PaddingMode::Circular => before.max(after),
        _ => 1,
    };
    for_mode.max(span.saturating_sub(before + after)).max(1) + extra
}

fn conv_case(max_extra: usize) -> impl Strategy<Value = ConvCase> {
    (
        (1..=3usize, 1..=2usize, 1..=2usize, 1..=2usize, 0..5usize),
        (
            proptest::array::uniform2(1..=3usize),
            proptest::array::uniform2(1..=2usize),
            proptest::array::uniform2(1..=2usize),
        ),
        (
            proptest::array::uniform4(0..=2usize),
            proptest::array::uniform2(0..=max_extra),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((n, groups, cpg, ocpg, m), (kernel, stride, dilation), (p, extra, bias))| {
                let mode = PaddingMode::ALL[m];
                let pad = Padding2d::sides(p[0], p[1], p[2], p[3]);
                let span = |a: usize| dilation[a] * (kernel[a] - 1) + 1;
                let hw = [
                    axis_size(mode, span(0), pad.top, pad.bottom, extra[0]),
                    axis_size(mode, span(1), pad.left, pad.right, extra[1]),
                ];
                ConvCase {
                    n,
                    c: groups * cpg,
                    oc: groups * ocpg,
                    groups,
                    kernel,
                    stride,
                    dilation,
                    pad,
                    mode,
                    hw,
                    bias,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv2d_gradients_match_finite_differences(case in conv_case(2), seed in any::<u64>()) {
        let inputs = case.tensors(seed);
        let cfg = case.cfg();
        let f = |v: &[Tensor]| v[0].conv2d(&v[1], v.get(2), &cfg);
        gradcheck(&format!("conv2d {case:?}"), &inputs, f, 1e-2, 3e-3, 3e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn fast_kernels_equal_the_reference(case in conv_case(6), seed in any::<u64>()) {
        let v = case.tensors(seed);
        let (x, w) = (v[0].to_vec(), v[1].to_vec());
        let b = v.get(2).map(|b| b.to_vec());
        let g = conv2d_geometry(v[0].shape(), v[1].shape(), None, &case.cfg()).unwrap();
        let ylen = g.n * g.oc * g.oh * g.ow;
        let gy = Tensor::randn(&[ylen], 0.0, 1.0, &mut Rng::seed(seed ^ 7)).to_vec();
        kernels_match_reference(&g, &x, &w, b.as_deref(), &gy, "", 1e-4)
            .map_err(TestCaseError::fail)?;
    }
}

/// The fast kernels against the reference ones on `g`, all three passes: each output starts
/// filled with values the kernels must overwrite; the weight gradient within `weight_atol`
/// (a sum over every pixel), the others within 1e-4.
#[allow(clippy::too_many_arguments)]
fn kernels_match_reference(
    g: &kernels::ConvGeometry,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    gy: &[f32],
    what: &str,
    weight_atol: f32,
) -> Result<(), String> {
    let ny = g.n * g.oc * g.oh * g.ow;
    let (mut fast, mut slow) = (vec![7.0; ny], vec![0.0; ny]);
    kernels::conv_forward(g, x, w, b, &mut fast);
    kernels::conv_forward_reference(g, x, w, b, &mut slow);
    assert_close(&format!("forward {what}"), &fast, &slow, 1e-4, 1e-4)?;
    let (mut fast, mut slow) = (vec![1.0; x.len()], vec![2.0; x.len()]);
    kernels::conv_backward_input(g, gy, w, &mut fast);
    kernels::conv_backward_input_reference(g, gy, w, &mut slow);
    assert_close(&format!("backward input {what}"), &fast, &slow, 1e-4, 1e-4)?;
    let (mut fast, mut slow) = (vec![1.0; w.len()], vec![2.0; w.len()]);
    kernels::conv_backward_weight(g, x, gy, &mut fast);
    kernels::conv_backward_weight_reference(g, x, gy, &mut slow);
    assert_close(
        &format!("backward weight {what}"),
        &fast,
        &slow,
        weight_atol,
        1e-4,
    )
}

/// A transposed-convolution problem that is legal by construction.
#[derive(Clone, Debug)]
struct TransposeCase {
    n: usize,
    c: usize,
    oc: usize,
    groups: usize,
    kernel: [usize; 2],
    cfg: ConvTranspose2dConfig,
    hw: [usize; 2],
    bias: bool,
}

fn transpose_case() -> impl Strategy<Value = TransposeCase> {
    (
        (1..=2usize, 1..=2usize, 1..=2usize, 1..=2usize),
        (
            proptest::array::uniform2(1..=3usize),
            proptest::array::uniform2(1..=3usize),
            proptest::array::uniform2(1..=2usize),
        ),
        (
            proptest::array::uniform4(0..=2usize),
            proptest::array::uniform2(0..=2usize),
            proptest::array::uniform2(1..=4usize),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((n, groups, cpg, ocpg), (kernel, stride, dilation), (p, op, hw, bias))| {
                // output padding below the stride or the dilation
                let op = [
                    op[0] % stride[0].max(dilation[0]),
                    op[1] % stride[1].max(dilation[1]),
                ];
                let cfg = ConvTranspose2dConfig {
                    stride,
                    padding: Padding2d::sides(p[0], p[1], p[2], p[3]),
                    output_padding: op,
                    dilation,
                    groups,
                };
                TransposeCase {
                    n,
                    c: groups * cpg,
                    oc: groups * ocpg,
                    groups,
                    kernel,
                    cfg,
                    hw,
                    bias,
                }
            },
        )
        .prop_filter("output must not be empty", |c| {
            conv_transpose2d_output_shape(
                &[c.n, c.c, c.hw[0], c.hw[1]],
                &[c.c, c.oc / c.groups, c.kernel[0], c.kernel[1]],
                &c.cfg,
            )
            .is_ok()
        })
}

/// conv_transpose2d by its definition: every input pixel scatters `x·w` into the output.
fn conv_transpose_reference(
    case: &TransposeCase,
    x: &[f32],
    w: &[f32],
    out_shape: &[usize],
) -> Vec<f32> {
    let [n, c, h, wd] = [case.n, case.c, case.hw[0], case.hw[1]];
    let (oc, oh, ow) = (out_shape[1], out_shape[2], out_shape[3]);
    let (cg, ocg) = (c / case.groups, oc / case.groups);
    let [kh, kw] = case.kernel;
    let cfg = &case.cfg;
    let mut y = vec![0.0f32; n * oc * oh * ow];
    for i in 0..n {
        for ci in 0..c {
            let grp = ci / cg;
            for iy in 0..h {
                for ix in 0..wd {
                    for ol in 0..ocg {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let yy = (iy * cfg.stride[0] + ki * cfg.dilation[0]) as isize
                                    - cfg.padding.top as isize;
                                let yx = (ix * cfg.stride[1] + kj * cfg.dilation[1]) as isize
                                    - cfg.padding.left as isize;
                                if yy < 0 || yx < 0 || yy as usize >= oh || yx as usize >= ow {
                                    continue;
                                }
                                let o = grp * ocg + ol;
                                y[((i * oc + o) * oh + yy as usize) * ow + yx as usize] += x
                                    [((i * c + ci) * h + iy) * wd + ix]
                                    * w[((ci * ocg + ol) * kh + ki) * kw + kj];
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv_transpose2d_matches_its_definition_and_finite_differences(case in transpose_case(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let x = Tensor::randn(&[case.n, case.c, case.hw[0], case.hw[1]], 0.0, 1.0, &mut rng).with_grad();
        let w = Tensor::randn(&[case.c, case.oc / case.groups, case.kernel[0], case.kernel[1]], 0.0, 1.0, &mut rng).with_grad();
        let mut inputs = vec![x, w];
        if case.bias {
            inputs.push(Tensor::randn(&[case.oc], 0.0, 1.0, &mut rng).with_grad());
        }
        let cfg = case.cfg;
        let y = inputs[0].conv_transpose2d(&inputs[1], inputs.get(2), &cfg).unwrap();
        let mut expected = conv_transpose_reference(&case, &inputs[0].to_vec(), &inputs[1].to_vec(), y.shape());
        if let Some(b) = inputs.get(2) {
            let (b, hw) = (b.to_vec(), y.dim(2) * y.dim(3));
            expected.iter_mut().enumerate().for_each(|(j, v)| *v += b[(j / hw) % case.oc]);
        }
        assert_close("conv_transpose2d forward", &y.to_vec(), &expected, 1e-4, 1e-4).map_err(TestCaseError::fail)?;
        let f = |v: &[Tensor]| v[0].conv_transpose2d(&v[1], v.get(2), &cfg);
        gradcheck(&format!("conv_transpose2d {case:?}"), &inputs, f, 1e-2, 3e-3, 3e-3, seed ^ 3)
            .map_err(TestCaseError::fail)?;
    }
}

#[test]
fn transposed_convolution_is_the_adjoint_of_convolution() {
    // ⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ for the same weight, stride, padding, dilation.
    let mut rng = Rng::seed(5);
    let x = Tensor::randn(&[2, 4, 9, 8], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&[6, 2, 3, 2], 0.0, 1.0, &mut rng);
    let cfg = Conv2dConfig::new()
        .stride_hw(2, 1)
        .padding_sides(Padding2d::sides(1, 2, 0, 1))
        .dilation(2)
        .groups(2);
    let cx = x.conv2d(&w, None, &cfg).unwrap();
    let y = Tensor::randn(cx.shape(), 0.0, 1.0, &mut rng);
    // output padding recovers the input rows that the stride-2 convolution never reached
    let tcfg = ConvTranspose2dConfig {
        stride: cfg.stride,
        padding: cfg.padding,
        output_padding: [1, 0],
        dilation: cfg.dilation,
        groups: 2,
    };
    let ty = y.conv_transpose2d(&w, None, &tcfg).unwrap();
    assert_eq!(ty.shape(), x.shape());
    let dot = |a: &Tensor, b: &Tensor| -> f64 {
        a.to_vec()
            .iter()
            .zip(b.to_vec())
            .map(|(&p, q)| p as f64 * q as f64)
            .sum()
    };
    let (lhs, rhs) = (dot(&cx, &y), dot(&x, &ty));
    assert!(
        (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn larger_convolution_uses_both_threads_and_matches_the_reference() {
    // A ResNet-like 3×3 layer with symmetric padding, big enough for the parallel GEMM.
    let mut rng = Rng::seed(11);
    let x = Tensor::randn(&[2, 16, 20, 20], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&[32, 16, 3, 3], 0.0, 0.1, &mut rng);
    let cfg = Conv2dConfig::new()
        .padding(1)
        .padding_mode(PaddingMode::Symmetric);
    let y = x.conv2d(&w, None, &cfg).unwrap();
    let g = conv2d_geometry(x.shape(), w.shape(), None, &cfg).unwrap();
    let mut expected = vec![0.0; y.numel()];
    kernels::conv_forward_reference(&g, &x.to_vec(), &w.to_vec(), None, &mut expected);
    assert_close("forward", &y.to_vec(), &expected, 1e-4, 1e-4).unwrap();
}

#[test]
fn whole_image_convolutions_equal_the_reference() {
    // The kernel covers the whole input (LeNet-5's C5): the kernels skip im2col and read the
    // images as the rows of one matrix. Batches below and above the thread count, groups,
    // strides and a bottom/right padding that no window reaches.
    let mut rng = Rng::seed(12);
    // A dilated kernel as wide as the image is not one: its taps skip pixels (CI caught
    // the whole-image path taking it).
    let cases: [(usize, usize, usize, usize, [usize; 2], Conv2dConfig); 6] = [
        (64, 16, 120, 1, [5, 5], Conv2dConfig::new()),
        (1, 16, 120, 1, [5, 5], Conv2dConfig::new()),
        (5, 4, 6, 2, [3, 2], Conv2dConfig::new().groups(2)),
        (3, 3, 2, 1, [1, 1], Conv2dConfig::new().stride(2)),
        (
            7,
            2,
            4,
            1,
            [4, 4],
            Conv2dConfig::new()
                .stride(5)
                .padding_sides(Padding2d::sides(0, 1, 0, 1)),
        ),
        (
            3,
            2,
            4,
            1,
            [1, 3],
            Conv2dConfig::new()
                .dilation_hw(1, 2)
                .padding_sides(Padding2d::sides(0, 0, 0, 2)),
        ),
    ];
    for (n, c, oc, groups, [h, w], cfg) in cases {
        let x = Tensor::randn(&[n, c, h, w], 0.0, 1.0, &mut rng).to_vec();
        let wt = Tensor::randn(&[oc, c / groups, h, w], 0.0, 0.3, &mut rng).to_vec();
        let b = Tensor::randn(&[oc], 0.0, 1.0, &mut rng).to_vec();
        let g = conv2d_geometry(&[n, c, h, w], &[oc, c / groups, h, w], None, &cfg).unwrap();
        assert_eq!((g.oh, g.ow), (1, 1));
        let what = format!("{n}×{c}×{h}×{w} → {oc}, groups {groups}");
        let gy = Tensor::randn(&[n * oc], 0.0, 1.0, &mut rng).to_vec();
        kernels_match_reference(&g, &x, &wt, Some(&b), &gy, &what, 1e-4).unwrap();
    }
}

/// (n, c, oc, groups, [h, w], [kh, kw], settings)
type DirectCase = (
    usize,
    usize,
    usize,
    usize,
    [usize; 2],
    [usize; 2],
    Conv2dConfig,
);

#[test]
fn direct_convolutions_equal_the_reference() {
    // Stride-1 layers with few output channels go to the direct kernels: output channel
    // blocks of 1, 4 and 6 (and a last block part-filled), rows longer and shorter than a
    // vector with tails, 3×3 and 5×5 (their row tiles) and 2×4 (the general tile), groups
    // and depthwise, every padding mode, batches below and above the thread count.
    let mut rng = Rng::seed(13);
    let cases: [DirectCase; 9] = [
        (3, 1, 6, 1, [32, 32], [5, 5], Conv2dConfig::new()),
        // depthwise rows of 30: one register tile of 48 lanes, the last 18 dropped
        (
            2,
            8,
            8,
            8,
            [9, 30],
            [3, 3],
            Conv2dConfig::new().padding(1).groups(8),
        ),
        (5, 6, 16, 1, [14, 14], [5, 5], Conv2dConfig::new()),
        (1, 3, 5, 1, [9, 21], [3, 3], Conv2dConfig::new().padding(1)),
        (
            4,
            4,
            4,
            4,
            [11, 19],
            [3, 3],
            Conv2dConfig::new()
                .padding(1)
                .groups(4)
                .padding_mode(PaddingMode::Replicate),
        ),
        (
            2,
            4,
            14,
            2,
            [7, 13],
            [2, 4],
            Conv2dConfig::new()
                .padding_sides(Padding2d::sides(1, 0, 2, 1))
                .padding_mode(PaddingMode::Symmetric)
                .groups(2),
        ),
        (
            3,
            2,
            3,
            1,
            [6, 8],
            [5, 5],
            Conv2dConfig::new()
                .padding(2)
                .padding_mode(PaddingMode::Reflect),
        ),
        (
            2,
            3,
            6,
            3,
            [5, 17],
            [3, 3],
            Conv2dConfig::new()
                .padding(2)
                .padding_mode(PaddingMode::Circular)
                .groups(3),
        ),
        (2, 2, 16, 1, [40, 3], [3, 3], Conv2dConfig::new().padding(1)),
    ];
    for (n, c, oc, groups, [h, w], [kh, kw], cfg) in cases {
        let xs = [n, c, h, w];
        let ws = [oc, c / groups, kh, kw];
        let g = conv2d_geometry(&xs, &ws, None, &cfg).unwrap();
        assert!(
            g.is_direct(),
            "{xs:?} {ws:?} should take the direct kernels"
        );
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng).to_vec();
        let wt = Tensor::randn(&ws, 0.0, 0.3, &mut rng).to_vec();
        let b = Tensor::randn(&[oc], 0.0, 1.0, &mut rng).to_vec();
        let what = format!("{xs:?} * {ws:?} {cfg:?}");
        let gy = Tensor::randn(&[n * oc * g.oh * g.ow], 0.0, 1.0, &mut rng).to_vec();
        kernels_match_reference(&g, &x, &wt, Some(&b), &gy, &what, 1e-3).unwrap();
    }
}

/// Each case's layer, checked to take the kernels that `takes` tells (it "should {path}"),
/// against the reference in all three passes; every other case, from the first, with a
/// bias.
fn cases_match_reference(
    cases: impl IntoIterator<Item = DirectCase>,
    rng: &mut Rng,
    path: &str,
    takes: impl Fn(&kernels::ConvGeometry) -> bool,
) {
    for (k, (n, c, oc, groups, [h, w], [kh, kw], cfg)) in cases.into_iter().enumerate() {
        let xs = [n, c, h, w];
        let ws = [oc, c / groups, kh, kw];
        let g = conv2d_geometry(&xs, &ws, None, &cfg).unwrap();
        assert!(takes(&g), "{xs:?} {ws:?} should {path}");
        let x = Tensor::randn(&xs, 0.0, 1.0, rng).to_vec();
        let wt = Tensor::randn(&ws, 0.0, 0.3, rng).to_vec();
        let b = (k % 2 == 0).then(|| Tensor::randn(&[oc], 0.0, 1.0, rng).to_vec());
        let what = format!("{xs:?} * {ws:?} {cfg:?} bias {}", b.is_some());
        let gy = Tensor::randn(&[n * oc * g.oh * g.ow], 0.0, 1.0, rng).to_vec();
        kernels_match_reference(&g, &x, &wt, b.as_deref(), &gy, &what, 1e-3).unwrap();
    }
}

#[test]
fn chunked_convolutions_equal_the_reference() {
    // Layers whose column matrix outgrows the cache are cut into (image, group, chunk of
    // output rows) pieces, each written into its own columns of the output: one image and
    // batches above the thread count, groups, a strided 7×7 stem, several padding modes, a
    // last chunk shorter than the others, with and without bias.
    let mut rng = Rng::seed(14);
    let cases: [DirectCase; 5] = [
        (
            1,
            32,
            40,
            1,
            [40, 40],
            [3, 3],
            Conv2dConfig::new().padding(1),
        ),
        (
            3,
            32,
            40,
            2,
            [37, 40],
            [3, 3],
            Conv2dConfig::new()
                .padding(1)
                .groups(2)
                .padding_mode(PaddingMode::Replicate),
        ),
        (
            2,
            3,
            24,
            1,
            [64, 61],
            [7, 7],
            Conv2dConfig::new().stride(2).padding(3),
        ),
        (
            3,
            20,
            24,
            1,
            [30, 50],
            [3, 3],
            Conv2dConfig::new()
                .padding(1)
                .padding_mode(PaddingMode::Circular),
        ),
        (
            2,
            18,
            20,
            1,
            [36, 36],
            [5, 3],
            Conv2dConfig::new()
                .padding_sides(Padding2d::sides(2, 2, 1, 0))
                .padding_mode(PaddingMode::Symmetric),
        ),
    ];
    cases_match_reference(cases, &mut rng, "be cut into chunks", |g| g.is_chunked());
}

#[test]
fn batched_small_images_equal_the_reference() {
    // Small images go several to a GEMM; the backward pass to the input then computes the
    // column gradient a block of channels at a time (two blocks of 24 + 16 channels here,
    // per group), on every thread count: batches of 6 and 1; and a batch of 4, whose weight
    // gradient is one GEMM over the batch rather than a partial per thread.
    let mut rng = Rng::seed(15);
    for (n, groups) in [(6, 1), (6, 2), (1, 2), (4, 1)] {
        let (c, oc) = (40 * groups, 24 * groups);
        let xs = [n, c, 10, 10];
        let ws = [oc, c / groups, 3, 3];
        let cfg = Conv2dConfig::new().padding(1).groups(groups);
        let g = conv2d_geometry(&xs, &ws, None, &cfg).unwrap();
        assert!(!g.is_direct() && !g.is_chunked());
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng).to_vec();
        let wt = Tensor::randn(&ws, 0.0, 0.3, &mut rng).to_vec();
        let gy = Tensor::randn(&[n * oc * g.oh * g.ow], 0.0, 1.0, &mut rng).to_vec();
        let what = format!("{xs:?} * {ws:?} groups {groups}");
        kernels_match_reference(&g, &x, &wt, None, &gy, &what, 1e-3).unwrap();
    }
}

#[test]
fn winograd_convolutions_equal_the_reference() {
    // 3×3 stride-1 layers with many channels go through Winograd F(2×2, 3×3), a block of
    // channels or an image per task: odd and even
    // output sizes (a last tile half outside), one image and several, every padding mode,
    // more padding than one and none, uneven sides, with and without bias.
    let mut rng = Rng::seed(16);
    let cases: [DirectCase; 6] = [
        // Images large enough to go one per task (64 channels, 12 × 11 tiles).
        (
            2,
            64,
            64,
            1,
            [24, 22],
            [3, 3],
            Conv2dConfig::new().padding(1),
        ),
        (
            2,
            128,
            130,
            1,
            [13, 15],
            [3, 3],
            Conv2dConfig::new().padding(1),
        ),
        (
            1,
            130,
            128,
            1,
            [16, 13],
            [3, 3],
            Conv2dConfig::new()
                .padding(1)
                .padding_mode(PaddingMode::Replicate),
        ),
        (
            3,
            128,
            128,
            1,
            [9, 8],
            [3, 3],
            Conv2dConfig::new()
                .padding(2)
                .padding_mode(PaddingMode::Symmetric),
        ),
        (
            2,
            129,
            128,
            1,
            [13, 12],
            [3, 3],
            Conv2dConfig::new().padding_mode(PaddingMode::Circular),
        ),
        (
            1,
            128,
            131,
            1,
            [15, 14],
            [3, 3],
            Conv2dConfig::new()
                .padding_sides(Padding2d::sides(0, 2, 1, 1))
                .padding_mode(PaddingMode::Reflect),
        ),
    ];
    cases_match_reference(cases, &mut rng, "run as Winograd", |g| g.is_winograd());
}
