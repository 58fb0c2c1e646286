//! Padding as an index map.
//!
//! One function, [`PaddingMode::source_index`], says which pixel a coordinate outside the
//! image copies (or that it is zero). Convolution's im2col reads through it and col2im
//! scatters gradients back through it, so no padded copy is ever made and the gradient of
//! an invented border pixel flows to the pixel it copies. [`Tensor::pad2d`] materialises
//! the padded image through the same map (for `splot pad`, or like `torch.nn.functional.pad`).
//!
//! Legend: `n` the size of an axis, `i` a coordinate on it (negative = before the image),
//! `p` the padding on one side.

use crate::error::{Error, Result};
use crate::tensor::{numel, Tensor};
use std::fmt;
use std::str::FromStr;

/// How the border of an image is invented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PaddingMode {
    /// Zeros outside the image (`zeros`).
    #[default]
    Zeros,
    /// The nearest edge pixel (`replicate`; nearest-neighbour padding).
    Replicate,
    /// A mirror image that repeats the edge pixel (`symmetric`, numpy's 'symmetric'):
    /// `… b a | a b c | c b …`.
    Symmetric,
    /// A mirror image that does not repeat the edge pixel (`reflect`, PyTorch's 'reflect'):
    /// `… c b | a b c | b a …`.
    Reflect,
    /// Wrap-around (`circular`): `… b c | a b c | a b …`.
    Circular,
}

impl PaddingMode {
    /// Every mode, in the lecture's order (reflect last).
    pub const ALL: [PaddingMode; 5] = [
        PaddingMode::Zeros,
        PaddingMode::Replicate,
        PaddingMode::Symmetric,
        PaddingMode::Circular,
        PaddingMode::Reflect,
    ];

    /// The mode's name as used on the command line and by PyTorch.
    pub fn name(self) -> &'static str {
        match self {
            PaddingMode::Zeros => "zeros",
            PaddingMode::Replicate => "replicate",
            PaddingMode::Symmetric => "symmetric",
            PaddingMode::Reflect => "reflect",
            PaddingMode::Circular => "circular",
        }
    }

    /// The source of coordinate `i` on an axis of size `n > 0`: `Some(j)` with `0 ≤ j < n`
    /// for the pixel that `i` copies, `None` for a zero. Inside the image, `j = i`.
    #[inline]
    pub fn source_index(self, i: isize, n: usize) -> Option<usize> {
        let n = n as isize;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        let j = match self {
            PaddingMode::Zeros => return None,
            PaddingMode::Replicate => i.clamp(0, n - 1),
            PaddingMode::Circular => i.rem_euclid(n),
            // Period 2n: a b c c b a | a b c …
            PaddingMode::Symmetric => {
                let j = i.rem_euclid(2 * n);
                if j < n {
                    j
                } else {
                    2 * n - 1 - j
                }
            }
            // Period 2(n−1): a b c b | a b c …
            PaddingMode::Reflect => {
                if n == 1 {
                    0
                } else {
                    let j = i.rem_euclid(2 * n - 2);
                    if j < n {
                        j
                    } else {
                        2 * n - 2 - j
                    }
                }
            }
        };
        Some(j as usize)
    }

    /// The widest padding this mode allows on an axis of size `n` (as PyTorch and numpy
    /// define a single reflection): reflect `p < n`, symmetric and circular `p ≤ n`.
    pub fn max_padding(self, n: usize) -> Option<usize> {
        match self {
            PaddingMode::Zeros | PaddingMode::Replicate => None,
            PaddingMode::Reflect => Some(n.saturating_sub(1)),
            PaddingMode::Symmetric | PaddingMode::Circular => Some(n),
        }
    }
}

impl fmt::Display for PaddingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PaddingMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "zeros" | "zero" | "constant" => Ok(PaddingMode::Zeros),
            "replicate" | "edge" | "nearest" => Ok(PaddingMode::Replicate),
            "symmetric" => Ok(PaddingMode::Symmetric),
            "reflect" => Ok(PaddingMode::Reflect),
            "circular" | "wrap" => Ok(PaddingMode::Circular),
            _ => Err(Error::Parse {
                what: "padding mode",
                msg: format!(
                    "unknown mode '{s}'; expected one of zeros, replicate, symmetric, reflect, circular"
                ),
            }),
        }
    }
}

/// Padding of a 2-d image, per side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Padding2d {
    /// Rows added above.
    pub top: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added on the left.
    pub left: usize,
    /// Columns added on the right.
    pub right: usize,
}

impl fmt::Display for Padding2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(top {}, bottom {}, left {}, right {})",
            self.top, self.bottom, self.left, self.right
        )
    }
}

