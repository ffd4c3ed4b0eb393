"""Sensitive situations that go to a human, found on every message.

Each trigger has a priority: `urgent` (health, self-harm: the person first gets
emergency guidance) or `high` (press, legal, data protection, strong anger).
A plain request for a human and the second misunderstanding are `normal`;
they come from the intent classifier and the dialogue, not from here.

Detection runs spaCy's `Matcher` over the parsed message: French words are
matched by lemma (so "vomis", "vomit" and "vomissait" are one word), English
ones by lower-case form or prefix (the French model does not lemmatize
English), and a symptom nobody listed ("vertiges", "démangeaisons") is
recognised by its spaCy vector, close to those of the listed ones. Single
words are rarely enough: health needs a symptom that someone
*has* (a person named, no negation, no "if"), press needs someone saying they
are from the press rather than mentioning it. `tests/triggers/labelled.yml`
measures precision and recall per trigger (tests/test_triggers.py).

Rasa's SpacyNLP parses the lower-cased text, so `detect` gets that doc plus
the original text (for shouting in capitals).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span, Token
from spacy.vocab import Vocab

URGENT, HIGH, NORMAL = "urgent", "high", "normal"

# Reasons, most important first: when several fire, the first one is kept.
REASON_PRIORITIES = {
    "self_harm": URGENT,
    "health": URGENT,
    "legal": HIGH,
    "press": HIGH,
    "data_protection": HIGH,
    "anger": HIGH,
}
# The guidance sent first, before anything can fail, for urgent reasons
# (responses in domain.yml).
EMERGENCY_RESPONSES = {
    "health": "utter_emergency_health",
    "self_harm": "utter_emergency_self_harm",
}
# Reasons that come from the dialogue rather than from this module.
ASKED_FOR_HUMAN, MISUNDERSTOOD = "asked_for_human", "misunderstood"

# Tokens looked at before a symptom for a negation ("je n'ai pas de fièvre").
NEGATION_WINDOW = 3
# An angry message scores this much: 2 for an insult, 1 for an angry word,
# 1 for shouting in capitals, 1 for "!!".
ANGER_SCORE = 2
SHOUTING_MIN_LETTERS = 12
SHOUTING_SHARE = 0.6

# Symptoms nobody listed ("vertiges", "crampes", "démangeaisons") are found by
# their spaCy vector: close enough to the centroid of these, they count as a
# symptom (under the same conditions as the listed ones).
SYMPTOM_SEEDS = ("vomir", "fièvre", "diarrhée", "nausée", "courbature",
                 "convulsion", "malaise", "migraine", "vomissement")  # fmt: skip
SYMPTOM_SIMILARITY = 0.7
# Near the symptoms in vector space but not something a person *has* now.
NOT_SYMPTOMS = frozenset({
    "symptôme", "listériose", "listeria", "maladie", "infection", "risque",
    "danger", "fatigue", "fatigué", "fatiguer", "stress", "peur", "inquiétude",
    "angoisse", "colère",
})  # fmt: skip


@dataclass(frozen=True)
class Trigger:
    """Why a message must go to a human, and how fast."""

    reason: str
    priority: str
    evidence: str  # the words that fired, for the agent and for debugging

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "priority": self.priority,
            "evidence": self.evidence,
        }


def fold(word: str) -> str:
    """Lower case without accents: "fièvre" -> "fievre"."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _variants(words: Iterable[str]) -> list[str]:
    """Each word as written and without its accents (people skip them)."""
    return sorted({form for word in words for form in (word, fold(word))})


def lemma(*words: str) -> dict[str, Any]:
    return {"LEMMA": {"IN": _variants(words)}}


def lower(*words: str) -> dict[str, Any]:
    return {"LOWER": {"IN": _variants(words)}}


def prefix(*stems: str) -> dict[str, Any]:
    return {"LOWER": {"REGEX": "^(" + "|".join(stems) + ")"}}


