//! L-BFGS, a port of PyTorch's `torch.optim.LBFGS` (itself after minFunc), with its
//! strong-Wolfe line search (`_strong_wolfe`, from lswolfe.lua) and cubic interpolation
//! (`_cubic_interpolate`, from polyinterp.lua).
//!
//! Legend: all parameters flattened into one vector `x` (in the order given), `g = ∇f(x)`,
//! `d` the search direction, `t` the step length, `s = t·d` and `y = g_new − g_old` the
//! pairs kept in the history (at most `history_size`), `ρ = 1/(yᵀs)`, `H₀ = (yᵀs)/(yᵀy)`
//! the scale of the initial inverse Hessian. One [`Lbfgs::step`] runs up to `max_iter`
//! iterations (and `max_eval` evaluations of the closure):
//!
//! 1. the direction: `d = −g` on the very first iteration, else the two-loop recursion
//!    `d = −H·g` over the history (a pair is stored only when `yᵀs > 10⁻¹⁰`);
//! 2. the step: `t = min(1, 1/‖g‖₁)·lr` on the very first iteration, else `t = lr`; then
//!    either `x += t·d` and one evaluation, or the strong-Wolfe line search (sufficient
//!    decrease `f(x + t·d) ≤ f + c₁·t·gᵀd`, curvature `|∇f(x + t·d)ᵀd| ≤ −c₂·gᵀd`,
//!    `c₁ = 10⁻⁴`, `c₂ = 0.9`);
//! 3. stop when `max|g| ≤ tolerance_grad`, `gᵀd > −tolerance_change`,
//!    `max|t·d| ≤ tolerance_change`, `|f − f_prev| < tolerance_change`, or the budgets
//!    run out.
//!
//! The state (`d`, `t`, the history, `H₀`, the previous gradient and loss, the iteration
//! and evaluation counts) carries over from one `step` call to the next, as in PyTorch.
//!
//! **Same numbers as PyTorch.** The vectors are f32 as PyTorch's are; the scalars keep
//! the type PyTorch gives them — a Python float (f64: losses, `lr`, the tolerances, steps
//! that come from bounds) or a 0-d float32 tensor (dot products, `ρ`, `H₀`, interpolated
//! steps) — and mixed arithmetic and comparisons happen in float32 as they do in PyTorch
//! ([`Num`]). `x += α·v` is one fused multiply-add per element, as PyTorch's CPU kernel;
//! dot products add the products in order. On the Rosenbrock function the iterates equal
//! PyTorch's (`tests/lbfgs.rs`).
//!
//! [`Lbfgs`] does not implement [`super::Optimizer`]: its step re-evaluates the loss and
//! gradients several times through a closure instead of applying one set of gradients,
//! and its state (a history of whole-parameter vectors) is not a per-parameter buffer.
//! It has the learning-rate accessors of the trait, so schedules still apply.

use crate::autograd::{GradModeGuard, Gradients};
use crate::error::{Error, Result};
use crate::nn::NamedTensor;
use std::cmp::Ordering;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The line search of [`Lbfgs`] (PyTorch's `line_search_fn`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSearch {
    /// A fixed step `t` (PyTorch's `None`).
    #[default]
    None,
    /// The strong-Wolfe line search (PyTorch's `"strong_wolfe"`).
    StrongWolfe,
}

/// A scalar as PyTorch's L-BFGS holds it: a Python float or a 0-d float32 tensor.
/// Arithmetic and comparisons of a float with a tensor cast the float to f32 and work in
/// f32 (PyTorch's type promotion of a Python scalar with a tensor); two floats stay f64.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    /// A Python float (or int).
    Py(f64),
    /// A 0-d float32 tensor.
    F32(f32),
}

impl Num {
    /// The value as an f64.
    fn value(self) -> f64 {
        match self {
            Num::Py(v) => v,
            Num::F32(v) => v as f64,
        }
    }

    /// The value as the f32 a kernel receives (an `alpha`, a factor).
    fn as_f32(self) -> f32 {
        match self {
            Num::Py(v) => v as f32,
            Num::F32(v) => v,
        }
    }

