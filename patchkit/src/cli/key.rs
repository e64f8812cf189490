//! `key generate` and `sign`: making maintainer keys and adding one
//! maintainer's signature to staged metadata. Key bytes stay in
//! `patchkit-signing`; this file only names paths.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use patchkit_signing::{public_pem_path, SigningKey};

use super::{output, Context};
use patchkit::error::Error;
use patchkit::tuf::publish::sign_staged_file;

/// `patchkit key …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Generate an ed25519 key pair: OUT.pem (private, mode 0600) and
    /// OUT.pub.pem (public).
    ///
    /// The private key is PKCS#8 PEM, as `openssl genpkey -algorithm
    /// ed25519` writes it; keep it offline for root and targets. List the
    /// .pem files in KEYS.toml for `patchkit publish`.
    Generate {
        /// Base name of the key files (a trailing .pem is accepted).
        #[arg(value_name = "OUT")]
        out: PathBuf,
    },
}

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// A staged metadata file to sign, STAGED/V.ROLE.json (by default
    /// OUT.staged/, beside OUT), which `publish` prints when a role lacks
    /// signatures. The key must be one the role lists (the root beside the
    /// file says which); sign the file in place and give it back into the
    /// staged directory before `publish` runs again.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Your private key (PKCS#8 PEM).
    #[arg(long, value_name = "KEY.pem")]
    pub(crate) key: PathBuf,
}

fn private_path(out: &Path) -> PathBuf {
    if out.extension().is_some_and(|e| e == "pem") {
        out.to_path_buf()
    } else {
        let mut s = out.as_os_str().to_os_string();
        s.push(".pem");
        PathBuf::from(s)
    }
}

pub(super) fn run(ctx: &Context, cmd: &KeyCommand) -> Result<i32, Error> {
    match cmd {
        KeyCommand::Generate { out } => {
            let private = private_path(out);
            if private.exists() {
                return Err(Error::Usage(format!(
                    "{} exists; refusing to overwrite a key",
                    private.display()
                )));
            }
            if let Some(dir) = private.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| patchkit::state::Error::io("create directory", dir, e))?;
            }
            let key = SigningKey::generate();
            key.write_pem(&private)?;
            let public = public_pem_path(&private);
            output::emit(
                ctx,
                &output::KeyGenerated::new(&private, &public, key.key_id().to_string()),
            )
        }
    }
}

pub(super) fn sign(ctx: &Context, args: &SignArgs) -> Result<i32, Error> {
    let key = SigningKey::load_pem(&args.key)?;
    let added = sign_staged_file(&args.file, &key)?;
    output::emit(
        ctx,
        &output::Signed::new(&args.file, key.key_id().to_string(), added),
    )
}
