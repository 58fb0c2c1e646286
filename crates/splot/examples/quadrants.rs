//! A tiny CNN learns which quadrant of a noisy 16×16 image holds a bright blob.
//!
//! Run: `cargo run --release -p splot --example quadrants`
//! It prints the training loss falling and the accuracy on held-out images.

use splot::data::synthetic::blob_quadrants;
use splot::nn::{self, Activation, BatchNorm, Conv2d, Flatten, Linear, Pool, Sequential};
use splot::optim::{Optimizer, Sgd};
use splot::{Conv2dConfig, Mode, Module, Pool2dConfig, Result, Rng, Tensor};

/// The network: two conv blocks, global average pooling, a linear classifier.
pub fn model(rng: &mut Rng) -> Result<Sequential> {
    let same3 = Conv2dConfig::new().padding(1);
    Ok(Sequential::new()
        .push(Conv2d::new(1, 8, [3, 3], same3, rng)?) //      [n, 8, 16, 16]
        .push(BatchNorm::new_2d(8)?)
        .push(Activation::ReLU)
        .push(Pool::Max(Pool2dConfig::new(2))) //               [n, 8, 8, 8]
        .push(Conv2d::new(8, 16, [3, 3], same3, rng)?) //     [n, 16, 8, 8]
        .push(Activation::ReLU)
        .push(Pool::AdaptiveAvg([2, 2])) //                     [n, 16, 2, 2]
        .push(Flatten::default()) //                            [n, 64]
        .push(Linear::new(64, 4, rng)?)) //                     [n, 4]
}

/// Fraction of `labels` that the model's arg-max predicts.
pub fn accuracy(net: &dyn Module, images: &Tensor, labels: &[usize]) -> Result<f32> {
    let logits = splot::no_grad(|| net.forward(images, Mode::Eval))?;
    let predicted = logits.argmax(1)?;
    Ok(predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f32 / labels.len() as f32)
}

/// Trains for `steps` mini-batches of 32 with SGD (momentum 0.9); returns the loss of
/// every step and the accuracy on 512 held-out images.
pub fn train(
    steps: usize,
    seed: u64,
    mut report: impl FnMut(usize, f32),
) -> Result<(Vec<f32>, f32)> {
    let mut rng = Rng::seed(seed);
    let net = model(&mut rng)?;
    let mut opt = Sgd::new(nn::parameters(&net), 0.02).momentum(0.9)?;
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let (x, y) = blob_quadrants(32, 16, &mut rng);
        let loss = net
            .forward(&x, Mode::Train)?
            .cross_entropy(&y, &Default::default())?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        losses.push(loss.item()?);
        report(step, loss.item()?);
    }
    let (test_x, test_y) = blob_quadrants(512, 16, &mut Rng::seed(seed ^ 0xdead_beef));
    Ok((losses, accuracy(&net, &test_x, &test_y)?))
}

#[allow(dead_code)] // the tests include this file for `train`
fn main() -> Result<()> {
    let steps = 300;
    let mut window = Vec::new();
    let (_, acc) = train(steps, 0, |step, loss| {
        window.push(loss);
        if (step + 1) % 25 == 0 {
            let mean = window.iter().sum::<f32>() / window.len() as f32;
            println!("step {:>3}  loss {mean:.4}", step + 1);
            window.clear();
        }
    })?;
    println!("held-out accuracy: {:.1} % (chance: 25 %)", 100.0 * acc);
    Ok(())
}