impl Padding2d {
    /// The same padding `p` on all four sides.
    pub fn same(p: usize) -> Self {
        Padding2d {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// `ph` rows above and below, `pw` columns left and right.
    pub fn hw(ph: usize, pw: usize) -> Self {
        Padding2d {
            top: ph,
            bottom: ph,
            left: pw,
            right: pw,
        }
    }

    /// Each side given.
    pub fn sides(top: usize, bottom: usize, left: usize, right: usize) -> Self {
        Padding2d {
            top,
            bottom,
            left,
            right,
        }
    }

    /// The padded size `(h + top + bottom, w + left + right)`, or an error naming `op` if
    /// it overflows.
    pub fn padded_size(&self, op: &'static str, h: usize, w: usize) -> Result<(usize, usize)> {
        let sum = |n: usize, a: usize, b: usize| n.checked_add(a)?.checked_add(b);
        match (sum(h, self.top, self.bottom), sum(w, self.left, self.right)) {
            (Some(ph), Some(pw)) => Ok((ph, pw)),
            _ => Err(Error::config(
                op,
                format!("padding {self} of a {h}×{w} image overflows the sizes"),
            )),
        }
    }

    /// Checks that `mode` can pad an `h × w` image this much; the error names `op`, the
    /// mode, the side and the input shape.
    pub fn check(
        &self,
        op: &'static str,
        mode: PaddingMode,
        h: usize,
        w: usize,
        input: &[usize],
    ) -> Result<()> {
        let sides = [
            ("top", self.top, h),
            ("bottom", self.bottom, h),
            ("left", self.left, w),
            ("right", self.right, w),
        ];
        for (side, p, n) in sides {
            if let Some(max) = mode.max_padding(n) {
                if p > max {
                    let rule = match mode {
                        PaddingMode::Reflect => "p < n",
                        _ => "p ≤ n",
                    };
                    return Err(Error::config(
                        op,
                        format!(
                            "{mode} padding needs {rule}, but the {side} padding is {p} on an axis of size {n} (input {input:?})"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Tensor {
    /// Pads the last two dimensions (height, width) through the padding index map; the
    /// gradient of every invented pixel flows back to the pixel it copies.
    pub fn pad2d(&self, padding: Padding2d, mode: PaddingMode) -> Result<Tensor> {
        let shape = self.shape().to_vec();
        if shape.len() < 2 {
            return Err(Error::shape(
                "pad2d",
                format!("needs at least 2 dimensions, got {shape:?}"),
            ));
        }
        let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        if h == 0 || w == 0 {
            return Err(Error::shape(
                "pad2d",
                format!("cannot pad an empty image {shape:?}"),
            ));
        }
        padding.check("pad2d", mode, h, w, &shape)?;
        let (ph, pw) = padding.padded_size("pad2d", h, w)?;
        let mut out_shape = shape.clone();
        out_shape[shape.len() - 2] = ph;
        out_shape[shape.len() - 1] = pw;
        // the size is the user's: check it before allocating anything of that size
        crate::tensor::size::check_shape("pad2d", &out_shape)?;
        let rows: Vec<Option<usize>> = (0..ph)
            .map(|y| mode.source_index(y as isize - padding.top as isize, h))
            .collect();
        let cols: Vec<Option<usize>> = (0..pw)
            .map(|x| mode.source_index(x as isize - padding.left as isize, w))
            .collect();
        let planes = numel(&shape[..shape.len() - 2]);
        let mut out = vec![0.0f32; planes * ph * pw];
        {
            let x = self.data();
            for p in 0..planes {
                let src = &x[p * h * w..][..h * w];
                for (y, r) in rows.iter().enumerate() {
                    let Some(r) = r else { continue };
                    for (xo, c) in cols.iter().enumerate() {
                        if let Some(c) = c {
                            out[(p * ph + y) * pw + xo] = src[r * w + c];
                        }
                    }
                }
            }
        }
        Ok(Tensor::from_op(
            "pad2d",
            out_shape,
            out,
            &[self],
            move |g, _| {
                // ∂loss/∂x[r, c] = Σ of g over every padded pixel that copies (r, c)
                let mut gx = vec![0.0f32; planes * h * w];
                for p in 0..planes {
                    for (y, r) in rows.iter().enumerate() {
                        let Some(r) = r else { continue };
                        for (xo, c) in cols.iter().enumerate() {
                            if let Some(c) = c {
                                gx[(p * h + r) * w + c] += g[(p * ph + y) * pw + xo];
                            }
                        }
                    }
                }
                Ok(vec![Some(gx)])
            },
        ))
    }
}
