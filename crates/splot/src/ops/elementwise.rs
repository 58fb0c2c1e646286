//! Elementwise arithmetic with NumPy/PyTorch broadcasting (so a `[C, 1, 1]` or
//! `[1, C, 1, 1]` tensor acts per channel on `[N, C, H, W]`), and scalar arithmetic.
//!
//! Legend: `a`, `b` the operands, `out` the result, `g` = ∂loss/∂out.
//! Backward of a broadcast operand sums `g·∂out/∂operand` over the broadcast dimensions.

use crate::cpu::par::{self, channel_sums};
use crate::error::{Error, Result};
use crate::tensor::{numel, strides, Tensor};

/// The broadcast shape of two shapes (dimensions aligned from the right; each pair equal
/// or one of them 1).
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(
                    op,
                    format!("shapes {a:?} and {b:?} cannot be broadcast together"),
                ))
            }
        };
    }
    Ok(out)
}

/// Strides of `shape` seen through broadcasting to `out` (0 on broadcast dimensions).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let s = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < lead || shape[i - lead] == 1 {
                0
            } else {
                s[i - lead]
            }
        })
        .collect()
}

/// Calls `f(out_index, a_offset, b_offset)` for every element of the broadcast shape `out`,
/// in row-major order.
fn for_each_broadcast(
    out: &[usize],
    a: &[usize],
    b: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let total = numel(out);
    if total == 0 {
        return;
    }
    let sa = broadcast_strides(a, out);
    let sb = broadcast_strides(b, out);
    let nd = out.len();
    if nd == 0 {
        f(0, 0, 0);
        return;
    }
    let inner = out[nd - 1];
    let (ia, ib) = (sa[nd - 1], sb[nd - 1]);
    let mut idx = vec![0usize; nd];
    let (mut oa, mut ob) = (0usize, 0usize);
    let mut o = 0;
    loop {
        for k in 0..inner {
            f(o + k, oa + k * ia, ob + k * ib);
        }
        o += inner;
        if o == total {
            return;
        }
        // Advance the odometer over all but the last dimension.
        let mut d = nd - 1;
        loop {
            d -= 1;
            idx[d] += 1;
            oa += sa[d];
            ob += sb[d];
            if idx[d] < out[d] {
                break;
            }
            oa -= sa[d] * out[d];
            ob -= sb[d] * out[d];
            idx[d] = 0;
        }
    }
}

/// How a broadcast op reads an operand whose real (non-broadcast) dimensions form one
/// block: output element `o` reads operand element `(o / inner) % len`. Same shape:
/// `len = numel, inner = 1`; a per-channel `[1, C, 1, 1]` or `[C, 1, 1]` against
/// `[N, C, H, W]`: `len = C, inner = H·W`; a trailing vector `[W]`: `len = W, inner = 1`;
/// a single value: `len = 1, inner = numel(out)`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Block {
    len: usize,
    inner: usize,
}

/// The [`Block`] reading of `operand` broadcast to `out`, or `None` when its real
/// dimensions are not contiguous (e.g. `[C, 1, W]` against `[N, C, H, W]`).
fn block_of(operand: &[usize], out: &[usize]) -> Option<Block> {
    let lead = out.len() - operand.len();
    let dim = |d: usize| if d < lead { 1 } else { operand[d - lead] };
    // Real: the operand spans the output's dimension; dimensions of size 1 in the output
    // are neither real nor broadcast and may sit anywhere.
    let real: Vec<usize> = (0..out.len())
        .filter(|&d| out[d] != 1 && dim(d) == out[d])
        .collect();
    let (first, last) = match (real.first(), real.last()) {
        (Some(&f), Some(&l)) => (f, l),
        _ => {
            return Some(Block {
                len: 1,
                inner: numel(out),
            })
        }
    };
    let contiguous = (first..=last).all(|d| out[d] == 1 || dim(d) == out[d]);
    contiguous.then(|| Block {
        len: numel(operand),
        inner: numel(&out[last + 1..]),
    })
}

