//! Penalties and learning-rate schedules (values worked by hand).

use super::{close, named};
use splot::nn::{NamedTensor, TensorKind};
use splot::optim::{Penalty, PenaltyTarget, Schedule};
use splot::{Gradients, Tensor};

/// fc.weight [2,2] = [1, −2, 0, 0.5], fc.bias [2] = [1, −1], bn.weight [2] = [2, 3], and
/// gradients of Σ of all three: ones everywhere.
fn penalty_setup() -> (Vec<NamedTensor>, Gradients) {
    let t = |v: Vec<f32>, s: &[usize]| Tensor::from_vec(v, s).unwrap().with_grad();
    let params = vec![
        named("fc.weight", t(vec![1.0, -2.0, 0.0, 0.5], &[2, 2])),
        named("fc.bias", t(vec![1.0, -1.0], &[2])),
        named("bn.weight", t(vec![2.0, 3.0], &[2])),
    ];
    let loss = params
        .iter()
        .map(|p| p.tensor.sum_all())
        .reduce(|a, b| a.add(&b).unwrap())
        .unwrap();
    let grads = loss.backward().unwrap();
    (params, grads)
}

fn grad_of(grads: &Gradients, p: &NamedTensor) -> Vec<f32> {
    grads.get(&p.tensor).unwrap().to_vec()
}

#[test]
fn penalty_gradients_touch_only_weights_by_default() {
    // fc.weight: Σ|w| = 1 + 2 + 0 + 0.5 = 3.5, Σw² = 1 + 4 + 0 + 0.25 = 5.25.
    let cases = [
        // L1(0.1): 1 + 0.1·sign(w) = [1.1, 0.9, 1 (sign 0 = 0), 1.1]; value 0.1·3.5
        (Penalty::L1(0.1), [1.1, 0.9, 1.0, 1.1], 0.35),
        // L2(0.1): 1 + 0.1·w = [1.1, 0.8, 1, 1.05]; value 0.1/2·5.25
        (Penalty::L2(0.1), [1.1, 0.8, 1.0, 1.05], 0.2625),
        // elastic (0.1, 0.2): 1 + 0.1·sign(w) + 0.4·w = [1.5, 0.1, 1, 1.3];
        // value 0.1·3.5 + 0.2·5.25 = 0.35 + 1.05
        (
            Penalty::ElasticNet { l1: 0.1, l2: 0.2 },
            [1.5, 0.1, 1.0, 1.3],
            1.4,
        ),
    ];
    for (penalty, expected, value) in cases {
        let (params, mut grads) = penalty_setup();
        penalty.apply(&params, &mut grads).unwrap();
        close(&grad_of(&grads, &params[0]), &expected);
        // Bias and the 1-d batch-norm weight are untouched.
        close(&grad_of(&grads, &params[1]), &[1.0, 1.0]);
        close(&grad_of(&grads, &params[2]), &[1.0, 1.0]);
        close(&[penalty.value(&params)], &[value]);
    }
}

#[test]
fn penalty_on_all_parameters_and_skipping_missing_gradients() {
    // All: bias and bn.weight too. L2(0.1): bias 1 + 0.1·[1, −1] = [1.1, 0.9],
    // bn.weight 1 + 0.1·[2, 3] = [1.2, 1.3].
    // Value: Σw² = 5.25 + 2 + 13 = 20.25 → 0.05·20.25 = 1.0125.
    let (params, mut grads) = penalty_setup();
    let l2 = Penalty::L2(0.1);
    l2.apply_with(&params, &mut grads, PenaltyTarget::All)
        .unwrap();
    close(&grad_of(&grads, &params[0]), &[1.1, 0.8, 1.0, 1.05]);
    close(&grad_of(&grads, &params[1]), &[1.1, 0.9]);
    close(&grad_of(&grads, &params[2]), &[1.2, 1.3]);
    close(&[l2.value_with(&params, PenaltyTarget::All)], &[1.0125]);
    // L1 on all: Σ|w| = 3.5 + 2 + 5 = 10.5 → 1.05.
    close(
        &[Penalty::L1(0.1).value_with(&params, PenaltyTarget::All)],
        &[1.05],
    );
    // A 2-d weight with no gradient (frozen) is skipped; buffers are never targeted.
    let frozen = named("frozen.weight", Tensor::ones(&[2, 2]));
    let buffer = NamedTensor {
        kind: TensorKind::Buffer,
        ..named("bn.running_weight", Tensor::ones(&[2, 2]))
    };
    assert!(PenaltyTarget::Weights.includes(&frozen));
    assert!(!PenaltyTarget::All.includes(&buffer));
    let (mut params, mut grads) = penalty_setup();
    params.push(frozen);
    params.push(buffer);
    l2.apply_with(&params, &mut grads, PenaltyTarget::All)
        .unwrap();
    assert_eq!(grads.len(), 3);
    // Negative coefficients are refused.
    assert!(Penalty::L1(-0.1).apply(&params, &mut grads).is_err());
}

