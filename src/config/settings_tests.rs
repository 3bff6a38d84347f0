use super::*;

fn load(text: &str) -> Result<Settings, ConfigError> {
    Settings::from_str(Path::new("/etc/sb/switchboard.toml"), text)
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

const MINIMAL: &str =
    "[server]\nsupport_domain = \"support.test\"\nagent_domain = \"agents.support.test\"\n";

#[test]
fn the_commented_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/switchboard.toml");
    let s = Settings::load(&path).unwrap();
    assert_eq!(s.support_domain, "support.example");
    assert_eq!(s.limits.max_stanza_bytes, 262_144);
}

#[test]
fn relative_paths_follow_the_config_file() {
    let s = load(MINIMAL).unwrap();
    assert_eq!(s.database_url, "sqlite:///etc/sb/data/switchboard.db");
    assert_eq!(s.cert_dir, Path::new("/etc/sb/certs"));
    assert_eq!(
        s.c2s.listen,
        vec!["127.0.0.1:5222".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn unknown_key_has_its_line() {
    let p = problems(&format!("{MINIMAL}\n[c2s]\nlisten = []\nbogus = 1\n"));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("/etc/sb/switchboard.toml:7: unknown field `bogus`"),
        "{p:?}"
    );
}

#[test]
fn syntax_error_has_its_line() {
    let p = problems("[server]\nsupport_domain = \"a\"\nagent_domain = \n");
    assert!(p[0].starts_with("/etc/sb/switchboard.toml:3:"), "{p:?}");
}

#[test]
fn every_semantic_problem_is_reported_with_its_line() {
    let p = problems(
        "[server]\nsupport_domain = \"bad domain\"\nagent_domain = \"x@y\"\n\
         [database]\nurl = \"mysql://x\"\n[c2s]\nlisten = [\"nowhere\"]\n\
         [limits]\nmax_stanza_bytes = 10\n",
    );
    assert_eq!(
        p,
        vec![
            "/etc/sb/switchboard.toml:2: 'bad domain' is not a valid domain",
            "/etc/sb/switchboard.toml:3: 'x@y' is not a valid domain",
            "/etc/sb/switchboard.toml:5: database url must start with sqlite:// or postgres://",
            "/etc/sb/switchboard.toml:7: 'nowhere' is not an address like 127.0.0.1:5222",
            "/etc/sb/switchboard.toml:9: max_stanza_bytes must be between 10000 and 16777216 (RFC 6120 §13.12 asks for at least 10000)",
        ]
    );
}

#[test]
fn missing_server_section() {
    let p = problems("[c2s]\n");
    assert!(p[0].contains("missing field `server`"), "{p:?}");
}

#[test]
fn s2s_hosts_and_secret_are_checked_with_their_lines() {
    let p = problems(&format!(
        "{MINIMAL}[s2s]\nsecure_auth = false\ndialback_secret = \"short\"\n\
         [s2s.hosts]\n\"customer.test\" = \"127.0.0.21:5269\"\n\"other.test\" = \"nowhere\"\n"
    ));
    assert_eq!(
        p,
        vec![
            "/etc/sb/switchboard.toml:6: dialback_secret must be at least 16 characters (or empty for a random one)",
            "/etc/sb/switchboard.toml:9: [s2s.hosts] \"other.test\": 'nowhere' is not an address like 127.0.0.21:5269",
        ]
    );
    let s = load(&format!(
        "{MINIMAL}[s2s]\nsecure_auth = false\n[s2s.hosts]\n\"Customer.test\" = \"127.0.0.21:5269\"\n"
    ))
    .unwrap();
    assert!(!s.s2s.secure_auth);
    assert_eq!(
        s.s2s.hosts.get("customer.test"),
        Some(&"127.0.0.21:5269".parse().unwrap())
    );
}

#[test]
fn components_are_checked_with_their_lines() {
    let p = problems(&format!(
        "{MINIMAL}[component]\nlisten = [\"127.0.0.1:5347\"]\n\
         [[component.accept]]\ndomain = \"sms.support.test\"\nsecret = \"short\"\n\
         [[component.accept]]\ndomain = \"support.test\"\nsecret = \"long enough\"\n"
    ));
    assert_eq!(
        p,
        vec![
            "/etc/sb/switchboard.toml:8: component secret must be at least 8 characters",
            "/etc/sb/switchboard.toml:10: component domain 'support.test' is one of the server's own domains",
        ]
    );
    let s = load(&format!(
        "{MINIMAL}[component]\nlisten = [\"127.0.0.1:5347\"]\n\
         [[component.accept]]\ndomain = \"SMS.support.test\"\nsecret = \"long enough\"\n"
    ))
    .unwrap();
    assert_eq!(
        s.component
            .accept
            .get("sms.support.test")
            .map(String::as_str),
        Some("long enough")
    );
}

#[test]
fn the_web_channel_is_off_unless_configured() {
    let s = load(MINIMAL).unwrap();
    assert!(!s.http.enabled());
    assert_eq!(s.web_domain(), None);
    assert_eq!(s.domains(), ["support.test", "agents.support.test"]);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/switchboard.toml");
    let s = Settings::load(&shipped).unwrap();
    assert_eq!(
        s.http.listen,
        vec!["127.0.0.1:5280".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(s.web_domain(), Some("web.support.example"));
    assert!(
        s.is_client_domain("web.support.example") && s.is_client_domain("agents.support.example")
    );
    assert!(!s.is_client_domain("support.example"));
}

#[test]
fn http_and_web_problems_have_their_lines() {
    let p = problems(&format!(
        "{MINIMAL}[http]\nlisten = [\"localhost\"]\npublic_url = \"ftp://x\"\n\
         trusted_proxies = [\"a proxy\"]\nmax_streams_per_address = 0\n\
         [web]\ndomain = \"support.test\"\ntoken_secret = \"short\"\n"
    ));
    assert_eq!(
        p,
        [
            "/etc/sb/switchboard.toml:5: 'localhost' is not an address like 127.0.0.1:5280",
            "/etc/sb/switchboard.toml:6: public_url must start with http:// or https://",
            "/etc/sb/switchboard.toml:7: 'a proxy' is not an IP address like 127.0.0.1",
            "/etc/sb/switchboard.toml:8: max_streams_per_address must be at least 1",
            "/etc/sb/switchboard.toml:10: the web domain must differ from support_domain and agent_domain",
            "/etc/sb/switchboard.toml:11: token_secret must be at least 32 characters (or empty for no site tokens)",
        ]
    );
}

#[test]
fn uploads_are_off_unless_configured_and_need_http() {
    assert!(load(MINIMAL).unwrap().upload.is_none());
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/switchboard.toml");
    let u = Settings::load(&shipped).unwrap().upload.unwrap();
    assert_eq!(u.directory, shipped.parent().unwrap().join("data/uploads"));
    assert_eq!(u.max_file_bytes, 10 * 1024 * 1024);
    assert_eq!(
        u.allowed_types,
        ["image/*", "application/pdf", "text/plain"]
    );
    assert_eq!(u.expire, Duration::from_secs(30 * 86_400));
    assert_eq!(u.slot, Duration::from_secs(300));
    assert!(u.allows("image/png") && u.allows("text/plain") && !u.allows("text/html"));
    // Every key has its default.
    let http = "[http]\nlisten = [\"127.0.0.1:5280\"]\n";
    let s = load(&format!("{MINIMAL}{http}[upload]\n")).unwrap();
    let u = s.upload.unwrap();
    assert_eq!(u.directory, Path::new("/etc/sb/data/uploads"));
    assert_eq!(u.max_file_bytes, 10 * 1024 * 1024);
    let p = problems(&format!("{MINIMAL}[upload]\ndirectory = \"files\"\n"));
    assert_eq!(
        p,
        ["/etc/sb/switchboard.toml:4: [upload] needs the HTTP listener, where files are sent and fetched: set [http] listen"]
    );
    let p = problems(&format!(
        "{MINIMAL}[http]\nlisten = [\"0.0.0.0:5280\"]\n[upload]\n"
    ));
    assert!(
        p[0].starts_with("/etc/sb/switchboard.toml:6: [upload] makes links"),
        "{p:?}"
    );
    let any = load(&format!(
        "{MINIMAL}[http]\nlisten = [\"0.0.0.0:5280\"]\npublic_url = \"https://chat.example\"\n\
         [upload]\nallowed_types = [\"*/*\"]\n"
    ))
    .unwrap();
    assert!(any.upload.unwrap().allows("application/x-anything"));
}

#[test]
fn upload_problems_have_their_lines() {
    let p = problems(&format!(
        "{MINIMAL}[http]\nlisten = [\"127.0.0.1:5280\"]\n[upload]\ndirectory = \"\"\n\
         max_file_bytes = 0\nallowed_types = [\n  \"image/*\",\n  \"pdf\",\n  \"*/png\",\n]\n\
         expire_days = 0\nslot_secs = 5\n"
    ));
    assert_eq!(
        p,
        [
            "/etc/sb/switchboard.toml:7: directory is empty",
            "/etc/sb/switchboard.toml:8: max_file_bytes must be between 1 and 4294967296",
            "/etc/sb/switchboard.toml:11: 'pdf' is not a MIME type pattern like image/*, application/pdf or */*",
            "/etc/sb/switchboard.toml:12: '*/png' is not a MIME type pattern like image/*, application/pdf or */*",
            "/etc/sb/switchboard.toml:14: expire_days must be between 1 and 3650",
            "/etc/sb/switchboard.toml:15: slot_secs must be between 10 and 86400",
        ]
    );
    let p = problems(&format!(
        "{MINIMAL}[http]\nlisten = [\"127.0.0.1:5280\"]\n[upload]\nallowed_types = []\n"
    ));
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("allowed_types is empty"), "{p:?}");
}
