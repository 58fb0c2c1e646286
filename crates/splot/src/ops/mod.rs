//! Operations, one file per family; each holds the forward computation and its backward
//! rule side by side. Ops are methods of [`crate::Tensor`].

pub mod conv;
pub mod elementwise;
pub mod linear;
pub mod padding;
pub mod pool;
pub mod reduce;
pub mod shape;
