//! The `wexqs` binary: parses the command line and hands it to the library.

fn main() -> std::process::ExitCode {
    wexqs::cli::main()
}
