//! Pooling: hand-computed values, output sizes known from PyTorch, the ops against a
//! transcription of PyTorch's CPU loops, finite-difference gradient checks over random
//! legal configurations, and errors for impossible configurations.

use proptest::prelude::*;
use splot::ops::pool::{
    adaptive_pool2d_output_shape, adaptive_pool_range, avg_pool2d_output_shape,
    max_pool2d_output_shape, pool_output_size,
};
use splot::testing::{assert_close, gradcheck};
use splot::{Pool2dConfig, Rng, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

/// `∂(Σ y·r)/∂x` for an upstream gradient `r`.
fn grad_of(x: &Tensor, y: &Tensor, r: &[f32]) -> Vec<f32> {
    let grads = y.backward_with(&t(r, y.shape())).unwrap();
    grads.get(x).unwrap().to_vec()
}

/// A 4×4 example:
/// ```text
/// 1 3 | 2 4
/// 5 6 | 1 0
/// ----+----
/// 7 2 | 9 8
/// 3 4 | 0 5
/// ```
fn four_by_four() -> Tensor {
    t(
        &[
            1., 3., 2., 4., 5., 6., 1., 0., 7., 2., 9., 8., 3., 4., 0., 5.,
        ],
        &[1, 1, 4, 4],
    )
}

// ---------------------------------------------------------------- hand-computed values

#[test]
fn max_pool_2x2_stride_2() {
    let x = four_by_four().with_grad();
    let y = x.max_pool2d(&Pool2dConfig::new(2)).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    // max{1,3,5,6}, max{2,4,1,0}, max{7,2,3,4}, max{9,8,0,5}
    assert_eq!(y.to_vec(), vec![6., 4., 7., 9.]);
    // each output's gradient lands on its maximum: 6 at (1,1), 4 at (0,3), 7 at (2,0), 9 at (2,2)
    let gx = grad_of(&x, &y, &[10., 20., 30., 40.]);
    #[rustfmt::skip]
    let expected = [
        0., 0., 0., 20.,
        0., 10., 0., 0.,
        30., 0., 40., 0.,
        0., 0., 0., 0.,
    ];
    assert_eq!(gx, expected);
}

#[test]
fn avg_pool_2x2_stride_2() {
    let x = four_by_four().with_grad();
    let y = x.avg_pool2d(&Pool2dConfig::new(2)).unwrap();
    // (1+3+5+6)/4 = 15/4, (2+4+1+0)/4 = 7/4, (7+2+3+4)/4 = 16/4, (9+8+0+5)/4 = 22/4
    assert_eq!(y.to_vec(), vec![3.75, 1.75, 4.0, 5.5]);
    // every cell receives a quarter of its window's gradient
    let gx = grad_of(&x, &y, &[4., 8., 12., 16.]);
    #[rustfmt::skip]
    let expected = [
        1., 1., 2., 2.,
        1., 1., 2., 2.,
        3., 3., 4., 4.,
        3., 3., 4., 4.,
    ];
    assert_eq!(gx, expected);
}

/// `x[r][c] = 7·(6r + c) mod 36`: every value of 0..36 once, maxima scattered.
/// ```text
///  0  7 14 21 28 35
///  6 13 20 27 34  5
/// 12 19 26 33  4 11
/// 18 25 32  3 10 17
/// 24 31  2  9 16 23
/// 30  1  8 15 22 29
/// ```
fn six_by_six() -> Tensor {
    let v: Vec<f32> = (0..36).map(|k| ((7 * k) % 36) as f32).collect();
    t(&v, &[1, 1, 6, 6])
}

#[test]
fn overlapping_3x3_stride_2_max_pool_floor_and_ceil_mode() {
    // AlexNet-style 3×3 windows with stride 2: rows/columns [0,3) and [2,5) in floor mode
    // ((6 − 3)/2 + 1 = 2); ceil mode adds the clipped window [4,6) (⌈3/2⌉ + 1 = 3).
    let cfg = Pool2dConfig::new(3).stride(2);
    let y = six_by_six().max_pool2d(&cfg).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    // max{0 7 14 6 13 20 12 19 26}, max{14 21 28 20 27 34 26 33 4},
    // max{12 19 26 18 25 32 24 31 2}, max{26 33 4 32 3 10 2 9 16}
    assert_eq!(y.to_vec(), vec![26., 34., 32., 33.]);
    let y = six_by_six().max_pool2d(&cfg.ceil_mode(true)).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    // new: rows 0-2 × cols 4-5 {28 35 34 5 4 11} → 35; rows 2-4 × cols 4-5 {4 11 10 17 16 23}
    // → 23; rows 4-5 × cols 0-2 {24 31 2 30 1 8} → 31; × cols 2-4 {2 9 16 8 15 22} → 22;
    // × cols 4-5 {16 23 22 29} → 29
    assert_eq!(
        y.to_vec(),
        vec![26., 34., 35., 32., 33., 23., 31., 22., 29.]
    );
}

#[test]
fn avg_pool_with_padding_with_and_without_count_include_pad() {
    // 3×3 window, stride 2, padding 1 on
    // 1 2 3
    // 4 5 6
    // 7 8 9
    // → 2×2 windows over padded rows/cols [-1,2) and [1,4); each holds a 2×2 block of the
    // image and five padded zeros.
    let x = t(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], &[1, 1, 3, 3]).with_grad();
    let cfg = Pool2dConfig::new(3).stride(2).padding(1);
    let y = x.avg_pool2d(&cfg).unwrap();
    // count_include_pad: (1+2+4+5)/9 = 12/9, (2+3+5+6)/9 = 16/9, (4+5+7+8)/9 = 24/9,
    // (5+6+8+9)/9 = 28/9
    let expected = [12. / 9., 16. / 9., 24. / 9., 28. / 9.];
    assert_close("count_include_pad", &y.to_vec(), &expected, 1e-6, 1e-6).unwrap();
    // each cell gets g/9 from every window that holds it; the centre is in all four
    let gx = grad_of(&x, &y, &[9., 9., 9., 9.]);
    assert_eq!(gx, vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);

    let x = x.detach().with_grad();
    let y = x.avg_pool2d(&cfg.count_include_pad(false)).unwrap();
    // only the 4 real cells count: 12/4, 16/4, 24/4, 28/4
    assert_eq!(y.to_vec(), vec![3., 4., 6., 7.]);
    let gx = grad_of(&x, &y, &[4., 4., 4., 4.]);
    assert_eq!(gx, vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);
}