/// `out[o] = f(full[o], part[(o / inner) % len])`: the fast path of broadcasting, where one
/// operand has the output's shape and the other is read as a [`Block`]. Each run of
/// `inner` outputs meets one value of `part` (or, when `inner = 1`, each row of `len`
/// outputs meets all of `part`), so the loops are plain slices the compiler vectorises.
fn zip_block(
    out: &mut [f32],
    full: &[f32],
    part: &[f32],
    b: Block,
    f: impl Fn(f32, f32) -> f32 + Sync,
) {
    // Large outputs are split across the pool in pieces of whole runs (or rows).
    let unit = match (b.inner, b.len) {
        (_, 1) => 1,
        (1, len) if len == out.len() => 1,
        (1, len) => len,
        (inner, _) => inner,
    };
    par::for_pieces(out, unit, |off, out| {
        let full = &full[off..off + out.len()];
        if b.len == 1 {
            let y = part[0];
            for (o, &x) in out.iter_mut().zip(full) {
                *o = f(x, y);
            }
        } else if b.inner == 1 {
            let part = &part[off % b.len..];
            for (o, x) in out.chunks_mut(b.len).zip(full.chunks(b.len)) {
                for ((o, &x), &y) in o.iter_mut().zip(x).zip(part) {
                    *o = f(x, y);
                }
            }
        } else {
            let first_run = off / b.inner;
            for (run, (o, x)) in out
                .chunks_mut(b.inner)
                .zip(full.chunks(b.inner))
                .enumerate()
            {
                let y = part[(first_run + run) % b.len];
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = f(x, y);
                }
            }
        }
    });
}

/// `out[o] = f(a[i], b[j])` over the broadcast shape `out` of `a` and `b`: the
/// [`zip_block`] fast path when one operand has the output's shape, else the reference.
fn broadcast_zip(
    out: &[usize],
    (a, sa): (&[f32], &[usize]),
    (b, sb): (&[f32], &[usize]),
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let mut o = vec![0.0f32; numel(out)];
    if o.is_empty() {
        return o;
    }
    if let (true, Some(block)) = (sa == out, block_of(sb, out)) {
        zip_block(&mut o, a, b, block, f);
    } else if let (true, Some(block)) = (sb == out, block_of(sa, out)) {
        zip_block(&mut o, b, a, block, |y, x| f(x, y));
    } else {
        for_each_broadcast(out, sa, sb, |k, i, j| o[k] = f(a[i], b[j]));
    }
    o
}

/// The reference of [`broadcast_zip`]: the odometer over the broadcast strides.
#[cfg(test)]
fn broadcast_zip_reference(
    out: &[usize],
    (a, sa): (&[f32], &[usize]),
    (b, sb): (&[f32], &[usize]),
    f: impl Fn(f32, f32) -> f32,
) -> Vec<f32> {
    let mut o = vec![0.0f32; numel(out)];
    for_each_broadcast(out, sa, sb, |k, i, j| o[k] = f(a[i], b[j]));
    o
}

/// Sums a gradient of shape `out` down to the operand shape `target` it was broadcast from
/// (a [`Block`] operand sums runs of `inner` values, or adds rows of `len`).
pub(crate) fn sum_to(g: Vec<f32>, out: &[usize], target: &[usize]) -> Vec<f32> {
    if out == target {
        return g;
    }
    let mut acc = vec![0.0f32; numel(target)];
    if g.is_empty() {
        return acc;
    }
    match block_of(target, out) {
        Some(b) if b.inner == 1 => {
            for row in g.chunks(b.len) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
        }
        Some(b) => {
            let [sums] = channel_sums(&g, &g, b.len, b.inner, |_, v, _| [v]);
            acc.iter_mut().zip(&sums).for_each(|(a, &s)| *a = s as f32);
        }
        None => for_each_broadcast(out, target, target, |o, t, _| acc[t] += g[o]),
    }
    acc
}

