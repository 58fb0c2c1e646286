//! 2-d pooling, forward and backward, behaving like PyTorch's: max and average pooling,
//! global average pooling, adaptive average and max pooling. Each channel is pooled on its
//! own; planes are processed in parallel.
//!
//! Legend: input `x [n, c, h, w]`, output `y [n, c, oh, ow]`; per axis `k` the kernel size,
//! `s` the stride, `p` the padding (the same before and after, `p ≤ k/2`), `d` the dilation
//! (max pooling only); a *plane* is one `(image, channel)` pair, `h·w` values.
//!
//! Output size (the one place the formula lives, [`pool_output_size`]):
//! `o = ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1`, or with `⌈…⌉` in ceil mode, where the last
//! window must start inside the input or its left padding: if `(o − 1)·s ≥ n + p`, `o − 1`.
//!
//! Windows: output `i` covers the taps `i·s − p + t·d`, `t = 0..k`; taps outside the input
//! are padding. Max pooling pads with −∞ (padding never wins); average pooling pads with
//! zeros and divides by the window's cells inside the padded input (clipped at its border)
//! when `count_include_pad`, or by its cells inside the real input otherwise.
//! Adaptive pooling to `out` bins: bin `i` covers `[⌊i·n/out⌋, ⌈(i+1)·n/out⌉)`
//! ([`adaptive_pool_range`]).
//!
//! Backward: max routes `∂loss/∂y` to the arg-max kept by the forward pass (the *first*
//! maximum in row-major scan order of the window, so ties are deterministic); average
//! spreads `∂loss/∂y / divisor` over the window's real cells. Overlapping windows add up.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::ops::Range;

/// Output size of a pooling along one axis, or `None` if no window fits:
/// `o = ⌊(n + 2p − d·(k − 1) − 1) / s⌋ + 1` (`⌈…⌉` when `ceil_mode`); in ceil mode, as in
/// PyTorch, the last window must start inside the input or the left padding, so
/// `o` drops by one when `(o − 1)·s ≥ n + p`.
///
/// `n` the input size, `k` the kernel size, `p` the padding on each side, `s` the stride,
/// `d` the dilation. `k`, `s` and `d` must be positive (`None` otherwise).
pub fn pool_output_size(
    n: usize,
    k: usize,
    p: usize,
    s: usize,
    d: usize,
    ceil_mode: bool,
) -> Option<usize> {
    if k == 0 || s == 0 || d == 0 {
        return None;
    }
    let (n, k, p, s, d) = (n as i128, k as i128, p as i128, s as i128, d as i128);
    let span = d.checked_mul(k - 1)? + 1;
    let round_up = if ceil_mode { s - 1 } else { 0 };
    let mut o = (n + 2 * p - span + round_up).div_euclid(s) + 1;
    if ceil_mode && (o - 1) * s >= n + p {
        o -= 1;
    }
    (o >= 1).then(|| usize::try_from(o).ok()).flatten()
}

/// The input range `[⌊i·n/out⌋, ⌈(i+1)·n/out⌉)` of bin `i` of an adaptive pooling of an
/// axis of size `n` into `out` bins (PyTorch's bins: never empty, neighbours may overlap).
pub fn adaptive_pool_range(i: usize, n: usize, out: usize) -> Range<usize> {
    let start = i * n / out;
    let end = ((i + 1) * n).div_ceil(out);
    start..end
}

/// Settings of [`Tensor::max_pool2d`] and [`Tensor::avg_pool2d`]; the defaults are
/// PyTorch's (`stride = kernel`, no padding, dilation 1, floor mode, `count_include_pad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// Kernel size `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`; `None` means the kernel size (PyTorch's default).
    pub stride: Option<[usize; 2]>,
    /// Padding `[ph, pw]`, the same before and after on each axis; at most half the kernel.
    pub padding: [usize; 2],
    /// Dilation `[dh, dw]` (max pooling only; average pooling needs `[1, 1]`).
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (see [`pool_output_size`]).
    pub ceil_mode: bool,
    /// Average pooling: divide by the cells of the window inside the padded input (`true`,
    /// the default) or by those inside the real input (`false`). Ignored by max pooling.
    pub count_include_pad: bool,
}

