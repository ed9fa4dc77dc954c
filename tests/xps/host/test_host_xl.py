"""The `xl list` parser and formatter (xen-facts.md §5.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xps.host import CommandFailed, XlDomain, format_xl_list, parse_xl_list
from xps.host._xl import XL_LIST_HEADER, run_state_of, state_string

SAMPLE = (
    "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
    "Domain-0                                     0   750     4     r-----   11794.3\n"
    "EA-domu-1                                    3  1024     2     -b----      12.0\n"
    "my guest with spaces                        17   512     1     --p---       0.4\n"
    "crashed-one                                 21   256     1     ---sc-       3.1\n"
)


def test_parse_sample() -> None:
    doms = parse_xl_list(SAMPLE)
    assert doms[0] == XlDomain("Domain-0", 0, 750, 4, "r-----", 11794.3)
    assert doms[1] == XlDomain("EA-domu-1", 3, 1024, 2, "-b----", 12.0)
    assert doms[2].name == "my guest with spaces" and doms[2].state == "--p---"
    assert run_state_of(doms[0].state) == "running"
    assert run_state_of(doms[1].state) == "running"
    assert run_state_of(doms[2].state) == "paused"
    assert run_state_of(doms[3].state) == "shutdown"


def test_format_is_exactly_xl_printf() -> None:
    text = format_xl_list([XlDomain("Domain-0", 0, 750, 4, "r-----", 11794.3)])
    line = text.splitlines()[1]
    # printf("%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f")
    assert line == "Domain-0" + " " * 32 + "     0   750     4     r-----   11794.3"
    assert text.splitlines()[0] == XL_LIST_HEADER and "\t" in XL_LIST_HEADER


def test_state_string_letters() -> None:
    assert state_string(running=True) == "r-----"
    assert state_string(paused=True) == "--p---"
    assert state_string(shutdown=True, reason=0) == "---s--"
    assert state_string(shutdown=True, reason=1) == "---sr-"
    assert state_string(shutdown=True, reason=3) == "---sc-"
    assert state_string(dying=True) == "-----d"


@pytest.mark.parametrize(
    "bad",
    [
        "garbage\n",
        XL_LIST_HEADER + "\nDomain-0 0 750 4\n",
        XL_LIST_HEADER + "\nDomain-0 0 750 4 rxxxxx 1.0\n",
        XL_LIST_HEADER + "\nDomain-0 zero 750 4 r----- 1.0\n",
    ],
)
def test_parse_refuses_malformed(bad: str) -> None:
    with pytest.raises(CommandFailed):
        parse_xl_list(bad)


def test_parse_empty_output() -> None:
    assert parse_xl_list("") == []


_names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40
)
_states = st.builds(
    lambda r, b, p, s, reason, d: state_string(
        running=r, blocked=b, paused=p, shutdown=s, reason=reason, dying=d
    ),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 5),
    st.booleans(),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            XlDomain,
            _names,
            st.integers(0, 32752),
            st.integers(0, 99999),
            st.integers(0, 128),
            _states,
            st.integers(0, 10**7).map(lambda x: x / 10),
        ),
        max_size=8,
    )
)
def test_format_parse_round_trip(domains: list[XlDomain]) -> None:
    assert parse_xl_list(format_xl_list(domains)) == domains