ANY = {"OP": "?"}  # one optional token in between
GAP = {"OP": "{0,3}"}  # up to three tokens in between
_PRESS_OUTLETS = (
    "afp", "reuters", "bbc", "cnn", "bfm", "bfmtv", "tf1", "rtl", "lci",
    "franceinfo", "parisien", "figaro", "libération", "ouest-france",
    "guardian",
)  # fmt: skip
_FAMILY_FR = (
    "fils", "fille", "enfant", "bébé", "petit", "petite", "gamin", "nourrisson",
    "femme", "mari", "mère", "père", "maman", "papa", "conjoint", "compagne",
    "compagnon", "frère", "sœur", "grand-mère", "grand-père", "famille",
)  # fmt: skip
_STAY_OR_GO = (
    "être", "aller", "emmener", "amener", "conduire", "transporter", "admettre",
    "sortir", "finir", "passer", "rester", "partir", "arriver", "hospitaliser",
)  # fmt: skip
_CHILD_FR = (
    "fils",
    "fille",
    "enfant",
    "bébé",
    "petit",
    "petite",
    "gamin",
    "nourrisson",
)
_CHILD_EN = ("child", "children", "kid", "kids", "son", "daughter", "baby", "toddler",
             "infant")  # fmt: skip

PATTERNS: dict[str, list[list[dict[str, Any]]]] = {
    # --- health -----------------------------------------------------------
    "symptom": [
        [
            lemma(
                "vomir",
                "vomissement",
                "fièvre",
                "fiévreux",
                "diarrhée",
                "nausée",
                "malade",
                "hospitaliser",
                "courbature",
                "convulsion",
                "contraction",
                "intoxication",
                "intoxiquer",
                "saigner",
                "saignement",
                "évanouir",
                "malaise",
            )
        ],
        [
            lemma("mal", "douleur"),
            lower("au", "à", "aux", "de"),
            ANY,
            lower("ventre", "tête", "estomac", "gorge"),
        ],
        [lower("nuque"), lower("raide")],
        [lemma("somnolent", "somnolence", "tremblement", "frisson")],
        [lemma("avoir"), ANY, ANY, lower("température")],
        [lemma("mal"), lower("partout")],
        # Someone *at* the hospital, not a hospital mentioned ("l'hôpital où
        # je travaille", "mes frais d'hôpital").
        [
            lemma(*_STAY_OR_GO),
            {"POS": "ADV", "OP": "?"},
            lower("à", "de", "d'"),
            lower("l'", "l"),
            lemma("hôpital"),
        ],
        [lower("in", "to"), lower("the", "a", "an"), lower("hospital")],
        [lower("in", "to"), lower("hospital")],
        [lower("admitted")],
        [lower("urgences")],
        [lower("fausse"), lower("couche")],
        [
            prefix(
                "vomit",
                "fever",
                "diarrh",
                "nause",
                "hospitalis",
                "hospitaliz",
                "cramp",
                "headache",
                "miscarr",
                "bleed",
                "faint",
                "convuls",
                "seizure",
            )
        ],
        [lower("food"), lower("poisoning")],
        [lower("throwing", "threw", "throw"), lower("up")],
        [lower("sick", "ill", "unwell")],
        [lower("emergency"), lower("room", "department")],
    ],
    "negation": [
        [
            lower(
                "pas",
                "aucun",
                "aucune",
                "sans",
                "jamais",
                "plus",
                "ni",
                "no",
                "not",
                "without",
                "never",
                "n't",
                "dont",
                "don't",
            )
        ],
    ],
    "experiencer": [
        # Not "on": "on tombe malade combien de temps après" is a question.
        [
            lower(
                "je",
                "j'",
                "j",
                "me",
                "m'",
                "moi",
                "mon",
                "ma",
                "mes",
                "nous",
                "notre",
                "nos",
            )
        ],
        [lemma(*_FAMILY_FR)],
        [{"LOWER": {"REGEX": "^i'?$"}}],
        [
            lower(
                "i'm",
                "my",
                "me",
                "we",
                "our",
                "us",
                "son",
                "daughter",
                "kid",
                "kids",
                "child",
                "baby",
                "wife",
                "husband",
                "mother",
                "mom",
                "mum",
                "father",
                "dad",
                "partner",
                "toddler",
                "grandmother",
                "grandfather",
            )
        ],
    ],
    "hypothetical": [
        [lower("si", "s'", "if")],
        [lower("au"), lower("cas"), lower("où")],
        [lower("in"), lower("case")],
    ],
    "child": [[lemma(*_CHILD_FR)], [lower(*_CHILD_EN)]],
    "ingested": [
        [
            lower(
                "mangé",
                "mangée",
                "mangés",
                "mangées",
                "avalé",
                "avalée",
                "goûté",
                "consommé",
                "ingéré",
                "ate",
                "eaten",
                "swallowed",
                "ingested",
            )
        ],
    ],
    # Legal words count when the person is involved ("je vais porter
    # plainte", "see you in court", "plainte contre la marque"), not in a
    # question about others ("les tribunaux ont-ils été saisis ?").
    "addressee": [
        [lower("vous", "votre", "vos", "contre", "you", "your", "against")],
    ],
    # --- self-harm --------------------------------------------------------
    "self_harm": [
        [lemma("suicide", "suicider", "suicidaire")],
        [prefix("suicid")],
        [lower("me", "m'"), lemma("tuer")],
        [lemma("envie", "vouloir"), ANY, lemma("mourir")],
        [lower("plus"), lower("envie"), lower("de"), lower("vivre")],
        [lower("en"), lemma("finir")],
        [lemma("mettre"), lower("fin"), lower("à"), lower("mes"), lower("jours")],
        [lower("me"), lemma("foutre"), lower("en"), lower("l'"), lower("air")],
        [lower("kill", "killing", "hurt", "hurting"), lower("myself")],
        [lower("want", "wanna"), ANY, lower("die")],
        [lower("end"), lower("my"), lower("life")],
        [lower("end"), lower("it"), lower("all")],
        [lower("en"), lemma("finir"), lower("avec"), lower("la", "ma"), lower("vie")],
        [lower("live"), lower("anymore")],
        [lower("self"), ANY, lower("harm")],
    ],
    # --- press ------------------------------------------------------------
    "press": [
        [
            lemma(
                "journaliste",
                "pigiste",
                "rédaction",
                "interview",
                "interviewer",
            )
        ],
        # The press office ("service de presse", "contact presse", "relations
        # presse"), not any "service de" or "demande de".
        [
            lemma("attaché", "service", "contact", "relation", "demande"),
            {"LOWER": {"IN": ["de", "du"]}, "OP": "?"},
            lower("presse"),
        ],
        [lemma("travailler", "écrire"), lower("pour"), lower("le"), lower("monde")],
        [lower("pigiste", "pigistes")],
        [
            lemma("travailler", "écrire"),
            lower("pour", "à", "au"),
            ANY,
            lower(*_PRESS_OUTLETS),
        ],
        [
            lemma("réaliser", "préparer", "tourner", "écrire"),
            ANY,
            lemma("reportage", "article", "enquête", "documentaire"),
        ],
        [prefix("journalist", "newsroom")],
        [lower("reporters")],  # no form of the French verb ends so
        [
            lower("press", "media"),
            lower(
                "inquiry",
                "enquiry",
                "inquiries",
                "enquiries",
                "request",
                "requests",
                "contact",
                "office",
                "officer",
            ),
        ],
        [lower("news"), lower("desk")],
        [
            lower("work", "working", "writing"),
            lower("for", "with", "at"),
            ANY,
            lower(*_PRESS_OUTLETS, "newspaper", "paper", "magazine"),
        ],
        [lower("writing", "preparing"), ANY, lower("story", "article", "piece")],
    ],
    # "reporter" is also the French verb "to postpone" ("dois-je reporter mon
    # rendez-vous ?"): it counts when it names a person (`_names_a_reporter`).
    "reporter": [[lower("reporter")]],
    # --- legal ------------------------------------------------------------
    "legal": [
        [
            lemma(
                "avocat",
                "plainte",
                "tribunal",
                "procès",
                "huissier",
                "prud'homme",
            )
        ],
        [
            lower(
                "procédure",
                "procédures",
                "poursuite",
                "poursuites",
                "action",
                "actions",
            ),
            lower("judiciaire", "judiciaires", "juridique", "juridiques"),
        ],
        [lower("vous"), lemma("attaquer")],
        [lower("en"), lower("justice")],
        [lower("mise"), lower("en"), lower("demeure")],
        [lower("dommages"), lower("et"), lower("intérêts")],
        [
            lower(
                "sue",
                "suing",
                "sued",
                "lawsuit",
                "lawyer",
                "lawyers",
                "attorney",
                "solicitor",
                "court",
                "liable",
            )
        ],
        [lower("legal"), lower("action", "proceedings")],
    ],
    # A class action is news until someone names who it is against ("une
    # action de groupe contre la marque"): it needs an addressee, not just a
    # person ("une action collective a été lancée, je peux y participer ?").
    "legal_collective": [
        [lower("action"), lower("de"), lower("groupe")],
        [lower("action", "actions"), lower("collective", "collectives")],
        [lower("class"), lower("action")],
    ],
    # --- data protection --------------------------------------------------
    "data_protection": [
        # A request, not a question about the policy ("rgpd et formulaire"
        # is an FAQ): exercising a right, asking for deletion or access,
        # reaching the DPO, going to the regulator.
        [
            lower("droit"),
            lower("à", "d'", "de"),
            ANY,
            lemma("oubli", "accès", "effacement", "rectification", "opposition"),
        ],
        [
            lemma("supprimer", "effacer", "retirer", "détruire"),
            GAP,
            lemma("donnée", "coordonnée", "information", "fichier"),
        ],
        [
            lemma(
                "demander",
                "demande",
                "exiger",
                "vouloir",
                "obtenir",
                "réclamer",
                "droit",
            ),
            GAP,
            lower("accès", "copie"),
            lower("à", "de"),
            GAP,
            lemma("donnée", "information"),
        ],
        [
            lemma("suppression", "effacement"),
            lower("de", "des", "du"),
            GAP,
            lemma("donnée", "information", "coordonnée"),
        ],
        [lemma("contacter", "joindre", "écrire"), GAP, lower("dpo", "délégué")],
        [lemma("saisir", "plainte", "signaler"), GAP, lower("cnil")],
        [
            lower("delete", "erase", "remove", "wipe"),
            GAP,
            lower("data", "details", "information", "info"),
        ],
        [
            lower("contact", "reach", "email", "write"),
            GAP,
            lower("dpo", "data"),
            ANY,
            lower("protection", "officer"),
        ],
        [lower("access"), lower("request")],
        [lower("copy"), lower("of"), GAP, lower("data", "information", "details")],
        [lower("report", "complain", "complaint"), GAP, lower("ico", "regulator")],
        [lower("right"), lower("to"), lower("be"), lower("forgotten")],
    ],
    # --- anger ------------------------------------------------------------
    "insult": [
        [
            lemma(
                "connard",
                "con",
                "salaud",
                "salopard",
                "escroc",
                "voleur",
                "assassin",
                "criminel",
                "empoisonneur",
                "pourri",
                "ordure",
                "enfoiré",
                "crétin",
                "abruti",
                "menteur",
                "incapable",
                "minable",
                "guignol",
            )
        ],
        [
            lower(
                "idiot",
                "idiots",
                "crooks",
                "liars",
                "criminals",
                "murderers",
                "scum",
                "bastards",
                "morons",
                "thieves",
                "clowns",
            )
        ],
        [{"LOWER": {"REGEX": r"^(f[u*]+c?k|f\*+|shit|bullshit)"}}],
        [lower("putain", "merde", "bordel")],
    ],
    "angry_word": [
        [
            lemma(
                "scandale",
                "scandaleux",
                "honte",
                "honteux",
                "inadmissible",
                "inacceptable",
                "furieux",
                "dégoûtant",
                "dégueulasse",
                "écœurant",
                "révoltant",
                "lamentable",
                "pitoyable",
                "irresponsable",
                "empoisonner",
                "foutre",
            )
        ],
        [
            lower(
                "outrageous",
                "disgrace",
                "disgraceful",
                "disgusting",
                "shame",
                "shameful",
                "unacceptable",
                "furious",
                "pathetic",
                "scandal",
                "poisoned",
                "poisoning",
                "livid",
            )
        ],
    ],
}


