"""Tokenizers for the lexical metrics: `coco` (PTB rules), `r2gen` and `raw`.

Published report-generation numbers are computed on tokens, so the tokenizer decides the score as
much as the metric does. The mode is recorded in every lexical result.

- `coco` reproduces what `pycocoevalcap.tokenizer.ptbtokenizer.PTBTokenizer` produces: the Stanford
  PTBTokenizer of CoreNLP 3.4.1 run as `-preserveLines -lowerCase`, then the removal of the tokens in
  `COCO_PUNCTUATIONS`. It is a native longest-match lexer (the JFlex semantics: the longest match wins,
  a trailing context counts towards the length, ties go to the earlier rule) whose rules follow the
  jar's own spec, PTBLexer.flex of CoreNLP 3.4.1 (its abbreviation lists are copied verbatim), and are
  checked against the real jar on fuzzed text and on every IU X-ray report (`tests/metrics/
  test_tokenize.py`, `test_coco_real.py`; docs/tokenizer-conformance.md). Outputs worth knowing: brackets become `-lrb-`/`-rrb-`/`-lsb-`/`-rsb-`/`-lcb-`/
  `-rcb-` after lowercasing, so COCO's upper-case `-LRB-` filter never removes them; `1.5cm` becomes
  `1.5 cm`; `don't` becomes `do n't`; `cannot` becomes `can not`; `£`/`€` become `#`/`$`; characters the
  lexer does not know (most emoji, U+2010, U+2012, U+203C) are deleted. One deliberate difference:
  pycocoevalcap only replaces `\\n` before calling Java, so a `\\r`, U+2028, U+2029, U+000B, U+000C or
  U+0085 inside a caption splits it into two output lines and shifts every later caption onto the wrong
  image; here those characters are plain whitespace.
  Speed: plain words, numbers and punctuation are cut by one regex per caption (the "fast path"
  below); the full rules run only where a caption has anything else.
- `r2gen` is the normalisation of R2Gen (Chen et al., 2020) for IU X-ray / MIMIC-CXR reports; see
  `r2gen_clean`.
- `raw` splits on whitespace and does nothing else.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

from xraybench.errors import XrayBenchError

try:  # the regex parser moved in Python 3.11
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MODES = ("coco", "r2gen", "raw")

#: Tokens pycocoevalcap drops after PTB tokenization (compared case-sensitively with lowercased tokens).
COCO_PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)


def _bmp_class(chars: Iterable[str]) -> str:
    """A regex character-class body for `chars`, Basic Multilingual Plane characters in code order.

    Java's lexer sees UTF-16 code units, so characters outside the BMP never match a class there.
    """
    parts: list[str] = []
    codes = [ord(c) for c in chars]
    start = 0
    for index in range(1, len(codes) + 1):
        if index == len(codes) or codes[index] != codes[index - 1] + 1:
            low, high = chr(codes[start]), chr(codes[index - 1])
            parts.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
            start = index
    return "".join(parts)


# The BMP without surrogates; `str.isalpha` is exactly the categories L*, `str.isdecimal` exactly Nd.
_BMP = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x10000)))
_LETTER = "[" + _bmp_class(filter(str.isalpha, _BMP)) + "]"
_DIGIT = "[" + _bmp_class(filter(str.isdecimal, _BMP)) + "]"
_LETDIG = "[" + _LETTER[1:-1] + _DIGIT[1:-1] + "]"
# Combining marks and modifier letters the lexer accepts inside words (it does not class them as letters).
_WORD_EXTRA = (
    "\u00ad\u0237-\u024f\u02c2-\u02c5\u02d2-\u02df\u02e5-\u02ff\u0300-\u036f\u0370-\u037d\u0384\u0385\u03cf"
    "\u03f6\u03fc-\u03ff\u0483-\u0487\u04cf\u04f6-\u04ff\u0510-\u0525\u055a-\u055f\u0591-\u05bd\u05bf\u05c1"
    "\u05c2\u05c4\u05c5\u05c7\u0615-\u061a\u063b-\u063f\u064b-\u065e\u0670\u06d6-\u06ef\u06fa-\u06ff\u070f"
    "\u0711\u0730-\u074f\u0750-\u077f\u07a6-\u07b1\u07ca-\u07f5\u07fa\u0900-\u0903\u093c\u093e-\u094e"
    "\u0951-\u0955\u0962-\u0963\u0981-\u0983\u09bc-\u09c4\u09c7\u09c8\u09cb-\u09cd\u09d7\u09e2\u09e3"
    "\u0a01-\u0a03\u0a3c\u0a3e-\u0a4f\u0a81-\u0a83\u0abc-\u0acf\u0b82\u0bbe-\u0bc2\u0bc6-\u0bc8\u0bca-\u0bcd"
    "\u0c01-\u0c03\u0c3e-\u0c56\u0d3e-\u0d44\u0d46-\u0d48\u0e30-\u0e3a\u0e47-\u0e4e\u0eb1-\u0ebc\u0ec8-\u0ecd"
)
_SPLET = r"&[aeiouAEIOU](?:acute|grave|uml);"
_WORD_LETTER = rf"(?:{_LETTER}|[{_WORD_EXTRA}]|{_SPLET})"
_WORD = rf"{_WORD_LETTER}(?:{_WORD_LETTER}|{_DIGIT})*(?:[.!?]{_WORD_LETTER}(?:{_WORD_LETTER}|{_DIGIT})*)*"
_SPACE = "[ \t\u00a0\u2000-\u200a\u3000]"
_SPACENL = "[ \t\u00a0\u2000-\u200a\u3000\n]"
_SGML_NAME = "[A-Za-z][A-Za-z0-9_:.-]*"
_SGML = (
    rf"<(?:[!?][A-Za-z-][^>\r\n]*|{_SGML_NAME}(?:[ ]+(?:{_SGML_NAME}[ ]*=[ ]*(?:'[^']*'|\"[^\"]*\")"
    rf"|{_SGML_NAME}))*[ ]*/?|/{_SGML_NAME})[ ]*>"
)
_UPPER = "[" + _bmp_class(c for c in filter(str.isupper, _BMP) if unicodedata.category(c) == "Lu") + "]"
_SENTEND = rf"{_SPACENL}(?:{_SPACENL}|{_UPPER}|{_SGML})"
_NUM = rf"(?:{_DIGIT}*(?:[.:,\u00ad\u066b\u066c]{_DIGIT}+)+|{_DIGIT}+)"
_APOS = "(?:['\u0092\u2019]|&(?i:apos);)"
_APOSETC = "(?:['`\u0092\u2019\u0091\u2018\u201b]|&(?i:apos);)"
_HYPHEN = "[-_\u058a\u2010\u2011]"


def _caseless(flex: str) -> str:
    """A Python regex for a regex of the JFlex spec, with the spec's `%caseless` semantics.

    PTBLexer.flex is compiled `%caseless`: a literal letter matches either case, but a character class
    keeps its case (the spec relies on it: `[A]rk` is `Ark`/`ARK`, never `ark`). So each letter outside
    a class becomes a two-letter class; classes and escapes are copied as they are.
    """
    out: list[str] = []
    i = 0
    while i < len(flex):
        char = flex[i]
        if char == "\\":
            out.append(flex[i : i + 2])
            i += 2
            continue
        if char == "[":
            close = i + 1
            while flex[close] != "]":
                close += 2 if flex[close] == "\\" else 1
            out.append(flex[i : close + 1])
            i = close + 1
            continue
        if char == "(":
            out.append("(?:")
        elif char.isascii() and char.isalpha():
            out.append(f"[{char.lower()}{char.upper()}]")
        else:
            out.append(char)
        i += 1
    return "".join(out)


# The abbreviation lists and the acronym rule's next words, copied verbatim from PTBLexer.flex of
# CoreNLP 3.4.1 (the version of the jar pycocoevalcap ships; tag v3.4.1 of stanfordnlp/CoreNLP,
# src/edu/stanford/nlp/process/PTBLexer.flex) and translated by `_caseless`. They are kept as word
# lists because the fast path must know which words take their period.
_FLEX_ABMONTH = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
_FLEX_ABDAYS = "Mon|Tue|Tues|Wed|Thu|Thurs|Fri"
_FLEX_ABSTATE = (
    "Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kans?|Ky|[L]a|[M]ass|Md|Mich|Minn|[M]iss|Mo"
    "|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wisc?|Wyo"
)
_FLEX_ABCOMP = "Inc|Cos?|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ|Intl|Sys"
_FLEX_ABNUM = "tel|est|ext|sq"
_FLEX_ABPTIT = r"Jr|Sr|Bros|(Ed|Ph)\.D|Blvd|Rd|Esq"
_FLEX_ABBREV1 = "|".join(
    (_FLEX_ABMONTH, _FLEX_ABDAYS, _FLEX_ABSTATE, _FLEX_ABCOMP, _FLEX_ABNUM, _FLEX_ABPTIT, "etc|al|seq|Bldg")
)
_FLEX_ABTITLE = (
    "Mr|Mrs|Ms|[M]iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|Ste?|Ave"
    "|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc"
)
_FLEX_ABCOMP2 = "Invt|Elec|Natl|M[ft]g|Dept"
_FLEX_ABBREV4 = rf"{_FLEX_ABTITLE}|vs|Alex|Wm|Jos|Cie|a\.k\.a|cf|TREAS|Ph|{_FLEX_ABCOMP2}"  # and {ACRO}
_FLEX_ABBREV3 = "ca|figs?|prop|nos?|art|bldg|prop|pp|op"
_FLEX_ACRO2 = r"[A-Za-z](\.[A-Za-z])+|(Canada|Sino|Korean|EU|Japan|non)-U\.S|U\.S\.-(U\.K|U\.S\.S\.R)"
_FLEX_ACRONYM_NEXT = (
    r"[A]bout|[A]ccording|[A]dditionally|[A]fter|[A]n|[A]|[A]s|[A]t|[B]ut|[E]arlier|[H]e|[H]er|[H]ere|[H]owever|[I]f"
    r"|[I]n|[I]t|[L]ast|[M]any|[M]ore|[M]r\.|[M]s\.|[N]ow|[O]nce|[O]ne|[O]ther|[O]ur|[S]he|[S]ince|[S]o|[S]ome"
    r"|[S]uch|[T]hat|[T]he|[T]heir|[T]hen|[T]here|[T]hese|[T]hey|[T]his|[W]e|[W]hen|[W]hile|[W]hat|[Y]et|[Y]ou"
)
#: ACRO2 (`U.S`, `e.g`); the spec's ACRO is ACRO2 or one letter.
_ACRO = f"(?:{_caseless(_FLEX_ACRO2)})"
_ABBREV1_WORDS = f"(?:{_caseless(_FLEX_ABBREV1)})"
_ABBREV1 = rf"{_ABBREV1_WORDS}\."
_ABBREV4_WORDS = f"(?:{_caseless(_FLEX_ABBREV4)})"
_ABBREV4 = rf"(?:{_ACRO}|[A-Za-z]|{_ABBREV4_WORDS})"
_ABBREV3_WORDS = f"(?:{_caseless(_FLEX_ABBREV3)})"
_ABBREV3 = rf"{_ABBREV3_WORDS}\."
_THING_PART = rf"(?:[dDoOlL]{_APOSETC}{_LETDIG})?{_LETDIG}+"
_FRAC = rf"(?:{_DIGIT}{{1,4}}[- \u00a0])?{_DIGIT}{{1,4}}(?:\\?\/|\u2044){_DIGIT}{{1,4}}"
_PHONE = (
    r"(?:\([0-9]{2,3}\)[ \u00a0]?|(?:\+\+?)?(?:[0-9]{2,4}[\- \u00a0])?[0-9]{2,4}[\- \u00a0])[0-9]{3,4}"
    r"[\- \u00a0]?[0-9]{3,5}|(?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}"
)
_FILENAME_EXT = _caseless(
    "bat|bmp|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|mp3|pdf|php|pl|png|ppt|ps|py"
    "|sql|tar|txt|wav|x|xml|zip"
)
# The trailing context is repeated as a look-ahead: the longest name that the context follows must win
# (`a.pdf.txtz ` is the name `a.pdf` before `.`), which a greedy match alone would miss.
_FILENAME = (
    rf"(?:{_WORD_LETTER}|{_DIGIT})+(?:\.(?:{_WORD_LETTER}|{_DIGIT})+)*\.(?:{_FILENAME_EXT})(?={_SPACENL}|[.?!,])"
)
# the spec's ASIANSMILEY, literally (its first alternative reads `x.[^x=~<>]`: the `\[` is escaped there)
_ASIANSMILEY = (
    r"[\^x=~<>]\.\[\^[xX]=~<>\]|[\-\^x=~<>']_[\-\^x=~<>']|\([\-\^x=~<>'][_.]?[\-\^x=~<>']\)"
    r"|\([\^x=~<>']-[\^x=~<>'`]\)"
)
_URL_END = '[^ \t\n\f\r"<>|.!?(){},-]'
_MISC = (
    "[+%&~^|\\\\\u00a6\u00a7\u00a8\u00a9\u00ac\u00ae\u00af\u00b0-\u00ba\u00d7\u00f7\u0387\u05be\u05c0\u05c3"
    "\u05c6\u05f3\u05f4\u0600-\u0603\u0606-\u060a\u060c\u0614\u061b\u061e\u066a\u066d\u0703-\u070d\u07f6-\u07f8"
    "\u0964\u0965\u0e4f\u1fbd\u2016\u2017\u2020-\u2023\u2030-\u2038\u203b\u203e-\u2042\u2044\u207a-\u207f"
    "\u208a-\u208e\u2100-\u214f\u2190-\u21ff\u2200-\u2bff\u3012\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40"
    "\uff5b-\uff65]"
)
# (name, token regex, trailing-context regex or None, action). Order = priority on equal lengths.
_RULES: list[tuple[str, str, str | None, str]] = [
    ("proglang", r"(?i:c\+\+|[cf]#)", None, "plain"),
    ("assim3", r"(?i:cannot|'twas)", None, "push3"),
    ("assim2", r"(?i:'tis|gonna|gotta|lemme|gimme|wanna)", None, "push2"),
    ("sgml", _SGML, None, "sgml"),
    ("mdash", "&(?i:md|mdash|ndash);|[\u0096\u0097\u2013\u2014\u2015]", None, "dash"),
    ("amp", "&(?i:amp);", None, "amp"),
    ("sppunc", "&(?i:ht|tl|ur|lr|qc|ql|qr|odq|cdq|#[0-9]+);", None, "plain"),
    ("word_redaux", _WORD, rf"{_APOS}(?:[msdMSD]|(?i:re|ve|ll))", "word"),
    ("sword_sredaux", "[A-Za-z\u00ad]*[A-MO-Za-mo-z]\u00ad*", rf"(?i:n){_APOSETC}(?i:t)", "word"),
    ("word", _WORD, None, "word"),
    (
        "apoword",
        rf"{_APOS}(?i:n){_APOS}?|[lLdDjJ]{_APOS}|(?i:dunkin|somethin|ol){_APOS}|{_APOS}(?i:em)"
        rf"|[A-HJ-XZn]{_APOSETC}{_LETTER}{{2,}}|{_APOS}[2-9]0(?i:s)|{_APOS}(?i:till?)"
        rf"|{_LETTER}+[aeiouyAEIOUY]{_APOSETC}[aeiouA-Z]{_LETTER}*|{_APOS}(?i:cause)|(?i:cont'd)\.?"
        rf"|(?i:'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)|[oO]{_APOSETC}[oO]",
        None,
        "plain",
    ),
    ("apoword2", rf"(?i:y){_APOS}", _LETTER, "plain"),
    ("fullurl", rf"(?i:https?)://[^ \t\n\f\r\"<>|(){{}}]+{_URL_END}", None, "plain"),
    (
        "likelyurl",
        r"(?:(?i:www)\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4}|(?:[^ \t\n\f\r\"`'<>|.!?(){},-_$]+\.)+"
        rf"(?i:com|net|org|edu))(?:\/[^ \t\n\f\r\"<>|()]+{_URL_END})?",
        None,
        "plain",
    ),
    (
        "email",
        r"(?:&(?i:lt);|<)?[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00a0{}]*@(?:[^ \t\n\f\r\"<>|(){}.\u00a0]+\.)*"
        r"[^ \t\n\f\r\"<>|(){}.\u00a0]+(?:&(?i:gt);|>)?",
        None,
        "plain",
    ),
    ("twitter", rf"@[a-zA-Z_][a-zA-Z_0-9]*|#{_WORD_LETTER}+", None, "plain"),
    ("redaux_ctx", rf"{_APOS}(?:[msdMSD]|(?i:re|ve|ll))", "[^A-Za-z]", "quote_r"),
    ("sredaux", rf"(?i:n){_APOSETC}(?i:t)", None, "quote_r"),
    ("date", rf"{_DIGIT}{{1,2}}[\-\/]{_DIGIT}{{1,2}}[\-\/]{_DIGIT}{{2,4}}", None, "plain"),
    ("number", rf"[\-+]?{_NUM}", None, "word"),
    (
        "subsupnum",
        "[\u207a\u207b\u208a\u208b]?(?:[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+|[\u2080-\u2089]+)",
        None,
        "plain",
    ),
    ("frac", _FRAC, None, "nbsp"),
    ("frac2", "[\u00bc\u00bd\u00be\u2153-\u215e]", None, "fraction"),
    (
        "tbspec",
        rf"-(?i:rrb|lrb|rcb|lcb|rsb|lsb)-|(?i:c\.d\.s|pro-|anti-|s(?:&|&amp;)p-500|s(?:&|&amp;)ls|cap{_APOS}n|c{_APOS}est)",
        None,
        "amp",
    ),
    ("thing3", r"[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?\/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}", None, "plain"),
    ("dolsign", r"[A-Z]*\$|#", None, "plain"),
    (
        "dolsign2",
        "[\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20ac\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6]",
        None,
        "currency",
    ),
    (
        "acronym_end",
        rf"(?:{_ACRO}|[A-Za-z])\.",
        rf"{_SPACENL}+(?:{_caseless(_FLEX_ACRONYM_NEXT)}|{_SGML}){_SPACENL}",
        "acronym",
    ),
    ("pty", r"(?:[pP][tT][eyEY]|[cC][oO])\.", rf"{_SPACE}(?:[lL][tT][dD]|[lL][iI][mM])", "plain"),
    ("abbrev1_end", _ABBREV1, _SENTEND, "sentend"),
    ("abbrev1_any", _ABBREV1, r"[\s\S]{2}", "plain"),
    ("abbrev1", _ABBREV1, None, "plain"),
    ("abbrev2", rf"{_ABBREV4}\.", None, "plain"),
    ("abbrev3", _ABBREV3, f"{_SPACENL}?{_DIGIT}", "plain"),
    ("abbrev4", _ABBREV4, _SPACE, "plain"),
    ("acro", _ACRO, _SPACENL, "plain"),
    ("tbspec2", f"{_APOS}[0-9][0-9]", _SPACENL, "plain"),
    ("filename", _FILENAME, f"{_SPACENL}|[.?!,]", "plain"),
    ("word_dot", rf"{_WORD}\.", "[,;:\u3001]", "word"),
    ("phone", _PHONE, None, "phone"),
    ("dblquot_l", '"|&(?i:quot);', "[A-Za-z0-9$]", "quote_l"),
    ("dblquot", '"|&(?i:quot);', None, "quote_r"),
    ("del", "\x7f", None, "skip"),
    ("smiley", r"[<>]?[:;=][\-o*']?[()DPdpO\\{@|\[\]]", r"[^A-Za-z0-9]", "phone"),
    ("asiansmiley", _ASIANSMILEY, None, "phone"),
    ("duckfeet", "<<|>>", None, "plain"),
    ("lt", "<|&(?i:lt);", None, "less"),
    ("gt", ">|&(?i:gt);", None, "greater"),
    ("square", r"[\[\]]", None, "bracket"),
    ("brace", r"[{}]", None, "bracket"),
    ("paren", r"[()]", None, "bracket"),
    ("hyphens", r"-+", None, "hyphens"),
    ("ldots", "\\.{3,5}|(?:\\.[ \u00a0]){2,4}\\.|[\u0085\u2026]", None, "ellipsis"),
    ("fnmarks", "@+|#+|_+", None, "plain"),
    ("asts", r"\*+|(?:\\\*){1,3}", None, "plain"),
    ("insentp", "[,;:\u3001]", None, "plain"),
    ("bang", "[?!]+", None, "plain"),
    ("stop", "[.\u00a1\u00bf\u037e\u0589\u061f\u06d4\u0700-\u0702\u07fa\u3002]", None, "plain"),
    ("equals", "=", None, "plain"),
    ("slash", r"\/", None, "plain"),
    ("hthing_dot", rf"[A-Za-z0-9][A-Za-z0-9.,\u00ad]*(?:-(?:[A-Za-z0-9\u00ad]+|{_ACRO}\.))+\.", "[,;:\u3001]", "word"),
    ("hthing", rf"[A-Za-z0-9][A-Za-z0-9.,\u00ad]*(?:-(?:[A-Za-z0-9\u00ad]+|{_ACRO}\.))+", None, "word"),
    ("thing_dot", rf"{_THING_PART}(?:{_HYPHEN}{_THING_PART})*\.", "[,;:\u3001]", "plain"),
    ("thing", rf"{_THING_PART}(?:{_HYPHEN}{_THING_PART})*", None, "plain"),
    ("thinga_dot", r"[A-Z]+(?:(?:[+&]|&(?i:amp);)[A-Z]+)+\.", "[,;:\u3001]", "amp"),
    ("thinga", r"[A-Z]+(?:(?:[+&]|&(?i:amp);)[A-Z]+)+", None, "amp"),
    ("quote_invert", "'", "[A-Za-z][^ \t\n\r\u00a0]", "quote_l"),
    ("redaux", rf"{_APOS}(?:[msdMSD]|(?i:re|ve|ll))", None, "quote_r"),
    (
        "quotes",
        f"''|[`\u2018\u2019\u201a\u201b\u201c\u201d\u0091-\u0094\u201e\u201f\u2039\u203a\u00ab\u00bb]{{1,2}}|{_APOS}",
        None,
        "quote_r",
    ),
    ("misc", _MISC, None, "plain"),
    ("newline", "\n", None, "newline"),
    (
        "space",
        "\x00|[ \t\u00a0\u2000-\u200a\u3000\r\u2028\u2029\u000b\u000c\u0085\u200b\u200e\u200f\ufeff]+",
        None,
        "skip",
    ),
    ("nbsp", "&(?i:nbsp);", None, "skip"),
]

_CANDIDATES: dict[str, tuple[int, ...]] = {}


_COMPILED: list[tuple[str, re.Pattern[str], re.Pattern[str] | None, str] | None] = [None] * len(_RULES)


def _rule(index: int) -> tuple[str, re.Pattern[str], re.Pattern[str] | None, str]:
    """Rule `index`, compiled on first use (all of them take a tenth of a second; a text of fast tokens
    needs none, and most texts only the few that can start at a letter, digit or period)."""
    found = _COMPILED[index]
    if found is None:
        name, tok, ctx, action = _RULES[index]
        found = _COMPILED[index] = (name, re.compile(tok), re.compile(ctx) if ctx else None, action)
    return found


@functools.cache
def _trees() -> list[list[tuple[object, object]]]:
    return [list(_sre_parse.parse(tok)) for _, tok, _, _ in _RULES]


_CURRENCY = {"\u00a2": "cents", "\u00a3": "#"}
_FRACTIONS = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3"}
_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}
_LEFT_QUOTES = str.maketrans(
    {"\u0091": "`", "\u2018": "`", "\u201b": "`", "\u2039": "`", "\u0092": "'", "\u2019": "'", "\u203a": "'"}
)
_DOUBLE_QUOTES = [
    ("\u0093", "``"),
    ("\u201c", "``"),
    ("\u00ab", "``"),
    ("\u0094", "''"),
    ("\u201d", "''"),
    ("\u00bb", "''"),
]


def _candidates(char: str) -> tuple[int, ...]:
    """Indices of the rules whose token can start with `char` (exact, from the parsed patterns)."""
    found = _CANDIDATES.get(char)
    if found is None:
        found = tuple(i for i, tree in enumerate(_trees()) if _starts(tree, char, False)[0])
        _CANDIDATES[char] = found
    return found


_CLASSES: dict[int, tuple[bool, frozenset[int], list[int], list[int], tuple[str, ...]]] = {}


def _class(items: list[tuple[object, object]]) -> tuple[bool, frozenset[int], list[int], list[int], tuple[str, ...]]:
    """A parsed character class as (negated, literals, sorted range starts, their ends, categories), cached:
    the letter class has hundreds of ranges and is asked about for every starting character."""
    found = _CLASSES.get(id(items))
    if found is None:
        negate, literals, ranges, categories = False, set(), [], []
        for op, arg in items:
            name = str(op)
            if name == "NEGATE":
                negate = True
            elif name == "LITERAL":
                literals.add(arg)
            elif name == "RANGE":
                ranges.append(arg)
            elif name == "CATEGORY":
                categories.append(str(arg))
        ranges.sort()
        found = (negate, frozenset(literals), [lo for lo, _ in ranges], [hi for _, hi in ranges], tuple(categories))
        _CLASSES[id(items)] = found  # the parsed trees are cached for the process, so their ids stay valid
    return found  # type: ignore[return-value]


def _in_class(items: list[tuple[object, object]], code: int) -> bool:
    negate, literals, starts, ends, categories = _class(items)
    hit = code in literals
    if not hit and starts:
        # ranges may overlap: any range starting at or before `code` can hold it
        at = bisect.bisect_right(starts, code)
        hit = any(ends[i] >= code for i in range(at))
    for kind in categories:
        if hit:
            break
        char = chr(code)
        if kind == "CATEGORY_DIGIT":
            hit = unicodedata.category(char) == "Nd"
        elif kind == "CATEGORY_NOT_DIGIT":
            hit = unicodedata.category(char) != "Nd"
        elif kind == "CATEGORY_SPACE":
            hit = char.isspace()
        else:
            hit = bool(re.match(rf"[{{{kind}}}]", char))  # pragma: no cover - unused categories
    return hit != negate


def _starts(items: list[tuple[object, object]], char: str, ignorecase: bool) -> tuple[bool, bool]:
    """(can a match of `items` start with `char`, can `items` match the empty string)."""
    codes = {ord(char)}
    if ignorecase:
        codes |= {ord(c) for c in (char.lower(), char.upper()) if len(c) == 1}
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return arg in codes, False
        if name == "NOT_LITERAL":
            return arg not in codes, False
        if name == "ANY":
            return char != "\n", False
        if name == "IN":
            return any(_in_class(arg, code) for code in codes), False  # type: ignore[arg-type]
        if name == "AT":
            continue
        if name == "SUBPATTERN":
            _, add_flags, _, body = arg  # type: ignore[misc]
            hit, empty = _starts(body, char, ignorecase or bool(add_flags & re.IGNORECASE))
        elif name == "BRANCH":
            results = [_starts(branch, char, ignorecase) for branch in arg[1]]  # type: ignore[index]
            hit, empty = any(r[0] for r in results), any(r[1] for r in results)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, body = arg  # type: ignore[misc]
            hit, empty = _starts(body, char, ignorecase)
            empty = empty or low == 0
        else:  # lookarounds and group references are not used in the rules
            raise AssertionError(f"unsupported regex node {name}")  # pragma: no cover
        if hit:
            return True, False
        if not empty:
            return False, False
    return False, True


def _latex_quote(text: str, left: bool) -> str:
    if "'" in text or '"' in text or "&" in text:
        text = re.sub("&apos;|'", "`" if left else "'", text)
        text = re.sub('"|&quot;', "``" if left else "''", text)
    text = text.translate(_LEFT_QUOTES)
    for src, dst in _DOUBLE_QUOTES:
        text = text.replace(src, dst)
    return text


def _act(action: str, text: str) -> tuple[list[str], int]:
    """Apply a rule's action to the matched text: (tokens to emit, characters consumed)."""
    if action == "plain":
        return [text], len(text)
    if action == "word":
        clean = text.replace("\u00ad", "")
        return [clean or "-"], len(text)
    if action == "skip":
        return [], len(text)
    if action == "push3":
        return [text[:-3]], len(text) - 3
    if action == "push2":
        return [text[:-2]], len(text) - 2
    if action == "acronym":  # a one-letter "acronym" before a sentence start is a letter and a period
        return ([text[:-1]], len(text) - 1) if len(text) == 2 else ([text], len(text) - 1)
    if action == "sentend":
        return [text], len(text) - 1
    if action == "amp":
        return [re.sub("(?i:&amp;)", "&", text)], len(text)
    if action == "dash":
        return ["--"], len(text)
    if action == "quote_l":
        return [_latex_quote(text, True)], len(text)
    if action == "quote_r":
        return [_latex_quote(text, False)], len(text)
    if action == "nbsp" or action == "sgml":
        return [text.replace(" ", "\u00a0")], len(text)
    if action == "phone":
        return [text.replace(" ", "\u00a0").replace("(", "-LRB-").replace(")", "-RRB-")], len(text)
    if action == "fraction":
        return [_FRACTIONS.get(text, text)], len(text)
    if action == "currency":
        return [_CURRENCY.get(text, "$" if text in "\u0080\u00a4\u20a0\u20ac" else text)], len(text)
    if action == "bracket":
        return [_BRACKETS[text]], len(text)
    if action == "less":
        return ["<"], len(text)
    if action == "greater":
        return [">"], len(text)
    if action == "hyphens":
        return (["--"] if 3 <= len(text) <= 4 else [text]), len(text)
    if action == "newline":
        return ["\n"], 1
    if action == "ellipsis":
        return ["..."], len(text)
    raise AssertionError(f"unknown lexer action {action}")  # pragma: no cover - rules and actions are static


