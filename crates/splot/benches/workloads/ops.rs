//! The workloads of engine part 3's ops, each a name, the function that prepares its run,
//! and its floating-point operations per run (0 where products are not the work). Their
//! PyTorch twins, with the same names, are in `bench/torch_workloads.py` (`OPS`).

#![allow(unused_imports)]

use super::{forward_backward, Runner};
use splot::{Rng, Tensor};
use std::hint::black_box;

/// One entry: name, preparation, floating-point operations per run.
pub type OpWorkload = (&'static str, fn(&mut Rng) -> splot::Result<Runner>, f64);

/// Every op workload.
pub fn workloads() -> Vec<OpWorkload> {
    vec![
        // losses
        (
            "cross_entropy_fwdbwd_21_128",
            cross_entropy_segmentation,
            0.0,
        ),
        // resampling
        ("upsample_bilinear_fwd_21_64", upsample_bilinear_fwd, 0.0),
        (
            "upsample_bilinear_fwdbwd_21_64",
            upsample_bilinear_fwdbwd,
            0.0,
        ),
        // boxes
        ("nms_5000", nms_5000, 0.0),
        ("roi_align_fwd_512", roi_align_fwd_512, 0.0),
        ("roi_align_fwdbwd_512", roi_align_fwdbwd_512, 0.0),
        // recurrent
        ("lstm_fwd_2x512_b64_t20", lstm_fwd, LSTM_FLOPS),
        ("lstm_fwdbwd_2x512_b64_t20", lstm_fwdbwd, 3.0 * LSTM_FLOPS),
    ]
}

// ---------------------------------------------------------------- losses

/// Segmentation's loss: cross-entropy of `[8, 21, 128, 128]` logits against per-pixel
/// targets, about a tenth of them the ignored 255, forward and backward.
fn cross_entropy_segmentation(rng: &mut Rng) -> splot::Result<Runner> {
    let z = Tensor::randn(&[8, 21, 128, 128], 0.0, 1.0, rng).with_grad();
    let targets: Vec<usize> = (0..8 * 128 * 128)
        .map(|_| {
            if rng.below(10) == 0 {
                255
            } else {
                rng.below(21)
            }
        })
        .collect();
    let cfg = splot::CrossEntropyConfig {
        ignore_index: Some(255),
        ..Default::default()
    };
    forward_backward(move || z.cross_entropy(&targets, &cfg))
}

// ---------------------------------------------------------------- resampling

/// FCN's score upsampling: `[8, 21, 64, 64]` to `[8, 21, 128, 128]`, bilinear ×2 with
/// `align_corners=false`.
fn upsample_input(rng: &mut Rng) -> (Tensor, splot::InterpolateConfig) {
    let x = Tensor::randn(&[8, 21, 64, 64], 0.0, 1.0, rng);
    (x, splot::InterpolateConfig::scale(2.0).bilinear(false))
}

/// The forward pass under no_grad.
fn upsample_bilinear_fwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (x, cfg) = upsample_input(rng);
    Ok(Box::new(move || {
        let y = splot::run_in_pool(|| splot::no_grad(|| x.interpolate(&cfg)))?;
        black_box(y);
        Ok(())
    }))
}

/// Forward, then the input's gradient from an all-ones output gradient.
fn upsample_bilinear_fwdbwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (x, cfg) = upsample_input(rng);
    let x = x.with_grad();
    forward_backward(move || x.interpolate(&cfg))
}

// ---------------------------------------------------------------- boxes

