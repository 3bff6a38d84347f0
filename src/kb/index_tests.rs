use super::*;
use std::path::PathBuf;

fn article(id: &str, title: &str, questions: &[&str], answer: &str) -> Article {
    Article {
        id: id.into(),
        lang: "en".into(),
        title: title.into(),
        answer: answer.into(),
        questions: questions.iter().map(|q| q.to_string()).collect(),
        keywords: Vec::new(),
        links: Vec::new(),
        related: Vec::new(),
        file: PathBuf::from(format!("en/{id}.md")),
        line: 1,
    }
}

fn index() -> LangIndex {
    LangIndex::build(
        "en",
        vec![
            article(
                "password",
                "Reset your password",
                &["I forgot my password"],
                "Choose Forgot password on the sign-in page.",
            ),
            article(
                "invoice",
                "Download an invoice",
                &["where is my invoice"],
                "Invoices are in your orders.",
            ),
            article(
                "refund",
                "When will I get my refund",
                &["refund not received"],
                "Refunds take five days once we have your return.",
            ),
            article(
                "email",
                "Change your e-mail",
                &["new email address"],
                "Edit it in your profile.",
            ),
        ],
    )
}

fn best(index: &LangIndex, text: &str) -> Option<(String, f32)> {
    index
        .search(text, 3)
        .first()
        .map(|&(d, s)| (index.articles[d].id.clone(), s))
}

#[test]
fn scores_are_in_zero_to_one_best_first() {
    let index = index();
    let hits = index.search("forgot password refund invoice", 10);
    assert!(hits.len() >= 3);
    for pair in hits.windows(2) {
        assert!(pair[0].1 >= pair[1].1);
    }
    for (_, s) in &hits {
        assert!((0.0..=1.0).contains(s), "{s}");
    }
    let (id, s) = best(&index, "I forgot my password").unwrap();
    assert_eq!(id, "password");
    assert!(s > 0.6, "{s}");
}

#[test]
fn stems_match_other_forms() {
    assert_eq!(best(&index(), "refunded").unwrap().0, "refund");
    assert_eq!(best(&index(), "invoices").unwrap().0, "invoice");
}

#[test]
fn typos_match_at_a_lower_score() {
    let index = index();
    let (id, typo) = best(&index, "pasword").unwrap();
    assert_eq!(id, "password");
    let (_, exact) = best(&index, "password").unwrap();
    assert!(typo < exact, "{typo} {exact}");
    assert_eq!(best(&index, "invoise").unwrap().0, "invoice");
    // Four letters: too short to guess at.
    assert!(best(&index, "pass").is_none());
}

#[test]
fn words_written_apart_or_together() {
    let index = index();
    assert_eq!(best(&index, "e mail").unwrap().0, "email");
    assert_eq!(best(&index, "email").unwrap().0, "email");
}

#[test]
fn unknown_words_lower_the_score_without_hiding_the_match() {
    let index = index();
    let (_, alone) = best(&index, "refund").unwrap();
    let (id, with) = best(&index, "refund blender").unwrap();
    assert_eq!(id, "refund");
    assert!(with < alone);
    assert!(best(&index, "asdfgh qwerty").is_none());
    assert!(index.search("", 3).is_empty());
    assert!(index.search("refund", 0).is_empty());
}

#[test]
fn an_empty_index_finds_nothing() {
    let index = LangIndex::build("fr", Vec::new());
    assert!(index.search("remboursement", 3).is_empty());
}
