import numpy as np
import pytest

import voicelab as vl
from voicelab.client import StreamSetupError
from voicelab.protocols.errors import ParameterError


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("SMALLEST_API_KEY", raising=False)
    with pytest.raises(StreamSetupError, match="SMALLEST_API_KEY"):
        vl.stream(np.zeros(1600), samplerate=16000, provider="pulse", url="ws://127.0.0.1:9")


@pytest.mark.parametrize("url", ["https://api.smallest.ai/waves/v1/stt/live", "http://127.0.0.1:1"])
def test_http_urls_are_refused_with_the_fix(url):
    with pytest.raises(StreamSetupError, match="ws:// or wss://"):
        vl.stream(np.zeros(1600), samplerate=16000, url=url, api_key="k")


def test_bad_params_and_sources():
    with pytest.raises(ParameterError, match="sample_rate"):
        vl.stream(np.zeros(1600), samplerate=16000, url="ws://127.0.0.1:9", api_key="k",
                  params={"sample_rate": 12345})
    with pytest.raises(StreamSetupError, match="raw="):
        vl.stream(b"\0\0" * 100, url="ws://127.0.0.1:9", api_key="k")
    with pytest.raises(StreamSetupError, match="not both"):
        vl.stream(np.zeros(10), samplerate=16000, api_key="k", chunk_bytes=10, chunk_seconds=0.1)
    with pytest.raises(StreamSetupError, match="unknown provider"):
        vl.stream(np.zeros(10), samplerate=16000, api_key="k", provider="deepgram")  # type: ignore[arg-type]


def test_unreachable_server_fails_with_a_connect_error_and_no_key_leak():
    canary = "sk_canary_c0ffee1234"
    session = vl.stream(np.zeros(16000, dtype=np.float32), samplerate=16000, url="ws://127.0.0.1:9",
                        api_key=canary, retry=vl.client.RetryPolicy(max_attempts=2, base=0.01))
    with pytest.raises(vl.client.ConnectError, match="could not connect") as info:
        session.wait(30)
    assert canary not in str(info.value)
    assert canary not in "".join(e.to_json() for e in session.recording.entries)
    assert [e.kind for e in session.recording.entries].count("connect") == 2