impl Pool2dConfig {
    /// A `k × k` kernel with stride `k`, no padding, dilation 1, floor mode,
    /// `count_include_pad`.
    pub fn new(k: usize) -> Self {
        Pool2dConfig {
            kernel: [k, k],
            stride: None,
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
            count_include_pad: true,
        }
    }
    /// Kernel size per axis.
    pub fn kernel_hw(mut self, kh: usize, kw: usize) -> Self {
        self.kernel = [kh, kw];
        self
    }
    /// The same stride on both axes.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = Some([s, s]);
        self
    }
    /// Stride per axis.
    pub fn stride_hw(mut self, sh: usize, sw: usize) -> Self {
        self.stride = Some([sh, sw]);
        self
    }
    /// The same padding on all four sides.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }
    /// Padding per axis: `ph` rows above and below, `pw` columns left and right.
    pub fn padding_hw(mut self, ph: usize, pw: usize) -> Self {
        self.padding = [ph, pw];
        self
    }
    /// The same dilation on both axes (max pooling only).
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }
    /// Dilation per axis (max pooling only).
    pub fn dilation_hw(mut self, dh: usize, dw: usize) -> Self {
        self.dilation = [dh, dw];
        self
    }
    /// Ceil mode on or off.
    pub fn ceil_mode(mut self, on: bool) -> Self {
        self.ceil_mode = on;
        self
    }
    /// Whether average pooling counts padded cells in its divisor.
    pub fn count_include_pad(mut self, on: bool) -> Self {
        self.count_include_pad = on;
        self
    }
    /// The stride in effect: the one set, or the kernel size.
    pub fn effective_stride(&self) -> [usize; 2] {
        self.stride.unwrap_or(self.kernel)
    }
}

/// The real input cells of one window along one axis: `start, start + step, …`,
/// `count` of them (`count = 0` for a window lying wholly in the padding).
#[derive(Clone, Copy, Debug)]
struct Window {
    start: usize,
    step: usize,
    count: usize,
}

impl Window {
    fn cells(self) -> impl Iterator<Item = usize> {
        (0..self.count).map(move |t| self.start + t * self.step)
    }
}

/// Everything the kernels need: sizes, and the windows of each output row and column.
struct Plan {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    rows: Vec<Window>,
    cols: Vec<Window>,
}

impl Plan {
    fn oh(&self) -> usize {
        self.rows.len()
    }
    fn ow(&self) -> usize {
        self.cols.len()
    }
    fn output_shape(&self) -> Vec<usize> {
        vec![self.n, self.c, self.oh(), self.ow()]
    }
}

/// The windows of a pooling along one axis with `o` outputs: output `i` has the taps
/// `i·s − p + t·d`, `t = 0..k`, of which those in `[0, n)` are real.
fn pool_windows(n: usize, k: usize, p: usize, s: usize, d: usize, o: usize) -> Vec<Window> {
    (0..o)
        .map(|i| {
            let first = (i * s) as isize - p as isize; // tap t = 0
            let (n, k, d) = (n as isize, k as isize, d as isize);
            // taps t with 0 ≤ first + t·d < n, i.e. t in [t0, t1)
            let t0 = if first < 0 { (-first + d - 1) / d } else { 0 };
            let t1 = k.min((n - first + d - 1) / d);
            let count = (t1 - t0).max(0) as usize;
            let start = if count > 0 {
                (first + t0 * d) as usize
            } else {
                0
            };
            Window {
                start,
                step: d as usize,
                count,
            }
        })
        .collect()
}

