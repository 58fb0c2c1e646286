//! Operations, one file per family; each holds the forward computation and its backward
//! rule side by side. Ops are methods of [`crate::Tensor`].

pub mod activation;
pub mod boxes;
pub mod conv;
pub mod cost;
pub mod dropout;
pub mod elementwise;
pub mod index;
pub mod layer_norm;
pub mod linear;
pub mod loss;
pub mod norm;
pub mod padding;
pub mod pool;
pub mod recurrent;
pub mod reduce;
pub mod resample;
pub mod roi;
pub mod shape;
