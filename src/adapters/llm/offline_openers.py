"""Lines that open a conversation rather than continue one: greetings.

"hi all", "hello?", "大家好" say too little to stand alone, yet they do not answer anything:
they announce a question to come, so they start the sender's own conversation instead of
following the one the channel was having.
"""

from __future__ import annotations

import re

# Greetings of English and Chinese chat, alone or to "all", "everyone", "guys" (names are taken
# out before this is checked), with any punctuation or emoticon after.
_GREETING = re.compile(
    r"^\s*(?:(?:hi+|hello+|hey+|heya|hiya|hallo|allo|'?ello|howdy|greetings|yo|hola|good (?:morning|"
    r"afternoon|evening|day)|morning|evening)(?:\s+(?:all|everyone|everybody|guys|guyz|people|folks|"
    r"there|friends|my friends|ppl|y'?all|channel))?|大家好|各位好|你们好|你好|您好|早上好|上午好|下午好|"
    r"晚上好|早安|哈喽|嗨)[\s!?.,~:;()\-=^*'\"DPpOo3<>/\\|]*$",
    re.IGNORECASE,
)


def is_greeting(text: str) -> bool:
    """True when ``text`` only greets ("hi all", "Hello everyone!", "大家好～")."""
    return _GREETING.match(text) is not None