/// `n` boxes `(x1, y1, x2, y2)` in a `width × height` image: centres uniform in the image,
/// width and height each uniform in `[16, 256)`.
fn random_boxes(rng: &mut Rng, n: usize, width: f32, height: f32) -> Vec<f32> {
    let mut b = Vec::with_capacity(4 * n);
    for _ in 0..n {
        let (cx, cy) = (rng.uniform(0.0, width), rng.uniform(0.0, height));
        let (w, h) = (rng.uniform(16.0, 256.0), rng.uniform(16.0, 256.0));
        b.extend_from_slice(&[cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
    }
    b
}

/// NMS of 5 000 random boxes in a 1000 × 1000 image ([`random_boxes`]), scores uniform in
/// `[0, 1)`, IoU threshold 0.5.
fn nms_5000(rng: &mut Rng) -> splot::Result<Runner> {
    let boxes = Tensor::from_vec(random_boxes(rng, 5000, 1000.0, 1000.0), &[5000, 4])?;
    let scores = Tensor::rand_uniform(&[5000], 0.0, 1.0, rng);
    Ok(Box::new(move || {
        let keep = splot::run_in_pool(|| splot::nms(&boxes, &scores, 0.5))?;
        black_box(keep);
        Ok(())
    }))
}

/// Faster R-CNN's RoIAlign: a `[1, 256, 50, 68]` stride-16 feature map of an 800 × 1088
/// image, 512 random boxes ([`random_boxes`]) clipped to the image, 7 × 7 bins, spatial
/// scale 1/16, sampling ratio 2, not aligned; the input requires a gradient.
fn roi_align_setting(rng: &mut Rng) -> splot::Result<(Tensor, Tensor, splot::RoiAlignConfig)> {
    let x = Tensor::randn(&[1, 256, 50, 68], 0.0, 1.0, rng).with_grad();
    let boxes = Tensor::from_vec(random_boxes(rng, 512, 1088.0, 800.0), &[512, 4])?;
    let boxes = splot::no_grad(|| boxes.clip_boxes_to_image((800, 1088)))?;
    let rois = splot::boxes_to_rois(&[boxes])?;
    let cfg = splot::RoiAlignConfig::new(7, 7)
        .spatial_scale(1.0 / 16.0)
        .sampling_ratio(2);
    Ok((x, rois, cfg))
}

/// [`roi_align_setting`], forward only, without gradient tracking.
fn roi_align_fwd_512(rng: &mut Rng) -> splot::Result<Runner> {
    let (x, rois, cfg) = roi_align_setting(rng)?;
    Ok(Box::new(move || {
        let y = splot::run_in_pool(|| splot::no_grad(|| x.roi_align(&rois, &cfg)))?;
        black_box(y);
        Ok(())
    }))
}

/// [`roi_align_setting`], forward and backward (the input's gradient).
fn roi_align_fwdbwd_512(rng: &mut Rng) -> splot::Result<Runner> {
    let (x, rois, cfg) = roi_align_setting(rng)?;
    forward_backward(move || x.roi_align(&rois, &cfg))
}

// ---------------------------------------------------------------- recurrent

/// The LSTM workloads: 2 layers, input 512, hidden 512, batch 64, 20 steps, `[T, N, I]`.
const LSTM_SHAPE: (usize, usize, usize, usize, usize) = (2, 512, 512, 64, 20);

/// Forward floating-point operations: per layer `2·T·N·4H·(I + H)` (the input projection
/// and the recurrent products), the second layer's input being `H`.
const LSTM_FLOPS: f64 = {
    let (layers, i, h, n, t) = LSTM_SHAPE;
    let first = 2 * t * n * 4 * h * (i + h);
    let others = (layers - 1) * 2 * t * n * 4 * h * (h + h);
    (first + others) as f64
};

fn lstm_and_input(rng: &mut Rng) -> splot::Result<(splot::nn::LSTM, Tensor)> {
    let (layers, i, h, n, t) = LSTM_SHAPE;
    let cfg = splot::nn::LstmConfig::new(i, h).num_layers(layers);
    let lstm = splot::nn::LSTM::new(cfg, rng)?;
    let x = Tensor::randn(&[t, n, i], 0.0, 1.0, rng);
    Ok((lstm, x))
}

/// `lstm_fwd_*`: the output sequence in evaluation, no gradient tracking.
fn lstm_fwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (lstm, x) = lstm_and_input(rng)?;
    Ok(Box::new(move || {
        let y = splot::run_in_pool(|| {
            splot::no_grad(|| lstm.forward_seq(&x, None, None, splot::Mode::Eval))
        })?;
        black_box(y);
        Ok(())
    }))
}

/// `lstm_fwdbwd_*`: forward, then the gradients of the input and every weight from an
/// all-ones gradient of the output sequence.
fn lstm_fwdbwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (lstm, x) = lstm_and_input(rng)?;
    let x = x.with_grad();
    forward_backward(move || Ok(lstm.forward_seq(&x, None, None, splot::Mode::Train)?.0))
}
