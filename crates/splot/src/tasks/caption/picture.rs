//! Pictures of captions: the image with its best captions under it, and for the
//! attention model one small map per word (the image dimmed, the attention weights over
//! it in the heat colours, the word under it).

use crate::data::Image;
use crate::error::Result;
use crate::viz::{draw_bitmap, heat, text_error, FONT};
use image::{imageops, Rgb, RgbImage};

/// Side of the image in a caption picture, in pixels (scaled up or down to it).
const SIDE: u32 = 256;
/// Height of a line of text.
const LINE: u32 = 22;
/// Side of one attention tile.
const TILE: u32 = 96;

/// The image as RGB (grey repeated).
pub(crate) fn to_rgb(image: &Image) -> RgbImage {
    let (w, h) = (image.width as u32, image.height as u32);
    let c = image.channels;
    RgbImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        let plane = image.width * image.height;
        if c == 3 {
            Rgb([
                image.data[i],
                image.data[plane + i],
                image.data[2 * plane + i],
            ])
        } else {
            let g = image.data[i];
            Rgb([g, g, g])
        }
    })
}

fn scaled(image: &Image, side: u32) -> RgbImage {
    let rgb = to_rgb(image);
    let s = side as f32 / rgb.width().max(rgb.height()) as f32;
    let (w, h) = (
        ((rgb.width() as f32 * s).round() as u32).max(1),
        ((rgb.height() as f32 * s).round() as u32).max(1),
    );
    imageops::resize(&rgb, w, h, imageops::FilterType::Triangle)
}

/// The image (its longer side 256 px) with `captions` (text and log-probability), one a
/// line, under it.
pub fn caption_picture(image: &Image, captions: &[(String, f32)]) -> Result<RgbImage> {
    let img = scaled(image, SIDE);
    let lines: Vec<String> = captions
        .iter()
        .enumerate()
        .map(|(k, (t, lp))| format!("{}. {t} ({lp:.2})", k + 1))
        .collect();
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let width = (img.width() + 16).max(longest * 8 + 16);
    let height = img.height() + 16 + LINE * lines.len() as u32 + 8;
    draw_bitmap("caption picture", (width, height), |root| {
        use plotters::prelude::*;
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        root.fill(&WHITE).map_err(text_error)?;
        let x0 = ((width - img.width()) / 2) as i32;
        for (x, y, p) in img.enumerate_pixels() {
            root.draw_pixel((x0 + x as i32, 8 + y as i32), &RGBColor(p[0], p[1], p[2]))
                .map_err(text_error)?;
        }
        let style = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
        for (k, l) in lines.iter().enumerate() {
            let y = (img.height() + 14 + LINE * k as u32) as i32;
            root.draw(&Text::new(l.clone(), (8, y), style.clone()))
                .map_err(text_error)?;
        }
        Ok(())
    })
}

/// One tile per word: the image dimmed, `maps[k]` (`grid = [h', w']` weights) upsampled
/// over it in heat colours, the word under it; tiles in rows of eight.
pub fn attention_picture(
    image: &Image,
    words: &[String],
    maps: &[Vec<f32>],
    grid: [usize; 2],
) -> Result<RgbImage> {
    let base = imageops::resize(&to_rgb(image), TILE, TILE, imageops::FilterType::Triangle);
    let per_row = 8usize.min(words.len().max(1));
    let rows = words.len().div_ceil(per_row).max(1);
    let (w, h) = (
        per_row as u32 * (TILE + 8) + 8,
        rows as u32 * (TILE + LINE + 8) + 8,
    );
    draw_bitmap("attention picture", (w, h), |root| {
        use plotters::prelude::*;
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        root.fill(&WHITE).map_err(text_error)?;
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (k, (word, map)) in words.iter().zip(maps).enumerate() {
            let (x0, y0) = (
                8 + (k % per_row) as i32 * (TILE + 8) as i32,
                8 + (k / per_row) as i32 * (TILE + LINE + 8) as i32,
            );
            let top = map.iter().copied().fold(f32::MIN, f32::max).max(1e-12);
            for (x, y, p) in base.enumerate_pixels() {
                let gx = (x as usize * grid[1] / TILE as usize).min(grid[1] - 1);
                let gy = (y as usize * grid[0] / TILE as usize).min(grid[0] - 1);
                let a = map.get(gy * grid[1] + gx).copied().unwrap_or(0.0) / top;
                let hc = heat(a);
                let mix = |i: usize| (0.35 * p[i] as f32 + 0.65 * hc[i] as f32) as u8;
                root.draw_pixel(
                    (x0 + x as i32, y0 + y as i32),
                    &RGBColor(mix(0), mix(1), mix(2)),
                )
                .map_err(text_error)?;
            }
            root.draw(&Text::new(
                word.clone(),
                (x0 + TILE as i32 / 2, y0 + TILE as i32 + 3),
                style.clone(),
            ))
            .map_err(text_error)?;
        }
        Ok(())
    })
}
