//! Activations, dropout, linear and losses: hand-computed values, stability, and
//! finite-difference gradient checks over random shapes.

use proptest::prelude::*;
use splot::testing::{assert_close, gradcheck};
use splot::{CrossEntropyConfig, Reduction, Rng, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn close(what: &str, a: &[f32], b: &[f32]) {
    assert_close(what, a, b, 1e-5, 1e-5).unwrap();
}

#[test]
fn activation_values() {
    let x = t(&[-2., -0.5, 0., 1.5], &[4]);
    assert_eq!(x.relu().to_vec(), vec![0., 0., 0., 1.5]);
    assert_eq!(x.leaky_relu(0.1).to_vec(), vec![-0.2, -0.05, 0., 1.5]);
    // NaN propagates as in PyTorch (torch.relu(nan) is nan), so divergence is not hidden.
    let nan = t(&[f32::NAN, -0.0], &[2]);
    assert!(nan.relu().to_vec()[0].is_nan() && nan.leaky_relu(0.1).to_vec()[0].is_nan());
    assert_eq!(nan.relu().to_vec()[1].to_bits(), 0.0f32.to_bits());
    close(
        "tanh",
        &x.tanh().to_vec(),
        &[-0.9640276, -0.46211716, 0., 0.90514827],
    );
    close(
        "sigmoid",
        &x.sigmoid().to_vec(),
        &[0.11920292, 0.37754067, 0.5, 0.8175745],
    );
    // LeNet-5: f(1) = 1.7159·tanh(2/3) ≈ 1.0000: the function is chosen so that f(±1) = ±1
    let f = t(&[1., -1.], &[2]).lecun_tanh().to_vec();
    close(
        "lecun_tanh",
        &f,
        &[1.0, -1.0].map(|v: f32| v * 1.7159 * (2.0f32 / 3.0).tanh()),
    );
    assert!((f[0] - 1.0).abs() < 1e-3);
    // sigmoid is finite far out
    let s = t(&[-1000., 1000.], &[2]).sigmoid().to_vec();
    assert_eq!(s, vec![0.0, 1.0]);
}

#[test]
fn softmax_is_stable_for_large_logits() {
    let x = t(&[1000., 1000., 0., -1000.], &[2, 2]);
    let s = x.softmax(1).unwrap().to_vec();
    close("softmax", &s, &[0.5, 0.5, 1.0, 0.0]);
    let l = x.log_softmax(1).unwrap().to_vec();
    close(
        "log_softmax",
        &l,
        &[
            -std::f32::consts::LN_2,
            -std::f32::consts::LN_2,
            0.0,
            -1000.0,
        ],
    );
    assert!(l.iter().all(|v| v.is_finite()));
    // along axis 0
    let s = t(&[0., 0., 1., 1.], &[2, 2]).softmax(0).unwrap().to_vec();
    let e = 1.0 / (1.0 + std::f32::consts::E);
    close("softmax axis 0", &s, &[e, e, 1.0 - e, 1.0 - e]);
}

#[test]
fn cross_entropy_values_as_pytorch() {
    // lp = log_softmax([1, 0]) = [−0.3132617, −1.3132617]
    let z = t(&[1., 0.], &[1, 2]);
    let ce = |z: &Tensor, targets: &[usize], cfg: &CrossEntropyConfig| {
        z.cross_entropy(targets, cfg).unwrap().item().unwrap()
    };
    let plain = CrossEntropyConfig::default();
    assert!((ce(&z, &[0], &plain) - 0.3132617).abs() < 1e-6);
    // smoothing 0.2: 0.8·0.3132617 + 0.1·(0.3132617 + 1.3132617)
    let smooth = CrossEntropyConfig {
        label_smoothing: 0.2,
        ..Default::default()
    };
    assert!((ce(&z, &[0], &smooth) - 0.4132617).abs() < 1e-6);
    // weights [1, 3], targets [0, 1]: (1·0.3132617 + 3·1.3132617) / (1 + 3)
    let z2 = t(&[1., 0., 1., 0.], &[2, 2]);
    let weighted = CrossEntropyConfig {
        class_weights: Some(vec![1., 3.]),
        ..Default::default()
    };
    assert!((ce(&z2, &[0, 1], &weighted) - 1.0632617).abs() < 1e-6);
    let summed = CrossEntropyConfig {
        reduction: Reduction::Sum,
        ..Default::default()
    };
    assert!((ce(&z2, &[0, 1], &summed) - (0.3132617 + 1.3132617)).abs() < 1e-6);
    // large logits stay finite
    let big = t(&[1000., 0.], &[1, 2]);
    assert_eq!(ce(&big, &[1], &plain), 1000.0);
    // nll of log-probabilities equals cross-entropy of the logits
    let nll = z2
        .log_softmax(1)
        .unwrap()
        .nll_loss(&[0, 1], Some(&[1., 3.]))
        .unwrap()
        .item()
        .unwrap();
    assert!((nll - 1.0632617).abs() < 1e-6);
    assert_eq!(
        t(&[1., 2.], &[2])
            .mse_loss(&t(&[0., 0.], &[2]))
            .unwrap()
            .item()
            .unwrap(),
        2.5
    );
}

#[test]
fn loss_errors_name_the_problem() {
    let z = Tensor::zeros(&[2, 3]);
    let cfg = CrossEntropyConfig::default();
    let e = z.cross_entropy(&[0], &cfg).unwrap_err().to_string();
    assert!(e.contains("1 targets") && e.contains("[2, 3]"), "{e}");
    let e = z.cross_entropy(&[0, 3], &cfg).unwrap_err().to_string();
    assert!(e.contains("target 3") && e.contains("sample 1"), "{e}");
    let bad = CrossEntropyConfig {
        class_weights: Some(vec![1.0; 2]),
        ..Default::default()
    };
    assert!(z
        .cross_entropy(&[0, 1], &bad)
        .unwrap_err()
        .to_string()
        .contains("2 class weights for 3 classes"));
    let bad = CrossEntropyConfig {
        label_smoothing: 1.5,
        ..Default::default()
    };
    assert!(z.cross_entropy(&[0, 1], &bad).is_err());
    assert!(Tensor::zeros(&[2])
        .mse_loss(&Tensor::zeros(&[3]))
        .unwrap_err()
        .to_string()
        .contains("[3]"));
    let e = Tensor::zeros(&[2, 3])
        .linear(&Tensor::zeros(&[4, 2]), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("linear") && e.contains("[2, 3]") && e.contains("[4, 2]"),
        "{e}"
    );
}

#[test]
fn dropout_is_inverted_seeded_and_the_identity_in_evaluation() {
    let x = Tensor::ones(&[10_000]);
    let y = x.dropout(0.3, true, &mut Rng::seed(1)).unwrap().to_vec();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f32 / 10_000.0;
    assert!((kept - 0.7).abs() < 0.02, "{kept}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
    let again = x.dropout(0.3, true, &mut Rng::seed(1)).unwrap().to_vec();
    assert_eq!(y, again, "same seed, same mask");
    let eval = x.dropout(0.3, false, &mut Rng::seed(1)).unwrap();
    assert_eq!(eval.to_vec(), x.to_vec());
    // channel-wise: each [h, w] plane is all kept or all dropped
    let x = Tensor::ones(&[4, 8, 3, 3]);
    let y = x.dropout2d(0.5, true, &mut Rng::seed(2)).unwrap().to_vec();
    for plane in y.chunks(9) {
        assert!(plane.iter().all(|&v| v == plane[0]));
    }
    assert!(x.dropout(1.5, true, &mut Rng::seed(0)).is_err());
    assert!(Tensor::ones(&[3, 3])
        .dropout2d(0.5, true, &mut Rng::seed(0))
        .is_err());
    assert!(x
        .dropout(1.0, true, &mut Rng::seed(0))
        .unwrap()
        .to_vec()
        .iter()
        .all(|&v| v == 0.0));
}

#[test]
fn linear_values() {
    // y = x·Wᵀ + b
    let x = t(&[1., 2., 3., 4.], &[2, 2]);
    let w = t(&[1., 0., 1., 1., 0., -1.], &[3, 2]);
    let b = t(&[0.5, 0., 1.], &[3]);
    assert_eq!(
        x.linear(&w, Some(&b)).unwrap().to_vec(),
        vec![1.5, 3., -1., 3.5, 7., -3.]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn activation_gradients(shape in proptest::collection::vec(1..=4usize, 1..=3), alpha in 0.01f32..0.5, seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        // keep clear of the ReLU kink so the finite difference is not straddling it
        let x: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|_| { let v = rng.normal(0.0, 1.0); if v.abs() < 0.05 { v + 0.1f32.copysign(v) } else { v } })
            .collect();
        let x = Tensor::from_vec(x, &shape).unwrap().with_grad();
        let axis = (seed as usize) % shape.len();
        let check = |name: &str, f: &dyn Fn(&[Tensor]) -> splot::Result<Tensor>| {
            gradcheck(name, std::slice::from_ref(&x), f, 1e-2, 3e-3, 3e-3, seed).map_err(TestCaseError::fail)
        };
        check("relu", &|v| Ok(v[0].relu()))?;
        check("leaky_relu", &|v| Ok(v[0].leaky_relu(alpha)))?;
        check("tanh", &|v| Ok(v[0].tanh()))?;
        check("sigmoid", &|v| Ok(v[0].sigmoid()))?;
        check("lecun_tanh", &|v| Ok(v[0].lecun_tanh()))?;
        check("softmax", &|v| v[0].softmax(axis))?;
        check("log_softmax", &|v| v[0].log_softmax(axis))?;
        // large logits too: shift by 500 must not change the gradient
        check("log_softmax shifted", &|v| v[0].add_scalar(500.0).log_softmax(axis))?;
    }

    #[test]
    fn loss_and_linear_gradients(n in 1..=4usize, k in 2..=5usize, m in 1..=4usize, smoothing in 0.0f32..0.3, weighted in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let z = Tensor::randn(&[n, k], 0.0, 2.0, &mut rng).with_grad();
        let targets: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
        let cfg = CrossEntropyConfig {
            label_smoothing: smoothing,
            class_weights: weighted.then(|| (0..k).map(|_| rng.uniform(0.5, 2.0)).collect()),
            reduction: Reduction::Mean,
            ignore_index: None,
        };
        gradcheck("cross_entropy", std::slice::from_ref(&z), |v| v[0].cross_entropy(&targets, &cfg), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        gradcheck("nll_loss", std::slice::from_ref(&z), |v| v[0].nll_loss(&targets, cfg.class_weights.as_deref()), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        let target = Tensor::randn(&[n, k], 0.0, 1.0, &mut rng);
        gradcheck("mse_loss", std::slice::from_ref(&z), |v| v[0].mse_loss(&target), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        let w = Tensor::randn(&[m, k], 0.0, 1.0, &mut rng).with_grad();
        let b = Tensor::randn(&[m], 0.0, 1.0, &mut rng).with_grad();
        gradcheck("linear", &[z.clone(), w, b], |v| v[0].linear(&v[1], Some(&v[2])), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        let mask_seed = seed;
        gradcheck("dropout", std::slice::from_ref(&z), |v| v[0].dropout(0.4, true, &mut Rng::seed(mask_seed)), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        let x4 = Tensor::randn(&[n, k, 2, 2], 0.0, 1.0, &mut rng).with_grad();
        gradcheck("dropout2d", &[x4], |v| v[0].dropout2d(0.4, true, &mut Rng::seed(mask_seed)), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
    }
}

#[test]
fn channel_affine_maps_each_channel_and_checks_its_gradients() {
    // [1, 2, 1, 2]: channel 0 ×2 + 1, channel 1 ×(−1) + 0.5
    let x = t(&[1., 2., 3., 4.], &[1, 2, 1, 2]);
    let y = x
        .channel_affine(&t(&[2., -1.], &[2]), &t(&[1., 0.5], &[2]))
        .unwrap();
    assert_eq!(y.to_vec(), vec![3., 5., -2.5, -3.5]);
    // the same as mul then add, and a finite-difference check of all three gradients,
    // large enough (3 × 5 × 48 × 48) to be split across the pool
    let mut rng = Rng::seed(21);
    for shape in [vec![2, 3, 4], vec![3, 5, 48, 48]] {
        let c = shape[1];
        let x = Tensor::randn(&shape, 0.0, 1.0, &mut rng).with_grad();
        let s = Tensor::randn(&[c], 0.0, 1.0, &mut rng).with_grad();
        let b = Tensor::randn(&[c], 0.0, 1.0, &mut rng).with_grad();
        let mut per_channel = vec![1; shape.len()];
        per_channel[1] = c;
        let expected = x
            .mul(&s.reshape(&per_channel).unwrap())
            .unwrap()
            .add(&b.reshape(&per_channel).unwrap())
            .unwrap();
        let y = x.channel_affine(&s, &b).unwrap();
        close(
            "channel_affine = mul + add",
            &y.to_vec(),
            &expected.to_vec(),
        );
        let inputs = [x, s, b];
        if shape.len() == 3 {
            gradcheck(
                "channel_affine",
                &inputs,
                |v| v[0].channel_affine(&v[1], &v[2]),
                1e-2,
                2e-3,
                2e-3,
                4,
            )
            .unwrap();
        } else {
            // large: compare the gradients with those of mul + add instead
            let r = Tensor::randn(&shape, 0.0, 1.0, &mut rng);
            let g1 = y.backward_with(&r).unwrap();
            let g2 = expected.backward_with(&r).unwrap();
            for (name, v) in ["x", "scale", "shift"].iter().zip(&inputs) {
                assert_close(
                    name,
                    &g1.get(v).unwrap().to_vec(),
                    &g2.get(v).unwrap().to_vec(),
                    1e-3,
                    1e-3,
                )
                .unwrap();
            }
        }
    }
    let err = x
        .channel_affine(&t(&[1.], &[1]), &t(&[1.], &[1]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("channel_affine") && err.contains("[1, 2, 1, 2]"),
        "{err}"
    );
}
