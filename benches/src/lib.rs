//! Workloads for the benchmarks: realistic policies of any size and the requests and contexts
//! a proxy would evaluate against them.

pub mod policy_workload;
