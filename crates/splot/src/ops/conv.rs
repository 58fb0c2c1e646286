//! 2-d convolution and transposed convolution, forward and backward.
//!
//! Legend: input `x [n, c, h, w]`; weight `w [oc, c/groups, kh, kw]`; output
//! `y [n, oc, oh, ow]`; `p` padding per side, `s` stride, `d` dilation, `g` groups.
//!
//! Output size (the one place the formula lives, [`conv_output_size`]):
//! `o = ⌊(n + p_before + p_after − d·(f − 1) − 1) / s⌋ + 1`, which is the lecture's
//! `⌊(n − f + 2p)/s + 1⌋` when `d = 1` and the padding is equal on both sides.
//!
//! Both ops run on the kernels of [`crate::cpu::conv`] (im2col + GEMM through the padding
//! index map); a transposed convolution is the adjoint of a convolution, so its forward is
//! the convolution's input gradient and vice versa.

use super::padding::{Padding2d, PaddingMode};
use crate::cpu::conv::{conv_backward_input, conv_backward_weight, conv_forward, ConvGeometry};
use crate::cpu::par::channel_sums;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Output size of a convolution along one axis, or `None` if the kernel does not fit:
/// `⌊(n + p_before + p_after − d·(f − 1) − 1) / s⌋ + 1`.
pub fn conv_output_size(
    n: usize,
    f: usize,
    p_before: usize,
    p_after: usize,
    s: usize,
    d: usize,
) -> Option<usize> {
    // checked: the sizes may be a user's (`None` rather than a wrapped-around size)
    let span = d.checked_mul(f.max(1) - 1)?.checked_add(1)?;
    n.checked_add(p_before)?
        .checked_add(p_after)?
        .checked_sub(span)
        .map(|v| v / s.max(1) + 1)
}

/// Output size of a transposed convolution along one axis, or `None` if not positive:
/// `(n − 1)·s − p_before − p_after + d·(f − 1) + output_padding + 1`.
pub fn conv_transpose_output_size(
    n: usize,
    f: usize,
    p_before: usize,
    p_after: usize,
    s: usize,
    d: usize,
    output_padding: usize,
) -> Option<usize> {
    let full = (n.max(1) - 1)
        .checked_mul(s)?
        .checked_add(d.checked_mul(f.max(1) - 1)?)?
        .checked_add(output_padding)?
        .checked_add(1)?;
    full.checked_sub(p_before.checked_add(p_after)?)
        .filter(|&o| o > 0)
}

/// Errors naming `op` if a kernel of `k` taps dilated by `d` on an axis padded to
/// `padded` overflows the sizes (so that `None` from the size formulas means "does not
/// fit", never "overflowed").
fn check_span(op: &'static str, k: [usize; 2], d: [usize; 2], x: &[usize]) -> Result<()> {
    let fits = (0..2).all(|a| {
        d[a].checked_mul(k[a].max(1) - 1)
            .and_then(|v| v.checked_add(1))
            .is_some()
    });
    if fits {
        Ok(())
    } else {
        Err(Error::config(
            op,
            format!("kernel {k:?} with dilation {d:?} overflows the sizes (input {x:?})"),
        ))
    }
}

/// The output shape `[n, oc, oh, ow]` of `op`, after checking its element count fits
/// (a shape can be inferred far beyond memory, but not beyond `usize`).
fn output_fits(op: &'static str, shape: [usize; 4]) -> Result<()> {
    match crate::tensor::size::checked_numel(&shape) {
        Some(_) => Ok(()),
        None => Err(Error::TooLarge {
            op,
            shape: shape.to_vec(),
            bytes: crate::tensor::size::shape_bytes(&shape),
            limit: crate::tensor::size::max_tensor_bytes(),
        }),
    }
}

/// Settings of a convolution (the kernel size comes from the weight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Padding per side.
    pub padding: Padding2d,
    /// Dilation `[vertical, horizontal]`.
    pub dilation: [usize; 2],
    /// Groups: input and output channels are split into this many independent convolutions
    /// (`groups = c` is a depthwise convolution).
    pub groups: usize,
    /// How padded pixels are invented.
    pub padding_mode: PaddingMode,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: [1, 1],
            padding: Padding2d::default(),
            dilation: [1, 1],
            groups: 1,
            padding_mode: PaddingMode::Zeros,
        }
    }
}

