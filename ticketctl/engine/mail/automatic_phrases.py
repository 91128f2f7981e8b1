"""The subject prefixes that real auto-responders write, by language, with where each was found.

Only whole phrases, each followed in the subject by its colon (or closed by its bracket): "Out of
Office:" but never "Out of office hours support?", "Absence du bureau :" but never "Absence of the
invoice". A subject is only ever a supporting signal (automatic.py): a person may well write
"Out of Office: …" themselves.

Where they come from (the sources name the products that write them):
- [exchange] Exchange / Outlook automatic replies ("Automatic reply:" in the mailbox's language), as
  collected from real mail in the public test tables of several mail-processing projects, and the
  Exchange 2003 "Out of Office AutoReply" forms from Vamsoft's ORF subject list (blog, 2006);
- [sisimai] Sisimai's RFC 3834 detector (p5/rb/go-sisimai `RFC3834`): "Auto:", "Auto Response:",
  "Automatic reply:", "Out of Office:", "Out of the Office:"; its corpus (`rfc3834-02..04`, in
  /work/shared/corpus) has Exchange's "Automatic reply:" and iCloud's "Auto reply:";
- [jitbit] the subject filters of Jitbit Helpdesk (knowledge base "Email filtering in Jitbit");
- [so] the list on Stack Overflow question 1027395 ("Detecting Outlook autoreply/out-of-office");
- [pigeonhole] Dovecot Pigeonhole's Sieve vacation, whose default subject is "Auto: <subject>", and
  the sample vacation scripts of iRedMail ("Auto-Reply:"); Thunderbird and Apple Mail have no
  responder of their own (their rules reply with "Re:"), and Gmail's vacation responder uses the
  subject its user typed: those three are recognised by their headers (Auto-Submitted; iCloud's
  X-Apple-Action), not here.
"""

from __future__ import annotations

PREFIXES: dict[str, tuple[str, ...]] = {
    "en": (
        "Automatic reply",  # exchange, sisimai
        "Auto reply",  # sisimai corpus (iCloud), jitbit
        "Auto-reply",  # pigeonhole (iRedMail), jitbit "[auto-reply]"
        "Autoreply",
        "Auto response",  # sisimai, so
        "Automatic response",
        "Auto",  # sisimai, so; Lotus Notes "AUTO: … is out of the office", pigeonhole's default
        "Out of Office",  # sisimai, so
        "Out of the Office",  # sisimai
        "Out of Office AutoReply",  # exchange 2003 (Vamsoft), GroupWise
    ),
    "de": (
        "Automatische Antwort",  # exchange, jitbit
        "Abwesenheitsnotiz",  # exchange 2003 (Vamsoft), so
        "Abwesenheitshinweis",  # jitbit
    ),
    "fr": (
        "Réponse automatique",  # exchange (written "Réponse automatique :"), jitbit, so
        "Absence du bureau",  # jitbit
        "Réponse automatique d'absence du bureau",  # exchange 2003 (Vamsoft)
    ),
    "es": (
        "Respuesta automática",  # exchange, jitbit, so
        "Fuera de la oficina",  # exchange (older "Out of Office:")
        "Respuesta automática por ausencia de la oficina",  # exchange 2003 (Vamsoft)
    ),
    "it": (
        "Risposta automatica",  # exchange
        "Fuori sede",  # so
        "Risposta Non al computer",  # so (Exchange 2003)
    ),
    "nl": (
        "Automatisch antwoord",  # exchange, jitbit, so
        "Buiten kantoor",  # exchange (older "Out of Office:")
    ),
    "pt": (
        "Resposta automática",  # exchange
        "Ausência temporária",  # jitbit (Brazilian Exchange)
        "Resposta automática para ausência do escritório",  # exchange 2003 (Vamsoft)
    ),
    "sv": (
        "Automatiskt svar",  # exchange
        "Autosvar",  # jitbit, so
        "Frånvaro",  # so
    ),
    "da": (
        "Automatisk svar",  # exchange, jitbit, so
        "Autosvar",  # jitbit; Vamsoft "Autosvar – Ikke til stede"
    ),
    "no": ("Automatisk svar",),  # exchange (Norwegian writes it as Danish does)
    "fi": ("Automaattinen vastaus",),  # exchange
    "pl": (
        "Odpowiedź automatyczna",  # exchange
        "Autoodpowiedź",  # exchange 2003 (Vamsoft "Autoodpowiedź (poza biurem)")
    ),
    "cs": ("Automatická odpověď",),  # exchange
    "ru": (
        "Автоматический ответ",  # exchange
        "Автоответ",  # exchange; Vamsoft "Автоответ при отсутствии на работе"
    ),
    "ja": (
        "自動応答",  # exchange
        "不在時の自動応答",  # exchange 2003 (Vamsoft)
        "自動返信",  # Japanese hosting autoresponders, often bracketed: 【自動返信】
    ),
    "zh": (
        "自动答复",  # exchange (simplified)
        "自动回复",  # exchange (simplified)
        "自動回覆",  # exchange (traditional)
        "外出时的自动答复",  # exchange 2003 (Vamsoft)
        "郵件答錄機自動回覆",  # exchange 2003 (Vamsoft)
    ),
    # beyond the languages the issue asks for, from the same Exchange tables
    "tr": ("Otomatik yanıt",),
    "hu": ("Automatikus válasz",),
    "ko": ("자동 회신",),
    "el": ("Αυτόματη απάντηση",),
    "uk": ("Автоматична відповідь",),
}
