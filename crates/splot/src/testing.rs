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

/// FNV-1a, 64 bits.
pub fn fnv1a64(text: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in text.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// `splitmix64(fnv1a64(name) + i) >> 40` divided by 2²⁴: in `[0, 1)`.
fn uniform(base: u64, i: u64) -> f64 {
    let mut z = base.wrapping_add(i).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f64 / 16_777_216.0
}

/// The fixture scripts' `fill` (`scripts/zoo_fixtures.py`): every element of the tensor
/// `name` of `shape`, a deterministic formula of the name and the index, so that tests
/// compare whole networks with PyTorch without committing their weights:
/// `running_var` 0.5 + u, `running_mean` and biases 0.2·(u − ½), `num_batches_tracked` 0,
/// 1-d weights 0.8 + 0.4·u, other weights (2u − 1)·√(6/fan_in), anything else 2u − 1, with
/// `u = splitmix64(fnv1a64(name) + i) / 2⁶⁴` on 24 bits; in f64, rounded to f32 once.
pub fn fill(name: &str, shape: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0; shape.iter().product()];
    fill_into(name, shape, &mut out);
    out
}

/// [`fill`] written into `out`.
pub fn fill_into(name: &str, shape: &[usize], out: &mut [f32]) {
    let count = out.len();
    if name.ends_with("num_batches_tracked") {
        out.fill(0.0);
        return;
    }
    let base = fnv1a64(name);
    let value: Box<dyn Fn(f64) -> f64> = if name.ends_with("running_var") {
        Box::new(|u| 0.5 + u)
    } else if name.ends_with("running_mean") || name.ends_with("bias") {
        Box::new(|u| 0.2 * (u - 0.5))
    } else if name.ends_with("weight") && shape.len() == 1 {
        Box::new(|u| 0.8 + 0.4 * u)
    } else if name.ends_with("weight") {
        let bound = (6.0 / (count / shape[0]) as f64).sqrt();
        Box::new(move |u| (2.0 * u - 1.0) * bound)
    } else {
        Box::new(|u| 2.0 * u - 1.0)
    };
    for (i, v) in out.iter_mut().enumerate() {
        *v = value(uniform(base, i as u64)) as f32;
    }
}
