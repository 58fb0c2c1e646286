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
    #[command(flatten)]
    source: network::OnePicture,
    /// The PNG file to write.
    #[arg(long)]
    out: PathBuf,
    /// Each input pixel becomes a square of this many pixels.
    #[arg(long, default_value_t = 8)]
    scale: usize,
}

pub fn run(args: &SaliencyArgs) -> Result<()> {
    let (net, input_shape, image) = args.source.load("saliency")?;
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
