"""Whether a rule matches a study's series, with the reasons in words (for the dry run and the audit), and
the check that keeps a series-description pattern from hanging a worker.

Python's `re` backtracks and has no timeout, so a pattern is refused at save unless its run time is bounded
(docs/routing.md, "Patterns"): at most MAX_PATTERN_LENGTH characters, at most MAX_REPEATS quantifiers, each
on a single character or class (never on a group, so no nested quantifiers and no quantified alternation),
no backreferences, no verbose flag; and the text searched is cut to DICOM's 64 characters of a
SeriesDescription (LO). The worst such pattern then costs O(64^(MAX_REPEATS+1)) steps, a few milliseconds
(tests/test_matching.py). `re` has no public parser: the pattern, once re.compile accepts it, is read token
by token here, the way re's own parser reads it (escapes, classes, groups, quantifiers).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_PATTERN_LENGTH = 200
MAX_REPEATS = 4
SEARCHED_LENGTH = 64  # a SeriesDescription is DICOM LO: at most 64 characters

# The tokens of a pattern re.compile has accepted. A quantifier with its lazy (?) or possessive (+) mark; "{}"
# and a "{" not followed by counts are literal characters.
_QUANTIFIER = re.compile(r"(?:[*+?]|\{(?:\d+(?:,\d*)?|,\d*)\})[?+]?")
_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]", re.DOTALL)  # a "]" first is a member
_OCTAL = re.compile(r"\\(?:0[0-7]{0,2}|[1-7][0-7]{2})")  # \0, \012, \123: characters
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")  # \1, (?P=name), (?(1)yes|no)
_ESCAPE = re.compile(r"\\(?:N\{[^}]*\}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_VERBOSE = re.compile(r"\(\?[aiLmsu]*x")  # (?x): spaces and # comments that this reading does not follow


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
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValidationError(gettext_lazy("Not a regular expression: %(error)s.") % {"error": exc}) from None
    repeats = _repeats(pattern)
    if repeats > MAX_REPEATS:
        raise ValidationError(
            gettext_lazy("The pattern has %(count)s quantifiers; at most %(limit)s are allowed.")
            % {"count": repeats, "limit": MAX_REPEATS}
        )


def _repeats(pattern: str) -> int:
    """How many quantifiers a compiled pattern holds; refuses the constructs that can backtrack without bound.
    `after`: what the last token was, "single" (a character or class), "group" (a closing parenthesis) or ""."""
    count, after, at = 0, "", 0
    while at < len(pattern):
        if quantifier := _QUANTIFIER.match(pattern, at):
            if after != "single":
                raise ValidationError(
                    gettext_lazy(
                        "A quantifier (*, +, ?, {m,n}) may follow a single character or class only, not a group: "
                        "nested repetition can take a worker for hours."
                    )
                )
            count, after, at = count + 1, "", quantifier.end()
        elif _BACKREFERENCE.match(pattern, at) and not _OCTAL.match(pattern, at):
            raise ValidationError(gettext_lazy("Backreferences are not allowed in a pattern."))
        elif _VERBOSE.match(pattern, at):
            raise ValidationError(gettext_lazy("The verbose flag (?x) is not allowed in a pattern."))
        elif pattern.startswith("(?#", at):  # a comment: nothing, as for re
            at = pattern.index(")", at) + 1
        elif pattern[at] == "(":  # the group's header, if any, is read as characters: nothing may follow it
            after, at = "", at + (2 if pattern.startswith("(?", at) else 1)
        elif pattern[at] in ")|":
            after, at = "group" if pattern[at] == ")" else "", at + 1
        else:
            token = _OCTAL.match(pattern, at) or _ESCAPE.match(pattern, at) or _CLASS.match(pattern, at)
            after, at = "single", token.end() if token else at + 1
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
