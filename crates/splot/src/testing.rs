//! Test helpers shared by every op's tests: one tolerance check that reports the worst
//! element, and a finite-difference gradient check against a random upstream gradient.

use crate::error::Result;
use crate::tensor::{Rng, Tensor};

/// Checks `|actual − expected| ≤ atol + rtol·|expected|` elementwise. On failure the message
/// names `what`, the worst index, both values and the difference.
pub fn assert_close(
    what: &str,
    actual: &[f32],
    expected: &[f32],
    atol: f32,
    rtol: f32,
) -> std::result::Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{what}: {} values, expected {}",
            actual.len(),
            expected.len()
        ));
    }
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let excess = (a - e).abs() - (atol + rtol * e.abs());
        let bad = excess > 0.0 || a.is_nan() != e.is_nan();
        if bad && worst.is_none_or(|(_, w)| excess > w || excess.is_nan()) {
            worst = Some((i, excess));
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _)) => Err(format!(
            "{what}: worst at index {i}: got {}, expected {}, difference {} (atol {atol}, rtol {rtol})",
            actual[i],
            expected[i],
            actual[i] - expected[i]
        )),
    }
}

/// Finite-difference gradient check of `f` at `inputs`.
///
/// With a random upstream gradient `r` (so that transposed indices cannot hide), the loss
/// is `L = Σ f(inputs)·r`. For every input that requires a gradient, the analytic
/// `∂L/∂input` from autograd is compared with the central difference
/// `(L(v + ε) − L(v − ε)) / 2ε` of each element, the losses summed in f64.
/// Tolerance: `atol + rtol·|numeric|`.
pub fn gradcheck(
    what: &str,
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    eps: f32,
    atol: f32,
    rtol: f32,
    seed: u64,
) -> std::result::Result<(), String> {
    let err = |e: crate::Error| format!("{what}: {e}");
    let out = f(inputs).map_err(err)?;
    let mut rng = Rng::seed(seed);
    let r = Tensor::randn(out.shape(), 0.0, 1.0, &mut rng);
    let grads = out.backward_with(&r).map_err(err)?;
    let rv: Vec<f64> = r.data().iter().map(|&v| v as f64).collect();
    let loss = |inputs: &[Tensor]| -> std::result::Result<f64, String> {
        let out = crate::no_grad(|| f(inputs)).map_err(err)?;
        let o = out.data();
        Ok(o.iter().zip(&rv).map(|(&a, &b)| a as f64 * b).sum())
    };
    for (k, input) in inputs.iter().enumerate() {
        if !input.requires_grad() {
            continue;
        }
        let analytic = match grads.get(input) {
            Some(g) => g.to_vec(),
            None => vec![0.0; input.numel()],
        };
        let mut numeric = vec![0.0f32; input.numel()];
        for (i, num) in numeric.iter_mut().enumerate() {
            let orig = input.data()[i];
            input.data_mut()[i] = orig + eps;
            let plus = loss(inputs)?;
            input.data_mut()[i] = orig - eps;
            let minus = loss(inputs)?;
            input.data_mut()[i] = orig;
            *num = ((plus - minus) / (2.0 * eps as f64)) as f32;
        }
        assert_close(
            &format!("{what}: gradient of input {k} {:?}", input.shape()),
            &analytic,
            &numeric,
            atol,
            rtol,
        )?;
    }
    Ok(())
}
