//! Tensors: creation and initialisers, broadcasting arithmetic, reductions, shape ops and
//! matmul — values, errors, and finite-difference gradient checks.

use proptest::prelude::*;
use splot::testing::{assert_close, gradcheck};
use splot::{Rng, Tensor};

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn creation_and_shape_checks() {
    assert_eq!(Tensor::zeros(&[2, 3]).to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::ones(&[4]).to_vec(), vec![1.0; 4]);
    assert_eq!(Tensor::scalar(2.5).item().unwrap(), 2.5);
    let e = Tensor::from_vec(vec![1.0; 5], &[2, 3])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[2, 3]") && e.contains("6") && e.contains("5"),
        "{e}"
    );
    let x = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    assert_eq!(x.at(&[1, 2]).unwrap(), 6.0);
    assert!(x.at(&[2, 0]).is_err());
    assert!(x.item().is_err());
}

#[test]
fn seeded_initialisers_are_reproducible_and_scaled() {
    let a = Tensor::randn(&[1000], 0.0, 1.0, &mut Rng::seed(3));
    let b = Tensor::randn(&[1000], 0.0, 1.0, &mut Rng::seed(3));
    assert_eq!(a.to_vec(), b.to_vec());
    assert_ne!(
        a.to_vec(),
        Tensor::randn(&[1000], 0.0, 1.0, &mut Rng::seed(4)).to_vec()
    );
    let std = |x: &Tensor| {
        let v = x.to_vec();
        let m = v.iter().sum::<f32>() / v.len() as f32;
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32).sqrt()
    };
    let mut rng = Rng::seed(9);
    // Kaiming normal: std √(2/fan_in), fan_in = 64·3·3
    let w = Tensor::kaiming_normal(&[64, 64, 3, 3], &mut rng);
    let want = (2.0f32 / 576.0).sqrt();
    assert!((std(&w) / want - 1.0).abs() < 0.03, "{} vs {want}", std(&w));
    // Kaiming uniform with a = √5 (PyTorch's default): bound 1/√fan_in
    let w = Tensor::kaiming_uniform(&[64, 64, 3, 3], 5f32.sqrt(), &mut rng);
    let bound = 1.0 / 576f32.sqrt();
    let max = w.to_vec().iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(max <= bound && max > 0.95 * bound);
    // Xavier uniform: bound √(6/(fan_in+fan_out))
    let w = Tensor::xavier_uniform(&[300, 200], 1.0, &mut rng);
    let bound = (6.0f32 / 500.0).sqrt();
    let max = w.to_vec().iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(max <= bound && max > 0.95 * bound);
    let w = Tensor::xavier_normal(&[300, 200], 1.0, &mut rng);
    assert!((std(&w) / (2.0f32 / 500.0).sqrt() - 1.0).abs() < 0.03);
    let u = Tensor::rand_uniform(&[1000], 2.0, 3.0, &mut rng).to_vec();
    assert!(u.iter().all(|&v| (2.0..3.0).contains(&v)));
}

