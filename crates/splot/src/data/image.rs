//! Reading pictures (PNG, JPEG) and preparing them as a network expects.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// The most pixels a picture may claim: PIL's decompression-bomb threshold
/// (`Image.MAX_IMAGE_PIXELS`). A few hundred bytes of JPEG can claim 3 399 × 35 152 pixels
/// (found by fuzzing) and take seconds and gigabytes to decode.
pub const MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// Opens and decodes a PNG or JPEG file; errors name the file. The header's size is
/// checked against [`MAX_IMAGE_PIXELS`] before anything is decoded.
fn decode(path: &Path) -> Result<image::DynamicImage> {
    let open = || -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>> {
        image::ImageReader::open(path)
            .map_err(|e| Error::io(path, e))?
            .with_guessed_format()
            .map_err(|e| Error::io(path, e))
    };
    let bad = |e: image::ImageError| Error::format(path, format!("cannot decode the image: {e}"));
    let (w, h) = open()?.into_dimensions().map_err(bad)?;
    let pixels = w as u64 * h as u64;
    if pixels > MAX_IMAGE_PIXELS {
        return Err(Error::format(
            path,
            format!(
                "the image claims {w}×{h} = {pixels} pixels, more than the {MAX_IMAGE_PIXELS} \
                 splot decodes (a decompression bomb, or a picture to shrink first)"
            ),
        ));
    }
    open()?.decode().map_err(bad)
}

/// Decodes a PNG or JPEG file of any size, grey or colour, into grey levels in `[0, 1]`:
/// `(height, width, pixels)`.
pub fn read_grey(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let img = decode(path)?.to_luma32f();
    let (w, h) = img.dimensions();
    Ok((h as usize, w as usize, img.into_raw()))
}

/// Prepares a picture of a digit as MNIST's were made: dark ink on a light background is
/// inverted to light on dark; the ink's bounding box is scaled (bilinear, aspect kept) to
/// fit 20×20 and placed in a 28×28 black canvas with its centre of mass at the centre.
/// Returns `[28, 28]` grey levels in `[0, 1]`.
pub fn mnist_style(h: usize, w: usize, grey: &[f32]) -> Vec<f32> {
    let mean = grey.iter().sum::<f32>() / grey.len().max(1) as f32;
    let ink: Vec<f32> = grey
        .iter()
        .map(|&v| if mean > 0.5 { 1.0 - v } else { v })
        .collect();
    let max = ink.iter().cloned().fold(0.0f32, f32::max);
    // Bounding box of the pixels with at least a tenth of the strongest ink.
    let (mut r0, mut r1, mut c0, mut c1) = (h, 0, w, 0);
    for r in 0..h {
        for c in 0..w {
            if max > 0.0 && ink[r * w + c] >= 0.1 * max {
                (r0, r1, c0, c1) = (r0.min(r), r1.max(r + 1), c0.min(c), c1.max(c + 1));
            }
        }
    }
    if r0 >= r1 {
        (r0, r1, c0, c1) = (0, h, 0, w);
    }
    let (bh, bw) = (r1 - r0, c1 - c0);
    let scale = 20.0 / bh.max(bw) as f32;
    let (th, tw) = (
        ((bh as f32 * scale).round() as usize).max(1),
        ((bw as f32 * scale).round() as usize).max(1),
    );
    // Bilinear resampling of the box into th × tw.
    let sample = |y: f32, x: f32| -> f32 {
        let (y, x) = (y.clamp(0.0, (bh - 1) as f32), x.clamp(0.0, (bw - 1) as f32));
        let (y0, x0) = (y.floor() as usize, x.floor() as usize);
        let (y1, x1) = ((y0 + 1).min(bh - 1), (x0 + 1).min(bw - 1));
        let (fy, fx) = (y - y0 as f32, x - x0 as f32);
        let at = |r: usize, c: usize| ink[(r0 + r) * w + c0 + c];
        (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x1))
            + fy * ((1.0 - fx) * at(y1, x0) + fx * at(y1, x1))
    };
    let mut small = vec![0.0f32; th * tw];
    for r in 0..th {
        for c in 0..tw {
            let y = (r as f32 + 0.5) / scale - 0.5;
            let x = (c as f32 + 0.5) / scale - 0.5;
            small[r * tw + c] = sample(y, x);
        }
    }
    // Centre of mass to the canvas centre.
    let total: f32 = small.iter().sum::<f32>().max(1e-6);
    let cy = (0..th * tw)
        .map(|i| (i / tw) as f32 * small[i])
        .sum::<f32>()
        / total;
    let cx = (0..th * tw)
        .map(|i| (i % tw) as f32 * small[i])
        .sum::<f32>()
        / total;
    let oy = (14.0 - cy - 0.5).round().clamp(0.0, (28 - th) as f32) as usize;
    let ox = (14.0 - cx - 0.5).round().clamp(0.0, (28 - tw) as f32) as usize;
    let mut canvas = vec![0.0f32; 28 * 28];
    for r in 0..th {
        for c in 0..tw {
            canvas[(oy + r) * 28 + ox + c] = (small[r * tw + c] / max.max(1e-6)).clamp(0.0, 1.0);
        }
    }
    canvas
}