/// Average pooling's divisors along one axis: with `count_include_pad`, the taps of window
/// `i` inside the padded input `[−p, n + p)` (the window clipped at the padded border, as
/// PyTorch does in ceil mode); otherwise its real cells.
fn avg_divisors(
    n: usize,
    k: usize,
    p: usize,
    s: usize,
    windows: &[Window],
    cip: bool,
) -> Vec<usize> {
    windows
        .iter()
        .enumerate()
        .map(|(i, win)| {
            if cip {
                // start at i·s − p, end clipped at n + p: a length, so p cancels at the start
                (i * s + k).min(n + 2 * p) - i * s
            } else {
                win.count
            }
        })
        .collect()
}

/// Checks a pooling input: `[n, c, h, w]` with non-empty channels and image (the batch may
/// be empty, as in PyTorch).
fn check_input(op: &'static str, x: &[usize]) -> Result<()> {
    if x.len() != 4 {
        return Err(Error::shape(
            op,
            format!("input must be [n, c, h, w], got {x:?}"),
        ));
    }
    if x[1] == 0 || x[2] == 0 || x[3] == 0 {
        return Err(Error::shape(
            op,
            format!("input {x:?} has an empty channel, height or width dimension"),
        ));
    }
    Ok(())
}

/// Validates a window pooling and plans its windows.
fn pool_plan(op: &'static str, x: &[usize], cfg: &Pool2dConfig) -> Result<Plan> {
    check_input(op, x)?;
    let (k, s, p, d) = (
        cfg.kernel,
        cfg.effective_stride(),
        cfg.padding,
        cfg.dilation,
    );
    if k.contains(&0) || s.contains(&0) || d.contains(&0) {
        return Err(Error::config(
            op,
            format!(
                "kernel {k:?}, stride {s:?} and dilation {d:?} must all be positive (input {x:?})"
            ),
        ));
    }
    if op == "avg_pool2d" && d != [1, 1] {
        return Err(Error::config(
            op,
            format!("average pooling has no dilation, got {d:?} (input {x:?})"),
        ));
    }
    if p[0] > k[0] / 2 || p[1] > k[1] / 2 {
        return Err(Error::config(
            op,
            format!(
                "padding {p:?} must be at most half the kernel {k:?} on each axis (input {x:?})"
            ),
        ));
    }
    let oh = pool_output_size(x[2], k[0], p[0], s[0], d[0], cfg.ceil_mode);
    let ow = pool_output_size(x[3], k[1], p[1], s[1], d[1], cfg.ceil_mode);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(Error::shape(
            op,
            format!(
                "empty output: a {}×{} kernel with dilation {d:?} spans more than input {x:?} padded by {p:?}",
                k[0], k[1]
            ),
        ));
    };
    Ok(Plan {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        rows: pool_windows(x[2], k[0], p[0], s[0], d[0], oh),
        cols: pool_windows(x[3], k[1], p[1], s[1], d[1], ow),
    })
}

/// Validates an adaptive pooling and plans its bins.
fn adaptive_plan(op: &'static str, x: &[usize], out: [usize; 2]) -> Result<Plan> {
    check_input(op, x)?;
    if out.contains(&0) {
        return Err(Error::config(
            op,
            format!("output size {out:?} must be positive (input {x:?})"),
        ));
    }
    // the output size is the user's: check it before planning that many bins
    crate::tensor::size::check_shape(op, &[x[0], x[1], out[0], out[1]])?;
    let bins = |n: usize, o: usize| -> Vec<Window> {
        (0..o)
            .map(|i| {
                let r = adaptive_pool_range(i, n, o);
                Window {
                    start: r.start,
                    step: 1,
                    count: r.len(),
                }
            })
            .collect()
    };
    Ok(Plan {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        rows: bins(x[2], out[0]),
        cols: bins(x[3], out[1]),
    })
}

