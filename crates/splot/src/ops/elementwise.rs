//! Elementwise arithmetic with NumPy/PyTorch broadcasting (so a `[C, 1, 1]` or
//! `[1, C, 1, 1]` tensor acts per channel on `[N, C, H, W]`), and scalar arithmetic.
//!
//! Legend: `a`, `b` the operands, `out` the result, `g` = ∂loss/∂out.
//! Backward of a broadcast operand sums `g·∂out/∂operand` over the broadcast dimensions.

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

/// Sums a gradient of shape `out` down to the operand shape `target` it was broadcast from.
fn sum_to(g: &[f32], out: &[usize], target: &[usize]) -> Vec<f32> {
    if out == target {
        return g.to_vec();
    }
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
    let mut out = vec![0.0f32; numel(&out_shape)];
    {
        let (ad, bd) = (a.data(), b.data());
        let f = |x: f32, y: f32| match kind {
            Binary::Add => x + y,
            Binary::Sub => x - y,
            Binary::Mul => x * y,
            Binary::Div => x / y,
        };
        if a.shape() == b.shape() {
            out.iter_mut()
                .zip(ad.iter().zip(bd.iter()))
                .for_each(|(o, (&x, &y))| *o = f(x, y));
        } else {
            for_each_broadcast(&out_shape, a.shape(), b.shape(), |o, i, j| {
                out[o] = f(ad[i], bd[j])
            });
        }
    }
    let (ac, bc, os) = (a.clone(), b.clone(), out_shape.clone());
    Ok(Tensor::from_op(
        op,
        out_shape,
        out,
        &[a, b],
        move |g, needs| {
            let (ad, bd) = (ac.data(), bc.data());
            let (sa, sb) = (ac.shape(), bc.shape());
            // Per output element: ∂out/∂a and ∂out/∂b.
            let mut ga = needs[0].then(|| vec![0.0f32; numel(&os)]);
            let mut gb = needs[1].then(|| vec![0.0f32; numel(&os)]);
            for_each_broadcast(&os, sa, sb, |o, i, j| {
                let (da, db) = match kind {
                    Binary::Add => (1.0, 1.0),
                    Binary::Sub => (1.0, -1.0),
                    Binary::Mul => (bd[j], ad[i]),
                    Binary::Div => (1.0 / bd[j], -ad[i] / (bd[j] * bd[j])),
                };
                if let Some(ga) = ga.as_mut() {
                    ga[o] = g[o] * da;
                }
                if let Some(gb) = gb.as_mut() {
                    gb[o] = g[o] * db;
                }
            });
            Ok(vec![
                ga.map(|ga| sum_to(&ga, &os, sa)),
                gb.map(|gb| sum_to(&gb, &os, sb)),
            ])
        },
    ))
}

/// A unary elementwise op with its derivative written in terms of input `x` and output `y`.
pub(crate) fn unary(
    op: &'static str,
    x: &Tensor,
    f: impl Fn(f32) -> f32,
    df: impl Fn(f32, f32) -> f32 + Send + Sync + 'static,
) -> Tensor {
    let out: Vec<f32> = x.data().iter().map(|&v| f(v)).collect();
    let out_kept = out.clone();
    let xc = x.clone();
    Tensor::from_op(op, x.shape().to_vec(), out, &[x], move |g, _| {
        let xd = xc.data();
        // ∂loss/∂x = g · f'(x)
        let gx = g
            .iter()
            .zip(xd.iter().zip(&out_kept))
            .map(|(&g, (&x, &y))| g * df(x, y))
            .collect();
        Ok(vec![Some(gx)])
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
        unary("scale", self, |x| c * x, move |_, _| c)
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: f32) -> Tensor {
        unary("add_scalar", self, |x| x + c, |_, _| 1.0)
    }

    /// `self²` elementwise.
    pub fn square(&self) -> Tensor {
        unary("square", self, |x| x * x, |x, _| 2.0 * x)
    }

    /// `√self` elementwise.
    pub fn sqrt(&self) -> Tensor {
        unary("sqrt", self, f32::sqrt, |_, y| 0.5 / y)
    }

    /// `eˢᵉˡᶠ` elementwise.
    pub fn exp(&self) -> Tensor {
        unary("exp", self, f32::exp, |_, y| y)
    }

    /// `ln(self)` elementwise.
    pub fn ln(&self) -> Tensor {
        unary("ln", self, f32::ln, |x, _| 1.0 / x)
    }
}
