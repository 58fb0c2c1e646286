//! `splot saliency CHECKPOINT IMAGE --out FILE.png`: which pixels decide the answer — the
//! gradient of the top class's score with respect to the input, as a heat map over the
//! picture.

use clap::Args;
use splot::train::read_checkpoint;
use splot::viz::features::read_digit;
use splot::viz::saliency::{saliency, saliency_overlay};
use splot::viz::save_png;
use splot::Result;
use std::path::PathBuf;

#[derive(Args)]
pub struct SaliencyArgs {
    /// A checkpoint written by `splot train`.
    checkpoint: PathBuf,
    /// A PNG or JPEG picture of a digit (prepared as `splot predict` prepares it).
    image: PathBuf,
    /// The PNG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Each input pixel becomes a square of this many pixels.
    #[arg(long, default_value_t = 8)]
    scale: usize,
}

pub fn run(args: &SaliencyArgs) -> Result<()> {
    let ck = read_checkpoint(&args.checkpoint)?;
    let (net, input_shape) = ck.build_model(&args.checkpoint)?;
    let input = read_digit(&args.image, input_shape)?;
    let (class, grad) = saliency(&net, &input)?;
    let img = saliency_overlay(&input, &grad, args.scale)?;
    save_png(&args.out, &img)?;
    println!(
        "{}: top class {class}; saliency → {} ({}×{} pixels)",
        args.image.display(),
        args.out.display(),
        img.width(),
        img.height()
    );
    Ok(())
}
