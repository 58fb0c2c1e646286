//! Shape inference ([`Module::infer`]): each layer's output shape and multiply-accumulates
//! from its input shape alone, with the same shape rules (`output_shape` functions of
//! [`crate::ops`]) and the same errors as its forward pass.

use super::{
    Activation, BatchNorm, Concat, Conv2d, ConvTranspose2d, Dropout, Flatten, GroupNorm,
    InstanceNorm2d, LayerNorm, Linear, LocalResponseNorm, Module, Pool, Residual, Sequential,
    Upsample,
};
use crate::error::{Error, Result};
use crate::ops::conv::{conv2d_geometry, conv_transpose2d_geometry};
use crate::ops::pool::{
    adaptive_pool2d_output_shape, avg_pool2d_output_shape, max_pool2d_output_shape,
};
use crate::ops::resample::interpolate_output_shape;

/// What a layer makes of an input shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inferred {
    /// The output shape, batch dimension included.
    pub shape: Vec<usize>,
    /// Multiply-accumulates of the forward pass (saturating at `u64::MAX`).
    pub multiply_adds: u64,
}

impl Inferred {
    /// An output of `shape` computed without multiply-accumulates (activations, pooling).
    pub fn free(shape: Vec<usize>) -> Inferred {
        Inferred {
            shape,
            multiply_adds: 0,
        }
    }
}

/// The saturating product of `factors` (a count of multiply-accumulates).
pub fn product(factors: &[usize]) -> u64 {
    factors
        .iter()
        .fold(1u64, |acc, &f| acc.saturating_mul(f as u64))
}

/// Runs the shape inference of `layers` one after another from `input`, adding their
/// multiply-accumulates; an error names the layer (as `Sequential::forward` does).
pub fn infer_chain<'a>(
    layers: impl IntoIterator<Item = (String, &'a dyn Module)>,
    input: &[usize],
) -> Result<Inferred> {
    let mut out = Inferred::free(input.to_vec());
    for (name, layer) in layers {
        let step = layer
            .infer(&out.shape)
            .map_err(|e| e.in_layer(format!("{name} ({})", layer.kind())))?;
        out = Inferred {
            shape: step.shape,
            multiply_adds: out.multiply_adds.saturating_add(step.multiply_adds),
        };
    }
    Ok(out)
}

/// An error unless `input` has `rank` dimensions (`want` spells them out).
fn rank(op: &'static str, input: &[usize], ok: bool, want: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::shape(
            op,
            format!("input must be {want}, got {input:?}"),
        ))
    }
}

impl Conv2d {
    /// [`Module::infer`] for a convolution.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        rank("conv2d", input, input.len() == 4, "[n, c, h, w]")?;
        let g = conv2d_geometry(
            input,
            self.weight.shape(),
            self.bias.as_ref().map(|b| b.shape()),
            &self.cfg,
        )?;
        Ok(Inferred {
            shape: vec![g.n, g.oc, g.oh, g.ow],
            multiply_adds: product(&[g.n, g.oc, g.oh, g.ow, g.ckk()]),
        })
    }
}

impl ConvTranspose2d {
    /// [`Module::infer`] for a transposed convolution.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        rank("conv_transpose2d", input, input.len() == 4, "[n, c, h, w]")?;
        let g = conv_transpose2d_geometry(
            input,
            self.weight.shape(),
            self.bias.as_ref().map(|b| b.shape()),
            &self.cfg,
        )?;
        Ok(Inferred {
            shape: vec![g.n, g.c, g.h, g.w],
            multiply_adds: product(&[g.n, g.oc, g.oh, g.ow, g.ckk()]),
        })
    }
}

impl Linear {
    /// [`Module::infer`] for a linear layer (`[n, in] → [n, out]`).
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let w = self.weight.shape();
        if input.len() != 2 || input[1] != w[1] {
            return Err(Error::shape(
                "linear",
                format!("input {input:?} does not fit weight {w:?}: needs [n, in] and [out, in]"),
            ));
        }
        Ok(Inferred {
            shape: vec![input[0], w[0]],
            multiply_adds: product(&[input[0], w[1], w[0]]),
        })
    }
}

impl Activation {
    /// [`Module::infer`]: the input's shape (softmax's axis must exist).
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        if let Activation::Softmax(axis) | Activation::LogSoftmax(axis) = *self {
            if axis >= input.len() {
                return Err(Error::shape(
                    self.kind(),
                    format!("axis {axis} is out of range for shape {input:?}"),
                ));
            }
        }
        Ok(Inferred::free(input.to_vec()))
    }
}

impl Flatten {
    /// [`Module::infer`]: dimensions from `start` on multiplied into one.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        if self.start >= input.len().max(1) {
            return Err(Error::shape(
                "flatten",
                format!(
                    "start dimension {} is out of range for shape {input:?}",
                    self.start
                ),
            ));
        }
        let rest = crate::tensor::size::checked_numel(&input[self.start..]).ok_or_else(|| {
            Error::shape("flatten", format!("shape {input:?} has too many values"))
        })?;
        let mut shape = input[..self.start].to_vec();
        shape.push(rest);
        Ok(Inferred::free(shape))
    }
}

impl Pool {
    /// [`Module::infer`] for the pooling layers.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let shape = match self {
            Pool::Max(cfg) => max_pool2d_output_shape(input, cfg)?,
            Pool::Avg(cfg) => avg_pool2d_output_shape(input, cfg)?,
            Pool::AdaptiveAvg(out) | Pool::AdaptiveMax(out) => {
                adaptive_pool2d_output_shape(input, *out)?
            }
            Pool::GlobalAvg => adaptive_pool2d_output_shape(input, [1, 1])?,
        };
        Ok(Inferred::free(shape))
    }
}

