"""What the emulator does to a final's text for ``itn_normalize``, ``redact_pii`` and ``redact_pci`` (pure).

Only the cheap part of each feature is simulated, on the recognizer's words:

- ITN [DOC: the AsyncAPI spec, "``five five five one two three`` becomes ``5551234``"]: a run of two
  or more spoken digits (``zero``/``oh``, ``one`` … ``nine``) becomes the numeral. Cardinals
  ("twenty three"), dates, times and currencies are not converted.
- Redaction [DOC: the redaction page,
  https://docs.smallest.ai/models/documentation/speech-to-text-pulse/features/redaction]: placeholders
  ``[ENTITYTYPE_N]``, numbered from 1 per type through the session, listed in ``redacted_entities``.
  ``redact_pii``: a run of 7 to 11 digits (spoken or written) becomes ``[PHONENUMBER_N]``, an e-mail
  address ``[EMAIL_N]`` (the type name is [INF]). ``redact_pci``: a run of 12 or more digits becomes
  ``[ACCOUNTNUMBER_N]`` (the spec's PCI placeholder). Names, addresses, CVVs and ZIP codes are not
  detected. Placeholders are upper case in ``transcript`` and lower case in ``words[].word`` [DOC: the
  ``/pulse/get_text`` reference page].
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Span", "TextForm", "digits_of"]

_DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
           "seven": "7", "eight": "8", "nine": "9"}
_TRAIL = re.compile(r"^(.*?)([.,?!;:]*)$", re.S)
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


def digits_of(token: str) -> str | None:
    """The digits a word stands for (``"five"`` → ``"5"``, ``"555-1234,"`` → ``"5551234"``), or ``None``."""
    core = _TRAIL.match(token)
    text = core.group(1) if core else token
    written = text.replace("-", "")
    if written.isdigit() and text[:1].isdigit():
        return written
    return _DIGITS.get(text.lower())


@dataclass(frozen=True)
class Span:
    """One output word and the input words it replaces.

    Attributes:
        text: The output word.
        first: Index of the first input word.
        last: Index of the last input word (inclusive).
        entity: The placeholder when the span is redacted, else ``None``.
    """

    text: str
    first: int
    last: int
    entity: str | None = None


@dataclass
class TextForm:
    """The session's ITN and redaction settings, and its placeholder counters.

    Args:
        itn: Convert spoken digit runs to numerals.
        pii: Redact phone numbers and e-mail addresses.
        pci: Redact account and card numbers.
    """

    itn: bool = False
    pii: bool = False
    pci: bool = False
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def active(self) -> bool:
        """Whether any transform is on."""
        return self.itn or self.pii or self.pci

    def apply(self, words: Sequence[str], *, commit: bool = True) -> list[Span]:
        """Transform a final's words.

        Args:
            words: The words as recognised (punctuation attached).
            commit: Advance the placeholder counters (call once per final with ``True``; a second
                view of the same final, e.g. its timed words, passes ``False`` to get the same numbers).

        Returns:
            The output words with the input words each replaces.
        """
        counts = self.counts if commit else Counter(self.counts)
        out: list[Span] = []
        i = 0
        while i < len(words):
            j = i
            digits = ""
            while j < len(words) and (d := digits_of(words[j])) is not None:
                digits += d
                j += 1
            if j > i:
                trail = _TRAIL.match(words[j - 1])
                tail = trail.group(2) if trail else ""
                kind = self._number_entity(len(digits))
                if kind is not None:
                    counts[kind] += 1
                    tag = f"[{kind}_{counts[kind]}]"
                    out.append(Span(tag + tail, i, j - 1, tag))
                elif self.itn and j - i >= 2:
                    out.append(Span(digits + tail, i, j - 1))
                else:
                    out.extend(Span(words[k], k, k) for k in range(i, j))
                i = j
                continue
            core = _TRAIL.match(words[i])
            if self.pii and core and _EMAIL.match(core.group(1)):
                counts["EMAIL"] += 1
                tag = f"[EMAIL_{counts['EMAIL']}]"
                out.append(Span(tag + core.group(2), i, i, tag))
            else:
                out.append(Span(words[i], i, i))
            i += 1
        return out

    def _number_entity(self, n: int) -> str | None:
        if self.pci and n >= 12:
            return "ACCOUNTNUMBER"
        if self.pii and 7 <= n <= 11:
            return "PHONENUMBER"
        return None
