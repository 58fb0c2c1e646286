//! The padding tables as a picture: for each padding mode, the padded image as a table of
//! cells, each cell a square of its grey level with its number written in it, the original
//! image framed in red in the centre so the invented border stands out.
//!
//! Grey levels share one scale over every table of the picture (the smallest value shown
//! is black, the largest white), so equal numbers look equal in every mode. Panels are laid
//! out left to right, at most [`PANELS_PER_ROW`] to a row.

use super::{draw_bitmap, text_error, FONT};
use crate::error::{Error, Result};
use crate::ops::padding::{Padding2d, PaddingMode};
use crate::tensor::Tensor;
use image::RgbImage;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Side of one table cell, in pixels.
pub const CELL: u32 = 40;
/// Room above each table for its title.
pub const TITLE: u32 = 34;
/// Space around and between panels.
pub const MARGIN: u32 = 16;
/// Panels per row of the picture.
pub const PANELS_PER_ROW: usize = 3;
/// The longest side, in pixels, of a picture [`padding_picture`] draws.
pub const MAX_PICTURE_SIDE: u64 = 16_000;
/// The colour of the frame around the original image.
pub const FRAME_COLOUR: RGBColor = RGBColor(220, 30, 30);

/// The top-left pixel of cell `(row, col)` of panel `panel` in a picture of tables of
/// `rows × cols` cells.
pub fn cell_origin(
    panel: usize,
    (rows, cols): (usize, usize),
    row: usize,
    col: usize,
) -> (u32, u32) {
    let (pw, ph) = (
        cols as u32 * CELL + MARGIN,
        rows as u32 * CELL + TITLE + MARGIN,
    );
    let (px, py) = (
        (panel % PANELS_PER_ROW) as u32,
        (panel / PANELS_PER_ROW) as u32,
    );
    (
        MARGIN + px * pw + col as u32 * CELL,
        MARGIN + py * ph + TITLE + row as u32 * CELL,
    )
}

/// Parses the text of `splot pad --input`, `"1 2; 3 4"` (rows separated by `;`, values
/// by spaces or commas), into a `[1, 1, rows, cols]` tensor; errors name what is wrong.
pub fn parse_image(text: &str) -> Result<Tensor> {
    let err = |msg: String| Error::Parse {
        what: "--input",
        msg,
    };
    let rows: Vec<Vec<f32>> = text
        .split(';')
        .map(|row| {
            row.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<f32>()
                        .map_err(|_| err(format!("'{v}' is not a number")))
                })
                .collect::<Result<Vec<f32>>>()
        })
        .collect::<Result<_>>()?;
    let cols = rows.first().map_or(0, Vec::len);
    if cols == 0 {
        return Err(err(format!("'{text}' holds no values")));
    }
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != cols) {
        return Err(err(format!(
            "row {} has {} values but row 1 has {cols}",
            i + 1,
            r.len()
        )));
    }
    let h = rows.len();
    Tensor::from_vec(rows.into_iter().flatten().collect(), &[1, 1, h, cols])
}

fn format_value(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// The picture of `image` (`[.., h, w]`, the first channel is shown) padded by `padding`
/// in each of `modes` (see the module docs). Errors as [`Tensor::pad2d`] does when a
/// mode cannot pad that much.
pub fn padding_picture(
    image: &Tensor,
    padding: Padding2d,
    modes: &[PaddingMode],
) -> Result<RgbImage> {
    if image.ndim() < 2 || image.numel() == 0 || modes.is_empty() {
        return Err(Error::shape(
            "padding_picture",
            format!(
                "need a non-empty image [.., h, w] and at least one mode, got {:?}",
                image.shape()
            ),
        ));
    }
    let (h, w) = (image.dim(image.ndim() - 2), image.dim(image.ndim() - 1));
    let (rows, cols) = padding.padded_size("padding_picture", h, w)?;
    let n = modes.len();
    let (pr, pc) = (n.div_ceil(PANELS_PER_ROW), n.min(PANELS_PER_ROW));
    // in u64: the sizes are the user's, checked before anything of that size exists
    let side = |panels: usize, cells: usize, title: u32| -> u64 {
        let panel = (cells as u64)
            .saturating_mul(CELL as u64)
            .saturating_add((title + MARGIN) as u64);
        (MARGIN as u64).saturating_add((panels as u64).saturating_mul(panel))
    };
    let (width, height) = (side(pc, cols, 0), side(pr, rows, TITLE));
    if width > MAX_PICTURE_SIDE || height > MAX_PICTURE_SIDE {
        return Err(Error::config(
            "padding_picture",
            format!(
                "{rows}×{cols} tables make a picture of {width}×{height} pixels, more than the {MAX_PICTURE_SIDE} a side that can be drawn"
            ),
        ));
    }
    let size = (width as u32, height as u32);
    let plane = Tensor::from_vec(image.data()[..h * w].to_vec(), &[1, 1, h, w])?;
    let tables = modes
        .iter()
        .map(|&m| Ok((m, plane.pad2d(padding, m)?.to_vec())))
        .collect::<Result<Vec<_>>>()?;
    let all = tables.iter().flat_map(|(_, t)| t.iter().copied());
    let (lo, hi) = all.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let grey = |v: f32| -> u8 {
        if hi > lo {
            (255.0 * (v - lo) / (hi - lo)).round() as u8
        } else {
            128
        }
    };
    draw_bitmap("padding picture", size, |root| {
        root.fill(&WHITE).map_err(text_error)?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        for (k, (mode, table)) in tables.iter().enumerate() {
            let (x0, y0) = cell_origin(k, (rows, cols), 0, 0);
            let title = format!("{mode} (p = {})", padding_label(padding));
            let style =
                TextStyle::from((FONT, 18).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                title,
                (x0 as i32, (y0 - TITLE / 2) as i32),
                style,
            ))
            .map_err(text_error)?;
            for r in 0..rows {
                for c in 0..cols {
                    let v = table[r * cols + c];
                    let g = grey(v);
                    let (x, y) = cell_origin(k, (rows, cols), r, c);
                    let (x, y, s) = (x as i32, y as i32, CELL as i32);
                    root.draw(&Rectangle::new(
                        [(x, y), (x + s, y + s)],
                        RGBColor(g, g, g).filled(),
                    ))
                    .map_err(text_error)?;
                    root.draw(&Rectangle::new(
                        [(x, y), (x + s, y + s)],
                        RGBColor(150, 150, 150),
                    ))
                    .map_err(text_error)?;
                    let ink = if g > 110 { BLACK } else { WHITE };
                    let style = TextStyle::from((FONT, 15).into_font())
                        .pos(centre)
                        .color(&ink);
                    root.draw(&Text::new(format_value(v), (x + s / 2, y + s / 2), style))
                        .map_err(text_error)?;
                }
            }
            // the frame around the original image: 3 pixels straddling its edge
            let (fx, fy) = cell_origin(k, (rows, cols), padding.top, padding.left);
            let (fx, fy) = (fx as i32, fy as i32);
            let (fw, fh) = ((w as u32 * CELL) as i32, (h as u32 * CELL) as i32);
            for d in -1..=1 {
                root.draw(&Rectangle::new(
                    [(fx + d, fy + d), (fx + fw - d, fy + fh - d)],
                    FRAME_COLOUR,
                ))
                .map_err(text_error)?;
            }
        }
        Ok(())
    })
}

fn padding_label(p: Padding2d) -> String {
    if p == Padding2d::same(p.top) {
        p.top.to_string()
    } else {
        p.to_string()
    }
}
