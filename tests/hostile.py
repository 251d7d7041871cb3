"""Hostile candidate bodies for `def double(x: int) -> int:`, shared by the suites that run
them beside correct candidates (the execution layer, `vetted rank`, an LSP request)."""

from __future__ import annotations

HOSTILE = {
    "killer": "    return __import__('os').kill(__import__('os').getppid(), 9)\n",
    "exit": "    __import__('os')._exit(0)\n",
    "system exit": "    raise SystemExit(0)\n",
    "fork bomb": (
        "    import os\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    ),
    # Right only if six children could hold 600 MiB each at once: 3.6 GiB, over the cap.
    "many children": (
        "    import os, time\n"
        "    children = []\n"
        "    for _ in range(6):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            block = bytearray(600 * 1024 * 1024)\n"
        "            block[::4096] = b'x' * len(block[::4096])\n"
        "            time.sleep(0.3)\n"
        "            os._exit(0)\n"
        "        children.append(pid)\n"
        "    held = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)\n"
        "    return 2 * x + 6 - held\n"
    ),
    # Plants a module that shadows the standard library for whoever imports it next.
    "planted module": (
        "    open('fractions.py', 'w').write('raise ImportError(\"planted\")')\n"
        "    open('/tmp/fractions.py', 'w').write('raise ImportError(\"planted\")')\n"
        "    return 3 * x\n"
    ),
}
"""Each is wrong or harmful: none returns 2 * x and finishes."""

RIGHT = [
    "    return 2 * x\n",
    "    import fractions\n    return int(fractions.Fraction(2 * x))\n",
    "    return x + x\n",
]
"""Correct bodies; the second imports a standard module a hostile one may try to shadow."""

PROMPT = 'def double(x: int) -> int:\n    """Twice x.\n\n    >>> double(2)\n    4\n    """\n'


def placements(hostile: str) -> list[tuple[str, list[str]]]:
    """The hostile body first, and between correct ones (before and after a neighbour)."""
    return [("first", [hostile, *RIGHT]), ("middle", [*RIGHT[:2], hostile, RIGHT[2]])]
