//! Reverse-mode automatic differentiation, define-by-run.
//!
//! Every op that receives a tracked input (a variable, or something computed from one)
//! stores a [`Node`]: its parents and a closure that maps the gradient of its output to the
//! gradients of the parents that need one. [`Tensor::backward`] walks the graph once in
//! reverse topological order:
//! - nodes that no variable depends on are never visited (untracked parents are skipped);
//! - a tensor used on several paths receives the sum of their gradients;
//! - an intermediate's gradient is dropped as soon as it has been passed to its parents;
//! - the returned [`Gradients`] hold `∂loss/∂v` for every variable `v` reached
//!   (`requires_grad`), input images included.
//!
//! Gradients are plain tensors (no graph): higher-order derivatives are not supported.
//! [`no_grad`] turns recording off for inference.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// The backward rule of one op: given `∂loss/∂output` and which parents need a gradient,
/// return `∂loss/∂parent` for those parents (`None` for the others).
pub trait BackwardFn: Fn(&[f32], &[bool]) -> Result<Vec<Option<Vec<f32>>>> + Send + Sync {}
impl<F: Fn(&[f32], &[bool]) -> Result<Vec<Option<Vec<f32>>>> + Send + Sync> BackwardFn for F {}

/// How a tensor was computed.
pub(crate) struct Node {
    pub op: &'static str,
    pub parents: Vec<Tensor>,
    pub backward: Box<dyn BackwardFn>,
}

impl Node {
    /// Empties a node: its closure (dropping the parents it captured, which `parents` still
    /// holds) and its parent list, which is returned.
    fn take_parents(&mut self) -> Vec<Tensor> {
        self.backward = Box::new(|_: &[f32], _: &[bool]| Ok(Vec::new()));
        std::mem::take(&mut self.parents)
    }
}

impl Drop for Node {
    /// Frees a chain of nodes with a loop instead of recursion, so that dropping a graph
    /// of any depth cannot overflow the stack.
    fn drop(&mut self) {
        let mut stack = self.take_parents();
        while let Some(t) = stack.pop() {
            if let Some(mut node) = t.into_last_node() {
                stack.extend(node.take_parents());
                // `node` is now empty, so dropping it here does not recurse.
            }
        }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` without recording any graph (inference), restoring the previous mode after.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Turns graph recording off on this thread until dropped.
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Starts a no-grad region.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { previous }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Sets this thread's gradient mode until dropped, then restores the previous one.
pub(crate) struct GradModeGuard {
    previous: bool,
}

impl GradModeGuard {
    pub(crate) fn set(enabled: bool) -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
        GradModeGuard { previous }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// The gradients computed by one backward pass, keyed by tensor.
#[derive(Default)]
pub struct Gradients {
    map: HashMap<u64, Tensor>,
}

impl Gradients {
    /// `∂loss/∂t`, if `t` requires a gradient and the loss depends on it.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }

    /// Mutable access to `∂loss/∂t` (to add a penalty's gradient, clip, scale…).
    pub fn get_mut(&mut self, t: &Tensor) -> Option<&mut Tensor> {
        self.map.get_mut(&t.id())
    }

    /// Stores `grad` as `∂loss/∂t`, returning the gradient it replaces; `grad` must have
    /// `t`'s shape.
    pub fn insert(&mut self, t: &Tensor, grad: Tensor) -> Result<Option<Tensor>> {
        if grad.shape() != t.shape() {
            return Err(Error::Autograd(format!(
                "gradient of shape {:?} inserted for a tensor of shape {:?}",
                grad.shape(),
                t.shape()
            )));
        }
        Ok(self.map.insert(t.id(), grad))
    }

    /// Takes `∂loss/∂t` out of the store.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.map.remove(&t.id())
    }

    /// Number of stored gradients.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no gradient was stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Tensors reachable from `root` through tracked nodes, parents before children.
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative depth-first search: (tensor, index of the next parent to visit).
    let mut stack: Vec<(Tensor, usize)> = vec![(root.clone(), 0)];
    seen.insert(root.id());
    while let Some((t, next)) = stack.pop() {
        let parents = t.node().map(|n| n.parents.as_slice()).unwrap_or(&[]);
        if let Some(p) = parents[next..].iter().position(|p| p.is_tracked()) {
            let i = next + p;
            let parent = parents[i].clone();
            stack.push((t, i + 1));
            if seen.insert(parent.id()) {
                stack.push((parent, 0));
            }
        } else {
            order.push(t);
        }
    }
    order
}

impl Tensor {
    /// Backpropagates from a one-element tensor (a loss): returns `∂self/∂v` for every
    /// variable `v` it depends on.
    pub fn backward(&self) -> Result<Gradients> {
        if self.numel() != 1 {
            return Err(Error::Autograd(format!(
                "backward() needs a one-element loss, got shape {:?}; use backward_with for others",
                self.shape()
            )));
        }
        self.backward_with(&Tensor::ones(self.shape()))
    }

    /// Backpropagates a given output gradient (a vector–Jacobian product): returns
    /// `Σ_i grad_i · ∂self_i/∂v` for every variable `v` that `self` depends on.
    pub fn backward_with(&self, grad: &Tensor) -> Result<Gradients> {
        if grad.shape() != self.shape() {
            return Err(Error::Autograd(format!(
                "gradient of shape {:?} given for a tensor of shape {:?}",
                grad.shape(),
                self.shape()
            )));
        }
        let mut result = Gradients::default();
        if !self.is_tracked() {
            return Ok(result);
        }
        let order = topological_order(self);
        let mut pending: HashMap<u64, Vec<f32>> = HashMap::new();
        pending.insert(self.id(), grad.to_vec());
        for t in order.iter().rev() {
            // Taking the gradient out frees it once it has been passed on.
            let Some(g) = pending.remove(&t.id()) else {
                continue;
            };
            if let Some(node) = t.node() {
                let needs: Vec<bool> = node.parents.iter().map(|p| p.is_tracked()).collect();
                let grads = (node.backward)(&g, &needs)?;
                debug_assert_eq!(grads.len(), node.parents.len(), "op {}", node.op);
                for ((parent, need), pg) in node.parents.iter().zip(&needs).zip(grads) {
                    let (true, Some(pg)) = (*need, pg) else {
                        continue;
                    };
                    debug_assert_eq!(pg.len(), parent.numel(), "op {}", node.op);
                    match pending.get_mut(&parent.id()) {
                        Some(acc) => acc.iter_mut().zip(&pg).for_each(|(a, b)| *a += b),
                        None => {
                            pending.insert(parent.id(), pg);
                        }
                    }
                }
            }
            if t.requires_grad() {
                let gt = Tensor::from_vec(g, t.shape()).expect("gradient has its tensor's shape");
                result.map.insert(t.id(), gt);
            }
        }
        Ok(result)
    }
}
