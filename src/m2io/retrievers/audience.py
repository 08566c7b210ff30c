"""Which pages are written for developers, read from the shape of the whole page.

A manual often carries its program's API reference beside its user pages: C prototypes
("GSM_Error GSM_ReadSMSBackupFile(const char *FileName, GSM_SMS_Backup *backup)"), their
"Parameters :" / "Returns :" fields, "struct …:" and "enumerator …:" members, Python class
signatures ("class gammu.smsd. SMSD ( Config ):"), method synopses ("void $world->trigger( |
pattern ,", DocBook's rendering of a Perl function), ``#include`` lines. Such a page shares a
user's words ("backup", "queue", "message") yet answers another reader. :func:`api_share` is the
share of a page's lines that are such declarations, counted over the whole page (every chunk),
not over one chunk: a user page that quotes a command line or a config snippet stays low, an API
page stays high in its prose chunks too. :func:`names_identifier` says whether a question names
a program identifier itself (``SMSD_InjectSMS``, ``gammu.smsd``, ``save()``), in which case an
API page may be just what is asked for.

Example:
    >>> api_share(["GSM_Error GSM_Backup(GSM_StateMachine *s, int n)", "Parameters : s – state",
    ...            "Reads the backup."])
    0.667
    >>> names_identifier("How do I back up my contacts?"), names_identifier("What does SMSD_Run do?")
    (False, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_DECLARATION = re.compile(
    r"^\s*(?:"
    # C prototype alone on its line: type [*]name(typed args)
    r"(?:const\s+|unsigned\s+|struct\s+|enum\s+)*[A-Za-z_]\w*[\s*]+\**[A-Za-z_]\w*\s*"
    r"\((?:void|[^()=]*[\w*]\s*[*\s]\s*\**\w+[^()=]*)?\)\s*;?\s*$"
    # struct / enumerator / class members and signatures: "struct GSM_Backup: …"
    r"|(?:struct|union|enum|enumerator|typedef|class|exception|function|method|attribute|"
    r"data|macro|type|member)\s+[A-Za-z_][\w.]*(?:\s*\.\s*[A-Za-z_]\w*)*\s*(?:\([^()]*\))?\s*:.*"
    # a dotted Python call alone on its line: gammu.SaveSMSBackup(Filename, …)
    r"|[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)+\s*\([^()=]*\)\s*(?:→.*)?\s*$"
    # a method synopsis, perhaps over several lines: void $world->trigger( | pattern ,
    r"|[A-Za-z_]\w*\s+\$?[A-Za-z_]\w*(?:(?:->|::)[A-Za-z_]\w*)+\s*\(.*"
    r"|\$?[A-Za-z_]\w*(?:(?:->|::)[A-Za-z_]\w*)+\s+(?:function|method)\s*:.*"
    # the fields of an API entry, and C headers
    r"|(?:Parameters|Returns|Return\s+type|Return\s+value|Public\s+Members|Raises)\s*(?::.*)?$"
    r"|#include\s*[<\"].*"
    r")",
    re.MULTILINE,
)
_IDENTIFIER = re.compile(r"\w_\w|\w\.\w|\w\(|::|->|\b[a-z]+[A-Z]\w*\b")


def api_share(texts: Iterable[str]) -> float:
    """Share (rounded to 3 places) of the non-empty lines of ``texts`` that are declarations of
    a program interface (see the module docstring); 0 for no lines."""
    lines = decl = 0
    for text in texts:
        for line in text.splitlines():
            if line.strip():
                lines += 1
                decl += bool(_DECLARATION.match(line))
    return round(decl / lines, 3) if lines else 0.0


def names_identifier(question: str) -> bool:
    """Whether ``question`` names a program identifier (snake_case, dotted, a call, camelCase)."""
    return bool(_IDENTIFIER.search(question))
