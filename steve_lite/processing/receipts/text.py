"""Text helpers shared by the receipt rules: folding for keyword matching, words and phrases."""

import re
import unicodedata
from collections.abc import Sequence


def fold(text: str) -> str:
    """Upper-case text without diacritics (Ł becomes L, ß becomes SS), for keyword matching."""
    text = text.replace("ł", "l").replace("Ł", "L").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).upper()


def words_of(text: str) -> list[str]:
    """The alphabetic words of text, folded."""
    return re.findall(r"[A-Z]+", fold(text))


def has_phrase(words: Sequence[str], phrase: str) -> bool:
    """Whether the words contain the phrase's words consecutively."""
    wanted = phrase.split()
    return any(
        list(words[start : start + len(wanted)]) == wanted
        for start in range(len(words) - len(wanted) + 1)
    )


def has_any(words: Sequence[str], phrases: Sequence[str]) -> bool:
    """Whether the words contain any of the phrases."""
    return any(has_phrase(words, phrase) for phrase in phrases)
