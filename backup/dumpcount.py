"""Row counts of a mariadb-dump, compared with those of the database it was restored into.

    zcat DUMP.sql.gz | dumpcount.py ACTUAL      ACTUAL: "table<TAB>rows" lines counted in the restored database

The dump's rows are counted from its INSERT statements (extended inserts: one tuple per row, string
literals skipped), so a row lost on the way (a truncated statement, a failed insert) shows as a
difference. Prints each table's counts and exits 1 when a table differs; restore.sh runs it.
"""

import re
import sys
from pathlib import Path

INSERT = re.compile(r"^INSERT INTO `([^`]+)` VALUES ?")
STRING = re.compile(r"'(?:[^'\\]|\\.)*'", re.DOTALL)  # mariadb-dump escapes quotes and backslashes with \


def dump_counts(lines) -> dict[str, int]:
    """Rows per table. A statement spans one line (older dumps) or one line per row (mariadb-dump 10.11
    writes "VALUES" alone, then each tuple on its line); the dump escapes newlines inside values."""
    counts: dict[str, int] = {}
    table, statement = None, []
    for line in lines:
        if table is None:
            match = INSERT.match(line)
            if not match:
                continue
            table, line = match.group(1), line[match.end() :]
        statement.append(line.strip())
        if line.rstrip().endswith(";"):
            values = STRING.sub("''", "".join(statement))
            counts[table] = counts.get(table, 0) + values.count("),(") + 1
            table, statement = None, []
    return counts


def main(actual_path: str) -> int:
    expected = dump_counts(line.decode("utf-8", "surrogateescape") for line in sys.stdin.buffer)
    actual = {}
    for line in Path(actual_path).read_text(encoding="utf-8").splitlines():
        table, rows = line.split("\t")
        actual[table] = int(rows)
    wrong = 0
    for table in sorted(actual.keys() | expected.keys()):
        mark = "ok" if actual.get(table) == expected.get(table, 0) else "DIFFERS"
        wrong += mark != "ok"
        print(f"  {table:<45} dump {expected.get(table, 0):>9}  restored {actual.get(table, 'missing'):>9}  {mark}")
    total = sum(actual.values())
    verdict = f"{wrong} tables differ" if wrong else "every table as in the dump"
    print(f"rows: {total} in {len(actual)} tables, {verdict}")
    return 1 if wrong else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