def _spellings(items: list[tuple[object, object]]) -> set[str]:
    """Every string a finite, loop-free regex matches, lowercased (the abbreviation lists)."""
    found = {""}
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            options = {chr(arg).lower()}  # type: ignore[arg-type]
        elif name == "IN" and all(str(kind) == "LITERAL" for kind, _ in arg):  # type: ignore[attr-defined]
            options = {chr(code).lower() for _, code in arg}  # type: ignore[attr-defined]
        elif name == "SUBPATTERN":
            options = _spellings(arg[3])  # type: ignore[index]
        elif name == "BRANCH":
            options = set().union(*(_spellings(branch) for branch in arg[1]))  # type: ignore[index]
        elif name == "MAX_REPEAT" and arg[1] == 1:  # type: ignore[index]
            options = {""} | _spellings(arg[2]) if arg[0] == 0 else _spellings(arg[2])  # type: ignore[index]
        else:  # the word lists use only the constructs above
            raise AssertionError(f"unsupported regex node {name}")  # pragma: no cover
        found = {head + tail for head in found for tail in options}
    return found


def _trie(words: set[str]) -> str:
    """A regex matching exactly `words`, factored by common prefixes (a flat alternation is slow in `re`)."""
    heads: dict[str, set[str]] = {}
    for word in words:
        if word:
            heads.setdefault(word[0], set()).add(word[1:])
    branches = [re.escape(head) + _trie(rests) for head, rests in sorted(heads.items())]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in words else body