#[test]
fn avg_pool_ceil_mode_clips_the_divisor_at_the_padded_border() {
    // One row [1 2 3 4], kernel 1×3, stride 1×2, padding 0×1, ceil mode:
    // ⌈(4 + 2 − 3)/2⌉ + 1 = 3 windows starting at −1, 1, 3; the last one, [3, 6), runs past
    // the padded border 4 + 1 = 5 and is clipped to [3, 5): one real cell and one pad.
    let x = t(&[1., 2., 3., 4.], &[1, 1, 1, 4]);
    let cfg = Pool2dConfig::new(1)
        .kernel_hw(1, 3)
        .stride_hw(1, 2)
        .padding_hw(0, 1)
        .ceil_mode(true);
    // count_include_pad: (0+1+2)/3, (2+3+4)/3, (4+0)/2
    assert_eq!(x.avg_pool2d(&cfg).unwrap().to_vec(), vec![1., 3., 2.]);
    // real cells only: (1+2)/2, (2+3+4)/3, 4/1
    let y = x.avg_pool2d(&cfg.count_include_pad(false)).unwrap();
    assert_eq!(y.to_vec(), vec![1.5, 3., 4.]);
}

#[test]
fn max_pool_pads_with_minus_infinity() {
    // All values negative: a zero pad would win every border window; −∞ never does.
    let x = t(&[-1., -2., -3., -4.], &[1, 1, 2, 2]).with_grad();
    let cfg = Pool2dConfig::new(2).stride(1).padding(1);
    let y = x.max_pool2d(&cfg).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    // corners see one cell each, edges two, the centre all four
    assert_eq!(
        y.to_vec(),
        vec![-1., -1., -2., -1., -1., -2., -3., -3., -4.]
    );
    let gx = grad_of(&x, &y, &[1.; 9]);
    assert_eq!(gx, vec![4., 2., 2., 1.]);
}

#[test]
fn max_pool_with_dilation_skips_cells() {
    // A 2×2 kernel with dilation 2 on 1..9 (3×3) reads the four corners.
    let x = t(&[1., 2., 3., 4., 9., 6., 7., 8., 5.], &[1, 1, 3, 3]);
    let y = x.max_pool2d(&Pool2dConfig::new(2).dilation(2)).unwrap();
    assert_eq!(y.shape(), &[1, 1, 1, 1]);
    assert_eq!(y.to_vec(), vec![7.]); // max{1, 3, 7, 5}; the 9 in the middle is skipped
}