/// The reference of [`sum_to`]: every element added into its target in order.
#[cfg(test)]
fn sum_to_reference(g: &[f32], out: &[usize], target: &[usize]) -> Vec<f32> {
    let mut acc = vec![0.0f32; numel(target)];
    for_each_broadcast(out, target, target, |o, t, _| acc[t] += g[o]);
    acc
}

#[derive(Clone, Copy)]
enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

fn binary(op: &'static str, kind: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out_shape = broadcast_shape(op, a.shape(), b.shape())?;
    let out = {
        let (ad, bd) = (a.data(), b.data());
        let (a, b) = ((&ad[..], a.shape()), (&bd[..], b.shape()));
        // One loop per kind, so that each compiles to straight vector code.
        match kind {
            Binary::Add => broadcast_zip(&out_shape, a, b, |x, y| x + y),
            Binary::Sub => broadcast_zip(&out_shape, a, b, |x, y| x - y),
            Binary::Mul => broadcast_zip(&out_shape, a, b, |x, y| x * y),
            Binary::Div => broadcast_zip(&out_shape, a, b, |x, y| x / y),
        }
    };
    let (ac, bc, os) = (a.clone(), b.clone(), out_shape.clone());
    Ok(Tensor::from_op(
        op,
        out_shape,
        out,
        &[a, b],
        move |g, needs| {
            let (ad, bd) = (ac.data(), bc.data());
            let (a, b, g) = ((&ad[..], ac.shape()), (&bd[..], bc.shape()), (g, &os[..]));
            // ∂loss/∂a and ∂loss/∂b per output element, then summed over broadcast dimensions.
            let ga = needs[0].then(|| match kind {
                Binary::Add | Binary::Sub => g.0.to_vec(),
                Binary::Mul => broadcast_zip(&os, g, b, |g, y| g * y), // ∂(x·y)/∂x = y
                Binary::Div => broadcast_zip(&os, g, b, |g, y| g / y), // ∂(x/y)/∂x = 1/y
            });
            let gb = needs[1].then(|| match kind {
                Binary::Add => g.0.to_vec(),
                Binary::Sub => g.0.iter().map(|&g| -g).collect(),
                Binary::Mul => broadcast_zip(&os, g, a, |g, x| g * x), // ∂(x·y)/∂y = x
                Binary::Div => {
                    // ∂(x/y)/∂y = −x/y²
                    let gx = broadcast_zip(&os, g, a, |g, x| g * x);
                    broadcast_zip(&os, (&gx, &os), b, |gx, y| -gx / (y * y))
                }
            });
            Ok(vec![
                ga.map(|ga| sum_to(ga, &os, ac.shape())),
                gb.map(|gb| sum_to(gb, &os, bc.shape())),
            ])
        },
    ))
}

/// A unary elementwise op whose derivative is written in terms of its input `x`.
pub(crate) fn unary(
    op: &'static str,
    x: &Tensor,
    f: impl Fn(f32) -> f32 + Sync,
    df: impl Fn(f32) -> f32 + Send + Sync + 'static,
) -> Tensor {
    let out = par::map(&x.data(), f);
    let xc = x.clone();
    Tensor::from_op(op, x.shape().to_vec(), out, &[x], move |g, _| {
        // ∂loss/∂x = g · f'(x)
        Ok(vec![Some(par::zip_map(g, &xc.data(), |g, x| g * df(x)))])
    })
}