# --- the fast path --------------------------------------------------------------------------------
# Most of a report is plain words, numbers and simple punctuation before whitespace. For those the
# rules above provably give one obvious token, so they are cut by one regex in C and every other
# position goes through the full longest-match step (`_lex_one`). Each alternative decides from the
# token and the character(s) right after it, and lists only shapes that no rule extends:
# - `(` not before a digit (`(555) 123-4567` is a phone number) or a character of the Asian smileys
#   (`(^_^)` is one token), `)`, a line break, `,`/`;`/`:`
#   before whitespace, `.` before whitespace but not before ` .` (`. . .` is an ellipsis), `.` before
#   `.` + whitespace (`effusion..`: two stops, too short for an ellipsis) or before ` .` not followed
#   by a third dot (`. .` at a caption end);
# - an ASCII word of letters and digits before whitespace, a bracket, the end, `:`/`,`/`;` +
#   whitespace, or a possessive `'s` (`{WORD}/{REDAUX}`: no other rule is longer there); before `.` or
#   `..` + whitespace only with two or more characters and when it is not an abbreviation that keeps
#   its period; never `cannot`, `gonna`, ... (the lexer splits them);
# - `'s` before whitespace or `.`/`,`/`;`/`:` + whitespace (`{REDAUX}/[^A-Za-z]`);
# - a hyphenated ASCII word (`right-sided`, `3-4`, `T11-T12`) or a number (`12`, `1.5`), not before a
#   space and a digit (`1 1/2` is one fraction, `55-123 4567` one phone number);
# - letters and digits starting with digits (`6th`, `5mm`: THING, longer than NUMBER) and one or two
#   slashes between letters and digits (`and/or`, `1/2`, `12/25/2020`: THING3, or FRAC and DATE with the
#   same text), before whitespace, `)`, the end or `.`/`,`/`;`/`:` + whitespace.
# The word checks are look-behinds at the word's end that need a non-alphanumeric character before the
# word; that holds for every fast token except right after a full-rule token, which `_lex_span` knows.
_ABBREVIATED: dict[int, set[str]] = {}
for _word in set().union(
    *(_spellings(list(_sre_parse.parse(w))) for w in (_ABBREV1_WORDS, _ABBREV4_WORDS, _ABBREV3_WORDS))
):
    if _word.isalnum():  # `a.k.a` can never be a fast word
        _ABBREVIATED.setdefault(len(_word), set()).add(_word)