def _after_determiner(token: Token) -> bool:
    """A noun someone has ("des vertiges", "de la toux").

    fr_core_news_md maps many words to one vector row, so an English word can
    share a symptom's vector ("expect" and "douleurs" do): the vector alone
    is not enough, the word must also read as a French noun phrase.
    """
    if token.pos_ != "NOUN" or token.i == 0:
        return False
    before = token.doc[token.i - 1]
    return before.pos_ == "DET" or before.lower_ in ("de", "d'")


# A word whose meaning changes with the next one: "sick leave", "avocat
# général", "en finir avec ces coupures" ("en finir avec la vie" has its own
# pattern). Keyed by the last word of the match, as typed (lower case).
NOT_BEFORE = {
    "sick": frozenset({"leave", "note", "pay", "day", "days"}),
    "avocat": frozenset({"général", "general", "generale"}),
    "attorney": frozenset({"general"}),
    "finir": frozenset({"avec"}),
    "finis": frozenset({"avec"}),
}
# "mes enfants ont mangé ce midi", "my son ate at the canteen": a meal, not
# the product. "en" before the verb ("il en a mangé") names the product.
MEAL_NOT_PRODUCT = frozenset({
    "à", "au", "aux", "ce", "cette", "hier", "chez", "pour", "at", "in", "this",
    "yesterday", "for", "with",
})  # fmt: skip


