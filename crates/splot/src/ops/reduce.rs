//! Reductions: sum and mean of everything or along an axis, max and arg-max along an axis,
//! log-sum-exp along an axis.
//!
//! Legend: a tensor is seen as `[outer, len, inner]` around the reduced axis.
//! Backward: sum spreads `g` to every element, mean spreads `g/len`, max routes `g` to the
//! arg-max (the first maximum, so ties are deterministic), log-sum-exp spreads `g` by the
//! softmax along the axis.

use crate::error::{Error, Result};
use crate::tensor::{numel, Tensor};

/// `(outer, len, inner)` of a shape around `axis`.
pub(crate) fn split_at_axis(
    op: &'static str,
    shape: &[usize],
    axis: usize,
) -> Result<(usize, usize, usize)> {
    if axis >= shape.len() {
        return Err(Error::shape(
            op,
            format!("axis {axis} is out of range for shape {shape:?}"),
        ));
    }
    Ok((
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    ))
}

fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

impl Tensor {
    /// Sum of all elements (a scalar).
    pub fn sum_all(&self) -> Tensor {
        let s: f64 = self.data().iter().map(|&v| v as f64).sum();
        let n = self.numel();
        Tensor::from_op("sum_all", vec![], vec![s as f32], &[self], move |g, _| {
            Ok(vec![Some(vec![g[0]; n])])
        })
    }

    /// Mean of all elements (a scalar).
    pub fn mean_all(&self) -> Tensor {
        self.sum_all().scale(1.0 / self.numel().max(1) as f32)
    }

    /// Sum along `axis`; `keepdim` keeps it with size 1.
    pub fn sum(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let (outer, len, inner) = split_at_axis("sum", self.shape(), axis)?;
        let mut out = vec![0.0f32; outer * inner];
        {
            let x = self.data();
            for o in 0..outer {
                for l in 0..len {
                    let src = &x[(o * len + l) * inner..][..inner];
                    out[o * inner..][..inner]
                        .iter_mut()
                        .zip(src)
                        .for_each(|(a, b)| *a += b);
                }
            }
        }
        let shape = reduced_shape(self.shape(), axis, keepdim);
        Ok(Tensor::from_op("sum", shape, out, &[self], move |g, _| {
            // ∂out[o,i]/∂x[o,l,i] = 1
            let mut gx = vec![0.0f32; outer * len * inner];
            for o in 0..outer {
                for l in 0..len {
                    gx[(o * len + l) * inner..][..inner].copy_from_slice(&g[o * inner..][..inner]);
                }
            }
            Ok(vec![Some(gx)])
        }))
    }

    /// Mean along `axis`; `keepdim` keeps it with size 1.
    pub fn mean(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let len = split_at_axis("mean", self.shape(), axis)?.1;
        Ok(self.sum(axis, keepdim)?.scale(1.0 / len.max(1) as f32))
    }

    /// Maximum along `axis` (differentiable: the gradient goes to the first arg-max).
    pub fn max(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let (outer, len, inner) = split_at_axis("max", self.shape(), axis)?;
        if len == 0 {
            return Err(Error::shape(
                "max",
                format!("axis {axis} of shape {:?} is empty", self.shape()),
            ));
        }
        let arg = self.argmax(axis)?;
        let out: Vec<f32> = {
            let x = self.data();
            (0..outer * inner)
                .map(|j| x[((j / inner) * len + arg[j]) * inner + j % inner])
                .collect()
        };
        let shape = reduced_shape(self.shape(), axis, keepdim);
        Ok(Tensor::from_op("max", shape, out, &[self], move |g, _| {
            // ∂out[o,i]/∂x[o,l,i] = 1 where l is the arg-max, else 0
            let mut gx = vec![0.0f32; outer * len * inner];
            for (j, &l) in arg.iter().enumerate() {
                gx[((j / inner) * len + l) * inner + j % inner] += g[j];
            }
            Ok(vec![Some(gx)])
        }))
    }

    /// Index of the first maximum along `axis`, for every other index (row-major, the shape
    /// with `axis` removed). NaN counts as larger than any number.
    pub fn argmax(&self, axis: usize) -> Result<Vec<usize>> {
        let (outer, len, inner) = split_at_axis("argmax", self.shape(), axis)?;
        if len == 0 {
            return Err(Error::shape(
                "argmax",
                format!("axis {axis} of shape {:?} is empty", self.shape()),
            ));
        }
        let x = self.data();
        Ok((0..outer * inner)
            .map(|j| {
                let (o, i) = (j / inner, j % inner);
                let mut best = 0;
                for l in 1..len {
                    let (v, b) = (
                        x[(o * len + l) * inner + i],
                        x[(o * len + best) * inner + i],
                    );
                    if v > b || (v.is_nan() && !b.is_nan()) {
                        best = l;
                    }
                }
                best
            })
            .collect())
    }

    /// `ln Σ_l e^{x_l}` along `axis` (`torch.logsumexp`), computed stably as
    /// `m + ln Σ_l e^{x_l − m}` with `m` the maximum (so large values do not overflow; an
    /// axis of `−∞` gives `−∞`, an empty axis `−∞`); `keepdim` keeps the axis with size 1.
    /// Backward: `∂out/∂x_l = e^{x_l − out}` (the softmax along the axis).
    pub fn logsumexp(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let (outer, len, inner) = split_at_axis("logsumexp", self.shape(), axis)?;
        let mut out = vec![f32::NEG_INFINITY; outer * inner];
        {
            let x = self.data();
            for o in 0..outer {
                let (row, res) = (
                    &x[o * len * inner..][..len * inner],
                    &mut out[o * inner..][..inner],
                );
                // the maximum of each column, then Σ e^{x − max}, in inner-contiguous passes
                for l in 0..len {
                    res.iter_mut()
                        .zip(&row[l * inner..][..inner])
                        .for_each(|(m, &v)| *m = m.max(v));
                }
                // an infinite maximum shifts by 0: ±∞ and NaN come out as torch gives them
                let shift: Vec<f32> = res
                    .iter()
                    .map(|&m| if m.is_finite() { m } else { 0.0 })
                    .collect();
                let mut sum = vec![0.0f32; inner];
                for l in 0..len {
                    sum.iter_mut()
                        .zip(&row[l * inner..][..inner])
                        .zip(&shift)
                        .for_each(|((s, &v), &m)| *s += (v - m).exp());
                }
                res.iter_mut()
                    .zip(sum.iter().zip(&shift))
                    .for_each(|(r, (&s, &m))| *r = m + s.ln());
            }
        }
        let shape = reduced_shape(self.shape(), axis, keepdim);
        let (xc, lse) = (self.clone(), out.clone());
        Ok(Tensor::from_op(
            "logsumexp",
            shape,
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x[o,l,i] = g[o,i] · e^{x[o,l,i] − out[o,i]}
                let x = xc.data();
                let mut gx = vec![0.0f32; outer * len * inner];
                for o in 0..outer {
                    let (g, lse) = (&g[o * inner..][..inner], &lse[o * inner..][..inner]);
                    for l in 0..len {
                        let at = (o * len + l) * inner;
                        gx[at..at + inner]
                            .iter_mut()
                            .zip(&x[at..at + inner])
                            .zip(g.iter().zip(lse))
                            .for_each(|((d, &v), (&g, &s))| *d = g * (v - s).exp());
                    }
                }
                Ok(vec![Some(gx)])
            },
        ))
    }
}