_WHOLE = "(?<![A-Za-z0-9])"
_NOT_ABBREVIATION = "".join(f"(?<!{_WHOLE}(?i:{_trie(words)}))" for _, words in sorted(_ABBREVIATED.items()))
_NOT_SPLIT = rf"(?<!{_WHOLE}[gGlLwW](?i:onna|otta|emme|imme|anna))(?<!{_WHOLE}[cC](?i:annot))"  # a superset
_END = r"(?:[ \t\n]|\Z)"
_FAST_PUNCT = rf"[,;:](?={_END})|\.(?=[\t\n]|\Z| (?!\.)|\.{_END}| \.(?![ \u00a0]\.))"
_POSSESSIVE = rf"'s(?=[ \t\n]|\Z|[.,;:]{_END})"
_FAST_WORD = (
    rf"\((?![0-9\-^x=~<>'])|\)"
    rf"|[A-Za-z][A-Za-z0-9]*+(?:(?<![aAeEtT])|{_NOT_SPLIT})"
    rf"(?:(?=[ \t\n()]|[:,;]{_END}|\Z|{_POSSESSIVE})|(?=\.\.?{_END})(?<=[A-Za-z0-9]{{2}}){_NOT_ABBREVIATION})"
    rf"|{_POSSESSIVE}"
    rf"|(?:[A-Za-z0-9]++(?:-[A-Za-z0-9]++)++|[0-9]++(?:\.[0-9]++)?+)(?=[\t\n)]| (?![0-9])|[.,;:]{_END}|\Z)"
    rf"|(?:[0-9]++[A-Za-z][A-Za-z0-9]*+|[A-Za-z0-9]++(?:/[A-Za-z0-9]++){{1,2}}+)(?=[ \t\n)]|[.,;:]{_END}|\Z)"
)
_FAST_ALTERNATIVES = rf"\n|{_FAST_PUNCT}|{_FAST_WORD}"
#: A maximal run of fast tokens (with the blanks between them) from a position.
_FAST_RUN = re.compile(rf"(?:[ \t]*+(?:{_FAST_ALTERNATIVES}))*+")
#: The tokens of such a run, one per match.
_FAST_TOKEN = re.compile(rf"[ \t]*+({_FAST_ALTERNATIVES})")
#: The same for one caption, giving "" for the punctuation tokens COCO drops (each one character).
_FAST_KEPT = re.compile(rf"[ \t]*+(?:({_FAST_WORD})|{_FAST_PUNCT})")
_FAST_MAP = {"(": "-LRB-", ")": "-RRB-"}
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _lex_one(text: str, pos: int, tokens: list[str]) -> int:
    """The full longest-match step at `pos`: appends what it emits and returns the next position."""
    best_len = 0
    best: tuple[str, str] | None = None
    for index in _candidates(text[pos]):
        _, tok, ctx, action = _rule(index)
        match = tok.match(text, pos)
        if match is None:
            continue
        length = match.end() - pos
        if ctx is not None:
            follow = ctx.match(text, match.end())
            if follow is None:
                continue
            length += follow.end() - follow.start()
        if length > best_len:
            best_len = length
            best = (action, match.group())
    if best is None:  # untokenizable: the lexer deletes it (and logs the first one)
        return pos + 1
    emitted, consumed = _act(*best)
    tokens.extend(emitted)
    return pos + consumed


