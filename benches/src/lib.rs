//! Workloads for the benchmarks (realistic policies of any size and the requests and contexts
//! a proxy would evaluate against them), and the servers the side-by-side comparison
//! (`benches/compare/run`) puts around the systems it measures.

pub mod loopback_service;
pub mod passthrough;
pub mod policy_workload;
