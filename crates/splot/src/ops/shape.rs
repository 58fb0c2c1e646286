//! Shape ops: reshape, flatten, concatenation and split along an axis (channel concat of
//! Inception modules is `concat(.., 1)`).
//!
//! Legend: along `axis` a tensor is `[outer, len, inner]`; concat lays the parts' `len`s side
//! by side. Backward: reshape passes `g` through; concat and split are each other's
//! backward.

use super::reduce::split_at_axis;
use crate::error::{Error, Result};
use crate::tensor::{numel, Tensor};

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
}
