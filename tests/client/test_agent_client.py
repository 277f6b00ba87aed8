"""The client's AssemblyAI Voice Agent path against the emulator: resume, fallback, tokens, replies."""

import time

import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.protocols.events import AgentReplyDone, AgentTranscript, Final, SessionEnded, SessionReady


@pytest.fixture(scope="module")
def clip24():
    return vl.load(DATA / "speech" / "s04_support_24k.flac")


def _ready_ids(session):
    return [ev.session_id for _, ev in session.events if isinstance(ev, SessionReady)]


def test_drop_resumes_the_same_session(clip24):
    with vl.serve(engine="sphinx", faults="drop_after_seconds:4", announce=False) as server:
        s = vl.stream(clip24, provider="assemblyai-agent", url=server.url, api_key=server.api_key, speed=1.5,
                      retry=vl.client.RetryPolicy(base=0.05))
        s.wait(120)
    ids = _ready_ids(s)
    assert len(ids) >= 2 and len(set(ids)) == 1, ids  # every reconnect resumed the same session
    sent = [e["message"]["type"] for e in s.recording.of("send") if e["message"]["type"] != "input.audio"]
    assert sent[0] == "session.update" and "session.resume" in sent and sent[-1] == "session.end"
    assert isinstance(s.events[-1][1], SessionEnded)
    assert len(s.recording.of("gap")) >= 1


def test_resume_failure_falls_back_to_a_fresh_session(clip24):
    with vl.serve(engine="sphinx", faults="drop_after_seconds:4", announce=False, resume_grace_seconds=0.0) as server:
        s = vl.stream(clip24.slice(end=9.0), provider="assemblyai-agent", url=server.url, api_key=server.api_key,
                      speed=1.5, retry=vl.client.RetryPolicy(base=0.05))
        s.wait(120)
    errors = [ev.code for _, ev in s.events if ev.kind == "error"]
    assert "session_not_found" in errors
    assert len(set(_ready_ids(s))) >= 2  # a fresh session after the failed resume
    notes = [e.get("text") for e in s.recording.of("note")]
    assert any("resume failed" in str(n) for n in notes)
    assert isinstance(s.events[-1][1], SessionEnded)


def test_temporary_token_per_connection(clip24):
    with vl.serve(engine="sphinx", faults="drop_after_seconds:3", announce=False) as server:
        s = vl.stream(clip24.slice(end=7.0), provider="assemblyai-agent", url=server.url, api_key=server.api_key,
                      use_token=True, speed=1.5, retry=vl.client.RetryPolicy(base=0.05))
        s.wait(120)
    urls = [e["url"] for e in s.recording.of("connect")]
    assert len(urls) >= 2 and all("token=***" in u for u in urls)
    assert server.api_key not in "".join(e.to_json() for e in s.recording.entries)
    assert isinstance(s.events[-1][1], SessionEnded)


def test_agent_replies_to_what_it_heard():
    with vl.serve(engine="whisper", announce=False) as server:
        s = vl.stream(vl.load(DATA / "speech" / "s02_weather_24k.flac"), provider="assemblyai-agent",
                      url=server.url, api_key=server.api_key, speed=1.0, final_timeout=30,
                      params={"system_prompt": "You are a test agent."})
        time.sleep(0.1)
        s.wait(120)
    user = [ev.text for _, ev in s.events if isinstance(ev, Final)]
    agent = [ev for _, ev in s.events if isinstance(ev, AgentTranscript)]
    assert any("weather" in u.lower() for u in user), user
    assert agent and any("weather" in a.text.lower() for a in agent)
    assert any(isinstance(ev, AgentReplyDone) for _, ev in s.events)
    audio = [ev for _, ev in s.events if ev.kind == "agent_reply_audio"]
    assert sum(len(a.pcm) for a in audio) > 24000 * 2 * 0.5  # at least half a second of reply speech
