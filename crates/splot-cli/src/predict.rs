//! `splot predict`: classify pictures of any size, grey or colour.
//! - `splot predict CHECKPOINT IMAGE...`: a network trained by `splot train` on MNIST; the
//!   pictures are prepared as MNIST's digits were; top-3 digits.
//! - `splot predict --model NAME --weights FILE IMAGE...`: a zoo network with weights in
//!   safetensors (e.g. torchvision's, converted); ImageNet preprocessing (resize 256, centre
//!   crop 224, normalise); the top-5 of the 1 000 ImageNet classes. All pictures go through
//!   the network as one batch.

use clap::Args;
use splot::data::image::{imagenet_classes, imagenet_input, mnist_style, read_grey, to_input};
use splot::data::{MNIST_MEAN, MNIST_STD};
use splot::io::safetensors::load_module;
use splot::train::read_checkpoint;
use splot::{Error, Mode, Module, Result, Tensor};
use std::path::PathBuf;

#[derive(Args)]
pub struct PredictArgs {
    /// A checkpoint of `splot train` and then the pictures; with --model/--weights, only the
    /// pictures (PNG or JPEG).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// A zoo network (resnet50, vgg16, …; see `splot summary --help`).
    #[arg(long, requires = "weights")]
    model: Option<String>,
    /// Its weights: safetensors with torchvision's tensor names.
    #[arg(long, requires = "model")]
    weights: Option<PathBuf>,
    /// How many classes to print per picture (default: 3 for MNIST checkpoints, 5 for zoo
    /// networks).
    #[arg(long)]
    top: Option<usize>,
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let (net, input, images, classes, top): (_, _, &[PathBuf], Vec<String>, usize) =
        match (&args.model, &args.weights) {
            (Some(model), Some(weights)) => {
                let (net, input) = splot::models::build(model, 0.0, 0)?;
                load_module(weights, &net)?;
                let classes = imagenet_classes().into_iter().map(String::from).collect();
                (net, input, &args.inputs, classes, args.top.unwrap_or(5))
            }
            _ => {
                let (checkpoint, images) = args.inputs.split_first().expect("clap requires inputs");
                if images.is_empty() {
                    return Err(Error::Parse {
                        what: "predict",
                        msg: "give a checkpoint and at least one picture".into(),
                    });
                }
                let ck = read_checkpoint(checkpoint)?;
                let (net, input) = ck.build_model(checkpoint)?;
                (
                    net,
                    input,
                    images,
                    (0..10).map(|d| d.to_string()).collect(),
                    args.top.unwrap_or(3),
                )
            }
        };
    let tensors = images
        .iter()
        .map(|path| {
            if input[0] == 3 {
                imagenet_input(path, input[1])
            } else {
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
        })
        .collect::<Result<Vec<Tensor>>>()?;
    let batch = Tensor::concat(&tensors.iter().collect::<Vec<_>>(), 0)?;
    let probs =
        splot::run_in_pool(|| splot::no_grad(|| net.forward(&batch, Mode::Eval)?.softmax(1)))?;
    let k = probs.dim(1);
    if k != classes.len() {
        return Err(Error::shape(
            "predict",
            format!("the network gives {k} classes, expected {}", classes.len()),
        ));
    }
    let p = probs.to_vec();
    for (i, path) in images.iter().enumerate() {
        let mut ranked: Vec<(usize, f32)> = p[i * k..][..k].iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let shown: Vec<String> = ranked
            .iter()
            .take(top)
            .map(|(c, q)| format!("{} ({:.1} %)", classes[*c], 100.0 * q))
            .collect();
        println!("{}: {}", path.display(), shown.join(", "));
    }
    Ok(())
}
