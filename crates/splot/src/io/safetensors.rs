//! Weights as [safetensors](https://github.com/huggingface/safetensors) files with PyTorch
//! `state_dict` names (`features.0.weight`, `layer1.0.bn1.running_mean`), so that a
//! torchvision checkpoint converted to safetensors loads as it is.
//!
//! The format: an 8-byte little-endian header length, a JSON header giving each tensor's
//! dtype, shape and byte range (plus an optional `__metadata__` map of strings), then the
//! raw little-endian data. splot writes f32 and reads every floating-point, integer and
//! boolean dtype, converting to f32 (PyTorch's `num_batches_tracked` is an int64 scalar).

use super::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::nn::{named_tensors, Module};
use crate::tensor::{numel, Tensor};
use ::safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// A file's metadata: free-form string keys and values (the header's `__metadata__`).
pub type Metadata = BTreeMap<String, String>;

/// Tensors with their names, in order.
pub type NamedTensors = Vec<(String, Tensor)>;

/// Name the safetensors header reserves for the metadata map.
const METADATA_KEY: &str = "__metadata__";

/// A tensor seen by the `safetensors` serialiser: f32, little-endian.
struct F32View<'a>(&'a Tensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.0.shape()
    }
    fn data(&self) -> Cow<'_, [u8]> {
        let values = self.0.data();
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Cow::Owned(bytes)
    }
    fn data_len(&self) -> usize {
        self.0.numel() * 4
    }
}

/// Saves named tensors as f32 and a metadata map (string → string, stored as the header's
/// `__metadata__`) to a safetensors file, written atomically (see
/// [`write_atomic`](super::write_atomic)).
///
/// Names must be unique and must not be `__metadata__`. The file lists tensors sorted by
/// name (the format's canonical order), so [`load`] returns them in that order.
pub fn save(path: &Path, tensors: &[(String, Tensor)], metadata: &Metadata) -> Result<()> {
    let mut seen = HashSet::new();
    for (name, _) in tensors {
        if name == METADATA_KEY {
            return Err(Error::format(
                path,
                format!("'{METADATA_KEY}' is reserved and cannot name a tensor"),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::format(
                path,
                format!("tensor name '{name}' is given twice"),
            ));
        }
    }
    let info = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    });
    let views = tensors.iter().map(|(n, t)| (n.as_str(), F32View(t)));
    let bytes = ::safetensors::serialize(views, info)
        .map_err(|e| Error::format(path, format!("cannot encode as safetensors: {e}")))?;
    write_atomic(path, |w| {
        w.write_all(&bytes).map_err(|e| Error::io(path, e))
    })
}

/// Loads every tensor of a safetensors file, converted to f32, in file order, and the
/// metadata map (empty if the file has none).
///
/// Accepted dtypes: F32, F64, F16, BF16, the signed and unsigned integers (I8…I64,
/// U8…U64) and BOOL (`1.0`/`0.0`). Integers beyond 2²⁴ lose precision in f32. Other
/// dtypes (8-bit and smaller floats, complex) are an error naming the tensor and the
/// dtype; a corrupt or truncated file is an [`Error::Format`] naming the file.
pub fn load(path: &Path) -> Result<(NamedTensors, Metadata)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}