/// Builder methods shared by both convolution configurations.
macro_rules! shared_conv_builders {
    ($t:ty) => {
        impl $t {
            /// The same stride on both axes.
            pub fn stride(mut self, s: usize) -> Self {
                self.stride = [s, s];
                self
            }
            /// Stride per axis.
            pub fn stride_hw(mut self, sh: usize, sw: usize) -> Self {
                self.stride = [sh, sw];
                self
            }
            /// The same padding on all four sides.
            pub fn padding(mut self, p: usize) -> Self {
                self.padding = Padding2d::same(p);
                self
            }
            /// Padding per side.
            pub fn padding_sides(mut self, padding: Padding2d) -> Self {
                self.padding = padding;
                self
            }
            /// The same dilation on both axes.
            pub fn dilation(mut self, d: usize) -> Self {
                self.dilation = [d, d];
                self
            }
            /// Dilation per axis.
            pub fn dilation_hw(mut self, dh: usize, dw: usize) -> Self {
                self.dilation = [dh, dw];
                self
            }
            /// Number of groups.
            pub fn groups(mut self, g: usize) -> Self {
                self.groups = g;
                self
            }
        }
    };
}

shared_conv_builders!(Conv2dConfig);
shared_conv_builders!(ConvTranspose2dConfig);

impl Conv2dConfig {
    /// Stride 1, no padding, no dilation, one group, zero padding mode.
    pub fn new() -> Self {
        Self::default()
    }
    /// Padding mode.
    pub fn padding_mode(mut self, mode: PaddingMode) -> Self {
        self.padding_mode = mode;
        self
    }
}

/// Settings of a transposed convolution (zero padding only, as in PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dConfig {
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Padding per side, removed from the full output.
    pub padding: Padding2d,
    /// Extra rows/columns added at the bottom/right of the output (`< stride` or
    /// `< dilation`), to pick among the input sizes that a strided convolution maps alike.
    pub output_padding: [usize; 2],
    /// Dilation `[vertical, horizontal]`.
    pub dilation: [usize; 2],
    /// Groups.
    pub groups: usize,
}

