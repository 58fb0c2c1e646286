//! Shape ops: reshape, flatten, concatenation, stacking and split along an axis (channel
//! concat of Inception modules is `concat(.., 1)`), narrowing and strided slicing,
//! permutations and transposes, and broadcasting to a larger shape (`expand`).
//!
//! Legend: along `axis` a tensor is `[outer, len, inner]`; concat lays the parts' `len`s side
//! by side, stack puts `p` parts of shape `[outer, inner]` into `[outer, p, inner]`, a slice
//! keeps `k` of the `len` entries (`start, start + step, …`). `perm` maps output dimension
//! `d` to input dimension `perm[d]`; a strided view reads `src[Σ i[d]·stride[d]]` at the
//! multi-index `i`. Backward: reshape passes `g` through; concat and split, stack and the
//! slices of its output, slice and a zero-filled scatter are each other's backward; permute's
//! is the inverse permutation; expand's sums `g` over the broadcast dimensions.
//!
use super::elementwise::sum_to;
use super::reduce::split_at_axis;
use crate::cpu::par;
use crate::error::{Error, Result};
use crate::tensor::{numel, strides, Tensor};
use rayon::prelude::*;

impl Tensor {
    /// The same values with another shape of equal element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} elements) to {shape:?} ({} elements)",
                    self.shape(),
                    self.numel(),
                    numel(shape)
                ),
            ));
        }
        Ok(Tensor::from_op(
            "reshape",
            shape.to_vec(),
            self.to_vec(),
            &[self],
            |g, _| Ok(vec![Some(g.to_vec())]),
        ))
    }

    /// Flattens dimensions `start..` into one (`flatten(1)` turns `[N, C, H, W]` into
    /// `[N, C·H·W]`, as `torch.flatten(x, 1)`).
    pub fn flatten(&self, start: usize) -> Result<Tensor> {
        if start >= self.ndim().max(1) {
            return Err(Error::shape(
                "flatten",
                format!(
                    "start dimension {start} is out of range for shape {:?}",
                    self.shape()
                ),
            ));
        }
        let mut shape = self.shape()[..start].to_vec();
        shape.push(numel(&self.shape()[start..]));
        self.reshape(&shape)
    }

    /// Concatenates tensors along `axis`; all other dimensions must agree.
    pub fn concat(parts: &[&Tensor], axis: usize) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| Error::shape("concat", "needs at least one tensor"))?;
        let (outer, _, inner) = split_at_axis("concat", first.shape(), axis)?;
        let mut lens = Vec::with_capacity(parts.len());
        for p in parts {
            let same_rank = p.ndim() == first.ndim();
            let others_equal = same_rank
                && p.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            if !others_equal {
                let shapes: Vec<_> = parts.iter().map(|p| p.shape().to_vec()).collect();
                return Err(Error::shape(
                    "concat",
                    format!("shapes {shapes:?} differ outside axis {axis}"),
                ));
            }
            lens.push(p.shape()[axis]);
        }
        let total: usize = lens.iter().sum();
        let mut out = vec![0.0f32; outer * total * inner];
        let mut offset = 0;
        for (p, &len) in parts.iter().zip(&lens) {
            let d = p.data();
            for o in 0..outer {
                out[(o * total + offset) * inner..][..len * inner]
                    .copy_from_slice(&d[o * len * inner..][..len * inner]);
            }
            offset += len;
        }
        let mut shape = first.shape().to_vec();
        shape[axis] = total;
        Ok(Tensor::from_op(
            "concat",
            shape,
            out,
            parts,
            move |g, needs| {
                // ∂loss/∂part = the part's slice of g
                let mut grads = Vec::with_capacity(lens.len());
                let mut offset = 0;
                for (&len, &need) in lens.iter().zip(needs) {
                    grads.push(need.then(|| {
                        let mut gp = vec![0.0f32; outer * len * inner];
                        for o in 0..outer {
                            gp[o * len * inner..][..len * inner]
                                .copy_from_slice(&g[(o * total + offset) * inner..][..len * inner]);
                        }
                        gp
                    }));
                    offset += len;
                }
                Ok(grads)
            },
        ))
    }

    /// Splits along `axis` into parts of the given sizes, which must add up to the axis.
    pub fn split(&self, axis: usize, sizes: &[usize]) -> Result<Vec<Tensor>> {
        let (outer, total, inner) = split_at_axis("split", self.shape(), axis)?;
        if sizes.iter().sum::<usize>() != total {
            return Err(Error::shape(
                "split",
                format!(
                    "sizes {sizes:?} do not add up to axis {axis} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let mut parts = Vec::with_capacity(sizes.len());
        let mut offset = 0;
        for &len in sizes {
            let mut out = vec![0.0f32; outer * len * inner];
            {
                let d = self.data();
                for o in 0..outer {
                    out[o * len * inner..][..len * inner]
                        .copy_from_slice(&d[(o * total + offset) * inner..][..len * inner]);
                }
            }
            let mut shape = self.shape().to_vec();
            shape[axis] = len;
            let start = offset;
            parts.push(Tensor::from_op(
                "split",
                shape,
                out,
                &[self],
                move |g, _| {
                    // ∂loss/∂x is g placed in this part's slice, zero elsewhere
                    let mut gx = vec![0.0f32; outer * total * inner];
                    for o in 0..outer {
                        gx[(o * total + start) * inner..][..len * inner]
                            .copy_from_slice(&g[o * len * inner..][..len * inner]);
                    }
                    Ok(vec![Some(gx)])
                },
            ));
            offset += len;
        }
        Ok(parts)
    }
}

/// The contiguous copy of a strided view of `src`: element `i` (a multi-index of `shape`,
/// row-major) is `src[Σ_d i[d]·view_strides[d]]`. Permutations (permuted strides) and
/// broadcasts (stride 0) are such views. Dimensions that are contiguous in both orders are
/// merged first; each output row is a copy, a fill or a strided loop, and large outputs are
/// split across the pool in pieces of whole rows.
pub(crate) fn copy_view<T: Copy + Default + Send + Sync>(
    src: &[T],
    shape: &[usize],
    view_strides: &[usize],
) -> Vec<T> {
    let total = numel(shape);
    let mut out = vec![T::default(); total];
    if total == 0 {
        return out;
    }
    // merge: drop size-1 dimensions; join d with the next when stride[d] = stride[d+1]·n[d+1]
    let mut dims: Vec<(usize, usize)> = Vec::with_capacity(shape.len());
    for (&n, &s) in shape.iter().zip(view_strides) {
        if n == 1 {
            continue;
        }
        match dims.last_mut() {
            Some((pn, ps)) if *ps == s * n => {
                *pn *= n;
                *ps = s;
            }
            _ => dims.push((n, s)),
        }
    }
    let Some(&(row, step)) = dims.last() else {
        out[0] = src[0];
        return out;
    };
    let outer = &dims[..dims.len() - 1];
    if let Some(&(rows, 1)) = outer.last().filter(|_| step > 1 && row >= 8) {
        copy_transposed(src, &mut out, &outer[..outer.len() - 1], rows, (row, step));
        return out;
    }
    let fill_row = |o: &mut [T], at: usize| match step {
        1 => o.copy_from_slice(&src[at..at + row]),
        0 => o.fill(src[at]),
        _ => o
            .iter_mut()
            .enumerate()
            .for_each(|(j, v)| *v = src[at + j * step]),
    };
    let p = par::piece(total, row);
    out.par_chunks_mut(p).enumerate().for_each(|(k, piece)| {
        // the multi-index (over the outer dimensions) of this piece's first row
        let mut r = k * p / row;
        let mut idx = vec![0usize; outer.len()];
        let mut at = 0;
        for (d, &(n, s)) in outer.iter().enumerate().rev() {
            idx[d] = r % n;
            at += idx[d] * s;
            r /= n;
        }
        for o in piece.chunks_mut(row) {
            fill_row(o, at);
            for (d, &(n, s)) in outer.iter().enumerate().rev() {
                idx[d] += 1;
                at += s;
                if idx[d] < n {
                    break;
                }
                idx[d] = 0;
                at -= n * s;
            }
        }
    });
    out
}

/// Rows and columns of a tile of [`copy_transposed`] (32 × 64 f32 read through 128 cache
/// lines, well inside L1).
const TILE: (usize, usize) = (32, 64);

/// [`copy_view`] of a batch of transposes: the view's last two dimensions are `rows` with
/// stride 1 and `cols` with stride `col_stride` (`[n, c, h·w] → [n, h·w, c]` and back,
/// `[b, m, n] → [b, n, m]`), `outer` the dimensions before them. Row by row the reads would
/// be `col_stride` apart (a cache line per value); tile by tile each line read is used by
/// up to 16 rows.
fn copy_transposed<T: Copy + Send + Sync>(
    src: &[T],
    out: &mut [T],
    outer: &[(usize, usize)],
    rows: usize,
    (cols, col_stride): (usize, usize),
) {
    // the input offset of matrix `m` (a flat index over `outer`)
    let base = |mut m: usize| {
        let mut at = 0;
        for &(n, s) in outer.iter().rev() {
            at += (m % n) * s;
            m /= n;
        }
        at
    };
    let p = par::piece(out.len(), TILE.0 * cols);
    out.par_chunks_mut(p).enumerate().for_each(|(k, piece)| {
        let first = k * p / cols;
        let end = first + piece.len() / cols;
        let mut row = first;
        while row < end {
            // a block of up to TILE.0 rows inside one matrix
            let (m, r) = (row / rows, row % rows);
            let stop = end.min(row - r + rows).min(row + TILE.0);
            let at = base(m);
            for c0 in (0..cols).step_by(TILE.1) {
                let c1 = cols.min(c0 + TILE.1);
                for (i, rr) in (r..r + (stop - row)).enumerate() {
                    let o = &mut piece[(row - first + i) * cols..][c0..c1];
                    let from = at + rr;
                    for (c, v) in (c0..c1).zip(o.iter_mut()) {
                        *v = src[from + c * col_stride];
                    }
                }
            }
            row = stop;
        }
    });
}

/// The shape and input strides of `shape` broadcast to `target` (dimensions aligned from
/// the right; each equal, or 1 in `shape`, or missing in `shape`), as `torch.expand`.
fn expand_strides(op: &'static str, shape: &[usize], target: &[usize]) -> Result<Vec<usize>> {
    let lead = target.len().checked_sub(shape.len());
    let fits = lead.is_some_and(|lead| {
        shape
            .iter()
            .zip(&target[lead..])
            .all(|(&n, &t)| n == t || n == 1)
    });
    let Some(lead) = lead.filter(|_| fits) else {
        return Err(Error::shape(
            op,
            format!("cannot expand shape {shape:?} to {target:?}: each dimension must be equal or 1, and the target may only add dimensions in front"),
        ));
    };
    let s = strides(shape);
    Ok((0..target.len())
        .map(|d| {
            if d < lead || shape[d - lead] != target[d] {
                0
            } else {
                s[d - lead]
            }
        })
        .collect())
}

/// `src` (of shape `shape`) broadcast to `target`: a new contiguous vector.
pub(crate) fn expand_values<T: Copy + Default + Send + Sync>(
    op: &'static str,
    src: &[T],
    shape: &[usize],
    target: &[usize],
) -> Result<Vec<T>> {
    let view = expand_strides(op, shape, target)?;
    Ok(copy_view(src, target, &view))
}

/// Checks that `perm` is a permutation of `0..ndim`.
fn check_permutation(op: &'static str, shape: &[usize], perm: &[usize]) -> Result<()> {
    let mut seen = vec![false; shape.len()];
    let ok = perm.len() == shape.len()
        && perm
            .iter()
            .all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(Error::shape(
            op,
            format!(
                "{perm:?} is not a permutation of the {} dimensions of shape {shape:?}",
                shape.len()
            ),
        ));
    }
    Ok(())
}

impl Tensor {
    /// `len` entries of `axis` from `start` on (`torch.narrow`, `x[.., start:start+len]`).
    /// Backward places `g` in that range and zeros elsewhere.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        let n = split_at_axis("narrow", self.shape(), axis)?.1;
        if start.checked_add(len).is_none_or(|end| end > n) {
            return Err(Error::shape(
                "narrow",
                format!(
                    "entries {start}..{start}+{len} do not fit in axis {axis} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        self.strided_slice("narrow", axis, start, len, 1)
    }

    /// Entries `start, start + step, …` before `end` along `axis`, as Python's
    /// `x[.., start:end:step]`: `start` and `end` are clamped to the axis (so `end =
    /// usize::MAX` means "to the end"), and `start ≥ end` gives an empty axis. The output has
    /// `⌈(end − start)/step⌉` entries along `axis`; `step` must be positive.
    /// Backward places `g` at the picked entries and zeros elsewhere.
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let n = split_at_axis("slice", self.shape(), axis)?.1;
        if step == 0 {
            return Err(Error::config("slice", "step must be positive, got 0"));
        }
        let (start, end) = (start.min(n), end.min(n));
        let k = end.saturating_sub(start).div_ceil(step);
        self.strided_slice("slice", axis, start, k, step)
    }

    /// Entries `start + j·step`, `j < k`, of `axis` (all in range).
    fn strided_slice(
        &self,
        op: &'static str,
        axis: usize,
        start: usize,
        k: usize,
        step: usize,
    ) -> Result<Tensor> {
        let (outer, len, inner) = split_at_axis(op, self.shape(), axis)?;
        let mut out = vec![0.0f32; outer * k * inner];
        if inner > 0 {
            let x = self.data();
            for (r, o) in out.chunks_mut(inner).enumerate() {
                let (b, j) = (r / k, r % k);
                o.copy_from_slice(&x[(b * len + start + j * step) * inner..][..inner]);
            }
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = k;
        Ok(Tensor::from_op(op, shape, out, &[self], move |g, _| {
            // ∂loss/∂x[o, start + j·step, i] = g[o, j, i]; zero at the entries not picked
            let mut gx = vec![0.0f32; outer * len * inner];
            if inner > 0 {
                for (r, g) in g.chunks(inner).enumerate() {
                    let (b, j) = (r / k, r % k);
                    gx[(b * len + start + j * step) * inner..][..inner].copy_from_slice(g);
                }
            }
            Ok(vec![Some(gx)])
        }))
    }

    /// Reorders the dimensions: output dimension `d` is input dimension `perm[d]`
    /// (`torch.permute`; `[N, C, H, W].permute(&[0, 2, 3, 1])` is `[N, H, W, C]`). The
    /// result is a contiguous copy. Backward permutes `g` by the inverse permutation.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        check_permutation("permute", self.shape(), perm)?;
        let (shape, s) = (self.shape().to_vec(), strides(self.shape()));
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let view: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let out = copy_view(&self.data(), &out_shape, &view);
        // inverse: input dimension perm[d] is output dimension d
        let mut inverse = vec![0; perm.len()];
        perm.iter().enumerate().for_each(|(d, &p)| inverse[p] = d);
        let gs = strides(&out_shape);
        Ok(Tensor::from_op(
            "permute",
            out_shape,
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x[i] = g[i permuted]: g read through the inverse permutation
                let view: Vec<usize> = inverse.iter().map(|&d| gs[d]).collect();
                Ok(vec![Some(copy_view(g, &shape, &view))])
            },
        ))
    }

    /// Swaps dimensions `a` and `b` (`torch.transpose`; `[B, n, m] → [B, m, n]` with `1, 2`).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        let nd = self.ndim();
        if a >= nd || b >= nd {
            return Err(Error::shape(
                "transpose",
                format!(
                    "dimensions {a} and {b} must be below the {nd} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let mut perm: Vec<usize> = (0..nd).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Broadcasts to `shape` (`torch.expand`): dimensions are aligned from the right, each
    /// must be equal or 1 here, and `shape` may add dimensions in front. The result is a
    /// contiguous copy; backward sums `g` over the broadcast dimensions.
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        let out = expand_values("expand", &self.data(), self.shape(), shape)?;
        let (from, to) = (self.shape().to_vec(), shape.to_vec());
        Ok(Tensor::from_op(
            "expand",
            shape.to_vec(),
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x[j] = Σ of g over the outputs that read x[j]
                Ok(vec![Some(sum_to(g.to_vec(), &to, &from))])
            },
        ))
    }

    /// Stacks tensors of one shape along a new dimension `axis ≤ ndim` (`torch.stack`):
    /// `p` parts `[a, b]` give `[p, a, b]` at axis 0, `[a, p, b]` at axis 1.
    /// Backward hands each part its slice of `g`.
    pub fn stack(parts: &[&Tensor], axis: usize) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| Error::shape("stack", "needs at least one tensor"))?;
        let shape = first.shape().to_vec();
        if parts.iter().any(|p| p.shape() != shape) {
            let shapes: Vec<_> = parts.iter().map(|p| p.shape().to_vec()).collect();
            return Err(Error::shape(
                "stack",
                format!("all tensors must have one shape, got {shapes:?}"),
            ));
        }
        if axis > shape.len() {
            return Err(Error::shape(
                "stack",
                format!(
                    "axis {axis} is out of range for stacking shape {shape:?} (at most {})",
                    shape.len()
                ),
            ));
        }
        let (outer, inner, count) = (numel(&shape[..axis]), numel(&shape[axis..]), parts.len());
        let mut out = vec![0.0f32; outer * count * inner];
        if inner > 0 {
            for (p, part) in parts.iter().enumerate() {
                let d = part.data();
                for (o, src) in d.chunks(inner).enumerate() {
                    out[(o * count + p) * inner..][..inner].copy_from_slice(src);
                }
            }
        }
        let mut out_shape = shape;
        out_shape.insert(axis, count);
        Ok(Tensor::from_op(
            "stack",
            out_shape,
            out,
            parts,
            move |g, needs| {
                // ∂loss/∂part_p[o, i] = g[o, p, i]
                Ok((0..count)
                    .map(|p| {
                        needs[p].then(|| {
                            let mut gp = vec![0.0f32; outer * inner];
                            if inner > 0 {
                                for (o, dst) in gp.chunks_mut(inner).enumerate() {
                                    dst.copy_from_slice(&g[(o * count + p) * inner..][..inner]);
                                }
                            }
                            gp
                        })
                    })
                    .collect())
            },
        ))
    }
}
