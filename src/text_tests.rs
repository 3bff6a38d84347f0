use super::*;

#[test]
fn folding_drops_case_accents_and_ligatures() {
    assert_eq!(fold("Problème de Réseau", "fr"), "probleme de reseau");
    assert_eq!(fold("Œuvre, cœur, ÇA", "fr"), "oeuvre, coeur, ca");
    assert_eq!(fold("l’adresse", "fr"), "l'adresse");
    assert_eq!(fold("Größe für", "de"), "groesse fuer");
    assert_eq!(fold("für", "en"), "fur");
}

#[test]
fn base_languages() {
    assert_eq!(base_language("fr-CA"), "fr");
    assert_eq!(base_language("pt_BR"), "pt");
    assert_eq!(base_language("EN"), "en");
}

#[test]
fn words_drop_stop_words_elisions_and_chat() {
    let fr = Analyzer::new("fr");
    assert_eq!(
        fr.words("Bonjour, je n'ai pas reçu l'e-mail de confirmation", true),
        ["recu", "mail", "email", "confirmation"]
    );
    let en = Analyzer::new("en");
    assert_eq!(
        en.words("Hi, how do I get my 2FA code? Thanks!", true),
        ["get", "2fa", "code"]
    );
    assert_eq!(en.tokens("log-in now"), ["log", "in", "now"]);
}

#[test]
fn with_or_without_accents_a_french_word_has_one_stem() {
    let fr = Analyzer::new("fr");
    for (a, b) in [
        ("remboursé", "rembourse"),
        ("livrée", "livree"),
        ("échanger", "echanger"),
    ] {
        let a = fr.stem(&fold(a, "fr"));
        assert_eq!(a, fr.stem(&fold(b, "fr")));
    }
    assert_eq!(fr.stem("remboursement"), fr.stem("rembourser"));
}

#[test]
fn english_stems_and_unknown_languages() {
    let en = Analyzer::new("en");
    let fr = Analyzer::new("fr");
    assert_eq!(en.stem("refunds"), en.stem("refunded"));
    // No Snowball stemmer and no stop words: words are kept as they are.
    let xx = Analyzer::new("eo");
    assert_eq!(xx.words("la pasvortoj", true), ["la", "pasvortoj"]);
    assert_eq!(
        fr.words("Quand vais-je être remboursé ?", false),
        ["rembourse"]
    );
}