def _lex_span(text: str, pos: int, end: int) -> tuple[list[str], int]:
    """PTBTokenizer 3.4.1 tokens starting in `text[pos:end]` (`end` is the text's end or a line break),
    and the position after the last one: past `end` when that token ran over the line break.

    The lexer has no state: the token at a position depends only on the text from there on. So a run
    of fast tokens is found with one `match` and read with one `findall` over that run alone (every
    fast alternative accepts the end of the text wherever it accepts a blank or a line break, so cutting
    the text there changes none of them), and the full rules take over where a run stops.
    """
    tokens: list[str] = []
    while pos < end:
        stop = _FAST_RUN.match(text, pos, end).end()  # type: ignore[union-attr]  # the pattern matches empty
        if stop > pos:
            found = _FAST_TOKEN.findall(text, pos, stop)
            tokens += map(_FAST_MAP.get, found, found)
            pos = stop
        while pos < end:  # full rules, also for a word glued to a full-rule token (`1.5cm`)
            pos = _lex_one(text, pos, tokens)
            if text[pos - 1] not in _ALNUM:
                break
    return tokens, pos


def _lex(text: str) -> list[str]:
    """PTBTokenizer 3.4.1 tokens of a document; each line break is returned as a `"\\n"` token."""
    return _lex_span(text, 0, len(text))[0]


