use super::*;

fn file(path: &str, title: &str, related: &[&str], body: &str) -> (PathBuf, String) {
    let related: Vec<String> = related.iter().map(|r| format!("\"{r}\"")).collect();
    (
        PathBuf::from(path),
        format!(
            "+++\ntitle = \"{title}\"\nrelated = [{}]\n+++\n{body}\n",
            related.join(", ")
        ),
    )
}

fn base() -> KnowledgeBase {
    KnowledgeBase::from_files(vec![
        file(
            "kb/en/password.md",
            "Reset your password",
            &["locked"],
            "Use the reset link.",
        ),
        file("kb/en/locked.md", "Account locked", &[], "Wait 30 minutes."),
        file("kb/en/refund.md", "Refunds", &[], "Five days."),
        file(
            "kb/fr/password.md",
            "Réinitialiser le mot de passe",
            &[],
            "Utilisez le lien.",
        ),
        file("kb/README.md", "not an article", &[], "ignored"),
        (PathBuf::from("kb/en/notes.txt"), "ignored".into()),
    ])
    .unwrap()
}

#[test]
fn languages_and_articles() {
    let kb = base();
    assert_eq!(kb.len(), 4);
    assert!(!kb.is_empty());
    assert_eq!(kb.languages(), ["en", "fr"]);
    assert_eq!(kb.article("en", "locked").unwrap().title, "Account locked");
    assert!(kb.article("fr", "locked").is_none());
    let fr = kb.article("fr", "password").unwrap();
    assert_eq!(kb.translation(fr, "en").unwrap().lang, "en");
    let en = kb.article("en", "password").unwrap();
    let related: Vec<&str> = kb.related(en).iter().map(|a| a.id.as_str()).collect();
    assert_eq!(related, ["locked"]);
    assert!(format!("{kb:?}").contains("\"fr\": 1"));
    assert!(KnowledgeBase::empty().is_empty());
}

#[test]
fn a_customers_language_finds_its_folder() {
    let kb = base();
    assert!(kb.has_language("fr-CA"));
    assert!(kb.has_language("EN"));
    assert!(!kb.has_language("de"));
    assert_eq!(kb.pick_language(Some("fr-CA"), "en"), Some("fr"));
    assert_eq!(kb.pick_language(Some("de-AT"), "en"), Some("en"));
    assert_eq!(kb.pick_language(None, "fr"), Some("fr"));
    assert_eq!(kb.pick_language(None, "it"), Some("en"));
    assert_eq!(KnowledgeBase::empty().pick_language(Some("en"), "en"), None);
    assert_eq!(kb.search("fr-FR", "mot de passe", 3)[0].article.lang, "fr");
    assert!(kb.search("de", "passwort", 3).is_empty());
}

#[test]
fn related_ids_must_exist_in_the_same_language() {
    let problems = KnowledgeBase::from_files(vec![
        file("kb/fr/a.md", "A", &["b", "password"], "x"),
        file("kb/en/password.md", "P", &[], "x"),
        file("kb/fr/b.md", "B", &[], "x"),
    ])
    .unwrap_err();
    assert_eq!(
        problems,
        [Problem {
            file: "kb/fr/a.md".into(),
            line: 3,
            message: "related article 'password' does not exist in fr/".into()
        }]
    );
}

#[test]
fn every_problem_of_every_file_sorted_by_file_then_line() {
    let problems = KnowledgeBase::from_files(vec![
        (PathBuf::from("kb/fr/z.md"), "no front matter".into()),
        (
            PathBuf::from("kb/en/b.md"),
            "+++\ntitle = \"\"\nrelated = [\"nope\"]\n+++\n".into(),
        ),
        file("kb/en/a.md", "A", &["gone"], "x"),
        file("kb/en/a.md", "A again", &[], "x"),
    ])
    .unwrap_err();
    let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "kb/en/a.md:1: duplicate article id 'a' (also kb/en/a.md)",
            "kb/en/a.md:3: related article 'gone' does not exist in en/",
            "kb/en/b.md:2: empty title",
            "kb/en/b.md:4: no answer: the article's text goes after this '+++'",
            "kb/fr/z.md:1: no front matter: an article starts with a line '+++', its TOML, and another '+++'",
        ]
    );
}

#[test]
fn load_reads_language_folders_only() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &[u8]| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("README.md", b"# not an article");
    write("en/a.md", b"+++\ntitle = \"A\"\n+++\nThe answer.\n");
    write("en/notes.txt", b"ignored");
    write("images/x.md", b"ignored: not a language");
    std::fs::create_dir_all(dir.path().join("de")).unwrap();
    let kb = KnowledgeBase::load(dir.path()).unwrap();
    assert_eq!(kb.len(), 1);
    assert_eq!(
        kb.article("en", "a").unwrap().file,
        dir.path().join("en/a.md")
    );

    write("fr/b.md", b"+++\ntitle = \"B\"\n+++\n\nCaf\xe9\n");
    let problems = KnowledgeBase::load(dir.path()).unwrap_err();
    assert_eq!(
        problems,
        [Problem {
            file: dir.path().join("fr/b.md"),
            line: 5,
            message: "not UTF-8 text (save the file as UTF-8)".into()
        }]
    );
    let missing = KnowledgeBase::load(&dir.path().join("nowhere")).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert!(missing[0].message.starts_with("cannot read: "));
}

#[test]
fn ask_answers_suggests_or_finds_nothing() {
    let kb = KnowledgeBase::from_files(vec![
        file(
            "en/password.md",
            "Reset your password",
            &[],
            "Use the reset link.",
        ),
        file("en/locked.md", "Account locked", &[], "Wait 30 minutes."),
        file(
            "en/lock-pass.md",
            "Locked password",
            &[],
            "Also about locks.",
        ),
    ])
    .unwrap();
    let tuning = Tuning::default();
    match kb.ask("en", "reset password", &tuning) {
        Verdict::Answer(a) => assert_eq!(a.id, "password"),
        other => panic!("{other:?}"),
    }
    match kb.ask("en", "locked", &tuning) {
        Verdict::Suggest(list) => assert_eq!(list.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(kb.ask("en", "weather on mars", &tuning), Verdict::NoMatch);
    assert_eq!(kb.ask("xx", "reset password", &tuning), Verdict::NoMatch);
}
