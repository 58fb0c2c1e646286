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
/// the file's metadata: PyTorch's `load_state_dict(strict=True)`.
///
/// The whole file is checked against the module first: tensors the module has but the
/// file lacks, tensors the file has but the module lacks, and tensors of a different
/// shape are reported together in one [`Error::Format`] that lists every problem, and the
/// module is then left untouched. Shapes `[]` and `[1]` (any two one-element shapes) count
/// as equal, since PyTorch and other tools disagree on how to store a scalar. Batch norm's
/// `num_batches_tracked` counters may be absent (older torchvision checkpoints and many
/// converted files lack them): as in PyTorch they are then set to 0; see
/// [`load_module_with`] for the list of what was filled, non-strict loading and prefixes.
pub fn load_module(path: &Path, module: &dyn Module) -> Result<Metadata> {
    load_module_with(path, module, &LoadOptions::default()).map(|(metadata, _)| metadata)
}

/// How [`load_module_with`] matches a file's names to a module's.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Load what fits and report the rest, as PyTorch's `load_state_dict(strict=False)`:
    /// names missing from the file or not in the module are returned in the
    /// [`LoadReport`] instead of being an error. A tensor whose shape differs is an error
    /// either way (as in PyTorch).
    pub non_strict: bool,
    /// Removed from the start of every file name that has it (`module.` of DataParallel
    /// checkpoints, `backbone.body.` of a detector's backbone); names without it are kept.
    pub strip_prefix: Option<String>,
    /// Put before every file name (after `strip_prefix` is removed).
    pub add_prefix: Option<String>,
}

impl LoadOptions {
    /// Strict loading (the default) with a prefix to strip.
    pub fn strip(prefix: &str) -> Self {
        LoadOptions {
            strip_prefix: Some(prefix.to_string()),
            ..Default::default()
        }
    }

    /// These options, not strict.
    pub fn non_strict(self) -> Self {
        LoadOptions {
            non_strict: true,
            ..self
        }
    }

    /// A file's name as the module would name it.
    pub fn rename(&self, name: &str) -> String {
        let name = match &self.strip_prefix {
            Some(p) => name.strip_prefix(p.as_str()).unwrap_or(name),
            None => name,
        };
        match &self.add_prefix {
            Some(p) => format!("{p}{name}"),
            None => name.to_string(),
        }
    }
}

/// What [`load_module_with`] did: PyTorch's `missing_keys` and `unexpected_keys`, and more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The module's tensors that were copied from the file (module names).
    pub loaded: Vec<String>,
    /// The module's tensors the file lacks, left as they were (only when not strict).
    pub missing: Vec<String>,
    /// The file's tensors (renamed by the prefixes) the module lacks, ignored (only when
    /// not strict).
    pub unexpected: Vec<String>,
    /// Batch norm counters (`num_batches_tracked`) the file lacks, set to 0 as PyTorch
    /// does.
    pub filled: Vec<String>,
}

/// Loads a safetensors file into `module` as [`load_module`] does, with `options`
/// (non-strict loading, prefixes); returns the file's metadata and what was loaded,
/// missing, unexpected and filled. On error the module is left untouched.
pub fn load_module_with(
    path: &Path,
    module: &dyn Module,
    options: &LoadOptions,
) -> Result<(Metadata, LoadReport)> {
    let (loaded, metadata) = load(path)?;
    let report = copy_into_module_with(path, &loaded, module, options)?;
    Ok((metadata, report))
}

/// Copies named tensors (read from the file at `path`, which errors name) into `module`'s
/// parameters and buffers, with the checks of [`load_module`]: every problem is listed in
/// one error and the module is left untouched.
pub fn copy_into_module(
    path: &Path,
    loaded: &[(String, Tensor)],
    module: &dyn Module,
) -> Result<()> {
    copy_into_module_with(path, loaded, module, &LoadOptions::default()).map(|_| ())
}

/// [`copy_into_module`] with `options`, returning what was done.
pub fn copy_into_module_with(
    path: &Path,
    loaded: &[(String, Tensor)],
    module: &dyn Module,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let targets = named_tensors(module);
    let mut by_name: HashMap<String, &Tensor> = HashMap::new();
    let mut clashes = Vec::new();
    for (name, tensor) in loaded {
        let renamed = options.rename(name);
        if by_name.insert(renamed.clone(), tensor).is_some() {
            clashes.push(renamed);
        }
    }
    if !clashes.is_empty() {
        return Err(Error::format(
            path,
            format!(
                "after renaming by the prefixes, these names are given twice: {}",
                clashes.join(", ")
            ),
        ));
    }
    let report = check_fit(path, module.kind(), &targets, &by_name, options.non_strict)?;
    for target in &targets {
        if let Some(source) = by_name.get(target.name.as_str()) {
            target.tensor.data_mut().copy_from_slice(&source.data());
        } else if report.filled.contains(&target.name) {
            target.tensor.data_mut().fill(0.0);
        }
    }
    Ok(report)
}

/// Whether a tensor of shape `file` can be copied into one of shape `module`.
fn shapes_fit(file: &[usize], module: &[usize]) -> bool {
    file == module || (numel(file) == 1 && numel(module) == 1)
}

/// Whether `name` is batch norm's step counter, which PyTorch fills with 0 when absent.
fn is_batch_counter(target: &crate::nn::NamedTensor) -> bool {
    let name = target.name.as_str();
    target.kind == crate::nn::TensorKind::Buffer
        && (name == "num_batches_tracked" || name.ends_with(".num_batches_tracked"))
}

/// Every way the file's tensors fail to match the module's, as one error; or, when they
/// fit, what will be loaded, filled and (when not strict) left out.
fn check_fit(
    path: &Path,
    kind: &str,
    targets: &[crate::nn::NamedTensor],
    by_name: &HashMap<String, &Tensor>,
    non_strict: bool,
) -> Result<LoadReport> {
    let mut report = LoadReport::default();
    let mut misshaped = Vec::new();
    for target in targets {
        match by_name.get(target.name.as_str()) {
            None if is_batch_counter(target) => report.filled.push(target.name.clone()),
            None => report.missing.push(target.name.clone()),
            Some(t) if !shapes_fit(t.shape(), target.tensor.shape()) => misshaped.push(format!(
                "{} is {:?} in the file but {:?} in the module",
                target.name,
                t.shape(),
                target.tensor.shape()
            )),
            Some(_) => report.loaded.push(target.name.clone()),
        }
    }
    let wanted: HashSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    report.unexpected = by_name
        .keys()
        .filter(|n| !wanted.contains(n.as_str()))
        .cloned()
        .collect();
    report.unexpected.sort();

    let mut problems = Vec::new();
    let mut count = misshaped.len();
    if !non_strict {
        if !report.missing.is_empty() {
            problems.push(format!(
                "missing from the file: {}",
                report.missing.join(", ")
            ));
        }
        if !report.unexpected.is_empty() {
            problems.push(format!(
                "not in the module: {}",
                report.unexpected.join(", ")
            ));
        }
        count += report.missing.len() + report.unexpected.len();
    }
    if !misshaped.is_empty() {
        problems.push(format!("wrong shape: {}", misshaped.join(", ")));
    }
    if problems.is_empty() {
        return Ok(report);
    }
    Err(Error::format(
        path,
        format!(
            "does not fit the {kind} module ({count} problem{}; nothing was loaded): {}",
            if count == 1 { "" } else { "s" },
            problems.join("; ")
        ),
    ))
}