/// The output shape of [`Tensor::max_pool2d`], or an error naming what does not fit.
pub fn max_pool2d_output_shape(input: &[usize], cfg: &Pool2dConfig) -> Result<Vec<usize>> {
    Ok(pool_plan("max_pool2d", input, cfg)?.output_shape())
}

/// The output shape of [`Tensor::avg_pool2d`], or an error naming what does not fit.
pub fn avg_pool2d_output_shape(input: &[usize], cfg: &Pool2dConfig) -> Result<Vec<usize>> {
    Ok(pool_plan("avg_pool2d", input, cfg)?.output_shape())
}

/// The output shape of [`Tensor::adaptive_avg_pool2d`] and [`Tensor::adaptive_max_pool2d`]:
/// `[n, c, out[0], out[1]]`, or an error for a bad input or a zero output size.
pub fn adaptive_pool2d_output_shape(input: &[usize], out: [usize; 2]) -> Result<Vec<usize>> {
    Ok(adaptive_plan("adaptive_pool2d", input, out)?.output_shape())
}

/// Marks an output whose window holds no real cell (its value is −∞, it has no gradient).
const NO_ARGMAX: usize = usize::MAX;

/// Max pooling of every plane in one pass: values and, when `with_argmax` (the gradient
/// will be needed), the plane-local index of each window's arg-max (the first maximum in
/// row-major order; a NaN wins, the last one if several, as in PyTorch).
fn max_pool_forward(plan: &Plan, x: &[f32], with_argmax: bool) -> (Vec<f32>, Vec<usize>) {
    let (hw, ohw) = (plan.h * plan.w, plan.oh() * plan.ow());
    let mut y = vec![f32::NEG_INFINITY; plan.n * plan.c * ohw];
    if !with_argmax {
        y.par_chunks_mut(ohw)
            .zip(x.par_chunks(hw))
            .for_each(|(y, x)| max_plane::<false>(plan, x, y, &mut []));
        return (y, Vec::new());
    }
    let mut argmax = vec![NO_ARGMAX; y.len()];
    y.par_chunks_mut(ohw)
        .zip(argmax.par_chunks_mut(ohw))
        .zip(x.par_chunks(hw))
        .for_each(|((y, argmax), x)| max_plane::<true>(plan, x, y, argmax));
    (y, argmax)
}

/// The max pooling of one plane `x` into `y` and, if `ARGMAX`, `argmax`. Each window is
/// visited in row-major order with its running maximum, the position of its first
/// occurrence and the position of the last NaN in registers, updated by selects rather
/// than branches (the outcome of each comparison is a coin toss on real data).
fn max_plane<const ARGMAX: bool>(plan: &Plan, x: &[f32], y: &mut [f32], argmax: &mut [usize]) {
    let (w, ow) = (plan.w, plan.ow());
    for (i, rows) in plan.rows.iter().enumerate() {
        for (j, cols) in plan.cols.iter().enumerate() {
            let (mut best, mut at, mut nan_at) = (f32::NEG_INFINITY, NO_ARGMAX, NO_ARGMAX);
            if rows.count > 0 && cols.count > 0 {
                // the first cell is the arg-max until a larger value comes
                at = rows.start * w + cols.start;
            }
            for r in rows.cells() {
                let xr = &x[r * w..][..w];
                for c in cols.cells() {
                    let v = xr[c];
                    // strict `>`: the first of equal maxima stays
                    let larger = v > best;
                    best = if larger { v } else { best };
                    if ARGMAX {
                        at = if larger { r * w + c } else { at };
                        nan_at = if v.is_nan() { r * w + c } else { nan_at };
                    } else if v.is_nan() {
                        nan_at = 0;
                    }
                }
            }
            if nan_at != NO_ARGMAX {
                (best, at) = (f32::NAN, nan_at);
            }
            y[i * ow + j] = best;
            if ARGMAX {
                argmax[i * ow + j] = at;
            }
        }
    }
}

