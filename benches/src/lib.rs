//! Workloads for the benchmarks (realistic policies of any size and the requests and contexts
//! a proxy would evaluate against them); `trellis-load`, the load generator; and the servers
//! the side-by-side comparison (`benches/compare/run`) puts around the systems it measures.

pub mod load;
pub mod loopback_service;
pub mod passthrough;
pub mod policy_workload;