    /// `f(a, b)` in the common type: f64 for two floats, else f32.
    fn binary(self, other: Num, f64op: fn(f64, f64) -> f64, f32op: fn(f32, f32) -> f32) -> Num {
        match (self, other) {
            (Num::Py(a), Num::Py(b)) => Num::Py(f64op(a, b)),
            (a, b) => Num::F32(f32op(a.as_f32(), b.as_f32())),
        }
    }

    /// Comparison in the common type.
    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Py(a), Num::Py(b)) => a.partial_cmp(&b),
            (a, b) => a.as_f32().partial_cmp(&b.as_f32()),
        }
    }

    fn lt(self, other: Num) -> bool {
        self.compare(other) == Some(Ordering::Less)
    }
    fn le(self, other: Num) -> bool {
        matches!(self.compare(other), Some(Ordering::Less | Ordering::Equal))
    }
    fn gt(self, other: Num) -> bool {
        other.lt(self)
    }
    fn ge(self, other: Num) -> bool {
        other.le(self)
    }

    fn abs(self) -> Num {
        match self {
            Num::Py(v) => Num::Py(v.abs()),
            Num::F32(v) => Num::F32(v.abs()),
        }
    }

    /// Python's `min(a, b)`: `b` only if `b < a`.
    fn min(self, other: Num) -> Num {
        if other.lt(self) {
            other
        } else {
            self
        }
    }

    /// Python's `max(a, b)`: `b` only if `b > a`.
    fn max(self, other: Num) -> Num {
        if other.gt(self) {
            other
        } else {
            self
        }
    }
}

impl Add for Num {
    type Output = Num;
    fn add(self, o: Num) -> Num {
        self.binary(o, |a, b| a + b, |a, b| a + b)
    }
}
impl Sub for Num {
    type Output = Num;
    fn sub(self, o: Num) -> Num {
        self.binary(o, |a, b| a - b, |a, b| a - b)
    }
}
impl Mul for Num {
    type Output = Num;
    fn mul(self, o: Num) -> Num {
        self.binary(o, |a, b| a * b, |a, b| a * b)
    }
}
impl Div for Num {
    type Output = Num;
    fn div(self, o: Num) -> Num {
        self.binary(o, |a, b| a / b, |a, b| a / b)
    }
}
impl Neg for Num {
    type Output = Num;
    fn neg(self) -> Num {
        match self {
            Num::Py(v) => Num::Py(-v),
            Num::F32(v) => Num::F32(-v),
        }
    }
}

/// A Python float.
fn py(v: f64) -> Num {
    Num::Py(v)
}

// ---------------------------------------------------------------- vector kernels (f32)

/// `aᵀb`: the products added in order in eight f32 lanes, the lanes then added in order
/// (for fewer than eight values: `a₀b₀ + a₁b₁ + …` left to right, as PyTorch's `dot`).
fn dot(a: &[f32], b: &[f32]) -> Num {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += xa[l] * xb[l];
        }
    }
    let mut sum = lanes.iter().fold(0.0f32, |s, &v| s + v);
    for (&x, &y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    Num::F32(sum)
}

/// `y += α·x`, one fused multiply-add per element (PyTorch's `add_(x, alpha=α)`).
fn axpy(y: &mut [f32], alpha: Num, x: &[f32]) {
    let a = alpha.as_f32();
    y.iter_mut()
        .zip(x)
        .for_each(|(y, &x)| *y = a.mul_add(x, *y));
}

/// `max_i |v_i|`.
fn abs_max(v: &[f32]) -> Num {
    Num::F32(v.iter().fold(0.0f32, |m, &x| m.max(x.abs())))
}

/// `Σ_i |v_i|` (in order).
fn abs_sum(v: &[f32]) -> Num {
    Num::F32(v.iter().fold(0.0f32, |s, &x| s + x.abs()))
}

/// `a·v` elementwise in f32.
fn scaled(v: &[f32], a: Num) -> Vec<f32> {
    let a = a.as_f32();
    v.iter().map(|&x| x * a).collect()
}

// ---------------------------------------------------------------- line search