#[test]
fn penalty_parses_and_prints() {
    for s in ["l1:0.0001", "l2:0.0005", "elastic:0.1:0.2"] {
        let p: Penalty = s.parse().unwrap();
        assert_eq!(p.to_string(), s);
    }
    assert_eq!("l2:5e-4".parse::<Penalty>().unwrap(), Penalty::L2(5e-4));
    for bad in ["l3:1", "l1", "l1:abc", "l1:-1", "elastic:1", "l2:1:2", ""] {
        let err = bad.parse::<Penalty>().unwrap_err().to_string();
        assert!(err.contains("penalty") && err.contains("expected"), "{err}");
    }
}

#[test]
fn schedules_by_hand() {
    let at =
        |s: &Schedule, ts: &[usize]| -> Vec<f32> { ts.iter().map(|&t| s.lr_at(0.1, t)).collect() };
    close(&at(&Schedule::Constant, &[0, 7, 100]), &[0.1, 0.1, 0.1]);
    // Step: 0.1·0.1^⌊t/10⌋ → t = 0, 9: 0.1; t = 10: 0.01; t = 25: 0.001.
    let step = Schedule::Step {
        step_size: 10,
        gamma: 0.1,
    };
    close(&at(&step, &[0, 9, 10, 25]), &[0.1, 0.1, 0.01, 0.001]);
    // Cosine T = 10, min 0.001: 0.001 + 0.099·(1 + cos(π·t/10))/2
    // t = 2: cos(0.2π) = 0.809017 → 0.001 + 0.099·0.9045085 = 0.0905463
    // t = 5: cos(π/2) = 0 → 0.001 + 0.0495 = 0.0505; t = 10: 0.001; t = 20: held at 0.001.
    let cosine = Schedule::Cosine {
        total: Some(10),
        min_lr: 0.001,
    };
    close(
        &at(&cosine, &[0, 2, 5, 10, 20]),
        &[0.1, 0.090_546_34, 0.0505, 0.001, 0.001],
    );
    // Warm-up 3 then cosine T = 4, min 0: 0.1·(t+1)/3 for t < 3, then 0.1·(1 + cos(π·(t−3)/4))/2:
    // t = 3: 0.1; t = 4: 0.05·(1 + cos(π/4)) = 0.0853553; t = 5: 0.05; t = 7, 9: 0.
    let warm = Schedule::Warmup {
        warmup: 3,
        then: Box::new(Schedule::Cosine {
            total: Some(4),
            min_lr: 0.0,
        }),
    };
    close(
        &at(&warm, &[0, 1, 2, 3, 4, 5, 7, 9]),
        &[0.1 / 3.0, 0.2 / 3.0, 0.1, 0.1, 0.085_355_34, 0.05, 0.0, 0.0],
    );
    // An unset cosine total: endless horizon, lr0 throughout; validate says so.
    let unset: Schedule = "cosine".parse().unwrap();
    close(&at(&unset, &[0, 50]), &[0.1, 0.1]);
    let msg = unset.validate().unwrap_err().to_string();
    assert!(msg.contains("with_total"), "{msg}");
    // with_total fills it; inside a warm-up the cosine gets the rest of the run.
    assert_eq!(
        unset.clone().with_total(10),
        Schedule::Cosine {
            total: Some(10),
            min_lr: 0.0
        }
    );
    let filled = "warmup:3+cosine".parse::<Schedule>().unwrap().with_total(7);
    assert_eq!(filled, warm);
    filled.validate().unwrap();
    assert_eq!(cosine.clone().with_total(99), cosine);
}

#[test]
fn schedule_strings_round_trip_and_errors() {
    for s in [
        "constant",
        "step:10:0.1",
        "cosine",
        "cosine:0.001",
        "cosine:0.001:50",
        "warmup:5",
        "warmup:2+cosine",
        "warmup:3+step:2:0.5",
    ] {
        let parsed: Schedule = s.parse().unwrap();
        assert_eq!(parsed.to_string(), s);
        assert_eq!(parsed.to_string().parse::<Schedule>().unwrap(), parsed);
    }
    assert_eq!(
        " step:30:0.1 ".parse::<Schedule>().unwrap(),
        Schedule::Step {
            step_size: 30,
            gamma: 0.1
        }
    );
    let with_total = "warmup:2+cosine"
        .parse::<Schedule>()
        .unwrap()
        .with_total(10);
    assert_eq!(with_total.to_string(), "warmup:2+cosine:0:8");
    let cases = [
        ("", "unknown schedule"),
        ("linear", "unknown schedule 'linear'"),
        ("step:10", "wrong number of values"),
        ("step:0:0.1", "step size '0'"),
        ("step:10:x", "gamma 'x'"),
        ("step:10:-1", "gamma '-1'"),
        ("cosine:1:2:3", "wrong number of values"),
        ("cosine:-1", "min_lr '-1'"),
        ("cosine:0:0", "total '0'"),
        ("warmup:0+cosine", "warm-up length must be ≥ 1"),
        ("warmup:x+cosine", "warm-up length 'x'"),
        ("warmup:2+bogus", "unknown schedule 'bogus'"),
    ];
    for (s, want) in cases {
        let msg = s.parse::<Schedule>().unwrap_err().to_string();
        assert!(msg.contains(want) && msg.contains("expected"), "{s}: {msg}");
    }
}