#[test]
fn per_channel_broadcasting() {
    // [2, 3, 1, 2] + [3, 1, 1]: one value per channel
    let x = Tensor::zeros(&[2, 3, 1, 2]);
    let c = t(&[1., 2., 3.], &[3, 1, 1]);
    let y = x.add(&c).unwrap();
    assert_eq!(y.shape(), &[2, 3, 1, 2]);
    assert_eq!(
        y.to_vec(),
        vec![1., 1., 2., 2., 3., 3., 1., 1., 2., 2., 3., 3.]
    );
    let y = Tensor::ones(&[1, 3, 2, 1])
        .mul(&t(&[2., 3.], &[1, 1, 1, 2]))
        .unwrap();
    assert_eq!(y.shape(), &[1, 3, 2, 2]);
    assert_eq!(y.to_vec()[..4], [2., 3., 2., 3.]);
    assert_eq!(
        t(&[6., 8.], &[2]).div(&t(&[2.], &[1])).unwrap().to_vec(),
        vec![3., 4.]
    );
    assert_eq!(
        t(&[6., 8.], &[2])
            .sub(&Tensor::scalar(1.0))
            .unwrap()
            .to_vec(),
        vec![5., 7.]
    );
    let e = Tensor::zeros(&[2, 3])
        .add(&Tensor::zeros(&[2]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("add") && e.contains("[2, 3]") && e.contains("[2]"),
        "{e}"
    );
}

#[test]
fn reductions() {
    let x = t(&[1., 5., 3., 4., 2., 6.], &[2, 3]);
    assert_eq!(x.sum_all().item().unwrap(), 21.0);
    assert_eq!(x.mean_all().item().unwrap(), 3.5);
    assert_eq!(x.sum(0, false).unwrap().to_vec(), vec![5., 7., 9.]);
    assert_eq!(x.sum(1, true).unwrap().shape(), &[2, 1]);
    assert_eq!(x.mean(1, false).unwrap().to_vec(), vec![3., 4.]);
    assert_eq!(x.max(1, false).unwrap().to_vec(), vec![5., 6.]);
    assert_eq!(x.argmax(1).unwrap(), vec![1, 2]);
    assert_eq!(x.argmax(0).unwrap(), vec![1, 0, 1]);
    // ties go to the first maximum, in value and in gradient
    let tie = t(&[2., 7., 7.], &[3]).with_grad();
    assert_eq!(tie.argmax(0).unwrap(), vec![1]);
    let g = tie.max(0, false).unwrap().sum_all().backward().unwrap();
    assert_eq!(g.get(&tie).unwrap().to_vec(), vec![0., 1., 0.]);
    assert!(x.sum(2, false).unwrap_err().to_string().contains("axis 2"));
}

#[test]
fn shape_ops() {
    let x = t(
        &(0..24).map(|v| v as f32).collect::<Vec<_>>(),
        &[2, 3, 2, 2],
    );
    assert_eq!(x.flatten(1).unwrap().shape(), &[2, 12]);
    assert_eq!(x.reshape(&[4, 6]).unwrap().shape(), &[4, 6]);
    let e = x.reshape(&[5, 5]).unwrap_err().to_string();
    assert!(e.contains("[2, 3, 2, 2]") && e.contains("[5, 5]"), "{e}");
    // channel split and concat are inverse
    let parts = x.split(1, &[1, 2]).unwrap();
    assert_eq!(parts[0].shape(), &[2, 1, 2, 2]);
    assert_eq!(parts[1].shape(), &[2, 2, 2, 2]);
    assert_eq!(parts[0].to_vec(), vec![0., 1., 2., 3., 12., 13., 14., 15.]);
    let back = Tensor::concat(&[&parts[0], &parts[1]], 1).unwrap();
    assert_eq!(back.to_vec(), x.to_vec());
    let e = Tensor::concat(&[&x, &Tensor::zeros(&[2, 3, 2, 3])], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("concat") && e.contains("[2, 3, 2, 3]"), "{e}");
    assert!(x.split(1, &[1, 1]).is_err());
}

#[test]
fn matmul_values_and_errors() {
    let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    let b = t(&[7., 8., 9., 10., 11., 12.], &[3, 2]);
    assert_eq!(a.matmul(&b).unwrap().to_vec(), vec![58., 64., 139., 154.]);
    let e = a.matmul(&a).unwrap_err().to_string();
    assert!(e.contains("[2, 3]"), "{e}");
    // a product large enough for the parallel path agrees with a plain triple loop
    let mut rng = Rng::seed(2);
    let (m, k, n) = (67, 129, 45);
    let a = Tensor::randn(&[m, k], 0.0, 1.0, &mut rng);
    let b = Tensor::randn(&[k, n], 0.0, 1.0, &mut rng);
    let (av, bv) = (a.to_vec(), b.to_vec());
    let mut want = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).map(|p| av[i * k + p] * bv[p * n + j]).sum();
        }
    }
    assert_close("matmul", &a.matmul(&b).unwrap().to_vec(), &want, 1e-4, 1e-4).unwrap();
}

fn randn(shape: &[usize], rng: &mut Rng) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, rng).with_grad()
}

