//! `splot saliency CHECKPOINT IMAGE --out FILE.png`: which pixels decide the answer — the
//! gradient of the top class's score with respect to the input, as a heat map over the
//! picture.

use crate::network;
use clap::Args;
use splot::viz::features::read_picture;
use splot::viz::saliency::{saliency, saliency_overlay};
use splot::viz::save_png;
use splot::Result;
use std::path::PathBuf;

#[derive(Args)]
pub struct SaliencyArgs {
    /// A checkpoint written by `splot train`, then a PNG or JPEG picture (prepared as
    /// `splot predict` prepares it); with --model/--weights, only the picture.
    #[arg(required = true, num_args = 1..=2)]
    inputs: Vec<PathBuf>,
    /// A zoo network (alexnet, resnet18, …), with --weights.
    #[arg(long, requires = "weights")]
    model: Option<String>,
    /// The zoo network's weights: safetensors with torchvision's tensor names.
    #[arg(long, requires = "model")]
    weights: Option<PathBuf>,
    /// The PNG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Each input pixel becomes a square of this many pixels.
    #[arg(long, default_value_t = 8)]
    scale: usize,
}

pub fn run(args: &SaliencyArgs) -> Result<()> {
    let (checkpoint, pictures) =
        network::split_inputs("saliency", &args.inputs, args.model.is_some(), Some(1))?;
    let (net, input_shape, _) = network::load(
        "saliency",
        checkpoint,
        args.model.as_deref(),
        args.weights.as_deref(),
    )?;
    let image = &pictures[0];
    let input = read_picture(image, input_shape)?;
    let (class, grad) = saliency(&net, &input)?;
    let img = saliency_overlay(&input, &grad, args.scale)?;
    save_png(&args.out, &img)?;
    println!(
        "{}: top class {class}; saliency → {} ({}×{} pixels)",
        image.display(),
        args.out.display(),
        img.width(),
        img.height()
    );
    Ok(())
}
