//! Indexing ops: picking along an axis (`index_select`, `gather`), adding into positions
//! (`index_add`, `scatter_add`), looking up rows (`embedding`), and choosing by a mask
//! (`where_`, `masked_fill`), all with PyTorch's semantics.
//!
//! Legend: around `axis` a tensor is `[outer, len, inner]`; `k` picks along the axis; an
//! [`Indices`] is a shape with one `usize` per element (an `index` tensor of torch), a
//! [`Mask`] is a shape with one `bool` per element. `V` rows of `D` values make an embedding
//! table. Backward: what a forward reads from a position, the backward adds into it
//! (`gather` ↔ `scatter_add`, `index_select` ↔ `index_add`); a mask routes `g` to the
//! operand it chose.
//!
//! Index arguments: a 1-d list along one axis is a plain `&[usize]` (`index_select`,
//! `index_add`); an index with a shape of its own is an [`Indices`] (`gather`,
//! `scatter_add`, `embedding`), made from values and a shape or from a tensor of whole
//! numbers (the ids of a batch, as a data loader gives them).

use super::elementwise::{broadcast_shape, sum_to};
use super::reduce::split_at_axis;
use super::shape::expand_values;
use crate::cpu::par;
use crate::error::{Error, Result};
use crate::tensor::{numel, strides, Tensor};
use std::borrow::Cow;

/// Integer indices with a shape (torch's `LongTensor` index arguments), row-major.
///
/// ```
/// use splot::{Indices, Tensor};
/// let ids = Indices::new(vec![2, 0, 1, 1], &[2, 2])?;
/// assert_eq!(ids.shape(), &[2, 2]);
/// let same = Indices::from_tensor(&Tensor::from_vec(vec![2., 0., 1., 1.], &[2, 2])?)?;
/// assert_eq!(ids, same);
/// let row = Indices::from(vec![3, 1]); // 1-d, shape [2]
/// assert_eq!(row.shape(), &[2]);
/// # Ok::<(), splot::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indices {
    values: Vec<usize>,
    shape: Vec<usize>,
}

impl Indices {
    /// Indices of `shape`, checking that `values.len()` is the product of `shape`.
    pub fn new(values: Vec<usize>, shape: &[usize]) -> Result<Indices> {
        if values.len() != numel(shape) {
            return Err(Error::shape(
                "Indices::new",
                format!(
                    "shape {shape:?} holds {} indices but {} were given",
                    numel(shape),
                    values.len()
                ),
            ));
        }
        Ok(Indices {
            values,
            shape: shape.to_vec(),
        })
    }