def ptb_tokens(text: str) -> list[str]:
    """Stanford PTBTokenizer 3.4.1 tokens of one caption (before lowercasing and punctuation removal)."""
    return _lex(text.replace("\n", " "))


def coco_tokenize_batch(texts: Sequence[str]) -> list[list[str]]:
    """Tokens of each caption exactly as one pycocoevalcap `PTBTokenizer.tokenize` call returns them.

    pycocoevalcap writes the captions one per line into a single file, and the lexer's look-ahead crosses
    line ends: an abbreviation closing a caption (`... etc.`) also yields a separate `.` token when the
    next caption starts with a capital letter. So captions are lexed together, in the given order, as
    pycocoevalcap does (hypotheses in one call, the flattened references in another).

    A caption made only of fast tokens is read with one `findall`: it is, when the tokens cover all its
    characters but the blanks (no line break is inside a caption, and at its end the fast alternatives
    decide as they would before the line break). Such tokens are ASCII, so lowering the joined caption
    lowers each token, and the only ones COCO drops are the one-character punctuation ones, which
    `_FAST_KEPT` returns as "". Any other caption is lexed in place in the whole document.

    One token can run over a line end: an SGML tag whose quoted attribute value is left open
    (`<a b='x` ... `y'>`). The jar prints it with its line break inside, so pycocoevalcap gives its first
    piece to the caption where it starts and its last piece to the caption where it ends (and lexing goes
    on from there); captions wholly inside it get its middle pieces. That is done here too.
    """
    lines = [text.replace("\n", " ") for text in texts]
    document = "\n".join(lines)
    out: list[list[str]] = []
    start = 0
    resume = 0  # where lexing goes on: inside a caption after a token that ran over line ends
    pieces: list[str] = []  # the rest of such a token, one piece per following caption
    for line in lines:
        end = start + len(line)
        tokens: list[str] = []
        if pieces:
            tokens.append(pieces.pop(0))
        else:
            found = _FAST_KEPT.findall(line)
            if sum(map(len, found)) + found.count("") == len(line) - line.count(" ") - line.count("\t"):
                out.append(" ".join(found).lower().replace("(", "-lrb-").replace(")", "-rrb-").split())
                start = end + 1
                continue
        if not pieces:
            lexed, pos = _lex_span(document, max(start, resume), end)
            if pos > end:
                pieces = lexed[-1].split("\n")
                lexed[-1] = pieces.pop(0)
                resume = pos
            tokens += lexed
        lowered = (token.lower() for token in tokens)
        out.append([token for token in lowered if token and token not in COCO_PUNCTUATIONS])
        start = end + 1
    return out