/// The input's shape, after checking it is `[n, channels, …]` of an allowed rank.
fn per_channel(
    op: &'static str,
    input: &[usize],
    channels: usize,
    ranks: &[usize],
    want: &str,
) -> Result<Inferred> {
    rank(
        op,
        input,
        ranks.contains(&input.len()) && input[1] == channels,
        want,
    )?;
    Ok(Inferred::free(input.to_vec()))
}

impl BatchNorm {
    /// [`Module::infer`]: the input's shape, `[n, c, h, w]` (2-d) or `[n, c(, l)]` (1-d).
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let c = self.running_mean.numel();
        if self.kind() == "BatchNorm2d" {
            per_channel(self.kind(), input, c, &[4], &format!("[n, {c}, h, w]"))
        } else {
            per_channel(
                self.kind(),
                input,
                c,
                &[2, 3],
                &format!("[n, {c}] or [n, {c}, l]"),
            )
        }
    }
}

impl GroupNorm {
    /// [`Module::infer`]: the input's shape, `[n, channels, *]`.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let ok = input.len() >= 2 && input[1] == self.channels;
        rank(
            "GroupNorm",
            input,
            ok,
            &format!("[n, {}, *]", self.channels),
        )?;
        Ok(Inferred::free(input.to_vec()))
    }
}

impl InstanceNorm2d {
    /// [`Module::infer`]: the input's shape, `[n, channels, h, w]`.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let c = self.channels;
        per_channel("InstanceNorm2d", input, c, &[4], &format!("[n, {c}, h, w]"))
    }
}

impl LayerNorm {
    /// [`Module::infer`]: the input's shape, whose last dimensions are `normalized_shape`.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let k = self.normalized_shape.len();
        let ok = input.len() >= k && input[input.len() - k..] == self.normalized_shape[..];
        let want = format!("[*, {:?}]", self.normalized_shape);
        rank("layer_norm", input, ok, &want)?;
        Ok(Inferred::free(input.to_vec()))
    }
}

impl LocalResponseNorm {
    /// [`Module::infer`]: the input's shape, `[n, c, h, w]`.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        rank(
            "local_response_norm",
            input,
            input.len() == 4,
            "[n, c, h, w]",
        )?;
        Ok(Inferred::free(input.to_vec()))
    }
}

impl Upsample {
    /// [`Module::infer`]: the shape of [`interpolate_output_shape`].
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        Ok(Inferred::free(
            interpolate_output_shape(input, &self.0)?.to_vec(),
        ))
    }
}

impl Dropout {
    /// [`Module::infer`]: the input's shape.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        Ok(Inferred::free(input.to_vec()))
    }
}

impl Sequential {
    /// [`Module::infer`]: the layers one after another.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        infer_chain(self.children(), input)
    }
}

/// The shape of `a + b` for a residual sum: equal shapes, or an error naming `op`.
pub fn residual_sum(op: &'static str, body: Inferred, shortcut: Inferred) -> Result<Inferred> {
    if body.shape != shortcut.shape {
        return Err(Error::shape(
            op,
            format!(
                "body output {:?} and shortcut {:?} differ; use a projection shortcut",
                body.shape, shortcut.shape
            ),
        ));
    }
    Ok(Inferred {
        shape: body.shape,
        multiply_adds: body.multiply_adds.saturating_add(shortcut.multiply_adds),
    })
}

impl Residual {
    /// [`Module::infer`]: body and shortcut on the same input, of equal shapes.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let children = self.children();
        let body = children[0].1.infer(input).map_err(|e| e.in_layer("body"))?;
        let shortcut = match children.get(1) {
            Some((_, s)) => s.infer(input).map_err(|e| e.in_layer("shortcut"))?,
            None => Inferred::free(input.to_vec()),
        };
        residual_sum("Residual", body, shortcut)
    }
}

/// The shape of branches' outputs concatenated along the channels.
pub fn concat_channels(op: &'static str, outs: &[Inferred]) -> Result<Inferred> {
    let first = outs
        .first()
        .ok_or_else(|| Error::shape(op, "no branches to concatenate"))?;
    let mut shape = first.shape.clone();
    if shape.len() < 2 {
        return Err(Error::shape(
            op,
            format!("cannot concatenate outputs {shape:?} along axis 1"),
        ));
    }
    let mut channels = 0usize;
    let mut multiply_adds = 0u64;
    for o in outs {
        let same_rest = o.shape.len() == shape.len()
            && o.shape
                .iter()
                .zip(&shape)
                .enumerate()
                .all(|(i, (a, b))| i == 1 || a == b);
        if !same_rest {
            return Err(Error::shape(
                op,
                format!(
                    "branch outputs {:?} and {:?} differ beyond axis 1",
                    first.shape, o.shape
                ),
            ));
        }
        channels = crate::tensor::size::add(op, "the concatenated channels", channels, o.shape[1])?;
        multiply_adds = multiply_adds.saturating_add(o.multiply_adds);
    }
    shape[1] = channels;
    Ok(Inferred {
        shape,
        multiply_adds,
    })
}

impl Concat {
    /// [`Module::infer`]: every branch on the input, concatenated along the channels.
    pub(crate) fn infer_shape(&self, input: &[usize]) -> Result<Inferred> {
        let outs = self
            .children()
            .into_iter()
            .map(|(n, b)| {
                b.infer(input)
                    .map_err(|e| e.in_layer(format!("{n} ({})", b.kind())))
            })
            .collect::<Result<Vec<_>>>()?;
        concat_channels("concat", &outs)
    }
}
