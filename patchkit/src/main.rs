//! The `patchkit` binary: parse the command line, run, map the error to an
//! exit status and print its cause once. The command line itself lives here,
//! in the binary (`cli/`), as a thin layer over the library.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli::run(cli) {
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
