//! Optimisers follow PyTorch's update rules exactly (values worked by hand).

use splot::nn::{NamedTensor, TensorKind};
use splot::optim::{Adam, AdamW, Optimizer, Schedule, Sgd};
use splot::Tensor;

/// Penalties and schedules.
#[path = "optim/penalty_schedule.rs"]
mod penalty_schedule;

fn named(name: &str, tensor: Tensor) -> NamedTensor {
    NamedTensor {
        name: name.into(),
        tensor,
        kind: TensorKind::Parameter,
    }
}

fn param(v: f32) -> NamedTensor {
    named("w", Tensor::full(&[1], v).with_grad())
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

/// Runs `steps` updates on L = 0.5·w² (gradient w); returns w after each.
fn run_quadratic(opt: &mut dyn Optimizer, p: &NamedTensor, steps: usize) -> Vec<f32> {
    (0..steps)
        .map(|_| {
            let grads = p.tensor.square().scale(0.5).sum_all().backward().unwrap();
            opt.step(&grads).unwrap();
            p.tensor.item().unwrap()
        })
        .collect()
}

#[test]
fn adam_two_steps_by_hand() {
    // L = 0.5·w², g = w, w0 = 1, lr 0.1, β = (0.9, 0.999), ε = 1e-8.
    // t=1: g = 1; m = 0.1; v = 0.001; m̂ = 0.1/0.1 = 1; v̂ = 0.001/0.001 = 1;
    //      w = 1 − 0.1·1/(1 + 1e-8) = 0.9
    // t=2: g = 0.9; m = 0.9·0.1 + 0.1·0.9 = 0.18; v = 0.999·0.001 + 0.001·0.81 = 0.001809;
    //      m̂ = 0.18/(1 − 0.81) = 0.947368; v̂ = 0.001809/(1 − 0.998001) = 0.904952;
    //      √v̂ = 0.951291; w = 0.9 − 0.1·0.947368/0.951291 = 0.9 − 0.0995877 = 0.8004123
    let p = param(1.0);
    let mut opt = Adam::new(vec![p.clone()]).lr(0.1).unwrap();
    close(&run_quadratic(&mut opt, &p, 2), &[0.9, 0.800_412_3]);
    assert_eq!(opt.learning_rate(), 0.1);
    // Defaults: lr 1e-3; the first Adam step moves by lr (m̂/√v̂ = g/|g| = 1).
    let p = param(1.0);
    close(
        &run_quadratic(&mut Adam::new(vec![p.clone()]), &p, 1),
        &[0.999],
    );
    // Validation.
    assert!(Adam::new(vec![]).lr(-1.0).is_err());
    assert!(Adam::new(vec![]).betas(0.9, 1.0).is_err());
    assert!(Adam::new(vec![]).betas(-0.1, 0.9).is_err());
    assert!(Adam::new(vec![]).eps(f32::NAN).is_err());
    assert!(Adam::new(vec![]).weight_decay(-0.1).is_err());
    assert!(AdamW::new(vec![]).weight_decay(f32::INFINITY).is_err());
    let msg = Adam::new(vec![]).betas(0.9, 1.5).err().unwrap().to_string();
    assert!(msg.contains("Adam") && msg.contains("beta2"), "{msg}");
}

#[test]
fn adamw_differs_from_adam_by_the_decoupled_decay() {
    // L = 0.5·w: g = 0.5 whatever w, so Adam's own update u is the same in both runs:
    // m̂ = 0.5 and v̂ = 0.25 at every step, u = 0.1·0.5/(0.5 + 1e-8) = 0.1.
    // Adam (λ = 0):   w = 1 − 0.1 = 0.9;  0.9 − 0.1 = 0.8
    // AdamW (λ = 0.1): w = 1·(1 − 0.1·0.1) − 0.1 = 0.89;  0.89·0.99 − 0.1 = 0.7811
    let (pa, pw) = (param(1.0), param(1.0));
    let mut adam = Adam::new(vec![pa.clone()]).lr(0.1).unwrap();
    let mut adamw = AdamW::new(vec![pw.clone()])
        .lr(0.1)
        .unwrap()
        .weight_decay(0.1)
        .unwrap();
    let a = run(&mut adam, &pa, 2);
    let w = run(&mut adamw, &pw, 2);
    close(&a, &[0.9, 0.8]);
    close(&w, &[0.89, 0.7811]);
    // Exactly the decay term: w_t = (1 − lr·λ)·w_{t−1} − (a_{t−1} − a_t).
    close(
        &[w[0], w[1]],
        &[0.99 - (1.0 - a[0]), 0.99 * w[0] - (a[0] - a[1])],
    );
    // AdamW's default λ = 0.01: w = 1·(1 − 0.1·0.01) − 0.1 = 0.899
    let p = param(1.0);
    close(
        &run(&mut AdamW::new(vec![p.clone()]).lr(0.1).unwrap(), &p, 1),
        &[0.899],
    );
    // Adam's coupled λ = 0.1 goes through the moments instead:
    // t=1: g = 0.5 + 0.1·1 = 0.6, first step moves by lr → w = 0.9
    // t=2: g = 0.5 + 0.1·0.9 = 0.59; m = 0.9·0.06 + 0.1·0.59 = 0.113; m̂ = 0.113/0.19 = 0.594737
    //      v = 0.999·0.00036 + 0.001·0.3481 = 0.00070774; v̂ = 0.00070774/0.001999 = 0.354047
    //      w = 0.9 − 0.1·0.594737/0.595019 = 0.9 − 0.0999526 = 0.8000474
    let p = param(1.0);
    let mut coupled = Adam::new(vec![p.clone()])
        .lr(0.1)
        .unwrap()
        .weight_decay(0.1)
        .unwrap();
    close(&run(&mut coupled, &p, 2), &[0.9, 0.800_047_4]);
}

#[test]
fn adam_minimises_a_quadratic() {
    // L = ‖A·w − b‖² with A invertible and b = A·w*, so the optimum is w* with L = 0.
    // A = [[2,1,0],[1,3,1],[0,1,4]], w* = [1, −2, 0.5], b = [2−2, 1−6+0.5, −2+2] = [0, −4.5, 0].
    let a = Tensor::from_vec(vec![2., 1., 0., 1., 3., 1., 0., 1., 4.], &[3, 3]).unwrap();
    let b = Tensor::from_vec(vec![0.0, -4.5, 0.0], &[3, 1]).unwrap();
    let w = Tensor::zeros(&[3, 1]).with_grad();
    let mut opt = Adam::new(vec![named("w", w.clone())]).lr(0.05).unwrap();
    let loss = |w: &Tensor| a.matmul(w).unwrap().sub(&b).unwrap().square().sum_all();
    let schedule = Schedule::Cosine {
        total: Some(1500),
        min_lr: 0.0,
    };
    for t in 0..1500 {
        opt.set_learning_rate(schedule.lr_at(0.05, t));
        let grads = loss(&w).backward().unwrap();
        opt.step(&grads).unwrap();
    }
    let final_loss = loss(&w).item().unwrap();
    assert!(final_loss < 1e-6, "loss {final_loss}, w = {:?}", w.to_vec());
    let got = w.to_vec();
    assert!(
        got.iter()
            .zip([1.0, -2.0, 0.5])
            .all(|(g, e)| (g - e).abs() < 1e-3),
        "{got:?}"
    );
}

/// fc.weight [2,2] and fc.bias [2] with fixed values.
fn linear_params(w: &[f32], b: &[f32]) -> Vec<NamedTensor> {
    vec![
        named(
            "fc.weight",
            Tensor::from_vec(w.to_vec(), &[2, 2]).unwrap().with_grad(),
        ),
        named(
            "fc.bias",
            Tensor::from_vec(b.to_vec(), &[2]).unwrap().with_grad(),
        ),
    ]
}

/// Steps on L = ‖W·x + b − y‖² + 0.01·‖W·W‖², whose gradients change every step.
fn linear_steps(opt: &mut dyn Optimizer, params: &[NamedTensor], steps: usize) {
    let x = Tensor::from_vec(vec![1.0, -2.0], &[2, 1]).unwrap();
    let y = Tensor::from_vec(vec![0.5, 3.0], &[2]).unwrap();
    for _ in 0..steps {
        let (w, b) = (&params[0].tensor, &params[1].tensor);
        let out = w.matmul(&x).unwrap().reshape(&[2]).unwrap().add(b).unwrap();
        let fit = out.sub(&y).unwrap().square().sum_all();
        let curvature = w.matmul(w).unwrap().square().sum_all().scale(0.01);
        let grads = fit.add(&curvature).unwrap().backward().unwrap();
        opt.step(&grads).unwrap();
    }
}

fn bits(params: &[NamedTensor]) -> Vec<u32> {
    params
        .iter()
        .flat_map(|p| p.tensor.to_vec())
        .map(f32::to_bits)
        .collect()
}

/// Run 3 steps, save the state, run 2 more; a fresh optimiser over copies of the
/// 3-step weights, loaded with the state, must reach the same weights bit for bit.
fn check_resume(make: impl Fn(Vec<NamedTensor>) -> Box<dyn Optimizer>, names: &[&str]) {
    let params = linear_params(&[0.3, -0.2, 0.1, 0.4], &[0.0, 0.1]);
    let mut opt = make(params.clone());
    linear_steps(opt.as_mut(), &params, 3);
    let state = opt.state();
    let got: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(got, names);
    assert_eq!(state[0].1.to_vec(), [3.0]);
    let saved: Vec<Vec<f32>> = params.iter().map(|p| p.tensor.to_vec()).collect();
    linear_steps(opt.as_mut(), &params, 2);

    let restored = linear_params(&saved[0], &saved[1]);
    let mut opt2 = make(restored.clone());
    opt2.load_state(&state).unwrap();
    linear_steps(opt2.as_mut(), &restored, 2);
    assert_eq!(bits(&restored), bits(&params));
    assert_eq!(opt2.state()[0].1.to_vec(), [5.0]);
}

#[test]
fn state_round_trip_is_bit_identical() {
    check_resume(
        |p| {
            Box::new(
                Sgd::new(p, 0.05)
                    .momentum(0.9)
                    .unwrap()
                    .nesterov(true)
                    .unwrap()
                    .weight_decay(0.01),
            )
        },
        &[
            "step",
            "fc.weight.momentum_buffer",
            "fc.bias.momentum_buffer",
        ],
    );
    check_resume(|p| Box::new(Sgd::new(p, 0.05)), &["step"]);
    let adam_names = [
        "step",
        "fc.weight.step",
        "fc.weight.exp_avg",
        "fc.weight.exp_avg_sq",
        "fc.bias.step",
        "fc.bias.exp_avg",
        "fc.bias.exp_avg_sq",
    ];
    check_resume(
        |p| Box::new(Adam::new(p).lr(0.05).unwrap().weight_decay(0.01).unwrap()),
        &adam_names,
    );
    check_resume(|p| Box::new(AdamW::new(p).lr(0.05).unwrap()), &adam_names);
}

#[test]
fn load_state_names_bad_entries_and_changes_nothing() {
    let params = linear_params(&[0.3, -0.2, 0.1, 0.4], &[0.0, 0.1]);
    let mut opt = Adam::new(params.clone());
    linear_steps(&mut opt, &params, 2);
    let state = opt.state();
    let mut fresh = Adam::new(params.clone());
    let fresh_state = fresh.state();
    let err =
        |fresh: &mut Adam, s: &[(String, Tensor)]| fresh.load_state(s).unwrap_err().to_string();

    let missing: Vec<_> = state
        .iter()
        .filter(|(n, _)| n != "fc.bias.exp_avg")
        .cloned()
        .collect();
    let msg = err(&mut fresh, &missing);
    assert!(msg.contains("missing entry 'fc.bias.exp_avg'"), "{msg}");

    let mut misshaped = state.clone();
    misshaped[5].1 = Tensor::zeros(&[3]);
    let msg = err(&mut fresh, &misshaped);
    assert!(
        msg.contains("'fc.bias.exp_avg'") && msg.contains("[3]") && msg.contains("[2]"),
        "{msg}"
    );

    let mut extra = state.clone();
    extra.push(("conv.weight.exp_avg".into(), Tensor::zeros(&[1])));
    let msg = err(&mut fresh, &extra);
    assert!(msg.contains("conv.weight.exp_avg"), "{msg}");

    let mut twice = state.clone();
    twice.push(state[1].clone());
    assert!(err(&mut fresh, &twice).contains("twice"));

    let mut bad_step = state.clone();
    bad_step[0].1 = Tensor::full(&[1], 2.5);
    assert!(err(&mut fresh, &bad_step).contains("not a step count"));

    // Nothing was changed by the failed loads.
    let now = fresh.state();
    assert!(now
        .iter()
        .zip(&fresh_state)
        .all(|(a, b)| a.0 == b.0 && a.1.to_vec() == b.1.to_vec()));

    // A state with momentum buffers does not fit an SGD without momentum.
    let mut with_momentum = Sgd::new(params.clone(), 0.1).momentum(0.9).unwrap();
    linear_steps(&mut with_momentum, &params, 1);
    let msg = Sgd::new(params.clone(), 0.1)
        .load_state(&with_momentum.state())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("fc.weight.momentum_buffer"), "{msg}");
}
