//! The mood lexicons, English and French: valences on VADER's scale (-4
//! to 4; a trailing `*` matches any ending), negations, intensifiers, and
//! the phrases of a support chat that say more than their words (asking
//! for a person, threatening to leave). Entries are written without
//! accents, and words are compared with their accents removed, since
//! customers in a hurry type "enerve" for "énervé".

use unicode_normalization::UnicodeNormalization;

pub(super) struct Lexicon {
    words: &'static [(&'static str, f32)],
    negations: &'static [&'static str],
    /// A negation elided onto the next word: French "n'est", "n'a".
    elided: Option<&'static str>,
    intensifiers: &'static [&'static str],
    person: &'static [&'static str],
    threats: &'static [&'static str],
    /// "the third time", "toujours pas": it has happened before.
    again: &'static [&'static str],
    /// "nobody answers", "pas de réponse".
    unanswered: &'static [&'static str],
}

/// Lowercase without accents.
pub(super) fn fold(w: &str) -> String {
    w.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

impl Lexicon {
    /// The valence of word `i` of `ws`, if the lexicon has it.
    pub fn valence(&self, ws: &[String], i: usize) -> Option<f32> {
        let w = fold(&ws[i]);
        self.words.iter().find_map(|(entry, v)| {
            let hit = match entry.strip_suffix('*') {
                Some(prefix) => w.starts_with(prefix),
                None => w == *entry,
            };
            hit.then_some(*v)
        })
    }

    pub fn is_negation(&self, w: &str) -> bool {
        let w = fold(w);
        self.negations.contains(&w.as_str()) || self.elided.is_some_and(|e| w.starts_with(e))
    }

    pub fn is_intensifier(&self, w: &str) -> bool {
        self.intensifiers.contains(&fold(w).as_str())
    }

    pub fn demands_person(&self, ws: &[String]) -> bool {
        has_phrase(ws, self.person)
    }

    pub fn threatens(&self, ws: &[String]) -> bool {
        has_phrase(ws, self.threats)
    }

    pub fn says_again(&self, ws: &[String]) -> bool {
        has_phrase(ws, self.again)
    }

    pub fn unanswered(&self, ws: &[String]) -> bool {
        has_phrase(ws, self.unanswered)
    }
}

fn has_phrase(ws: &[String], phrases: &[&str]) -> bool {
    let folded: Vec<String> = ws.iter().map(|w| fold(w)).collect();
    phrases.iter().any(|p| {
        let parts: Vec<&str> = p.split(' ').collect();
        folded.windows(parts.len()).any(|win| {
            win.iter()
                .zip(&parts)
                .all(|(w, p)| match p.strip_suffix('*') {
                    Some(prefix) => w.starts_with(prefix),
                    None => w == p,
                })
        })
    })
}

pub(super) static EN: Lexicon = Lexicon {
    words: &[
        ("terrible", -3.0),
        ("awful", -3.0),
        ("horrible", -3.0),
        ("ridiculous", -2.5),
        ("unacceptable", -3.0),
        ("useless", -2.5),
        ("worst", -3.0),
        ("annoy*", -2.0),
        ("angry", -3.0),
        ("furious", -3.5),
        ("frustrat*", -2.5),
        ("disappoint*", -2.0),
        ("waste", -2.0),
        ("wasted", -2.0),
        ("scam", -3.0),
        ("incompetent", -3.0),
        ("joke", -1.5),
        ("bad", -1.5),
        ("wrong", -1.2),
        ("broken", -1.5),
        ("fail*", -1.5),
        ("problem", -0.8),
        ("still", -0.7),
        ("again", -0.7),
        ("waiting", -0.8),
        ("hate", -3.0),
        ("sick", -2.0),
        ("fed", -2.5),
        ("enough", -1.0),
        ("ignored", -2.0),
        ("ignoring", -2.0),
        ("lied", -3.0),
        ("lies", -2.5),
        ("rude", -2.5),
        ("slow", -1.2),
        ("late", -1.0),
        ("stupid", -2.5),
        ("nonsense", -2.5),
        ("pathetic", -3.0),
        ("outrageous", -3.0),
        ("unbelievable", -2.0),
        ("seriously", -1.2),
        ("wtf", -3.0),
        ("damn", -2.0),
        ("hell", -2.0),
        ("crap", -2.5),
        ("sucks", -2.5),
        ("disgusting", -3.0),
        ("thanks", 1.5),
        ("thank", 1.5),
        ("great", 2.0),
        ("perfect", 2.5),
        ("good", 1.5),
        ("excellent", 3.0),
        ("helpful", 2.0),
        ("appreciate*", 2.0),
        ("love", 2.5),
        ("happy", 2.0),
        ("nice", 1.5),
        ("awesome", 3.0),
        ("wonderful", 3.0),
        ("fine", 0.8),
        ("glad", 2.0),
        ("brilliant", 2.5),
        ("pleased", 2.0),
        ("solved", 1.5),
        ("resolved", 1.5),
        ("works", 1.0),
        ("working", 1.0),
        ("normal", 0.8),
        ("acceptable", 1.0),
    ],
    negations: &[
        "not", "no", "never", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "can't",
        "cannot", "won't", "haven't", "hasn't", "nothing", "without", "neither", "nor", "dont",
        "doesnt", "didnt", "isnt", "cant", "wont",
    ],
    elided: None,
    intensifiers: &[
        "very",
        "so",
        "really",
        "extremely",
        "totally",
        "absolutely",
        "completely",
        "incredibly",
        "super",
        "such",
        "utterly",
    ],
    person: &[
        "agent",
        "human",
        "real person",
        "manager",
        "supervisor",
        "speak to someone",
        "talk to someone",
        "representative",
    ],
    threats: &[
        "cancel* my",
        "close my account",
        "switch to",
        "competitor",
        "lawyer",
        "complaint",
        "report you",
        "never again",
        "going elsewhere",
        "chargeback",
        "last time",
    ],
    again: &[
        "second time",
        "third time",
        "how many times",
        "still not",
        "still no",
        "once again",
        "yet again",
    ],
    unanswered: &[
        "nobody answer*",
        "nobody repl*",
        "nobody respond*",
        "no answer",
        "no reply",
        "no response",
        "no one answer*",
        "no one repl*",
    ],
};

pub(super) static FR: Lexicon = Lexicon {
    words: &[
        ("nul", -2.5),
        ("nulle", -2.5),
        ("nuls", -2.5),
        ("inadmissible", -3.0),
        ("inacceptable", -3.0),
        ("scandal*", -3.0),
        ("honteu*", -3.0),
        ("honte", -2.5),
        ("ridicule", -2.5),
        ("inutile", -2.0),
        ("incompetent*", -3.0),
        ("enerv*", -2.5),
        ("agace*", -2.0),
        ("furieu*", -3.5),
        ("frustr*", -2.5),
        ("decu", -2.0),
        ("decue", -2.0),
        ("decevant*", -2.0),
        ("marre", -2.5),
        ("arnaque*", -3.0),
        ("escroc*", -3.0),
        ("n'importe", -2.0),
        ("catastroph*", -3.0),
        ("lamentable", -3.0),
        ("pire", -2.5),
        ("mauvais*", -1.5),
        ("probleme", -0.8),
        ("encore", -0.7),
        ("toujours", -0.7),
        ("attente", -0.8),
        ("j'attends", -1.0),
        ("attends", -0.8),
        ("lent*", -1.2),
        ("retard", -1.0),
        ("casse", -1.5),
        ("horrible", -3.0),
        ("insupportable", -3.0),
        ("galere", -2.0),
        ("bordel", -2.5),
        ("merde", -3.0),
        ("foutage", -3.0),
        ("colere", -3.0),
        ("merci", 1.5),
        ("parfait", 2.5),
        ("parfaite", 2.5),
        ("super", 2.0),
        ("genial", 3.0),
        ("top", 2.0),
        ("excellent", 3.0),
        ("content", 2.0),
        ("contente", 2.0),
        ("ravi", 2.5),
        ("ravie", 2.5),
        ("bien", 1.0),
        ("impeccable", 2.5),
        ("cool", 1.5),
        ("formidable", 3.0),
        ("resolu", 1.5),
        ("fonctionne", 1.0),
        ("marche", 0.8),
        ("normal", 0.8),
        ("normale", 0.8),
    ],
    negations: &[
        "ne", "pas", "jamais", "rien", "aucun", "aucune", "sans", "ni",
    ],
    elided: Some("n'"),
    intensifiers: &[
        "tres",
        "vraiment",
        "trop",
        "tellement",
        "si",
        "completement",
        "totalement",
        "absolument",
        "hyper",
        "grave",
    ],
    person: &[
        "conseiller*",
        "humain",
        "une personne",
        "un responsable",
        "quelqu'un",
        "operateur",
        "agent",
    ],
    threats: &[
        "resilier",
        "resilie",
        "resiliation",
        "concurrent*",
        "avocat",
        "plainte",
        "association de consommateurs",
        "je pars",
        "changer de",
        "cloturer mon compte",
        "derniere fois",
    ],
    again: &[
        "deuxieme fois",
        "troisieme fois",
        "combien de fois",
        "toujours pas",
        "toujours rien",
        "encore une fois",
    ],
    unanswered: &[
        "personne ne repond",
        "personne ne me repond",
        "aucune reponse",
        "pas de reponse",
        "sans reponse",
        "sans nouvelles",
    ],
};