/// `∂loss/∂x` of max pooling: each output's gradient added at its arg-max.
fn max_pool_backward(plan: &Plan, argmax: &[usize], g: &[f32]) -> Vec<f32> {
    let (hw, ohw) = (plan.h * plan.w, plan.oh() * plan.ow());
    let mut gx = vec![0.0f32; plan.n * plan.c * hw];
    gx.par_chunks_mut(hw)
        .zip(g.par_chunks(ohw))
        .zip(argmax.par_chunks(ohw))
        .for_each(|((gx, g), argmax)| {
            for (&at, &gy) in argmax.iter().zip(g) {
                if at != NO_ARGMAX {
                    gx[at] += gy;
                }
            }
        });
    gx
}

/// Average pooling of every plane: the sum of each window's real cells divided by
/// `row_div[i]·col_div[j]`.
fn avg_pool_forward(plan: &Plan, row_div: &[usize], col_div: &[usize], x: &[f32]) -> Vec<f32> {
    let (hw, ohw) = (plan.h * plan.w, plan.oh() * plan.ow());
    let mut y = vec![0.0f32; plan.n * plan.c * ohw];
    y.par_chunks_mut(ohw)
        .zip(x.par_chunks(hw))
        .for_each(|(y, x)| {
            for (i, rows) in plan.rows.iter().enumerate() {
                for (j, cols) in plan.cols.iter().enumerate() {
                    let mut sum = 0.0f32;
                    for r in rows.cells() {
                        for c in cols.cells() {
                            sum += x[r * plan.w + c];
                        }
                    }
                    y[i * plan.ow() + j] = sum / (row_div[i] * col_div[j]) as f32;
                }
            }
        });
    y
}

/// `∂loss/∂x` of average pooling: `∂y[i, j]/∂x[r, c] = 1/divisor[i, j]` for every real
/// cell `(r, c)` of window `(i, j)`.
fn avg_pool_backward(plan: &Plan, row_div: &[usize], col_div: &[usize], g: &[f32]) -> Vec<f32> {
    let (hw, ohw) = (plan.h * plan.w, plan.oh() * plan.ow());
    let mut gx = vec![0.0f32; plan.n * plan.c * hw];
    gx.par_chunks_mut(hw)
        .zip(g.par_chunks(ohw))
        .for_each(|(gx, g)| {
            for (i, rows) in plan.rows.iter().enumerate() {
                for (j, cols) in plan.cols.iter().enumerate() {
                    let share = g[i * plan.ow() + j] / (row_div[i] * col_div[j]) as f32;
                    for r in rows.cells() {
                        for c in cols.cells() {
                            gx[r * plan.w + c] += share;
                        }
                    }
                }
            }
        });
    gx
}

impl Tensor {
    /// Max pooling (PyTorch's `max_pool2d`): `y[n, c, i, j]` is the largest of
    /// `x[n, c, i·sh − ph + a·dh, j·sw − pw + b·dw]` over `a < kh`, `b < kw`, padding being
    /// −∞. The backward pass sends `∂loss/∂y` to the arg-max found by the forward pass: the
    /// first maximum in row-major order of the window, so a tie is resolved to the first
    /// (a NaN counts as the maximum, as in PyTorch). A window with no real cell (possible
    /// only with dilation) gives −∞ and no gradient.
    pub fn max_pool2d(&self, cfg: &Pool2dConfig) -> Result<Tensor> {
        const OP: &str = "max_pool2d";
        let plan = pool_plan(OP, self.shape(), cfg)?;
        let (y, argmax) = max_pool_forward(&plan, &self.data(), Tensor::records(&[self]));
        let shape = plan.output_shape();
        Ok(Tensor::from_op(OP, shape, y, &[self], move |g, _| {
            // ∂loss/∂x[r, c] = Σ of ∂loss/∂y over the outputs whose arg-max is (r, c)
            Ok(vec![Some(max_pool_backward(&plan, &argmax, g))])
        }))
    }

