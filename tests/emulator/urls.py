"""Short forms of the emulator's provider URLs for the tests."""


def pulse_url(server) -> str:
    return server.url_for("pulse")


def agent_url(server) -> str:
    return server.url_for("assemblyai-agent")


def token_url(server) -> str:
    return server.token_url_for("assemblyai-agent")