#[test]
fn a_max_window_wholly_in_the_padding_gives_minus_infinity_and_no_gradient() {
    // n = 1, k = 2, p = 1, d = 2: one window with taps at −1 and 1, both outside the input
    // (PyTorch returns −∞ too).
    let x = t(&[5.], &[1, 1, 1, 1]).with_grad();
    let y = x
        .max_pool2d(&Pool2dConfig::new(2).stride(1).padding(1).dilation(2))
        .unwrap();
    assert_eq!(y.to_vec(), vec![f32::NEG_INFINITY]);
    assert_eq!(grad_of(&x, &y, &[1.]), vec![0.]);
}

#[test]
fn max_pool_tie_sends_the_gradient_to_the_first_maximum_only() {
    // All four equal: the first in row-major order, (0,0), takes the whole gradient.
    let x = Tensor::ones(&[1, 1, 2, 2]).with_grad();
    let y = x.max_pool2d(&Pool2dConfig::new(2)).unwrap();
    assert_eq!(grad_of(&x, &y, &[3.]), vec![3., 0., 0., 0.]);
    // A tie of (0,1) and (1,0): row-major order scans (0,1) first.
    let x = t(&[0., 2., 2., 1.], &[1, 1, 2, 2]).with_grad();
    let y = x.max_pool2d(&Pool2dConfig::new(2)).unwrap();
    assert_eq!(grad_of(&x, &y, &[3.]), vec![0., 3., 0., 0.]);
    // The same in adaptive max pooling.
    let y = x.adaptive_max_pool2d([1, 1]).unwrap();
    assert_eq!(grad_of(&x, &y, &[3.]), vec![0., 3., 0., 0.]);
}

#[test]
fn max_pool_nan_wins_with_and_without_gradient_tracking() {
    // A NaN is the maximum of its window (the last one if several), as in PyTorch, whether
    // the pooling keeps arg-maxes for a backward pass or not; the untracked values equal
    // the tracked ones everywhere.
    let v = [1., f32::NAN, 3., f32::NAN, 0., 7., -2., 5., 4.];
    let x = t(&v, &[1, 1, 3, 3]).with_grad();
    let cfg = Pool2dConfig::new(2).stride(1);
    let y = x.max_pool2d(&cfg).unwrap();
    let untracked = splot::no_grad(|| x.max_pool2d(&cfg)).unwrap().to_vec();
    let tracked = y.to_vec();
    assert!(tracked[..3].iter().all(|v| v.is_nan()), "{tracked:?}");
    assert_eq!(tracked[3], 7.);
    assert!(untracked[..3].iter().all(|v| v.is_nan()), "{untracked:?}");
    assert_eq!(untracked[3], 7.);
    // windows: {1, N, N, 0} → last NaN (1,0); {N, 3, 0, 7} → (0,1); {N, 0, −2, 5} → (1,0)
    let gx = grad_of(&x, &y, &[1., 10., 100., 1000.]);
    assert_eq!(gx, vec![0., 10., 0., 101., 0., 1000., 0., 0., 0.]);
    let mut rng = Rng::seed(3);
    let x = Tensor::randn(&[2, 3, 11, 9], 0.0, 1.0, &mut rng).with_grad();
    let cfg = Pool2dConfig::new(3).stride(2).padding(1);
    let untracked = splot::no_grad(|| x.max_pool2d(&cfg)).unwrap().to_vec();
    assert_eq!(untracked, x.max_pool2d(&cfg).unwrap().to_vec());
}

#[test]
fn global_average_pool() {
    let x = t(
        &[1., 2., 3., 4., 10., 20., 30., 50., -1., -1., 1., 5.],
        &[1, 3, 2, 2],
    )
    .with_grad();
    let y = x.global_avg_pool2d().unwrap();
    assert_eq!(y.shape(), &[1, 3, 1, 1]);
    // (1+2+3+4)/4, (10+20+30+50)/4, (−1−1+1+5)/4
    assert_eq!(y.to_vec(), vec![2.5, 27.5, 1.0]);
    let gx = grad_of(&x, &y, &[4., 8., -4.]);
    assert_eq!(gx, vec![1., 1., 1., 1., 2., 2., 2., 2., -1., -1., -1., -1.]);
}

