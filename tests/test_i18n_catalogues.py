"""The catalogues are complete and consistent, and the front end puts no text on
screen that bypasses them: the player's (frontend/shared/i18n/<lang>.json, read by
the embed and the watch page) and the studio's (frontend/studio/i18n/<lang>.json).

Static checks, no JavaScript runtime: every language has exactly English's keys,
the same placeholders, the plural forms its language has in Intl.PluralRules (CLDR)
and no empty strings; every ``t("key")`` names a key that exists in its side's
catalogue; and the embed's and the studio's sources put no literal text into
templates, ``textContent`` or accessible names except through ``t()``.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
# Each side's catalogues, and the sources that read them (their t() asks them).
CATALOGUES = {
    "player": FRONTEND / "shared" / "i18n",
    "studio": FRONTEND / "studio" / "i18n",
}
T_SOURCES = {"player": ["embed", "shared"], "studio": ["studio", "studio/controlroom"]}
SIDES = list(CATALOGUES)
LANGUAGES = ["en", "id", "th", "vi", "fil", "ms", "zh-Hans"]
# Intl.PluralRules(lang).resolvedOptions().pluralCategories (CLDR cardinal rules).
PLURAL_CATEGORIES = {
    "en": {"one", "other"},
    "fil": {"one", "other"},
    "id": {"other"},
    "ms": {"other"},
    "th": {"other"},
    "vi": {"other"},
    "zh-Hans": {"other"},
}
KEY = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Where people read text: these folders must go through the catalogues.
TEXT_SOURCES = ["embed", "studio", "studio/controlroom"]
# Literals that look like words but are not text for people (CSS classes, states
# used as data, attribute values): add to it sparingly.
NOT_TEXT = {
    "replay",
    "pinned",
    "live",
    "ended",
    "muted",
    "auto",
    "light",
    "dark",
    "Enter",
    "Escape",
    "scheduled",
    "playing",
    "floating",
    "percent",
    "sold_out",
    "chat",
    # HTTP words in the WHIP client (studio/whip.ts): a header name, an auth scheme
    "Location",
    "Bearer",
}
# Words that are the same in every language (brand names).
BRAND_TEXT = {"pasar", "pasar.", "studio"}
# The studio's language picker lists each language by its own name, in any language.
LANGUAGE_NAMES = {
    "English",
    "Bahasa Indonesia",
    "ไทย",
    "Tiếng Việt",
    "Filipino",
    "Bahasa Melayu",
    "简体中文",
}

Entry = str | dict[str, str]


def load(lang: str, side: str = "player") -> dict[str, Entry]:
    data = json.loads((CATALOGUES[side] / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def forms(entry: Entry) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def placeholders(entry: Entry) -> set[str]:
    return {name for text in forms(entry) for name in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("side", SIDES)
def test_every_language_has_a_catalogue(side: str) -> None:
    assert sorted(p.stem for p in CATALOGUES[side].glob("*.json")) == sorted(LANGUAGES)


@pytest.mark.parametrize("side", SIDES)
def test_english_keys_are_well_formed(side: str) -> None:
    en = load("en", side)
    assert len(en) > 100
    for key, entry in en.items():
        assert KEY.match(key), key
        # one namespace per side: a key is never asked of the wrong catalogue unnoticed
        assert key.startswith("studio.") == (side == "studio"), key
        if isinstance(entry, dict):
            assert set(entry) == PLURAL_CATEGORIES["en"], key
            assert "n" in placeholders(entry), f"{key}: plural forms are chosen by {{n}}"


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_matches_english(side: str, lang: str) -> None:
    en, cat = load("en", side), load(lang, side)
    assert sorted(set(en) - set(cat)) == [], f"{lang} lacks keys"
    assert sorted(set(cat) - set(en)) == [], f"{lang} has keys English does not"
    for key, source in en.items():
        entry = cat[key]
        if isinstance(source, dict):
            assert isinstance(entry, dict), f"{lang} {key}: needs plural forms"
            assert set(entry) == PLURAL_CATEGORIES[lang], f"{lang} {key}: {sorted(entry)}"
        else:
            assert isinstance(entry, str), f"{lang} {key}: English has one form"
        for text in forms(entry):
            assert isinstance(text, str) and text.strip() == text and text, f"{lang} {key}"
            assert placeholders({"x": text}) <= placeholders(source), f"{lang} {key}: {text}"
        assert placeholders(entry) == placeholders(source), f"{lang} {key}: placeholders"


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_catalogue_is_translated(side: str, lang: str) -> None:
    """Brand words may stay English ("LIVE", "Flash Sale", "Checkout"), a copy may not."""
    en, cat = load("en", side), load(lang, side)
    same = [key for key in en if cat[key] == en[key]]
    assert len(same) <= len(en) * 0.15, f"{lang}: {len(same)} strings are English: {same}"


# -- the code ---------------------------------------------------------------------


def sources(folders: list[str], suffix: str = ".ts") -> list[Path]:
    return [p for folder in folders for p in sorted((FRONTEND / folder).glob(f"*{suffix}"))]


T_CALL = re.compile(r"""\bt\(\s*(["'])([^"'`]*)\1""")


@pytest.mark.parametrize("side", SIDES)
def test_every_key_used_exists(side: str) -> None:
    en = load("en", side)
    used = {
        m.group(2): path.name
        for path in sources(T_SOURCES[side])
        for m in T_CALL.finditer(path.read_text(encoding="utf-8"))
    }
    assert used, "no t() calls found: did the scan break?"
    missing = {key: where for key, where in used.items() if key not in en}
    assert missing == {}


def test_the_studio_asks_its_own_catalogue() -> None:
    """The studio's t() is studio/i18n.ts's: the player's would not know its keys."""
    player_t = re.compile(r"import\s*\{[^}]*\bt\b[^}]*\}\s*from\s*[\"'][./]*shared/i18n[\"']")
    for path in sources(T_SOURCES["studio"]):
        assert not player_t.search(path.read_text(encoding="utf-8")), path.name


LETTER = re.compile(r"[^\W\d_]")
QUOTES = "\"'`"


def _string_end(src: str, i: int) -> int:
    """Index after the '…' or "…" literal starting at src[i]."""
    q, i = src[i], i + 1
    while i < len(src) and src[i] != q:
        i += 2 if src[i] == "\\" else 1
    return i + 1


class Literal:
    def __init__(self, text: str, where: int) -> None:
        self.text, self.where = text, where


def _template(src: str, i: int, found: list[Literal], tagged: bool) -> int:
    """Scan the template literal whose backtick is at src[i]; collect text that
    would reach the screen. Returns the index after its closing backtick."""
    i += 1
    static = ""
    while i < len(src) and src[i] != "`":
        if src[i] == "\\":
            static += src[i : i + 2]
            i += 2
        elif src.startswith("${", i):
            in_tag = tagged and static.rfind("<") > static.rfind(">")
            attr = re.search(r"([\w-]+)\s*=\s*[\"']?$", static) if in_tag else None
            text_attr = attr and attr.group(1).lower() in TEXT_ATTRIBUTES
            i = _expression(src, i + 2, found, collect=not in_tag or bool(text_attr))
            static += "\x00"
        else:
            static += src[i]
            i += 1
    if tagged:
        found.extend(Literal(text, i) for text in _markup_text(static))
    else:
        found.append(Literal(static.replace("\x00", " "), i))
    return i + 1


TEXT_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt", "label", "aria-description"}


def _markup_text(static: str) -> list[str]:
    texts = []
    for m in re.finditer(r"<[^>]*>", static):
        for a in re.finditer(r"([\w-]+)\s*=\s*([\"'])([^\"']*)\2", m.group(0)):
            if a.group(1).lower() in TEXT_ATTRIBUTES:
                texts.append(a.group(3).replace("\x00", " "))
    texts.extend(re.sub(r"<[^>]*>", "\x00", static).split("\x00"))
    return [re.sub(r"&\w+;|&#\d+;", " ", text) for text in texts]


def _expression(src: str, i: int, found: list[Literal], collect: bool) -> int:
    """Scan a ${…} expression from its first character; return the index after its '}'."""
    depth = 1
    while i < len(src) and depth:
        c = src[i]
        if c in "'\"":
            end = _string_end(src, i)
            before = src[max(0, i - 12) : i].rstrip()
            # t("key"), errorText("code") and icon("name") take names, not text.
            if collect and not re.search(r"\b(t|errorText|icon)\($", before):
                found.append(Literal(src[i + 1 : end - 1], i))
            i = end
        elif c == "`":
            nested = src[max(0, i - 4) : i] == "html"
            sink: list[Literal] = found if collect and not nested else []
            i = _template(src, i, sink, tagged=nested)
        elif c in "{(":
            depth += c == "{"
            i += 1
        elif c == "}":
            depth -= 1
            i += 1
        else:
            i += 1
    return i


ASSIGNED = re.compile(
    r"\.(?:textContent|innerText|title|placeholder|ariaLabel|alt|label)\s*=(?!=)"
    r"|setAttribute\(\s*[\"'](?:aria-label|title|placeholder|alt)[\"']\s*,"
    r"|\b(?:alert|confirm|prompt)\("
)


def visible_literals(src: str) -> list[Literal]:
    """Literal text a TypeScript module shows to people without t()."""
    found: list[Literal] = []
    for m in re.finditer(r"\bhtml`", src):
        _template(src, m.end() - 1, found, tagged=True)
    for m in ASSIGNED.finditer(src):
        end = src.find(";", m.end())
        rhs = src[m.end() : end if end >= 0 else len(src)]
        sub: list[Literal] = []
        _expression(rhs + "}", 0, sub, collect=True)
        found.extend(Literal(lit.text, lit.where + m.end()) for lit in sub)
    found.extend(lit for lit in all_literals(src) if SENTENCE.match(lit.text.strip()))
    unique = {(lit.where, lit.text): lit for lit in found if _is_text(lit.text)}
    return sorted(unique.values(), key=lambda lit: lit.where)


# Anywhere in the code, a literal that reads like a sentence ("Waiting for the show
# to start") is text for people, whatever it is assigned to or returned from.
# So does one capitalised word ("Live", "Reconnecting…").
SENTENCE = re.compile(r"^[A-Z][a-z]+[.…!?]?$|^[A-Z][\w'’,]*(\s+[\w'’,.…!?()-]+)+$")


def all_literals(src: str) -> list[Literal]:
    """Every '…', "…" and untagged `…` literal outside comments, except the
    arguments of console.* and t() calls (a developer's log, a catalogue key)."""
    found: list[Literal] = []
    i = 0
    while i < len(src):
        c = src[i]
        if src.startswith("//", i):
            end = src.find("\n", i)
            i = len(src) if end < 0 else end
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            i = len(src) if end < 0 else end + 2
        elif c in "'\"`":
            before = src[max(0, i - 40) : i]
            quiet = re.search(r"(console\.\w+|\bt|errorText|import|from)\(?\s*$", before)
            tagged = src[max(0, i - 4) : i] == "html"
            sink: list[Literal] = []
            if c == "`":
                end = _template(src, i, sink, tagged=tagged)
            else:
                end = _string_end(src, i)
                sink.append(Literal(src[i + 1 : end - 1], i))
            if not quiet and not tagged:
                found.extend(sink)
            i = end
        else:
            i += 1
    return found


# SVG path data ("M12 21s-7.5-4.6…"): commands and numbers, not words.
SVG_PATH = re.compile(r"^[Mm][\d\s.,MmLlHhVvCcSsQqTtAaZz-]+$")


def _is_text(text: str) -> bool:
    words = text.strip()
    if not LETTER.search(words) or SVG_PATH.match(words):
        return False
    return (
        words not in NOT_TEXT
        and words not in LANGUAGE_NAMES
        and words.lower() not in BRAND_TEXT
        and not KEY.match(words)
    )


def test_the_scan_finds_bypasses() -> None:
    """The scanner itself: each of these must be reported."""
    bad = {
        "html`<p>Hello</p>`": "Hello",
        'html`<button aria-label="Close">✕</button>`': "Close",
        'html`<b>${live ? "Live" : t("state.replay")}</b>`': "Live",
        'el.textContent = ok ? t("a.b") : "Offline";': "Offline",
        "el.textContent = `${n} left`;": "left",
        'confirm("Sure?")': "Sure?",
        'function f() { return "Waiting for the show"; }': "Waiting for the show",
    }
    for code, text in bad.items():
        assert any(text in lit.text for lit in visible_literals(code)), code
    good = [
        'html`<p class=${on ? "live" : ""}>${t("state.live")}</p>`',
        'el.textContent = t("chat.send");',
        'html`<span title=${t("player.mute")}>${count}</span>`',
        'html`<img class="thumb x" alt="" src=${url} />`',
        'console.warn("Playback stopped, retrying"); // Not shown to anyone',
        'import { t } from "../shared/i18n";',
        'const PATHS = { send: "M3 20.5 21.5 12 3 3.5V10l13 2-13 2v6.5z" };',
    ]
    for code in good:
        assert visible_literals(code) == [], code


def test_the_studio_is_checked() -> None:
    """The studio's views, the control room's panels included, are scanned."""
    checked = {f"{p.parent.name}/{p.name}" for p in sources(TEXT_SOURCES)}
    assert {"studio/main.ts", "studio/golive.ts", "controlroom/deals.ts"} <= checked


@pytest.mark.parametrize("path", sources(TEXT_SOURCES), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_text_bypasses_the_catalogue(path: Path) -> None:
    src = path.read_text(encoding="utf-8")
    bypass = [
        f"line {src.count(chr(10), 0, lit.where) + 1}: {lit.text.strip()!r}"
        for lit in visible_literals(src)
    ]
    assert bypass == [], f"{path.name} shows text without t(): {bypass}"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.body = False
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.body |= tag == "body"
        self.skip += tag in ("script", "style")
        self.texts += [v or "" for k, v in attrs if k in TEXT_ATTRIBUTES and self.body]

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if self.body and not self.skip:
            self.texts.append(data)


@pytest.mark.parametrize(
    "path", sources(TEXT_SOURCES, ".html"), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_pages_have_no_untranslated_text(path: Path) -> None:
    """The page's own markup is filled in by its script, in the reader's language."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    assert [text.strip() for text in parser.texts if _is_text(text)] == []
