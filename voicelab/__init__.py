"""voicelab: see, stream and debug real-time voice WebSocket APIs from JupyterLab.

Typical use::

    import voicelab as vl

    clip = vl.load("data/speech/s02_weather_16k.flac")
    clip.inspect(target="pulse")
"""

from voicelab import audio
from voicelab.audio import Clip, RawFormat, Report, inspect, load, save
from voicelab.errors import VoicelabError

__all__ = ["Clip", "RawFormat", "Report", "VoicelabError", "__version__", "audio", "inspect", "load", "save"]

__version__ = "0.1.0"