#[test]
fn adaptive_avg_5x5_to_2x2_has_overlapping_bins() {
    // Bins: [⌊0·5/2⌋, ⌈1·5/2⌉) = [0, 3) and [⌊1·5/2⌋, ⌈2·5/2⌉) = [2, 5): row and column 2
    // belong to both. x[r][c] = 5r + c.
    let v: Vec<f32> = (0..25).map(|k| k as f32).collect();
    let x = t(&v, &[1, 1, 5, 5]).with_grad();
    let y = x.adaptive_avg_pool2d([2, 2]).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    // (0+1+2 + 5+6+7 + 10+11+12)/9 = 54/9 = 6; (2+3+4 + 7+8+9 + 12+13+14)/9 = 72/9 = 8;
    // (10+11+12 + 15+16+17 + 20+21+22)/9 = 144/9 = 16; (12+13+14 + … + 22+23+24)/9 = 162/9 = 18
    assert_eq!(y.to_vec(), vec![6., 8., 16., 18.]);
    // the centre (2,2) is in all four bins: 4 × 9/9
    let gx = grad_of(&x, &y, &[9.; 4]);
    assert_eq!(gx[2 * 5 + 2], 4.);
    assert_eq!(gx[0], 1.);
    assert_eq!(gx[2], 2.);
}

#[test]
fn adaptive_max_7x7_to_3x3_has_uneven_bins() {
    // Bins: [0, ⌈7/3⌉) = [0, 3), [⌊7/3⌋, ⌈14/3⌉) = [2, 5), [⌊14/3⌋, 7) = [4, 7).
    // x[r][c] = 10·(7r + c) mod 49:
    //  0 10 20 30 40  1 11
    // 21 31 41  2 12 22 32
    // 42  3 13 23 33 43  4
    // 14 24 34 44  5 15 25
    // 35 45  6 16 26 36 46
    //  7 17 27 37 47  8 18
    // 28 38 48  9 19 29 39
    let v: Vec<f32> = (0..49).map(|k| ((10 * k) % 49) as f32).collect();
    let x = t(&v, &[1, 1, 7, 7]).with_grad();
    let y = x.adaptive_max_pool2d([3, 3]).unwrap();
    assert_eq!(y.shape(), &[1, 1, 3, 3]);
    // rows 0-2: 42 (2,0) | 41 (1,2) | 43 (2,5); rows 2-4: 45 (4,1) | 44 (3,3) | 46 (4,6);
    // rows 4-6: 48 (6,2) | 48 (6,2) again, column 2 being in two bins | 47 (5,4)
    assert_eq!(
        y.to_vec(),
        vec![42., 41., 43., 45., 44., 46., 48., 48., 47.]
    );
    let r: Vec<f32> = (1..=9).map(|k| k as f32).collect();
    let gx = grad_of(&x, &y, &r);
    let mut expected = vec![0.0f32; 49];
    for (cell, g) in [
        (14, 1.),
        (9, 2.),
        (19, 3.),
        (29, 4.),
        (24, 5.),
        (34, 6.),
        (44, 7. + 8.), // (6,2) is the maximum of two bins
        (39, 9.),
    ] {
        expected[cell] = g;
    }
    assert_eq!(gx, expected);
}

#[test]
fn adaptive_bins_follow_pytorch() {
    let bins = |n, out| {
        (0..out)
            .map(|i| adaptive_pool_range(i, n, out))
            .collect::<Vec<_>>()
    };
    assert_eq!(bins(5, 2), vec![0..3, 2..5]);
    assert_eq!(bins(7, 3), vec![0..3, 2..5, 4..7]);
    assert_eq!(bins(6, 3), vec![0..2, 2..4, 4..6]); // even: a plain partition
    assert_eq!(bins(2, 4), vec![0..1, 0..1, 1..2, 1..2]); // upsampling repeats cells
    assert_eq!(bins(10, 1), vec![0..10]);
}