/// A unary elementwise op whose derivative is written in terms of its output `y`
/// (tanh, sigmoid, exp, sqrt), which it keeps for the backward pass.
pub(crate) fn unary_of_output(
    op: &'static str,
    x: &Tensor,
    f: impl Fn(f32) -> f32 + Sync,
    df: impl Fn(f32) -> f32 + Send + Sync + 'static,
) -> Tensor {
    let out = par::map(&x.data(), f);
    let y = out.clone();
    Tensor::from_op(op, x.shape().to_vec(), out, &[x], move |g, _| {
        // ∂loss/∂x = g · f'(x), with f'(x) a function of y = f(x)
        Ok(vec![Some(par::zip_map(g, &y, |g, y| g * df(y)))])
    })
}

impl Tensor {
    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        binary("add", Binary::Add, self, other)
    }

    /// `self − other`, broadcasting.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        binary("sub", Binary::Sub, self, other)
    }

    /// `self · other` elementwise, broadcasting.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        binary("mul", Binary::Mul, self, other)
    }

    /// `self / other` elementwise, broadcasting.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        binary("div", Binary::Div, self, other)
    }

    /// `−self`.
    pub fn neg(&self) -> Tensor {
        self.scale(-1.0)
    }

    /// `c · self`.
    pub fn scale(&self, c: f32) -> Tensor {
        unary("scale", self, |x| c * x, move |_| c)
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: f32) -> Tensor {
        unary("add_scalar", self, |x| x + c, |_| 1.0)
    }

    /// `self · scale[c] + shift[c]` for every channel `c` of `self [n, c, …]`, with `scale`
    /// and `shift` of shape `[c]`: an affine map per channel (LeNet-5's subsampling
    /// coefficients, batch norm's γ and β) in one pass where `mul` then `add` take two.
    pub fn channel_affine(&self, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
        const OP: &str = "channel_affine";
        let c = scale.numel();
        if self.ndim() < 2 || self.dim(1) != c || scale.shape() != [c] || shift.shape() != [c] {
            return Err(Error::shape(
                OP,
                format!(
                    "input [n, c, …] needs scale and shift of shape [c]; got input {:?}, scale {:?}, shift {:?}",
                    self.shape(),
                    scale.shape(),
                    shift.shape()
                ),
            ));
        }
        let inner = numel(&self.shape()[2..]);
        let y = {
            let (x, s, t) = (self.data(), scale.data(), shift.data());
            let mut y = vec![0.0f32; x.len()];
            par::for_pieces(&mut y, inner.max(1), |off, y| {
                let x = &x[off..off + y.len()];
                for (p, (y, x)) in y.chunks_mut(inner).zip(x.chunks(inner)).enumerate() {
                    let ch = (off / inner + p) % c;
                    let (s, t) = (s[ch], t[ch]);
                    y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * s + t);
                }
            });
            y
        };
        let (xc, sc) = (self.clone(), scale.clone());
        Ok(Tensor::from_op(
            OP,
            self.shape().to_vec(),
            y,
            &[self, scale, shift],
            move |g, needs| {
                let (x, s) = (xc.data(), sc.data());
                // ∂/∂x = g·scale[c]; ∂/∂scale[c] = Σ g·x; ∂/∂shift[c] = Σ g (over n and pixels)
                let gx = needs[0].then(|| {
                    let mut gx = vec![0.0f32; g.len()];
                    par::for_pieces(&mut gx, inner.max(1), |off, gx| {
                        let g = &g[off..off + gx.len()];
                        for (p, (gx, g)) in gx.chunks_mut(inner).zip(g.chunks(inner)).enumerate() {
                            let sc = s[(off / inner + p) % c];
                            gx.iter_mut().zip(g).for_each(|(gx, &g)| *gx = g * sc);
                        }
                    });
                    gx
                });
                let [gs, gt] = if needs[1] || needs[2] {
                    channel_sums(g, &x, c, inner, |_, g, x| [g * x, g])
                        .map(|s| s.iter().map(|&v| v as f32).collect())
                } else {
                    [vec![], vec![]]
                };
                Ok(vec![gx, needs[1].then_some(gs), needs[2].then_some(gt)])
            },
        ))
    }

    /// `self²` elementwise.
    pub fn square(&self) -> Tensor {
        unary("square", self, |x| x * x, |x| 2.0 * x)
    }

    /// `√self` elementwise.
    pub fn sqrt(&self) -> Tensor {
        unary_of_output("sqrt", self, f32::sqrt, |y| 0.5 / y)
    }

    /// `eˢᵉˡᶠ` elementwise.
    pub fn exp(&self) -> Tensor {
        unary_of_output("exp", self, f32::exp, |y| y)
    }

    /// `ln(self)` elementwise.
    pub fn ln(&self) -> Tensor {
        unary("ln", self, f32::ln, |x| 1.0 / x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Rng;

    /// The [`Block`] fast paths of [`broadcast_zip`] and [`sum_to`] equal the reference
    /// odometer for every kind of operand: same shape, per channel (with and without the
    /// leading 1), trailing vector, a single value, size-1 output dimensions in between, and
    /// shapes that need the reference (non-contiguous or both operands broadcast).
    #[test]
    fn block_fast_paths_equal_the_reference() {
        let cases: &[(&[usize], &[usize], Option<Block>)] = &[
            (
                &[2, 3, 4, 5],
                &[2, 3, 4, 5],
                Some(Block { len: 120, inner: 1 }),
            ),
            (
                &[2, 3, 4, 5],
                &[1, 3, 1, 1],
                Some(Block { len: 3, inner: 20 }),
            ),
            (&[2, 3, 4, 5], &[3, 1, 1], Some(Block { len: 3, inner: 20 })),
            (&[2, 3, 4, 5], &[5], Some(Block { len: 5, inner: 1 })),
            (&[2, 3, 4, 5], &[4, 1], Some(Block { len: 4, inner: 5 })),
            (
                &[2, 3, 4, 5],
                &[2, 1, 1, 1],
                Some(Block { len: 2, inner: 60 }),
            ),
            (&[2, 3, 4, 5], &[1], Some(Block { len: 1, inner: 120 })),
            (&[2, 3, 4, 5], &[], Some(Block { len: 1, inner: 120 })),
            (
                &[2, 1, 4, 5],
                &[2, 1, 4, 1],
                Some(Block { len: 8, inner: 5 }),
            ),
            (&[2, 3, 1, 5], &[3, 1, 5], Some(Block { len: 15, inner: 1 })),
            (&[2, 3, 4, 5], &[3, 1, 5], None),
            (&[2, 3, 4, 5], &[2, 1, 4, 1], None),
        ];
        let mut rng = Rng::seed(7);
        for &(full, part, block) in cases {
            assert_eq!(block_of(part, full), block, "{part:?} against {full:?}");
            let x = Tensor::randn(full, 0.0, 1.0, &mut rng).to_vec();
            let y = Tensor::randn(part, 0.0, 1.0, &mut rng).to_vec();
            let f = |a: f32, b: f32| a * 3.0 - b / 2.0;
            let (xs, ys) = ((&x[..], full), (&y[..], part));
            assert_eq!(
                broadcast_zip(full, xs, ys, f),
                broadcast_zip_reference(full, xs, ys, f),
                "{full:?} with {part:?}"
            );
            assert_eq!(
                broadcast_zip(full, ys, xs, f),
                broadcast_zip_reference(full, ys, xs, f),
                "{part:?} with {full:?}"
            );
            let (fast, reference) = (
                sum_to(x.clone(), full, part),
                sum_to_reference(&x, full, part),
            );
            crate::testing::assert_close("sum_to", &fast, &reference, 1e-5, 1e-5).unwrap();
        }
        // both operands broadcast: the reference path
        let (a, b) = ([1.0, 2.0], [10.0, 20.0, 30.0]);
        let out = broadcast_zip(&[2, 3], (&a, &[2, 1]), (&b, &[3]), |x, y| x + y);
        assert_eq!(out, [11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
    }
}