    /// Average pooling (PyTorch's `avg_pool2d`): `y[n, c, i, j]` is the sum of the window's
    /// real cells divided by the window's cells inside the padded input, clipped at its
    /// border (`count_include_pad`, the default), or by its cells inside the real input.
    pub fn avg_pool2d(&self, cfg: &Pool2dConfig) -> Result<Tensor> {
        const OP: &str = "avg_pool2d";
        let plan = pool_plan(OP, self.shape(), cfg)?;
        let (k, s, p, cip) = (
            cfg.kernel,
            cfg.effective_stride(),
            cfg.padding,
            cfg.count_include_pad,
        );
        let row_div = avg_divisors(plan.h, k[0], p[0], s[0], &plan.rows, cip);
        let col_div = avg_divisors(plan.w, k[1], p[1], s[1], &plan.cols, cip);
        let y = avg_pool_forward(&plan, &row_div, &col_div, &self.data());
        let shape = plan.output_shape();
        Ok(Tensor::from_op(OP, shape, y, &[self], move |g, _| {
            // ∂loss/∂x[r, c] = Σ over the windows holding (r, c) of ∂loss/∂y / divisor
            Ok(vec![Some(avg_pool_backward(&plan, &row_div, &col_div, g))])
        }))
    }

    /// Global average pooling: the mean of each plane, `[n, c, h, w] → [n, c, 1, 1]`.
    pub fn global_avg_pool2d(&self) -> Result<Tensor> {
        self.adaptive_avg("global_avg_pool2d", [1, 1])
    }

    /// Adaptive average pooling (PyTorch's `adaptive_avg_pool2d`) to `[n, c, out[0],
    /// out[1]]`: output `(i, j)` is the mean of rows [`adaptive_pool_range`]`(i, h, out[0])`
    /// and columns [`adaptive_pool_range`]`(j, w, out[1])`.
    pub fn adaptive_avg_pool2d(&self, out: [usize; 2]) -> Result<Tensor> {
        self.adaptive_avg("adaptive_avg_pool2d", out)
    }

    fn adaptive_avg(&self, op: &'static str, out: [usize; 2]) -> Result<Tensor> {
        let plan = adaptive_plan(op, self.shape(), out)?;
        let row_div: Vec<usize> = plan.rows.iter().map(|r| r.count).collect();
        let col_div: Vec<usize> = plan.cols.iter().map(|c| c.count).collect();
        let y = avg_pool_forward(&plan, &row_div, &col_div, &self.data());
        let shape = plan.output_shape();
        Ok(Tensor::from_op(op, shape, y, &[self], move |g, _| {
            // ∂loss/∂x[r, c] = Σ over the bins holding (r, c) of ∂loss/∂y / bin size
            Ok(vec![Some(avg_pool_backward(&plan, &row_div, &col_div, g))])
        }))
    }

    /// Adaptive max pooling (PyTorch's `adaptive_max_pool2d`) to `[n, c, out[0], out[1]]`:
    /// output `(i, j)` is the maximum over the bin of [`Tensor::adaptive_avg_pool2d`]; the
    /// gradient goes to the first maximum in row-major order, as in [`Tensor::max_pool2d`].
    pub fn adaptive_max_pool2d(&self, out: [usize; 2]) -> Result<Tensor> {
        const OP: &str = "adaptive_max_pool2d";
        let plan = adaptive_plan(OP, self.shape(), out)?;
        let (y, argmax) = max_pool_forward(&plan, &self.data(), Tensor::records(&[self]));
        let shape = plan.output_shape();
        Ok(Tensor::from_op(OP, shape, y, &[self], move |g, _| {
            // ∂loss/∂x[r, c] = Σ of ∂loss/∂y over the bins whose arg-max is (r, c)
            Ok(vec![Some(max_pool_backward(&plan, &argmax, g))])
        }))
    }
}
