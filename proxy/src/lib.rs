//! Trellis: a sidecar that authenticates (SigV4) and authorizes (IAM auth policies) every
//! request with Amazon VPC Lattice semantics before it reaches the local service.

pub mod cli;
pub mod normalize;
