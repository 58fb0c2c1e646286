//! Feature maps: what each layer of a network computes from one image.
//!
//! [`layer_outputs`] runs the image through a [`Sequential`] in evaluation mode and keeps
//! every top-level layer's output; [`feature_grid`] draws one of them:
//! - a `[1, c, h, w]` output (with `h·w > 1`) as `c` grey tiles in a near-square grid,
//!   each map normalised on its own (its smallest value → black, its largest → white);
//! - a vector (`[1, k]`, or `[1, k, 1, 1]`) as `k` cells in a near-square block without
//!   gaps, normalised together (a single number has no contrast of its own).

use super::{blank_grid, normalise, paint_scaled, square_grid, GAP_COLOUR};
use crate::data::image::{mnist_style, read_grey, to_input};
use crate::data::{MNIST_MEAN, MNIST_STD};
use crate::error::{Error, Result};
use crate::nn::{Mode, Module, Sequential};
use crate::tensor::Tensor;
use image::{Rgb, RgbImage};
use std::path::Path;

/// Reads a picture of a digit (PNG or JPEG, any size, grey or colour) and prepares it as
/// `splot predict` does: MNIST-style 28×28 ([`mnist_style`]), normalised with MNIST's
/// mean and deviation, padded with black to the network's `input` size `[1, h, w]`
/// (e.g. 32×32 for LeNet-5). Returns `[1, 1, h, w]`.
pub fn read_digit(path: &Path, input: [usize; 3]) -> Result<Tensor> {
    if input[0] != 1 || input[1] < 28 || input[1] != input[2] || (input[1] - 28) % 2 != 0 {
        return Err(Error::config(
            "read_digit",
            format!("a network for MNIST digits takes 1×(28+2p)×(28+2p), not {input:?}"),
        ));
    }
    let (h, w, grey) = read_grey(path)?;
    Ok(to_input(
        28,
        28,
        &mnist_style(h, w, &grey),
        MNIST_MEAN,
        MNIST_STD,
        (input[1] - 28) / 2,
    ))
}

/// A picture prepared as the network expects: a 3-channel network gets torchvision's
/// ImageNet preprocessing ([`crate::data::image::imagenet_input`]), a 1-channel network an
/// MNIST-style digit ([`read_digit`]).
pub fn read_picture(path: &Path, input: [usize; 3]) -> Result<Tensor> {
    if input[0] == 3 && input[1] == input[2] {
        crate::data::image::imagenet_input(path, input[1])
    } else {
        read_digit(path, input)
    }
}

/// Every top-level layer's output for `input`, with the layer's name, computed in
/// evaluation mode without recording gradients.
pub fn layer_outputs(net: &Sequential, input: &Tensor) -> Result<Vec<(String, Tensor)>> {
    let outs = crate::no_grad(|| net.forward_trace(input, Mode::Eval))?;
    Ok(net
        .children()
        .into_iter()
        .map(|(name, _)| name)
        .zip(outs)
        .collect())
}

/// The output of layer `name` among `outputs`, or an error listing the layer names.
pub fn pick_layer<'a>(outputs: &'a [(String, Tensor)], name: &str) -> Result<&'a Tensor> {
    outputs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t)
        .ok_or_else(|| {
            let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
            Error::config(
                "features",
                format!("no layer '{name}'; layers: {}", names.join(", ")),
            )
        })
}

/// The picture of one layer's output for one image (see the module docs): `[1, c, h, w]`,
/// `[c, h, w]`, `[1, k]` or `[k]`. Maps are scaled up `scale` times by nearest neighbour
/// and separated by `gap` pixels.
pub fn feature_grid(output: &Tensor, scale: usize, gap: usize) -> Result<RgbImage> {
    let shape = output.shape();
    let batch_ok = match shape.len() {
        4 | 2 => shape[0] == 1,
        3 | 1 => true,
        _ => false,
    };
    if !batch_ok || output.numel() == 0 || scale == 0 {
        return Err(Error::shape(
            "feature_grid",
            format!(
                "need one image's output ([1, c, h, w] or [1, k]) and a positive scale, got {shape:?} and scale {scale}"
            ),
        ));
    }
    let (c, h, w) = match shape.len() {
        4 => (shape[1], shape[2], shape[3]),
        3 => (shape[0], shape[1], shape[2]),
        _ => (output.numel(), 1, 1),
    };
    let data = output.data();
    if h * w == 1 {
        // a vector: one cell per unit, normalised together
        let g = normalise(&data);
        let (cols, rows) = square_grid(c);
        let mut img =
            RgbImage::from_pixel((cols * scale) as u32, (rows * scale) as u32, GAP_COLOUR);
        paint_scaled(&mut img, 0, 0, (rows, cols), scale, |r, col| {
            match g.get(r * cols + col) {
                Some(&v) => Rgb([v, v, v]),
                None => GAP_COLOUR,
            }
        });
        return Ok(img);
    }
    let (cols, rows) = square_grid(c);
    let (tw, th) = (w * scale, h * scale);
    let mut img = blank_grid(cols, rows, tw, th, gap);
    for m in 0..c {
        let g = normalise(&data[m * h * w..][..h * w]);
        let (x0, y0) = ((m % cols) * (tw + gap), (m / cols) * (th + gap));
        paint_scaled(&mut img, x0, y0, (h, w), scale, |r, col| {
            let v = g[r * w + col];
            Rgb([v, v, v])
        });
    }
    Ok(img)
}
