/** `snakepit new adapter NAME`: an adapter file and a unittest for it that pass as generated. */

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SnakepitError } from "../errors.ts";

/** Module names an adapter must not take: Python would import ours instead of the standard one. */
const RESERVED = new Set(`abc argparse array ast asyncio base64 bisect builtins calendar cmath code codecs collections
colorsys concurrent contextlib copy csv ctypes dataclasses datetime decimal difflib dis email encodings enum errno
faulthandler filecmp fnmatch fractions functools gc getopt getpass gettext glob graphlib gzip hashlib heapq hmac html
http imaplib importlib inspect io ipaddress itertools json keyword linecache locale logging lzma mailbox marshal math
mimetypes mmap multiprocessing netrc numbers operator optparse os pathlib pdb pickle pkgutil platform plistlib pprint
profile pstats queue quopri random re reprlib resource runpy sched secrets select selectors shelve shlex shutil
signal site smtplib socket socketserver sqlite3 ssl stat statistics string stringprep struct subprocess symtable sys
sysconfig syslog tarfile tempfile termios test textwrap threading time timeit token tokenize tomllib trace traceback
tracemalloc tty turtle types typing unicodedata unittest urllib uuid venv warnings wave weakref webbrowser xml
zipfile zipimport zlib zoneinfo snakepit_bridge numpy orjson`.split(/\s+/));

function className(name: string): string {
  return name.split(/[_-]/).filter(Boolean).map((p) => p[0]!.toUpperCase() + p.slice(1)).join("") + "Adapter";
}

/** Write `<dir>/<name>.py` and `<dir>/test_<name>.py`; refuses to overwrite. Returns the paths. */
export function scaffoldAdapter(name: string, dir: string): string[] {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    throw new SnakepitError("invalid_argument", `Adapter name "${name}" must be a Python module name: lower_snake_case, e.g. "sentiment"`, { details: { field: "name" } });
  }
  if (RESERVED.has(name)) {
    throw new SnakepitError("invalid_argument", `Adapter name "${name}" is a Python module already (it would shadow it); pick another, e.g. "${name}_tools"`, {
      details: { field: "name" },
    });
  }
  const cls = className(name);
  const adapterPath = join(dir, `${name}.py`);
  const testPath = join(dir, `test_${name}.py`);
  for (const p of [adapterPath, testPath]) {
    if (existsSync(p)) throw new SnakepitError("invalid_argument", `${p} already exists; not overwriting it`, { details: { field: "name" } });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(adapterPath, `"""${cls}: tools served by snakepit. Run: snakepit serve --adapter ${name}.py:${cls}"""

from snakepit_bridge import Adapter, ToolContext, tool


class ${cls}(Adapter):
    def setup(self) -> None:
        # Runs once per worker process, before it takes calls: load models here.
        self.prefix = "hello"

    @tool(description="Greet someone")
    def greet(self, name: str) -> str:
        return f"{self.prefix}, {name}"

    @tool(description="Count to n, one chunk at a time", streaming=True)
    def count(self, n: int, ctx: ToolContext):
        for i in range(n):
            ctx.check_cancelled()
            yield {"i": i}
`, { flag: "wx" });
  writeFileSync(testPath, `"""Tests for ${cls}. Run: the \`test:\` command \`snakepit new adapter\` printed.

snakepit_bridge must be importable: PYTHONPATH=<bridge dir> as printed, or pip install it once.
"""

import unittest

from ${name} import ${cls}


class ${cls}Test(unittest.TestCase):
    def setUp(self) -> None:
        self.adapter = ${cls}()
        self.adapter.setup()

    def test_greet(self) -> None:
        self.assertEqual(self.adapter.greet("Ada"), "hello, Ada")

    def test_tools_are_discovered(self) -> None:
        from snakepit_bridge.adapter import discover_tools

        tools = discover_tools(self.adapter)
        self.assertEqual(sorted(tools), ["count", "greet"])
        self.assertTrue(tools["count"].streaming)


if __name__ == "__main__":
    unittest.main()
`, { flag: "wx" });
  return [adapterPath, testPath];
}
