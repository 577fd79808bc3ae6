//! Workloads for the benchmarks: realistic policies of any size and the requests and contexts
//! a proxy would evaluate against them; and `trellis-load`, the load generator.

pub mod load;
pub mod policy_workload;