/// `_cubic_interpolate`: the minimiser of the cubic through `(x1, f1)` and `(x2, f2)` with
/// slopes `g1`, `g2`, clamped to `bounds` (default: between `x1` and `x2`); the middle of
/// the bounds when the cubic has no minimum:
/// `d1 = g1 + g2 − 3·(f1 − f2)/(x1 − x2)`, `d2 = √(d1² − g1·g2)`,
/// `x = x2 − (x2 − x1)·(g2 + d2 − d1)/(g2 − g1 + 2·d2)` (for `x1 ≤ x2`).
#[allow(clippy::too_many_arguments)]
fn cubic_interpolate(
    x1: Num,
    f1: Num,
    g1: Num,
    x2: Num,
    f2: Num,
    g2: Num,
    bounds: Option<(Num, Num)>,
) -> Num {
    let (xmin_bound, xmax_bound) = bounds.unwrap_or(if x1.le(x2) { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - py(3.0) * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square.ge(py(0.0)) {
        // d2_square is a tensor (g1 is one), so is its square root
        let d2 = Num::F32(d2_square.as_f32().sqrt());
        let min_pos = if x1.le(x2) {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + py(2.0) * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + py(2.0) * d2))
        };
        min_pos.max(xmin_bound).min(xmax_bound)
    } else {
        (xmin_bound + xmax_bound) / py(2.0)
    }
}

/// One trial point of the line search: its loss, gradient and `gᵀd`.
struct Trial {
    f: Num,
    g: Vec<f32>,
    gtd: Num,
}

