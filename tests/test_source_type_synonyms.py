"""`drone`, `uas`, `rpas` name the source type `uav`: accepted, stored as `uav`, one observation whichever word."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError
from tests.conftest import native
from typer.testing import CliRunner

from truceline.cli import app
from truceline.domain.observation import SOURCE_TYPE_SYNONYMS, Observation, SourceType
from truceline.ingest.validation import validate_batch, validation_context
from truceline.store.sqlite import open_store


def _doc(source_type: str) -> dict:
    doc = native(source={"id": "fr-uav-2", "type": source_type, "org": "FR"})
    del doc["id"]  # the id then comes from the content: equal content, equal id
    return doc


@pytest.mark.parametrize("word", sorted(SOURCE_TYPE_SYNONYMS))
def test_a_synonym_is_the_same_observation_as_the_type_it_names(word: str) -> None:
    given, plain = Observation.model_validate(_doc(word)), Observation.model_validate(_doc("uav"))
    assert given.source.type is SourceType.UAV
    assert given.id == plain.id and given.model_dump(mode="json") == plain.model_dump(mode="json")


def test_an_unknown_type_is_refused_naming_the_words_accepted() -> None:
    good, errors = validate_batch([_doc("helicopter")], validation_context())
    assert good == [] and len(errors) == 1
    error = errors[0]
    assert error.field == "source.type" and error.rule == "enum" and error.value == "helicopter"
    assert "'acoustic'" in error.message and "'uav'" in error.message and "'drone' (= 'uav')" in error.message
    with pytest.raises(ValidationError):
        Observation.model_validate(_doc("Drone"))  # exact words only: no guessing at case


def test_two_spellings_ingest_as_one_stored_observation(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_bytes(orjson.dumps(_doc("drone")) + b"\n" + orjson.dumps(_doc("uav")) + b"\n")
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path / "d"), "--json", str(path)])
    assert result.exit_code == 0, result.output
    (file,) = orjson.loads(result.stdout)["files"]
    assert (file["accepted"], file["stored"], file["duplicates"]) == (2, 1, 1)
    store = open_store(tmp_path / "d")
    try:
        assert store.count_observations() == 1
    finally:
        store.close()
