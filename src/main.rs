//! The `bindlog` command line: clap lives here and in `cli/`, everything else in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
