#![forbid(unsafe_code)]

/// A large policy reload builds and frees hundreds of thousands of small blocks; mimalloc
/// does that at a fraction of the system allocator's cost (glibc's and musl's alike).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(trellis::cli::main_with_args(std::env::args_os()));
}
