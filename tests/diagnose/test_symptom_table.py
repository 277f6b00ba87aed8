"""Every row of the design's symptom table (shared/design.md, "Seed symptoms → what voicelab does about each")
maps to tests that reproduce the symptom and assert what voicelab names it.

This file is the map, kept honest: each listed test must exist, assert something, and name each listed
code in its own source or its parametrize rows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: symptom row → [(test file, test function, codes or names the test asserts)]
ROWS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "cannot connect: bad key, Token instead of Bearer, ws:// or https:// URL, firewall": [
        ("tests/diagnose/test_doctor.py", "test_auth_invalid", ("auth_invalid",)),
        ("tests/diagnose/test_doctor.py", "test_auth_scheme_found_by_trying_the_documented_form", ("auth_scheme",)),
        ("tests/diagnose/test_doctor.py", "test_url_scheme", ("url_scheme",)),
        ("tests/diagnose/test_doctor.py", "test_connect_timeout_on_a_full_accept_queue", ("connect_timeout",)),
        ("tests/diagnose/test_doctor.py", "test_upgrade_timeout_on_a_silent_listener", ("upgrade_timeout",)),
    ],
    "drops without an end signal": [
        ("tests/diagnose/test_diagnose.py", "test_drops", ("dropped", "reconnected")),
        ("tests/diagnose/test_diagnose.py", "test_closed_without_close_stream_mid_speech", ("no_end_signal",)),
    ],
    "connected, no transcripts: encoding/rate mismatch, base64/JSON instead of binary": [
        ("tests/diagnose/test_diagnose.py", "test_float32_streamed_as_linear16", ("float32_as_int16",)),
        ("tests/diagnose/test_diagnose.py", "test_silent_audio_explains_no_transcripts", ("no_transcripts",)),
        ("tests/diagnose/test_diagnose.py", "test_mislabelled_bytes_as_sent", ("text_frames",)),
        ("tests/diagnose/test_doctor.py", "test_no_response", ("no_response",)),
    ],
    "garbled text: wrong sample rate or encoding": [
        ("tests/diagnose/test_diagnose.py", "test_48k_declared_as_16k_is_a_rate_mismatch", ("rate_mismatch",)),
        ("tests/diagnose/test_diagnose.py", "test_mislabelled_bytes_as_sent", ("byte_swapped", "stereo_as_mono")),
    ],
    "partials never update": [
        ("tests/diagnose/test_diagnose.py", "test_one_chunk_per_file_leaves_no_partials", ("partials_absent",)),
        ("tests/diagnose/test_diagnose.py", "test_closed_without_close_stream_mid_speech", ("only_partials",)),
    ],
    "high latency: chunk size, pacing": [
        ("tests/diagnose/test_diagnose.py", "test_pacing_codes",
         ("faster_than_real_time", "slower_than_real_time", "chunk_too_large", "chunk_interval_long")),
        ("tests/diagnose/test_diagnose.py", "test_high_latency_is_attributed_to_the_server", ("high_latency",)),
    ],
    "memory growth": [
        ("tests/audio/test_blocks_stream.py", "test_long_file_streams_block_by_block_with_the_same_bytes",
         ("HEAD_SECONDS", "a.data == b.data")),
    ],
    "browser: no custom headers, mic permission, HTTPS, Safari rate": [
        ("tests/tap/test_browser.py",
         "test_a_browser_page_without_headers_reaches_the_emulator_through_the_tap_with_injected_auth",
         ("inject_auth",)),
        ("tests/widgets/test_recorder.py", "test_browser_errors_raise_specific_exceptions_naming_the_fix",
         ("MicrophonePermissionError",)),
        ("tests/widgets/test_recorder.py",
         "test_insecure_context_message_names_localhost_and_permission_is_a_permission_error",
         ("InsecureContextError",)),
    ],
    "401/403/429/500, close 1006/1008/1011": [
        ("tests/diagnose/test_doctor.py", "test_rejections", ("forbidden", "server_error")),
        ("tests/diagnose/test_doctor.py", "test_rate_limited_with_retry_after", ("rate_limited",)),
        ("tests/diagnose/test_diagnose.py", "test_server_close_code_is_explained", ("server_closed",)),
        ("tests/diagnose/test_doctor.py", "test_unclean_close_during_the_session", ("unclean_close",)),
    ],
    "echo: agent interrupts itself": [
        ("tests/diagnose/test_diagnose.py", "test_echo_loop_with_speakers_and_not_with_headphones", ("echo_loop",)),
    ],
    "malformed base64, WAV header or float32 in PCM": [
        ("tests/diagnose/test_diagnose.py", "test_wav_header_to_the_agent_is_invalid_audio_with_the_cause",
         ("invalid_audio", "wav_header_in_raw")),
        ("tests/diagnose/test_diagnose.py", "test_float32_streamed_as_linear16", ("float32_as_int16",)),
    ],
    "token expired, single-use tokens": [
        ("tests/diagnose/test_diagnose.py", "test_expired_token", ("token_expired",)),
    ],
    "billed 30 s after hang-up": [
        ("tests/diagnose/test_diagnose.py", "test_agent_closed_without_session_end", ("session_end_missing",)),
    ],
    "resume fails (not_found/forbidden/expired)": [
        ("tests/diagnose/test_diagnose.py", "test_resume_failure_falls_back", ("resume_failed",)),
    ],
    "support needs session_id, close code, timestamps, region": [
        ("tests/diagnose/test_diagnose.py", "test_report_renders_and_states_the_support_facts", ("session",)),
    ],
}


def _function_source(path: Path, name: str) -> str:
    """The test's source with its decorators (a ``parametrize`` row may name the case)."""
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            parts = [ast.get_source_segment(source, d) or "" for d in node.decorator_list]
            return "\n".join([*parts, ast.get_source_segment(source, node) or ""])
    raise AssertionError(f"{path.relative_to(ROOT)} has no test named {name}")


@pytest.mark.parametrize("row", sorted(ROWS))
def test_each_symptom_row_is_reproduced_by_tests_that_assert_its_name(row: str) -> None:
    for file, test, names in ROWS[row]:
        body = _function_source(ROOT / file, test)
        assert re.search(r"\bassert\b|pytest\.raises|failed_with\(", body), f"{file}::{test} asserts nothing"
        for name in names:
            assert name in body, f"{file}::{test} does not name {name!r} for the symptom row {row!r}"


def test_the_map_covers_fifteen_rows() -> None:
    assert len(ROWS) == 15  # the design's table has fifteen rows; a new row needs its tests here
