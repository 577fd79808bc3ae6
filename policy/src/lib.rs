//! The AWS IAM policy language as Amazon VPC Lattice evaluates it.
//!
//! Pure: no I/O, no async runtime. The pipeline is parse → validate → compile → evaluate,
//! with Lattice's network/service/identity layering on top.
