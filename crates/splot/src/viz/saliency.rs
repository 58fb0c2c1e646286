//! Saliency maps (Simonyan, Vedaldi, Zisserman 2014): how much each input pixel moves the
//! score of the winning class, `|∂ score_top / ∂ x|`.
//!
//! [`saliency`] computes the gradient with the library's autograd: the input is made a
//! tensor that wants its gradient, the network runs in evaluation mode, the top logit is
//! picked out by multiplying with a one-hot tensor and summing (so the graph is kept), and
//! `backward` gives `∂ score / ∂ x`. [`saliency_overlay`] shows `|gradient|` as a heat map
//! over the dimmed input.

use super::{heat, normalise, paint_scaled};
use crate::error::{Error, Result};
use crate::nn::{Mode, Module};
use crate::tensor::Tensor;
use image::{Rgb, RgbImage};

/// The top class of `net` for a one-image `input` `[1, c, h, w]`, and the gradient of that
/// class's logit with respect to the input, `[1, c, h, w]`.
pub fn saliency(net: &dyn Module, input: &Tensor) -> Result<(usize, Tensor)> {
    if input.ndim() != 4 || input.dim(0) != 1 {
        return Err(Error::shape(
            "saliency",
            format!("need one image [1, c, h, w], got {:?}", input.shape()),
        ));
    }
    let x = input.detach().with_grad();
    let logits = net.forward(&x, Mode::Eval)?;
    if logits.ndim() != 2 || logits.dim(0) != 1 {
        return Err(Error::shape(
            "saliency",
            format!(
                "the network must give [1, classes] scores, gave {:?}",
                logits.shape()
            ),
        ));
    }
    let top = logits.argmax(1)?[0];
    let mut one_hot = vec![0.0f32; logits.dim(1)];
    one_hot[top] = 1.0;
    // score = Σ logits · one_hot = logits[top], still part of the graph
    let score = logits
        .mul(&Tensor::from_vec(one_hot, logits.shape())?)?
        .sum_all();
    let grads = score.backward()?;
    let grad = grads
        .get(&x)
        .cloned()
        .unwrap_or_else(|| Tensor::zeros(x.shape()));
    Ok((top, grad))
}

/// `|gradient|` per pixel, the largest over the channels: `[h, w]` values from a
/// `[1, c, h, w]` gradient.
pub fn magnitude(grad: &Tensor) -> Vec<f32> {
    let (c, hw) = (grad.dim(1), grad.dim(2) * grad.dim(3));
    let g = grad.data();
    (0..hw)
        .map(|p| (0..c).map(|ch| g[ch * hw + p].abs()).fold(0.0, f32::max))
        .collect()
}

/// The saliency picture: the input (channel mean, normalised to grey levels and dimmed to
/// 60 %) with the heat colour of `t = |gradient| / max |gradient|` blended over it,
/// `pixel = (1 − t)·grey + t·heat(t)`; pixels the score does not depend on keep the dimmed
/// grey, the most important one is white. Scaled up `scale` times by nearest neighbour.
pub fn saliency_overlay(input: &Tensor, grad: &Tensor, scale: usize) -> Result<RgbImage> {
    if input.ndim() != 4 || input.shape() != grad.shape() || input.dim(0) != 1 || scale == 0 {
        return Err(Error::shape(
            "saliency_overlay",
            format!(
                "need an input and gradient of the same shape [1, c, h, w] and a positive scale, got {:?}, {:?} and {scale}",
                input.shape(),
                grad.shape()
            ),
        ));
    }
    let (c, h, w) = (input.dim(1), input.dim(2), input.dim(3));
    let x = input.data();
    let mean: Vec<f32> = (0..h * w)
        .map(|p| (0..c).map(|ch| x[ch * h * w + p]).sum::<f32>() / c as f32)
        .collect();
    let grey = normalise(&mean);
    let mag = magnitude(grad);
    let max = mag.iter().cloned().fold(0.0f32, f32::max);
    let mut img = RgbImage::new((w * scale) as u32, (h * scale) as u32);
    paint_scaled(&mut img, 0, 0, (h, w), scale, |r, col| {
        let p = r * w + col;
        let t = if max > 0.0 { mag[p] / max } else { 0.0 };
        let base = 0.6 * grey[p] as f32;
        let hot = heat(t).0;
        let mix = |k: usize| ((1.0 - t) * base + t * hot[k] as f32).round() as u8;
        Rgb([mix(0), mix(1), mix(2)])
    });
    Ok(img)
}