def coco_tokenize(text: str) -> list[str]:
    """Tokens of one caption as pycocoevalcap's PTBTokenizer returns them (lowercased, punctuation removed)."""
    return coco_tokenize_batch([text])[0]


_R2GEN_KEEP = re.compile(r"[.,?;*!%^&_+():\-\[\]{}]")


def r2gen_clean(text: str) -> str:
    """R2Gen's report cleaning (its `clean_report_iu_xray`, used for IU X-ray and MIMIC-CXR alike).

    Exact rules, in order: collapse runs of `..` to `.`, `1. ` / `2. ` ... list markers to nothing
    (any digit followed by `. `), `. 2. ` style markers to `. `, strip, lowercase, split into sentences
    on `. `; in each sentence delete the characters `` .,?;*!%^&_+():-[]{} `` as well as `"`, `/`, `\\`
    and `'`, collapse whitespace, strip; drop empty sentences; join the sentences with ` . ` and end with
    ` .`. Tokens are then the space-split words of that string, so the sentence period is a token.
    """
    cleaned = text.replace("..", ".").replace("..", ".").replace("..", ".").replace("..", ".")
    cleaned = re.sub(r"\d\. ", "", cleaned)
    cleaned = cleaned.replace(". 2. ", ". ").replace(". 3. ", ". ").replace(". 4. ", ". ").replace(". 5. ", ". ")
    cleaned = cleaned.replace(" 2. ", ". ").replace(" 3. ", ". ").replace(" 4. ", ". ").replace(" 5. ", ". ")
    sentences = cleaned.strip().lower().split(". ")
    kept = []
    for sentence in sentences:
        sentence = _R2GEN_KEEP.sub("", sentence.replace('"', "").replace("/", "").replace("\\", "").replace("'", ""))
        sentence = " ".join(sentence.split())
        if sentence:
            kept.append(sentence)
    return " . ".join(kept) + " ." if kept else ""