/// Normalises `[rows, cols]` grey levels with `mean`/`std` and pads them with black by `pad`
/// on each side: a `[1, 1, rows + 2·pad, cols + 2·pad]` network input.
pub fn to_input(rows: usize, cols: usize, grey: &[f32], mean: f32, std: f32, pad: usize) -> Tensor {
    let (ph, pw) = (rows + 2 * pad, cols + 2 * pad);
    let mut out = vec![(0.0 - mean) / std; ph * pw];
    for r in 0..rows {
        for c in 0..cols {
            out[(r + pad) * pw + c + pad] = (grey[r * cols + c] - mean) / std;
        }
    }
    Tensor::from_vec(out, &[1, 1, ph, pw]).expect("input shape")
}

/// The 1 000 ImageNet class names in torchvision's order (index = class).
pub fn imagenet_classes() -> Vec<&'static str> {
    include_str!("imagenet_classes.txt").lines().collect()
}

/// ImageNet's per-channel mean (RGB), as torchvision normalises.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// torchvision's ImageNet evaluation preprocessing of a PNG/JPEG file (any size, grey or
/// colour): resize the shorter side to `size·256/224` (256 for 224) with bilinear
/// filtering, crop the centre `size × size`, scale to `[0, 1]`, normalise per channel.
/// Returns `[1, 3, size, size]`.
pub fn imagenet_input(path: &Path, size: usize) -> Result<Tensor> {
    let img = decode(path)?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let short = (size * 256).div_ceil(224);
    let (nw, nh) = if w <= h {
        (short, (h * short).div_ceil(w))
    } else {
        ((w * short).div_ceil(h), short)
    };
    let resized = image::imageops::resize(
        &img,
        nw as u32,
        nh as u32,
        image::imageops::FilterType::Triangle,
    );
    let (x0, y0) = ((nw - size) / 2, (nh - size) / 2);
    let mut out = vec![0.0f32; 3 * size * size];
    for y in 0..size {
        for x in 0..size {
            let p = resized.get_pixel((x0 + x) as u32, (y0 + y) as u32);
            for c in 0..3 {
                out[(c * size + y) * size + x] =
                    (p[c] as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            }
        }
    }
    Tensor::from_vec(out, &[1, 3, size, size])
}

/// Decodes a PNG or JPEG file into an [`Image`] of bytes: grey files (with or without
/// alpha) as 1 channel, colour and palette files as 3 (alpha dropped), 16-bit samples
/// scaled to 8. Errors name the file; the decoder's memory limit (512 MiB) refuses files
/// that claim absurd sizes before allocating them.
pub fn read_image(path: &Path) -> Result<super::Image> {
    let img = decode(path)?;
    let grey = matches!(
        img.color(),
        image::ColorType::L8
            | image::ColorType::La8
            | image::ColorType::L16
            | image::ColorType::La16
    );
    let (w, h) = (img.width() as usize, img.height() as usize);
    let image = if grey {
        super::Image::new(1, h, w, img.into_luma8().into_raw())
    } else {
        super::Image::from_interleaved(3, h, w, &img.into_rgb8().into_raw())
    };
    image.map_err(|e| Error::format(path, e.to_string()))
}

/// Reads a segmentation mask: a palette PNG (Pascal VOC's `SegmentationClass/`: the
/// palette index of each pixel is its class, 255 the ignored border) or an 8-bit grey PNG
/// (the grey level is the class). Errors name the file.
pub fn read_mask(path: &Path) -> Result<super::Mask> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    // No expansion: palette images keep their indices.
    decoder.set_transformations(png::Transformations::IDENTITY);
    let bad = |msg: String| Error::format(path, msg);
    let mut reader = decoder
        .read_info()
        .map_err(|e| bad(format!("not a readable PNG mask: {e}")))?;
    let info = reader.info();
    let (w, h) = (info.width as usize, info.height as usize);
    let (color, depth) = (info.color_type, info.bit_depth);
    if !matches!(color, png::ColorType::Indexed | png::ColorType::Grayscale) {
        return Err(bad(format!(
            "a mask must be a palette or grey PNG, this one is {color:?}"
        )));
    }
    if w.saturating_mul(h) > 1 << 28 {
        return Err(bad(format!("a {w}×{h} mask is too large")));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("the mask's size overflows".into()))?;
    let mut buf = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("cannot decode the mask: {e}")))?;
    let line = frame.line_size;
    let bits = match depth {
        png::BitDepth::One => 1,
        png::BitDepth::Two => 2,
        png::BitDepth::Four => 4,
        png::BitDepth::Eight => 8,
        png::BitDepth::Sixteen => {
            return Err(bad("a 16-bit mask: classes must be 8-bit".into()));
        }
    };
    let per_byte = 8 / bits;
    let mut data = Vec::with_capacity(w * h);
    for r in 0..h {
        let row = &buf[r * line..(r + 1) * line];
        for c in 0..w {
            let byte = row[c / per_byte];
            let shift = 8 - bits * (c % per_byte + 1);
            data.push((byte >> shift) & ((1u16 << bits) - 1) as u8);
        }
    }
    super::Mask::new(h, w, data).map_err(|e| bad(e.to_string()))
}

