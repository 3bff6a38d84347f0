use super::*;

const GOOD: &str = "+++
# A comment.
title = \"Reset your password\"
questions = [\"I forgot my password\", \"can't log in\"]
keywords = [\"password\"]
related = [\"two-factor\"]
links = [{ title = \"Reset page\", url = \"https://shop.example/reset\" }]
+++

Go to **Account → Security**.

";

fn problems(path: &str, text: &str) -> Vec<(usize, String)> {
    match parse(Path::new(path), text) {
        Ok(_) => Vec::new(),
        Err(found) => {
            for p in &found {
                assert_eq!(p.file, Path::new(path));
            }
            found.into_iter().map(|p| (p.line, p.message)).collect()
        }
    }
}

fn one(line: usize, message: &str) -> Vec<(usize, String)> {
    vec![(line, message.to_string())]
}

#[test]
fn a_good_file_is_read_whole() {
    let parsed = parse(Path::new("kb/en/reset-password.md"), GOOD)
        .ok()
        .unwrap();
    let a = parsed.article;
    assert_eq!(a.id, "reset-password");
    assert_eq!(a.lang, "en");
    assert_eq!(a.title, "Reset your password");
    assert_eq!(a.answer, "Go to **Account → Security**.");
    assert_eq!(a.questions, ["I forgot my password", "can't log in"]);
    assert_eq!(a.keywords, ["password"]);
    assert_eq!(a.related, ["two-factor"]);
    assert_eq!(parsed.related_lines, [6]);
    assert_eq!(
        a.links,
        [Link {
            title: "Reset page".into(),
            url: "https://shop.example/reset".into()
        }]
    );
    assert_eq!(
        (a.file, a.line),
        (PathBuf::from("kb/en/reset-password.md"), 1)
    );
}

#[test]
fn windows_line_ends_and_a_byte_order_mark_are_fine() {
    let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
    let a = parse(Path::new("en/x.md"), &text).ok().unwrap().article;
    assert_eq!(a.title, "Reset your password");
    assert_eq!(a.answer, "Go to **Account → Security**.");
}

#[test]
fn the_front_matter_must_open_and_close() {
    assert_eq!(
        problems("en/a.md", "title = \"x\"\n"),
        one(
            1,
            "no front matter: an article starts with a line '+++', its TOML, and another '+++'"
        )
    );
    assert_eq!(
        problems("en/a.md", "+++\ntitle = \"x\"\nbody\n"),
        one(1, "the front matter opened here has no closing '+++' line")
    );
    assert_eq!(
        problems("en/a.md", ""),
        one(
            1,
            "empty file: an article starts with a front matter between '+++' lines"
        )
    );
}

#[test]
fn toml_errors_are_at_their_line_in_the_file() {
    let found = problems(
        "en/a.md",
        "+++\ntitle = \"x\"\nkeywords = [\"a\",\n+++\nbody\n",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 4);
    assert_eq!(found[0].1, "invalid array\nexpected `]`");
    let found = problems(
        "en/a.md",
        "+++\ntitle = \"x\"\n\ncolour = \"red\"\n+++\nbody\n",
    );
    assert_eq!(
        found,
        one(
            4,
            "unknown field `colour`, expected one of `title`, `questions`, `keywords`, `related`, `links`"
        )
    );
}

#[test]
fn title_and_answer_are_required() {
    assert_eq!(
        problems("en/a.md", "+++\nkeywords = [\"a\"]\n+++\nbody\n"),
        one(1, "missing title")
    );
    assert_eq!(
        problems("en/a.md", "+++\n\ntitle = \"  \"\n+++\nbody\n"),
        one(3, "empty title")
    );
    assert_eq!(
        problems("en/a.md", "+++\ntitle = \"x\"\n+++\n\n  \n"),
        one(3, "no answer: the article's text goes after this '+++'")
    );
}

#[test]
fn the_file_name_is_the_id() {
    assert_eq!(
        problems("en/Reset Password.md", GOOD),
        one(
            1,
            "bad article id 'Reset Password': a file name must be lowercase letters, digits, '_' or '-' (then .md)"
        )
    );
    assert_eq!(
        problems("English/reset.md", GOOD),
        one(
            1,
            "an article must be in a language folder such as en/ or pt-br/, not 'English'"
        )
    );
}

#[test]
fn links_must_be_web_addresses() {
    let text = "+++\ntitle = \"x\"\nlinks = [\n  { title = \"a\", url = \"ftp://shop.example/a\" },\n  { title = \"\", url = \"shop.example\" },\n]\n+++\nbody\n";
    assert_eq!(
        problems("en/a.md", text),
        vec![
            (
                4,
                "link URL 'ftp://shop.example/a' is not http:// or https://".to_string()
            ),
            (
                5,
                "link URL 'shop.example' is not a URL: relative URL without a base".to_string()
            ),
            (5, "empty link title".to_string()),
        ]
    );
}

#[test]
fn lists_have_no_empty_or_bad_entries() {
    let text = "+++\ntitle = \"x\"\nquestions = [\"ok\", \"\"]\nkeywords = [\" \"]\nrelated = [\"Two Factor\", \"a\", \"b\", \"b\"]\n+++\nbody\n";
    assert_eq!(
        problems("en/a.md", text),
        vec![
            (3, "empty question".to_string()),
            (4, "empty keyword".to_string()),
            (5, "bad related id 'Two Factor'".to_string()),
            (5, "an article cannot be related to itself".to_string()),
        ]
    );
}

#[test]
fn a_file_that_is_not_utf8_is_placed_at_its_first_bad_byte() {
    let bytes = b"+++\ntitle = \"x\"\n+++\ncaf\xe9\n";
    let e = String::from_utf8(bytes.to_vec()).unwrap_err();
    let p = not_utf8(Path::new("fr/a.md"), bytes, e.utf8_error().valid_up_to());
    assert_eq!(p.line, 4);
    assert_eq!(p.message, "not UTF-8 text (save the file as UTF-8)");
}

#[test]
fn language_folders() {
    for ok in ["en", "fr", "pt-br", "zh-hant", "gsw"] {
        assert!(is_language_folder(ok), "{ok}");
    }
    for bad in ["", "e", "EN", "english", "pt_br", "en-", "images"] {
        assert!(!is_language_folder(bad), "{bad}");
    }
}
