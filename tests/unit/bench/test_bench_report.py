"""The Markdown table and the py-spy summary the bench prints."""

from __future__ import annotations

from bench.profile_summary import component_of, function_name, parse_collapsed, summarise
from bench.report import TableRow, markdown_table, number, ratio_text, sla_rows


def test_markdown_table_has_a_header_alignment_row_and_escaped_cells() -> None:
    table = markdown_table([TableRow("1 intake", "a | b", "10", "peer", "20", "0.50x")])
    lines = table.splitlines()
    assert lines[0].startswith("| benchmark | figure | Aftercare |")
    assert lines[1].count("---") == 6
    assert lines[2] == "| 1 intake | a \\| b | 10 | peer | 20 | 0.50x |"


def test_numbers_are_grouped_and_missing_ones_say_so() -> None:
    assert number(12345.6) == "12,346"
    assert number(1.234, 2) == "1.23"
    assert number(None) == "n/a"
    assert ratio_text(0.256) == "0.26x"
    assert ratio_text(None) == "n/a"


def test_sla_rows_map_known_keys_and_keep_the_rest_in_the_figure() -> None:
    rows = sla_rows(
        [
            {
                "benchmark": "sla.due_time.8h_vs_minute_stepping",
                "ops_per_second": 163173.9,
                "baseline_ops_per_second": 71.9,
                "ratio": 2269.08,
                "calendar": "Europe/London",
                "note": "a sentence that belongs in the JSON only",
            }
        ]
    )
    assert rows == [
        TableRow(
            "5 SLA arithmetic",
            "sla.due_time.8h_vs_minute_stepping calendar=Europe/London",
            "163,174 ops/s",
            "same-run baseline",
            "71.90 ops/s",
            "2,269x",
        )
    ]


def test_sla_rows_describe_a_baseline_given_as_text() -> None:
    (row,) = sla_rows([{"case": "elapsed", "per_second": 5.0, "baseline": "naive loop"}])
    assert (row.figure, row.aftercare, row.baseline) == ("elapsed", "5.00 per s", "naive loop")


def test_sla_rows_without_known_keys_still_show_everything() -> None:
    (row,) = sla_rows([{"what": "elapsed", "ops": 5}])
    assert row.figure == "what=elapsed ops=5"


COLLAPSED = [
    "run (uvicorn/main.py:10);submit_report (aftercare_intake/use_cases.py:200);"
    "execute (sqlalchemy/ext/asyncio/session.py:461);execute (asyncpg/connection.py:350) 6\n",
    "run (uvicorn/main.py:10);submit_report (aftercare_intake/use_cases.py:210);"
    "model_dump (pydantic/main.py:420) 3\n",
    "run (uvicorn/main.py:10);send (uvicorn/protocols/http/httptools_impl.py:500) 1\n",
    "garbage line\n",
]


def test_profile_summary_shares_time_by_component_and_function() -> None:
    summary = summarise(parse_collapsed(COLLAPSED))
    assert summary.total_samples == 10
    inclusive = dict(summary.components_inclusive)
    assert inclusive["uvicorn"] == 1.0
    assert inclusive["aftercare_intake"] == 0.9
    assert inclusive["sqlalchemy"] == 0.6
    self_time = dict(summary.components_self)
    assert self_time == {"asyncpg": 0.6, "pydantic": 0.3, "uvicorn": 0.1}
    functions = dict(summary.functions_inclusive)
    # Two line numbers, one function: counted once per sample.
    assert functions["submit_report (aftercare_intake/use_cases.py)"] == 0.9


def test_frames_are_named_without_line_numbers_and_classified_by_path() -> None:
    frame = "commit (sqlalchemy/orm/session.py:1012)"
    assert function_name(frame) == "commit (sqlalchemy/orm/session.py)"
    assert function_name("<native>") == "<native>"
    assert component_of(frame) == "sqlalchemy"
    assert component_of("sleep (time.py:1)") == "other"


def test_an_empty_profile_summarises_to_nothing() -> None:
    assert summarise([]).total_samples == 0
