//! The `patchkit` binary: parse the command line, run, map the error to an
//! exit status and print its cause once. Everything else is the library's.

use clap::Parser;

fn main() {
    let cli = patchkit::cli::Cli::parse();
    let code = match patchkit::cli::run(cli) {
        Ok(code) => code,
        // A closed pipe (`patchkit check … | head`) is not an error.
        Err(patchkit::Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
