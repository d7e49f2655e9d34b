"""Whether a rule matches a study's series, with the reasons in words (for the dry run and the audit), and
the check that keeps a series-description pattern from hanging a worker.

Python's `re` backtracks and has no timeout, so a pattern is refused at save unless its run time is bounded
(docs/routing.md, "Patterns"): at most MAX_PATTERN_LENGTH characters, at most MAX_REPEATS quantifiers, each
on a single character or class (never on a group, so no nested quantifiers and no quantified alternation),
no backreferences; and the text searched is cut to DICOM's 64 characters of a SeriesDescription (LO). The
worst such pattern then costs O(64^(MAX_REPEATS+1)) steps, a few milliseconds (tests/test_matching.py).
"""

import re
import re._constants as sre  # the parse tree's opcodes; re has no public parser
import re._parser as sre_parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_PATTERN_LENGTH = 200
MAX_REPEATS = 4
SEARCHED_LENGTH = 64  # a SeriesDescription is DICOM LO: at most 64 characters
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}
_SINGLE = {sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.CATEGORY}
_BACKREFERENCES = {sre.GROUPREF, sre.GROUPREF_EXISTS, sre.GROUPREF_IGNORE, sre.GROUPREF_LOC_IGNORE,
                   sre.GROUPREF_UNI_IGNORE}  # fmt: skip


def validate_pattern(pattern: str) -> None:
    """Raise ValidationError unless `pattern` is a regular expression whose matching time is bounded."""
    if not pattern:
        return
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationError(
            gettext_lazy("The pattern has %(length)s characters; at most %(limit)s are allowed.")
            % {"length": len(pattern), "limit": MAX_PATTERN_LENGTH}
        )
    try:
        re.compile(pattern, re.IGNORECASE)
        tree = sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValidationError(gettext_lazy("Not a regular expression: %(error)s.") % {"error": exc}) from None
    repeats = _repeats(tree)
    if repeats > MAX_REPEATS:
        raise ValidationError(
            gettext_lazy("The pattern has %(count)s quantifiers; at most %(limit)s are allowed.")
            % {"count": repeats, "limit": MAX_REPEATS}
        )


def _repeats(items: Iterable) -> int:
    """How many quantifiers the parsed pattern holds; refuses the constructs that can backtrack without bound."""
    count = 0
    for op, av in items:
        if op in _REPEATS:
            body = list(av[2])
            if len(body) != 1 or body[0][0] not in _SINGLE:
                raise ValidationError(
                    gettext_lazy(
                        "A quantifier (*, +, ?, {m,n}) may follow a single character or class only, not a group: "
                        "nested repetition can take a worker for hours."
                    )
                )
            count += 1
        elif op in _BACKREFERENCES:
            raise ValidationError(gettext_lazy("Backreferences are not allowed in a pattern."))
        elif op == sre.SUBPATTERN:
            count += _repeats(av[3])
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            count += _repeats(av[1])
        elif op == sre.ATOMIC_GROUP:
            count += _repeats(av)
        elif op == sre.BRANCH:
            count += sum(_repeats(branch) for branch in av[1])
    return count


def description_matches(pattern: str, description: str) -> bool:
    """The pattern searched (case-insensitive) in the first 64 characters of the description."""
    return re.search(pattern, description[:SEARCHED_LENGTH], re.IGNORECASE) is not None


# --- evaluating a rule -----------------------------------------------------------------------------------
@dataclass
class Evaluation:
    matches: bool
    reasons: list[str] = field(default_factory=list)
    series_instance_uids: list[str] = field(default_factory=list)


def _criteria():
    """(field, words for it, how a series' value compares to the rule's): case-insensitive equality for the
    coded values, the pattern for the description; the AE title as DICOM has it (case-sensitive)."""
    return (
        ("modality", _("modality"), lambda value, wanted: value.upper() == wanted.upper()),
        ("sequence_type", _("sequence type"), lambda value, wanted: value.lower() == wanted.lower()),
        ("series_description", _("series description"), lambda value, wanted: description_matches(wanted, value)),
        ("body_part", _("body part"), lambda value, wanted: value.upper() == wanted.upper()),
        ("sending_ae", _("sending AE"), lambda value, wanted: value.strip() == wanted.strip()),
    )


SERIES_FIELDS = {"series_description": "description"}  # the rule's field -> the Series attribute


def evaluate(rule: Mapping, study, series: Iterable) -> Evaluation:
    """Whether `rule` (its criteria, by field name) matches `study` and which of its `series`; one reason per
    criterion and series ("series 3 (AX FLAIR): modality MR matches MR"). Reads nothing but its arguments."""
    reasons: list[str] = []
    linked = study.status == "LINKED" and study.patient_id is not None
    if linked:
        reasons.append(_("study %(id)s is linked to a patient") % {"id": study.pk})
    else:
        reasons.append(
            _("study %(id)s is %(status)s: rules wait until it is linked to a patient")
            % {"id": study.pk, "status": study.status}
        )
    criteria = [(name, words, test) for name, words, test in _criteria() if rule.get(name)]
    pattern = rule.get("series_description") or ""
    if pattern:
        try:
            validate_pattern(pattern)
        except ValidationError as exc:
            reasons.append(_("the series description pattern is refused: %(error)s") % {"error": exc.messages[0]})
            return Evaluation(False, reasons)
    if not criteria:
        reasons.append(_("the rule has no series criteria: every series matches"))
    matched: list[str] = []
    series = list(series)
    if not series:
        reasons.append(_("the study has no series"))
    for item in series:
        label = f"{item.series_number if item.series_number is not None else '-'} ({item.description or '-'})"
        fits = True
        for name, words, test in criteria:
            value, wanted = getattr(item, SERIES_FIELDS.get(name, name)) or "", rule[name]
            shown = f"/{wanted}/i" if name == "series_description" else wanted
            ok = test(value, wanted)
            fits = fits and ok
            template = (
                _("series %(series)s: %(criterion)s %(value)s matches %(wanted)s")
                if ok
                else _("series %(series)s: %(criterion)s %(value)s does not match %(wanted)s")
            )
            reasons.append(template % {"series": label, "criterion": words, "value": value or "-", "wanted": shown})
        if fits:
            matched.append(item.series_instance_uid)
    if linked and matched:
        reasons.append(_("%(count)s series match") % {"count": len(matched)})
    elif linked:
        reasons.append(_("no series matches"))
    return Evaluation(linked and bool(matched), reasons, sorted(matched))