/// Pascal VOC's colour map (index `i` → RGB), as its devkit's `labelcolormap`: the bits of
/// the index spread over the high bits of the three channels. Index 255 (ignore) is
/// (224, 224, 192).
pub fn voc_palette() -> Vec<[u8; 3]> {
    (0..256u32)
        .map(|i| {
            let (mut r, mut g, mut b) = (0u8, 0u8, 0u8);
            let mut c = i;
            for j in 0..8 {
                r |= ((c & 1) as u8) << (7 - j);
                g |= (((c >> 1) & 1) as u8) << (7 - j);
                b |= (((c >> 2) & 1) as u8) << (7 - j);
                c >>= 3;
            }
            [r, g, b]
        })
        .collect()
}

/// Writes a mask as a palette PNG with Pascal VOC's colour map (the format of
/// `SegmentationClass/`), atomically.
pub fn write_mask(path: &Path, mask: &super::Mask) -> Result<()> {
    crate::io::write_atomic(path, |out| {
        let mut enc = png::Encoder::new(out, mask.width as u32, mask.height as u32);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(voc_palette().concat());
        let mut writer = enc
            .write_header()
            .map_err(|e| Error::format(path, format!("cannot write the mask: {e}")))?;
        writer
            .write_image_data(&mask.data)
            .map_err(|e| Error::format(path, format!("cannot write the mask: {e}")))?;
        writer
            .finish()
            .map_err(|e| Error::format(path, format!("cannot write the mask: {e}")))
    })
}

/// Writes an [`Image`] as PNG (grey or RGB), atomically.
pub fn write_image(path: &Path, img: &super::Image) -> Result<()> {
    let color = if img.channels == 1 {
        png::ColorType::Grayscale
    } else {
        png::ColorType::Rgb
    };
    let pixels = img.to_interleaved();
    crate::io::write_atomic(path, |out| {
        let mut enc = png::Encoder::new(out, img.width as u32, img.height as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| Error::format(path, format!("cannot write the image: {e}")))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::format(path, format!("cannot write the image: {e}")))?;
        writer
            .finish()
            .map_err(|e| Error::format(path, format!("cannot write the image: {e}")))
    })
}
