"""How text from users and earlier answers enters a prompt: as data, never as instructions.

A prompt's instructions are fixed text; everything a user or a model wrote goes into one
`<data>` block holding a JSON object. JSON escapes line breaks and quotes, and `<`, `>`
and `&` are escaped too (`\\u003c`…), so no text inside can close the block, open another
or forge a line of the instructions around it. The system message tells the model that
the block is material to work on (OWASP LLM01: prompt injection).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

DATA_OPEN, DATA_CLOSE = "<data>", "</data>"
_BLOCK = re.compile(rf"{DATA_OPEN}\n(.*?)\n{DATA_CLOSE}", re.DOTALL)
# JSON text holds these only inside strings, where their \u escapes mean the same.
_MARKUP_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def data_block(data: Mapping[str, Any]) -> str:
    """`data` as a `<data>` block that no value inside it can close."""
    encoded = json.dumps(data, ensure_ascii=False, indent=2).translate(_MARKUP_ESCAPES)
    return f"{DATA_OPEN}\n{encoded}\n{DATA_CLOSE}"


def data_blocks_in(text: str) -> list[Any]:
    """The decoded data of every block in `text`, in order."""
    return [json.loads(found.group(1)) for found in _BLOCK.finditer(text)]


def without_data(text: str) -> str:
    """`text` with each data block replaced by an empty one: the instructions alone."""
    return _BLOCK.sub(f"{DATA_OPEN}{DATA_CLOSE}", text)
