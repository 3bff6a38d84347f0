//! The `switchboard` command: serve, check, account, certs.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use switchboard::config::{
    accounts, find_config, AgentsConfig, ConfigError, GatewayConfig, Settings,
};
use switchboard::net::certs;
use switchboard::server::Server;
use switchboard::store::{Credentials, Store, DEFAULT_ITERATIONS};

/// mimalloc: in support chat at saturation glibc's malloc and free were
/// 15% of the server's CPU, and glibc kept the freed memory of a login
/// burst (see `collect_freed_memory` for mimalloc's side of that).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc gives pages left free back to the system only when the thread
/// that freed them calls into it again, and a server whose sessions have
/// gone idle may not for a long time: after a burst of logins it kept the
/// memory of thousands of TLS handshakes, 7 KB per idle session (17.8 →
/// 10.4 KB, `scripts/bench --only idle`). A collection every second gives
/// it back at no measurable cost to relaying; a shorter purge delay
/// instead cost 10-15% CPU in steady relay (pages emptied between two
/// messages were given back and faulted in again).
async fn collect_freed_memory() {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // SAFETY: mimalloc's own collection entry point, callable anytime.
        unsafe { libmimalloc_sys::mi_collect(false) };
    }
}

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A contact-center gateway that is a real XMPP server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--help` of `--config`: where the file is looked for (`config::locate`).
const CONFIG_HELP: &str = "\
The server configuration file. Without --config, the first that exists of:
  conf/switchboard.toml under the current directory
  conf/switchboard.toml of the checkout the binary was built in
    (CHECKOUT/target/release/switchboard: CHECKOUT/conf/switchboard.toml)
  /etc/switchboard/switchboard.toml";

#[derive(clap::Args)]
struct ConfigArg {
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = "The server configuration file [default: the first found, see --help]",
        long_help = CONFIG_HELP
    )]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// The file named, or the first found where it is looked for (see
    /// `config::locate`).
    fn path(&self) -> Result<PathBuf> {
        if let Some(path) = &self.config {
            return Ok(path.clone());
        }
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let exe = std::env::current_exe().ok();
        Ok(find_config(&cwd, exe.as_deref())?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ConfigArg),
    /// Validate every configuration file; prints file:line: message per problem.
    Check(ConfigArg),
    /// Manage agent accounts.
    Account {
        #[command(subcommand)]
        action: AccountAction,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Certificates.
    Certs {
        #[command(subcommand)]
        action: CertsAction,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// A session's transcript: notes, whispers, events, escalations, categories.
    Transcript {
        /// The session id (s-…), as in the proxy JID.
        session: String,
        /// As JSON, for tools.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Support categories (categories.toml).
    Categories {
        #[command(subcommand)]
        action: CategoriesAction,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand)]
enum CategoriesAction {
    /// Agents' corrections as [[example]] tables to append to categories.toml.
    Export {
        /// Only corrections made on or after this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountAction {
    /// Set (or create) an account's password: from --password or standard input.
    Set {
        jid: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Delete an account with its roster and offline messages.
    Delete { jid: String },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum CertsAction {
    /// Write a development CA and certificates for the configured domains.
    Dev,
}

fn load(path: &Path) -> Result<Settings> {
    Settings::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: logs sent to files stay greppable.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve(c) => serve(&c.path()?).await,
        Command::Check(c) => check(&c.path()?).await,
        Command::Account { action, config } => account(&config.path()?, action).await,
        Command::Certs {
            action: CertsAction::Dev,
            config,
        } => {
            let settings = load(&config.path()?)?;
            for f in certs::write_dev_certs(&settings.cert_dir, &settings.domains())? {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        Command::Transcript {
            session,
            json,
            config,
        } => transcript(&config.path()?, &session, json).await,
        Command::Categories {
            action: CategoriesAction::Export { since },
            config,
        } => export_corrections(&config.path()?, since.as_deref()).await,
    }
}

async fn open_store(path: &Path) -> Result<Store> {
    let settings = load(path)?;
    if Store::is_uncreated(&settings.database_url) {
        bail!("no database yet at {}", settings.database_url);
    }
    Store::connect(&settings.database_url)
        .await
        .context("opening the database")
}

async fn transcript(path: &Path, session: &str, json: bool) -> Result<()> {
    let store = open_store(path).await?;
    let t = switchboard::gateway::transcript::load(&store, session).await;
    store.close().await;
    let t = t?;
    println!("{}", if json { t.to_json() } else { t.to_text() });
    Ok(())
}

/// TOML a `categories.toml` takes as it is: one `[[example]]` per
/// correction, with where it came from as a comment.
async fn export_corrections(path: &Path, since: Option<&str>) -> Result<()> {
    let since_ms = match since {
        None => 0,
        Some(day) => {
            let date: jiff::civil::Date = day
                .parse()
                .with_context(|| format!("--since {day}: write a day as YYYY-MM-DD"))?;
            date.to_zoned(jiff::tz::TimeZone::UTC)?
                .timestamp()
                .as_millisecond()
        }
    };
    let store = open_store(path).await?;
    let corrections = store.corrections_since(since_ms).await;
    store.close().await;
    let corrections = corrections?;
    println!(
        "# {} from agents' corrections (switchboard categories export)",
        count(corrections.len(), "example")
    );
    for c in corrections {
        // A JSON string is a TOML basic string: the same escapes.
        let quote = |s: &str| serde_json::to_string(s).expect("a string serializes");
        println!(
            "\n# session {}, by {}: was {}\n[[example]]\ncategory = {}\nlang = {}\ntext = {}",
            c.session_id,
            c.agent,
            if c.was.is_empty() {
                "-".to_string()
            } else {
                c.was.join(", ")
            },
            quote(&c.category),
            quote(&c.lang),
            quote(&c.text)
        );
    }
    Ok(())
}

async fn serve(path: &Path) -> Result<()> {
    let settings = load(path)?;
    let server = Server::bind(settings).await?;
    tokio::spawn(collect_freed_memory());
    let ready: Vec<String> = server
        .addresses()
        .iter()
        .map(|(name, addr)| format!("{name}={addr}"))
        .collect();
    // The one line on stdout: scripts and tests wait for it.
    println!("ready {}", ready.join(" "));
    if let Some(url) = server.chat_url() {
        println!("chat {url}");
    }
    tracing::info!(listeners = %ready.join(" "), "ready");
    server.run(shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// switchboard.toml first: the gateway files' paths and the support domain
/// their entry JIDs must use come from it. Valid files are then compared
/// with the accounts of the store: warnings, which leave the exit status 0.
async fn check(path: &Path) -> Result<()> {
    let settings = match Settings::load(path) {
        Ok(s) => s,
        Err(e) => fail(e),
    };
    println!("{}: ok", path.display());
    match GatewayConfig::load(&settings) {
        Ok(g) => {
            let files = &settings.gateway;
            let agents = count(g.agents.len(), "agent");
            println!("{}: ok, {agents}", files.agents_file.display());
            let queues = count(g.routing.queues().len(), "queue");
            let rules = match g.routing.rules().len() {
                0 => String::new(),
                n => format!(", {}", count(n, "rule")),
            };
            println!("{}: ok, {queues}{rules}", files.routing_file.display());
            if let Some(d) = &files.dialogs_file {
                let dl = &g.dialogs;
                let mut parts = vec![
                    count(dl.questions().len(), "question"),
                    count(dl.canned().len(), "canned answer"),
                ];
                if let Some(ss) = dl.self_service() {
                    parts.push(format!(
                        "knowledge base {} ({} in {})",
                        ss.dir.display(),
                        count(ss.kb.len(), "article"),
                        ss.kb.languages().join(", ")
                    ));
                }
                println!("{}: ok, {}", d.display(), parts.join(", "));
            }
            if let Some(c) = &files.categories_file {
                let cats = &g.categories;
                println!(
                    "{}: ok, {} ({}), {}",
                    c.display(),
                    match cats.len() {
                        1 => "1 category".to_string(),
                        n => format!("{n} categories"),
                    },
                    cats.languages().join(", "),
                    count(cats.example_count(), "example")
                );
            }
            match agent_accounts(&settings).await {
                Ok(jids) => {
                    let domain = &settings.agent_domain;
                    for w in accounts::compare(&g.agents, &files.agents_file, domain, &jids) {
                        println!("{w}");
                    }
                }
                Err(e) => println!(
                    "{}: warning: agents not compared with accounts: {e:#}",
                    path.display()
                ),
            }
            Ok(())
        }
        Err(e) => fail(e),
    }
}

/// The accounts of the store; none when its SQLite file does not exist
/// yet, which is then not created.
async fn agent_accounts(settings: &Settings) -> Result<Vec<String>> {
    if Store::is_uncreated(&settings.database_url) {
        return Ok(Vec::new());
    }
    let store = Store::connect(&settings.database_url).await?;
    let accounts = store.list_accounts().await;
    store.close().await;
    Ok(accounts?)
}

/// Prints every problem, one `file:line: message` a line, and exits 1.
fn fail(e: ConfigError) -> ! {
    match e {
        ConfigError::Invalid(problems) => {
            for p in &problems {
                println!("{p}");
            }
        }
        e => println!("{e}"),
    }
    std::process::exit(1);
}

/// An account is half of an agent: says when `jid` is not in agents.toml.
fn not_an_agent_yet(settings: &Settings, jid: &str) {
    let file = &settings.gateway.agents_file;
    match AgentsConfig::read(file, &settings.support_domain) {
        Ok(agents) => {
            let known = jid::BareJid::new(jid).is_ok_and(|j| agents.get(&j).is_some());
            if !known {
                println!(
                    "note: {jid} is not an agent yet: add an [[agent]] with jid = \"{jid}\" to {}",
                    file.display()
                );
            }
        }
        Err(_) => println!(
            "note: cannot tell whether {jid} is an agent: {} has problems (switchboard check)",
            file.display()
        ),
    }
}

async fn account(path: &Path, action: AccountAction) -> Result<()> {
    let settings = load(path)?;
    let store = Store::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    let bare = |jid: &str| -> Result<String> {
        let j = jid::BareJid::new(jid).with_context(|| format!("'{jid}' is not a valid JID"))?;
        if j.node().is_none() || j.domain().as_str() != settings.agent_domain {
            bail!(
                "accounts live on {}: use user@{}",
                settings.agent_domain,
                settings.agent_domain
            );
        }
        Ok(j.to_string())
    };
    match action {
        AccountAction::Set { jid, password } => {
            let jid = bare(&jid)?;
            let password = match password {
                Some(p) => p,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.is_empty() {
                bail!("empty password");
            }
            store
                .set_account(&jid, &Credentials::derive(&password, DEFAULT_ITERATIONS))
                .await?;
            println!("set {jid}");
            not_an_agent_yet(&settings, &jid);
        }
        AccountAction::Delete { jid } => {
            let jid = bare(&jid)?;
            if !store.delete_account(&jid).await? {
                bail!("no account {jid}");
            }
            println!("deleted {jid}");
        }
        AccountAction::List => {
            for a in store.list_accounts().await? {
                println!("{a}");
            }
        }
    }
    store.close().await;
    Ok(())
}
