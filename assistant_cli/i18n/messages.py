"""Every text the bot sends to chat users, in one place, marked for translation.

Each function takes the sender's Translator (i18n.translator(lang)). Babel extracts the
gettext/ngettext calls here (see babel.cfg); `tests/test_i18n.py` fails when a marked text
is missing from the catalogs.
"""

from __future__ import annotations

from assistant_cli.i18n import N_, Translator

# The Telegram command menu: (command, description), translated per language.
MENU = [
    ("start", N_("Start talking to the assistant")),
    ("help", N_("What I can do")),
    ("reset", N_("Forget this conversation")),
    ("status", N_("What I am running")),
    ("lang", N_("Choose the language I write in")),
]


def apology(t: Translator) -> str:
    return t.gettext("Sorry — I can't reach my language model right now. "
                     "Please try again in a little while.")


def unsupported(t: Translator) -> str:
    return t.gettext("I can only read text messages for now — please send your question as "
                     "text.")


def capped(t: Translator, cap: int) -> str:
    return t.ngettext(
        "Sorry — you've used today's allowance of {cap} token with me. It resets at 00:00 "
        "UTC; please ask again after that.",
        "Sorry — you've used today's allowance of {cap} tokens with me. It resets at 00:00 "
        "UTC; please ask again after that.", cap).format(cap=f"{cap:,}")


def help_text(t: Translator) -> str:
    return t.gettext("Send me a message and I'll answer.\n"
                     "/reset — forget this conversation\n"
                     "/status — what I'm running\n"
                     "/lang — choose my language\n"
                     "/help — this text")


def reset_done(t: Translator, exchanges: int) -> str:
    return t.ngettext("Done — I forgot this conversation ({n} exchange).",
                      "Done — I forgot this conversation ({n} exchanges).",
                      exchanges).format(n=exchanges)


def status(t: Translator, version: str, providers: str, waiting: int) -> str:
    head = t.gettext("assistant-cli {version}\nproviders: {providers}").format(
        version=version, providers=providers)
    queue = t.ngettext("{n} message waiting", "{n} messages waiting", waiting).format(n=waiting)
    return f"{head}\n{queue}"


def paired(t: Translator) -> str:
    return t.gettext("You're paired! Send me a message and I'll answer.")


def pairing_prompt(t: Translator, *, platform: str, sender_id: str, code: str, grouped: str,
                   minutes: int) -> str:
    command = (f"assistant-cli pairing approve --platform {platform} --user-id {sender_id} "
               f"--code {code}")
    intro = t.gettext("Hi! I only talk to people my owner has approved.")
    ids = t.gettext("Your user id: {user_id}\nPairing code: {code}").format(
        user_id=sender_id, code=grouped)
    how = t.gettext("Send both to my owner; they approve you by running:")
    expires = t.ngettext("The code expires in {n} minute.", "The code expires in {n} minutes.",
                         minutes).format(n=minutes)
    return f"{intro}\n\n{ids}\n\n{how}\n{command}\n\n{expires}"


def language_set(t: Translator, language: str) -> str:
    return t.gettext("From now on I write to you in {language}.").format(language=language)


def language_unknown(t: Translator, asked: str, languages: str) -> str:
    return t.gettext("I don't know the language '{asked}'. I can write in: {languages}. "
                     "Example: /lang zh_CN").format(asked=asked, languages=languages)


def language_current(t: Translator, language: str, languages: str) -> str:
    return t.gettext("I write to you in {language}. I can write in: {languages}. "
                     "Example: /lang zh_CN").format(language=language, languages=languages)


def not_answered(t: Translator, count: int, first_text: str) -> str:
    """Sent once a channel works again, to whoever had messages given up (engine/delivery.py)."""
    excerpt = " ".join(first_text.split())
    excerpt = excerpt if len(excerpt) <= 60 else excerpt[:57].rstrip() + "…"
    return t.ngettext(
        "Sorry — I could not get my answer to your message “{excerpt}” through to you for too "
        "long, so I gave up on it. Please send it again if you still need it.",
        "Sorry — I could not get my answers to {count} of your messages through to you for "
        "too long (the first: “{excerpt}”), so I gave up on them. Please send again what you "
        "still need.", count).format(count=count, excerpt=excerpt)


# --- tools: what a chat user reads while the model uses tools (engine/tool_loop.py,
# tools/gate.py, the channels' confirmation buttons). What goes back to the model stays
# English (tools/gate.py).

# The answers to a tool confirmation, by decision. WhatsApp cuts a button title at 20
# characters: keep translations short.
DECISION_LABELS = {
    "once": N_("Allow once"),
    "chat": N_("Allow in this chat"),
    "always": N_("Always"),
    "deny": N_("Deny"),
    "timeout": N_("No answer"),
}


def decision_label(t: Translator, decision: str) -> str:
    """A button's (or a settled question's) label for one decision."""
    label = DECISION_LABELS.get(decision)
    return t.gettext(label) if label is not None else decision


def tool_using(t: Translator, tool: str) -> str:
    """The status line shown while a tool runs."""
    return t.gettext("using {tool}…").format(tool=tool)


def tool_confirm_prompt(t: Translator, tool: str, arguments: str) -> str:
    """The question a user answers before a tool with `confirm: true` runs."""
    return t.gettext("The assistant wants to use {tool} with:\n{arguments}\nAllow it?").format(
        tool=tool, arguments=arguments)


def tool_decided(t: Translator, tool: str, decision: str) -> str:
    """What the confirmation message says once answered (or timed out)."""
    return t.gettext("{tool}: {decision}").format(tool=tool,
                                                   decision=decision_label(t, decision))


def tool_question_expired(t: Translator) -> str:
    return t.gettext("This question has expired.")


def tool_question_not_yours(t: Translator) -> str:
    return t.gettext("Only the person who asked can answer this.")


def tool_console_choices(t: Translator) -> str:
    # The console reads the first letter typed (o, c, a, d): keep the bracketed letters.
    return t.gettext("[o]nce / [c]hat / [a]lways / [d]eny")


def tool_max_steps(t: Translator, steps: int) -> str:
    """Appended to the answer when the model used up its tool rounds."""
    return "\n\n" + t.ngettext(
        "(I stopped after {steps} tool round; this is the best answer I have so far.)",
        "(I stopped after {steps} tool rounds; this is the best answer I have so far.)",
        steps).format(steps=steps)