impl Default for ConvTranspose2dConfig {
    fn default() -> Self {
        ConvTranspose2dConfig {
            stride: [1, 1],
            padding: Padding2d::default(),
            output_padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl ConvTranspose2dConfig {
    /// Stride 1, no padding, no dilation, one group.
    pub fn new() -> Self {
        Self::default()
    }
    /// Output padding per axis.
    pub fn output_padding(mut self, oph: usize, opw: usize) -> Self {
        self.output_padding = [oph, opw];
        self
    }
}

/// Checks what both convolutions share: 4-d input and weight, positive stride, dilation,
/// kernel and groups, channels divisible by the groups, a bias of the right length.
fn check_common(
    op: &'static str,
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    stride: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Result<()> {
    if x.len() != 4 {
        return Err(Error::shape(
            op,
            format!("input must be [n, c, h, w], got {x:?}"),
        ));
    }
    if w.len() != 4 {
        return Err(Error::shape(
            op,
            format!("weight must be 4-d, got {w:?} (input {x:?})"),
        ));
    }
    if stride.contains(&0) || dilation.contains(&0) || groups == 0 {
        return Err(Error::config(
            op,
            format!(
                "stride {stride:?}, dilation {dilation:?} and groups {groups} must all be positive"
            ),
        ));
    }
    if w[2] == 0 || w[3] == 0 || w[0] == 0 || w[1] == 0 {
        return Err(Error::shape(
            op,
            format!("weight {w:?} has an empty dimension"),
        ));
    }
    if x[0] == 0 || x[1] == 0 || x[2] == 0 || x[3] == 0 {
        return Err(Error::shape(
            op,
            format!("input {x:?} has an empty dimension"),
        ));
    }
    if x[1] % groups != 0 {
        return Err(Error::config(
            op,
            format!(
                "input channels {} (input {x:?}) are not divisible by groups {groups}",
                x[1]
            ),
        ));
    }
    if let Some(b) = bias {
        let out_channels = if op == "conv2d" {
            w[0]
        } else {
            w[1].saturating_mul(groups)
        };
        if b != [out_channels] {
            return Err(Error::shape(
                op,
                format!("bias must be [{out_channels}] for weight {w:?}, got {b:?}"),
            ));
        }
    }
    Ok(())
}

/// The output shape of `conv2d` for an input shape, a weight shape and a configuration,
/// or an error naming what does not fit.
pub fn conv2d_output_shape(
    input: &[usize],
    weight: &[usize],
    cfg: &Conv2dConfig,
) -> Result<Vec<usize>> {
    let g = conv2d_geometry(input, weight, None, cfg)?;
    Ok(vec![g.n, g.oc, g.oh, g.ow])
}

/// The validated geometry of a convolution (what the kernels of [`crate::cpu::conv`] take).
pub fn conv2d_geometry(
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    cfg: &Conv2dConfig,
) -> Result<ConvGeometry> {
    const OP: &str = "conv2d";
    let groups = cfg.groups;
    check_common(OP, x, w, bias, cfg.stride, cfg.dilation, groups)?;
    if w[0] % groups != 0 {
        return Err(Error::config(
            OP,
            format!(
                "output channels {} (weight {w:?}) are not divisible by groups {groups}",
                w[0]
            ),
        ));
    }
    if w[1].saturating_mul(groups) != x[1] {
        return Err(Error::shape(
            OP,
            format!(
                "weight {w:?} with groups {groups} expects {} input channels, but input {x:?} has {}",
                w[1].saturating_mul(groups),
                x[1]
            ),
        ));
    }
    let p = cfg.padding;
    p.check(OP, cfg.padding_mode, x[2], x[3], x)?;
    p.padded_size(OP, x[2], x[3])?;
    check_span(OP, [w[2], w[3]], cfg.dilation, x)?;
    let oh = conv_output_size(x[2], w[2], p.top, p.bottom, cfg.stride[0], cfg.dilation[0]);
    let ow = conv_output_size(x[3], w[3], p.left, p.right, cfg.stride[1], cfg.dilation[1]);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(Error::shape(
            OP,
            format!(
                "empty output: a {}×{} kernel with dilation {:?} spans more than input {x:?} padded by {p}",
                w[2], w[3], cfg.dilation
            ),
        ));
    };
    output_fits(OP, [x[0], w[0], oh, ow])?;
    Ok(ConvGeometry {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        oc: w[0],
        oh,
        ow,
        kh: w[2],
        kw: w[3],
        stride_h: cfg.stride[0],
        stride_w: cfg.stride[1],
        pad_top: p.top,
        pad_left: p.left,
        dilation_h: cfg.dilation[0],
        dilation_w: cfg.dilation[1],
        groups,
        mode: cfg.padding_mode,
    })
}

/// The geometry of the convolution whose adjoint is this transposed convolution: its input
/// is the transposed convolution's output and vice versa.
pub fn conv_transpose2d_geometry(
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    cfg: &ConvTranspose2dConfig,
) -> Result<ConvGeometry> {
    const OP: &str = "conv_transpose2d";
    let groups = cfg.groups;
    check_common(OP, x, w, bias, cfg.stride, cfg.dilation, groups)?;
    if w[0] != x[1] {
        return Err(Error::shape(
            OP,
            format!(
                "weight {w:?} expects {} input channels, but input {x:?} has {}",
                w[0], x[1]
            ),
        ));
    }
    for axis in 0..2 {
        let (op, s, d) = (
            cfg.output_padding[axis],
            cfg.stride[axis],
            cfg.dilation[axis],
        );
        if op >= s && op >= d {
            return Err(Error::config(
                OP,
                format!(
                    "output padding {:?} must be smaller than the stride {:?} or the dilation {:?}",
                    cfg.output_padding, cfg.stride, cfg.dilation
                ),
            ));
        }
    }
    let p = cfg.padding;
    check_span(OP, [w[2], w[3]], cfg.dilation, x)?;
    let oh = conv_transpose_output_size(
        x[2],
        w[2],
        p.top,
        p.bottom,
        cfg.stride[0],
        cfg.dilation[0],
        cfg.output_padding[0],
    );
    let ow = conv_transpose_output_size(
        x[3],
        w[3],
        p.left,
        p.right,
        cfg.stride[1],
        cfg.dilation[1],
        cfg.output_padding[1],
    );
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(Error::shape(
            OP,
            format!("empty output (or sizes that overflow): padding {p} removes the whole output of input {x:?} with weight {w:?}"),
        ));
    };
    output_fits(OP, [x[0], w[1].saturating_mul(groups), oh, ow])?;
    Ok(ConvGeometry {
        n: x[0],
        c: w[1].saturating_mul(groups),
        h: oh,
        w: ow,
        oc: x[1],
        oh: x[2],
        ow: x[3],
        kh: w[2],
        kw: w[3],
        stride_h: cfg.stride[0],
        stride_w: cfg.stride[1],
        pad_top: p.top,
        pad_left: p.left,
        dilation_h: cfg.dilation[0],
        dilation_w: cfg.dilation[1],
        groups,
        mode: PaddingMode::Zeros,
    })
}

/// The output shape of `conv_transpose2d`, or an error naming what does not fit.
pub fn conv_transpose2d_output_shape(
    input: &[usize],
    weight: &[usize],
    cfg: &ConvTranspose2dConfig,
) -> Result<Vec<usize>> {
    let g = conv_transpose2d_geometry(input, weight, None, cfg)?;
    Ok(vec![g.n, g.c, g.h, g.w])
}

/// `Σ` of a gradient `[n, ch, hw]` over images and pixels: the bias gradient.
fn bias_grad(g: &[f32], n: usize, ch: usize, hw: usize) -> Vec<f32> {
    let [sums] = channel_sums(&g[..n * ch * hw], &g[..n * ch * hw], ch, hw, |_, v, _| [v]);
    sums.iter().map(|&s| s as f32).collect()
}

impl Tensor {
    /// 2-d convolution (cross-correlation, as in PyTorch):
    /// `y[n, o, i, j] = b[o] + Σ_{c, m, k} x̃[n, c, i·s + m·d, j·s + k·d] · w[o, c, m, k]`,
    /// where `x̃` is the input seen through the padding mode and the sum runs over the input
    /// channels of `o`'s group. `self [n, c, h, w]`, `weight [oc, c/groups, kh, kw]`,
    /// `bias [oc]`.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: &Conv2dConfig,
    ) -> Result<Tensor> {
        let geom = conv2d_geometry(self.shape(), weight.shape(), bias.map(|b| b.shape()), cfg)?;
        let shape = vec![geom.n, geom.oc, geom.oh, geom.ow];
        let mut y = crate::tensor::size::filled("conv2d", &shape, 0.0)?;
        super::cost::add_multiply_adds(geom.n * geom.oc * geom.oh * geom.ow * geom.ckk());
        {
            let b = bias.map(|b| b.data());
            conv_forward(
                &geom,
                &self.data(),
                &weight.data(),
                b.as_deref().map(|v| v.as_slice()),
                &mut y,
            );
        }
        let (x, w) = (self.clone(), weight.clone());
        let mut parents = vec![self, weight];
        parents.extend(bias);
        Ok(Tensor::from_op(
            "conv2d",
            shape,
            y,
            &parents,
            move |g, needs| {
                // ∂loss/∂x: the adjoint of the convolution (W_gᵀ·gy, then col2im)
                let gx = needs[0].then(|| {
                    let mut gx = vec![0.0f32; x.numel()];
                    conv_backward_input(&geom, g, &w.data(), &mut gx);
                    gx
                });
                // ∂loss/∂w = Σ_images gy · colᵀ
                let gw = needs[1].then(|| {
                    let mut gw = vec![0.0f32; w.numel()];
                    conv_backward_weight(&geom, &x.data(), g, &mut gw);
                    gw
                });
                let mut grads = vec![gx, gw];
                if needs.len() == 3 {
                    // ∂loss/∂b[o] = Σ_{n, i, j} gy[n, o, i, j]
                    grads.push(needs[2].then(|| bias_grad(g, geom.n, geom.oc, geom.oh * geom.ow)));
                }
                Ok(grads)
            },
        ))
    }

    /// 2-d transposed convolution (PyTorch's `conv_transpose2d`), the adjoint of `conv2d`
    /// with respect to its input: `self [n, c, h, w]`, `weight [c, oc/groups, kh, kw]`,
    /// `bias [oc]`; output `[n, oc, oh, ow]` with
    /// `oh = (h − 1)·s − p_top − p_bottom + d·(kh − 1) + output_padding + 1`.
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        cfg: &ConvTranspose2dConfig,
    ) -> Result<Tensor> {
        // `geom` describes the convolution y → x that this op is the adjoint of.
        let geom =
            conv_transpose2d_geometry(self.shape(), weight.shape(), bias.map(|b| b.shape()), cfg)?;
        let (oc, ohw) = (geom.c, geom.h * geom.w);
        let mut y =
            crate::tensor::size::filled("conv_transpose2d", &[geom.n, oc, geom.h, geom.w], 0.0)?;
        super::cost::add_multiply_adds(geom.n * geom.oc * geom.oh * geom.ow * geom.ckk());
        conv_backward_input(&geom, &self.data(), &weight.data(), &mut y);
        if let Some(b) = bias {
            let b = b.data();
            for (j, v) in y.iter_mut().enumerate() {
                *v += b[(j / ohw) % oc];
            }
        }
        let shape = vec![geom.n, oc, geom.h, geom.w];
        let (x, w) = (self.clone(), weight.clone());
        let mut parents = vec![self, weight];
        parents.extend(bias);
        Ok(Tensor::from_op(
            "conv_transpose2d",
            shape,
            y,
            &parents,
            move |g, needs| {
                // ∂loss/∂x: the convolution itself applied to gy
                let gx = needs[0].then(|| {
                    let mut gx = vec![0.0f32; x.numel()];
                    conv_forward(&geom, g, &w.data(), None, &mut gx);
                    gx
                });
                // ∂loss/∂w = Σ_images x · col(gy)ᵀ: the convolution's weight gradient with the
                // roles of input (gy) and output gradient (x) swapped
                let gw = needs[1].then(|| {
                    let mut gw = vec![0.0f32; w.numel()];
                    conv_backward_weight(&geom, g, &x.data(), &mut gw);
                    gw
                });
                let mut grads = vec![gx, gw];
                if needs.len() == 3 {
                    grads.push(needs[2].then(|| bias_grad(g, geom.n, oc, ohw)));
                }
                Ok(grads)
            },
        ))
    }
}