# "un reporter", "je suis reporter", "en tant que reporter", "grand reporter",
# "i'm a reporter", "freelance reporter"; after anything else, "reporter" is
# the verb ("dois-je reporter", "peut-on reporter", "reporter mon rendez-vous").
BEFORE_A_REPORTER = frozenset({
    "un", "une", "le", "la", "l'", "les", "des", "du", "votre", "notre", "leur",
    "suis", "es", "est", "sommes", "êtes", "sont", "comme", "que", "grand",
    "a", "an", "the", "'m", "am", "is", "are", "as", "our", "your", "my",
    "freelance", "senior", "chief", "tv", "radio", "news", "local",
})  # fmt: skip
# "reporter chez …", "reporter here", "reporter for the bbc": the person.
AFTER_A_REPORTER = frozenset({"chez", "here", "for", "at", "with", "from"})


def _names_a_reporter(span: Span) -> bool:
    """True when "reporter" is the profession, not the verb to postpone."""
    doc = span.doc
    before = doc[span.start - 1].lower_ if span.start else ""
    after = doc[span.end].lower_ if span.end < len(doc) else ""
    if before in BEFORE_A_REPORTER or after in AFTER_A_REPORTER:
        return True
    # First word, then a newsroom: "reporter pour une radio locale, …".
    return not before and after in ("pour", ",", ":")