#[test]
fn channels_and_images_are_pooled_independently() {
    // Two images of two channels; each plane is 2×2 with its maximum in a different place.
    let x = t(
        &[
            9., 0., 0., 0., 0., 9., 0., 0., 0., 0., 9., 0., 0., 0., 0., 9.,
        ],
        &[2, 2, 2, 2],
    )
    .with_grad();
    let y = x.max_pool2d(&Pool2dConfig::new(2)).unwrap();
    assert_eq!(y.shape(), &[2, 2, 1, 1]);
    assert_eq!(y.to_vec(), vec![9.; 4]);
    let gx = grad_of(&x, &y, &[1., 2., 3., 4.]);
    assert_eq!(
        gx,
        vec![1., 0., 0., 0., 0., 2., 0., 0., 0., 0., 3., 0., 0., 0., 0., 4.]
    );
    let y = x.adaptive_avg_pool2d([1, 1]).unwrap();
    assert_eq!(y.to_vec(), vec![2.25; 4]);
}

// ---------------------------------------------------------------- output sizes

#[test]
fn output_sizes_match_pytorch() {
    // ResNet's stem: MaxPool2d(3, stride=2, padding=1), 112 → 56
    assert_eq!(pool_output_size(112, 3, 1, 2, 1, false), Some(56));
    // AlexNet: MaxPool2d(3, stride=2), 55 → 27, 27 → 13, 13 → 6
    assert_eq!(pool_output_size(55, 3, 0, 2, 1, false), Some(27));
    assert_eq!(pool_output_size(27, 3, 0, 2, 1, false), Some(13));
    assert_eq!(pool_output_size(13, 3, 0, 2, 1, false), Some(6));
    // ceil mode: 6 → 3 (floor: 2) with 3×3/2
    assert_eq!(pool_output_size(6, 3, 0, 2, 1, true), Some(3));
    assert_eq!(pool_output_size(6, 3, 0, 2, 1, false), Some(2));
    // ceil mode's last-window rule: n = 5, k = 2, s = 2, p = 1: ⌈5/2⌉ + 1 = 4, but the 4th
    // window would start at 3·2 = 6 ≥ 5 + 1, wholly in the right padding → 3
    assert_eq!(pool_output_size(5, 2, 1, 2, 1, true), Some(3));
    // GoogLeNet: MaxPool2d(3, stride=2, ceil_mode=True): 112 → 56 → 28 → 14 → 7
    for (n, o) in [(112, 56), (56, 28), (28, 14), (14, 7)] {
        assert_eq!(pool_output_size(n, 3, 0, 2, 1, true), Some(o), "{n}");
    }
    // LeNet-5's 2×2/2 subsampling: 28 → 14, 10 → 5
    assert_eq!(pool_output_size(28, 2, 0, 2, 1, false), Some(14));
    assert_eq!(pool_output_size(10, 2, 0, 2, 1, false), Some(5));
    // dilation: span d·(k − 1) + 1 = 5 on 8 with stride 1 → 4
    assert_eq!(pool_output_size(8, 3, 0, 1, 2, false), Some(4));
    // nothing fits, or a zero size
    assert_eq!(pool_output_size(2, 3, 0, 1, 1, false), None);
    assert_eq!(pool_output_size(2, 3, 0, 1, 1, true), None);
    assert_eq!(pool_output_size(4, 0, 0, 1, 1, false), None);
    assert_eq!(pool_output_size(4, 2, 0, 0, 1, false), None);
}

#[test]
fn shape_functions_and_the_default_stride() {
    let x = [8, 64, 112, 112];
    let cfg = Pool2dConfig::new(3).stride(2).padding(1);
    assert_eq!(
        max_pool2d_output_shape(&x, &cfg).unwrap(),
        vec![8, 64, 56, 56]
    );
    // the stride defaults to the kernel, whichever way the kernel was set
    assert_eq!(Pool2dConfig::new(2).effective_stride(), [2, 2]);
    let cfg = Pool2dConfig::new(2).kernel_hw(3, 2);
    assert_eq!(cfg.effective_stride(), [3, 2]);
    assert_eq!(
        avg_pool2d_output_shape(&[1, 1, 9, 9], &cfg).unwrap(),
        vec![1, 1, 3, 4]
    );
    assert_eq!(
        adaptive_pool2d_output_shape(&[2, 3, 5, 7], [6, 6]).unwrap(),
        vec![2, 3, 6, 6]
    );
    // an empty batch is allowed, as in PyTorch
    let y = Tensor::zeros(&[0, 3, 4, 4])
        .max_pool2d(&Pool2dConfig::new(2))
        .unwrap();
    assert_eq!(y.shape(), &[0, 3, 2, 2]);
}

// ---------------------------------------------------------------- errors

type PoolFn = fn(&Tensor, &Pool2dConfig) -> splot::Result<Tensor>;

