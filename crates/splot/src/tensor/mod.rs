//! `Tensor`: f32, row-major (NCHW for images), contiguous storage, shared by reference.
//!
//! A tensor is a cheap handle (`Clone` copies a pointer). Tensors made by an op from inputs
//! that need gradients remember the op (see [`crate::autograd`]); all others are plain data.
//! Operations are methods defined next to their backward rules in [`crate::ops`].

mod init;
pub mod size;

pub use init::{fans, Rng};

use crate::autograd::Node;
use crate::error::{Error, Result};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Number of elements of a shape (1 for a scalar shape `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// An n-dimensional array of f32 with optional gradient tracking.
#[derive(Clone)]
pub struct Tensor {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    shape: Vec<usize>,
    data: RwLock<Vec<f32>>,
    requires_grad: AtomicBool,
    node: Option<Node>,
}

impl Tensor {
    fn build(shape: Vec<usize>, data: Vec<f32>, node: Option<Node>) -> Tensor {
        debug_assert_eq!(numel(&shape), data.len());
        Tensor {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                shape,
                data: RwLock::new(data),
                requires_grad: AtomicBool::new(false),
                node,
            }),
        }
    }

    /// A tensor from a vector, checking that `data.len()` equals the product of `shape`.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        if data.len() != numel(shape) {
            return Err(Error::shape(
                "Tensor::from_vec",
                format!(
                    "shape {shape:?} holds {} elements but {} values were given",
                    numel(shape),
                    data.len()
                ),
            ));
        }
        Ok(Tensor::build(shape.to_vec(), data, None))
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::build(shape.to_vec(), vec![value; numel(shape)], None)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor filled with `value` that `op` allocates from a size a user chose: the size
    /// is checked first ([`size::check_shape`]), so a shape too large for the machine is an
    /// [`Error::TooLarge`] naming `op`, never an abort.
    pub fn try_full(op: &'static str, shape: &[usize], value: f32) -> Result<Tensor> {
        Ok(Tensor::build(
            shape.to_vec(),
            size::filled(op, shape, value)?,
            None,
        ))
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A scalar (shape `[]`).
    pub fn scalar(value: f32) -> Tensor {
        Tensor::build(vec![], vec![value], None)
    }

    /// Samples of a normal distribution `N(mean, std²)`.
    pub fn randn(shape: &[usize], mean: f32, std: f32, rng: &mut Rng) -> Tensor {
        let data = (0..numel(shape)).map(|_| rng.normal(mean, std)).collect();
        Tensor::build(shape.to_vec(), data, None)
    }

    /// Samples of a uniform distribution on `[low, high)`.
    pub fn rand_uniform(shape: &[usize], low: f32, high: f32, rng: &mut Rng) -> Tensor {
        let data = (0..numel(shape)).map(|_| rng.uniform(low, high)).collect();
        Tensor::build(shape.to_vec(), data, None)
    }

    /// Kaiming (He) normal initialisation: `N(0, gain²/fan_in)` with `gain = √2` (ReLU).
    /// Fans are computed as PyTorch does (see [`fans`]).
    pub fn kaiming_normal(shape: &[usize], rng: &mut Rng) -> Tensor {
        let (fan_in, _) = fans(shape);
        let std = (2.0 / fan_in as f32).sqrt();
        Tensor::randn(shape, 0.0, std, rng)
    }

    /// Kaiming (He) uniform initialisation with negative slope `a`:
    /// `U(−b, b)`, `b = gain·√(3/fan_in)`, `gain = √(2/(1+a²))`.
    /// `a = √5` gives PyTorch's default for `Conv2d` and `Linear` weights.
    pub fn kaiming_uniform(shape: &[usize], a: f32, rng: &mut Rng) -> Tensor {
        let (fan_in, _) = fans(shape);
        let gain = (2.0 / (1.0 + a * a)).sqrt();
        let bound = gain * (3.0 / fan_in as f32).sqrt();
        Tensor::rand_uniform(shape, -bound, bound, rng)
    }

    /// Xavier (Glorot) uniform initialisation: `U(−b, b)`, `b = gain·√(6/(fan_in+fan_out))`.
    pub fn xavier_uniform(shape: &[usize], gain: f32, rng: &mut Rng) -> Tensor {
        let (fan_in, fan_out) = fans(shape);
        let bound = gain * (6.0 / (fan_in + fan_out) as f32).sqrt();
        Tensor::rand_uniform(shape, -bound, bound, rng)
    }

    /// Xavier (Glorot) normal initialisation: `N(0, gain²·2/(fan_in+fan_out))`.
    pub fn xavier_normal(shape: &[usize], gain: f32, rng: &mut Rng) -> Tensor {
        let (fan_in, fan_out) = fans(shape);
        let std = gain * (2.0 / (fan_in + fan_out) as f32).sqrt();
        Tensor::randn(shape, 0.0, std, rng)
    }

    /// Whether an op on `parents` records its backward pass ([`Tensor::from_op`]): gradient
    /// mode is on and some parent is tracked. Ops that keep extra state for their backward
    /// pass (an arg-max) skip it otherwise.
    pub(crate) fn records(parents: &[&Tensor]) -> bool {
        crate::autograd::is_grad_enabled() && parents.iter().any(|p| p.is_tracked())
    }

    /// The result of an op. If gradients are enabled and any parent is tracked, the result
    /// remembers the op so that [`Tensor::backward`] can call `backward`; otherwise the
    /// closure is dropped at once and the result is plain data.
    pub(crate) fn from_op(
        op: &'static str,
        shape: Vec<usize>,
        data: Vec<f32>,
        parents: &[&Tensor],
        backward: impl crate::autograd::BackwardFn + 'static,
    ) -> Tensor {
        let node = Tensor::records(parents).then(|| Node {
            op,
            parents: parents.iter().map(|&p| p.clone()).collect(),
            backward: Box::new(backward),
        });
        Tensor::build(shape, data, node)
    }

    /// A new tensor holding a copy of this one's values, with no graph.
    pub fn detach(&self) -> Tensor {
        Tensor::build(self.shape().to_vec(), self.to_vec(), None)
    }

    /// Identity of the tensor (its storage), used as the key of gradients.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.inner.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.inner.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.inner.shape)
    }

    /// Size of dimension `axis`.
    pub fn dim(&self, axis: usize) -> usize {
        self.inner.shape[axis]
    }

    /// Read access to the values (row-major).
    pub fn data(&self) -> RwLockReadGuard<'_, Vec<f32>> {
        self.inner.data.read().expect("tensor lock poisoned")
    }

    /// Write access to the values, for optimisers and in-place initialisation. Writing is
    /// not recorded by autograd: a graph that already used these values keeps using the new
    /// ones in its backward pass.
    pub fn data_mut(&self) -> RwLockWriteGuard<'_, Vec<f32>> {
        self.inner.data.write().expect("tensor lock poisoned")
    }

    /// A copy of the values.
    pub fn to_vec(&self) -> Vec<f32> {
        self.data().clone()
    }

    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "Tensor::item",
                format!("needs exactly one element, shape is {:?}", self.shape()),
            ));
        }
        Ok(self.data()[0])
    }

    /// The value at a multi-index.
    pub fn at(&self, index: &[usize]) -> Result<f32> {
        let shape = self.shape();
        if index.len() != shape.len() || index.iter().zip(shape).any(|(&i, &n)| i >= n) {
            return Err(Error::shape(
                "Tensor::at",
                format!("index {index:?} is outside shape {shape:?}"),
            ));
        }
        let off: usize = index.iter().zip(strides(shape)).map(|(i, s)| i * s).sum();
        Ok(self.data()[off])
    }

    /// Whether this tensor is a variable whose gradient [`Tensor::backward`] returns.
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks (or unmarks) this tensor as a variable whose gradient is wanted. Turning it off
    /// freezes a parameter: later ops no longer record it and it receives no gradient.
    pub fn set_requires_grad(&self, on: bool) -> &Tensor {
        self.inner.requires_grad.store(on, Ordering::Relaxed);
        self
    }

    /// Builder form of [`Tensor::set_requires_grad`]`(true)`.
    pub fn with_grad(self) -> Tensor {
        self.set_requires_grad(true);
        self
    }

    /// Whether gradients flow through this tensor (a variable, or computed from one).
    pub fn is_tracked(&self) -> bool {
        self.requires_grad() || self.inner.node.is_some()
    }

    pub(crate) fn node(&self) -> Option<&Node> {
        self.inner.node.as_ref()
    }

    /// The node of this tensor if this handle was the last one (the tensor is being freed).
    pub(crate) fn into_last_node(self) -> Option<Node> {
        Arc::try_unwrap(self.inner)
            .ok()
            .and_then(|mut inner| inner.node.take())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data();
        let shown: Vec<f32> = data.iter().take(16).copied().collect();
        write!(
            f,
            "Tensor(shape={:?}, data={:?}{}",
            self.shape(),
            shown,
            if data.len() > 16 { "…" } else { "" }
        )?;
        if let Some(node) = self.node() {
            write!(f, ", op={}", node.op)?;
        } else if self.requires_grad() {
            write!(f, ", requires_grad")?;
        }
        write!(f, ")")
    }
}
