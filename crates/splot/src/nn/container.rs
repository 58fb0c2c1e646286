//! Containers: a chain of layers, a residual block, parallel branches concatenated.

use super::{Mode, Module, Topology};
use crate::error::Result;
use crate::tensor::Tensor;

/// Layers applied one after another; children are named `0`, `1`, … as in PyTorch unless
/// given names.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<(String, Box<dyn Module>)>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer named by its index.
    pub fn push(mut self, layer: impl Module + 'static) -> Self {
        let name = self.layers.len().to_string();
        self.layers.push((name, Box::new(layer)));
        self
    }

    /// Appends a layer with a name.
    pub fn push_named(mut self, name: &str, layer: impl Module + 'static) -> Self {
        self.layers.push((name.to_string(), Box::new(layer)));
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers before the first one named `name` (a network without its head, as an
    /// encoder); `None` when no layer has that name.
    pub fn take_until(mut self, name: &str) -> Option<Sequential> {
        let at = self.layers.iter().position(|(n, _)| n == name)?;
        self.layers.truncate(at);
        Some(self)
    }

    /// The index of the layer named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|(n, _)| n == name)
    }

    /// Runs the layers `range` (by index) on `x`: `forward_range(x, 0..k)` is the network's
    /// first `k` layers (features), `forward_range(x, k..len)` the rest (a head).
    pub fn forward_range(
        &self,
        x: &Tensor,
        range: std::ops::Range<usize>,
        mode: Mode,
    ) -> Result<Tensor> {
        let mut h = x.clone();
        for (name, layer) in &self.layers[range] {
            h = layer
                .forward(&h, mode)
                .map_err(|e| e.in_layer(format!("{name} ({})", layer.kind())))?;
        }
        Ok(h)
    }

    /// Runs every layer, returning each one's output (for feature maps and summaries).
    pub fn forward_trace(&self, x: &Tensor, mode: Mode) -> Result<Vec<Tensor>> {
        let mut outs = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        for (name, layer) in &self.layers {
            h = layer
                .forward(&h, mode)
                .map_err(|e| e.in_layer(format!("{name} ({})", layer.kind())))?;
            outs.push(h.clone());
        }
        Ok(outs)
    }
}

impl Module for Sequential {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Sequential"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.forward_range(x, 0..self.layers.len(), mode)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .map(|(n, l)| (n.clone(), l.as_ref() as &dyn Module))
            .collect()
    }
    fn forward_to(&self, x: &Tensor, path: &str, mode: Mode) -> Result<Option<Tensor>> {
        let (first, rest) = match path.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (path, None),
        };
        let Some(at) = self.position(first) else {
            return Ok(None);
        };
        let h = self.forward_range(x, 0..at, mode)?;
        let (name, layer) = &self.layers[at];
        match rest {
            None => layer
                .forward(&h, mode)
                .map(Some)
                .map_err(|e| e.in_layer(format!("{name} ({})", layer.kind()))),
            Some(rest) => layer.forward_to(&h, rest, mode),
        }
    }
}

/// A residual block `y = F(x) + x`, or `y = F(x) + W_s·x` with a projection shortcut when
/// the shapes differ (He et al. 2016). Children: `body`, and `shortcut` when present.
pub struct Residual {
    body: Box<dyn Module>,
    shortcut: Option<Box<dyn Module>>,
}

impl Residual {
    /// `y = body(x) + x`.
    pub fn identity(body: impl Module + 'static) -> Self {
        Residual {
            body: Box::new(body),
            shortcut: None,
        }
    }

    /// `y = body(x) + shortcut(x)`.
    pub fn projection(body: impl Module + 'static, shortcut: impl Module + 'static) -> Self {
        Residual {
            body: Box::new(body),
            shortcut: Some(Box::new(shortcut)),
        }
    }
}

impl Module for Residual {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Residual"
    }
    fn topology(&self) -> Topology {
        let shortcut = if self.shortcut.is_some() {
            "projection"
        } else {
            "identity"
        };
        Topology::Residual {
            shortcut: Some(shortcut),
        }
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let f = self.body.forward(x, mode).map_err(|e| e.in_layer("body"))?;
        let s = match &self.shortcut {
            Some(s) => s.forward(x, mode).map_err(|e| e.in_layer("shortcut"))?,
            None => x.clone(),
        };
        if f.shape() != s.shape() {
            return Err(crate::Error::shape(
                "Residual",
                format!(
                    "body output {:?} and shortcut {:?} differ; use a projection shortcut",
                    f.shape(),
                    s.shape()
                ),
            ));
        }
        f.add(&s)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c: Vec<(String, &dyn Module)> = vec![("body".into(), self.body.as_ref())];
        if let Some(s) = &self.shortcut {
            c.push(("shortcut".into(), s.as_ref()));
        }
        c
    }
}

/// Parallel branches on the same input, outputs concatenated along the channels (an
/// Inception module). Children are named `0`, `1`, … unless given names.
#[derive(Default)]
pub struct Concat {
    branches: Vec<(String, Box<dyn Module>)>,
}

impl Concat {
    /// No branches yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a branch named by its index.
    pub fn branch(mut self, m: impl Module + 'static) -> Self {
        let name = self.branches.len().to_string();
        self.branches.push((name, Box::new(m)));
        self
    }

    /// Adds a named branch.
    pub fn branch_named(mut self, name: &str, m: impl Module + 'static) -> Self {
        self.branches.push((name.to_string(), Box::new(m)));
        self
    }
}

impl Module for Concat {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Concat"
    }
    fn topology(&self) -> Topology {
        Topology::Branches
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let outs = self
            .branches
            .iter()
            .map(|(n, b)| {
                b.forward(x, mode)
                    .map_err(|e| e.in_layer(format!("{n} ({})", b.kind())))
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::concat(&outs.iter().collect::<Vec<_>>(), 1)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.branches
            .iter()
            .map(|(n, b)| (n.clone(), b.as_ref() as &dyn Module))
            .collect()
    }
}
