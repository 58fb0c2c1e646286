//! A layer's filters as a grid of tiles, like the 96 first-layer filters of AlexNet.
//!
//! Layout of [`filter_grid`] for a weight `[out, in, kh, kw]`:
//! - `in = 3`: one colour tile per output channel (input channels 0, 1, 2 as red, green,
//!   blue), the tiles in a near-square grid;
//! - `in = 1`: one grey tile per output channel, in a near-square grid;
//! - otherwise: one row per output channel, holding its `in` input channels side by side
//!   as grey tiles (row `o`, column `i` is the filter from input map `i` to output map `o`).
//!
//! Each tile is normalised on its own (its smallest value → 0, its largest → 255; a
//! constant tile is mid grey), scaled up `scale` times by nearest neighbour, and separated
//! from its neighbours by `gap` pixels of [`GAP_COLOUR`](super::GAP_COLOUR).

use super::{blank_grid, normalise, paint_scaled, square_grid};
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;
use image::{Rgb, RgbImage};

/// The filter grid of a `[out, in, kh, kw]` weight (see the module docs for the layout).
/// Errors if the weight does not have four dimensions or `scale` is 0.
pub fn filter_grid(weight: &Tensor, scale: usize, gap: usize) -> Result<RgbImage> {
    if weight.ndim() != 4 || weight.numel() == 0 || scale == 0 {
        return Err(Error::shape(
            "filter_grid",
            format!(
                "need a non-empty [out, in, kh, kw] weight and a positive scale, got {:?} and scale {scale}",
                weight.shape()
            ),
        ));
    }
    let [out, inp, kh, kw] = [weight.dim(0), weight.dim(1), weight.dim(2), weight.dim(3)];
    let (tw, th) = (kw * scale, kh * scale);
    let data = weight.data();
    let k2 = kh * kw;
    let tile = |o: usize, i: usize| &data[(o * inp + i) * k2..][..k2];
    match inp {
        3 => {
            let (cols, rows) = square_grid(out);
            let mut img = blank_grid(cols, rows, tw, th, gap);
            for o in 0..out {
                // one normalisation over the three channels keeps the colours' balance
                let all = normalise(&data[o * 3 * k2..][..3 * k2]);
                let (x0, y0) = ((o % cols) * (tw + gap), (o / cols) * (th + gap));
                paint_scaled(&mut img, x0, y0, (kh, kw), scale, |r, c| {
                    let p = r * kw + c;
                    Rgb([all[p], all[k2 + p], all[2 * k2 + p]])
                });
            }
            Ok(img)
        }
        1 => {
            let (cols, rows) = square_grid(out);
            let mut img = blank_grid(cols, rows, tw, th, gap);
            for o in 0..out {
                let g = normalise(tile(o, 0));
                let (x0, y0) = ((o % cols) * (tw + gap), (o / cols) * (th + gap));
                paint_scaled(&mut img, x0, y0, (kh, kw), scale, |r, c| {
                    let v = g[r * kw + c];
                    Rgb([v, v, v])
                });
            }
            Ok(img)
        }
        _ => {
            let mut img = blank_grid(inp, out, tw, th, gap);
            for o in 0..out {
                for i in 0..inp {
                    let g = normalise(tile(o, i));
                    let (x0, y0) = (i * (tw + gap), o * (th + gap));
                    paint_scaled(&mut img, x0, y0, (kh, kw), scale, |r, c| {
                        let v = g[r * kw + c];
                        Rgb([v, v, v])
                    });
                }
            }
            Ok(img)
        }
    }
}

/// The dotted names (`c1`, `features.0`, `layer1.0.conv1`…) of every layer of `net` that has
/// filters (see [`Module::filters`]), in definition order.
pub fn filter_layers(net: &dyn Module) -> Vec<String> {
    fn walk(m: &dyn Module, prefix: &str, out: &mut Vec<String>) {
        if !prefix.is_empty() && m.filters().is_some() {
            out.push(prefix.to_string());
        }
        for (name, child) in m.children() {
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}.{name}")
            };
            walk(child, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(net, "", &mut out);
    out
}

/// The `[out, in, kh, kw]` filters of the layer at dotted path `layer`, or of the first
/// layer with filters when `layer` is `None`. An unknown name, or a layer without
/// filters, is an error that lists the valid names.
pub fn layer_filters(net: &dyn Module, layer: Option<&str>) -> Result<(String, Tensor)> {
    let valid = filter_layers(net);
    let name = match layer {
        Some(n) => n.to_string(),
        None => valid
            .first()
            .cloned()
            .ok_or_else(|| Error::config("filters", "the network has no layer with filters"))?,
    };
    let found = crate::nn::submodule(net, &name)
        .ok()
        .filter(|_| !name.is_empty())
        .and_then(|m| m.filters());
    found.map(|w| (name.clone(), w)).ok_or_else(|| {
        Error::config(
            "filters",
            format!(
                "no layer '{name}' with filters; layers with filters: {}",
                valid.join(", ")
            ),
        )
    })
}
