"""Global options anywhere on the command line: ``paastech -p hello ps`` = ``paastech ps -p hello``.

cyclopts reads an option only after the command that declares it, so the options every
project command shares (``-p/--project``, ``--api-url``) are moved behind the command words
before parsing. Nothing after ``--`` is touched: those are arguments, not options.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Options (taking one value) that every project command accepts.
GLOBAL_OPTIONS = ("-p", "--project", "--api-url")


def _is_global(word: str) -> bool:
    return word in GLOBAL_OPTIONS or any(word.startswith(f"{o}=") for o in GLOBAL_OPTIONS[1:])


def hoist_globals(words: Sequence[str]) -> list[str]:
    """``words`` with each global option (and its value) moved to the end of the options.

    >>> hoist_globals(["-p", "hello", "env", "set", "A=1"])
    ['env', 'set', 'A=1', '-p', 'hello']
    >>> hoist_globals(["logs", "--", "-p"])
    ['logs', '--', '-p']
    """
    rest: list[str] = []
    moved: list[str] = []
    items = list(words)
    i = 0
    while i < len(items):
        word = items[i]
        if word == "--":
            return rest + moved + items[i:]
        if _is_global(word):
            if "=" in word or i + 1 >= len(items):
                moved.append(word)
                i += 1
            else:
                moved.extend(items[i : i + 2])
                i += 2
            continue
        rest.append(word)
        i += 1
    return rest + moved