    /// The values of a tensor of whole non-negative numbers (class ids, token ids) as
    /// indices of the same shape; any other value is an error.
    pub fn from_tensor(t: &Tensor) -> Result<Indices> {
        let d = t.data();
        let values = d
            .iter()
            .map(|&v| {
                // below 2²⁴ every whole number is exact in f32
                (v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0)
                    .then_some(v as usize)
                    .ok_or_else(|| {
                        Error::shape(
                            "Indices::from_tensor",
                            format!(
                                "value {v} of a tensor of shape {:?} is not a whole number in 0..2^24",
                                t.shape()
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Indices::new(values, t.shape())
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn values(&self) -> &[usize] {
        &self.values
    }

    /// Number of indices.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no indices.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl From<Vec<usize>> for Indices {
    /// 1-d indices.
    fn from(values: Vec<usize>) -> Indices {
        let shape = vec![values.len()];
        Indices { values, shape }
    }
}

impl From<&[usize]> for Indices {
    /// 1-d indices.
    fn from(values: &[usize]) -> Indices {
        Indices::from(values.to_vec())
    }
}

/// A boolean mask with a shape (torch's `BoolTensor`), row-major; broadcast against the
/// tensors it selects from as PyTorch broadcasts.
///
/// ```
/// use splot::{Mask, Tensor};
/// let x = Tensor::from_vec(vec![-1., 2., -3.], &[3])?;
/// let positive = Mask::from_fn(&x, |v| v > 0.0);
/// assert_eq!(positive, Mask::from(vec![false, true, false]));
/// assert_eq!(x.masked_fill(&positive, 0.0)?.to_vec(), [-1., 0., -3.]);
/// # Ok::<(), splot::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    values: Vec<bool>,
    shape: Vec<usize>,
}

impl Mask {
    /// A mask of `shape`, checking that `values.len()` is the product of `shape`.
    pub fn new(values: Vec<bool>, shape: &[usize]) -> Result<Mask> {
        if values.len() != numel(shape) {
            return Err(Error::shape(
                "Mask::new",
                format!(
                    "shape {shape:?} holds {} values but {} were given",
                    numel(shape),
                    values.len()
                ),
            ));
        }
        Ok(Mask {
            values,
            shape: shape.to_vec(),
        })
    }

    /// `true` where the tensor is nonzero (NaN included), as `tensor.bool()`.
    pub fn from_tensor(t: &Tensor) -> Mask {
        Mask::from_fn(t, |v| v != 0.0)
    }

    /// `pred(v)` for every value `v` of a tensor, in its shape (`x > 0` is
    /// `Mask::from_fn(&x, |v| v > 0.0)`).
    pub fn from_fn(t: &Tensor, pred: impl Fn(f32) -> bool) -> Mask {
        Mask {
            values: t.data().iter().map(|&v| pred(v)).collect(),
            shape: t.shape().to_vec(),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn values(&self) -> &[bool] {
        &self.values
    }
}

impl From<Vec<bool>> for Mask {
    /// A 1-d mask.
    fn from(values: Vec<bool>) -> Mask {
        let shape = vec![values.len()];
        Mask { values, shape }
    }
}

impl From<&[bool]> for Mask {
    /// A 1-d mask.
    fn from(values: &[bool]) -> Mask {
        Mask::from(values.to_vec())
    }
}

/// The values broadcast to `out`, borrowed when the shape already is `out`.
fn broadcast_to<'a, T: Copy + Default + Send + Sync>(
    op: &'static str,
    values: &'a [T],
    shape: &[usize],
    out: &[usize],
) -> Result<Cow<'a, [T]>> {
    if shape == out {
        Ok(Cow::Borrowed(values))
    } else {
        expand_values(op, values, shape, out).map(Cow::Owned)
    }
}

/// For every element of an index of shape `ishape` (row-major), the flat offset
/// `Σ_d i[d]·view_strides[d]` of its multi-index `i`.
fn offsets(ishape: &[usize], view_strides: &[usize]) -> Vec<usize> {
    let total = numel(ishape);
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return out;
    }
    let nd = ishape.len();
    let mut idx = vec![0usize; nd];
    let mut at = 0usize;
    for _ in 0..total {
        out.push(at);
        for d in (0..nd).rev() {
            idx[d] += 1;
            at += view_strides[d];
            if idx[d] < ishape[d] {
                break;
            }
            at -= ishape[d] * view_strides[d];
            idx[d] = 0;
        }
    }
    out
}

/// The offsets into a tensor of shape `xshape` that `index` points at along `axis`
/// (`x[i₀, …, index[i], …]` for every multi-index `i` of the index), after checking
/// torch.gather's rules: the same number of dimensions, no index dimension larger than the
/// tensor's outside `axis`, every value below the axis' size.
fn index_offsets(
    op: &'static str,
    xshape: &[usize],
    axis: usize,
    index: &Indices,
) -> Result<Vec<usize>> {
    let ishape = index.shape();
    split_at_axis(op, xshape, axis)?;
    let fits = ishape.len() == xshape.len()
        && ishape
            .iter()
            .zip(xshape)
            .enumerate()
            .all(|(d, (&i, &x))| d == axis || i <= x);
    if !fits {
        return Err(Error::shape(
            op,
            format!("index of shape {ishape:?} does not fit tensor {xshape:?} at axis {axis}: it needs as many dimensions, none larger outside axis {axis}"),
        ));
    }
    let len = xshape[axis];
    if let Some(&bad) = index.values().iter().find(|&&v| v >= len) {
        return Err(Error::shape(
            op,
            format!("index {bad} is out of range for axis {axis} of shape {xshape:?}"),
        ));
    }
    let xs = strides(xshape);
    let mut view = xs.clone();
    view[axis] = 0;
    let mut off = offsets(ishape, &view);
    off.iter_mut()
        .zip(index.values())
        .for_each(|(o, &v)| *o += v * xs[axis]);
    Ok(off)
}

/// Values per run of a parallel gather.
const RUN: usize = 1 << 12;

/// `out[e] = x[at[e]]`, on the pool when large.
fn gather_at(x: &[f32], at: &[usize]) -> Vec<f32> {
    par::collect_runs(at.len(), RUN, |r| {
        at[r * RUN..].iter().take(RUN).map(|&o| x[o])
    })
}

impl Tensor {
    /// Picks entries `indices` along `axis` (PyTorch's `index_select`); an index may repeat.
    /// Backward adds each output slice's gradient into the slice it was picked from.
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Tensor> {
        let (outer, len, inner) = split_at_axis("index_select", self.shape(), axis)?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::shape(
                "index_select",
                format!(
                    "index {bad} is out of range for axis {axis} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let picks = indices.to_vec();
        let k = picks.len();
        let mut out = vec![0.0f32; outer * k * inner];
        {
            let d = self.data();
            for o in 0..outer {
                for (j, &i) in picks.iter().enumerate() {
                    out[(o * k + j) * inner..][..inner]
                        .copy_from_slice(&d[(o * len + i) * inner..][..inner]);
                }
            }
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = k;
        Ok(Tensor::from_op(
            "index_select",
            shape,
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x[i] = Σ over the picks j with indices[j] = i of g[j]
                let mut gx = vec![0.0f32; outer * len * inner];
                for o in 0..outer {
                    for (j, &i) in picks.iter().enumerate() {
                        gx[(o * len + i) * inner..][..inner]
                            .iter_mut()
                            .zip(&g[(o * k + j) * inner..][..inner])
                            .for_each(|(a, b)| *a += b);
                    }
                }
                Ok(vec![Some(gx)])
            },
        ))
    }

    /// `self` with `src`'s slices added at entries `indices` of `axis` (PyTorch's
    /// `index_add`): `out[.., indices[j], ..] = self[.., indices[j], ..] + src[.., j, ..]`,
    /// repeated indices adding up. `src` has `self`'s shape with `indices.len()` entries
    /// along `axis`. Backward: `∂/∂self = g`, `∂/∂src = g` picked at `indices`.
    pub fn index_add(&self, axis: usize, indices: &[usize], src: &Tensor) -> Result<Tensor> {
        const OP: &str = "index_add";
        let (outer, len, inner) = split_at_axis(OP, self.shape(), axis)?;
        let k = indices.len();
        let mut want = self.shape().to_vec();
        want[axis] = k;
        if src.shape() != want {
            return Err(Error::shape(
                OP,
                format!(
                    "source must be {want:?} for {k} indices into axis {axis} of {:?}, got {:?}",
                    self.shape(),
                    src.shape()
                ),
            ));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::shape(
                OP,
                format!(
                    "index {bad} is out of range for axis {axis} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let picks = indices.to_vec();
        let mut out = self.to_vec();
        {
            let s = src.data();
            for o in 0..outer {
                for (j, &i) in picks.iter().enumerate() {
                    out[(o * len + i) * inner..][..inner]
                        .iter_mut()
                        .zip(&s[(o * k + j) * inner..][..inner])
                        .for_each(|(a, b)| *a += b);
                }
            }
        }
        Ok(Tensor::from_op(
            OP,
            self.shape().to_vec(),
            out,
            &[self, src],
            move |g, needs| {
                // ∂loss/∂self = g
                let gx = needs[0].then(|| g.to_vec());
                // ∂loss/∂src[o, j, i] = g[o, indices[j], i]
                let gs = needs[1].then(|| {
                    let mut gs = vec![0.0f32; outer * k * inner];
                    for o in 0..outer {
                        for (j, &i) in picks.iter().enumerate() {
                            gs[(o * k + j) * inner..][..inner]
                                .copy_from_slice(&g[(o * len + i) * inner..][..inner]);
                        }
                    }
                    gs
                });
                Ok(vec![gx, gs])
            },
        ))
    }

    /// Values along `axis` at the positions of `index` (`torch.gather`): for `axis = 1` of a
    /// 3-d tensor, `out[i][j][k] = self[i][index[i][j][k]][k]`. The output has the index's
    /// shape; the index has as many dimensions as `self`, none larger outside `axis`.
    /// Backward adds `g` into the positions read (a scatter-add).
    pub fn gather(&self, axis: usize, index: &Indices) -> Result<Tensor> {
        let at = index_offsets("gather", self.shape(), axis, index)?;
        let out = gather_at(&self.data(), &at);
        let n = self.numel();
        Ok(Tensor::from_op(
            "gather",
            index.shape().to_vec(),
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x[p] = Σ over the outputs e that read p (at[e] = p) of g[e]
                let mut gx = vec![0.0f32; n];
                at.iter().zip(g).for_each(|(&p, &g)| gx[p] += g);
                Ok(vec![Some(gx)])
            },
        ))
    }

    /// `self` with the values of `src` added at the positions of `index` along `axis`
    /// (`Tensor.scatter_add` of torch): for `axis = 1` of a 3-d tensor,
    /// `out[i][index[i][j][k]][k] += src[i][j][k]` for every position of the index. The
    /// index has as many dimensions as `self` and `src`, none larger than `src`'s, none
    /// larger than `self`'s outside `axis`. Backward: `∂/∂self = g`,
    /// `∂/∂src[i][j][k] = g[i][index[i][j][k]][k]` (zero where the index does not reach).
    pub fn scatter_add(&self, axis: usize, index: &Indices, src: &Tensor) -> Result<Tensor> {
        const OP: &str = "scatter_add";
        let at = index_offsets(OP, self.shape(), axis, index)?;
        let ishape = index.shape();
        let fits_src =
            ishape.len() == src.ndim() && ishape.iter().zip(src.shape()).all(|(i, s)| i <= s);
        if !fits_src {
            return Err(Error::shape(
                OP,
                format!(
                    "index of shape {ishape:?} does not fit source {:?}: it needs as many dimensions, none larger",
                    src.shape()
                ),
            ));
        }
        let from = offsets(ishape, &strides(src.shape()));
        let mut out = self.to_vec();
        {
            let s = src.data();
            at.iter().zip(&from).for_each(|(&p, &q)| out[p] += s[q]);
        }
        let src_len = src.numel();
        Ok(Tensor::from_op(
            OP,
            self.shape().to_vec(),
            out,
            &[self, src],
            move |g, needs| {
                // ∂loss/∂self = g
                let gx = needs[0].then(|| g.to_vec());
                // ∂loss/∂src[q] = g[p] for the index position that moves src[q] to p
                let gs = needs[1].then(|| {
                    let mut gs = vec![0.0f32; src_len];
                    at.iter().zip(&from).for_each(|(&p, &q)| gs[q] = g[p]);
                    gs
                });
                Ok(vec![gx, gs])
            },
        ))
    }

    /// Rows of an embedding table `weight [V, D]` for `ids` of any shape: the output is
    /// `[..ids.shape, D]` with `out[.., :] = weight[ids[..], :]` (`F.embedding`). With
    /// `padding_idx`, the rows looked up at that id receive no gradient (their output is
    /// still the row, which [`crate::nn::Embedding`] keeps at zero). Backward adds each
    /// output row's gradient into the row it was read from.
    pub fn embedding(weight: &Tensor, ids: &Indices, padding_idx: Option<usize>) -> Result<Tensor> {
        const OP: &str = "embedding";
        let &[v, d] = weight.shape() else {
            return Err(Error::shape(
                OP,
                format!("weight must be [V, D], got {:?}", weight.shape()),
            ));
        };
        if let Some(p) = padding_idx.filter(|&p| p >= v) {
            return Err(Error::config(
                OP,
                format!("padding index {p} is out of range for {v} embeddings"),
            ));
        }
        if let Some(&bad) = ids.values().iter().find(|&&i| i >= v) {
            return Err(Error::shape(
                OP,
                format!(
                    "id {bad} is out of range for {v} embeddings (weight {:?})",
                    weight.shape()
                ),
            ));
        }
        let picks = ids.values().to_vec();
        let mut out = vec![0.0f32; picks.len() * d];
        if d > 0 {
            let w = weight.data();
            par::for_pieces(&mut out, d, |off, out| {
                for (r, row) in out.chunks_mut(d).enumerate() {
                    let id = picks[off / d + r];
                    row.copy_from_slice(&w[id * d..][..d]);
                }
            });
        }
        let mut shape = ids.shape().to_vec();
        shape.push(d);
        Ok(Tensor::from_op(OP, shape, out, &[weight], move |g, _| {
            // ∂loss/∂weight[r] = Σ over the ids equal to r (r ≠ padding_idx) of g's row
            let mut gw = vec![0.0f32; v * d];
            if d > 0 {
                for (&id, gr) in picks.iter().zip(g.chunks(d)) {
                    if Some(id) != padding_idx {
                        gw[id * d..][..d]
                            .iter_mut()
                            .zip(gr)
                            .for_each(|(a, b)| *a += b);
                    }
                }
            }
            Ok(vec![Some(gw)])
        }))
    }

    /// `a` where `cond` holds, else `b` (`torch.where`), the three broadcast together.
    /// Backward: `∂/∂a = g` where `cond`, `∂/∂b = g` elsewhere, each summed over the
    /// dimensions its operand was broadcast along.
    pub fn where_(cond: &Mask, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        const OP: &str = "where";
        let out_shape = broadcast_shape(
            OP,
            &broadcast_shape(OP, cond.shape(), a.shape())?,
            b.shape(),
        )?;
        let c = broadcast_to(OP, cond.values(), cond.shape(), &out_shape)?.into_owned();
        let out: Vec<f32> = {
            let (ad, bd) = (a.data(), b.data());
            let av = broadcast_to(OP, &ad[..], a.shape(), &out_shape)?;
            let bv = broadcast_to(OP, &bd[..], b.shape(), &out_shape)?;
            c.iter()
                .zip(av.iter().zip(bv.iter()))
                .map(|(&c, (&x, &y))| if c { x } else { y })
                .collect()
        };
        let (sa, sb, os) = (a.shape().to_vec(), b.shape().to_vec(), out_shape.clone());
        Ok(Tensor::from_op(
            OP,
            out_shape,
            out,
            &[a, b],
            move |g, needs| {
                // ∂loss/∂a = g·[cond], ∂loss/∂b = g·[¬cond], summed to each operand's shape
                let pick = |keep: bool| {
                    let gp = g
                        .iter()
                        .zip(&c)
                        .map(|(&g, &c)| if c == keep { g } else { 0.0 })
                        .collect();
                    sum_to(gp, &os, if keep { &sa } else { &sb })
                };
                Ok(vec![
                    needs[0].then(|| pick(true)),
                    needs[1].then(|| pick(false)),
                ])
            },
        ))
    }

    /// `value` where `mask` holds, else `self` (`Tensor.masked_fill`); the mask is
    /// broadcast to `self`'s shape. Backward: `g` where the mask is false, zero where true.
    pub fn masked_fill(&self, mask: &Mask, value: f32) -> Result<Tensor> {
        const OP: &str = "masked_fill";
        let m = broadcast_to(OP, mask.values(), mask.shape(), self.shape())
            .map_err(|_| {
                Error::shape(
                    OP,
                    format!(
                        "mask of shape {:?} cannot be broadcast to the tensor's shape {:?}",
                        mask.shape(),
                        self.shape()
                    ),
                )
            })?
            .into_owned();
        let out = self
            .data()
            .iter()
            .zip(&m)
            .map(|(&x, &m)| if m { value } else { x })
            .collect();
        Ok(Tensor::from_op(
            OP,
            self.shape().to_vec(),
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x = g where the mask is false, 0 where it is true
                Ok(vec![Some(
                    g.iter()
                        .zip(&m)
                        .map(|(&g, &m)| if m { 0.0 } else { g })
                        .collect(),
                )])
            },
        ))
    }
}
