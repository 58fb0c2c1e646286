//! LSTM and LSTMCell: hand-computed values, the fused op against a plain f64 reference
//! (every layout, direction and length pattern), finite-difference gradient checks with
//! respect to the input, the initial state and every weight, PyTorch fixtures (output,
//! h_n, c_n and all gradients, packed sequences of different lengths included), the
//! module's names and initialisation, dropout between layers, and errors.

use proptest::prelude::*;
use splot::nn::{self, LSTMCell, LstmConfig, LSTM};
use splot::ops::recurrent::{LstmLayout, LstmWeights};
use splot::testing::{assert_close, gradcheck};
use splot::{no_grad, Mode, Module, Rng, Tensor};
use std::collections::HashMap;
use std::path::Path;

fn t(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn close(what: &str, actual: &Tensor, expected: &[f32], tol: f32) {
    assert_close(what, &actual.to_vec(), expected, tol, tol).unwrap();
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `output`, `h_n` and `c_n` flattened into one vector (one loss for all three).
fn joined(out: &(Tensor, (Tensor, Tensor))) -> splot::Result<Tensor> {
    let (o, (h, c)) = out;
    Tensor::concat(&[&o.flatten(0)?, &h.flatten(0)?, &c.flatten(0)?], 0)
}

// ---------------------------------------------------------------- by hand

/// One unit, one feature: only the cell gate sees the input (`W_ih = [0, 0, 1, 0]ᵀ`),
/// `W_hh = 0`, no bias, zero state. Then `a = (0, 0, x, 0)`: `i = f = o = σ(0) = ½`,
/// `g = tanh x`, and `c_t = ½·c_{t−1} + ½·tanh x_t`, `h_t = ½·tanh c_t`.
#[test]
fn one_unit_by_hand() {
    let x = t(&[1.0, -2.0], &[2, 1, 1]).with_grad();
    let w_ih = t(&[0., 0., 1., 0.], &[4, 1]);
    let w_hh = Tensor::zeros(&[4, 1]);
    let zero = Tensor::zeros(&[1, 1]);
    let weights = LstmWeights {
        weight_ih: &w_ih,
        weight_hh: &w_hh,
        bias: None,
    };
    let (out, hn, cn) = x
        .lstm_layer((&zero, &zero), &weights, None, LstmLayout::default())
        .unwrap();
    // c1 = ½·tanh 1 = 0.380797, h1 = ½·tanh c1 = 0.181688
    // c2 = ½·c1 + ½·tanh(−2) = 0.190399 − 0.482014 = −0.291616, h2 = ½·tanh c2 = −0.141789
    let c1 = 0.5 * 1f64.tanh();
    let c2 = 0.5 * c1 + 0.5 * (-2f64).tanh();
    let (h1, h2) = (0.5 * c1.tanh(), 0.5 * c2.tanh());
    assert_eq!(out.shape(), &[2, 1, 1]);
    close("output", &out, &[h1 as f32, h2 as f32], 1e-6);
    close("h_n", &hn, &[h2 as f32], 1e-6);
    close("c_n", &cn, &[c2 as f32], 1e-6);
    // ∂h1/∂x1 = o·(1 − tanh² c1)·i·(1 − tanh² x1) = ¼·(1 − tanh² c1)·(1 − tanh² 1);
    // ∂h1/∂x2 = 0 (no later step feeds an earlier one).
    let grads = out.backward_with(&t(&[1.0, 0.0], &[2, 1, 1])).unwrap();
    let d = 0.25 * (1.0 - c1.tanh().powi(2)) * (1.0 - 1f64.tanh().powi(2));
    close("∂h1/∂x", grads.get(&x).unwrap(), &[d as f32, 0.0], 1e-6);
}

/// With all weights zero and biases `b_ih = (1, 2, 3, 4)`, `b_hh = (1, 0, −1, 0)`, the
/// pre-activations are `a = (2, 2, 2, 4)` at every step whatever the input:
/// `c_t = σ(2)·c_{t−1} + σ(2)·tanh 2`, `h_t = σ(4)·tanh c_t`.
#[test]
fn biases_alone_by_hand() {
    let x = Tensor::ones(&[3, 1, 2]);
    let (w_ih, w_hh) = (Tensor::zeros(&[4, 2]), Tensor::zeros(&[4, 1]));
    let (b_ih, b_hh) = (t(&[1., 2., 3., 4.], &[4]), t(&[1., 0., -1., 0.], &[4]));
    let c0 = t(&[0.5], &[1, 1]);
    let weights = LstmWeights {
        weight_ih: &w_ih,
        weight_hh: &w_hh,
        bias: Some((&b_ih, &b_hh)),
    };
    let (out, _, cn) = x
        .lstm_layer(
            (&Tensor::zeros(&[1, 1]), &c0),
            &weights,
            None,
            LstmLayout::default(),
        )
        .unwrap();
    let (s2, s4, g) = (sigmoid(2.0), sigmoid(4.0), 2f64.tanh());
    let mut c = 0.5;
    let mut want = vec![];
    for _ in 0..3 {
        c = s2 * c + s2 * g;
        want.push((s4 * c.tanh()) as f32);
    }
    close("output", &out, &want, 1e-6);
    close("c_n", &cn, &[c as f32], 1e-6);
}

#[test]
fn lengths_zero_the_padding_and_stop_the_state() {
    let mut rng = Rng::seed(5);
    for batch_first in [false, true] {
        let cfg = LstmConfig::new(3, 4)
            .bidirectional(true)
            .batch_first(batch_first);
        let lstm = LSTM::new(cfg, &mut rng).unwrap();
        let shape = if batch_first { [2, 5, 3] } else { [5, 2, 3] };
        let x = Tensor::randn(&shape, 0.0, 1.0, &mut rng);
        let lengths = [2, 5];
        let (out, (hn, cn)) = lstm
            .forward_seq(&x, None, Some(&lengths), Mode::Eval)
            .unwrap();
        let at = |tt: usize, n: usize, k: usize| {
            let idx = if batch_first { [n, tt, k] } else { [tt, n, k] };
            out.at(&idx).unwrap()
        };
        for tt in 2..5 {
            for k in 0..8 {
                assert_eq!(at(tt, 0, k), 0.0, "padding of sequence 0 at t={tt}");
            }
        }
        for (n, &len) in lengths.iter().enumerate() {
            for k in 0..4 {
                // forward direction: h_n is the output at the last valid time
                assert_eq!(hn.at(&[0, n, k]).unwrap(), at(len - 1, n, k));
                // reverse direction: its last step is time 0
                assert_eq!(hn.at(&[1, n, k]).unwrap(), at(0, n, 4 + k));
            }
        }
        // Sequence 0 alone, cut to its length, gives the same values.
        let x0: Vec<f32> = (0..2)
            .flat_map(|tt| (0..3).map(move |k| (tt, k)))
            .map(|(tt, k)| {
                let idx = if batch_first { [0, tt, k] } else { [tt, 0, k] };
                x.at(&idx).unwrap()
            })
            .collect();
        let x0 = t(&x0, if batch_first { &[1, 2, 3] } else { &[2, 1, 3] });
        let (out0, (hn0, cn0)) = lstm.forward_seq(&x0, None, None, Mode::Eval).unwrap();
        let mut want = vec![];
        for tt in 0..2 {
            for k in 0..8 {
                want.push(at(tt, 0, k));
            }
        }
        close("sequence 0 alone", &out0, &want, 1e-6);
        for d in 0..2 {
            for k in 0..4 {
                let (h, c) = (hn0.at(&[d, 0, k]).unwrap(), cn0.at(&[d, 0, k]).unwrap());
                assert!((h - hn.at(&[d, 0, k]).unwrap()).abs() < 1e-6);
                assert!((c - cn.at(&[d, 0, k]).unwrap()).abs() < 1e-6);
            }
        }
    }
}

// ---------------------------------------------------------------- reference

/// The plain recurrence in f64, one step and sequence at a time: `(output, h_n, c_n)`.
#[allow(clippy::too_many_arguments)]
fn reference_layer(
    x: &[f32],
    (t_len, n, i, h): (usize, usize, usize, usize),
    h0: &[f32],
    c0: &[f32],
    w_ih: &[f32],
    w_hh: &[f32],
    bias: Option<(&[f32], &[f32])>,
    lens: &[usize],
    layout: LstmLayout,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let row = |tt: usize, s: usize| {
        if layout.batch_first {
            s * t_len + tt
        } else {
            tt * n + s
        }
    };
    let mut out = vec![0.0f32; t_len * n * h];
    let (mut hn, mut cn) = (vec![0.0f32; n * h], vec![0.0f32; n * h]);
    for s in 0..n {
        let mut hv: Vec<f64> = h0[s * h..(s + 1) * h].iter().map(|&v| v as f64).collect();
        let mut cv: Vec<f64> = c0[s * h..(s + 1) * h].iter().map(|&v| v as f64).collect();
        for step in 0..lens[s] {
            let tt = if layout.reverse {
                lens[s] - 1 - step
            } else {
                step
            };
            let xr = &x[row(tt, s) * i..][..i];
            let a: Vec<f64> = (0..4 * h)
                .map(|q| {
                    let mut v = (0..i)
                        .map(|k| w_ih[q * i + k] as f64 * xr[k] as f64)
                        .sum::<f64>()
                        + (0..h).map(|k| w_hh[q * h + k] as f64 * hv[k]).sum::<f64>();
                    if let Some((bi, bh)) = bias {
                        v += bi[q] as f64 + bh[q] as f64;
                    }
                    v
                })
                .collect();
            for j in 0..h {
                let (ig, fg) = (sigmoid(a[j]), sigmoid(a[h + j]));
                let (gg, og) = (a[2 * h + j].tanh(), sigmoid(a[3 * h + j]));
                cv[j] = fg * cv[j] + ig * gg;
                hv[j] = og * cv[j].tanh();
                out[row(tt, s) * h + j] = hv[j] as f32;
            }
        }
        for j in 0..h {
            hn[s * h + j] = hv[j] as f32;
            cn[s * h + j] = cv[j] as f32;
        }
    }
    (out, hn, cn)
}

/// Random lengths in `1..=t` (or none).
fn random_lengths(with: bool, t_len: usize, n: usize, rng: &mut Rng) -> Option<Vec<usize>> {
    with.then(|| (0..n).map(|_| 1 + rng.below(t_len)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fused_layer_equals_the_reference(
        (t_len, n, i, h) in (1..=6usize, 1..=5usize, 1..=7usize, 1..=9usize),
        (batch_first, reverse, bias, lengths) in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let xs = if batch_first { [n, t_len, i] } else { [t_len, n, i] };
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng);
        let h0 = Tensor::randn(&[n, h], 0.0, 0.5, &mut rng);
        let c0 = Tensor::randn(&[n, h], 0.0, 0.5, &mut rng);
        let w_ih = Tensor::randn(&[4 * h, i], 0.0, 0.5, &mut rng);
        let w_hh = Tensor::randn(&[4 * h, h], 0.0, 0.5, &mut rng);
        let b_ih = Tensor::randn(&[4 * h], 0.0, 0.5, &mut rng);
        let b_hh = Tensor::randn(&[4 * h], 0.0, 0.5, &mut rng);
        let lens = random_lengths(lengths, t_len, n, &mut rng);
        let layout = LstmLayout { batch_first, reverse };
        let weights = LstmWeights {
            weight_ih: &w_ih,
            weight_hh: &w_hh,
            bias: bias.then_some((&b_ih, &b_hh)),
        };
        let (out, hn, cn) = x.lstm_layer((&h0, &c0), &weights, lens.as_deref(), layout).unwrap();
        let all = vec![t_len; n];
        let (bi, bh) = (b_ih.to_vec(), b_hh.to_vec());
        let (ro, rh, rc) = reference_layer(
            &x.to_vec(), (t_len, n, i, h), &h0.to_vec(), &c0.to_vec(), &w_ih.to_vec(),
            &w_hh.to_vec(), bias.then_some((bi.as_slice(), bh.as_slice())),
            lens.as_deref().unwrap_or(&all), layout,
        );
        prop_assert_eq!(out.shape(), &[xs[0], xs[1], h]);
        assert_close("output", &out.to_vec(), &ro, 2e-6, 2e-5).unwrap();
        assert_close("h_n", &hn.to_vec(), &rh, 2e-6, 2e-5).unwrap();
        assert_close("c_n", &cn.to_vec(), &rc, 2e-6, 2e-5).unwrap();
        // The same without a graph.
        let plain = no_grad(|| x.lstm_layer((&h0, &c0), &weights, lens.as_deref(), layout)).unwrap();
        prop_assert_eq!(plain.0.to_vec(), out.to_vec());
    }
}

// ---------------------------------------------------------------- gradient checks

/// An LSTM problem that is legal by construction.
#[derive(Clone, Debug)]
struct LstmCase {
    t: usize,
    n: usize,
    i: usize,
    h: usize,
    layers: usize,
    batch_first: bool,
    bidirectional: bool,
    bias: bool,
    state: bool,
    lengths: bool,
}

fn lstm_case() -> impl Strategy<Value = LstmCase> {
    (
        (1..=4usize, 1..=3usize, 1..=3usize, 1..=3usize, 1..=2usize),
        proptest::array::uniform5(any::<bool>()),
    )
        .prop_map(
            |((t, n, i, h, layers), [bf, bidir, bias, state, lengths])| LstmCase {
                t,
                n,
                i,
                h,
                layers,
                batch_first: bf,
                bidirectional: bidir,
                bias,
                state,
                lengths,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// ∂(output, h_n, c_n) with respect to the input, the initial state and every weight.
    #[test]
    fn lstm_gradients_match_finite_differences(case in lstm_case(), seed in any::<u64>()) {
        let mut rng = Rng::seed(seed);
        let cfg = LstmConfig::new(case.i, case.h)
            .num_layers(case.layers)
            .batch_first(case.batch_first)
            .bidirectional(case.bidirectional)
            .bias(case.bias);
        let lstm = LSTM::new(cfg, &mut rng).unwrap();
        let xs = if case.batch_first { [case.n, case.t, case.i] } else { [case.t, case.n, case.i] };
        let states = case.layers * cfg.directions();
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng).with_grad();
        let h0 = Tensor::randn(&[states, case.n, case.h], 0.0, 0.5, &mut rng);
        let c0 = Tensor::randn(&[states, case.n, case.h], 0.0, 0.5, &mut rng);
        if case.state {
            h0.set_requires_grad(true);
            c0.set_requires_grad(true);
        }
        let lens = random_lengths(case.lengths, case.t, case.n, &mut rng);
        let mut inputs = vec![x, h0, c0];
        inputs.extend(nn::parameters(&lstm).into_iter().map(|p| p.tensor));
        let f = |v: &[Tensor]| {
            let state = case.state.then_some((&v[1], &v[2]));
            joined(&lstm.forward_seq(&v[0], state, lens.as_deref(), Mode::Eval)?)
        };
        gradcheck(&format!("lstm {case:?} {lens:?}"), &inputs, f, 1e-2, 3e-3, 3e-3, seed ^ 7)
            .unwrap();
    }

    #[test]
    fn cell_gradients_match_finite_differences(
        (n, i, h) in (1..=3usize, 1..=4usize, 1..=4usize),
        (bias, state) in (any::<bool>(), any::<bool>()),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::seed(seed);
        let cell = LSTMCell::new(i, h, bias, &mut rng).unwrap();
        let x = Tensor::randn(&[n, i], 0.0, 1.0, &mut rng).with_grad();
        let h0 = Tensor::randn(&[n, h], 0.0, 0.5, &mut rng).with_grad();
        let c0 = Tensor::randn(&[n, h], 0.0, 0.5, &mut rng).with_grad();
        let mut inputs = vec![x, h0, c0];
        inputs.extend(nn::parameters(&cell).into_iter().map(|p| p.tensor));
        // Two steps, so that the state's gradient also flows through a step.
        let f = |v: &[Tensor]| {
            let s0 = state.then_some((&v[1], &v[2]));
            let (h1, c1) = cell.step(&v[0], s0)?;
            let (h2, c2) = cell.step(&v[0], Some((&h1, &c1)))?;
            Tensor::concat(&[&h1, &h2, &c2], 1)
        };
        gradcheck("cell", &inputs, f, 1e-2, 3e-3, 3e-3, seed ^ 3).unwrap();
    }
}

// ---------------------------------------------------------------- PyTorch fixtures

struct Fixture {
    tensors: HashMap<String, Tensor>,
    meta: HashMap<String, String>,
}

impl Fixture {
    fn load(name: &str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recurrent")
            .join(format!("{name}.safetensors"));
        let (tensors, meta) = splot::io::safetensors::load(&path).unwrap();
        Fixture {
            tensors: tensors.into_iter().collect(),
            meta: meta.into_iter().collect(),
        }
    }
    fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture lacks {name}"))
    }
    fn num(&self, key: &str) -> usize {
        self.meta[key].parse().unwrap()
    }
    fn flag(&self, key: &str) -> bool {
        self.num(key) == 1
    }
    /// Copies the module's parameters from the fixture, by their `state_dict` names.
    fn load_into(&self, module: &dyn Module) {
        for p in nn::parameters(module) {
            let src = self.get(&p.name);
            assert_eq!(src.shape(), p.tensor.shape(), "{}", p.name);
            p.tensor.data_mut().copy_from_slice(&src.data());
        }
    }
    fn check(&self, case: &str, what: &str, actual: &Tensor) {
        let want = self.get(what);
        assert_eq!(actual.shape(), want.shape(), "{case}: {what}");
        assert_close(
            &format!("{case}: {what}"),
            &actual.to_vec(),
            &want.to_vec(),
            2e-5,
            1e-4,
        )
        .unwrap();
    }
}

#[test]
fn lstm_equals_pytorch() {
    let cases = [
        "lstm_1layer",
        "lstm_2layers_batch_first_state_lengths",
        "lstm_2layers_bidirectional_lengths",
        "lstm_no_bias_batch_first",
        "lstm_bidirectional_short",
    ];
    for case in cases {
        let fx = Fixture::load(case);
        let cfg = LstmConfig::new(fx.num("input_size"), fx.num("hidden_size"))
            .num_layers(fx.num("num_layers"))
            .bias(fx.flag("bias"))
            .batch_first(fx.flag("batch_first"))
            .bidirectional(fx.flag("bidirectional"));
        let lstm = LSTM::new(cfg, &mut Rng::seed(0)).unwrap();
        fx.load_into(&lstm);
        let x = fx.get("x").detach().with_grad();
        let state = fx.tensors.contains_key("h0").then(|| {
            (
                fx.get("h0").detach().with_grad(),
                fx.get("c0").detach().with_grad(),
            )
        });
        let lengths: Option<Vec<usize>> = fx
            .tensors
            .get("lengths")
            .map(|l| l.to_vec().iter().map(|&v| v as usize).collect());
        let result = lstm
            .forward_seq(
                &x,
                state.as_ref().map(|(h, c)| (h, c)),
                lengths.as_deref(),
                Mode::Train,
            )
            .unwrap();
        fx.check(case, "out", &result.0);
        fx.check(case, "h_n", &result.1 .0);
        fx.check(case, "c_n", &result.1 .1);
        let upstream = Tensor::concat(
            &[
                &fx.get("g_out").flatten(0).unwrap(),
                &fx.get("g_h").flatten(0).unwrap(),
                &fx.get("g_c").flatten(0).unwrap(),
            ],
            0,
        )
        .unwrap();
        let grads = joined(&result).unwrap().backward_with(&upstream).unwrap();
        fx.check(case, "grad.x", grads.get(&x).unwrap());
        if let Some((h0, c0)) = &state {
            fx.check(case, "grad.h0", grads.get(h0).unwrap());
            fx.check(case, "grad.c0", grads.get(c0).unwrap());
        }
        for p in nn::parameters(&lstm) {
            fx.check(
                case,
                &format!("grad.{}", p.name),
                grads.get(&p.tensor).unwrap(),
            );
        }
    }
}

#[test]
fn lstm_cell_equals_pytorch() {
    for case in ["cell", "cell_no_bias_zero_state"] {
        let fx = Fixture::load(case);
        let (i, h) = (fx.num("input_size"), fx.num("hidden_size"));
        let cell = LSTMCell::new(i, h, fx.flag("bias"), &mut Rng::seed(0)).unwrap();
        fx.load_into(&cell);
        let x = fx.get("x").detach().with_grad();
        let state = fx.tensors.contains_key("h0").then(|| {
            (
                fx.get("h0").detach().with_grad(),
                fx.get("c0").detach().with_grad(),
            )
        });
        let (h1, c1) = cell.step(&x, state.as_ref().map(|(h, c)| (h, c))).unwrap();
        fx.check(case, "h_n", &h1);
        fx.check(case, "c_n", &c1);
        let out = Tensor::concat(&[&h1, &c1], 1).unwrap();
        let upstream = Tensor::concat(&[fx.get("g_h"), fx.get("g_c")], 1).unwrap();
        let grads = out.backward_with(&upstream).unwrap();
        fx.check(case, "grad.x", grads.get(&x).unwrap());
        if let Some((h0, c0)) = &state {
            fx.check(case, "grad.h0", grads.get(h0).unwrap());
            fx.check(case, "grad.c0", grads.get(c0).unwrap());
        }
        for p in nn::parameters(&cell) {
            fx.check(
                case,
                &format!("grad.{}", p.name),
                grads.get(&p.tensor).unwrap(),
            );
        }
    }
}

// ---------------------------------------------------------------- the module

#[test]
fn parameters_are_named_shaped_and_initialised_as_pytorch() {
    let mut rng = Rng::seed(1);
    let cfg = LstmConfig::new(10, 20).num_layers(2).bidirectional(true);
    let lstm = LSTM::new(cfg, &mut rng).unwrap();
    let names: Vec<(String, Vec<usize>)> = nn::parameters(&lstm)
        .into_iter()
        .map(|p| (p.name, p.tensor.shape().to_vec()))
        .collect();
    let want = |s: &str, shape: &[usize]| (s.to_string(), shape.to_vec());
    assert_eq!(
        names,
        vec![
            want("weight_ih_l0", &[80, 10]),
            want("weight_hh_l0", &[80, 20]),
            want("bias_ih_l0", &[80]),
            want("bias_hh_l0", &[80]),
            want("weight_ih_l0_reverse", &[80, 10]),
            want("weight_hh_l0_reverse", &[80, 20]),
            want("bias_ih_l0_reverse", &[80]),
            want("bias_hh_l0_reverse", &[80]),
            want("weight_ih_l1", &[80, 40]),
            want("weight_hh_l1", &[80, 20]),
            want("bias_ih_l1", &[80]),
            want("bias_hh_l1", &[80]),
            want("weight_ih_l1_reverse", &[80, 40]),
            want("weight_hh_l1_reverse", &[80, 20]),
            want("bias_ih_l1_reverse", &[80]),
            want("bias_hh_l1_reverse", &[80]),
        ]
    );
    // torch.nn.LSTM(10, 20, 2, bidirectional=True): 2·(4·20·(10 + 20) + 8·20)
    // + 2·(4·20·(40 + 20) + 8·20) = 5120 + 9920 = 15040.
    assert_eq!(nn::num_parameters(&lstm), 15040);
    let bound = 1.0 / 20f32.sqrt();
    for p in nn::parameters(&lstm) {
        let v = p.tensor.to_vec();
        assert!(v.iter().all(|x| x.abs() <= bound), "{}", p.name);
        let spread = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(spread > 0.8 * bound, "{} spans U(−b, b)", p.name);
    }
    let cell = LSTMCell::new(3, 5, false, &mut rng).unwrap();
    let names: Vec<String> = nn::parameters(&cell).into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["weight_ih", "weight_hh"]);
    let cell = LSTMCell::new(3, 5, true, &mut rng).unwrap();
    let names: Vec<String> = nn::parameters(&cell).into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
}

#[test]
fn dropout_acts_between_layers_in_training_only() {
    let mut rng = Rng::seed(2);
    let x = Tensor::randn(&[4, 3, 5], 0.0, 1.0, &mut rng);
    let run = |lstm: &LSTM, mode| lstm.forward_seq(&x, None, None, mode).unwrap();
    let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    // Two layers with dropout: training differs from evaluation, evaluation is repeatable.
    let lstm = LSTM::new(LstmConfig::new(5, 6).num_layers(2).dropout(0.5), &mut rng).unwrap();
    let (eval1, eval2) = (run(&lstm, Mode::Eval), run(&lstm, Mode::Eval));
    assert_eq!(bits(&eval1.0), bits(&eval2.0));
    assert_ne!(bits(&run(&lstm, Mode::Train).0), bits(&eval1.0));
    // The same seed gives the same masks.
    lstm.reseed(9);
    let a = run(&lstm, Mode::Train);
    lstm.reseed(9);
    assert_eq!(bits(&run(&lstm, Mode::Train).0), bits(&a.0));
    // Dropout 1 zeroes the second layer's input: its output is that of a zero sequence,
    // while the first layer's final state is untouched.
    let lstm = LSTM::new(LstmConfig::new(5, 6).num_layers(2).dropout(1.0), &mut rng).unwrap();
    let train = run(&lstm, Mode::Train);
    let eval = run(&lstm, Mode::Eval);
    let h_first = |r: &(Tensor, (Tensor, Tensor))| r.1 .0.to_vec()[..18].to_vec();
    assert_eq!(h_first(&train), h_first(&eval));
    let p = lstm.params(1, false).unwrap();
    let weights = LstmWeights {
        weight_ih: &p.weight_ih,
        weight_hh: &p.weight_hh,
        bias: p.bias.as_ref().map(|(a, b)| (a, b)),
    };
    let zero = Tensor::zeros(&[3, 6]);
    let (want, _, _) = Tensor::zeros(&[4, 3, 6])
        .lstm_layer((&zero, &zero), &weights, None, LstmLayout::default())
        .unwrap();
    close("second layer on zeros", &train.0, &want.to_vec(), 1e-6);
    // One layer: nothing is dropped, training equals evaluation.
    let lstm = LSTM::new(LstmConfig::new(5, 6).dropout(0.9), &mut rng).unwrap();
    assert_eq!(
        bits(&run(&lstm, Mode::Train).0),
        bits(&run(&lstm, Mode::Eval).0)
    );
}

#[test]
fn module_forward_is_the_output_from_a_zero_state() {
    let mut rng = Rng::seed(3);
    let lstm = LSTM::new(LstmConfig::new(2, 3).batch_first(true), &mut rng).unwrap();
    let x = Tensor::randn(&[2, 4, 2], 0.0, 1.0, &mut rng);
    let y = lstm.forward(&x, Mode::Eval).unwrap();
    let zeros = Tensor::zeros(&[1, 2, 3]);
    let (z, _) = lstm
        .forward_seq(&x, Some((&zeros, &zeros)), None, Mode::Eval)
        .unwrap();
    assert_eq!(y.shape(), &[2, 4, 3]);
    assert_eq!(y.to_vec(), z.to_vec());
    assert_eq!(lstm.kind(), "LSTM");
    // The cell's steps equal the layer's, step by step.
    let cell = LSTMCell::new(2, 3, true, &mut rng).unwrap();
    let layer = LSTM::new(LstmConfig::new(2, 3), &mut rng).unwrap();
    for (c, l) in nn::parameters(&cell).iter().zip(nn::parameters(&layer)) {
        l.tensor.data_mut().copy_from_slice(&c.tensor.data());
    }
    let seq = Tensor::randn(&[3, 2, 2], 0.0, 1.0, &mut rng);
    let (out, (hn, cn)) = layer.forward_seq(&seq, None, None, Mode::Eval).unwrap();
    let steps = seq.split(0, &[1, 1, 1]).unwrap();
    let mut state: Option<(Tensor, Tensor)> = None;
    let mut hs = vec![];
    for s in &steps {
        let next = cell
            .step(
                &s.reshape(&[2, 2]).unwrap(),
                state.as_ref().map(|(h, c)| (h, c)),
            )
            .unwrap();
        hs.extend(next.0.to_vec());
        state = Some(next);
    }
    close("cell steps", &out, &hs, 1e-6);
    let (h, c) = state.unwrap();
    close("h", &hn, &h.to_vec(), 1e-6);
    close("c", &cn, &c.to_vec(), 1e-6);
}

// ---------------------------------------------------------------- errors

fn err<T>(r: splot::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn impossible_configurations_are_errors() {
    let mut rng = Rng::seed(4);
    for (cfg, word) in [
        (LstmConfig::new(0, 3), "input size 0"),
        (LstmConfig::new(3, 0), "hidden size 0"),
        (LstmConfig::new(3, 3).num_layers(0), "num_layers"),
        (LstmConfig::new(3, 3).dropout(1.5), "dropout 1.5"),
        (LstmConfig::new(3, 3).dropout(f32::NAN), "dropout NaN"),
    ] {
        let e = err(LSTM::new(cfg, &mut rng));
        assert!(e.contains("LSTM") && e.contains(word), "{e}");
    }
    assert!(err(LSTMCell::new(0, 2, true, &mut rng)).contains("LSTMCell"));

    let lstm = LSTM::new(LstmConfig::new(3, 4).num_layers(2), &mut rng).unwrap();
    let x = Tensor::zeros(&[5, 2, 3]);
    let run = |x: &Tensor, state: Option<(&Tensor, &Tensor)>, lengths: Option<&[usize]>| {
        err(lstm.forward_seq(x, state, lengths, Mode::Eval))
    };
    // wrong input sizes
    let e = run(&Tensor::zeros(&[5, 2, 4]), None, None);
    assert!(
        e.contains("LSTM") && e.contains("I = 3") && e.contains("[5, 2, 4]"),
        "{e}"
    );
    let e = run(&Tensor::zeros(&[5, 3]), None, None);
    assert!(e.contains("[5, 3]"), "{e}");
    let e = run(&Tensor::zeros(&[0, 2, 3]), None, None);
    assert!(e.contains("lstm") && e.contains("empty"), "{e}");
    // lengths longer than T, zero, or not one per sequence
    for lengths in [&[6usize, 1][..], &[0, 5], &[5], &[1, 2, 3]] {
        let e = run(&x, None, Some(lengths));
        assert!(e.contains("lengths") && e.contains("1..=5"), "{e}");
    }
    // bad state shapes
    let good = Tensor::zeros(&[2, 2, 4]);
    for bad in [&[1usize, 2, 4][..], &[2, 3, 4], &[2, 2, 5], &[2, 8]] {
        let bad = Tensor::zeros(bad);
        let e = run(&x, Some((&bad, &good)), None);
        assert!(e.contains("h0") && e.contains("[2, 2, 4]"), "{e}");
        let e = run(&x, Some((&good, &bad)), None);
        assert!(e.contains("c0"), "{e}");
    }
    // the op's own checks
    let (w_ih, w_hh) = (Tensor::zeros(&[16, 3]), Tensor::zeros(&[16, 4]));
    let state = Tensor::zeros(&[2, 4]);
    let layer = |w_ih: &Tensor, w_hh: &Tensor, bias: Option<(&Tensor, &Tensor)>, h0: &Tensor| {
        let w = LstmWeights {
            weight_ih: w_ih,
            weight_hh: w_hh,
            bias,
        };
        err(x.lstm_layer((h0, &state), &w, None, LstmLayout::default()))
    };
    let e = layer(&Tensor::zeros(&[16, 2]), &w_hh, None, &state);
    assert!(e.contains("weight_ih") && e.contains("[16, 2]"), "{e}");
    let e = layer(&w_ih, &Tensor::zeros(&[12, 4]), None, &state);
    assert!(e.contains("weight_hh") && e.contains("[12, 4]"), "{e}");
    let b = Tensor::zeros(&[15]);
    let e = layer(&w_ih, &w_hh, Some((&b, &b)), &state);
    assert!(e.contains("biases") && e.contains("[15]"), "{e}");
    let e = layer(&w_ih, &w_hh, None, &Tensor::zeros(&[4, 2]));
    assert!(e.contains("h0") && e.contains("[4, 2]"), "{e}");
    // the cell
    let cell = LSTMCell::new(3, 4, true, &mut rng).unwrap();
    let e = err(cell.step(&Tensor::zeros(&[2, 5]), None));
    assert!(e.contains("LSTMCell") && e.contains("[2, 5]"), "{e}");
    let bad = Tensor::zeros(&[3, 4]);
    let e = err(cell.step(&Tensor::zeros(&[2, 3]), Some((&bad, &bad))));
    assert!(e.contains("LSTMCell") && e.contains("[3, 4]"), "{e}");
}
