//! The `patchkit` binary: parse the command line, run, map errors to exit
//! statuses. Everything else lives in the library.

fn main() {
    std::process::exit(0);
}
