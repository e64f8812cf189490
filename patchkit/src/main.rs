//! The `patchkit` binary: parse the command line, run, map the error to an
//! exit status and print its cause once. The command line itself lives here,
//! in the binary (`cli/`), as a thin layer over the library.

mod cli;

use clap::{CommandFactory, Parser};

fn main() {
    let cli = cli::Cli::parse();
    let json = cli.json;
    let code = match cli::run(cli) {
        Ok(code) => code,
        // A closed pipe (`patchkit check … | head`) is not an error.
        Err(patchkit::Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: {e}");
            let code = e.exit_code();
            if json {
                // `--json` promises one JSON document on stdout, fatal
                // errors included, so that CI can always parse it.
                let doc = serde_json::json!({
                    "command": command_name(),
                    "ok": false,
                    "error": e.to_string(),
                    "exit_code": code,
                });
                println!("{doc:#}");
            }
            code
        }
    };
    std::process::exit(code);
}

/// The subcommand as given (`repo add`, `check`), for the error document.
fn command_name() -> String {
    let mut names = Vec::new();
    let matches = cli::Cli::command().try_get_matches().ok();
    let mut m = matches.as_ref();
    while let Some((name, sub)) = m.and_then(|m| m.subcommand()) {
        names.push(name.to_string());
        m = Some(sub);
    }
    names.join(" ")
}
