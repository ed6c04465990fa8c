"""The source's labels go through OBS's own translations (obs_module_text, native/obs/src/module.c):
every key the C code looks up has an en-US text (else OBS would show the key itself), and every
en-US text is used. The real dialog's labels are read back in tests/test_obs_dialog.py."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EN_US = REPO / "obs_plugin" / "wlcap_obs" / "locale" / "en-US.ini"


def locale_keys(path: Path) -> dict[str, str]:
    """key -> text of one of OBS's locale files (KEY="text" lines)."""
    texts = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.fullmatch(r'([A-Za-z][\w.]*)="([^"]*)"', line)
        assert match, f"{path.name}:{number}: not KEY=\"text\": {line!r}"
        assert match[1] not in texts, f"{path.name}:{number}: {match[1]} twice"
        texts[match[1]] = match[2]
    return texts


def test_every_looked_up_key_has_an_english_text_and_every_text_is_used() -> None:
    used = {key for source in (REPO / "native" / "obs" / "src").glob("*.c")
            for key in re.findall(r'\bT\("([^"]+)"\)', source.read_text())}
    texts = locale_keys(EN_US)
    assert used, "no label is looked up"
    assert used - texts.keys() == set(), "looked up, with no en-US text"
    assert texts.keys() - used == set(), "en-US texts nothing looks up"
    assert all(texts.values())