fn err(r: splot::Result<Tensor>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn impossible_configurations_are_errors_naming_op_and_shape() {
    let x = Tensor::zeros(&[1, 2, 4, 4]);
    let shape = "[1, 2, 4, 4]";
    let both = |e: &str, op: &str, what: &str| {
        assert!(
            e.contains(op) && e.contains(shape) && e.contains(what),
            "{e}"
        )
    };
    for (op, f) in [
        (
            "max_pool2d",
            (|x: &Tensor, c: &Pool2dConfig| x.max_pool2d(c)) as PoolFn,
        ),
        ("avg_pool2d", |x: &Tensor, c: &Pool2dConfig| x.avg_pool2d(c)),
    ] {
        both(&err(f(&x, &Pool2dConfig::new(0))), op, "kernel [0, 0]");
        both(
            &err(f(&x, &Pool2dConfig::new(2).kernel_hw(2, 0))),
            op,
            "kernel [2, 0]",
        );
        both(
            &err(f(&x, &Pool2dConfig::new(2).stride(0))),
            op,
            "stride [0, 0]",
        );
        both(&err(f(&x, &Pool2dConfig::new(5))), op, "empty output");
        both(
            &err(f(&x, &Pool2dConfig::new(3).padding(2))),
            op,
            "at most half the kernel",
        );
        both(
            &err(f(&x, &Pool2dConfig::new(2).padding_hw(0, 2))),
            op,
            "padding [0, 2]",
        );
        let e = err(f(&Tensor::zeros(&[2, 4, 4]), &Pool2dConfig::new(2)));
        assert!(e.contains(op) && e.contains("[2, 4, 4]"), "{e}");
        let e = err(f(&Tensor::zeros(&[1, 1, 0, 4]), &Pool2dConfig::new(1)));
        assert!(e.contains(op) && e.contains("[1, 1, 0, 4]"), "{e}");
    }
    both(
        &err(x.max_pool2d(&Pool2dConfig::new(2).dilation(0))),
        "max_pool2d",
        "dilation [0, 0]",
    );
    both(
        &err(x.avg_pool2d(&Pool2dConfig::new(2).dilation(2))),
        "avg_pool2d",
        "dilation",
    );
    both(
        &err(x.adaptive_avg_pool2d([0, 2])),
        "adaptive_avg_pool2d",
        "[0, 2]",
    );
    both(
        &err(x.adaptive_max_pool2d([2, 0])),
        "adaptive_max_pool2d",
        "[2, 0]",
    );
    let e = err(Tensor::zeros(&[4, 4]).adaptive_max_pool2d([2, 2]));
    assert!(
        e.contains("adaptive_max_pool2d") && e.contains("[4, 4]"),
        "{e}"
    );
    let e = err(Tensor::zeros(&[2, 3, 4, 4, 1]).global_avg_pool2d());
    assert!(
        e.contains("global_avg_pool2d") && e.contains("[2, 3, 4, 4, 1]"),
        "{e}"
    );
    let e = err(Tensor::zeros(&[2, 0, 4, 4]).global_avg_pool2d());
    assert!(
        e.contains("global_avg_pool2d") && e.contains("[2, 0, 4, 4]"),
        "{e}"
    );
}

// ---------------------------------------------------------------- PyTorch's loops, transcribed

/// PyTorch's `pooling_output_shape`, transcribed.
fn reference_output_size(n: usize, k: usize, p: usize, s: usize, d: usize, ceil: bool) -> i64 {
    let (n, k, p, s, d) = (n as i64, k as i64, p as i64, s as i64, d as i64);
    let num = n + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut o = num.div_euclid(s) + 1;
    if ceil && (o - 1) * s >= n + p {
        o -= 1;
    }
    o
}

/// The loops of PyTorch's CPU `max_pool2d` and `avg_pool2d` kernels, transcribed:
/// window `[i·s − p, …)` clipped to the input, −∞ start for max; the divisor from the
/// window clipped to the padded input (`count_include_pad`) or to the input.
fn pool_reference(x: &Tensor, cfg: &Pool2dConfig, max: bool) -> (Vec<usize>, Vec<f32>) {
    let [n, c, h, w] = [x.dim(0), x.dim(1), x.dim(2), x.dim(3)];
    let ([kh, kw], [sh, sw]) = (cfg.kernel, cfg.effective_stride());
    let ([ph, pw], [dh, dw]) = (cfg.padding, cfg.dilation);
    let oh = reference_output_size(h, kh, ph, sh, dh, cfg.ceil_mode) as usize;
    let ow = reference_output_size(w, kw, pw, sw, dw, cfg.ceil_mode) as usize;
    let x = x.to_vec();
    let mut y = Vec::new();
    let (h, w) = (h as isize, w as isize);
    for plane in x.chunks(h as usize * w as usize).take(n * c) {
        for i in 0..oh as isize {
            for j in 0..ow as isize {
                let mut ih0 = i * sh as isize - ph as isize;
                let mut iw0 = j * sw as isize - pw as isize;
                if max {
                    let ih1 = (ih0 + (kh as isize - 1) * dh as isize + 1).min(h);
                    let iw1 = (iw0 + (kw as isize - 1) * dw as isize + 1).min(w);
                    while ih0 < 0 {
                        ih0 += dh as isize;
                    }
                    while iw0 < 0 {
                        iw0 += dw as isize;
                    }
                    let mut best = f32::NEG_INFINITY;
                    for r in (ih0..ih1).step_by(dh) {
                        for q in (iw0..iw1).step_by(dw) {
                            let v = plane[(r * w + q) as usize];
                            if v > best || v.is_nan() {
                                best = v;
                            }
                        }
                    }
                    y.push(best);
                } else {
                    let mut ih1 = (ih0 + kh as isize).min(h + ph as isize);
                    let mut iw1 = (iw0 + kw as isize).min(w + pw as isize);
                    let pool_size = (ih1 - ih0) * (iw1 - iw0);
                    (ih0, iw0) = (ih0.max(0), iw0.max(0));
                    (ih1, iw1) = (ih1.min(h), iw1.min(w));
                    let mut sum = 0.0f32;
                    for r in ih0..ih1 {
                        for q in iw0..iw1 {
                            sum += plane[(r * w + q) as usize];
                        }
                    }
                    let divisor = if cfg.count_include_pad {
                        pool_size
                    } else {
                        (ih1 - ih0) * (iw1 - iw0)
                    };
                    y.push(sum / divisor as f32);
                }
            }
        }
    }
    (vec![n, c, oh, ow], y)
}

/// PyTorch's CPU adaptive pooling loops, transcribed: bin `[⌊i·n/o⌋, ⌈(i+1)·n/o⌉)`.
fn adaptive_reference(x: &Tensor, out: [usize; 2], max: bool) -> Vec<f32> {
    let [h, w] = [x.dim(2), x.dim(3)];
    let start = |i: usize, n: usize, o: usize| (i * n) / o;
    let end = |i: usize, n: usize, o: usize| ((i + 1) * n).div_ceil(o);
    let mut y = Vec::new();
    for plane in x.to_vec().chunks(h * w) {
        for i in 0..out[0] {
            for j in 0..out[1] {
                let (ih0, ih1) = (start(i, h, out[0]), end(i, h, out[0]));
                let (iw0, iw1) = (start(j, w, out[1]), end(j, w, out[1]));
                let cells = (ih0..ih1).flat_map(|r| (iw0..iw1).map(move |q| plane[r * w + q]));
                y.push(if max {
                    cells.fold(f32::NEG_INFINITY, f32::max)
                } else {
                    cells.sum::<f32>() / ((ih1 - ih0) * (iw1 - iw0)) as f32
                });
            }
        }
    }
    y
}

// ---------------------------------------------------------------- random legal configurations

/// A pooling problem that is legal by construction.
#[derive(Clone, Debug)]
struct PoolCase {
    shape: [usize; 4],
    cfg: Pool2dConfig,
}

/// Kernel 1–4, stride 1–3, padding up to half the kernel, dilation up to `max_dilation`,
/// both rounding modes, both divisors; each axis at least as long as the window span minus
/// the padding, plus up to 3.
fn pool_case(max_dilation: usize) -> impl Strategy<Value = PoolCase> {
    (
        (1..=2usize, 1..=2usize, any::<bool>(), any::<bool>()),
        (
            proptest::array::uniform2(1..=4usize),
            proptest::array::uniform2(1..=3usize),
            proptest::array::uniform2(0..=2usize),
            proptest::array::uniform2(1..=max_dilation),
            proptest::array::uniform2(0..=3usize),
        ),
    )
        .prop_map(|((n, c, ceil, cip), (k, s, p, d, extra))| {
            let p = [p[0] % (k[0] / 2 + 1), p[1] % (k[1] / 2 + 1)];
            let axis =
                |a: usize| (d[a] * (k[a] - 1) + 1).saturating_sub(2 * p[a]).max(1) + extra[a];
            let cfg = Pool2dConfig::new(1)
                .kernel_hw(k[0], k[1])
                .stride_hw(s[0], s[1])
                .padding_hw(p[0], p[1])
                .dilation_hw(d[0], d[1])
                .ceil_mode(ceil)
                .count_include_pad(cip);
            PoolCase {
                shape: [n, c, axis(0), axis(1)],
                cfg,
            }
        })
}

/// Distinct values `0.1·(j − len/2)` in random order: no ties, and a step of 1e-3 cannot
/// change which cell is the maximum.
fn distinct_values(shape: &[usize], seed: u64) -> Tensor {
    let len: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..len)
        .map(|j| 0.1 * (j as f32 - (len / 2) as f32))
        .collect();
    let mut rng = Rng::seed(seed);
    for i in (1..len).rev() {
        v.swap(i, rng.below(i + 1));
    }
    t(&v, shape)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn max_pool2d_matches_pytorch_loops_and_finite_differences(case in pool_case(2), seed in any::<u64>()) {
        let x = distinct_values(&case.shape, seed).with_grad();
        let y = x.max_pool2d(&case.cfg).unwrap();
        let (shape, expected) = pool_reference(&x, &case.cfg, true);
        prop_assert_eq!(y.shape(), &shape[..]);
        prop_assert_eq!(y.to_vec(), expected);
        // a window wholly in the padding (possible with dilation) has no derivative
        prop_assume!(y.to_vec().iter().all(|v| v.is_finite()));
        let cfg = case.cfg;
        gradcheck(&format!("max_pool2d {case:?}"), &[x], |v| v[0].max_pool2d(&cfg), 1e-3, 2e-3, 2e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn avg_pool2d_matches_pytorch_loops_and_finite_differences(case in pool_case(1), seed in any::<u64>()) {
        let x = Tensor::randn(&case.shape, 0.0, 1.0, &mut Rng::seed(seed)).with_grad();
        let y = x.avg_pool2d(&case.cfg).unwrap();
        let (shape, expected) = pool_reference(&x, &case.cfg, false);
        prop_assert_eq!(y.shape(), &shape[..]);
        assert_close("avg_pool2d forward", &y.to_vec(), &expected, 1e-6, 1e-6).map_err(TestCaseError::fail)?;
        let cfg = case.cfg;
        gradcheck(&format!("avg_pool2d {case:?}"), &[x], |v| v[0].avg_pool2d(&cfg), 1e-2, 2e-3, 2e-3, seed ^ 2)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn adaptive_pools_match_pytorch_loops_and_finite_differences(
        n in 1..=2usize,
        c in 1..=2usize,
        hw in proptest::array::uniform2(1..=8usize),
        out in proptest::array::uniform2(1..=5usize),
        seed in any::<u64>(),
    ) {
        let shape = [n, c, hw[0], hw[1]];
        let x = Tensor::randn(&shape, 0.0, 1.0, &mut Rng::seed(seed)).with_grad();
        let y = x.adaptive_avg_pool2d(out).unwrap();
        prop_assert_eq!(y.shape(), &[n, c, out[0], out[1]][..]);
        assert_close("adaptive_avg_pool2d forward", &y.to_vec(), &adaptive_reference(&x, out, false), 1e-6, 1e-6)
            .map_err(TestCaseError::fail)?;
        gradcheck(&format!("adaptive_avg_pool2d {shape:?} → {out:?}"), &[x], |v| v[0].adaptive_avg_pool2d(out), 1e-2, 2e-3, 2e-3, seed ^ 3)
            .map_err(TestCaseError::fail)?;

        let x = distinct_values(&shape, seed).with_grad();
        let y = x.adaptive_max_pool2d(out).unwrap();
        prop_assert_eq!(y.to_vec(), adaptive_reference(&x, out, true));
        gradcheck(&format!("adaptive_max_pool2d {shape:?} → {out:?}"), &[x], |v| v[0].adaptive_max_pool2d(out), 1e-3, 2e-3, 2e-3, seed ^ 4)
            .map_err(TestCaseError::fail)?;
    }
}
