//! `splot predict CHECKPOINT IMAGE...`: the top-3 digits of pictures of any size, grey or
//! colour, prepared as MNIST's digits were.

use clap::Args;
use splot::data::image::{mnist_style, read_grey, to_input};
use splot::data::{MNIST_MEAN, MNIST_STD};
use splot::train::read_checkpoint;
use splot::{Mode, Module, Result, Tensor};
use std::path::PathBuf;

#[derive(Args)]
pub struct PredictArgs {
    /// A checkpoint written by `splot train`.
    checkpoint: PathBuf,
    /// PNG or JPEG files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let ck = read_checkpoint(&args.checkpoint)?;
    let (net, input) = ck.build_model(&args.checkpoint)?;
    let pad = (input[1] - 28) / 2;
    let inputs = args
        .images
        .iter()
        .map(|path| {
            let (h, w, grey) = read_grey(path)?;
            Ok(to_input(
                28,
                28,
                &mnist_style(h, w, &grey),
                MNIST_MEAN,
                MNIST_STD,
                pad,
            ))
        })
        .collect::<Result<Vec<Tensor>>>()?;
    let batch = Tensor::concat(&inputs.iter().collect::<Vec<_>>(), 0)?;
    let probs = splot::no_grad(|| net.forward(&batch, Mode::Eval)?.softmax(1))?;
    let p = probs.to_vec();
    for (i, path) in args.images.iter().enumerate() {
        let mut ranked: Vec<(usize, f32)> = p[i * 10..][..10].iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = ranked[..3]
            .iter()
            .map(|(c, q)| format!("{c} ({:.1} %)", 100.0 * q))
            .collect();
        println!("{}: {}", path.display(), top.join(", "));
    }
    Ok(())
}
