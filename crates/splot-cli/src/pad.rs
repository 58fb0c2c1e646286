//! `splot pad`: the lecture's padding tables, computed through the same padding index map
//! that `conv2d` reads its input through.

use clap::Args;
use splot::viz::pad::{padding_picture, parse_image};
use splot::viz::save_png;
use splot::{Padding2d, PaddingMode, Result, Tensor};
use std::io::Write;
use std::path::PathBuf;

/// The lecture's 4×4 example image.
pub const LECTURE_INPUT: &str = "1 4 2 3; 6 1 1 7; 1 2 1 4; 1 5 1 2";

#[derive(Args)]
pub struct PadArgs {
    /// Padding mode: zeros, replicate, symmetric, reflect or circular (default: all five).
    #[arg(long)]
    mode: Option<String>,
    /// Padding on every side.
    #[arg(long, default_value_t = 2)]
    pad: usize,
    /// The image, rows separated by ';', values by spaces or commas.
    #[arg(long, default_value = LECTURE_INPUT, allow_hyphen_values = true)]
    input: String,
    /// Draw the tables into this PNG file instead of printing them: each cell a square of
    /// its grey level with its number, the original image framed in red.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn format_value(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Formats the last two dimensions of a tensor as a right-aligned table.
pub fn format_table(t: &Tensor) -> String {
    let (h, w) = (t.dim(t.ndim() - 2), t.dim(t.ndim() - 1));
    let cells: Vec<String> = t
        .data()
        .iter()
        .take(h * w)
        .map(|&v| format_value(v))
        .collect();
    let width = cells.iter().map(String::len).max().unwrap_or(1);
    let mut out = String::new();
    for row in cells.chunks(w) {
        let line: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    out
}

pub fn run(args: &PadArgs) -> Result<()> {
    let image = parse_image(&args.input)?;
    let modes = match &args.mode {
        Some(m) => vec![m.parse::<PaddingMode>()?],
        None => PaddingMode::ALL.to_vec(),
    };
    if let Some(path) = &args.out {
        let img = padding_picture(&image, Padding2d::same(args.pad), &modes)?;
        save_png(path, &img)?;
        println!(
            "{} padding table(s) → {} ({}×{} pixels)",
            modes.len(),
            path.display(),
            img.width(),
            img.height()
        );
        return Ok(());
    }
    let mut text = String::new();
    if modes.len() > 1 {
        text.push_str(&format!("input:\n{}\n", format_table(&image)));
    }
    for mode in &modes {
        let padded = image.pad2d(Padding2d::same(args.pad), *mode)?;
        if modes.len() > 1 {
            text.push_str(&format!("{mode} (p = {}):\n", args.pad));
        }
        text.push_str(&format_table(&padded));
        if modes.len() > 1 {
            text.push('\n');
        }
    }
    // A closed pipe (`splot pad | head`) is not an error worth a message.
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(())
}