def _reads_otherwise(span: Span) -> bool:
    """True when the words after a match give it another meaning."""
    doc = span.doc
    following = doc[span.end].lower_ if span.end < len(doc) else ""
    last = doc[span.end - 1]
    if following in NOT_BEFORE.get(last.lower_, ()) or following in NOT_BEFORE.get(
        last.lemma_, ()
    ):
        return True
    if span.label_ == "ingested" and following in MEAL_NOT_PRODUCT:
        before = {token.lower_ for token in doc[max(0, span.start - 3) : span.start]}
        return "en" not in before
    return False


class TriggerDetector:
    """Finds the triggers in parsed messages; build one per spaCy vocabulary."""

    def __init__(self, vocab: Vocab) -> None:
        self._matcher = Matcher(vocab)
        for label, patterns in PATTERNS.items():
            self._matcher.add(label, patterns)
        seeds = [
            np.asarray(vocab[word].vector)
            for word in SYMPTOM_SEEDS
            if vocab[word].has_vector
        ]
        centroid = np.mean(np.stack(seeds), axis=0) if seeds else None
        self._symptom_centroid = (
            centroid / np.linalg.norm(centroid) if centroid is not None else None
        )

    def _symptom_like(self, doc: Doc) -> list[Span]:
        """Words whose vector is close to the known symptoms'."""
        if self._symptom_centroid is None:
            return []
        found = []
        for token in doc:
            if (
                not _after_determiner(token)
                or not token.has_vector
                or token.lemma_ in NOT_SYMPTOMS
                or token.vector_norm == 0
            ):
                continue
            similarity = (
                float(token.vector @ self._symptom_centroid) / token.vector_norm
            )
            if similarity >= SYMPTOM_SIMILARITY:
                found.append(doc[token.i : token.i + 1])
        return found

    def _spans(self, doc: Doc) -> dict[str, list[Span]]:
        found: dict[str, list[Span]] = {label: [] for label in PATTERNS}
        for span in self._matcher(doc, as_spans=True):
            if not _reads_otherwise(span):
                found[span.label_].append(span)
        found["symptom"] += self._symptom_like(doc)
        return found

    def detect(self, doc: Doc, text: str | None = None) -> Trigger | None:
        """The most important trigger in the message, or None.

        Args:
            doc: The message parsed by the French spaCy model (lower-cased, as
                Rasa's SpacyNLP does).
            text: The message as typed, for shouting in capitals; `doc.text` if
                not given.
        """
        spans = self._spans(doc)
        text = doc.text if text is None else text
        for reason in REASON_PRIORITIES:
            evidence = getattr(self, f"_{reason}")(doc, spans, text)
            if evidence:
                return Trigger(reason, REASON_PRIORITIES[reason], evidence)
        return None

    @staticmethod
    def _self_harm(doc: Doc, spans: dict[str, list[Span]], text: str) -> str | None:
        return spans["self_harm"][0].text if spans["self_harm"] else None

    @staticmethod
    def _health(doc: Doc, spans: dict[str, list[Span]], text: str) -> str | None:
        if spans["hypothetical"] or not spans["experiencer"]:
            return None
        negations = {span.start for span in spans["negation"]}
        for symptom in spans["symptom"]:
            window = range(max(0, symptom.start - NEGATION_WINDOW), symptom.start)
            if not negations.intersection(window):
                return symptom.text
        children = [
            span
            for span in spans["child"]
            if not (span.end < len(doc) and doc[span.end].lower_.startswith("suisse"))
        ]
        if children and spans["ingested"]:
            return f"{children[0].text} … {spans['ingested'][0].text}"
        return None

    @staticmethod
    def _legal(doc: Doc, spans: dict[str, list[Span]], text: str) -> str | None:
        if spans["legal_collective"] and spans["addressee"]:
            return spans["legal_collective"][0].text
        if not spans["legal"] or not (spans["experiencer"] or spans["addressee"]):
            return None
        return spans["legal"][0].text

    @staticmethod
    def _press(doc: Doc, spans: dict[str, list[Span]], text: str) -> str | None:
        if spans["press"]:
            return spans["press"][0].text
        reporters = [span for span in spans["reporter"] if _names_a_reporter(span)]
        return reporters[0].text if reporters else None

    @staticmethod
    def _data_protection(
        doc: Doc, spans: dict[str, list[Span]], text: str
    ) -> str | None:
        found = spans["data_protection"]
        return found[0].text if found else None

    @staticmethod
    def _anger(doc: Doc, spans: dict[str, list[Span]], text: str) -> str | None:
        score = 2 * len(spans["insult"]) + len(spans["angry_word"])
        letters = [c for c in text if c.isalpha()]
        if len(letters) >= SHOUTING_MIN_LETTERS and (
            sum(c.isupper() for c in letters) >= SHOUTING_SHARE * len(letters)
        ):
            score += 1
        if "!!" in text:
            score += 1
        if score < ANGER_SCORE:
            return None
        words = [span.text for span in spans["insult"] + spans["angry_word"]]
        return ", ".join(words) or text[:40]