/// `_strong_wolfe`: a step `t` along `d` from the point with loss `f`, gradient `g` and
/// slope `gtd` satisfying the strong Wolfe conditions (`c1`, `c2`), bracketing then
/// zooming with cubic interpolation, in at most `max_ls` evaluations of `eval(t)`.
/// Returns the loss and gradient at the step, the step, and the evaluations made.
#[allow(clippy::too_many_arguments)]
fn strong_wolfe(
    eval: &mut dyn FnMut(Num) -> Result<Trial>,
    d: &[f32],
    mut t: Num,
    f: Num,
    g: &[f32],
    gtd: Num,
    tolerance_change: f64,
    max_ls: usize,
) -> Result<(Num, Vec<f32>, Num, usize)> {
    let (c1, c2) = (py(1e-4), py(0.9));
    let d_norm = abs_max(d);
    let mut new = eval(t)?;
    let mut ls_func_evals = 1;
    // bracket an interval containing a point satisfying the Wolfe criteria
    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (py(0.0), f, g.to_vec(), gtd);
    let mut done = false;
    let mut ls_iter = 0;
    // bracket points: (t, f, g, gtd)
    let mut bracket: Vec<(Num, Num, Vec<f32>, Num)> = loop {
        if ls_iter >= max_ls {
            // reached max number of iterations: PyTorch keeps no slopes there, and the
            // zoom below cannot run to read them
            break vec![(py(0.0), f, g.to_vec(), gtd), (t, new.f, new.g, new.gtd)];
        }
        // check conditions
        if new.f.gt(f + c1 * t * gtd) || (ls_iter > 1 && new.f.ge(f_prev)) {
            break vec![
                (t_prev, f_prev, g_prev, gtd_prev),
                (t, new.f, new.g, new.gtd),
            ];
        }
        if new.gtd.abs().le(-c2 * gtd) {
            done = true;
            break vec![(t, new.f, new.g, new.gtd)];
        }
        if new.gtd.ge(py(0.0)) {
            break vec![
                (t_prev, f_prev, g_prev, gtd_prev),
                (t, new.f, new.g, new.gtd),
            ];
        }
        // interpolate
        let min_step = t + py(0.01) * (t - t_prev);
        let max_step = t * py(10.0);
        let tmp = t;
        t = cubic_interpolate(
            t_prev,
            f_prev,
            gtd_prev,
            t,
            new.f,
            new.gtd,
            Some((min_step, max_step)),
        );
        // next step
        t_prev = tmp;
        f_prev = new.f;
        g_prev = new.g;
        gtd_prev = new.gtd;
        new = eval(t)?;
        ls_func_evals += 1;
        ls_iter += 1;
    };
    // zoom phase: refine the bracket until a point satisfies the criteria
    let mut insuf_progress = false;
    let order = |b: &[(Num, Num, Vec<f32>, Num)]| {
        if b[0].1.le(b[b.len() - 1].1) {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let (mut low, mut high) = order(&bracket);
    while !done && ls_iter < max_ls {
        let (b0, b1) = (bracket[0].0, bracket[1].0);
        // line-search bracket is so small
        if ((b1 - b0).abs() * d_norm).lt(py(tolerance_change)) {
            break;
        }
        // compute new trial value
        t = cubic_interpolate(
            b0,
            bracket[0].1,
            bracket[0].3,
            b1,
            bracket[1].1,
            bracket[1].3,
            None,
        );
        // test that we are making sufficient progress: if `t` is too close to a bound and
        // either the last step was insufficient too or `t` is at a bound, move it 0.1 of
        // the bracket's length away from the nearest bound
        let (bmax, bmin) = (b0.max(b1), b0.min(b1));
        let eps = py(0.1) * (bmax - bmin);
        if ((bmax - t).min(t - bmin)).lt(eps) {
            // interpolation close to boundary
            if insuf_progress || t.ge(bmax) || t.le(bmin) {
                // evaluate at 0.1 away from boundary
                t = if (t - bmax).abs().lt((t - bmin).abs()) {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        // evaluate new point
        let trial = eval(t)?;
        ls_func_evals += 1;
        ls_iter += 1;
        if trial.f.gt(f + c1 * t * gtd) || trial.f.ge(bracket[low].1) {
            // Armijo condition not satisfied or not lower than lowest point
            bracket[high] = (t, trial.f, trial.g, trial.gtd);
            (low, high) = order(&bracket);
        } else {
            if trial.gtd.abs().le(-c2 * gtd) {
                // Wolfe conditions satisfied
                done = true;
            } else if (trial.gtd * (bracket[high].0 - bracket[low].0)).ge(py(0.0)) {
                // old high becomes new low
                bracket[high] = bracket[low].clone();
            }
            // new point becomes new low
            bracket[low] = (t, trial.f, trial.g, trial.gtd);
        }
    }
    let (t, f_new, g_new, _) = bracket.swap_remove(low);
    Ok((f_new, g_new, t, ls_func_evals))
}

// ---------------------------------------------------------------- the optimiser

/// What [`Lbfgs`] keeps from one `step` call to the next (PyTorch's `state`).
#[derive(Default)]
struct State {
    func_evals: u64,
    n_iter: u64,
    d: Vec<f32>,
    t: Option<Num>,
    old_dirs: Vec<Vec<f32>>,
    old_stps: Vec<Vec<f32>>,
    ro: Vec<Num>,
    h_diag: Option<Num>,
    prev_flat_grad: Option<Vec<f32>>,
    prev_loss: Option<f64>,
}

/// L-BFGS over a list of parameters, as `torch.optim.LBFGS` (see the [module](self)):
/// [`Lbfgs::step`] takes a closure that re-evaluates the loss and its gradients.
///
/// ```
/// use splot::nn::{NamedTensor, TensorKind};
/// use splot::optim::{Lbfgs, LineSearch};
/// use splot::Tensor;
/// // minimise Σ (w − 3)²
/// let w = Tensor::zeros(&[4]).with_grad();
/// let params = vec![NamedTensor { name: "w".into(), tensor: w.clone(), kind: TensorKind::Parameter }];
/// let mut opt = Lbfgs::new(params).line_search(LineSearch::StrongWolfe);
/// opt.step(|| {
///     let loss = w.add_scalar(-3.0).square().sum_all();
///     Ok((loss.item()?, loss.backward()?))
/// })?;
/// assert!(w.to_vec().iter().all(|&v| (v - 3.0).abs() < 1e-4));
/// # Ok::<(), splot::Error>(())
/// ```
pub struct Lbfgs {
    params: Vec<NamedTensor>,
    lr: f64,
    max_iter: usize,
    max_eval: Option<usize>,
    tolerance_grad: f64,
    tolerance_change: f64,
    history_size: usize,
    line_search: LineSearch,
    maximize: bool,
    state: State,
}

impl Lbfgs {
    /// L-BFGS over `params` with PyTorch's defaults: `lr` 1, `max_iter` 20, `max_eval`
    /// `max_iter·5/4`, `tolerance_grad` 1e-7, `tolerance_change` 1e-9, `history_size` 100,
    /// no line search.
    pub fn new(params: Vec<NamedTensor>) -> Self {
        Lbfgs {
            params,
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search: LineSearch::None,
            maximize: false,
            state: State::default(),
        }
    }

    /// The learning rate `lr ≥ 0`: the step length (times `min(1, 1/‖g‖₁)` on the first
    /// iteration), or the line search's first trial.
    pub fn lr(mut self, lr: f64) -> Result<Self> {
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(Error::config(
                "Lbfgs",
                format!("learning rate {lr} must be finite and ≥ 0"),
            ));
        }
        self.lr = lr;
        Ok(self)
    }

    /// The most iterations per `step` (≥ 1).
    pub fn max_iter(mut self, max_iter: usize) -> Result<Self> {
        if max_iter == 0 {
            return Err(Error::config("Lbfgs", "max_iter must be at least 1"));
        }
        self.max_iter = max_iter;
        Ok(self)
    }

    /// The most evaluations of the closure per `step` (≥ 1); default `max_iter·5/4`.
    pub fn max_eval(mut self, max_eval: usize) -> Result<Self> {
        if max_eval == 0 {
            return Err(Error::config("Lbfgs", "max_eval must be at least 1"));
        }
        self.max_eval = Some(max_eval);
        Ok(self)
    }

    /// Stop when `max|g| ≤ tolerance_grad`.
    pub fn tolerance_grad(mut self, tolerance: f64) -> Self {
        self.tolerance_grad = tolerance;
        self
    }

    /// Stop when the loss, the step or the slope changes by less than this.
    pub fn tolerance_change(mut self, tolerance: f64) -> Self {
        self.tolerance_change = tolerance;
        self
    }

    /// The number of `(s, y)` pairs kept (≥ 1).
    pub fn history_size(mut self, size: usize) -> Result<Self> {
        if size == 0 {
            return Err(Error::config("Lbfgs", "history_size must be at least 1"));
        }
        self.history_size = size;
        Ok(self)
    }

    /// The line search.
    pub fn line_search(mut self, line_search: LineSearch) -> Self {
        self.line_search = line_search;
        self
    }

    /// Maximise the closure's loss instead of minimising it.
    pub fn maximize(mut self, on: bool) -> Self {
        self.maximize = on;
        self
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate (for schedules).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Evaluations of the closure so far, over all `step` calls.
    pub fn func_evals(&self) -> u64 {
        self.state.func_evals
    }

    /// Iterations so far, over all `step` calls.
    pub fn iterations(&self) -> u64 {
        self.state.n_iter
    }

    /// The effective `max_eval`.
    fn eval_budget(&self) -> usize {
        self.max_eval.unwrap_or(self.max_iter * 5 / 4)
    }

    fn numel(&self) -> usize {
        self.params.iter().map(|p| p.tensor.numel()).sum()
    }

    /// The parameters as one vector.
    fn flat_params(&self) -> Vec<f32> {
        let mut flat = Vec::with_capacity(self.numel());
        for p in &self.params {
            flat.extend_from_slice(&p.tensor.data());
        }
        flat
    }

    /// Writes a flat vector back into the parameters.
    fn set_params(&self, flat: &[f32]) {
        let mut offset = 0;
        for p in &self.params {
            let mut w = p.tensor.data_mut();
            let n = w.len();
            w.copy_from_slice(&flat[offset..offset + n]);
            offset += n;
        }
    }

    /// `x += t·d` (PyTorch's `_add_grad`).
    fn add_to_params(&self, t: Num, d: &[f32]) {
        let mut offset = 0;
        for p in &self.params {
            let mut w = p.tensor.data_mut();
            let n = w.len();
            axpy(&mut w, t, &d[offset..offset + n]);
            offset += n;
        }
    }

    /// Calls the closure (with gradients enabled, as PyTorch does) and gathers the loss
    /// and the flat gradient (zeros for a parameter without one; negated to maximise).
    fn evaluate(
        &self,
        closure: &mut dyn FnMut() -> Result<(f32, Gradients)>,
    ) -> Result<(f32, f64, Vec<f32>)> {
        let (loss, grads) = {
            let _mode = GradModeGuard::set(true);
            closure()?
        };
        let mut flat = Vec::with_capacity(self.numel());
        for p in &self.params {
            match grads.get(&p.tensor) {
                Some(g) if g.shape() == p.tensor.shape() => flat.extend_from_slice(&g.data()),
                Some(g) => {
                    return Err(Error::shape(
                        "Lbfgs",
                        format!(
                            "gradient of '{}' has shape {:?}, the parameter {:?}",
                            p.name,
                            g.shape(),
                            p.tensor.shape()
                        ),
                    ))
                }
                None => flat.extend(std::iter::repeat_n(0.0, p.tensor.numel())),
            }
        }
        let mut value = loss as f64;
        if self.maximize {
            value = -value;
            flat.iter_mut().for_each(|g| *g = -*g);
        }
        Ok((loss, value, flat))
    }

    /// One optimisation step, PyTorch's `LBFGS.step(closure)`: `closure` re-evaluates the
    /// loss at the current parameters and returns it with its gradients (e.g.
    /// `Ok((loss.item()?, loss.backward()?))`); it is called once, then as often as the
    /// iterations and the line search need (at most `max_eval` times). The parameters are
    /// updated in place. Returns the loss of the first evaluation.
    pub fn step(&mut self, mut closure: impl FnMut() -> Result<(f32, Gradients)>) -> Result<f32> {
        let closure: &mut dyn FnMut() -> Result<(f32, Gradients)> = &mut closure;
        if self.params.is_empty() {
            return Ok(closure()?.0);
        }
        let (lr, max_iter, max_eval) = (py(self.lr), self.max_iter, self.eval_budget());
        let (tolerance_grad, tolerance_change) = (py(self.tolerance_grad), self.tolerance_change);
        let history_size = self.history_size;

        // evaluate initial f(x) and df/dx
        let (orig_loss, mut loss, mut flat_grad) = self.evaluate(closure)?;
        let mut current_evals = 1;
        self.state.func_evals += 1;
        let mut opt_cond = abs_max(&flat_grad).le(tolerance_grad);
        // optimal condition
        if opt_cond {
            return Ok(orig_loss);
        }

        let mut st = std::mem::take(&mut self.state);
        let mut al = vec![py(0.0); history_size];
        let mut n_iter = 0;
        // optimize for a max of max_iter iterations
        let result = loop {
            if n_iter >= max_iter {
                break Ok(());
            }
            n_iter += 1;
            st.n_iter += 1;

            // ---- compute gradient descent direction
            if st.n_iter == 1 {
                st.d = flat_grad.iter().map(|&g| -g).collect();
                st.old_dirs.clear();
                st.old_stps.clear();
                st.ro.clear();
                st.h_diag = Some(py(1.0));
            } else {
                let prev = st.prev_flat_grad.as_ref().expect("a previous gradient");
                let t = st.t.expect("a previous step");
                // do lbfgs update (update memory)
                let y: Vec<f32> = flat_grad.iter().zip(prev).map(|(&g, &p)| g - p).collect();
                let s = scaled(&st.d, t);
                let ys = dot(&y, &s);
                if ys.gt(py(1e-10)) {
                    // updating memory
                    if st.old_dirs.len() == history_size {
                        // shift history by one (limited-memory)
                        st.old_dirs.remove(0);
                        st.old_stps.remove(0);
                        st.ro.remove(0);
                    }
                    // update scale of initial Hessian approximation
                    st.h_diag = Some(ys / dot(&y, &y));
                    // store new direction/step
                    st.old_dirs.push(y);
                    st.old_stps.push(s);
                    st.ro.push(py(1.0) / ys);
                }
                // compute the approximate (L-BFGS) inverse Hessian multiplied by the gradient
                let num_old = st.old_dirs.len();
                let mut q: Vec<f32> = flat_grad.iter().map(|&g| -g).collect();
                for i in (0..num_old).rev() {
                    al[i] = dot(&st.old_stps[i], &q) * st.ro[i];
                    axpy(&mut q, -al[i], &st.old_dirs[i]);
                }
                // multiply by initial Hessian; r/d is the final direction
                let h_diag = st.h_diag.expect("an initial Hessian scale");
                let mut r = scaled(&q, h_diag);
                let pairs = st.old_dirs.iter().zip(&st.old_stps).zip(&st.ro);
                for (((y_i, s_i), &ro_i), &al_i) in pairs.zip(&al) {
                    let be_i = dot(y_i, &r) * ro_i;
                    axpy(&mut r, al_i - be_i, s_i);
                }
                st.d = r;
            }
            st.prev_flat_grad = Some(flat_grad.clone());
            st.prev_loss = Some(loss);

            // ---- compute step length
            // reset initial guess for step size
            let mut t = if st.n_iter == 1 {
                py(1.0).min(py(1.0) / abs_sum(&flat_grad)) * lr
            } else {
                lr
            };
            // directional derivative
            let gtd = dot(&flat_grad, &st.d);
            // directional derivative is below tolerance
            if gtd.gt(py(-tolerance_change)) {
                st.t = Some(t);
                break Ok(());
            }

            // optional line search
            let mut ls_func_evals = 0;
            match self.line_search {
                LineSearch::StrongWolfe => {
                    let x_init = self.flat_params();
                    let d = st.d.clone();
                    let mut eval = |t: Num| -> Result<Trial> {
                        self.add_to_params(t, &d);
                        let evaluated = self.evaluate(closure);
                        self.set_params(&x_init);
                        let (_, f, g) = evaluated?;
                        let gtd = dot(&g, &d);
                        Ok(Trial { f: py(f), g, gtd })
                    };
                    let searched = strong_wolfe(
                        &mut eval,
                        &d,
                        t,
                        py(loss),
                        &flat_grad,
                        gtd,
                        tolerance_change,
                        max_eval.saturating_sub(current_evals),
                    );
                    let (f_new, g_new, t_new, evals) = match searched {
                        Ok(v) => v,
                        Err(e) => break Err(e),
                    };
                    loss = f_new.value();
                    flat_grad = g_new;
                    t = t_new;
                    ls_func_evals = evals;
                    self.add_to_params(t, &st.d);
                    opt_cond = abs_max(&flat_grad).le(tolerance_grad);
                }
                LineSearch::None => {
                    // no line search, simply move with fixed-step
                    self.add_to_params(t, &st.d);
                    if n_iter != max_iter {
                        // re-evaluate function only if not in last iteration
                        match self.evaluate(closure) {
                            Ok((_, f, g)) => {
                                loss = f;
                                flat_grad = g;
                            }
                            Err(e) => break Err(e),
                        }
                        opt_cond = abs_max(&flat_grad).le(tolerance_grad);
                        ls_func_evals = 1;
                    }
                }
            }
            st.t = Some(t);
            // update func eval
            current_evals += ls_func_evals;
            st.func_evals += ls_func_evals as u64;

            // ---- check conditions
            if n_iter == max_iter || current_evals >= max_eval || opt_cond {
                break Ok(());
            }
            // lack of progress
            if abs_max(&scaled(&st.d, t)).le(py(tolerance_change)) {
                break Ok(());
            }
            if (loss - st.prev_loss.expect("a previous loss")).abs() < tolerance_change {
                break Ok(());
            }
        };
        self.state = st;
        result.map(|()| orig_loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_scalars_promote_as_pytorch() {
        // float ∘ float stays f64; float ∘ tensor goes through f32
        assert_eq!(py(0.1) + py(0.2), Num::Py(0.1 + 0.2));
        assert_eq!(py(0.1) + Num::F32(0.2), Num::F32(0.1f32 + 0.2f32));
        // comparisons: the float is cast to f32 first (f32(0.1) > 0.1 in f64, not in f32)
        assert!(!Num::F32(0.1).gt(py(0.1)));
        assert!(Num::Py(0.1f32 as f64).gt(py(0.1)));
        // Python's min/max keep the first argument on ties
        assert_eq!(py(1.0).min(Num::F32(1.0)), py(1.0));
        assert_eq!(py(1.0).max(Num::F32(2.0)), Num::F32(2.0));
    }

    #[test]
    fn cubic_interpolation_finds_the_minimum_of_a_cubic() {
        // f(x) = (x − 1)², f' = 2(x − 1), from x = 0 (f 1, f' −2) and x = 3 (f 4, f' 4):
        // the quadratic is a cubic whose minimiser is x = 1.
        let x = cubic_interpolate(
            py(0.0),
            py(1.0),
            Num::F32(-2.0),
            py(3.0),
            py(4.0),
            Num::F32(4.0),
            None,
        );
        assert!((x.value() - 1.0).abs() < 1e-6, "{x:?}");
        // clamped to the bounds
        let x = cubic_interpolate(
            py(0.0),
            py(1.0),
            Num::F32(-2.0),
            py(3.0),
            py(4.0),
            Num::F32(4.0),
            Some((py(2.0), py(2.5))),
        );
        assert_eq!(x.value(), 2.0);
    }
}
