"""The local emulator: offline servers that speak each provider's protocol."""
