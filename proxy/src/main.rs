fn main() {
    std::process::exit(trellis::cli::main_with_args(std::env::args_os()));
}
