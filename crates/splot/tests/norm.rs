//! batch_norm and local_response_norm: hand-computed values (forward, running statistics,
//! backward), evaluation never touching the running statistics, the forward against a plain
//! f64 reference and finite-difference gradient checks over random shapes and settings, and
//! errors that name the op and the shapes.

use proptest::prelude::*;
use splot::testing::{assert_close, gradcheck};
use splot::{no_grad, BatchNormConfig, LrnConfig, LrnConvention, Rng, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn close(what: &str, actual: &Tensor, expected: &[f32]) {
    assert_close(what, &actual.to_vec(), expected, 1e-5, 1e-5).unwrap();
}

fn bits(x: &Tensor) -> Vec<u32> {
    x.to_vec().iter().map(|v| v.to_bits()).collect()
}

// ---------------------------------------------------------------- batch norm, by hand

#[test]
fn batch_norm_training_1d_by_hand() {
    // x = [1, 3, 5, 7] as [4, 1]: μ = 16/4 = 4, deviations −3, −1, 1, 3,
    // Σ dev² = 9 + 1 + 1 + 9 = 20, biased σ² = 20/4 = 5, unbiased 20/3.
    // eps = 4 makes σ = √(5 + 4) = 3, so x̂ = −1, −1/3, 1/3, 1;
    // γ = 2, β = 0.5: y = 2·x̂ + 0.5 = −1.5, −1/6, 7/6, 2.5.
    let x = t(&[1., 3., 5., 7.], &[4, 1]);
    let (rm, rv) = (t(&[0.], &[1]), t(&[1.], &[1]));
    let (w, b) = (t(&[2.], &[1]), t(&[0.5], &[1]));
    let cfg = BatchNormConfig::new().eps(4.0).momentum(0.1);
    let y = x
        .batch_norm(&rm, &rv, Some(&w), Some(&b), true, &cfg)
        .unwrap();
    assert_eq!(y.shape(), &[4, 1]);
    close("y", &y, &[-1.5, -1. / 6., 7. / 6., 2.5]);
    // running_mean = 0.9·0 + 0.1·4 = 0.4
    // running_var = 0.9·1 + 0.1·(20/3) = 0.9 + 2/3 = 1.566667 (the unbiased variance)
    close("running_mean", &rm, &[0.4]);
    close("running_var", &rv, &[0.9 + 2. / 3.]);
}

#[test]
fn batch_norm_training_2d_statistics_are_per_channel() {
    // [n=2, c=2, h=1, w=2], stored n0c0 = [1, 2], n0c1 = [10, 20], n1c0 = [3, 6],
    // n1c1 = [30, 40].
    // channel 0: 1, 2, 3, 6: μ = 12/4 = 3, dev −2, −1, 0, 3, Σ dev² = 14,
    //   biased σ² = 3.5, unbiased 14/3.
    // channel 1: 10, 20, 30, 40: μ = 25, dev −15, −5, 5, 15, Σ dev² = 500,
    //   biased σ² = 125, unbiased 500/3.
    // No affine; eps = 1e-5 changes σ by less than the tolerance.
    let x = t(&[1., 2., 10., 20., 3., 6., 30., 40.], &[2, 2, 1, 2]);
    let (rm, rv) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
    let y = x
        .batch_norm(&rm, &rv, None, None, true, &BatchNormConfig::default())
        .unwrap();
    let (s0, s1) = (3.5f32.sqrt(), 125f32.sqrt());
    close(
        "y",
        &y,
        &[
            -2. / s0,
            -1. / s0,
            -15. / s1,
            -5. / s1,
            0.,
            3. / s0,
            5. / s1,
            15. / s1,
        ],
    );
    // running_mean = 0.1·μ = [0.3, 2.5]
    // running_var = 0.9 + 0.1·unbiased = [0.9 + 14/30, 0.9 + 500/30]
    close("running_mean", &rm, &[0.3, 2.5]);
    close("running_var", &rv, &[0.9 + 14. / 30., 0.9 + 50. / 3.]);
}

#[test]
fn batch_norm_training_3d_input_matches_the_same_values_as_4d() {
    let mut rng = Rng::seed(3);
    let x4 = Tensor::randn(&[3, 2, 2, 3], 0.0, 1.0, &mut rng);
    let x3 = t(&x4.to_vec(), &[3, 2, 6]);
    let cfg = BatchNormConfig::default();
    let run = |x: &Tensor| {
        let (rm, rv) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
        let y = x.batch_norm(&rm, &rv, None, None, true, &cfg).unwrap();
        (bits(&y), bits(&rm), bits(&rv))
    };
    assert_eq!(run(&x4), run(&x3));
}

#[test]
fn batch_norm_evaluation_by_hand() {
    // running_mean 1, running_var 3, eps 1: σ = √4 = 2; x̂ = (x − 1)/2 = 0, 1, 2, 3;
    // γ = 2, β = 0.5: y = 0.5, 2.5, 4.5, 6.5.
    let x = t(&[1., 3., 5., 7.], &[4, 1]).with_grad();
    let (rm, rv) = (t(&[1.], &[1]), t(&[3.], &[1]));
    let w = t(&[2.], &[1]).with_grad();
    let b = t(&[0.5], &[1]).with_grad();
    let cfg = BatchNormConfig::new().eps(1.0);
    let y = x
        .batch_norm(&rm, &rv, Some(&w), Some(&b), false, &cfg)
        .unwrap();
    close("y", &y, &[0.5, 2.5, 4.5, 6.5]);
    // Backward of an affine map, g = 1: ∂x = γ/σ·g = 1, ∂γ = Σ g·x̂ = 0+1+2+3 = 6, ∂β = 4.
    let grads = y.sum_all().backward().unwrap();
    close("grad x", grads.get(&x).unwrap(), &[1., 1., 1., 1.]);
    close("grad weight", grads.get(&w).unwrap(), &[6.]);
    close("grad bias", grads.get(&b).unwrap(), &[4.]);
}

#[test]
fn batch_norm_training_backward_by_hand() {
    // x = [1, 3, 5, 7], eps 4 (σ = 3, x̂ = −1, −1/3, 1/3, 1), γ = 2, g = [1, 0, 0, 0]:
    // mean(g) = 1/4, mean(g·x̂) = −1/4,
    // ∂x = γ/σ·(g − mean(g) − x̂·mean(g·x̂)) = 2/3·(g − 1/4 + x̂/4)
    //    = 2/3·[1/2, −1/3, −1/6, 0] = [1/3, −2/9, −1/9, 0]; ∂γ = Σ g·x̂ = −1; ∂β = Σ g = 1.
    let x = t(&[1., 3., 5., 7.], &[4, 1]).with_grad();
    let (rm, rv) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    let w = t(&[2.], &[1]).with_grad();
    let b = t(&[0.], &[1]).with_grad();
    let cfg = BatchNormConfig::new().eps(4.0);
    let y = x
        .batch_norm(&rm, &rv, Some(&w), Some(&b), true, &cfg)
        .unwrap();
    let grads = y.backward_with(&t(&[1., 0., 0., 0.], &[4, 1])).unwrap();
    close(
        "grad x",
        grads.get(&x).unwrap(),
        &[1. / 3., -2. / 9., -1. / 9., 0.],
    );
    close("grad weight", grads.get(&w).unwrap(), &[-1.]);
    close("grad bias", grads.get(&b).unwrap(), &[1.]);
    // A constant upstream gradient shifts every x̂ alike: no gradient reaches x.
    let y = x.batch_norm(&rm, &rv, None, None, true, &cfg).unwrap();
    let grads = y.backward_with(&Tensor::full(&[4, 1], 0.7)).unwrap();
    close("grad x, constant g", grads.get(&x).unwrap(), &[0.; 4]);
}

// ---------------------------------------------------------------- batch norm, running statistics

#[test]
fn evaluation_never_changes_the_running_statistics() {
    let mut rng = Rng::seed(1);
    let x = Tensor::randn(&[3, 4, 2, 2], 0.5, 2.0, &mut rng).with_grad();
    let rm = Tensor::randn(&[4], 0.0, 1.0, &mut rng);
    let rv = Tensor::rand_uniform(&[4], 0.5, 2.0, &mut rng);
    let (mean_before, var_before) = (bits(&rm), bits(&rv));
    let cfg = BatchNormConfig::new().momentum(0.9);
    for _ in 0..3 {
        let y = x.batch_norm(&rm, &rv, None, None, false, &cfg).unwrap();
        y.sum_all().backward().unwrap();
        no_grad(|| x.batch_norm(&rm, &rv, None, None, false, &cfg)).unwrap();
    }
    assert_eq!(bits(&rm), mean_before);
    assert_eq!(bits(&rv), var_before);
    // Training does change them, even without a graph (as PyTorch does under no_grad) …
    no_grad(|| x.batch_norm(&rm, &rv, None, None, true, &cfg)).unwrap();
    assert_ne!(bits(&rm), mean_before);
    assert_ne!(bits(&rv), var_before);
    // … momentum 0 keeps them, momentum 1 replaces them by the batch statistics.
    let (mean_now, var_now) = (bits(&rm), bits(&rv));
    let keep = BatchNormConfig::new().momentum(0.0);
    x.batch_norm(&rm, &rv, None, None, true, &keep).unwrap();
    assert_eq!((bits(&rm), bits(&rv)), (mean_now, var_now));
    let xs = t(&[1., 3., 5., 7.], &[4, 1]);
    let (rm1, rv1) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    let replace = BatchNormConfig::new().momentum(1.0);
    xs.batch_norm(&rm1, &rv1, None, None, true, &replace)
        .unwrap();
    close("running_mean", &rm1, &[4.]);
    close("running_var", &rv1, &[20. / 3.]);
}

#[test]
fn training_output_ignores_the_running_statistics() {
    let mut rng = Rng::seed(2);
    let x = Tensor::randn(&[5, 3], 0.0, 1.0, &mut rng);
    let cfg = BatchNormConfig::default();
    let a = x
        .batch_norm(
            &Tensor::zeros(&[3]),
            &Tensor::ones(&[3]),
            None,
            None,
            true,
            &cfg,
        )
        .unwrap();
    let b = x
        .batch_norm(
            &Tensor::full(&[3], 7.0),
            &Tensor::full(&[3], 9.0),
            None,
            None,
            true,
            &cfg,
        )
        .unwrap();
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn running_statistics_are_buffers_without_gradients() {
    let mut rng = Rng::seed(4);
    let x = Tensor::randn(&[4, 2], 0.0, 1.0, &mut rng).with_grad();
    let rm = Tensor::zeros(&[2]).with_grad();
    let rv = Tensor::ones(&[2]).with_grad();
    let w = Tensor::ones(&[2]); // frozen: no gradient wanted
    let b = Tensor::zeros(&[2]).with_grad();
    for training in [true, false] {
        let y = x
            .batch_norm(
                &rm,
                &rv,
                Some(&w),
                Some(&b),
                training,
                &BatchNormConfig::default(),
            )
            .unwrap();
        let grads = y.sum_all().backward().unwrap();
        assert!(grads.get(&x).is_some() && grads.get(&b).is_some());
        assert!(grads.get(&rm).is_none() && grads.get(&rv).is_none());
        assert!(grads.get(&w).is_none());
    }
}

// ---------------------------------------------------------------- LRN, by hand

#[test]
fn lrn_both_conventions_by_hand() {
    // a = 1, 2, 3 over channels, size 3 (window [c−1, c+1]), α = 1, β = 1, k = 1.
    // Σ a² over the windows: c0 {0,1}: 1+4 = 5; c1 {0,1,2}: 1+4+9 = 14; c2 {1,2}: 4+9 = 13.
    // Paper:   b = a/(1 + Σ)   = 1/6, 2/15, 3/14.
    // PyTorch: b = a/(1 + Σ/3) = 1/(8/3), 2/(17/3), 3/(16/3) = 3/8, 6/17, 9/16.
    let a = t(&[1., 2., 3.], &[1, 3, 1, 1]);
    let paper = LrnConfig {
        size: 3,
        alpha: 1.0,
        beta: 1.0,
        k: 1.0,
        convention: LrnConvention::Paper,
    };
    let y = a.local_response_norm(&paper).unwrap();
    assert_eq!(y.shape(), &[1, 3, 1, 1]);
    close("paper", &y, &[1. / 6., 2. / 15., 3. / 14.]);
    let pytorch = LrnConfig {
        convention: LrnConvention::PyTorch,
        ..paper
    };
    close(
        "pytorch",
        &a.local_response_norm(&pytorch).unwrap(),
        &[3. / 8., 6. / 17., 9. / 16.],
    );
    // The same on a 3-d [1, 3, 1] input.
    close(
        "pytorch 3-d",
        &t(&[1., 2., 3.], &[1, 3, 1])
            .local_response_norm(&pytorch)
            .unwrap(),
        &[3. / 8., 6. / 17., 9. / 16.],
    );
}

#[test]
fn lrn_even_size_window_reaches_back_like_pytorch() {
    // size 2: window [c − 1, c] (PyTorch pads 1 zero channel before, 0 after).
    // a = 1, 2, 3: Σ a² = c0 {0}: 1; c1 {0,1}: 5; c2 {1,2}: 13.
    // PyTorch, α = 1 (α' = 1/2), β = 1, k = 1: s = 1.5, 3.5, 7.5; b = 2/3, 4/7, 2/5.
    let cfg = LrnConfig {
        size: 2,
        alpha: 1.0,
        beta: 1.0,
        k: 1.0,
        convention: LrnConvention::PyTorch,
    };
    assert_eq!(cfg.window(0, 3), 0..1);
    assert_eq!(cfg.window(1, 3), 0..2);
    assert_eq!(cfg.window(2, 3), 1..3);
    let y = t(&[1., 2., 3.], &[1, 3, 1, 1])
        .local_response_norm(&cfg)
        .unwrap();
    close("size 2", &y, &[2. / 3., 4. / 7., 2. / 5.]);
    // size 4: [c − 2, c + 1]; size 5: [c − 2, c + 2]; size 1: [c, c].
    let w = |size: usize, c: usize| LrnConfig::pytorch(size).window(c, 10);
    assert_eq!((w(4, 5), w(4, 0), w(4, 9)), (3..7, 0..2, 7..10));
    assert_eq!((w(5, 5), w(5, 1), w(5, 9)), (3..8, 0..4, 7..10));
    assert_eq!(w(1, 4), 4..5);
}

#[test]
fn lrn_backward_by_hand() {
    // One channel a = 2, size 1, α = β = k = 1 (paper): b = a/(1 + a²) = 2/5,
    // ∂b/∂a = s^−β − 2αβ·a²·s^−β−1 = 1/5 − 2·4/25 = −3/25.
    let a = t(&[2.], &[1, 1, 1, 1]).with_grad();
    let cfg = LrnConfig {
        size: 1,
        alpha: 1.0,
        beta: 1.0,
        k: 1.0,
        convention: LrnConvention::Paper,
    };
    let y = a.local_response_norm(&cfg).unwrap();
    close("b", &y, &[0.4]);
    let grads = y.sum_all().backward().unwrap();
    close("∂b/∂a", grads.get(&a).unwrap(), &[-3. / 25.]);
    // Two channels a = 1, 2, size 3 (both in each other's window), α = β = k = 1 (paper):
    // s = 1 + 1 + 4 = 6 for both; b0 = 1/6, b1 = 2/6. With g = [1, 0]:
    // ∂L/∂a0 = 1/6 − 2·a0·(g0·a0/s²) = 1/6 − 2/36 = 1/9,
    // ∂L/∂a1 = 0 − 2·a1·(g0·a0/s²) = −4/36 = −1/9.
    let a = t(&[1., 2.], &[1, 2, 1]).with_grad();
    let y = a
        .local_response_norm(&LrnConfig { size: 3, ..cfg })
        .unwrap();
    close("b", &y, &[1. / 6., 2. / 6.]);
    let grads = y.backward_with(&t(&[1., 0.], &[1, 2, 1])).unwrap();
    close("grad", grads.get(&a).unwrap(), &[1. / 9., -1. / 9.]);
}

#[test]
fn lrn_presets_and_conventions() {
    let alexnet = LrnConfig::alexnet();
    assert_eq!(
        (alexnet.size, alexnet.alpha, alexnet.beta, alexnet.k),
        (5, 1e-4, 0.75, 2.0)
    );
    assert_eq!(alexnet.convention, LrnConvention::Paper);
    assert_eq!(alexnet.effective_alpha(), 1e-4);
    let torch = LrnConfig::pytorch(4);
    assert_eq!(
        (torch.size, torch.alpha, torch.beta, torch.k),
        (4, 1e-4, 0.75, 1.0)
    );
    assert_eq!(torch.convention, LrnConvention::PyTorch);
    assert_eq!(torch.effective_alpha(), 2.5e-5);
    // The conventions differ only in α vs α/size: PyTorch with α·size is the paper's α.
    let mut rng = Rng::seed(9);
    let a = Tensor::randn(&[2, 7, 3, 2], 0.0, 3.0, &mut rng);
    let paper = LrnConfig {
        alpha: 0.3,
        ..LrnConfig::alexnet()
    };
    let as_torch = LrnConfig {
        alpha: 0.3 * 5.0,
        convention: LrnConvention::PyTorch,
        ..paper
    };
    let (p, q) = (
        a.local_response_norm(&paper).unwrap(),
        a.local_response_norm(&as_torch).unwrap(),
    );
    assert_close("paper vs pytorch", &p.to_vec(), &q.to_vec(), 1e-6, 1e-5).unwrap();
}

// ---------------------------------------------------------------- errors

fn err(r: splot::Result<Tensor>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn batch_norm_errors_name_the_op_and_shapes() {
    let x = Tensor::zeros(&[4, 2, 3, 3]);
    let (rm, rv) = (Tensor::zeros(&[2]), Tensor::ones(&[2]));
    let cfg = BatchNormConfig::default();
    let bn = |x: &Tensor, rm: &Tensor, rv: &Tensor, w: Option<&Tensor>, b: Option<&Tensor>| {
        err(x.batch_norm(rm, rv, w, b, true, &cfg))
    };
    for shape in [&[4][..], &[4, 2, 3, 3, 1]] {
        let e = bn(&Tensor::zeros(shape), &rm, &rv, None, None);
        assert!(
            e.contains("batch_norm")
                && e.contains("[n, c, h, w]")
                && e.contains(&format!("{shape:?}")),
            "{e}"
        );
    }
    let three = Tensor::zeros(&[3]);
    let e = bn(&x, &three, &rv, None, None);
    assert!(
        e.contains("batch_norm")
            && e.contains("running_mean must be [2]")
            && e.contains("[4, 2, 3, 3]")
            && e.contains("[3]"),
        "{e}"
    );
    let e = bn(&x, &rm, &Tensor::zeros(&[2, 1]), None, None);
    assert!(
        e.contains("running_var must be [2]") && e.contains("[2, 1]"),
        "{e}"
    );
    let e = bn(&x, &rm, &rv, Some(&three), None);
    assert!(e.contains("weight must be [2]") && e.contains("[3]"), "{e}");
    let e = bn(&x, &rm, &rv, None, Some(&three));
    assert!(e.contains("bias must be [2]") && e.contains("[3]"), "{e}");
    for eps in [0.0, -1e-5, f32::NAN, f32::INFINITY] {
        let e = err(x.batch_norm(&rm, &rv, None, None, false, &cfg.eps(eps)));
        assert!(e.contains("batch_norm") && e.contains("eps"), "{e}");
    }
    for momentum in [-0.1, 1.5, f32::NAN] {
        let e = err(x.batch_norm(&rm, &rv, None, None, true, &cfg.momentum(momentum)));
        assert!(e.contains("batch_norm") && e.contains("momentum"), "{e}");
    }
    // one value per channel: an error in training, fine in evaluation
    for shape in [&[1, 2][..], &[1, 2, 1, 1], &[1, 2, 1]] {
        let one = Tensor::zeros(shape);
        let e = bn(&one, &rm, &rv, None, None);
        assert!(
            e.contains("more than 1 value per channel when training")
                && e.contains(&format!("{shape:?}")),
            "{e}"
        );
        one.batch_norm(&rm, &rv, None, None, false, &cfg).unwrap();
    }
    let e = bn(
        &Tensor::zeros(&[4, 0]),
        &Tensor::zeros(&[0]),
        &Tensor::zeros(&[0]),
        None,
        None,
    );
    assert!(e.contains("no channels"), "{e}");
    // a rejected call leaves the running statistics alone
    assert_eq!((rm.to_vec(), rv.to_vec()), (vec![0.; 2], vec![1.; 2]));
}

#[test]
fn lrn_errors_name_the_op_and_shapes() {
    let cfg = LrnConfig::pytorch(3);
    for shape in [&[2, 3][..], &[2, 3, 4, 4, 1]] {
        let e = err(Tensor::zeros(shape).local_response_norm(&cfg));
        assert!(
            e.contains("local_response_norm") && e.contains(&format!("{shape:?}")),
            "{e}"
        );
    }
    let e = err(Tensor::zeros(&[1, 3, 2, 2]).local_response_norm(&LrnConfig::pytorch(0)));
    assert!(
        e.contains("local_response_norm") && e.contains("size") && e.contains("[1, 3, 2, 2]"),
        "{e}"
    );
    let bad = LrnConfig {
        alpha: f32::NAN,
        ..cfg
    };
    let e = err(Tensor::zeros(&[1, 3, 2, 2]).local_response_norm(&bad));
    assert!(e.contains("alpha"), "{e}");
}

// ---------------------------------------------------------------- batch norm, random problems

/// A batch-norm problem that is legal by construction.
#[derive(Clone, Debug)]
struct BnCase {
    shape: Vec<usize>,
    weight: bool,
    bias: bool,
    /// Which of (x, weight, bias) want a gradient (x does when none present does).
    wants: [bool; 3],
    eps: f32,
    momentum: f32,
}

fn bn_case() -> impl Strategy<Value = BnCase> {
    (
        (
            1..=3usize,
            1..=3usize,
            0..=2usize,
            proptest::array::uniform2(1..=3usize),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::array::uniform3(any::<bool>()),
        ),
        (-5.0f32..-1.0, 0.0f32..=1.0),
    )
        .prop_map(
            |((n, c, extra, hw), (weight, bias, wants), (log_eps, momentum))| {
                let mut shape = vec![n, c];
                shape.extend(&hw[..extra]);
                // more than one value per channel, so that training is legal
                if n * hw[..extra].iter().product::<usize>() == 1 {
                    shape[0] = 2;
                }
                BnCase {
                    shape,
                    weight,
                    bias,
                    wants,
                    eps: 10f32.powf(log_eps),
                    momentum,
                }
            },
        )
}

/// `[n, c, inner]` values whose channels are well spread: each channel holds a shuffled
/// progression with step 1 (jittered by ±0.25), scaled and shifted per channel. The batch
/// variance is then far from zero, where batch norm's curvature would defeat finite
/// differences.
fn spread_input(shape: &[usize], rng: &mut Rng) -> Tensor {
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let m = n * inner;
    let mut x = vec![0.0f32; n * c * inner];
    for ch in 0..c {
        let (shift, scale) = (rng.normal(0.0, 2.0), rng.uniform(0.5, 2.0));
        let mut order: Vec<(f32, usize)> = (0..m).map(|k| (rng.uniform(0.0, 1.0), k)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (slot, &(_, k)) in order.iter().enumerate() {
            let (i, e) = (slot / inner, slot % inner);
            let v = k as f32 - m as f32 / 2.0 + rng.uniform(-0.25, 0.25);
            x[(i * c + ch) * inner + e] = shift + scale * v;
        }
    }
    Tensor::from_vec(x, shape).unwrap()
}

/// Batch norm by its definition, in f64: `(x − μ)/√(σ² + eps)·γ + β`, and the updated
/// running statistics.
fn batch_norm_reference(
    x: &[f32],
    shape: &[usize],
    stats: Option<(&[f32], &[f32])>,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    eps: f32,
) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let at = |i: usize, ch: usize, e: usize| x[(i * c + ch) * inner + e] as f64;
    let mut y = vec![0.0f32; x.len()];
    let (mut means, mut vars) = (vec![], vec![]);
    for ch in 0..c {
        let values: Vec<f64> = (0..n)
            .flat_map(|i| (0..inner).map(move |e| (i, e)))
            .map(|(i, e)| at(i, ch, e))
            .collect();
        let (mean, var) = match stats {
            Some((rm, rv)) => (rm[ch] as f64, rv[ch] as f64),
            None => {
                let m = values.len() as f64;
                let mean = values.iter().sum::<f64>() / m;
                (
                    mean,
                    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m,
                )
            }
        };
        means.push(mean);
        vars.push(var);
        let (g, b) = (
            gamma.map_or(1.0, |g| g[ch] as f64),
            beta.map_or(0.0, |b| b[ch] as f64),
        );
        for i in 0..n {
            for e in 0..inner {
                y[(i * c + ch) * inner + e] =
                    ((at(i, ch, e) - mean) / (var + eps as f64).sqrt() * g + b) as f32;
            }
        }
    }
    (y, means, vars)
}

impl BnCase {
    /// `[x, weight?, bias?]` and the running statistics.
    fn tensors(&self, seed: u64) -> (Vec<Tensor>, Tensor, Tensor) {
        let mut rng = Rng::seed(seed);
        let c = self.shape[1];
        let mut inputs = vec![spread_input(&self.shape, &mut rng)];
        if self.weight {
            inputs.push(Tensor::rand_uniform(&[c], 0.5, 2.0, &mut rng));
        }
        if self.bias {
            inputs.push(Tensor::randn(&[c], 0.0, 1.0, &mut rng));
        }
        let present = [true, self.weight, self.bias];
        let wanted = self.wants.iter().zip(present).filter(|(_, p)| *p);
        for (input, (&want, _)) in inputs.iter().zip(wanted) {
            input.set_requires_grad(want);
        }
        if !inputs.iter().any(|t| t.requires_grad()) {
            inputs[0].set_requires_grad(true);
        }
        let rm = Tensor::randn(&[c], 0.0, 1.0, &mut rng);
        let rv = Tensor::rand_uniform(&[c], 0.2, 2.0, &mut rng);
        (inputs, rm, rv)
    }

    fn cfg(&self) -> BatchNormConfig {
        BatchNormConfig::new().eps(self.eps).momentum(self.momentum)
    }
}

fn check_batch_norm(case: &BnCase, seed: u64, training: bool) -> Result<(), TestCaseError> {
    let (inputs, rm, rv) = case.tensors(seed);
    let (wi, bi) = (
        case.weight.then_some(1),
        case.bias.then_some(1 + case.weight as usize),
    );
    let cfg = case.cfg();
    let (rm0, rv0) = (rm.to_vec(), rv.to_vec());
    // forward against the f64 definition, and the running-statistics update
    let y = inputs[0]
        .batch_norm(
            &rm,
            &rv,
            wi.map(|i| &inputs[i]),
            bi.map(|i| &inputs[i]),
            training,
            &cfg,
        )
        .unwrap();
    let vals = |i: Option<usize>| i.map(|i| inputs[i].to_vec());
    let (gamma, beta) = (vals(wi), vals(bi));
    let stats = (!training).then_some((rm0.as_slice(), rv0.as_slice()));
    let (expected, mean, var) = batch_norm_reference(
        &inputs[0].to_vec(),
        &case.shape,
        stats,
        gamma.as_deref(),
        beta.as_deref(),
        case.eps,
    );
    assert_close("forward", &y.to_vec(), &expected, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
    if training {
        let m = (inputs[0].numel() / case.shape[1]) as f64;
        let mom = case.momentum as f64;
        let update = |r: &[f32], s: &[f64], unbias: f64| -> Vec<f32> {
            r.iter()
                .zip(s)
                .map(|(&r, &s)| ((1.0 - mom) * r as f64 + mom * s * unbias) as f32)
                .collect()
        };
        assert_close(
            "running_mean",
            &rm.to_vec(),
            &update(&rm0, &mean, 1.0),
            1e-5,
            1e-5,
        )
        .map_err(TestCaseError::fail)?;
        assert_close(
            "running_var",
            &rv.to_vec(),
            &update(&rv0, &var, m / (m - 1.0)),
            1e-5,
            1e-5,
        )
        .map_err(TestCaseError::fail)?;
    } else {
        prop_assert_eq!((rm.to_vec(), rv.to_vec()), (rm0, rv0));
    }
    // gradients; in training every call of f also updates rm and rv, which the output
    // does not read
    let f = |v: &[Tensor]| {
        v[0].batch_norm(
            &rm,
            &rv,
            wi.map(|i| &v[i]),
            bi.map(|i| &v[i]),
            training,
            &cfg,
        )
    };
    gradcheck(
        &format!("batch_norm training={training} {case:?}"),
        &inputs,
        f,
        5e-3,
        3e-3,
        3e-3,
        seed ^ 1,
    )
    .map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batch_norm_training_matches_definition_and_finite_differences(case in bn_case(), seed in any::<u64>()) {
        check_batch_norm(&case, seed, true)?;
    }

    #[test]
    fn batch_norm_evaluation_matches_definition_and_finite_differences(case in bn_case(), seed in any::<u64>()) {
        check_batch_norm(&case, seed, false)?;
    }
}

// ---------------------------------------------------------------- LRN, random problems

/// An LRN problem: shape `[n, c, …]` (3-d or 4-d) and settings in sane ranges.
#[derive(Clone, Debug)]
struct LrnCase {
    shape: Vec<usize>,
    cfg: LrnConfig,
}

fn lrn_case() -> impl Strategy<Value = LrnCase> {
    (
        (
            1..=2usize,
            1..=6usize,
            1..=2usize,
            proptest::array::uniform2(1..=3usize),
        ),
        (
            1..=5usize,
            0.01f32..2.0,
            0.25f32..1.5,
            0.5f32..3.0,
            any::<bool>(),
        ),
    )
        .prop_map(|((n, c, extra, hw), (size, alpha, beta, k, paper))| {
            let mut shape = vec![n, c];
            shape.extend(&hw[..extra]);
            let convention = if paper {
                LrnConvention::Paper
            } else {
                LrnConvention::PyTorch
            };
            LrnCase {
                shape,
                cfg: LrnConfig {
                    size,
                    alpha,
                    beta,
                    k,
                    convention,
                },
            }
        })
}

/// LRN by its definition, in f64, with PyTorch's window written out:
/// `j ∈ [c − ⌊size/2⌋, c + ⌊(size−1)/2⌋] ∩ [0, channels)`.
fn lrn_reference(a: &[f32], shape: &[usize], cfg: &LrnConfig) -> Vec<f32> {
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    let alpha = match cfg.convention {
        LrnConvention::Paper => cfg.alpha as f64,
        LrnConvention::PyTorch => cfg.alpha as f64 / cfg.size as f64,
    };
    let mut b = vec![0.0f32; a.len()];
    for i in 0..n {
        for ch in 0..c as isize {
            for e in 0..inner {
                let at = |j: isize| a[(i * c + j as usize) * inner + e] as f64;
                let lo = ch - (cfg.size / 2) as isize;
                let hi = ch + ((cfg.size - 1) / 2) as isize;
                let sum: f64 = (lo..=hi)
                    .filter(|&j| j >= 0 && j < c as isize)
                    .map(|j| at(j).powi(2))
                    .sum();
                let s = cfg.k as f64 + alpha * sum;
                b[(i * c + ch as usize) * inner + e] = (at(ch) / s.powf(cfg.beta as f64)) as f32;
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lrn_matches_definition_and_finite_differences(case in lrn_case(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let a = Tensor::randn(&case.shape, 0.0, 1.5, &mut rng).with_grad();
        let y = a.local_response_norm(&case.cfg).unwrap();
        let expected = lrn_reference(&a.to_vec(), &case.shape, &case.cfg);
        assert_close("forward", &y.to_vec(), &expected, 1e-5, 1e-5).map_err(TestCaseError::fail)?;
        let f = |v: &[Tensor]| v[0].local_response_norm(&case.cfg);
        gradcheck(&format!("lrn {case:?}"), &[a], f, 1e-2, 3e-3, 3e-3, seed ^ 1)
            .map_err(TestCaseError::fail)?;
    }
}
