"""Rule matching and the refusal of patterns that could hang a worker (no database)."""

import time
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from routing.matching import MAX_PATTERN_LENGTH, description_matches, evaluate, validate_pattern


def _series(number=1, description="AX FLAIR", modality="MR", sequence_type="FLAIR", body_part="BRAIN",
            sending_ae="CDSS-MODALITY"):  # fmt: skip
    return SimpleNamespace(series_number=number, description=description, modality=modality,
                           sequence_type=sequence_type, body_part=body_part, sending_ae=sending_ae,
                           series_instance_uid=f"1.2.3.{number}")  # fmt: skip


LINKED = SimpleNamespace(pk=7, status="LINKED", patient_id=1)


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+b",  # nested quantifier: exponential backtracking
        r"(a|aa)*b",  # quantified alternation
        r"(?:ab)*c",  # any quantified group
        r"(a)\1",  # backreference
        r"a*b*c*d*e*",  # five quantifiers
        "x" * (MAX_PATTERN_LENGTH + 1),
        r"[unclosed",
        r"(?:a)*",  # a group, even of one character
        r"(?i:ab)+",  # a group with flags
        r"(a){2}",  # a group under counted repetition
        r"(?P<x>a)(?P=x)",  # a named backreference
        r"(a)?(?(1)b|c)",  # a conditional on a group
        r"a{1}b{1}c{1}d{1}e{1}",  # five counted quantifiers
        r"(?x) (a) +",  # verbose: its spaces would hide a quantified group
    ],
)
def test_a_pattern_that_could_backtrack_without_bound_is_refused(pattern):
    with pytest.raises(ValidationError):
        validate_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"flair", r"^ax\s+t1.*(gd|post|\+c)", r"t2|flair", r"\bdwi\b", r"t1.{0,8}c"])
def test_ordinary_patterns_are_accepted(pattern):
    validate_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"[*+?(){}]+a*b*c*",  # quantifier characters inside a class are members, not quantifiers
        r"\*\+\?\(\)x+y+z+w+",  # escaped ones are characters
        r"x{}{a}{,b}a+b+c+d+",  # a "{" without counts is a character
        r"[]a]+[^]b]+",  # a "]" first in a class is a member
        r"\123+\0*",  # octal escapes are characters, not backreferences
        r"a(?#b*)+",  # a comment is nothing: the quantifier is a's
        r"(?<=ax)\x41+?\u0041*+",  # lazy and possessive marks are part of their quantifier
    ],
)
def test_characters_that_look_like_quantifiers_or_groups_are_read_as_re_reads_them(pattern):
    validate_pattern(pattern)


def test_the_worst_accepted_pattern_is_fast_on_the_longest_description():
    """Four quantifiers over single characters, failing at the end of 64 characters: the bound's worst case."""
    validate_pattern(r".*.*.*.*x")
    started = time.perf_counter()
    assert not description_matches(r".*.*.*.*x", "a" * 1000)  # only 64 characters are searched
    assert time.perf_counter() - started < 0.5


def test_every_criterion_is_explained_and_only_matching_series_are_taken():
    rule = {"modality": "mr", "sequence_type": "FLAIR", "series_description": "flair", "body_part": "brain",
            "sending_ae": "CDSS-MODALITY"}  # fmt: skip
    result = evaluate(rule, LINKED, [_series(1), _series(2, description="AX T1", sequence_type="T1")])
    assert result.matches and result.series_instance_uids == ["1.2.3.1"]
    assert "series 1 (AX FLAIR): modality MR matches mr" in result.reasons
    assert "series 1 (AX FLAIR): series description AX FLAIR matches /flair/i" in result.reasons
    assert "series 2 (AX T1): sequence type T1 does not match FLAIR" in result.reasons
    assert "series 1 (AX FLAIR): sending AE CDSS-MODALITY matches CDSS-MODALITY" in result.reasons


def test_an_empty_rule_matches_every_series_of_a_linked_study_only():
    series = [_series(1), _series(2)]
    assert evaluate({}, LINKED, series).series_instance_uids == ["1.2.3.1", "1.2.3.2"]
    waiting = evaluate({}, SimpleNamespace(pk=8, status="RECONCILE", patient_id=None), series)
    assert not waiting.matches
    assert waiting.reasons[0] == "study 8 is RECONCILE: rules wait until it is linked to a patient"


def test_the_ae_title_is_compared_as_dicom_has_it():
    assert not evaluate({"sending_ae": "cdss-modality"}, LINKED, [_series()]).matches
