"""The names of the formats ``truceline ingest`` reads, apart from their decoders.

The CLI lists them in ``--help`` and checks ``--format`` before anything is read; importing the decoders
(numpy, the conflict-fire analytic, pyais, pyModeS) only for that would slow every command's start.
"""

#: Observation formats (``ingest.pipeline``); ``auto`` sniffs the file.
FORMATS = ("auto", "json", "jsonl", "geojson", "firms", "text", "sensorthings", "acled", "cot", "klv")
#: Air and sea message formats (``service.track_intake``): messages become tracks, not observations.
TRACK_FORMATS = ("ais", "sbs", "avr", "beast", "modes-csv")

__all__ = ["FORMATS", "TRACK_FORMATS"]