/// Random shapes and a broadcast partner for each: the same shape, per channel, a
/// trailing vector or a scalar.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (proptest::collection::vec(1..=3usize, 1..=4), 0..4usize).prop_map(|(shape, kind)| {
        let other = match kind {
            0 => shape.clone(),
            1 if shape.len() >= 3 => {
                let mut s = vec![1; shape.len()];
                s[shape.len() - 3] = shape[shape.len() - 3];
                s
            }
            2 => vec![shape[shape.len() - 1]],
            _ => vec![1],
        };
        (shape, other)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn elementwise_gradients((sa, sb) in broadcast_pair(), swap in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
        let a = randn(&sa, &mut rng);
        let b = randn(&sb, &mut rng);
        let check = |name: &str, f: &dyn Fn(&[Tensor]) -> splot::Result<Tensor>, inputs: &[Tensor]| {
            gradcheck(name, inputs, f, 1e-2, 2e-3, 2e-3, seed).map_err(TestCaseError::fail)
        };
        check("add", &|v| v[0].add(&v[1]), &[a.clone(), b.clone()])?;
        check("sub", &|v| v[0].sub(&v[1]), &[a.clone(), b.clone()])?;
        check("mul", &|v| v[0].mul(&v[1]), &[a.clone(), b.clone()])?;
        // keep the divisor away from zero
        let d = b.detach().square().add_scalar(0.5).with_grad();
        check("div", &|v| v[0].div(&v[1]), &[a.clone(), d.clone()])?;
        check("scale", &|v| Ok(v[0].scale(-1.5)), std::slice::from_ref(&a))?;
        check("neg", &|v| Ok(v[0].neg()), std::slice::from_ref(&a))?;
        check("add_scalar", &|v| Ok(v[0].add_scalar(2.0)), std::slice::from_ref(&a))?;
        check("square", &|v| Ok(v[0].square()), std::slice::from_ref(&a))?;
        check("exp", &|v| Ok(v[0].exp()), std::slice::from_ref(&a))?;
        check("sqrt", &|v| Ok(v[0].sqrt()), std::slice::from_ref(&d))?;
        check("ln", &|v| Ok(v[0].ln()), std::slice::from_ref(&d))?;
    }

    #[test]
    fn reduction_and_shape_gradients(shape in proptest::collection::vec(1..=4usize, 1..=4), axis_seed in any::<usize>(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let x = randn(&shape, &mut rng);
        let axis = axis_seed % shape.len();
        let check = |name: &str, f: &dyn Fn(&[Tensor]) -> splot::Result<Tensor>| {
            gradcheck(name, std::slice::from_ref(&x), f, 1e-3, 2e-3, 2e-3, seed).map_err(TestCaseError::fail)
        };
        check("sum_all", &|v| Ok(v[0].sum_all()))?;
        check("mean_all", &|v| Ok(v[0].mean_all()))?;
        check("sum", &|v| v[0].sum(axis, false))?;
        check("mean", &|v| v[0].mean(axis, true))?;
        // max: distinct values 0.1 apart in random order, so the ±ε step of the finite
        // difference can never change which element is the maximum
        let n: usize = shape.iter().product();
        let mut values: Vec<f32> = (0..n).map(|i| i as f32 * 0.1).collect();
        for i in (1..n).rev() {
            values.swap(i, rng.below(i + 1));
        }
        let distinct = Tensor::from_vec(values, &shape).unwrap().with_grad();
        gradcheck("max", std::slice::from_ref(&distinct), |v| v[0].max(axis, false), 1e-3, 2e-3, 2e-3, seed)
            .map_err(TestCaseError::fail)?;
        check("flatten", &|v| v[0].flatten(0))?;
        check("reshape", &|v| v[0].reshape(&[v[0].numel()]))?;
        let len = shape[axis];
        let sizes = if len > 1 { vec![1, len - 1] } else { vec![1] };
        check("split", &|v| {
            let parts = v[0].split(axis, &sizes)?;
            // weight the parts differently so a mix-up shows
            let scaled: Vec<Tensor> = parts.iter().enumerate().map(|(i, p)| p.scale(i as f32 + 1.0)).collect();
            Tensor::concat(&scaled.iter().collect::<Vec<_>>(), axis)
        })?;
        check("concat", &|v| Tensor::concat(&[&v[0], &v[0].scale(2.0), &v[0]], axis))?;
    }

    #[test]
    fn matmul_gradients(m in 1..=5usize, k in 1..=5usize, n in 1..=5usize, seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let a = randn(&[m, k], &mut rng);
        let b = randn(&[k, n], &mut rng);
        gradcheck("matmul", &[a, b], |v| v[0].matmul(&v[1]), 1e-2, 2e-3, 2e-3, seed).map_err(TestCaseError::fail)?;
    }
}

/// Issue 22: layers of absurd width and ops with absurd outputs are errors naming the op,
/// the shape and the bytes, never an allocation failure.
#[test]
fn absurd_sizes_are_errors_not_aborts() {
    use splot::nn::{Conv2d, Linear};
    use splot::ops::conv::Conv2dConfig;
    use splot::Error;
    let mut rng = splot::Rng::seed(0);
    let too_large = |r: splot::Result<()>, op: &str| match r {
        Err(e @ Error::TooLarge { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(op) && msg.contains("would need"), "{msg}");
        }
        other => panic!("{op}: expected TooLarge, got {other:?}"),
    };
    too_large(
        Conv2d::new(3, 1 << 40, [3, 3], Conv2dConfig::new(), &mut rng).map(|_| ()),
        "Conv2d",
    );
    too_large(
        Linear::new(usize::MAX / 2, 3, &mut rng).map(|_| ()),
        "Linear",
    );
    let x = Tensor::zeros(&[1, 1, 4, 4]);
    too_large(
        x.pad2d(
            splot::Padding2d::same(100_000_000),
            splot::PaddingMode::Zeros,
        )
        .map(|_| ()),
        "pad2d",
    );
}
