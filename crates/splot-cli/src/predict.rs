//! `splot predict`: classify pictures of any size, grey or colour.
//! - `splot predict CHECKPOINT IMAGE...`: a classifier trained by `splot train`; its class names;
//!   pictures are prepared as MNIST's digits were; top-3 digits.
//! - `splot predict --model NAME --weights FILE IMAGE...`: a zoo network with weights in
//!   safetensors (e.g. torchvision's, converted); ImageNet preprocessing (resize 256, centre
//!   crop 224, normalise); the top-5 of the 1 000 ImageNet classes. All pictures go through
//!   the network as one batch.

use crate::network;
use clap::Args;
use splot::data::image::imagenet_classes;
use splot::viz::features::read_picture;
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
    let zoo = args.model.is_some();
    let (checkpoint, images) = network::split_inputs("predict", &args.inputs, zoo, None)?;
    let (net, input, source) = network::load(
        "predict",
        checkpoint,
        args.model.as_deref(),
        args.weights.as_deref(),
    )?;
    let (classes, top): (Vec<String>, usize) = if zoo {
        (
            imagenet_classes().into_iter().map(String::from).collect(),
            args.top.unwrap_or(5),
        )
    } else {
        let ck = splot::train::read_checkpoint(&source)?;
        (
            splot::tasks::classify::class_names(&ck.task),
            args.top.unwrap_or(3),
        )
    };
    let tensors = images
        .iter()
        .map(|path| read_picture(path, input))
        .map(|t| t.and_then(|t| splot::tasks::classify::match_channels(&t, input[0])))
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
