"""Complete the English catalogue (msgstr = msgid) and list what German still lacks.

Run by ``make messages`` after extracting; exits 1 while a German entry is missing, so the
translator sees exactly which strings to translate.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "cxjourney" / "translations"


def main() -> int:
    english = ROOT / "en" / "LC_MESSAGES" / "messages.po"
    with english.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    for message in catalogue:
        if message.id:
            message.string = message.id
            message.flags.discard("fuzzy")
    with english.open("wb") as handle:
        write_po(handle, catalogue, omit_header=False, no_location=True, sort_output=True)

    german = ROOT / "de" / "LC_MESSAGES" / "messages.po"
    with german.open("rb") as handle:
        catalogue = read_po(handle, locale="de")
    missing = [
        m.id
        for m in catalogue
        if m.id and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    for msgid in missing:
        print(f"untranslated (de): {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
