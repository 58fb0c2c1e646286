//! Losses (cross-entropy and nll over `[n, k, …]` with ignore_index, weights and label
//! smoothing; smooth L1; binary cross-entropy with logits): hand-computed values, the
//! kernels against a plain f64 reference, finite-difference gradient checks over random
//! shapes and options, PyTorch's values and input gradients (fixtures from
//! `scripts/fixtures_lossopt.py`), and errors for impossible configurations.

use proptest::prelude::*;
use splot::io::safetensors;
use splot::testing::{assert_close, gradcheck};
use splot::{CrossEntropyConfig, Reduction, Rng, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn close(what: &str, actual: &Tensor, expected: &[f32]) {
    assert_close(what, &actual.to_vec(), expected, 1e-5, 1e-5).unwrap();
}

fn ln(x: f64) -> f64 {
    x.ln()
}

// ---------------------------------------------------------------- by hand

#[test]
fn cross_entropy_per_pixel_with_ignore_index_by_hand() {
    // [n=1, k=2, h=1, w=3], logits per pixel (class 0, class 1): (0, 0), (1, 0), (0, 2);
    // targets 1, 255 (ignored), 0.
    // pixel 0: lse = ln 2, −lp_1 = ln 2 = 0.693147
    // pixel 2: lse = ln(1 + e²) = 2.126928, −lp_0 = 2.126928
    let z = t(&[0., 1., 0., 0., 0., 2.], &[1, 2, 1, 3]).with_grad();
    let targets = [1, 255, 0];
    let cfg = CrossEntropyConfig {
        ignore_index: Some(255),
        ..Default::default()
    };
    let l0 = ln(2.0);
    let l2 = ln(1.0 + 2f64.exp());
    // mean over the 2 counted pixels
    let loss = z.cross_entropy(&targets, &cfg).unwrap();
    close("mean", &loss, &[((l0 + l2) / 2.0) as f32]);
    // none: [1, 1, 3], 0 at the ignored pixel
    let none = CrossEntropyConfig {
        reduction: Reduction::None,
        ..cfg.clone()
    };
    let per_pixel = z.cross_entropy(&targets, &none).unwrap();
    assert_eq!(per_pixel.shape(), &[1, 1, 3]);
    close("none", &per_pixel, &[l0 as f32, 0.0, l2 as f32]);
    // gradient of the mean: (softmax − onehot)/2 at counted pixels, 0 at the ignored one
    // pixel 0: p = (1/2, 1/2), y = 1: (1/4, −1/4); pixel 2: p_0 = 1/(1 + e²) = 0.119203,
    // y = 0: ((0.119203 − 1)/2, 0.880797/2)
    let grads = loss.backward().unwrap();
    let p0 = 1.0 / (1.0 + 2f32.exp());
    close(
        "grad",
        grads.get(&z).unwrap(),
        &[0.25, 0.0, (p0 - 1.0) / 2.0, -0.25, 0.0, (1.0 - p0) / 2.0],
    );
}

#[test]
fn cross_entropy_smoothing_and_weights_share_the_denominator() {
    // [n=2, k=2] logits (0, 0) both: −lp_c = ln 2 for every c. Weights (1, 3), targets
    // 0 and 1, smoothing ε = 0.5:
    // ℓ_0 = 0.5·1·ln2 + 0.25·(1 + 3)·ln2 = 1.5·ln2; ℓ_1 = 0.5·3·ln2 + ln2 = 2.5·ln2.
    // D = w_0 + w_1 = 4: mean = 4·ln2/4 = ln2.
    let z = Tensor::zeros(&[2, 2]);
    let cfg = CrossEntropyConfig {
        label_smoothing: 0.5,
        class_weights: Some(vec![1., 3.]),
        ..Default::default()
    };
    let l2 = 2f32.ln();
    close("mean", &z.cross_entropy(&[0, 1], &cfg).unwrap(), &[l2]);
    // With sample 1 ignored D = 1: mean = 1.5·ln2.
    let ignoring = CrossEntropyConfig {
        ignore_index: Some(1),
        ..cfg.clone()
    };
    close(
        "ignored",
        &z.cross_entropy(&[0, 1], &ignoring).unwrap(),
        &[1.5 * l2],
    );
    // Every target ignored: mean NaN, sum 0, gradients 0 (as PyTorch).
    let z = Tensor::zeros(&[2, 2]).with_grad();
    let mean = z.cross_entropy(&[1, 1], &ignoring).unwrap();
    assert!(mean.item().unwrap().is_nan());
    close(
        "zero grad",
        mean.backward().unwrap().get(&z).unwrap(),
        &[0.; 4],
    );
    let sum = CrossEntropyConfig {
        reduction: Reduction::Sum,
        ..ignoring
    };
    close("sum", &z.cross_entropy(&[1, 1], &sum).unwrap(), &[0.]);
}

#[test]
fn unbatched_logits_and_large_logits() {
    // [k = 3] with one target: −lp_2 of (0, 0, 0) = ln 3; shape [] under none.
    let z = Tensor::zeros(&[3]);
    let none = CrossEntropyConfig {
        reduction: Reduction::None,
        ..Default::default()
    };
    let l = z.cross_entropy(&[2], &none).unwrap();
    assert_eq!(l.shape(), &[] as &[usize]);
    close("unbatched", &l, &[3f32.ln()]);
    // no positions (a pixel axis of length 0): mean NaN (0/0, as PyTorch), none empty
    let empty = Tensor::zeros(&[2, 3, 0]).with_grad();
    let mean = empty
        .cross_entropy(&[], &CrossEntropyConfig::default())
        .unwrap();
    assert!(mean.item().unwrap().is_nan());
    assert_eq!(mean.backward().unwrap().get(&empty).unwrap().numel(), 0);
    assert_eq!(empty.cross_entropy(&[], &none).unwrap().shape(), &[2, 0]);
    // per-pixel logits of ±1000 stay finite: −lp = 0 and 2000
    let big = t(&[1000., -1000., -1000., 1000.], &[1, 2, 2]);
    let l = big.cross_entropy(&[0, 0], &none).unwrap();
    close("large", &l, &[0., 2000.]);
}

#[test]
fn nll_loss_with_equals_cross_entropy_of_the_logits() {
    let mut rng = Rng::seed(5);
    let z = Tensor::randn(&[3, 4, 2, 3], 0.0, 2.0, &mut rng);
    let targets: Vec<usize> = (0..18)
        .map(|i| if i % 5 == 0 { 255 } else { rng.below(4) })
        .collect();
    let cfg = CrossEntropyConfig {
        label_smoothing: 0.2,
        class_weights: Some(vec![0.5, 1.0, 2.0, 1.5]),
        ignore_index: Some(255),
        ..Default::default()
    };
    let ce = z.cross_entropy(&targets, &cfg).unwrap();
    let nll = z
        .log_softmax(1)
        .unwrap()
        .nll_loss_with(&targets, &cfg)
        .unwrap();
    close("nll = ce", &nll, &ce.to_vec());
}

#[test]
fn smooth_l1_by_hand() {
    // d = x − t = −3, −0.5, 0, 0.25, 2 with β = 1: |d| < 1 → 0.5·d², else |d| − 0.5:
    // 2.5, 0.125, 0, 0.03125, 1.5 (sum 4.15625); gradients sign(d) or d: −1, −0.5, 0, 0.25, 1.
    let x = t(&[-3., -0.5, 0., 0.25, 2.], &[5]).with_grad();
    let target = Tensor::zeros(&[5]).with_grad();
    let l = x.smooth_l1_loss(&target, 1.0, Reduction::None).unwrap();
    close("β = 1", &l, &[2.5, 0.125, 0., 0.03125, 1.5]);
    let sum = x.smooth_l1_loss(&target, 1.0, Reduction::Sum).unwrap();
    close("sum", &sum, &[4.15625]);
    let grads = sum.backward().unwrap();
    close("grad x", grads.get(&x).unwrap(), &[-1., -0.5, 0., 0.25, 1.]);
    close(
        "grad t",
        grads.get(&target).unwrap(),
        &[1., 0.5, 0., -0.25, -1.],
    );
    // β = 0 is L1: |d|, mean 5.75/5, gradient sign(d)/5 (0 at d = 0)
    let l1 = x.smooth_l1_loss(&target, 0.0, Reduction::Mean).unwrap();
    close("L1", &l1, &[5.75 / 5.]);
    let g = l1.backward().unwrap();
    close("grad L1", g.get(&x).unwrap(), &[-0.2, -0.2, 0., 0.2, 0.2]);
}

#[test]
fn bce_with_logits_by_hand() {
    // x = 0: log σ = −ln 2, ℓ = (1 − t)·0 + (1 + (p − 1)t)·ln2.
    // t = 1, p = 3: 3·ln2; t = 0: ln2; t = 0.5, p = 3: 2·ln2.
    // ∂x = (1 + (p − 1)t)·σ − p·t = 3·0.5 − 3 = −1.5, 0.5, 2·0.5 − 1.5 = −0.5.
    let x = Tensor::zeros(&[1, 3]).with_grad();
    let target = t(&[1., 0., 0.5], &[1, 3]);
    let pw = Tensor::full(&[3], 3.0);
    let l = x
        .binary_cross_entropy_with_logits(&target, None, Some(&pw), Reduction::None)
        .unwrap();
    let l2 = 2f32.ln();
    close("ℓ", &l, &[3. * l2, l2, 2. * l2]);
    let grads = l.backward_with(&Tensor::ones(&[1, 3])).unwrap();
    close("grad", grads.get(&x).unwrap(), &[-1.5, 0.5, -0.5]);
    // weights [2, 1] (2 and 0.5) broadcast over rows; large logits stay finite:
    // x = 100, t = 0: ℓ = 100 (−log(1 − σ(100)) = 100); x = −100, t = 1: 100; the
    // second row is right (ℓ = 0): sum = 2·(100 + 100) + 0.5·(0 + 0).
    let x = t(&[100., -100., 100., -100.], &[2, 2]);
    let target = t(&[0., 1., 1., 0.], &[2, 2]);
    let w = t(&[2., 0.5], &[2, 1]);
    let l = x
        .binary_cross_entropy_with_logits(&target, Some(&w), None, Reduction::Sum)
        .unwrap();
    close("large", &l, &[400.]);
}

// ---------------------------------------------------------------- against a reference

/// The plain definition, in f64: per position the log-softmax over the class axis and the
/// smoothed, weighted negative log-likelihood; ignored positions left out of the loss and
/// of the mean's denominator.
fn cross_entropy_reference(
    z: &[f32],
    shape: &[usize],
    targets: &[usize],
    cfg: &CrossEntropyConfig,
) -> Vec<f64> {
    let (n, k) = if shape.len() == 1 {
        (1, shape[0])
    } else {
        (shape[0], shape[1])
    };
    let inner: usize = shape.iter().skip(2).product();
    let w = |c: usize| cfg.class_weights.as_ref().map_or(1.0, |w| w[c] as f64);
    let eps = cfg.label_smoothing as f64;
    let (mut losses, mut denominator) = (Vec::new(), 0.0);
    for s in 0..n {
        for j in 0..inner {
            let x = |c: usize| z[(s * k + c) * inner + j] as f64;
            let y = targets[s * inner + j];
            if Some(y) == cfg.ignore_index {
                losses.push(0.0);
                continue;
            }
            let m = (0..k).map(x).fold(f64::NEG_INFINITY, f64::max);
            let lse = m + (0..k).map(|c| (x(c) - m).exp()).sum::<f64>().ln();
            let smooth: f64 = (0..k).map(|c| w(c) * (lse - x(c))).sum();
            losses.push((1.0 - eps) * w(y) * (lse - x(y)) + eps / k as f64 * smooth);
            denominator += w(y);
        }
    }
    match cfg.reduction {
        Reduction::None => losses,
        Reduction::Sum => vec![losses.iter().sum()],
        Reduction::Mean => vec![losses.iter().sum::<f64>() / denominator],
    }
}

fn random_config(rng: &mut Rng, k: usize, reduction: usize) -> CrossEntropyConfig {
    CrossEntropyConfig {
        label_smoothing: if rng.below(2) == 0 {
            0.0
        } else {
            rng.uniform(0.0, 0.5)
        },
        class_weights: (rng.below(2) == 0).then(|| (0..k).map(|_| rng.uniform(0.2, 2.0)).collect()),
        reduction: [Reduction::Mean, Reduction::Sum, Reduction::None][reduction],
        ignore_index: [None, Some(255), Some(0)][rng.below(3)],
    }
}

fn random_targets(rng: &mut Rng, count: usize, k: usize, ignore: Option<usize>) -> Vec<usize> {
    (0..count)
        .map(|_| match ignore {
            Some(v) if rng.below(4) == 0 => v,
            _ => rng.below(k),
        })
        .collect()
}

#[test]
fn cross_entropy_kernel_matches_the_reference_beyond_a_tile() {
    // Pixel runs longer than a tile (512) and more [n, k] rows than a task (256).
    let mut rng = Rng::seed(11);
    for (case, shape) in [
        vec![2, 3, 40, 30],
        vec![1, 5, 1100],
        vec![600, 4],
        vec![3, 7, 9, 1],
        vec![9],
    ]
    .into_iter()
    .enumerate()
    {
        for reduction in 0..3 {
            let k = if shape.len() == 1 { shape[0] } else { shape[1] };
            let count = shape.iter().product::<usize>() / k;
            let cfg = random_config(&mut rng, k, reduction);
            let targets = random_targets(&mut rng, count, k, cfg.ignore_index);
            let z = Tensor::randn(&shape, 0.0, 3.0, &mut rng);
            let got = z.cross_entropy(&targets, &cfg).unwrap().to_vec();
            let want: Vec<f32> = cross_entropy_reference(&z.to_vec(), &shape, &targets, &cfg)
                .iter()
                .map(|&v| v as f32)
                .collect();
            assert_close(
                &format!("case {case} {shape:?} {cfg:?}"),
                &got,
                &want,
                1e-5,
                1e-5,
            )
            .unwrap();
        }
    }
}

// ---------------------------------------------------------------- finite differences

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn class_loss_gradients(
        n in 1..=3usize,
        k in 1..=4usize,
        spatial in prop::collection::vec(1..=3usize, 0..=2),
        reduction in 0..3usize,
        unbatched in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let shape: Vec<usize> = if unbatched {
            vec![k]
        } else {
            [vec![n, k], spatial].concat()
        };
        let count = shape.iter().product::<usize>() / k;
        let cfg = random_config(&mut rng, k, reduction);
        let mut targets = random_targets(&mut rng, count, k, cfg.ignore_index);
        // keep one counted target so that the mean is finite
        if cfg.ignore_index == Some(0) && k == 1 {
            return Ok(());
        }
        if targets.iter().all(|&t| Some(t) == cfg.ignore_index) {
            targets[0] = (cfg.ignore_index.unwrap_or(0) + 1) % k;
        }
        let z = Tensor::randn(&shape, 0.0, 2.0, &mut rng).with_grad();
        gradcheck("cross_entropy", std::slice::from_ref(&z), |v| v[0].cross_entropy(&targets, &cfg), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        let lp = splot::no_grad(|| z.log_softmax(if unbatched { 0 } else { 1 })).unwrap().with_grad();
        gradcheck("nll_loss", std::slice::from_ref(&lp), |v| v[0].nll_loss_with(&targets, &cfg), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn pointwise_loss_gradients(
        shape in prop::collection::vec(1..=4usize, 1..=3),
        reduction in 0..3usize,
        beta in prop_oneof![Just(0.0f32), 0.2f32..2.0],
        weighted in any::<bool>(),
        pos_weighted in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][reduction];
        let x = Tensor::randn(&shape, 0.0, 2.0, &mut rng).with_grad();
        // smooth L1: keep |x − t| off the kinks (0 and β) by more than the step
        let target = Tensor::from_vec(
            x.to_vec()
                .iter()
                .map(|&v| {
                    let mut d = rng.uniform(-3.0, 3.0);
                    while d.abs() < 0.05 || (d.abs() - beta).abs() < 0.05 {
                        d = rng.uniform(-3.0, 3.0);
                    }
                    v - d
                })
                .collect(),
            &shape,
        )
        .unwrap()
        .with_grad();
        gradcheck("smooth_l1_loss", &[x.clone(), target], |v| v[0].smooth_l1_loss(&v[1], beta, reduction), 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        let last = *shape.last().unwrap();
        let w = weighted.then(|| Tensor::rand_uniform(&shape[1..], 0.5, 2.0, &mut rng));
        let pw = pos_weighted.then(|| Tensor::rand_uniform(&[last], 0.25, 3.0, &mut rng));
        let target = Tensor::rand_uniform(&shape, 0.0, 1.0, &mut rng).with_grad();
        gradcheck("bce_with_logits", &[x, target], |v| {
            v[0].binary_cross_entropy_with_logits(&v[1], w.as_ref(), pw.as_ref(), reduction)
        }, 1e-2, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------- PyTorch

/// A fixture file: its name, its tensors and its metadata (the options).
type Fixture = (String, HashMap<String, Tensor>, HashMap<String, String>);

fn fixtures() -> Vec<Fixture> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lossopt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("loss_") && name.ends_with(".safetensors")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let (tensors, meta) = safetensors::load(&p).unwrap();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                name,
                tensors.into_iter().collect(),
                meta.into_iter().collect(),
            )
        })
        .collect()
}

fn reduction_of(meta: &HashMap<String, String>) -> Reduction {
    match meta["reduction"].as_str() {
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "none" => Reduction::None,
        other => panic!("reduction {other}"),
    }
}

#[test]
fn losses_equal_pytorch() {
    let cases = fixtures();
    assert!(cases.len() >= 27, "{} loss fixtures", cases.len());
    for (name, f, meta) in cases {
        let input = f["input"].detach().with_grad();
        let reduction = reduction_of(&meta);
        let (out, target) = match meta["loss"].as_str() {
            loss @ ("cross_entropy" | "nll_loss") => {
                let targets: Vec<usize> =
                    f["target"].to_vec().iter().map(|&v| v as usize).collect();
                let cfg = CrossEntropyConfig {
                    label_smoothing: meta["label_smoothing"].parse().unwrap(),
                    class_weights: f.get("weight").map(Tensor::to_vec),
                    reduction,
                    ignore_index: meta["ignore_index"].parse().ok(),
                };
                let out = if loss == "cross_entropy" {
                    input.cross_entropy(&targets, &cfg)
                } else {
                    input.nll_loss_with(&targets, &cfg)
                };
                (out.unwrap(), None)
            }
            "smooth_l1_loss" => {
                let target = f["target"].detach().with_grad();
                let beta = meta["beta"].parse().unwrap();
                (
                    input.smooth_l1_loss(&target, beta, reduction).unwrap(),
                    Some(target),
                )
            }
            "binary_cross_entropy_with_logits" => {
                let target = f["target"].detach().with_grad();
                let out = input
                    .binary_cross_entropy_with_logits(
                        &target,
                        f.get("weight"),
                        f.get("pos_weight"),
                        reduction,
                    )
                    .unwrap();
                (out, Some(target))
            }
            other => panic!("{name}: loss {other}"),
        };
        assert_eq!(out.shape(), f["output"].shape(), "{name}");
        assert_close(
            &format!("{name}: output"),
            &out.to_vec(),
            &f["output"].to_vec(),
            1e-5,
            1e-5,
        )
        .unwrap();
        let grads = out.backward_with(&f["upstream"]).unwrap();
        let zeros = Tensor::zeros(input.shape());
        let gx = grads.get(&input).unwrap_or(&zeros);
        assert_close(
            &format!("{name}: grad input"),
            &gx.to_vec(),
            &f["grad_input"].to_vec(),
            1e-5,
            1e-5,
        )
        .unwrap();
        if let Some(target) = target {
            let gt = grads.get(&target).unwrap();
            assert_close(
                &format!("{name}: grad target"),
                &gt.to_vec(),
                &f["grad_target"].to_vec(),
                1e-5,
                1e-5,
            )
            .unwrap();
        }
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn impossible_configurations_are_errors() {
    let z = Tensor::zeros(&[2, 3, 2, 2]);
    let cfg = CrossEntropyConfig::default();
    let err = |r: splot::Result<Tensor>| r.unwrap_err().to_string();
    // targets: wrong count, out of range (the ignore index excepted), on a scalar input
    let e = err(z.cross_entropy(&[0; 7], &cfg));
    assert!(
        e.contains("cross_entropy")
            && e.contains("7 targets")
            && e.contains("[2, 3, 2, 2]")
            && e.contains("8"),
        "{e}"
    );
    let mut targets = [0usize; 8];
    targets[5] = 255;
    let e = err(z.cross_entropy(&targets, &cfg));
    assert!(
        e.contains("target 255 of sample 1 at pixel 1") && e.contains("no ignore_index"),
        "{e}"
    );
    let ignoring = CrossEntropyConfig {
        ignore_index: Some(255),
        ..Default::default()
    };
    assert!(z.cross_entropy(&targets, &ignoring).is_ok());
    targets[2] = 3;
    let e = err(z.cross_entropy(&targets, &ignoring));
    assert!(
        e.contains("target 3 of sample 0 at pixel 2") && e.contains("ignore_index is 255"),
        "{e}"
    );
    let e = err(Tensor::scalar(1.0).cross_entropy(&[0], &cfg));
    assert!(e.contains("scalar"), "{e}");
    let e = err(Tensor::zeros(&[2, 0]).cross_entropy(&[], &cfg));
    assert!(e.contains("no classes"), "{e}");
    // weights: wrong count, not finite; smoothing outside [0, 1]
    for (weights, needle) in [
        (vec![1.0; 2], "2 class weights for 3 classes"),
        (vec![1.0, f32::NAN, 1.0], "class weight 1 is NaN"),
    ] {
        let bad = CrossEntropyConfig {
            class_weights: Some(weights),
            ..Default::default()
        };
        let e = err(z.cross_entropy(&[0; 8], &bad));
        assert!(e.contains(needle), "{e}");
        let e = err(z.nll_loss_with(&[0; 8], &bad));
        assert!(e.contains("nll_loss") && e.contains(needle), "{e}");
    }
    for eps in [-0.1, 1.5, f32::NAN] {
        let bad = CrossEntropyConfig {
            label_smoothing: eps,
            ..Default::default()
        };
        assert!(err(z.cross_entropy(&[0; 8], &bad)).contains("label smoothing"));
    }
    // smooth L1: shapes, beta
    let (a, b) = (Tensor::zeros(&[2, 3]), Tensor::zeros(&[3, 2]));
    let e = err(a.smooth_l1_loss(&b, 1.0, Reduction::Mean));
    assert!(
        e.contains("smooth_l1_loss") && e.contains("[2, 3]") && e.contains("[3, 2]"),
        "{e}"
    );
    for beta in [-1.0, f32::NAN, f32::INFINITY] {
        let e = err(a.smooth_l1_loss(&a, beta, Reduction::Mean));
        assert!(e.contains("beta"), "{e}");
    }
    // BCE: shapes, weights that do not broadcast
    let e = err(a.binary_cross_entropy_with_logits(&b, None, None, Reduction::Mean));
    assert!(
        e.contains("binary_cross_entropy_with_logits") && e.contains("[3, 2]"),
        "{e}"
    );
    let e = err(a.binary_cross_entropy_with_logits(
        &a,
        Some(&Tensor::ones(&[2])),
        None,
        Reduction::Mean,
    ));
    assert!(e.contains("weight [2]") && e.contains("[2, 3]"), "{e}");
    let e = err(a.binary_cross_entropy_with_logits(
        &a,
        None,
        Some(&Tensor::ones(&[1, 2, 3])),
        Reduction::Mean,
    ));
    assert!(e.contains("pos_weight [1, 2, 3]"), "{e}");
}
