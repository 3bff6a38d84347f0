//! Bench accounts, thousands at a time, for both servers with the same
//! SCRAM parameters: in Switchboard's database through its own store, and
//! as Prosody `internal_hashed` account files.
//!
//! `switchboard account set` and `prosodyctl register` start a process and
//! run PBKDF2 per account, minutes for ten thousand; here PBKDF2 runs once,
//! because every bench account has the same password and salt. Neither
//! server does PBKDF2 at a SCRAM login, so this changes no measurement.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use switchboard::config::Settings;
use switchboard::store::{Credentials, Store};

use super::scram::{verifier, Mech};

/// A printable salt: Prosody keeps salts as strings.
const SALT: &str = "switchboard-bench-salt";

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// switchboard.toml of the server whose database gets the accounts.
    #[arg(long)]
    pub switchboard_config: Option<PathBuf>,
    /// Prosody's data_path, where account files are written.
    #[arg(long)]
    pub prosody_data: Option<PathBuf>,
    /// The accounts' domain.
    #[arg(long)]
    pub domain: String,
    /// PREFIX:COUNT, accounts PREFIX1..PREFIXCOUNT (repeatable).
    #[arg(long = "users", required = true)]
    pub users: Vec<String>,
    #[arg(long, default_value = "bench-password")]
    pub password: String,
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
}

pub async fn run(args: Args) -> Result<()> {
    let mut names = Vec::new();
    for spec in &args.users {
        let (prefix, count) = spec
            .split_once(':')
            .ok_or_else(|| anyhow!("--users wants PREFIX:COUNT, got {spec:?}"))?;
        let count: usize = count
            .parse()
            .with_context(|| format!("count in {spec:?}"))?;
        names.extend((1..=count).map(|i| format!("{prefix}{i}")));
    }
    if args.switchboard_config.is_none() && args.prosody_data.is_none() {
        bail!("nothing to do: give --switchboard-config and/or --prosody-data");
    }
    let salt = SALT.as_bytes();
    let sha1 = verifier(Mech::ScramSha1, &args.password, salt, args.iterations);
    let sha256 = verifier(Mech::ScramSha256, &args.password, salt, args.iterations);
    if let Some(config) = &args.switchboard_config {
        let settings = Settings::load(config).map_err(|e| anyhow!("{e}"))?;
        if settings.agent_domain != args.domain {
            bail!(
                "{} serves accounts on {}, not {}",
                config.display(),
                settings.agent_domain,
                args.domain
            );
        }
        let store = Store::connect(&settings.database_url).await?;
        let creds = Credentials {
            salt: salt.to_vec(),
            iterations: args.iterations,
            sha1_stored_key: sha1.stored_key.clone(),
            sha1_server_key: sha1.server_key.clone(),
            sha256_stored_key: sha256.stored_key.clone(),
            sha256_server_key: sha256.server_key.clone(),
        };
        for n in &names {
            store
                .set_account(&format!("{n}@{}", args.domain), &creds)
                .await?;
        }
        store.close().await;
        println!("switchboard: {} accounts", names.len());
    }
    if let Some(data) = &args.prosody_data {
        let dir = data.join(encode(&args.domain)).join("accounts");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let body = prosody_account(
            salt,
            args.iterations,
            &sha256.stored_key,
            &sha256.server_key,
        );
        for n in &names {
            write(&dir.join(format!("{}.dat", encode(n))), &body)?;
        }
        println!("prosody: {} accounts", names.len());
    }
    Ok(())
}

/// Prosody's datamanager file name encoding: every non-alphanumeric byte
/// becomes `%xx`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// What mod_auth_internal_hashed stores (Prosody 0.12, password_hash
/// SHA-256): hex keys and the salt as a string.
fn prosody_account(salt: &[u8], iterations: u32, stored: &[u8], server: &[u8]) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "return {{\n\t[\"iteration_count\"] = {iterations};\n\t[\"salt\"] = \"{}\";\n\
         \t[\"server_key\"] = \"{}\";\n\t[\"stored_key\"] = \"{}\";\n}};\n",
        String::from_utf8_lossy(salt),
        hex(server),
        hex(stored)
    )
}

fn write(path: &Path, body: &str) -> Result<()> {
    std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))
}
