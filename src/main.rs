//! gracewatch: all the work is in the library; see `gracewatch::cli`.

fn main() -> std::process::ExitCode {
    gracewatch::cli::main()
}
