"""Third-party licence list of a running service, and the check that it holds no copyleft package.

    <venv>/bin/python scripts/licences.py REQUIREMENTS_FILE OUTPUT_MARKDOWN

Run with the interpreter of the service's virtual environment (the lint suite does it for the backend
and the ai-server). It walks the installed distributions from the requirements file's top-level pins
through their runtime dependencies (no extras, no dev tools), writes name, version and licence of each
to OUTPUT_MARKDOWN, and exits 1 when one of them is GPL or AGPL: the project's rule is that copyleft
packages appear only in training scripts (ai-server/requirements-training.txt), never in a service.
LGPL is allowed (used as a library, unmodified).
"""

import re
import sys
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

COPYLEFT = re.compile(r"\b(A?GPL|GNU (Affero )?General Public)", re.IGNORECASE)
LESSER = re.compile(r"\b(LGPL|Lesser)", re.IGNORECASE)


def top_level_pins(requirements: Path) -> list[str]:
    names = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names += top_level_pins(requirements.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            names.append(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0])
    return names


def runtime_requirements(dist: Distribution) -> list[str]:
    """Names this distribution needs at run time: its Requires-Dist without extras-only entries."""
    names = []
    for requirement in dist.requires or []:
        name, _, marker = requirement.partition(";")
        if "extra ==" in marker or "extra==" in marker:
            continue
        if marker.strip() and not _marker_holds(marker):
            continue
        names.append(re.split(r"[\[=<>!~ (]", name.strip(), maxsplit=1)[0])
    return names


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # packaging is not installed: keep the dependency (a longer list, never a shorter one)
        return True
    return Marker(marker).evaluate({"extra": ""})


def closure(names: list[str]) -> dict[str, Distribution]:
    found: dict[str, Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a dependency for another platform or Python
        found[key] = dist
        pending += runtime_requirements(dist)
    return found


def licence_of(dist: Distribution) -> str:
    meta = dist.metadata
    if expression := meta.get("License-Expression"):
        return expression
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    text = (meta.get("License") or "").strip().splitlines()
    return text[0][:60] if text else "unknown"


def is_copyleft(licence: str) -> bool:
    return bool(COPYLEFT.search(licence)) and not LESSER.search(licence)


def main(requirements: str, output: str) -> int:
    dists = closure(top_level_pins(Path(requirements)))
    rows = sorted((d.metadata["Name"], d.version, licence_of(d)) for d in dists.values())
    offending = [row for row in rows if is_copyleft(row[2])]
    lines = [f"# Third-party packages of {requirements} (runtime closure)", "", "| package | version | licence |"]
    lines += ["|---|---|---|"] + [f"| {name} | {version} | {licence} |" for name, version, licence in rows]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text("\n".join(lines) + "\n")
    print(f"{requirements}: {len(rows)} packages, licence list in {output}")
    for name, version, licence in offending:
        print(f"copyleft package in a running service: {name} {version} ({licence})")
    return 1 if offending else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
