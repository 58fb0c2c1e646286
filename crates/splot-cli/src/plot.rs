//! `splot plot RUN_DIR --out FILE.png|FILE.svg`: loss and accuracy per epoch, training and
//! test, from the run's `metrics.csv`.

use clap::Args;
use splot::train::{read_metrics, RunFiles};
use splot::viz::plot::{metrics_png, metrics_svg};
use splot::viz::{is_svg, save_png, save_text};
use splot::{Error, Result};
use std::path::PathBuf;

#[derive(Args)]
pub struct PlotArgs {
    /// A run directory written by `splot train` (holding metrics.csv).
    run_dir: PathBuf,
    /// The picture to write: PNG, or SVG when the name ends in .svg.
    #[arg(long)]
    out: PathBuf,
    /// Size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1000x420")]
    size: String,
}

/// Parses "800x400" (or "800×400").
pub fn parse_size(text: &str) -> Result<(u32, u32)> {
    let dims: Vec<u32> = text
        .split(['x', 'X', '×'])
        .map(|d| d.trim().parse::<u32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Parse {
            what: "--size",
            msg: format!("'{text}' is not WIDTHxHEIGHT"),
        })?;
    match dims[..] {
        [w, h] => Ok((w, h)),
        _ => Err(Error::Parse {
            what: "--size",
            msg: format!("'{text}' is not WIDTHxHEIGHT"),
        }),
    }
}

pub fn run(args: &PlotArgs) -> Result<()> {
    let size = parse_size(&args.size)?;
    let csv = RunFiles::new(&args.run_dir).metrics;
    if !csv.exists() {
        return Err(Error::format(
            &csv,
            "no metrics.csv here; is this a run directory written by `splot train`?",
        ));
    }
    let rows = read_metrics(&csv)?;
    if is_svg(&args.out) {
        save_text(&args.out, &metrics_svg(&rows, size)?)?;
    } else {
        save_png(&args.out, &metrics_png(&rows, size)?)?;
    }
    println!(
        "{} epochs from {} → {}",
        rows.len(),
        csv.display(),
        args.out.display()
    );
    Ok(())
}
