//! Matrix multiplication (the basis of fully connected layers).
//!
//! Legend: `a [m, k]`, `b [k, n]`, `out [m, n]`, `g = ∂loss/∂out [m, n]`.

use crate::cpu::gemm::{sgemm, MatRef};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

impl Tensor {
    /// Matrix product of two 2-d tensors: `[m, k] × [k, n] → [m, n]`, on both cores.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape(), other.shape());
        if sa.len() != 2 || sb.len() != 2 || sa[1] != sb[0] {
            return Err(Error::shape(
                "matmul",
                format!("cannot multiply {sa:?} by {sb:?}: needs [m, k] × [k, n]"),
            ));
        }
        let (m, k, n) = (sa[0], sa[1], sb[1]);
        let mut out = vec![0.0f32; m * n];
        sgemm(
            MatRef::row_major(&self.data(), m, k),
            MatRef::row_major(&other.data(), k, n),
            &mut out,
            false,
        );
        let (a, b) = (self.clone(), other.clone());
        Ok(Tensor::from_op(
            "matmul",
            vec![m, n],
            out,
            &[self, other],
            move |g, needs| {
                let gm = MatRef::row_major(g, m, n);
                // ∂loss/∂a = g · bᵀ
                let ga = needs[0].then(|| {
                    let mut ga = vec![0.0f32; m * k];
                    sgemm(gm, MatRef::row_major(&b.data(), k, n).t(), &mut ga, false);
                    ga
                });
                // ∂loss/∂b = aᵀ · g
                let gb = needs[1].then(|| {
                    let mut gb = vec![0.0f32; k * n];
                    sgemm(MatRef::row_major(&a.data(), m, k).t(), gm, &mut gb, false);
                    gb
                });
                Ok(vec![ga, gb])
            },
        ))
    }
}
