//! The IDX format of the MNIST files, raw or gzipped.
//!
//! An IDX file is a 4-byte magic number `00 00 TYPE NDIM`, then `NDIM` big-endian `u32`
//! dimensions, then the data in row-major order, nothing else. Only the type `0x08`
//! (unsigned byte), the one MNIST uses, is supported. A file that starts with the gzip magic
//! bytes `1f 8b` is decompressed first, whatever its name.
//!
//! Reading checks everything it can and names the file in every error: the magic number,
//! the type, the header length, and that the data holds exactly `Π dims` bytes (a truncated
//! file and one with trailing bytes are both errors).

use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::{Read, Write};
use std::path::Path;

/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The IDX type code of unsigned bytes, the only one supported.
pub const IDX_TYPE_U8: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file: `dims` in order (e.g.
/// `[count, rows, cols]` for MNIST images) and `data` in row-major order, with
/// `data.len() == Π dims`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// The name of an IDX type code, for error messages.
fn type_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => return None,
    })
}

impl IdxArray {
    /// Reads an IDX file of unsigned bytes, gzipped (detected by its first two bytes
    /// `1f 8b`) or raw. Errors name the file: [`Error::Io`] when it cannot be read,
    /// [`Error::Format`] when its contents are not a well-formed IDX array of bytes.
    pub fn read(path: &Path) -> Result<IdxArray> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bytes = if bytes.starts_with(&GZIP_MAGIC) {
            gunzip(&bytes, path)?
        } else {
            bytes
        };
        IdxArray::parse(&bytes, path)
    }

    /// Parses the bytes of an uncompressed IDX file; `path` is only used to name the file in
    /// errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<IdxArray> {
        let bad = |msg: String| Error::format(path, msg);
        if bytes.len() < 4 {
            return Err(bad(format!(
                "not an IDX file: {} bytes, shorter than the 4-byte magic number",
                bytes.len()
            )));
        }
        if bytes[0] != 0 || bytes[1] != 0 {
            return Err(bad(format!(
                "not an IDX file: bad magic number {:02x} {:02x} {:02x} {:02x} \
                 (expected 00 00 TYPE NDIM)",
                bytes[0], bytes[1], bytes[2], bytes[3]
            )));
        }
        let (code, ndim) = (bytes[2], bytes[3] as usize);
        match type_name(code) {
            Some(_) if code == IDX_TYPE_U8 => {}
            Some(name) => {
                return Err(bad(format!(
                    "unsupported IDX data type 0x{code:02x} ({name}); only 0x08 \
                     (unsigned byte) is supported"
                )))
            }
            None => return Err(bad(format!("unknown IDX data type 0x{code:02x}"))),
        }
        if ndim == 0 {
            return Err(bad("IDX header declares 0 dimensions".into()));
        }
        let header_len = 4 + 4 * ndim;
        if bytes.len() < header_len {
            return Err(bad(format!(
                "truncated IDX header: {ndim} dimensions need {header_len} header bytes, \
                 the file has {}",
                bytes.len()
            )));
        }
        let dims: Vec<usize> = bytes[4..header_len]
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let expected = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad(format!("dimensions {dims:?} overflow the address space")))?;
        let found = bytes.len() - header_len;
        if found < expected {
            return Err(bad(format!(
                "truncated: dimensions {dims:?} need {expected} data bytes, found {found}"
            )));
        }
        if found > expected {
            return Err(bad(format!(
                "{} trailing bytes after the {expected} data bytes of dimensions {dims:?}",
                found - expected
            )));
        }
        Ok(IdxArray {
            dims,
            data: bytes[header_len..].to_vec(),
        })
    }

    /// Builds an array, checking that `data` holds exactly `Π dims` bytes and that every
    /// dimension fits the format's `u32`.
    pub fn new(dims: Vec<usize>, data: Vec<u8>) -> Result<IdxArray> {
        if dims.is_empty() || dims.len() > 255 || dims.iter().any(|&d| d > u32::MAX as usize) {
            return Err(Error::shape(
                "IdxArray",
                format!("dimensions {dims:?} cannot be written as IDX (1 to 255 u32 values)"),
            ));
        }
        if dims.iter().product::<usize>() != data.len() {
            return Err(Error::shape(
                "IdxArray",
                format!(
                    "dimensions {dims:?} need {} bytes, got {}",
                    dims.iter().product::<usize>(),
                    data.len()
                ),
            ));
        }
        Ok(IdxArray { dims, data })
    }

    /// The bytes of this array as an uncompressed IDX file. The dimensions must satisfy
    /// what [`IdxArray::new`] checks.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        out.extend_from_slice(&[0, 0, IDX_TYPE_U8, self.dims.len() as u8]);
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Writes this array as an IDX file, gzipped when `gzip` is true. The file is written to
    /// a temporary file beside `path` and renamed, so a crash never leaves half a file.
    pub fn write(&self, path: &Path, gzip: bool) -> Result<()> {
        let raw = self.to_bytes();
        let bytes = if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&raw).map_err(|e| Error::io(path, e))?;
            enc.finish().map_err(|e| Error::io(path, e))?
        } else {
            raw
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

/// Decompresses a whole gzip stream (several concatenated members are allowed, as gzip
/// itself allows), naming `path` when the stream is corrupt or cut short.
fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Error::format(path, "gzip stream ends early (truncated file)")
            }
            _ => Error::format(path, format!("corrupt gzip data: {e}")),
        })?;
    Ok(out)
}
