//! Pictures of segmentations: masks in Pascal VOC's colours over their image, side by
//! side (the image, then each mask: truth, prediction…), with a legend of the classes
//! they show.

use crate::data::image::voc_palette;
use crate::data::{Image, Mask, IGNORE_INDEX};
use crate::error::{Error, Result};
use crate::tasks::caption::picture::to_rgb;
use crate::viz::{draw_bitmap, text_error, FONT};
use image::{imageops, RgbImage};

/// Side of each panel, in pixels (the image scaled to it).
const SIDE: u32 = 192;
/// Height of a line of text.
const LINE: u32 = 20;
/// How much of a labelled pixel's colour is the class's.
const ALPHA: f32 = 0.6;

/// One row of panels: `image`, then each of `masks` (title, mask) over it in the classes'
/// colours (background and ignored pixels show the image), a title over each panel, and
/// a legend of the classes the masks hold. Errors: a mask of another size than the image.
pub fn overlay_picture(
    image: &Image,
    masks: &[(&str, &Mask)],
    class_names: &[String],
) -> Result<RgbImage> {
    for (title, m) in masks {
        if (m.height, m.width) != (image.height, image.width) {
            return Err(Error::shape(
                "overlay_picture",
                format!(
                    "the {title} mask is {}×{} but the image is {}×{}",
                    m.width, m.height, image.width, image.height
                ),
            ));
        }
    }
    let rgb = to_rgb(image);
    let s = SIDE as f32 / rgb.width().max(rgb.height()) as f32;
    let (pw, ph) = (
        ((rgb.width() as f32 * s).round() as u32).max(1),
        ((rgb.height() as f32 * s).round() as u32).max(1),
    );
    let base = imageops::resize(&rgb, pw, ph, imageops::FilterType::Triangle);
    let palette = voc_palette();
    let mut present: Vec<usize> = masks
        .iter()
        .flat_map(|(_, m)| m.data.iter().map(|&v| v as usize))
        .filter(|&v| v != 0 && v != IGNORE_INDEX as usize)
        .collect();
    present.sort_unstable();
    present.dedup();
    let panels = 1 + masks.len() as u32;
    let legend_rows = present.len().div_ceil(4).max(1) as u32;
    let width = panels * (pw + 8) + 8;
    let height = LINE + ph + 16 + legend_rows * LINE + 8;
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
    draw_bitmap("segmentation picture", (width, height), |root| {
        use plotters::prelude::*;
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        root.fill(&WHITE).map_err(text_error)?;
        let title = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        let left = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
        let titles = std::iter::once("image").chain(masks.iter().map(|(t, _)| *t));
        for (k, t) in titles.enumerate() {
            let x0 = 8 + k as i32 * (pw + 8) as i32;
            root.draw(&Text::new(
                t.to_string(),
                (x0 + pw as i32 / 2, 2),
                title.clone(),
            ))
            .map_err(text_error)?;
            let mask = k.checked_sub(1).map(|i| masks[i].1);
            for (x, y, p) in base.enumerate_pixels() {
                let mut c = [p[0], p[1], p[2]];
                if let Some(m) = mask {
                    let mx = ((x as f32 / s) as usize).min(m.width - 1);
                    let my = ((y as f32 / s) as usize).min(m.height - 1);
                    let v = m.data[my * m.width + mx];
                    if v != 0 && v != IGNORE_INDEX {
                        let q = palette[v as usize];
                        for i in 0..3 {
                            c[i] = ((1.0 - ALPHA) * c[i] as f32 + ALPHA * q[i] as f32) as u8;
                        }
                    }
                }
                root.draw_pixel(
                    (x0 + x as i32, LINE as i32 + y as i32),
                    &RGBColor(c[0], c[1], c[2]),
                )
                .map_err(text_error)?;
            }
        }
        let y0 = (LINE + ph + 12) as i32;
        if present.is_empty() {
            root.draw(&Text::new(
                "no class but background".to_string(),
                (8, y0),
                left.clone(),
            ))
            .map_err(text_error)?;
        }
        let col = (width as i32 - 16) / 4;
        for (k, &c) in present.iter().enumerate() {
            let (x, y) = (8 + (k % 4) as i32 * col, y0 + (k / 4) as i32 * LINE as i32);
            let q = palette[c];
            root.draw(&Rectangle::new(
                [(x, y + 2), (x + 14, y + 16)],
                RGBColor(q[0], q[1], q[2]).filled(),
            ))
            .map_err(text_error)?;
            root.draw(&Text::new(name(c), (x + 20, y + 1), left.clone()))
                .map_err(text_error)?;
        }
        Ok(())
    })
}

/// Several [`overlay_picture`] rows stacked (a grid of examples: image, truth,
/// prediction).
pub fn stack(rows: &[RgbImage]) -> RgbImage {
    let w = rows.iter().map(|r| r.width()).max().unwrap_or(1);
    let h = rows.iter().map(|r| r.height()).sum::<u32>().max(1);
    let mut out = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
    let mut y = 0;
    for r in rows {
        imageops::replace(&mut out, r, 0, y as i64);
        y += r.height();
    }
    out
}