/// Decodes the bytes of a safetensors file; `path` is only used in errors.
fn parse(path: &Path, bytes: &[u8]) -> Result<(NamedTensors, Metadata)> {
    // `read_metadata` checks the header length, the JSON, that byte ranges are contiguous
    // and match dtype × shape, and that they cover the rest of the file exactly.
    let (header_len, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
    let data = &bytes[8 + header_len..];
    let mut tensors = Vec::new();
    for name in header.offset_keys() {
        let info = header.info(&name).expect("a name taken from the header");
        let (start, end) = info.data_offsets;
        let values = to_f32(info.dtype, &data[start..end]).ok_or_else(|| {
            Error::format(
                path,
                format!(
                    "tensor '{name}' has dtype {}, which splot cannot read \
                     (it reads floating-point, integer and boolean tensors)",
                    info.dtype
                ),
            )
        })?;
        let tensor = Tensor::from_vec(values, &info.shape)
            .map_err(|e| Error::format(path, format!("tensor '{name}': {e}")))?;
        tensors.push((name, tensor));
    }
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok((tensors, metadata))
}

/// Little-endian values of `dtype` as f32, or `None` for a dtype splot does not read.
fn to_f32(dtype: Dtype, raw: &[u8]) -> Option<Vec<f32>> {
    fn each<const N: usize>(raw: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        raw.chunks_exact(N)
            .map(|c| f(c.try_into().expect("a chunk of N bytes")))
            .collect()
    }
    Some(match dtype {
        Dtype::F32 => each(raw, f32::from_le_bytes),
        Dtype::F64 => each(raw, |b| f64::from_le_bytes(b) as f32),
        Dtype::F16 => each(raw, |b| half::f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => each(raw, |b| half::bf16::from_le_bytes(b).to_f32()),
        Dtype::I64 => each(raw, |b| i64::from_le_bytes(b) as f32),
        Dtype::I32 => each(raw, |b| i32::from_le_bytes(b) as f32),
        Dtype::I16 => each(raw, |b| i16::from_le_bytes(b) as f32),
        Dtype::I8 => each(raw, |b| i8::from_le_bytes(b) as f32),
        Dtype::U64 => each(raw, |b| u64::from_le_bytes(b) as f32),
        Dtype::U32 => each(raw, |b| u32::from_le_bytes(b) as f32),
        Dtype::U16 => each(raw, |b| u16::from_le_bytes(b) as f32),
        Dtype::U8 => each(raw, |b| u8::from_le_bytes(b) as f32),
        Dtype::BOOL => each(raw, |[b]: [u8; 1]| if b != 0 { 1.0 } else { 0.0 }),
        _ => return None,
    })
}

/// Every parameter and buffer of `module` with its `state_dict` name, as
/// [`nn::named_tensors`](crate::nn::named_tensors) lists them. The tensors are handles:
/// they share storage with the module.
pub fn state_dict(module: &dyn Module) -> NamedTensors {
    named_tensors(module)
        .into_iter()
        .map(|t| (t.name, t.tensor))
        .collect()
}

/// Saves every parameter and buffer of `module` (its [`state_dict`]) with `metadata`, as
/// [`save`] does.
pub fn save_module(path: &Path, module: &dyn Module, metadata: &Metadata) -> Result<()> {
    save(path, &state_dict(module), metadata)
}

/// Loads a safetensors file into `module`'s parameters and buffers, in place, and returns
/// the file's metadata.
///
/// The whole file is checked against the module first: tensors the module has but the
/// file lacks, tensors the file has but the module lacks, and tensors of a different
/// shape are reported together in one [`Error::Format`] that lists every problem, and the
/// module is then left untouched. Shapes `[]` and `[1]` (any two one-element shapes) count
/// as equal, since PyTorch and other tools disagree on how to store a scalar.
pub fn load_module(path: &Path, module: &dyn Module) -> Result<Metadata> {
    let (loaded, metadata) = load(path)?;
    copy_into_module(path, &loaded, module)?;
    Ok(metadata)
}

/// Copies named tensors (read from the file at `path`, which errors name) into `module`'s
/// parameters and buffers, with the checks of [`load_module`]: every problem is listed in
/// one error and the module is left untouched.
pub fn copy_into_module(
    path: &Path,
    loaded: &[(String, Tensor)],
    module: &dyn Module,
) -> Result<()> {
    let targets = named_tensors(module);
    check_fit(path, module.kind(), &targets, loaded)?;
    let by_name: HashMap<&str, &Tensor> = loaded.iter().map(|(n, t)| (n.as_str(), t)).collect();
    for target in &targets {
        let source = by_name[target.name.as_str()].data();
        target.tensor.data_mut().copy_from_slice(&source);
    }
    Ok(())
}

/// Whether a tensor of shape `file` can be copied into one of shape `module`.
fn shapes_fit(file: &[usize], module: &[usize]) -> bool {
    file == module || (numel(file) == 1 && numel(module) == 1)
}

/// Every way the file's tensors fail to match the module's, as one error.
fn check_fit(
    path: &Path,
    kind: &str,
    targets: &[crate::nn::NamedTensor],
    loaded: &[(String, Tensor)],
) -> Result<()> {
    let by_name: HashMap<&str, &Tensor> = loaded.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut missing = Vec::new();
    let mut misshaped = Vec::new();
    for target in targets {
        match by_name.get(target.name.as_str()) {
            None => missing.push(target.name.as_str()),
            Some(t) if !shapes_fit(t.shape(), target.tensor.shape()) => misshaped.push(format!(
                "{} is {:?} in the file but {:?} in the module",
                target.name,
                t.shape(),
                target.tensor.shape()
            )),
            Some(_) => {}
        }
    }
    let wanted: HashSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let unexpected: Vec<&str> = loaded
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !wanted.contains(n))
        .collect();

    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing from the file: {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        problems.push(format!("not in the module: {}", unexpected.join(", ")));
    }
    if !misshaped.is_empty() {
        problems.push(format!("wrong shape: {}", misshaped.join(", ")));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let count = missing.len() + unexpected.len() + misshaped.len();
    Err(Error::format(
        path,
        format!(
            "does not fit the {kind} module ({count} problem{}; nothing was loaded): {}",
            if count == 1 { "" } else { "s" },
            problems.join("; ")
        ),
    ))
}
