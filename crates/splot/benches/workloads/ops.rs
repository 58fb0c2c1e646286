//! The workloads of engine part 3's ops, each a name, the function that prepares its run,
//! and its floating-point operations per run (0 where products are not the work). Their
//! PyTorch twins, with the same names, are in `bench/torch_workloads.py` (`OPS`).

#![allow(unused_imports)]

use super::{forward_backward, Runner};
use splot::{Rng, Tensor};
use std::hint::black_box;

/// One entry: name, preparation, floating-point operations per run.
pub type OpWorkload = (&'static str, fn(&mut Rng) -> splot::Result<Runner>, f64);

/// Every op workload.
pub fn workloads() -> Vec<OpWorkload> {
    vec![
        // resampling
        // boxes
        // recurrent
        ("lstm_fwd_2x512_b64_t20", lstm_fwd, LSTM_FLOPS),
        ("lstm_fwdbwd_2x512_b64_t20", lstm_fwdbwd, 3.0 * LSTM_FLOPS),
    ]
}

// ---------------------------------------------------------------- recurrent

/// The LSTM workloads: 2 layers, input 512, hidden 512, batch 64, 20 steps, `[T, N, I]`.
const LSTM_SHAPE: (usize, usize, usize, usize, usize) = (2, 512, 512, 64, 20);

/// Forward floating-point operations: per layer `2·T·N·4H·(I + H)` (the input projection
/// and the recurrent products), the second layer's input being `H`.
const LSTM_FLOPS: f64 = {
    let (layers, i, h, n, t) = LSTM_SHAPE;
    let first = 2 * t * n * 4 * h * (i + h);
    let others = (layers - 1) * 2 * t * n * 4 * h * (h + h);
    (first + others) as f64
};

fn lstm_and_input(rng: &mut Rng) -> splot::Result<(splot::nn::LSTM, Tensor)> {
    let (layers, i, h, n, t) = LSTM_SHAPE;
    let cfg = splot::nn::LstmConfig::new(i, h).num_layers(layers);
    let lstm = splot::nn::LSTM::new(cfg, rng)?;
    let x = Tensor::randn(&[t, n, i], 0.0, 1.0, rng);
    Ok((lstm, x))
}

/// `lstm_fwd_*`: the output sequence in evaluation, no gradient tracking.
fn lstm_fwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (lstm, x) = lstm_and_input(rng)?;
    Ok(Box::new(move || {
        let y = splot::run_in_pool(|| {
            splot::no_grad(|| lstm.forward_seq(&x, None, None, splot::Mode::Eval))
        })?;
        black_box(y);
        Ok(())
    }))
}

/// `lstm_fwdbwd_*`: forward, then the gradients of the input and every weight from an
/// all-ones gradient of the output sequence.
fn lstm_fwdbwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (lstm, x) = lstm_and_input(rng)?;
    let x = x.with_grad();
    forward_backward(move || Ok(lstm.forward_seq(&x, None, None, splot::Mode::Train)?.0))
}