def tokenize(text: str, mode: str = "coco") -> list[str]:
    """Tokens of one text under `mode` (`coco`, `r2gen` or `raw`)."""
    if mode == "coco":
        return coco_tokenize(text)
    if mode == "r2gen":
        return r2gen_clean(text).split()
    if mode == "raw":
        return text.split()
    raise XrayBenchError(f"unknown tokenizer mode {mode!r}; expected one of {', '.join(MODES)}")


def tokenize_batch(texts: Iterable[str], mode: str = "coco") -> list[list[str]]:
    """Tokens of many texts. `coco` lexes them together as pycocoevalcap does (see `coco_tokenize_batch`);
    the other modes tokenize each distinct text once."""
    check_mode(mode)
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise XrayBenchError(f"tokenize_batch: text {index} is {type(text).__name__}; expected str")
    if mode == "coco":
        return coco_tokenize_batch(items)
    cache: dict[str, list[str]] = {}
    out: list[list[str]] = []
    for text in items:
        tokens = cache.get(text)
        if tokens is None:
            tokens = cache[text] = tokenize(text, mode)
        out.append(tokens)
    return out


def check_mode(mode: str) -> str:
    """Validate a tokenizer mode name early (at metric construction), so a typo fails before scoring."""
    if mode not in MODES:
        raise XrayBenchError(f"unknown tokenizer mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


__all__: Sequence[str] = [
    "COCO_PUNCTUATIONS",
    "MODES",
    "check_mode",
    "coco_tokenize",
    "coco_tokenize_batch",
    "ptb_tokens",
    "r2gen_clean",
    "tokenize",
    "tokenize_batch",
]
