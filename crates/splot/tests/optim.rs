//! Optimisers follow PyTorch's update rules exactly (values worked by hand).

use splot::nn::{NamedTensor, TensorKind};
use splot::optim::{Optimizer, Sgd};
use splot::Tensor;

fn param(v: f32) -> NamedTensor {
    NamedTensor {
        name: "w".into(),
        tensor: Tensor::full(&[1], v).with_grad(),
        kind: TensorKind::Parameter,
    }
}

/// Runs `steps` updates on L = 0.5·w (gradient 0.5 every step); returns w after each.
fn run(opt: &mut dyn Optimizer, p: &NamedTensor, steps: usize) -> Vec<f32> {
    (0..steps)
        .map(|_| {
            let grads = p.tensor.scale(0.5).sum_all().backward().unwrap();
            opt.step(&grads).unwrap();
            p.tensor.item().unwrap()
        })
        .collect()
}

fn close(a: &[f32], b: &[f32]) {
    assert!(
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6),
        "{a:?} vs {b:?}"
    );
}

#[test]
fn sgd_momentum_nesterov_and_weight_decay() {
    let p = param(1.0);
    close(
        &run(&mut Sgd::new(vec![p.clone()], 0.1), &p, 2),
        &[0.95, 0.9],
    );
    // momentum 0.9: v = 0.5 → w = 0.95; v = 0.95 → w = 0.855
    let p = param(1.0);
    close(
        &run(
            &mut Sgd::new(vec![p.clone()], 0.1).momentum(0.9).unwrap(),
            &p,
            2,
        ),
        &[0.95, 0.855],
    );
    // Nesterov: d = g + μ·v: 0.95 → w = 0.905; v = 0.95, d = 1.355 → w = 0.7695
    let p = param(1.0);
    let mut opt = Sgd::new(vec![p.clone()], 0.1)
        .momentum(0.9)
        .unwrap()
        .nesterov(true)
        .unwrap();
    close(&run(&mut opt, &p, 2), &[0.905, 0.7695]);
    // weight decay 0.1: d = 0.5 + 0.1·1 = 0.6 → w = 0.94
    let p = param(1.0);
    close(
        &run(&mut Sgd::new(vec![p.clone()], 0.1).weight_decay(0.1), &p, 1),
        &[0.94],
    );
    assert!(Sgd::new(vec![], 0.1).nesterov(true).is_err());
    assert!(Sgd::new(vec![], 0.1).momentum(1.5).is_err());
}
